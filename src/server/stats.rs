//! Counters for `tern ctl stats`: client replies by protocol, query type
//! and RCODE, cache hits and misses, and the validation outcome of the
//! answers given. Label sets are bounded: query types outside a fixed
//! list count as "other", and RCODEs are at most 4096 values.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::RecordType;

use crate::dnssec::Security;
use crate::upstream::Protocol;

/// Query types counted under their own name; the rest are "other".
const NAMED_TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::ANY,
    RecordType::CAA,
    RecordType::CNAME,
    RecordType::DNSKEY,
    RecordType::DS,
    RecordType::HTTPS,
    RecordType::MX,
    RecordType::NAPTR,
    RecordType::NS,
    RecordType::PTR,
    RecordType::SOA,
    RecordType::SRV,
    RecordType::SVCB,
    RecordType::TLSA,
    RecordType::TXT,
];

/// RCODEs counted one by one (0..=23 covers every assigned one a
/// resolver sends, BADCOOKIE included); larger ones count as "other".
const RCODES: usize = 24;

/// Mnemonics of RCODEs 0..=23 (RFC 6895 §2.3), unassigned ones by number.
const RCODE_NAMES: [&str; RCODES] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
    "BADVERS",
    "BADKEY",
    "BADTIME",
    "BADMODE",
    "BADNAME",
    "BADALG",
    "BADTRUNC",
    "BADCOOKIE",
];

/// Client-side counters, shared by every listener; lock-free, as replies
/// from the packet cache are counted too.
#[derive(Debug)]
pub struct Stats {
    udp: AtomicU64,
    tcp: AtomicU64,
    /// The DoT and DoH replies among those counted as TCP.
    tls: AtomicU64,
    https: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    secure: AtomicU64,
    insecure: AtomicU64,
    bogus: AtomicU64,
    /// By `NAMED_TYPES` index, then "other", then "none" (no question).
    types: Vec<AtomicU64>,
    /// By RCODE, then "other".
    rcodes: Vec<AtomicU64>,
    /// SERVFAIL replies by the EDE code that says why, then "other".
    servfail_ede: Vec<AtomicU64>,
    /// Answers served from expired data (RFC 8767).
    stale: AtomicU64,
    /// Client queries over `server.ratelimit`: dropped, and answered TC=1.
    ratelimit_dropped: AtomicU64,
    ratelimit_slipped: AtomicU64,
}

/// EDE codes counted one by one (RFC 8914 assigns 0..=29 and later
/// registrations stay below 32); larger ones count as "other".
const EDE_CODES: usize = 32;

impl Default for Stats {
    fn default() -> Self {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Self {
            udp: AtomicU64::new(0),
            tcp: AtomicU64::new(0),
            tls: AtomicU64::new(0),
            https: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            secure: AtomicU64::new(0),
            insecure: AtomicU64::new(0),
            bogus: AtomicU64::new(0),
            types: zeros(NAMED_TYPES.len() + 2),
            rcodes: zeros(RCODES + 1),
            servfail_ede: zeros(EDE_CODES + 1),
            stale: AtomicU64::new(0),
            ratelimit_dropped: AtomicU64::new(0),
            ratelimit_slipped: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Counts a reply sent: `reply` is the encoded message.
    pub fn reply(&self, protocol: Protocol, reply: &[u8]) {
        match protocol {
            Protocol::Udp => self.udp.fetch_add(1, Ordering::Relaxed),
            Protocol::Tcp => self.tcp.fetch_add(1, Ordering::Relaxed),
        };
        let (qtype, rcode) = labels(reply);
        let t = match qtype {
            Some(t) => NAMED_TYPES
                .iter()
                .position(|n| *n == t)
                .unwrap_or(NAMED_TYPES.len()),
            None => NAMED_TYPES.len() + 1,
        };
        let r = usize::from(rcode).min(RCODES);
        for c in [self.types.get(t), self.rcodes.get(r)]
            .into_iter()
            .flatten()
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a reply sent over DNS over TLS (false) or HTTPS (true); it
    /// was counted as TCP by `reply` too.
    pub fn encrypted(&self, https: bool) {
        match https {
            true => self.https.fetch_add(1, Ordering::Relaxed),
            false => self.tls.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// Counts an answer taken from the cache (true) or not (false).
    pub fn cache(&self, hit: bool) {
        if hit {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts the validation status of an answer given.
    pub fn security(&self, security: &Security) {
        let counter = match security {
            Security::Secure => &self.secure,
            // Signed only with algorithms tern lacks: insecure.
            Security::Insecure | Security::Unsupported(_) => &self.insecure,
            Security::Bogus(_) => &self.bogus,
            Security::Unchecked => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a SERVFAIL given for the reason `ede` names (RFC 8914 code).
    pub fn servfail(&self, ede: u16) {
        let i = usize::from(ede).min(EDE_CODES);
        if let Some(c) = self.servfail_ede.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an answer served from expired data.
    pub fn stale(&self) {
        self.stale.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a query over the rate limit: slipped (TC=1) or dropped.
    pub fn ratelimited(&self, slipped: bool) {
        let c = if slipped {
            &self.ratelimit_slipped
        } else {
            &self.ratelimit_dropped
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter as (name, value), names sorted; per-type, per-RCODE
    /// and per-EDE counters only when not zero.
    pub fn read(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let udp = get(&self.udp);
        let tcp = get(&self.tcp);
        out.insert("queries.total".to_string(), udp + tcp);
        out.insert("queries.udp".to_string(), udp);
        out.insert("queries.tcp".to_string(), tcp);
        out.insert("queries.tcp.tls".to_string(), get(&self.tls));
        out.insert("queries.tcp.https".to_string(), get(&self.https));
        out.insert("cache.hits".to_string(), get(&self.cache_hits));
        out.insert("cache.misses".to_string(), get(&self.cache_misses));
        out.insert("dnssec.secure".to_string(), get(&self.secure));
        out.insert("dnssec.insecure".to_string(), get(&self.insecure));
        out.insert("dnssec.bogus".to_string(), get(&self.bogus));
        out.insert("answers.stale".to_string(), get(&self.stale));
        out.insert(
            "ratelimit.dropped".to_string(),
            get(&self.ratelimit_dropped),
        );
        out.insert(
            "ratelimit.slipped".to_string(),
            get(&self.ratelimit_slipped),
        );
        for (i, c) in self.servfail_ede.iter().enumerate() {
            if get(c) == 0 {
                continue;
            }
            let name = if i < EDE_CODES {
                i.to_string()
            } else {
                "other".to_string()
            };
            out.insert(format!("servfail.ede.{name}"), get(c));
        }
        let type_names = NAMED_TYPES
            .iter()
            .map(|t| t.to_string())
            .chain(["other".to_string(), "none".to_string()]);
        for (name, c) in type_names.zip(&self.types) {
            if get(c) > 0 {
                out.insert(format!("queries.type.{name}"), get(c));
            }
        }
        for (i, c) in self.rcodes.iter().enumerate() {
            if get(c) == 0 {
                continue;
            }
            let name = RCODE_NAMES
                .get(i)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "other".to_string());
            out.insert(format!("queries.rcode.{name}"), get(c));
        }
        out
    }
}

/// The mnemonic of an RCODE ("NOERROR", "NXDOMAIN", …).
pub fn rcode_name(rcode: u16) -> String {
    RCODE_NAMES
        .get(usize::from(rcode))
        .map(|n| n.to_string())
        .unwrap_or_else(|| format!("RCODE{rcode}"))
}

/// The question's type (None without a question) and the RCODE of an
/// encoded reply. The header's four bits are the RCODE unless the reply
/// has an OPT record (RFC 6891 §6.1.3): such replies with a non-zero
/// low part, or without a question (BADVERS), are parsed in full.
fn labels(reply: &[u8]) -> (Option<RecordType>, u16) {
    let byte = |i: usize| reply.get(i).copied().unwrap_or(0);
    let low = u16::from(byte(3) & 0x0f);
    let qdcount = u16::from_be_bytes([byte(4), byte(5)]);
    let arcount = u16::from_be_bytes([byte(10), byte(11)]);
    if arcount > 0 && (low != 0 || qdcount == 0) {
        if let Ok(m) = hickory_proto::op::Message::from_vec(reply) {
            let qtype = m.queries.first().map(|q| q.query_type());
            return (qtype, u16::from(m.metadata.response_code));
        }
    }
    if qdcount == 0 {
        return (None, low);
    }
    // Skip the question name (uncompressed in what we send) to its type.
    let mut i = 12;
    loop {
        let len = usize::from(byte(i));
        if len == 0 || len & 0xc0 != 0 || i >= reply.len() {
            break;
        }
        i += len + 1;
    }
    if byte(i) & 0xc0 == 0xc0 {
        i += 2;
    } else {
        i += 1;
    }
    let qtype = u16::from_be_bytes([byte(i), byte(i + 1)]);
    (Some(RecordType::from(qtype)), low)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::Name;

    use super::*;

    fn reply(qtype: Option<RecordType>, rcode: ResponseCode, edns: bool) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        if let Some(t) = qtype {
            m.add_query(Query::query(Name::from_ascii("www.example.").unwrap(), t));
        }
        m.metadata.response_code = rcode;
        if edns {
            m.edns = Some(Edns::new());
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn labels_read_type_and_extended_rcode() {
        let cases = [
            (Some(RecordType::AAAA), ResponseCode::NoError, true, 0),
            (Some(RecordType::TXT), ResponseCode::NXDomain, false, 3),
            (Some(RecordType::MX), ResponseCode::BADCOOKIE, true, 23),
            (None, ResponseCode::BADVERS, true, 16),
            (None, ResponseCode::FormErr, false, 1),
        ];
        for (qtype, rcode, edns, want) in cases {
            assert_eq!(
                labels(&reply(qtype, rcode, edns)),
                (qtype, want),
                "{rcode:?}"
            );
        }
    }

    #[test]
    fn counters_are_named_and_bounded() {
        let s = Stats::default();
        s.reply(
            Protocol::Udp,
            &reply(Some(RecordType::A), ResponseCode::NoError, false),
        );
        s.reply(
            Protocol::Tcp,
            &reply(Some(RecordType::NULL), ResponseCode::BADCOOKIE, true),
        );
        s.reply(Protocol::Udp, &[0u8; 3]);
        let r = s.read();
        assert_eq!(r["queries.total"], 3);
        assert_eq!(r["queries.udp"], 2);
        assert_eq!(r["queries.type.A"], 1);
        assert_eq!(r["queries.type.other"], 1);
        assert_eq!(r["queries.rcode.NOERROR"], 2);
        assert_eq!(r["queries.rcode.BADCOOKIE"], 1);
        assert!(!r.contains_key("queries.type.AAAA"));
    }

    #[test]
    fn servfail_reasons_and_limits_are_counted() {
        let s = Stats::default();
        s.servfail(22);
        s.servfail(22);
        s.servfail(6);
        s.servfail(400);
        s.stale();
        s.ratelimited(true);
        s.ratelimited(false);
        s.ratelimited(false);
        let r = s.read();
        assert_eq!(r["servfail.ede.22"], 2);
        assert_eq!(r["servfail.ede.6"], 1);
        assert_eq!(r["servfail.ede.other"], 1);
        assert!(!r.contains_key("servfail.ede.0"));
        assert_eq!(r["answers.stale"], 1);
        assert_eq!(r["ratelimit.slipped"], 1);
        assert_eq!(r["ratelimit.dropped"], 2);
    }
}
