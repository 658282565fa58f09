//! Operator access to the cache (`tern ctl flush…` and `lookup`): removal
//! by name, by zone and of negative data, and a listing of what is held at
//! a name. Each removal bumps the generation, so the packet cache drops
//! replies made from what was removed.

use std::sync::atomic::Ordering;

use hickory_proto::rr::{Name, RecordType};

use super::{Cache, Cached, Entry, Key, Rank};
use crate::clock::Mono;

/// One entry as `lookup` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: Key,
    pub value: Cached,
    pub rank: Rank,
    /// Seconds until expiry; negative once expired (kept for serve-stale).
    pub ttl_left: i64,
}

/// The owner name of a key.
pub fn key_name(key: &Key) -> &Name {
    match key {
        Key::RRset(n, _, _)
        | Key::NxDomain(n, _)
        | Key::Sections(n, _, _)
        | Key::Delegation(n, _)
        | Key::Failure(n, _, _)
        | Key::Sigs(n, _, _)
        | Key::Status(n, _, _)
        | Key::Proof(n, _, _)
        | Key::ZoneKeys(n) => n,
    }
}

/// The record type of a key, for the kinds that have one.
pub fn key_type(key: &Key) -> Option<RecordType> {
    match key {
        Key::RRset(_, t, _)
        | Key::Sections(_, t, _)
        | Key::Failure(_, t, _)
        | Key::Sigs(_, t, _)
        | Key::Status(_, t, _)
        | Key::Proof(_, t, _) => Some(*t),
        Key::NxDomain(..) | Key::Delegation(..) | Key::ZoneKeys(_) => None,
    }
}

impl Cache {
    /// Removes every entry for which `pick` holds; returns how many.
    fn remove_where(&self, pick: impl Fn(&Key, &Entry) -> bool) -> usize {
        let mut removed = 0;
        self.map
            .for_each_shard(|s| removed += s.remove_where(|k, e| pick(k, e)));
        if removed > 0 {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        removed
    }

    /// Removes what is cached at `name`: everything, or with `qtype` the
    /// entries for that type and an NXDOMAIN for the name (which answers
    /// every type). Returns how many entries went.
    pub fn flush_name(&self, name: &Name, qtype: Option<RecordType>) -> usize {
        self.remove_where(|k, _| {
            key_name(k) == name
                && match (qtype, key_type(k)) {
                    (None, _) => true,
                    (Some(want), Some(t)) => t == want,
                    (Some(_), None) => matches!(k, Key::NxDomain(..)),
                }
        })
    }

    /// Removes everything at and below `zone`.
    pub fn flush_zone(&self, zone: &Name) -> usize {
        self.remove_where(|k, _| zone.zone_of(key_name(k)))
    }

    /// Removes negative answers (NXDOMAIN, NODATA) and remembered
    /// resolution failures.
    pub fn flush_negative(&self) -> usize {
        self.remove_where(|k, e| {
            matches!(k, Key::NxDomain(..) | Key::Failure(..))
                || matches!(
                    e.value,
                    Cached::NoData(_) | Cached::NxDomain(_) | Cached::Failure
                )
        })
    }

    /// The live RRsets and their signatures (what a cache dump holds).
    pub fn live_rrsets(&self, now: Mono) -> Vec<Listed> {
        let mut out = Vec::new();
        self.map.for_each_shard(|s| {
            for (k, e) in s.iter() {
                let keep = matches!(k, Key::RRset(..) | Key::Sigs(..))
                    && matches!(e.value, Cached::RRset(_))
                    && e.expires_at > now;
                if keep {
                    out.push(Listed {
                        key: k.clone(),
                        value: e.value.clone(),
                        rank: e.rank,
                        ttl_left: i64::from(super::remaining_secs(e.expires_at, now)),
                    });
                }
            }
        });
        out
    }

    /// What is held at `name`, sorted by key; expired entries included.
    pub fn entries_at(&self, name: &Name, now: Mono) -> Vec<Listed> {
        let mut out = Vec::new();
        self.map.for_each_shard(|s| {
            for (k, e) in s.iter() {
                if key_name(k) != name {
                    continue;
                }
                let ttl_left = if e.expires_at >= now {
                    i64::from(super::remaining_secs(e.expires_at, now))
                } else {
                    -i64::try_from(now.saturating_sub(e.expires_at).as_secs()).unwrap_or(i64::MAX)
                };
                out.push(Listed {
                    key: k.clone(),
                    value: e.value.clone(),
                    rank: e.rank,
                    ttl_left,
                });
            }
        });
        out.sort_by_key(|l| format!("{:?}", l.key));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::time::Duration;

    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{DNSClass, RData, Record};

    use super::*;
    use crate::config::CacheConfig;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(name: &str) -> Record {
        Record::from_rdata(n(name), 300, RData::A(A::new(192, 0, 2, 1)))
    }

    fn soa() -> Record {
        let s = SOA::new(n("ns.example."), n("h.example."), 1, 3600, 600, 86400, 60);
        Record::from_rdata(n("example."), 60, RData::SOA(s))
    }

    fn filled() -> Cache {
        let c = Cache::new(CacheConfig::default());
        let now = Duration::ZERO;
        for name in ["www.example.", "a.b.example.", "example.", "www.other."] {
            c.insert_rrset(vec![a(name)], Rank::AnswerAuth, now);
        }
        let nx = Key::NxDomain(n("nx.example."), DNSClass::IN);
        c.insert(nx, Cached::NxDomain(vec![soa()]), 60, Rank::AnswerAuth, now);
        let nodata = Key::RRset(n("www.example."), RecordType::MX, DNSClass::IN);
        c.insert(
            nodata,
            Cached::NoData(vec![soa()]),
            60,
            Rank::AnswerAuth,
            now,
        );
        c
    }

    fn has(c: &Cache, name: &str, t: RecordType) -> bool {
        c.get(&Key::RRset(n(name), t, DNSClass::IN), Duration::ZERO)
            .is_some()
    }

    #[test]
    fn flush_name_by_type_and_whole() {
        let c = filled();
        let generation = c.generation();
        assert_eq!(c.flush_name(&n("WWW.example."), Some(RecordType::MX)), 1);
        assert!(c.generation() > generation);
        assert!(has(&c, "www.example.", RecordType::A));
        assert!(!has(&c, "www.example.", RecordType::MX));
        c.insert(
            Key::RRset(n("www.example."), RecordType::MX, DNSClass::IN),
            Cached::NoData(vec![soa()]),
            60,
            Rank::AnswerAuth,
            Duration::ZERO,
        );
        assert_eq!(c.flush_name(&n("www.example."), None), 2);
        assert!(!has(&c, "www.example.", RecordType::A));
        assert!(has(&c, "example.", RecordType::A));
        assert_eq!(c.flush_name(&n("www.example."), None), 0);
    }

    #[test]
    fn flush_zone_takes_the_apex_and_below_only() {
        let c = filled();
        assert_eq!(c.flush_zone(&n("example.")), 5);
        assert!(has(&c, "www.other.", RecordType::A));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn flush_negative_keeps_positive_data() {
        let c = filled();
        assert_eq!(c.flush_negative(), 2);
        assert_eq!(c.len(), 4);
        assert!(has(&c, "www.example.", RecordType::A));
    }

    #[test]
    fn entries_at_lists_ttl_and_expiry() {
        let c = filled();
        let listed = c.entries_at(&n("www.example."), Duration::from_secs(100));
        assert_eq!(listed.len(), 2);
        let ttls: Vec<i64> = listed.iter().map(|l| l.ttl_left).collect();
        assert!(ttls.contains(&200), "{ttls:?}");
        assert!(ttls.contains(&-40), "{ttls:?}");
    }
}
