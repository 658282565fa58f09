//! Fuzz entry point for the record cache: a sequence of inserts, lookups,
//! removals and clock moves, checked against a model of when each entry
//! expires. Nothing is served past its TTL (stale reads only inside the
//! serve-stale window, with the stale TTL), an entry's TTL never grows
//! between reads, and the accounted bytes stay within the limit.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cache, Cached, Key, Rank};
use crate::clock::Mono;
use crate::config::CacheConfig;

/// What the model knows of one key: when its entry expires and the TTLs
/// last read from it (by entry serial).
#[derive(Default)]
struct Seen {
    expires_at: Option<Mono>,
    last_read: Option<(u64, u32)>,
}

fn name(i: u8) -> Name {
    Name::from_ascii(format!("n{}.example.", i % 8)).unwrap_or_else(|_| Name::root())
}

fn ttl_of(a: u8, b: u8) -> u32 {
    match b >> 6 {
        0 => u32::from(b & 63),
        1 => u32::from(a) * 60,
        2 => u32::MAX - u32::from(a),
        _ => 86_400 + u32::from(a),
    }
}

fn rank_of(k: u8) -> Rank {
    match k >> 5 {
        0 => Rank::Additional,
        1 => Rank::AuthorityNonAuth,
        2 | 3 => Rank::AnswerNonAuth,
        4 => Rank::AuthorityAuth,
        _ => Rank::AnswerAuth,
    }
}

fn soa(owner: &Name, ttl: u32, minimum: u32) -> Record {
    let soa = SOA::new(owner.clone(), owner.clone(), 1, 3600, 600, 86_400, minimum);
    Record::from_rdata(owner.clone(), ttl, RData::SOA(soa))
}

/// The key a lookup or removal byte names.
fn key_of(k: u8) -> Key {
    let n = name(k);
    match (k >> 3) % 4 {
        0 => Key::RRset(n, RecordType::A, DNSClass::IN),
        1 => Key::RRset(n, RecordType::TXT, DNSClass::IN),
        2 => Key::NxDomain(n, DNSClass::IN),
        _ => Key::Sections(n, RecordType::A, DNSClass::IN),
    }
}

/// Cache operations, four bytes each after a first configuration byte.
pub fn cache_ops(data: &[u8]) {
    let Some((&cfg, ops)) = data.split_first() else {
        return;
    };
    let config = CacheConfig {
        max_bytes: 16 * (256 + u64::from(cfg & 0x0f) * 128),
        min_ttl: if cfg & 0x10 != 0 { 5 } else { 0 },
        serve_expired: cfg & 0x20 != 0,
        serve_expired_ttl: if cfg & 0x40 != 0 { 0 } else { 600 },
        serve_original_ttl: cfg & 0x80 != 0,
        ..CacheConfig::default()
    };
    let limit = usize::try_from(config.max_bytes).unwrap_or(usize::MAX);
    let cache = Cache::new(config.clone());
    let mut now: Mono = Duration::from_secs(1_000);
    let mut model: HashMap<Key, Seen> = HashMap::new();
    for op in ops.chunks_exact(4) {
        let &[op, k, a, b] = op else { continue };
        match op % 8 {
            0..=3 => {
                let (key, value, ttl) = insertion(op % 8, k, a, b, &cache);
                let rank = rank_of(k);
                let stored = cache.insert(key.clone(), value.clone(), ttl, rank, now);
                let clamped = match value {
                    Cached::NoData(_) | Cached::NxDomain(_) => cache.clamp_negative_ttl(ttl),
                    _ => cache.clamp_ttl(ttl),
                };
                if stored {
                    let seen = model.entry(key).or_default();
                    seen.expires_at = Some(now + Duration::from_secs(u64::from(clamped)));
                    seen.last_read = None;
                }
            }
            4 | 5 => {
                let key = key_of(k);
                let stale_ok = op % 8 == 5;
                if let Some(hit) = cache.lookup(&key, now, stale_ok) {
                    let seen = model.entry(key).or_default();
                    check_hit(&hit, seen, now, stale_ok, &config);
                }
            }
            6 => {
                let ms = u64::from(a) * u64::from(b) * 10;
                now += Duration::from_millis(if k & 1 == 0 { ms } else { ms * 100 });
            }
            _ => {
                let key = key_of(k);
                cache.remove(&key);
                model.remove(&key);
            }
        }
        assert!(
            cache.bytes() <= limit,
            "{} bytes over {limit}",
            cache.bytes()
        );
    }
}

/// The key, value and TTL an insert operation stores.
fn insertion(kind: u8, k: u8, a: u8, b: u8, cache: &Cache) -> (Key, Cached, u32) {
    let n = name(k);
    let ttl = ttl_of(a, b);
    match kind {
        0 => {
            let records = (0..=(a % 4))
                .map(|i| {
                    let ip = Ipv4Addr::new(192, 0, 2, i);
                    Record::from_rdata(n.clone(), ttl, RData::A(A(ip)))
                })
                .collect();
            let key = Key::RRset(n, RecordType::A, DNSClass::IN);
            (key, Cached::RRset(records), ttl)
        }
        1 => {
            let text = "x".repeat(usize::from(a) * 4);
            let r = Record::from_rdata(n.clone(), ttl, RData::TXT(TXT::new(vec![text])));
            let key = Key::RRset(n, RecordType::TXT, DNSClass::IN);
            (key, Cached::RRset(vec![r]), ttl)
        }
        2 => {
            let s = soa(&n, ttl, u32::from(a) * 10);
            let neg = cache.negative_ttl(std::slice::from_ref(&s)).unwrap_or(0);
            (
                Key::NxDomain(n, DNSClass::IN),
                Cached::NxDomain(vec![s]),
                neg,
            )
        }
        _ => {
            let s = soa(&n, ttl_of(b, a), 60);
            let key = Key::Sections(n, RecordType::A, DNSClass::IN);
            (key, Cached::Sections(vec![s], Vec::new()), ttl)
        }
    }
}

fn check_hit(
    hit: &crate::cache::Hit,
    seen: &mut Seen,
    now: Mono,
    stale_ok: bool,
    config: &CacheConfig,
) {
    assert!(seen.expires_at.is_some(), "served an entry never stored");
    let Some(expires_at) = seen.expires_at else {
        return;
    };
    let expired = expires_at <= now;
    assert_eq!(hit.stale, expired, "stale flag wrong");
    if expired {
        assert!(stale_ok && config.serve_expired, "served past its TTL");
        if config.serve_expired_ttl > 0 {
            let window = Duration::from_secs(u64::from(config.serve_expired_ttl));
            assert!(now < expires_at + window, "served past the stale window");
        }
    }
    let records: Vec<&Record> = match &hit.value {
        Cached::RRset(rs) | Cached::NoData(rs) | Cached::NxDomain(rs) => rs.iter().collect(),
        Cached::Sections(a, b) => a.iter().chain(b.iter()).collect(),
        _ => Vec::new(),
    };
    let Some(ttl) = records.iter().map(|r| r.ttl).max() else {
        return;
    };
    if config.serve_original_ttl {
        return;
    }
    if expired {
        assert!(ttl <= config.serve_expired_reply_ttl, "stale TTL {ttl}");
    } else if !matches!(hit.value, Cached::Sections(..)) {
        let left = expires_at.saturating_sub(now);
        let left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        assert!(u64::from(ttl) <= left, "TTL {ttl} with {left} s left");
    }
    if let Some((serial, before)) = seen.last_read {
        if serial == hit.serial && !expired {
            assert!(ttl <= before, "TTL grew from {before} to {ttl}");
        }
    }
    if !expired {
        seen.last_read = Some((hit.serial, ttl));
    }
}
