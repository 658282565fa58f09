//! The subnet cache (RFC 7871 §7.3): answers an authority gave for a
//! client subnet with a non-zero scope, kept per (question, network of the
//! scope's length) and served only to clients inside that network. Scope-0
//! answers are for everyone and live in the main cache instead. Bounded in
//! entries (least recently used go first); TTLs count down as in the main
//! cache, and nothing is served past them.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use ipnet::IpNet;

use super::lru::{Bound, Sharded};
use crate::clock::Mono;

/// One scoped answer.
#[derive(Debug, Clone)]
pub struct ScopedAnswer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    /// The scope the authority returned (the network's length).
    pub scope: u8,
}

struct Entry {
    answer: ScopedAnswer,
    stored: Mono,
    /// Seconds the answer lives (its lowest TTL).
    ttl: u32,
}

type Key = (Name, RecordType, DNSClass, IpNet);

pub struct SubnetCache {
    /// One shard: a lookup tries several networks under one lock.
    entries: Sharded<Key, Entry>,
}

/// `addr` cut to its first `prefix` bits (the host bits zero).
pub fn network(addr: IpAddr, prefix: u8) -> Option<IpNet> {
    IpNet::new(addr, prefix).ok().map(|n| n.trunc())
}

impl SubnetCache {
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Sharded::new(1, Bound::Entries(max_entries.max(1))),
        }
    }

    /// Keeps `answer` for clients in `addr`'s network of `answer.scope`
    /// bits. An answer without records or with scope 0 is not kept here.
    pub fn insert(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        addr: IpAddr,
        answer: ScopedAnswer,
        now: Mono,
    ) {
        let Some(net) = network(addr, answer.scope).filter(|_| answer.scope > 0) else {
            return;
        };
        let ttl = answer
            .answers
            .iter()
            .chain(&answer.authorities)
            .map(|r| r.ttl)
            .min();
        let Some(ttl) = ttl.filter(|t| *t > 0) else {
            return;
        };
        let key = (name.to_lowercase(), qtype, class, net);
        let h = self.entries.hash(&key);
        if let Some(mut s) = self.entries.lock(h) {
            let entry = Entry {
                answer,
                stored: now,
                ttl,
            };
            s.insert(h, key, entry, 0);
        }
    }

    /// The answer kept for the most specific network holding `addr`
    /// (searched from `longest` bits down), with TTLs counted down; None
    /// if there is none or it has expired.
    pub fn get(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        addr: IpAddr,
        longest: u8,
        now: Mono,
    ) -> Option<ScopedAnswer> {
        // The only shard, whatever the hash.
        let mut entries = self.entries.lock(0)?;
        if entries.is_empty() {
            return None;
        }
        // One key, its network narrowed step by step (no name copy per
        // prefix tried).
        let mut key = (name.to_lowercase(), qtype, class, network(addr, longest)?);
        for prefix in (1..=longest).rev() {
            let Some(net) = network(addr, prefix) else {
                continue;
            };
            key.3 = net;
            let h = self.entries.hash(&key);
            let Some(e) = entries.get(h, &key) else {
                continue;
            };
            let age = u32::try_from(now.saturating_sub(e.stored).as_secs()).unwrap_or(u32::MAX);
            if age >= e.ttl {
                entries.remove(h, &key);
                return None;
            }
            let mut answer = e.answer.clone();
            for r in answer
                .answers
                .iter_mut()
                .chain(answer.authorities.iter_mut())
            {
                r.ttl = r.ttl.saturating_sub(age);
            }
            return Some(answer);
        }
        None
    }

    /// Answers kept now.
    pub fn len(&self) -> usize {
        self.entries.stats().entries
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything (a flush).
    pub fn clear(&self) -> usize {
        self.entries.clear()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::RData;

    use super::*;

    fn answer(ip: [u8; 4], scope: u8) -> ScopedAnswer {
        let name = Name::from_ascii("www.cdn.example.").unwrap();
        ScopedAnswer {
            rcode: ResponseCode::NoError,
            answers: vec![Record::from_rdata(
                name,
                20,
                RData::A(A::from(std::net::Ipv4Addr::from(ip))),
            )],
            authorities: Vec::new(),
            scope,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_answer_serves_its_network_only_and_counts_down() {
        let c = SubnetCache::new(100);
        let name = Name::from_ascii("WWW.cdn.example.").unwrap();
        let q = (RecordType::A, DNSClass::IN);
        let t0 = Duration::from_secs(100);
        c.insert(
            &name,
            q.0,
            q.1,
            ip("10.1.0.7"),
            answer([1, 1, 1, 1], 24),
            t0,
        );
        c.insert(
            &name,
            q.0,
            q.1,
            ip("10.2.0.9"),
            answer([2, 2, 2, 2], 16),
            t0,
        );
        let got = |addr: &str, at: u64| {
            c.get(&name, q.0, q.1, ip(addr), 24, Duration::from_secs(at))
                .map(|a| (a.answers[0].data.clone(), a.answers[0].ttl))
        };
        assert_eq!(
            got("10.1.0.200", 105),
            Some((RData::A(A::new(1, 1, 1, 1)), 15))
        );
        // Another /24 of the first answer's /16 is not served it.
        assert_eq!(got("10.1.1.1", 105), None);
        // The /16 answer serves the whole /16.
        assert_eq!(got("10.2.200.1", 101).unwrap().1, 19);
        // Past its TTL: gone.
        assert_eq!(got("10.1.0.1", 120), None);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn scope_zero_is_not_kept_and_the_bound_holds() {
        let c = SubnetCache::new(50);
        let name = Name::from_ascii("www.cdn.example.").unwrap();
        c.insert(
            &name,
            RecordType::A,
            DNSClass::IN,
            ip("10.0.0.1"),
            answer([1, 1, 1, 1], 0),
            Duration::ZERO,
        );
        assert!(c.is_empty());
        for i in 0..1000u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)));
            c.insert(
                &name,
                RecordType::A,
                DNSClass::IN,
                addr,
                answer([1, 1, 1, 1], 24),
                Duration::ZERO,
            );
        }
        assert_eq!(c.len(), 50);
    }
}
