//! Table tests of the cache's serve-stale (RFC 8767 §4) and prefetch
//! support: the stale window, the stale reply TTL, zero-TTL supersession,
//! the prefetch point, failure entries and the memory bound with expired
//! entries kept.

use std::time::Duration;

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;
use crate::config::CacheConfig;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(name: &str, ttl: u32) -> Record {
    Record::from_rdata(n(name), ttl, RData::A(A::new(192, 0, 2, 1)))
}

fn key(name: &str) -> Key {
    Key::RRset(n(name), RecordType::A, DNSClass::IN)
}

fn secs(s: u64) -> Mono {
    Duration::from_secs(s)
}

fn stale_cache(window: u32, reply_ttl: u32) -> Cache {
    Cache::new(CacheConfig {
        serve_expired: true,
        serve_expired_ttl: window,
        serve_expired_reply_ttl: reply_ttl,
        ..CacheConfig::default()
    })
}

fn ttl_of(h: &Hit) -> u32 {
    match &h.value {
        Cached::RRset(rs) => rs.first().map(|r| r.ttl).unwrap(),
        other => panic!("not an RRset: {other:?}"),
    }
}

#[test]
fn stale_reads_follow_the_window() {
    // (window, seconds after storing a 100 s record, allow_stale, found, stale)
    let cases = [
        (10, 50, false, true, false),
        (10, 50, true, true, false),
        (10, 100, false, false, false),
        (10, 100, true, true, true),
        (10, 109, true, true, true),
        (10, 110, true, false, false),
        (0, 1_000_000, true, true, true), // 0 = no limit
    ];
    for (window, at, allow, found, stale) in cases {
        let c = stale_cache(window, 30);
        assert!(c.insert_rrset(vec![a("x.example.", 100)], Rank::AnswerAuth, secs(0)));
        let h = c.lookup(&key("x.example."), secs(at), allow);
        assert_eq!(h.is_some(), found, "window {window} at {at} allow {allow}");
        if let Some(h) = h {
            assert_eq!(h.stale, stale, "window {window} at {at}");
        }
    }
}

#[test]
fn stale_reads_need_serve_expired() {
    let c = Cache::new(CacheConfig::default());
    c.insert_rrset(vec![a("x.example.", 100)], Rank::AnswerAuth, secs(0));
    assert!(c.lookup(&key("x.example."), secs(101), true).is_none());
}

#[test]
fn stale_ttl_is_reply_ttl_or_original_when_lower() {
    let c = stale_cache(0, 30);
    c.insert_rrset(vec![a("long.example.", 300)], Rank::AnswerAuth, secs(0));
    c.insert_rrset(vec![a("short.example.", 20)], Rank::AnswerAuth, secs(0));
    let long = c.lookup(&key("long.example."), secs(400), true).unwrap();
    let short = c.lookup(&key("short.example."), secs(400), true).unwrap();
    assert_eq!(ttl_of(&long), 30);
    assert_eq!(ttl_of(&short), 20);
}

#[test]
fn original_ttl_is_served_unchanged() {
    let c = Cache::new(CacheConfig {
        serve_expired: true,
        serve_original_ttl: true,
        min_ttl: 60,
        ..CacheConfig::default()
    });
    c.insert_rrset(vec![a("x.example.", 10)], Rank::AnswerAuth, secs(0));
    // Kept for the clamped 60 s, answered with the 10 s it came with.
    let fresh = c.lookup(&key("x.example."), secs(30), false).unwrap();
    assert_eq!(ttl_of(&fresh), 10);
    let stale = c.lookup(&key("x.example."), secs(90), true).unwrap();
    assert!(stale.stale);
    assert_eq!(ttl_of(&stale), 10);
}

#[test]
fn zero_ttl_data_supersedes_expired_data() {
    let c = stale_cache(0, 30);
    c.insert_rrset(vec![a("x.example.", 100)], Rank::AnswerAuth, secs(0));
    assert!(c.lookup(&key("x.example."), secs(200), true).is_some());
    assert!(!c.insert_rrset(vec![a("x.example.", 0)], Rank::AnswerAuth, secs(200)));
    assert!(c.lookup(&key("x.example."), secs(200), true).is_none());
}

#[test]
fn zero_ttl_glue_leaves_live_answer_alone() {
    let c = stale_cache(0, 30);
    c.insert_rrset(vec![a("x.example.", 100)], Rank::AnswerAuth, secs(0));
    c.insert_rrset(vec![a("x.example.", 0)], Rank::Additional, secs(10));
    assert!(c.lookup(&key("x.example."), secs(10), false).is_some());
}

#[test]
fn prefetch_point_is_the_last_tenth() {
    let c = cache_with_prefetch();
    c.insert_rrset(vec![a("x.example.", 3600)], Rank::AnswerAuth, secs(0));
    for (at, due) in [(0, false), (3239, false), (3240, true), (3599, true)] {
        let h = c.lookup(&key("x.example."), secs(at), false).unwrap();
        assert_eq!(h.prefetch, due, "at {at}");
    }
    assert_eq!(c.remaining(&key("x.example."), secs(3240)), Some(secs(360)));
}

fn cache_with_prefetch() -> Cache {
    Cache::new(CacheConfig {
        prefetch: true,
        ..CacheConfig::default()
    })
}

#[test]
fn failures_are_kept_briefly() {
    let c = stale_cache(0, 30);
    let k = Key::Failure(n("x.example."), RecordType::A, DNSClass::IN);
    assert!(c.insert(k.clone(), Cached::Failure, 5, Rank::AnswerAuth, secs(0)));
    assert!(c.lookup(&k, secs(4), false).is_some());
    assert!(c.lookup(&k, secs(5), false).is_none());
}

#[test]
fn stale_window_can_be_restarted() {
    let c = stale_cache(10, 30);
    c.insert_rrset(vec![a("x.example.", 100)], Rank::AnswerAuth, secs(0));
    assert!(c.lookup(&key("x.example."), secs(115), true).is_none());
    c.reset_stale_window(&key("x.example."), secs(105));
    assert!(c.lookup(&key("x.example."), secs(114), true).is_some());
    assert!(c.lookup(&key("x.example."), secs(115), true).is_none());
}

#[test]
fn expired_entries_kept_for_stale_stay_under_the_memory_bound() {
    let c = Cache::new(CacheConfig {
        max_bytes: 64 * 1024,
        serve_expired: true,
        serve_expired_ttl: 0,
        ..CacheConfig::default()
    });
    for round in 0..3u64 {
        for i in 0..5_000u32 {
            let name = format!("h{round}-{i}.example.");
            c.insert_rrset(vec![a(&name, 1)], Rank::AnswerAuth, secs(round * 10));
        }
        assert!(c.bytes() <= 64 * 1024, "{} bytes", c.bytes());
    }
    // The newest survive as stale data; the oldest were evicted.
    assert!(c
        .lookup(&key("h2-4999.example."), secs(100), true)
        .is_some());
    assert!(c.lookup(&key("h0-0.example."), secs(100), true).is_none());
}

#[test]
fn removed_keys_are_gone() {
    let c = stale_cache(0, 30);
    let k = Key::NxDomain(n("x.example."), DNSClass::IN);
    c.insert(
        k.clone(),
        Cached::NxDomain(Vec::new()),
        60,
        Rank::AnswerAuth,
        secs(0),
    );
    let g = c.generation();
    c.remove(&k);
    assert!(c.lookup(&k, secs(100), true).is_none());
    assert_ne!(c.generation(), g);
}
