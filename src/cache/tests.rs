//! Table tests of the cache: expiry, TTL decrement, ranking, negative
//! entries and the memory bound.

use std::time::Duration;

use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;
use crate::config::CacheConfig;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(name: &str, ttl: u32, last: u8) -> Record {
    Record::from_rdata(n(name), ttl, RData::A(A::new(192, 0, 2, last)))
}

fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let s = SOA::new(
        n("ns.example."),
        n("h.example."),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(n(zone), ttl, RData::SOA(s))
}

fn cache() -> Cache {
    Cache::new(CacheConfig::default())
}

fn secs(s: u64) -> Mono {
    Duration::from_secs(s)
}

#[test]
fn rrset_expires_and_ttl_counts_down() {
    let c = cache();
    assert!(c.insert_rrset(vec![a("www.example.", 300, 1)], Rank::AnswerAuth, secs(0)));
    let key = Key::RRset(n("WWW.example."), RecordType::A, DNSClass::IN);
    match c.get(&key, secs(100)) {
        Some(Cached::RRset(rs)) => assert_eq!(rs[0].ttl, 200),
        other => panic!("{other:?}"),
    }
    assert!(c.get(&key, secs(300)).is_none());
}

#[test]
fn glue_does_not_overwrite_answer() {
    let c = cache();
    c.insert_rrset(vec![a("ns.example.", 300, 1)], Rank::AnswerAuth, secs(0));
    assert!(!c.insert_rrset(vec![a("ns.example.", 300, 9)], Rank::Additional, secs(1)));
    let key = Key::RRset(n("ns.example."), RecordType::A, DNSClass::IN);
    match c.get(&key, secs(2)) {
        Some(Cached::RRset(rs)) => assert_eq!(rs[0].data, RData::A(A::new(192, 0, 2, 1))),
        other => panic!("{other:?}"),
    }
    // An answer replaces glue.
    c.insert_rrset(vec![a("g.example.", 300, 1)], Rank::Additional, secs(0));
    assert!(c.insert_rrset(vec![a("g.example.", 300, 2)], Rank::AnswerAuth, secs(1)));
    // After expiry, anything may be stored again.
    assert!(c.insert_rrset(vec![a("ns.example.", 300, 9)], Rank::Additional, secs(400)));
}

#[test]
fn negative_ttl_is_min_of_soa_ttl_and_minimum_capped() {
    let c = cache();
    assert_eq!(c.negative_ttl(&[soa("example.", 3600, 300)]), Some(300));
    assert_eq!(c.negative_ttl(&[soa("example.", 60, 300)]), Some(60));
    assert_eq!(c.negative_ttl(&[soa("example.", 86400, 86400)]), Some(3600));
    assert_eq!(c.negative_ttl(&[]), None);
}

#[test]
fn negative_ttl_is_raised_to_the_configured_floor() {
    let c = Cache::new(CacheConfig {
        min_negative_ttl: 10,
        max_negative_ttl: 100,
        ..CacheConfig::default()
    });
    assert_eq!(c.negative_ttl(&[soa("example.", 1, 1)]), Some(10));
    assert_eq!(c.negative_ttl(&[soa("example.", 50, 50)]), Some(50));
    assert_eq!(c.negative_ttl(&[soa("example.", 500, 500)]), Some(100));
}

#[test]
fn nxdomain_covers_names_below() {
    let c = cache();
    let key = Key::NxDomain(n("gone.example."), DNSClass::IN);
    c.insert(
        key,
        Cached::NxDomain(vec![soa("example.", 300, 300)]),
        300,
        Rank::AnswerAuth,
        secs(0),
    );
    let hit = c.nxdomain_covering(&n("a.b.gone.example."), DNSClass::IN, secs(10));
    assert_eq!(hit.map(|(name, _)| name), Some(n("gone.example.")));
    assert!(c
        .nxdomain_covering(&n("other.example."), DNSClass::IN, secs(10))
        .is_none());
    assert!(c
        .nxdomain_covering(&n("gone.example."), DNSClass::IN, secs(300))
        .is_none());
}

#[test]
fn the_nxdomain_walk_finds_ancestors_in_any_case_and_only_nxdomains() {
    let c = cache();
    let nx = |name: &str| Key::NxDomain(n(name), DNSClass::IN);
    let keep = |key: Key, value: Cached| c.insert(key, value, 300, Rank::AnswerAuth, secs(0));
    keep(
        nx("GoNe.Example."),
        Cached::NxDomain(vec![soa("example.", 300, 300)]),
    );
    // Entries of other kinds, and an NXDOMAIN of another class, at the
    // names the walk passes are not NXDOMAINs.
    keep(
        Key::RRset(n("b.gone.example."), RecordType::A, DNSClass::IN),
        Cached::RRset(Vec::new()),
    );
    keep(
        Key::NxDomain(n("x.b.gone.example."), DNSClass::CH),
        Cached::NxDomain(Vec::new()),
    );
    keep(
        Key::Delegation(n("x.b.gone.example."), DNSClass::IN),
        Cached::RRset(Vec::new()),
    );
    let found = |name: &str| {
        c.nxdomain_covering(&n(name), DNSClass::IN, secs(10))
            .map(|(owner, _)| owner.to_string())
    };
    // The owner found is the asked name's ancestor, in the asked case.
    assert_eq!(
        found("x.B.gone.EXAMPLE."),
        Some("gone.EXAMPLE.".to_string())
    );
    assert_eq!(found("gone.example."), Some("gone.example.".to_string()));
    // A name that shares a tail but not the labels: "agone" is not "gone".
    assert_eq!(found("agone.example."), None);
    assert_eq!(found("example."), None);
    assert_eq!(found("."), None);
    // The walk reads what a lookup of the ancestor's own key reads.
    let direct = c.lookup(&nx("gone.example."), secs(10), false);
    assert!(matches!(direct.map(|h| h.value), Some(Cached::NxDomain(_))));
}

#[test]
fn ttl_caps_apply() {
    let c = Cache::new(CacheConfig {
        min_ttl: 60,
        max_ttl: 600,
        ..CacheConfig::default()
    });
    c.insert_rrset(vec![a("low.example.", 5, 1)], Rank::AnswerAuth, secs(0));
    c.insert_rrset(vec![a("high.example.", 9999, 1)], Rank::AnswerAuth, secs(0));
    let low = c.get(
        &Key::RRset(n("low.example."), RecordType::A, DNSClass::IN),
        secs(0),
    );
    let high = c.get(
        &Key::RRset(n("high.example."), RecordType::A, DNSClass::IN),
        secs(0),
    );
    assert!(matches!(low, Some(Cached::RRset(ref r)) if r[0].ttl == 60));
    assert!(matches!(high, Some(Cached::RRset(ref r)) if r[0].ttl == 600));
}

#[test]
fn memory_stays_under_bound() {
    let c = Cache::new(CacheConfig {
        max_bytes: 64 * 1024,
        ..CacheConfig::default()
    });
    for i in 0..10_000u32 {
        let name = format!("host{i}.example.");
        c.insert_rrset(vec![a(&name, 300, 1)], Rank::AnswerAuth, secs(0));
    }
    assert!(c.bytes() <= 64 * 1024, "{} bytes", c.bytes());
    assert!(c.len() > 50);
    // The most recent entry survived, the first one was evicted.
    assert!(c
        .get(
            &Key::RRset(n("host9999.example."), RecordType::A, DNSClass::IN),
            secs(1)
        )
        .is_some());
    assert!(c
        .get(
            &Key::RRset(n("host0.example."), RecordType::A, DNSClass::IN),
            secs(1)
        )
        .is_none());
}

#[test]
fn keys_equal_but_for_case_hash_alike_and_find_each_other() {
    use std::hash::BuildHasher;
    let h = hashbrown::DefaultHashBuilder::default();
    let upper = Name::from_ascii("WWW.Example.TEST.").unwrap();
    let lower = Name::from_ascii("www.example.test.").unwrap();
    let keys = |n: &Name| {
        [
            Key::RRset(n.clone(), RecordType::A, DNSClass::IN),
            Key::NxDomain(n.clone(), DNSClass::IN),
            Key::Delegation(n.clone(), DNSClass::IN),
            Key::ZoneKeys(n.clone()),
        ]
    };
    for (a, b) in keys(&upper).iter().zip(keys(&lower).iter()) {
        assert_eq!(a, b);
        assert_eq!(h.hash_one(a), h.hash_one(b));
    }
    // Different names, types or kinds of key are different keys.
    let other = Name::from_ascii("www.example.tesu.").unwrap();
    let all: Vec<u64> = keys(&lower)
        .iter()
        .chain(keys(&other).iter())
        .chain([Key::RRset(lower.clone(), RecordType::AAAA, DNSClass::IN)].iter())
        .map(|k| h.hash_one(k))
        .collect();
    let distinct: std::collections::HashSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len());
    let c = Cache::new(CacheConfig::default());
    let now = secs(10);
    let rec = Record::from_rdata(upper.clone(), 300, RData::A(A::new(192, 0, 2, 1)));
    assert!(c.insert_rrset(vec![rec], Rank::AnswerAuth, now));
    assert!(matches!(
        c.get(&Key::RRset(lower, RecordType::A, DNSClass::IN), now),
        Some(Cached::RRset(rs)) if rs.len() == 1
    ));
}
