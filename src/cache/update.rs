//! When a new copy of an RRset replaces the cached one: the rule of
//! Unbound's RRset cache (its `need_to_update_rrset`), after RFC 2181
//! §5.4.1 ranking. Higher trust replaces; expired data is replaced; at the
//! same trust, different data replaces (an NS set keeping the old expiry,
//! so a zone's old servers cannot keep a removed delegation alive: the
//! "ghost domain" problem) and the same data is left alone, its TTL still
//! counting down rather than renewed; lower trust never replaces live data.
//! A delegation's NS set and addresses (referral or glue rank) replaced by
//! better data keep their expiry too, so that the old servers of a moved
//! zone cannot extend its glue (Unbound's ghost-domain glue rule).

use hickory_proto::rr::{Record, RecordType};

use crate::clock::Mono;

use super::{Cache, Cached, Key, Rank};

impl Cache {
    /// Stores an RRset by the update rule above; returns whether the cache
    /// now holds the new copy. `renew_within`: a copy due to expire within
    /// that many seconds is replaced even when unchanged (a prefetch's
    /// leeway; 0 for none).
    pub fn update_rrset(
        &self,
        records: Vec<Record>,
        rank: Rank,
        now: Mono,
        renew_within: u32,
    ) -> bool {
        self.update_rrset_since(records, rank, now, now, renew_within)
    }

    /// `update_rrset` for data from a resolution that began at `started`:
    /// a cached copy still live then counts as live, so a reply that
    /// arrives just after the cached RRset expired cannot renew it (the
    /// ghost-domain time window); an NS set is then left to expire.
    pub fn update_rrset_since(
        &self,
        mut records: Vec<Record>,
        rank: Rank,
        now: Mono,
        started: Mono,
        renew_within: u32,
    ) -> bool {
        let Some(first) = records.first() else {
            return false;
        };
        let key = Key::RRset(first.name.clone(), first.record_type(), first.dns_class);
        let is_ns = first.record_type() == RecordType::NS;
        let at = started.min(now);
        if let Some((old, old_rank)) = self.live_rrset_at(&key, at, now) {
            if old_rank > rank {
                return false;
            }
            if old_rank < rank && old_rank <= Rank::AuthorityNonAuth && delegation_type(&records) {
                // Better data for a delegation's NS set or addresses does
                // not extend what the delegation gave (ghost domains: the
                // old servers cannot keep a moved zone alive).
                let left = old.iter().map(|r| r.ttl).min().unwrap_or(0);
                for r in &mut records {
                    r.ttl = r.ttl.min(left);
                }
            }
            if old_rank == rank {
                let left = old.iter().map(|r| r.ttl).min().unwrap_or(0);
                if same_data(&old, &records) {
                    // Left alone while live (or expired since the query
                    // began: then it stays expired).
                    if left == 0 || left > renew_within {
                        return false;
                    }
                } else if is_ns {
                    for r in &mut records {
                        r.ttl = r.ttl.min(left);
                    }
                }
            }
        }
        self.insert_rrset(records, rank, now)
    }

    /// The RRset at `key` if it was live at `at`, with the TTLs left at
    /// `now` (zero once expired).
    fn live_rrset_at(&self, key: &Key, at: Mono, now: Mono) -> Option<(Vec<Record>, Rank)> {
        let (h, s) = self.locked(key)?;
        let e = s.peek(h, key)?;
        if e.expires_at <= at {
            return None;
        }
        let Cached::RRset(rs) = &e.value else {
            return None;
        };
        let left = super::remaining_secs(e.expires_at, now);
        let rs = rs
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.ttl = left;
                r
            })
            .collect();
        Some((rs, e.rank))
    }
}

/// NS sets and addresses: what a delegation is made of.
fn delegation_type(records: &[Record]) -> bool {
    records.first().is_some_and(|r| {
        matches!(
            r.record_type(),
            RecordType::NS | RecordType::A | RecordType::AAAA
        )
    })
}

/// Whether two RRsets hold the same records (in any order).
fn same_data(old: &[Record], new: &[Record]) -> bool {
    old.len() == new.len()
        && old.iter().all(|o| new.iter().any(|r| r.data == o.data))
        && new.iter().all(|r| old.iter().any(|o| o.data == r.data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use std::time::Duration;

    use hickory_proto::rr::rdata::{A, NS};
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

    use super::*;
    use crate::config::CacheConfig;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(ttl: u32, last: u8) -> Record {
        Record::from_rdata(n("ns.example."), ttl, RData::A(A::new(192, 0, 2, last)))
    }

    fn ns(ttl: u32, target: &str) -> Record {
        Record::from_rdata(n("example."), ttl, RData::NS(NS(n(target))))
    }

    fn secs(s: u64) -> Mono {
        Duration::from_secs(s)
    }

    /// The cached records' TTLs and last address octets / NS targets.
    fn read(c: &Cache, name: &str, t: RecordType, now: Mono) -> Vec<(u32, String)> {
        match c.get(&Key::RRset(n(name), t, DNSClass::IN), now) {
            Some(Cached::RRset(rs)) => rs.iter().map(|r| (r.ttl, r.data.to_string())).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn same_data_same_rank_is_not_renewed() {
        let c = Cache::new(CacheConfig::default());
        assert!(c.update_rrset(vec![a(100, 1)], Rank::Additional, secs(0), 0));
        assert!(!c.update_rrset(vec![a(3600, 1)], Rank::Additional, secs(40), 0));
        assert_eq!(read(&c, "ns.example.", RecordType::A, secs(40))[0].0, 60);
    }

    #[test]
    fn same_data_within_leeway_is_renewed() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![a(100, 1)], Rank::Additional, secs(0), 0);
        assert!(c.update_rrset(vec![a(3600, 1)], Rank::Additional, secs(95), 10));
        assert_eq!(read(&c, "ns.example.", RecordType::A, secs(95))[0].0, 3600);
    }

    #[test]
    fn higher_rank_replaces_and_renews() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![a(100, 1)], Rank::AnswerNonAuth, secs(0), 0);
        assert!(c.update_rrset(vec![a(3600, 1)], Rank::AnswerAuth, secs(40), 0));
        assert_eq!(read(&c, "ns.example.", RecordType::A, secs(40))[0].0, 3600);
    }

    #[test]
    fn answer_replacing_glue_keeps_its_expiry() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![a(100, 1)], Rank::Additional, secs(0), 0);
        assert!(c.update_rrset(vec![a(3600, 1)], Rank::AnswerAuth, secs(40), 0));
        assert_eq!(read(&c, "ns.example.", RecordType::A, secs(40))[0].0, 60);
        // The new copy's rank holds: glue cannot replace it now.
        assert!(!c.update_rrset(vec![a(3600, 2)], Rank::Additional, secs(41), 0));
    }

    #[test]
    fn lower_rank_never_replaces_live_data() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![a(100, 1)], Rank::AnswerAuth, secs(0), 0);
        assert!(!c.update_rrset(vec![a(3600, 2)], Rank::Additional, secs(40), 0));
        assert_eq!(
            read(&c, "ns.example.", RecordType::A, secs(40)),
            vec![(60, "192.0.2.1".to_string())]
        );
        // Once expired, anything replaces it.
        assert!(c.update_rrset(vec![a(3600, 2)], Rank::Additional, secs(100), 0));
    }

    #[test]
    fn reply_to_a_query_begun_before_expiry_does_not_renew() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![ns(100, "a.example.")], Rank::AuthorityAuth, secs(0), 0);
        // Asked at 95, answered at 105: the set was live when asked.
        let again = vec![ns(3600, "a.example.")];
        assert!(!c.update_rrset_since(again.clone(), Rank::AuthorityAuth, secs(105), secs(95), 0));
        assert!(c
            .get(
                &Key::RRset(n("example."), RecordType::NS, DNSClass::IN),
                secs(105)
            )
            .is_none());
        // A changed set keeps the old (past) expiry: not stored either.
        let changed = vec![ns(3600, "b.example.")];
        assert!(!c.update_rrset_since(changed, Rank::AuthorityAuth, secs(105), secs(95), 0));
        // Asked after the expiry, it is stored.
        assert!(c.update_rrset_since(again, Rank::AuthorityAuth, secs(105), secs(101), 0));
    }

    #[test]
    fn changed_data_same_rank_replaces() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![a(100, 1)], Rank::Additional, secs(0), 0);
        assert!(c.update_rrset(vec![a(3600, 2)], Rank::Additional, secs(40), 0));
        assert_eq!(
            read(&c, "ns.example.", RecordType::A, secs(40)),
            vec![(3600, "192.0.2.2".to_string())]
        );
    }

    #[test]
    fn changed_ns_set_keeps_the_old_expiry() {
        let c = Cache::new(CacheConfig::default());
        c.update_rrset(vec![ns(100, "a.example.")], Rank::AuthorityAuth, secs(0), 0);
        let new = vec![ns(3600, "a.example."), ns(3600, "b.example.")];
        assert!(c.update_rrset(new, Rank::AuthorityAuth, secs(40), 0));
        let got = read(&c, "example.", RecordType::NS, secs(40));
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(ttl, _)| *ttl == 60), "{got:?}");
    }
}
