//! The upstream query in wire form, written directly: one question, no
//! records, and an optional OPT pseudo-record (RFC 6891 §6.1.2) whose
//! options are a client subnet (RFC 7871 §6) or opaque bytes under any
//! code (the client string). These are the only queries the resolver
//! sends, and going through hickory's general encoder (name compression
//! tables, a cloned OPT record, placeholders patched afterwards) cost
//! several thousand instructions per query. The bytes are those hickory
//! writes for the same message; any other message is left to it.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::DNSClass;

/// The OPT pseudo-record's type (RFC 6891 §6.1.1).
const OPT_TYPE: u16 = 41;

/// Longest name in wire form (RFC 1035 §3.1).
const MAX_NAME_LEN: usize = 255;

/// Longest label (RFC 1035 §3.1).
const MAX_LABEL_LEN: usize = 63;

/// The bytes of `message`: written here when it has the shape of a query
/// tern sends, otherwise by hickory (`super::encode`). None when hickory
/// refuses it (a label or name too long, an address prefix longer than
/// the address), as `super::encode`.
pub fn encode_query(message: &Message) -> Option<Vec<u8>> {
    write_query(message).or_else(|| super::encode(message))
}

/// The bytes of a message of one question, no records and at most an OPT
/// with client subnet and opaque options; None for any other message
/// (or one this cannot write as hickory would).
fn write_query(m: &Message) -> Option<Vec<u8>> {
    let [q] = m.queries.as_slice() else {
        return None;
    };
    if !m.answers.is_empty()
        || !m.authorities.is_empty()
        || !m.additionals.is_empty()
        || m.signature.is_some()
    {
        return None;
    }
    let mut out = Vec::with_capacity(64);
    header(m, &mut out);
    question(q, &mut out)?;
    if let Some(edns) = &m.edns {
        // The header's RCODE carries its low 4 bits, the OPT's TTL the
        // high 8 (RFC 6891 §6.1.3), as hickory writes it.
        opt(edns, m.metadata.response_code.high(), &mut out)?;
    }
    // Hickory's encoder stops at 65,535 bytes.
    (out.len() <= usize::from(u16::MAX)).then_some(out)
}

/// The 12-byte header (RFC 1035 §4.1.1, AD and CD from RFC 4035 §3.2).
fn header(m: &Message, out: &mut Vec<u8>) {
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
    let additional: u16 = if m.edns.is_some() { 1 } else { 0 };
    out.extend_from_slice(&h.id.to_be_bytes());
    out.extend_from_slice(&[flags_hi, flags_lo]);
    for count in [1, 0, 0, additional] {
        out.extend_from_slice(&u16::to_be_bytes(count));
    }
}

/// The question (RFC 1035 §4.1.2): the name uncompressed (the first name
/// in a message has nothing to point to), in the case it was given.
fn question(q: &Query, out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    for label in q.name().iter() {
        if label.len() > MAX_LABEL_LEN {
            return None;
        }
        out.push(u8::try_from(label.len()).ok()?);
        out.extend_from_slice(label);
    }
    out.push(0);
    if out.len().checked_sub(start)? > MAX_NAME_LEN {
        return None;
    }
    out.extend_from_slice(&u16::from(q.query_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(q.query_class()).to_be_bytes());
    Some(())
}

/// The OPT pseudo-record (RFC 6891 §6.1.2): root owner, the payload size
/// (at least 512, §6.2.5) as its class, extended RCODE, version and flags
/// as its TTL, the options as its data.
fn opt(edns: &Edns, rcode_high: u8, out: &mut Vec<u8>) -> Option<()> {
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
    let len = u16::try_from(out.len().checked_sub(len_at + 2)?).ok()?;
    out.get_mut(len_at..len_at + 2)?
        .copy_from_slice(&len.to_be_bytes());
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
        IpAddr::V4(a) => {
            v4 = a.octets();
            (1, v4.as_slice())
        }
        IpAddr::V6(a) => {
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

#[cfg(test)]
mod tests;
