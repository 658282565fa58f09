//! The packet cache: whole encoded replies to recent queries, served again
//! with only the message ID (RFC 1035 §4.1.1) and the TTLs (RFC 1035
//! §3.2.1, counted down as RFC 2181 §8 and RFC 1035 §7.3 ask) rewritten, so
//! that a cache hit skips parsing, the record cache and encoding. The same
//! technique as Unbound's message cache or the PowerDNS Recursor's packet
//! cache.
//!
//! Correctness rules, which the handler and this module share:
//! - The key is the query itself byte for byte from offset 2 (flags, counts,
//!   the question in its original case, the OPT record), with only the
//!   ID and the EDNS payload size left out; the payload only decides whether
//!   the stored reply fits (it is served only if it is no longer than the
//!   client's limit). Only plain queries have a key: one question, no
//!   answer/authority records, at most an OPT with no options, no trailing
//!   bytes, no compression; everything else takes the normal path.
//! - Only replies made entirely from the record cache, NOERROR or NXDOMAIN,
//!   untruncated, whose every contributing cache entry shows up as a TTL,
//!   are stored (the handler decides this).
//! - An entry is stamped with the record cache's generation, which changes
//!   on every insert into it; a different generation is a miss, so a
//!   reply never outlives a change of what it was made from.
//! - TTLs count down in whole seconds from the time of storing; an entry is
//!   served only while each TTL stays at 1 or more (elapsed time rounded up,
//!   so never past the records' own expiry).
//! - Memory is bounded by a byte budget per shard, least recently used
//!   entries going first.

use crate::cache::lru::{Bound, Sharded};
use crate::clock::Mono;

/// Size of a DNS header (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;

/// An OPT record with no options: root owner, TYPE 41, CLASS (payload),
/// TTL (extended RCODE, version, flags), RDLENGTH 0 (RFC 6891 §6.1.2).
const OPT_LEN: usize = 11;

/// RR type of OPT (RFC 6891 §6.1.1).
const TYPE_OPT: u16 = 41;

/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

/// Longest key: header without ID, question, OPT.
const MAX_KEY: usize = HEADER_LEN - 2 + MAX_NAME + 4 + OPT_LEN;

/// Replies longer than this are not kept (they are rare and costly).
pub const MAX_REPLY: usize = 4096;

/// Shards, each behind its own lock.
const SHARDS: usize = 16;

/// The cache key of a plain query, read straight from its bytes.
pub struct QueryKey {
    buf: [u8; MAX_KEY],
    len: usize,
    id: [u8; 2],
    /// The EDNS UDP payload size, if the query has an OPT record.
    payload: Option<u16>,
}

impl QueryKey {
    /// The key of `query`, or None when it is not a plain query (see the
    /// module comment); those take the normal path.
    pub fn of(query: &[u8]) -> Option<Self> {
        let header = query.get(..HEADER_LEN)?;
        let [i0, i1, f0, _, qd0, qd1, an0, an1, ns0, ns1, ar0, ar1] = *header else {
            return None;
        };
        // QR=0 and OPCODE=QUERY (RFC 1035 §4.1.1).
        if f0 & 0xf8 != 0 {
            return None;
        }
        if [qd0, qd1, an0, an1, ns0, ns1] != [0, 1, 0, 0, 0, 0] || ar0 != 0 || ar1 > 1 {
            return None;
        }
        let mut pos = HEADER_LEN;
        loop {
            let l = usize::from(*query.get(pos)?);
            if l == 0 {
                pos += 1;
                break;
            }
            // No compression pointers or extended labels in a question.
            if l > 63 {
                return None;
            }
            pos += 1 + l;
            if pos - HEADER_LEN >= MAX_NAME {
                return None;
            }
        }
        pos += 4; // QTYPE, QCLASS
        let rest = query.get(pos..)?;
        let mut buf = [0u8; MAX_KEY];
        let body = query.get(2..pos)?;
        buf.get_mut(..body.len())?.copy_from_slice(body);
        let mut len = body.len();
        let payload = if ar1 == 1 {
            let [0, 0, 41, p0, p1, t0, t1, t2, t3, 0, 0] = *rest else {
                return None;
            };
            // Payload left out of the key (zeroed in place).
            let opt = [0, 0, 41, 0, 0, t0, t1, t2, t3, 0, 0];
            buf.get_mut(len..len + OPT_LEN)?.copy_from_slice(&opt);
            len += OPT_LEN;
            Some(u16::from_be_bytes([p0, p1]))
        } else {
            if !rest.is_empty() {
                return None;
            }
            None
        };
        Some(Self {
            buf,
            len,
            id: [i0, i1],
            payload,
        })
    }

    /// The EDNS UDP payload size the client offered, if it sent EDNS.
    pub fn payload(&self) -> Option<u16> {
        self.payload
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

struct Entry {
    reply: Box<[u8]>,
    /// Offset of each TTL field in `reply` and the TTL stored there.
    ttls: Box<[(u16, u32)]>,
    min_ttl: u32,
    stored_at: Mono,
    generation: u64,
}

pub struct PacketCache {
    /// Entries charged their key, reply and TTL list plus their slot.
    map: Sharded<Box<[u8]>, Entry>,
}

impl PacketCache {
    /// A cache holding at most about `max_bytes` of keys and replies.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            map: Sharded::new(SHARDS, Bound::Bytes(max_bytes)),
        }
    }

    /// The stored reply for `key`, with the query's ID and TTLs as they
    /// stand at `now`; None if absent, stale, of another generation, or
    /// longer than `limit`.
    pub fn get(&self, key: &QueryKey, limit: usize, now: Mono, generation: u64) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.get_into(key, limit, now, generation, &mut out)
            .then_some(out)
    }

    /// `get` into a buffer the caller reuses (its old content is
    /// replaced); returns whether there was a reply.
    pub fn get_into(
        &self,
        key: &QueryKey,
        limit: usize,
        now: Mono,
        generation: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        let k = key.bytes();
        let h = self.map.hash(k);
        let Some(mut s) = self.map.lock(h) else {
            return false;
        };
        let Some(e) = s.get(h, k) else {
            return false;
        };
        let elapsed = now.saturating_sub(e.stored_at);
        let secs = elapsed.as_secs() + u64::from(elapsed.subsec_nanos() > 0);
        let elapsed_secs = u32::try_from(secs).unwrap_or(u32::MAX);
        if e.generation != generation || elapsed_secs >= e.min_ttl || now < e.stored_at {
            s.remove(h, k);
            return false;
        }
        if e.reply.len() > limit {
            return false;
        }
        out.clear();
        out.extend_from_slice(&e.reply);
        if let Some(id) = out.get_mut(..2) {
            id.copy_from_slice(&key.id);
        }
        for &(off, ttl) in e.ttls.iter() {
            let off = usize::from(off);
            if let Some(field) = out.get_mut(off..off + 4) {
                field.copy_from_slice(&ttl.saturating_sub(elapsed_secs).to_be_bytes());
            }
        }
        true
    }

    /// Keeps `reply` (made at `now` from the record cache at `generation`)
    /// for later queries with `key`. Replies that are not NOERROR or
    /// NXDOMAIN, are truncated, too long, unreadable, or have a TTL under 2
    /// are not kept. Returns whether it was stored.
    pub fn put(&self, key: &QueryKey, reply: &[u8], now: Mono, generation: u64) -> bool {
        if reply.len() > MAX_REPLY {
            return false;
        }
        let Some(ttls) = ttl_offsets(reply) else {
            return false;
        };
        let Some(min_ttl) = ttls.iter().map(|&(_, t)| t).min() else {
            return false;
        };
        if min_ttl < 2 {
            return false;
        }
        let k = key.bytes();
        // The heap parts: key, reply, TTL list.
        let heap = k.len() + reply.len() + ttls.len() * std::mem::size_of::<(u16, u32)>();
        let entry = Entry {
            reply: reply.into(),
            ttls: ttls.into(),
            min_ttl,
            stored_at: now,
            generation,
        };
        let h = self.map.hash(k);
        let Some(mut s) = self.map.lock(h) else {
            return false;
        };
        s.insert(h, k.into(), entry, heap);
        true
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.stats().entries
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in use as charged against the budget.
    pub fn bytes(&self) -> usize {
        self.map.stats().charged
    }

    /// Entries, bytes, hits and evictions in one pass over the shards.
    pub fn stats(&self) -> crate::cache::lru::Stats {
        self.map.stats()
    }
}

/// Reads a reply's header and records and lists where each record's TTL is
/// (OPT's TTL field holds flags, not a TTL, and is left alone); None unless
/// the reply is a complete NOERROR/NXDOMAIN with TC=0.
fn ttl_offsets(reply: &[u8]) -> Option<Vec<(u16, u32)>> {
    let header = reply.get(..HEADER_LEN)?;
    let [_, _, f0, f1, qd0, qd1, an0, an1, ns0, ns1, ar0, ar1] = *header else {
        return None;
    };
    // QR=1, TC=0; RCODE NOERROR (0) or NXDOMAIN (3).
    if f0 & 0x80 == 0 || f0 & 0x02 != 0 || !matches!(f1 & 0x0f, 0 | 3) {
        return None;
    }
    let qd = u16::from_be_bytes([qd0, qd1]);
    let rrs = u32::from(u16::from_be_bytes([an0, an1]))
        + u32::from(u16::from_be_bytes([ns0, ns1]))
        + u32::from(u16::from_be_bytes([ar0, ar1]));
    let mut pos = HEADER_LEN;
    for _ in 0..qd {
        pos = skip_name(reply, pos)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..rrs {
        pos = skip_name(reply, pos)?;
        let fixed = reply.get(pos..pos + 10)?;
        let [t0, t1, _, _, l0, l1, l2, l3, d0, d1] = *fixed else {
            return None;
        };
        if u16::from_be_bytes([t0, t1]) != TYPE_OPT {
            let ttl = u32::from_be_bytes([l0, l1, l2, l3]);
            out.push((u16::try_from(pos + 4).ok()?, ttl));
        }
        pos += 10 + usize::from(u16::from_be_bytes([d0, d1]));
    }
    (pos == reply.len()).then_some(out)
}

/// The offset just past the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let l = *msg.get(pos)?;
        match l {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            l if l & 0xc0 == 0 => pos += 1 + usize::from(l),
            _ => return None,
        }
    }
}

#[cfg(test)]
#[path = "packet_cache_tests.rs"]
mod tests;
