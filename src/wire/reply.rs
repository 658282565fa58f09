//! Parsing an upstream reply record by record when the whole does not
//! decode: a record tern must understand whose RDATA is malformed (an A
//! record that is not four bytes) is dropped, one of a type tern only
//! passes on (a SVCB with a malformed parameter list) is kept as opaque
//! RDATA (RFC 3597), and the rest of the message stays, as with Unbound. A record whose framing (owner name, type, class, TTL,
//! RDLENGTH, RFC 1035 §4.1.3) is itself broken still makes the whole message
//! malformed: nothing after it can be located.

use hickory_proto::op::{Edns, Header, Message, Query};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::ParseError;

/// A reply with the records that did not decode left out, and how many.
pub struct LenientReply {
    pub message: Message,
    pub dropped: usize,
}

/// Parses an upstream reply: exactly `Message::from_vec` when the whole
/// message decodes, otherwise record by record, skipping records whose
/// RDATA is malformed but whose framing is sound.
pub fn parse_reply(bytes: &[u8]) -> Result<LenientReply, ParseError> {
    match Message::from_vec(bytes) {
        Ok(message) => Ok(LenientReply {
            message,
            dropped: 0,
        }),
        Err(_) => record_by_record(bytes).ok_or_else(|| super::malformed(bytes)),
    }
}

/// Which section a record is read into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Answer,
    Authority,
    Additional,
}

fn record_by_record(bytes: &[u8]) -> Option<LenientReply> {
    let mut d = BinDecoder::new(bytes);
    let Header {
        mut metadata,
        counts,
    } = Header::read(&mut d).ok()?;
    let mut message = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    for _ in 0..counts.queries {
        message.queries.push(Query::read(&mut d).ok()?);
    }
    let mut dropped = 0;
    let mut edns: Option<Edns> = None;
    let sections = [
        (Section::Answer, counts.answers),
        (Section::Authority, counts.authorities),
        (Section::Additional, counts.additionals),
    ];
    for (section, count) in sections {
        for _ in 0..count {
            let start = u16::try_from(d.index()).ok()?;
            match Record::read(&mut d) {
                Ok(record) if record.record_type() == RecordType::OPT => {
                    if section != Section::Additional || edns.is_some() {
                        return None;
                    }
                    edns = Some((&record).into());
                }
                Ok(record) if matches!(record.data, RData::Update0(_)) => dropped += 1,
                Ok(record) => match section {
                    Section::Answer => message.answers.push(record),
                    Section::Authority => message.authorities.push(record),
                    Section::Additional => message.additionals.push(record),
                },
                Err(_) => {
                    d = d.clone(start);
                    match opaque_record(&mut d)? {
                        Some(record) => match section {
                            Section::Answer => message.answers.push(record),
                            Section::Authority => message.authorities.push(record),
                            Section::Additional => message.additionals.push(record),
                        },
                        None => dropped += 1,
                    }
                }
            }
        }
    }
    if let Some(e) = &edns {
        metadata.merge_response_code(e.rcode_high());
    }
    message.metadata = metadata;
    message.edns = edns;
    Some(LenientReply { message, dropped })
}

/// Types whose RDATA tern must understand (addresses of a fixed length) or
/// may hold compressed names (RFC 3597 §4): such a record that does not
/// decode is dropped. Any other type is passed on as opaque RDATA, as a
/// resolver that does not interpret it would (a malformed SVCB is the
/// client's business).
const DROP_IF_UNDECODABLE: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::PTR,
    RecordType::MX,
    RecordType::DNAME,
    RecordType::SRV,
    RecordType::NAPTR,
    RecordType::OPT,
];

/// Steps over one record using only its framing (None if that is broken);
/// the record itself when its type may be kept as opaque RDATA.
fn opaque_record(d: &mut BinDecoder<'_>) -> Option<Option<Record>> {
    let name = Name::read(d).ok()?;
    let rtype = RecordType::from(d.read_u16().ok()?.unverified());
    let class = DNSClass::from(d.read_u16().ok()?.unverified());
    let ttl = d.read_u32().ok()?.unverified();
    let len = d.read_u16().ok()?.unverified();
    let rdata = d.read_slice(usize::from(len)).ok()?.unverified();
    if DROP_IF_UNDECODABLE.contains(&rtype) || rdata.is_empty() {
        return Some(None);
    }
    let data = RData::Unknown {
        code: rtype,
        rdata: NULL::with(rdata.to_vec()),
    };
    let mut record = Record::from_rdata(name, ttl, data);
    record.dns_class = class;
    Some(Some(record))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Header (ID 7, QR AA, one question, `an` answers), the question
    /// `a.test. IN <qtype>`, then the given records.
    fn message(qtype: u16, records: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0, 7, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        b[7] = u8::try_from(records.len()).unwrap();
        b.extend_from_slice(b"\x01a\x04test\x00");
        b.extend_from_slice(&qtype.to_be_bytes());
        b.extend_from_slice(&[0, 1]);
        for r in records {
            b.extend_from_slice(r);
        }
        b
    }

    /// A record owned by the question's name (compression pointer to 12).
    fn record(rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut r = vec![0xc0, 12];
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        r.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    #[test]
    fn a_record_of_the_wrong_length_is_dropped_and_the_rest_kept() {
        let good = record(1, &[192, 0, 2, 1]);
        let bad = record(1, &[192, 0, 2]);
        let bytes = message(1, &[&good, &bad, &good]);
        assert!(Message::from_vec(&bytes).is_err());
        let r = parse_reply(&bytes).unwrap();
        assert_eq!(r.dropped, 1);
        assert_eq!(r.message.answers.len(), 2);
        assert_eq!(r.message.metadata.id, 7);
        assert!(r.message.metadata.authoritative);
        assert_eq!(r.message.queries.len(), 1);
    }

    #[test]
    fn malformed_svcb_is_kept_opaque_and_encodes_again() {
        // alpn twice: keys out of order, which hickory refuses to decode.
        let rdata = [
            0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2', 0, 1, 0, 3, 2, b'h', b'3',
        ];
        let bytes = message(65, &[&record(65, &rdata)]);
        assert!(Message::from_vec(&bytes).is_err());
        let r = parse_reply(&bytes).unwrap();
        assert_eq!(r.dropped, 0);
        let rec = &r.message.answers[0];
        assert_eq!(rec.record_type(), RecordType::HTTPS);
        let again = r.message.to_vec().unwrap();
        assert!(
            again.ends_with(&rdata),
            "opaque RDATA is passed on unchanged"
        );
    }

    #[test]
    fn broken_framing_makes_the_whole_reply_malformed() {
        let good = record(1, &[192, 0, 2, 1]);
        let mut bytes = message(1, &[&good, &good]);
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            parse_reply(&bytes),
            Err(ParseError::Malformed { id: 7, .. })
        ));
        assert!(matches!(parse_reply(&[0, 7]), Err(ParseError::NoHeader)));
    }
}
