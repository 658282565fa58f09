//! The only bytes↔message conversion in tern (hickory-proto underneath):
//! parsing, encoding under a size limit with TC=1 (RFC 2181 §9), EDNS(0)
//! helpers (RFC 6891), extended DNS errors (RFC 8914) and canned replies.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

mod reply;
mod write;
pub use reply::{parse_reply, LenientReply};

/// EDNS option code of an extended DNS error (RFC 8914 §2).
pub const EDE_OPTION_CODE: u16 = 15;

/// Classic DNS UDP payload limit without EDNS (RFC 1035 §2.3.4).
pub const CLASSIC_UDP_SIZE: usize = 512;

/// Why parsing failed, with whatever of the header could be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// Shorter than a header: nothing to answer.
    #[error("message shorter than a DNS header")]
    NoHeader,
    /// A header was read but the rest is malformed.
    #[error("malformed message (id {id})")]
    Malformed {
        id: u16,
        opcode: u8,
        recursion_desired: bool,
    },
}

/// Parses a message from the wire.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    Message::from_vec(bytes).map_err(|_| malformed(bytes))
}

/// The error for bytes that do not parse, with what the header tells.
fn malformed(bytes: &[u8]) -> ParseError {
    match bytes.get(..4) {
        Some(&[a, b, c, _]) => ParseError::Malformed {
            id: u16::from_be_bytes([a, b]),
            opcode: (c >> 3) & 0x0f,
            recursion_desired: c & 1 == 1,
        },
        _ => ParseError::NoHeader,
    }
}

/// Encodes a message: written directly when it has a shape `write` knows
/// (a query, a reply of addresses and names), else by hickory-proto, the
/// same bytes either way; None if hickory-proto refuses (never expected).
pub fn encode(message: &Message) -> Option<Vec<u8>> {
    write::write_message(message).or_else(|| message.to_vec().ok())
}

/// Encodes `message` into at most `limit` bytes. When the whole message does
/// not fit, whole records are dropped from the end (additional first, then
/// authority, then answer) and, if answer or authority data was lost, TC=1
/// is set (RFC 2181 §9: missing additional data alone does not set TC).
pub fn encode_limited(message: &Message, limit: usize) -> Option<Vec<u8>> {
    let full = encode(message)?;
    if full.len() <= limit {
        return Some(full);
    }
    let mut m = message.clone();
    // Drop additional records (keep OPT, which lives in `edns`).
    while !m.additionals.is_empty() {
        m.additionals.pop();
        let bytes = encode(&m)?;
        if bytes.len() <= limit {
            return Some(bytes);
        }
    }
    // Answer or authority data will be lost: the client must retry over TCP.
    let mut t = message.truncate();
    t.metadata.truncation = true;
    let bytes = encode(&t)?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    // Even the question and OPT do not fit: drop OPT.
    t.edns = None;
    let bytes = encode(&t)?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    // Not even the question section fits (a query of many questions,
    // answered FORMERR with them echoed): the header alone, TC=1.
    t.queries.clear();
    encode(&t)
}

/// A reply with only a header: for malformed queries (FORMERR) whose
/// question could not be read.
pub fn error_reply(id: u16, opcode: u8, recursion_desired: bool, rcode: ResponseCode) -> Message {
    let mut m = Message::new(id, MessageType::Response, OpCode::from_u8(opcode));
    m.metadata.recursion_desired = recursion_desired;
    m.metadata.recursion_available = false;
    m.metadata.response_code = rcode;
    m
}

/// The mnemonic of an RCODE (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891
/// §9, RFC 7873 §8), None for a code without one.
pub fn rcode_mnemonic(rcode: u16) -> Option<&'static str> {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    match rcode {
        16 => Some("BADVERS"),
        23 => Some("BADCOOKIE"),
        n => NAMES.get(usize::from(n)).copied(),
    }
}

/// A response header echoing the query (ID, opcode, RD, CD, question),
/// with an OPT of our `max_payload` and the query's DO bit when the query
/// had one (RFC 6891 §7, RFC 3225 §3). Callers set the RCODE and flags.
pub fn reply_skeleton(query: &Message, max_payload: u16) -> Message {
    let mut reply = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.queries = query.queries.clone();
    if let Some(q) = &query.edns {
        let mut e = Edns::new();
        e.set_max_payload(max_payload);
        e.set_version(0);
        e.set_dnssec_ok(q.flags().dnssec_ok);
        reply.edns = Some(e);
    }
    reply
}

/// The client's UDP payload limit: its EDNS size (at least 512), or 512
/// without EDNS (RFC 6891 §6.2.3, §6.2.5).
pub fn client_udp_limit(query: &Message, our_max: u16) -> usize {
    match &query.edns {
        Some(e) => usize::from(e.max_payload().clamp(512, our_max.max(512))),
        None => CLASSIC_UDP_SIZE,
    }
}

/// Adds an extended DNS error option to the reply's OPT record.
pub fn add_ede(message: &mut Message, info_code: u16, text: &str) {
    let mut data = info_code.to_be_bytes().to_vec();
    data.extend_from_slice(text.as_bytes());
    let edns = message.edns.get_or_insert_with(Edns::new);
    edns.options_mut()
        .insert(EdnsOption::Unknown(EDE_OPTION_CODE, data));
}

/// Reads the first extended DNS error of a message, if any.
pub fn ede(message: &Message) -> Option<(u16, String)> {
    let edns = message.edns.as_ref()?;
    match edns.options().get(EdnsCode::Unknown(EDE_OPTION_CODE)) {
        Some(EdnsOption::Unknown(_, data)) => {
            let code = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            let text = String::from_utf8_lossy(data.get(2..).unwrap_or(&[])).into_owned();
            Some((code, text))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn big_answer() -> Message {
        let name = Name::from_ascii("big.example.").unwrap();
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name.clone(), RecordType::TXT));
        for i in 0..20 {
            let txt = TXT::new(vec![format!("{i:02}-{}", "x".repeat(60))]);
            m.add_answer(Record::from_rdata(name.clone(), 300, RData::TXT(txt)));
        }
        m
    }

    #[test]
    fn oversized_answer_is_truncated_with_tc() {
        let m = big_answer();
        let bytes = encode_limited(&m, 512).unwrap();
        assert!(bytes.len() <= 512);
        let back = parse(&bytes).unwrap();
        assert!(back.metadata.truncation);
        assert!(back.answers.is_empty());
        assert_eq!(back.queries.len(), 1);
    }

    #[test]
    fn questions_too_long_for_the_limit_leave_the_header() {
        let mut m = Message::new(9, MessageType::Response, OpCode::Query);
        for i in 0..9 {
            let name = Name::from_ascii(format!("{i}{}.{i}.", "a".repeat(60))).unwrap();
            m.add_query(Query::query(name, RecordType::A));
        }
        m.metadata.response_code = hickory_proto::op::ResponseCode::FormErr;
        let bytes = encode_limited(&m, 512).unwrap();
        assert!(bytes.len() <= 512, "{} bytes", bytes.len());
        let back = parse(&bytes).unwrap();
        assert_eq!(back.metadata.id, 9);
        assert!(back.metadata.truncation);
        assert!(back.queries.is_empty());
    }

    #[test]
    fn fitting_answer_is_untouched() {
        let m = big_answer();
        let bytes = encode_limited(&m, 65_535).unwrap();
        let back = parse(&bytes).unwrap();
        assert!(!back.metadata.truncation);
        assert_eq!(back.answers.len(), 20);
    }

    #[test]
    fn short_garbage_has_no_header() {
        assert!(matches!(parse(&[1, 2, 3]), Err(ParseError::NoHeader)));
        match parse(&[0xab, 0xcd, 0x01, 0x00, 0xff, 0xff]) {
            Err(ParseError::Malformed {
                id,
                recursion_desired,
                ..
            }) => {
                assert_eq!(id, 0xabcd);
                assert!(recursion_desired);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ede_round_trips() {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        add_ede(&mut m, 22, "no reachable authority");
        let back = parse(&encode(&m).unwrap()).unwrap();
        assert_eq!(ede(&back), Some((22, "no reachable authority".to_string())));
    }
}
