//! A faithful, read-only view of a DNS message for display (RFC 1035 §4.1,
//! name compression §4.1.4, the OPT pseudo-RR of RFC 6891 §6.1): header
//! fields and counts exactly as received, records in wire order with their
//! raw RDATA, and OPT options in wire order. dig shows what came on the
//! wire, so this view keeps everything a typed parser might normalise.

use super::types::TYPE_OPT;

/// A domain name as a list of raw labels (root = empty list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Name(pub Vec<Vec<u8>>);

impl Name {
    /// Case-insensitive equality (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// Whether `self` is `zone` or below it.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        let n = self.0.len();
        let z = zone.0.len();
        n >= z
            && self
                .0
                .iter()
                .skip(n - z)
                .zip(&zone.0)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the RDATA in the message (names inside may point back).
    pub rdata_offset: usize,
    pub rdata_len: usize,
}

/// The OPT pseudo-RR, decoded (RFC 6891 §6.1.2, §6.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub udp_size: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub flags: u16,
    pub options: Vec<(u16, Vec<u8>)>,
}

/// A parsed message; `bytes` is kept for RDATA decoding.
#[derive(Debug, Clone)]
pub struct View {
    pub bytes: Vec<u8>,
    pub id: u16,
    /// Header bytes 2 and 3 (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub flags: u16,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT as received.
    pub counts: [u16; 4],
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    /// Additional records without the OPT record.
    pub additionals: Vec<Record>,
    pub opt: Option<Opt>,
    /// Bytes after the last record.
    pub extra_bytes: usize,
}

pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_Z: u16 = 0x0040;
pub const FLAG_AD: u16 = 0x0020;
pub const FLAG_CD: u16 = 0x0010;

impl View {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    /// The full RCODE, with the OPT record's upper bits (RFC 6891 §6.1.3).
    pub fn rcode(&self) -> u16 {
        let low = self.flags & 0x000f;
        match &self.opt {
            Some(o) => (u16::from(o.ext_rcode) << 4) | low,
            None => low,
        }
    }

    pub fn rdata(&self, r: &Record) -> &[u8] {
        self.bytes
            .get(r.rdata_offset..r.rdata_offset + r.rdata_len)
            .unwrap_or(&[])
    }
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    // BIND's words, which dig prints after ";; Got bad packet: ".
    #[error("unexpected end of input")]
    Short,
    #[error("bad compression pointer")]
    BadName,
}

/// Reads 2 bytes big-endian at `pos`.
pub fn u16_at(b: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(pos)?, *b.get(pos + 1)?]))
}

/// Reads 4 bytes big-endian at `pos`.
pub fn u32_at(b: &[u8], pos: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(pos)?,
        *b.get(pos + 1)?,
        *b.get(pos + 2)?,
        *b.get(pos + 3)?,
    ]))
}

/// Reads a possibly compressed name at `pos`; returns it and the offset
/// just after it in the original position. Pointers must go backwards,
/// which bounds the walk.
pub fn read_name(b: &[u8], pos: usize) -> Result<(Name, usize), ViewError> {
    let mut labels = Vec::new();
    let mut at = pos;
    let mut end = None;
    let mut total = 0usize;
    let mut limit = at;
    loop {
        let len = *b.get(at).ok_or(ViewError::Short)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((Name(labels), end.unwrap_or(at + 1)));
                }
                let l = usize::from(len);
                let label = b.get(at + 1..at + 1 + l).ok_or(ViewError::Short)?;
                total += l + 1;
                if total > 255 {
                    return Err(ViewError::BadName);
                }
                labels.push(label.to_vec());
                at += l + 1;
            }
            0xc0 => {
                let lo = *b.get(at + 1).ok_or(ViewError::Short)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                if end.is_none() {
                    end = Some(at + 2);
                }
                // Strictly backwards from the earliest point seen: no loops.
                if target >= limit {
                    return Err(ViewError::BadName);
                }
                limit = target;
                at = target;
            }
            _ => return Err(ViewError::BadName),
        }
    }
}

fn read_record(b: &[u8], pos: usize) -> Result<(Record, usize), ViewError> {
    let (name, at) = read_name(b, pos)?;
    let rtype = u16_at(b, at).ok_or(ViewError::Short)?;
    let class = u16_at(b, at + 2).ok_or(ViewError::Short)?;
    let ttl = u32_at(b, at + 4).ok_or(ViewError::Short)?;
    let len = usize::from(u16_at(b, at + 8).ok_or(ViewError::Short)?);
    let start = at + 10;
    if start + len > b.len() {
        return Err(ViewError::Short);
    }
    let rec = Record {
        name,
        rtype,
        class,
        ttl,
        rdata_offset: start,
        rdata_len: len,
    };
    Ok((rec, start + len))
}

fn read_opt(b: &[u8], r: &Record) -> Opt {
    let data = b
        .get(r.rdata_offset..r.rdata_offset + r.rdata_len)
        .unwrap_or(&[]);
    let mut options = Vec::new();
    let mut at = 0;
    while let (Some(code), Some(len)) = (u16_at(data, at), u16_at(data, at + 2)) {
        let len = usize::from(len);
        let Some(value) = data.get(at + 4..at + 4 + len) else {
            break;
        };
        options.push((code, value.to_vec()));
        at += 4 + len;
    }
    let [ext_rcode, version, f1, f2] = r.ttl.to_be_bytes();
    Opt {
        udp_size: r.class,
        ext_rcode,
        version,
        flags: u16::from_be_bytes([f1, f2]),
        options,
    }
}

/// Parses a whole message.
pub fn parse(bytes: &[u8]) -> Result<View, ViewError> {
    let id = u16_at(bytes, 0).ok_or(ViewError::Short)?;
    let flags = u16_at(bytes, 2).ok_or(ViewError::Short)?;
    let mut counts = [0u16; 4];
    for (i, c) in counts.iter_mut().enumerate() {
        *c = u16_at(bytes, 4 + 2 * i).ok_or(ViewError::Short)?;
    }
    let mut at = 12;
    let mut questions = Vec::new();
    for _ in 0..counts[0] {
        let (name, next) = read_name(bytes, at)?;
        let qtype = u16_at(bytes, next).ok_or(ViewError::Short)?;
        let qclass = u16_at(bytes, next + 2).ok_or(ViewError::Short)?;
        questions.push(Question {
            name,
            qtype,
            qclass,
        });
        at = next + 4;
    }
    let mut sections: [Vec<Record>; 3] = Default::default();
    let mut opt = None;
    for (i, section) in sections.iter_mut().enumerate() {
        let count = counts.get(i + 1).copied().unwrap_or(0);
        for _ in 0..count {
            let (rec, next) = read_record(bytes, at)?;
            at = next;
            if i == 2 && rec.rtype == TYPE_OPT && opt.is_none() {
                opt = Some(read_opt(bytes, &rec));
            } else {
                section.push(rec);
            }
        }
    }
    let [answers, authorities, additionals] = sections;
    Ok(View {
        bytes: bytes.to_vec(),
        id,
        flags,
        counts,
        questions,
        answers,
        authorities,
        additionals,
        opt,
        extra_bytes: bytes.len().saturating_sub(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// www.example. A with a compressed answer and an OPT with NSID.
    fn sample() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
        m.extend_from_slice(&[
            0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 6, 0, 3, 0, 2, b'h', b'i',
        ]);
        m
    }

    #[test]
    fn reads_header_records_and_opt() {
        let v = parse(&sample()).unwrap();
        assert_eq!(v.id, 0x1234);
        assert!(v.has(FLAG_QR) && v.has(FLAG_AA) && v.has(FLAG_RD) && v.has(FLAG_RA));
        assert!(!v.has(FLAG_TC));
        assert_eq!(v.counts, [1, 1, 0, 1]);
        assert_eq!(v.answers.len(), 1);
        assert!(v.additionals.is_empty());
        let a = &v.answers[0];
        assert_eq!(a.name, Name(vec![b"www".to_vec(), b"example".to_vec()]));
        assert_eq!((a.rtype, a.ttl), (1, 3600));
        assert_eq!(v.rdata(a), &[192, 0, 2, 1]);
        let o = v.opt.as_ref().unwrap();
        assert_eq!((o.udp_size, o.flags), (1232, 0x8000));
        assert_eq!(o.options, vec![(3, b"hi".to_vec())]);
        assert_eq!(v.extra_bytes, 0);
        assert_eq!(v.rcode(), 0);
    }

    #[test]
    fn rejects_loops_and_truncation() {
        // A pointer to itself.
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&m).unwrap_err(), ViewError::BadName);
        let s = sample();
        for cut in 0..s.len() {
            assert!(parse(&s[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn subdomains() {
        let n = |s: &str| Name(s.split('.').map(|l| l.as_bytes().to_vec()).collect());
        assert!(n("www.Example").is_subdomain_of(&n("example")));
        assert!(n("example").is_subdomain_of(&Name::default()));
        assert!(!n("example").is_subdomain_of(&n("www.example")));
        assert!(n("A.b").eq_ignore_case(&n("a.B")));
    }
}

/// Random and truncated input never panics anywhere on the display path:
/// parsing, text layout, options, JSON and trace classification.
#[cfg(test)]
mod robustness {
    use super::*;
    use crate::dig::args::Flags;

    fn sample_reply() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 3, 0, 1, 0, 1];
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x0f\x00\x01");
        // MX, SOA, TXT answers and an NS authority, all compressed.
        m.extend_from_slice(&[0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xc0, 12]);
        m.extend_from_slice(&[0xc0, 16, 0, 6, 0, 1, 0, 0, 0, 60, 0, 24, 0xc0, 12, 0xc0, 16]);
        m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
        m.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'a', b'"', b'\\',
        ]);
        m.extend_from_slice(&[0xc0, 16, 0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        m.extend_from_slice(&[
            0, 0, 41, 4, 0, 0, 0, 0x80, 0, 0, 12, 0, 15, 0, 3, 0, 22, b'x',
        ]);
        m.extend_from_slice(&[0, 10, 0, 1, 7]);
        m
    }

    fn exercise(bytes: &[u8]) {
        let Ok(v) = parse(bytes) else {
            return;
        };
        let mut f = Flags::default();
        let _ = crate::dig::format::message_text(&v, &f, true, true, Some(&[0; 8]));
        f.unknownformat = true;
        f.ttlunits = true;
        let _ = crate::dig::format::message_text(&v, &f, true, true, None);
        let _ = crate::dig::format::short_text(&v);
        let _ = crate::dig::json::message_object(&v, &Default::default());
        if let Ok(m) = crate::wire::parse(bytes) {
            let (q, t) = m
                .queries
                .first()
                .map(|q| (q.name().clone(), q.query_type()))
                .unwrap_or((
                    hickory_proto::rr::Name::root(),
                    hickory_proto::rr::RecordType::A,
                ));
            let root = hickory_proto::rr::Name::root();
            let _ = crate::dig::trace::classify(m, &q, t, &root);
        }
    }

    #[test]
    fn mutations_never_panic() {
        let base = sample_reply();
        assert!(parse(&base).is_ok());
        exercise(&base);
        // xorshift: deterministic, no extra dependency.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            let cut = (next() as usize) % (m.len() + 1);
            exercise(&m);
            exercise(&m[..cut]);
        }
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            exercise(&junk);
        }
    }
}
