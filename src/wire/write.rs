//! Messages written directly, without hickory's general encoder: one
//! question, records of the common types (A, AAAA, CNAME, NS, PTR, MX,
//! SOA, TXT), and an optional OPT whose options are a client subnet or
//! opaque bytes. That is nearly every reply under `minimal_responses`,
//! negative ones (with their SOA) included. Hickory's encoder writes each integer through a
//! bounds-checked copy and keeps a copy of every name suffix it writes;
//! a one-record reply cost about 5,800 instructions that way, 1,700
//! here.
//!
//! The bytes are those hickory writes for the same message, name
//! compression included (RFC 1035 §4.1.4), so a reply's size, and with it
//! every truncation decision, is the same either way:
//!
//! - a name is written whole, then its suffixes are looked up from the
//!   longest: the first one written before becomes a pointer and ends the
//!   name; each suffix not found is remembered (at most 64, and only while
//!   the name ends before offset 0x3FFF);
//! - suffixes match byte for byte (case included);
//! - after 120 names in a message, names are written whole but their
//!   suffixes are still remembered.
//!
//! Any other message is left to hickory (`super::encode`).

use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, Record};

/// The OPT pseudo-record's type (RFC 6891 §6.1.1).
const OPT_TYPE: u16 = 41;

/// Longest name in wire form (RFC 1035 §3.1).
const MAX_NAME_LEN: usize = 255;

/// Longest label (RFC 1035 §3.1).
const MAX_LABEL_LEN: usize = 63;

/// Suffixes remembered for compression, as hickory's encoder.
const MAX_SUFFIXES: usize = 64;

/// Names per message that may be compressed, as hickory's encoder.
const MAX_COMPRESSED_NAMES: usize = 120;

/// The bytes of `m` when it has a shape written here; None for any other
/// message (or one hickory would refuse or write differently).
pub(super) fn write_message(m: &Message) -> Option<Vec<u8>> {
    let [q] = m.queries.as_slice() else {
        return None;
    };
    if m.signature.is_some() {
        return None;
    }
    let mut w = Writer {
        out: Vec::with_capacity(512),
        names: Vec::with_capacity(256),
        suffixes: Vec::with_capacity(16),
        compressed: 0,
    };
    let count = |records: &[Record]| u16::try_from(records.len()).ok();
    let additional = count(&m.additionals)?.checked_add(u16::from(m.edns.is_some()))?;
    let counts = [1, count(&m.answers)?, count(&m.authorities)?, additional];
    header(m, counts, &mut w.out);
    w.question(q)?;
    for r in m
        .answers
        .iter()
        .chain(m.authorities.iter())
        .chain(m.additionals.iter())
    {
        w.record(r)?;
    }
    if let Some(edns) = &m.edns {
        // The root owner: hickory counts it as a compressed name, but no
        // name follows it.
        opt(edns, m.metadata.response_code.high(), &mut w.out)?;
    }
    // Hickory's encoder stops at 65,535 bytes.
    (w.out.len() <= usize::from(u16::MAX)).then_some(w.out)
}

/// The 12-byte header (RFC 1035 §4.1.1, AD and CD from RFC 4035 §3.2)
/// with the section counts given.
pub(super) fn header(m: &Message, counts: [u16; 4], out: &mut Vec<u8>) {
    let h = &m.metadata;
    let bit = |set: bool, mask: u8| if set { mask } else { 0 };
    let flags_hi = bit(h.message_type == MessageType::Response, 0x80)
        | ((u8::from(h.op_code) & 0x0f) << 3)
        | bit(h.authoritative, 0x04)
        | bit(h.truncation, 0x02)
        | bit(h.recursion_desired, 0x01);
    let flags_lo = bit(h.recursion_available, 0x80)
        | bit(h.authentic_data, 0x20)
        | bit(h.checking_disabled, 0x10)
        | (h.response_code.low() & 0x0f);
    out.extend_from_slice(&h.id.to_be_bytes());
    out.extend_from_slice(&[flags_hi, flags_lo]);
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
}

/// The OPT pseudo-record (RFC 6891 §6.1.2): root owner, the payload size
/// (at least 512, §6.2.5) as its class, extended RCODE, version and flags
/// as its TTL, the options as its data. None for an option other than a
/// client subnet or opaque bytes.
pub(super) fn opt(edns: &Edns, rcode_high: u8, out: &mut Vec<u8>) -> Option<()> {
    out.push(0);
    out.extend_from_slice(&OPT_TYPE.to_be_bytes());
    let class = u16::from(DNSClass::for_opt(edns.max_payload()));
    out.extend_from_slice(&class.to_be_bytes());
    let ttl = (u32::from(rcode_high) << 24)
        | (u32::from(edns.version()) << 16)
        | u32::from(u16::from(*edns.flags()));
    out.extend_from_slice(&ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    for (code, option) in edns.options().as_ref() {
        out.extend_from_slice(&u16::from(*code).to_be_bytes());
        match option {
            EdnsOption::Subnet(subnet) => client_subnet(subnet, out)?,
            EdnsOption::Unknown(_, data) => {
                out.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
                out.extend_from_slice(data);
            }
            _ => return None,
        }
    }
    patch_len(out, len_at)
}

/// Writes the length of what follows the two bytes at `at` into them.
fn patch_len(out: &mut [u8], at: usize) -> Option<()> {
    let len = u16::try_from(out.len().checked_sub(at + 2)?).ok()?;
    out.get_mut(at..at + 2)?.copy_from_slice(&len.to_be_bytes());
    Some(())
}

/// A client subnet option's length and data (RFC 7871 §6): family,
/// source and scope prefix lengths, and the address cut to the octets
/// the source prefix covers (as given: hickory does not clear the bits
/// past the prefix in the last octet, and neither does this).
fn client_subnet(subnet: &ClientSubnet, out: &mut Vec<u8>) -> Option<()> {
    let covered = usize::from(subnet.source_prefix()).div_ceil(8);
    let (v4, v6);
    let (family, octets): (u16, &[u8]) = match subnet.addr() {
        std::net::IpAddr::V4(a) => {
            v4 = a.octets();
            (1, v4.as_slice())
        }
        std::net::IpAddr::V6(a) => {
            v6 = a.octets();
            (2, v6.as_slice())
        }
    };
    let address = octets.get(..covered)?;
    let len = u16::try_from(4 + address.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&family.to_be_bytes());
    out.push(subnet.source_prefix());
    out.push(subnet.scope_prefix());
    out.extend_from_slice(address);
    Some(())
}

/// A suffix remembered for compression: where it starts in the message,
/// and its bytes (labels with their lengths, uncompressed) in `names`.
#[derive(Clone, Copy)]
struct Suffix {
    at: usize,
    from: usize,
    to: usize,
}

/// The message being written and what compression remembers.
struct Writer {
    out: Vec<u8>,
    /// Every name written, whole: the bytes suffixes are compared with.
    names: Vec<u8>,
    suffixes: Vec<Suffix>,
    compressed: usize,
}

impl Writer {
    fn question(&mut self, q: &Query) -> Option<()> {
        self.name(q.name())?;
        self.out
            .extend_from_slice(&u16::from(q.query_type()).to_be_bytes());
        self.out
            .extend_from_slice(&u16::from(q.query_class()).to_be_bytes());
        Some(())
    }

    /// A record whose data is written here; None for any other.
    fn record(&mut self, r: &Record) -> Option<()> {
        self.name(&r.name)?;
        self.out
            .extend_from_slice(&u16::from(r.record_type()).to_be_bytes());
        self.out
            .extend_from_slice(&u16::from(r.dns_class).to_be_bytes());
        self.out.extend_from_slice(&r.ttl.to_be_bytes());
        let len_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        match &r.data {
            RData::A(a) => self.out.extend_from_slice(&a.0.octets()),
            RData::AAAA(a) => self.out.extend_from_slice(&a.0.octets()),
            RData::CNAME(n) => self.name(&n.0)?,
            RData::NS(n) => self.name(&n.0)?,
            RData::PTR(n) => self.name(&n.0)?,
            RData::MX(mx) => {
                self.out.extend_from_slice(&mx.preference.to_be_bytes());
                self.name(&mx.exchange)?;
            }
            RData::SOA(soa) => {
                self.name(&soa.mname)?;
                self.name(&soa.rname)?;
                self.out.extend_from_slice(&soa.serial.to_be_bytes());
                for n in [soa.refresh, soa.retry, soa.expire] {
                    self.out.extend_from_slice(&n.to_be_bytes());
                }
                self.out.extend_from_slice(&soa.minimum.to_be_bytes());
            }
            RData::TXT(txt) => {
                for text in txt.txt_data.iter() {
                    self.out.push(u8::try_from(text.len()).ok()?);
                    self.out.extend_from_slice(text);
                }
            }
            _ => return None,
        }
        patch_len(&mut self.out, len_at)
    }

    /// A name, compressed as hickory compresses it (see the module's
    /// comment).
    fn name(&mut self, name: &Name) -> Option<()> {
        let start = self.out.len();
        let from = self.names.len();
        for label in name.iter() {
            if label.len() > MAX_LABEL_LEN {
                return None;
            }
            self.names.push(u8::try_from(label.len()).ok()?);
            self.names.extend_from_slice(label);
        }
        let to = self.names.len();
        let whole = self.names.get(from..to)?;
        let end = start + whole.len();
        let compress = self.compressed < MAX_COMPRESSED_NAMES;
        if compress {
            self.compressed += 1;
        }
        // Each label's start in turn: the suffixes from the longest.
        let mut next = 0;
        while let Some(&len) = whole.get(next) {
            let offset = next;
            next += 1 + usize::from(len);
            let tail = whole.get(offset..)?;
            let names = &self.names;
            let found = compress
                .then(|| {
                    self.suffixes
                        .iter()
                        .find(|s| names.get(s.from..s.to) == Some(tail))
                })
                .flatten();
            match found {
                Some(s) if s.at < 0x4000 => {
                    let pointer = 0xC000 | u16::try_from(s.at).ok()?;
                    self.out.extend_from_slice(whole.get(..offset)?);
                    self.out.extend_from_slice(&pointer.to_be_bytes());
                    return self.check_len(start);
                }
                _ => {
                    if end < 0x3FFF && self.suffixes.len() < MAX_SUFFIXES {
                        self.suffixes.push(Suffix {
                            at: start + offset,
                            from: from + offset,
                            to,
                        });
                    }
                }
            }
        }
        self.out.extend_from_slice(whole);
        self.out.push(0);
        self.check_len(start)
    }

    /// None when the name written from `start` is longer than a name may be.
    fn check_len(&self, start: usize) -> Option<()> {
        (self.out.len() - start <= MAX_NAME_LEN).then_some(())
    }
}

#[cfg(test)]
mod tests;
