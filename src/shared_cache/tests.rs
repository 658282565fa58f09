use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap_or_else(|_| Name::root())
}

fn a(owner: &str, ttl: u32) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A::new(192, 0, 2, 1)))
}

fn answer_res(ttl: u32, security: Security) -> Resolution {
    let mut r = Resolution::failed(crate::engine::Failure::NotCached, Vec::new());
    r.failure = None;
    r.rcode = ResponseCode::NoError;
    r.answers = vec![a("www.example.", ttl), a("www.example.", ttl + 100)];
    r.security = security;
    r
}

fn req(owner: &str) -> Request {
    Request::new(name(owner), RecordType::A)
}

const T0: u64 = 1_800_000_000;

#[test]
fn an_answer_round_trips_with_ttls_lowered_by_the_time_passed() {
    let q = req("www.example.");
    let (bytes, ttl) = encode(&q, &answer_res(300, Security::Secure), T0).unwrap_or_default();
    assert_eq!(ttl, 300, "the key lives as long as the shortest TTL");
    let stored = decode(&bytes);
    assert!(stored.as_ref().is_some_and(|s| s.expires_at == T0 + 300));
    let res = stored.and_then(|s| answer(&q, s, T0 + 100, true));
    let ttls: Vec<u32> = res
        .iter()
        .flat_map(|r| r.answers.iter().map(|r| r.ttl))
        .collect();
    assert_eq!(ttls, vec![200, 300]);
    assert!(res.is_some_and(|r| r.security == Security::Secure && r.from_cache));
}

#[test]
fn a_negative_answer_round_trips() {
    let q = req("nx.example.");
    let mut r = answer_res(1, Security::Insecure);
    r.rcode = ResponseCode::NXDomain;
    r.answers.clear();
    let soa = SOA::new(name("ns.example."), name("h.example."), 1, 2, 3, 4, 60);
    r.authorities = vec![Record::from_rdata(name("example."), 60, RData::SOA(soa))];
    let (bytes, ttl) = encode(&q, &r, T0).unwrap_or_default();
    assert_eq!(ttl, 60);
    let back = decode(&bytes).and_then(|s| answer(&q, s, T0 + 10, true));
    assert!(back
        .as_ref()
        .is_some_and(|b| b.rcode == ResponseCode::NXDomain));
    assert_eq!(back.map(|b| b.authorities[0].ttl), Some(50));
}

#[test]
fn nothing_is_served_at_or_past_its_expiry() {
    let q = req("www.example.");
    let (bytes, _) = encode(&q, &answer_res(5, Security::Insecure), T0).unwrap_or_default();
    assert!(decode(&bytes)
        .and_then(|s| answer(&q, s, T0 + 4, true))
        .is_some());
    assert!(decode(&bytes)
        .and_then(|s| answer(&q, s, T0 + 5, true))
        .is_none());
    assert!(decode(&bytes)
        .and_then(|s| answer(&q, s, T0 + 50_000, true))
        .is_none());
}

#[test]
fn truncated_or_garbled_bytes_are_a_miss() {
    let q = req("www.example.");
    let (bytes, _) = encode(&q, &answer_res(300, Security::Insecure), T0).unwrap_or_default();
    assert!(decode(&bytes).is_some());
    for n in 0..bytes.len() {
        let cut = bytes.get(..n).unwrap_or_default();
        assert!(
            decode(cut).and_then(|s| answer(&q, s, T0, true)).is_none(),
            "cut at {n}"
        );
    }
    // Every single byte flipped: decodes to something sane or nothing,
    // never a panic.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        if let Some(x) = b.get_mut(i) {
            *x ^= 0xff;
        }
        let _ = decode(&b).and_then(|s| answer(&q, s, T0, true));
    }
    assert!(decode(b"TSC1").is_none());
    assert!(decode(&[0u8; 64]).is_none());
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = b'X';
    assert!(decode(&wrong_magic).is_none());
}

#[test]
fn an_entry_for_another_question_is_a_miss() {
    let (bytes, _) = encode(
        &req("www.example."),
        &answer_res(300, Security::Insecure),
        T0,
    )
    .unwrap_or_default();
    assert!(decode(&bytes)
        .and_then(|s| answer(&req("other.example."), s, T0, true))
        .is_none());
}

#[test]
fn validation_status_decides_who_takes_it() {
    let q = req("www.example.");
    let enc = |s| encode(&q, &answer_res(300, s), T0).unwrap_or_default().0;
    // Nobody checked it: a validating resolver resolves it itself.
    let unchecked = enc(Security::Unchecked);
    assert!(decode(&unchecked)
        .and_then(|s| answer(&q, s, T0, true))
        .is_none());
    assert!(decode(&unchecked)
        .and_then(|s| answer(&q, s, T0, false))
        .is_some());
    // A resolver that does not validate does not pass on a Secure status.
    let secure = enc(Security::Secure);
    let res = decode(&secure).and_then(|s| answer(&q, s, T0, false));
    assert!(res.is_some_and(|r| r.security == Security::Unchecked));
}

#[test]
fn failures_stale_and_scoped_answers_are_not_shared() {
    let q = req("www.example.");
    let mut r = answer_res(300, Security::Insecure);
    r.stale = true;
    assert!(encode(&q, &r, T0).is_none());
    let mut r = answer_res(300, Security::Insecure);
    r.ecs_scope = 24;
    assert!(encode(&q, &r, T0).is_none());
    let r = Resolution::failed(crate::engine::Failure::NotCached, Vec::new());
    assert!(encode(&q, &r, T0).is_none());
    let bogus = crate::dnssec::Bogus {
        kind: crate::dnssec::BogusKind::SignatureExpired,
        text: String::new(),
    };
    assert!(encode(&q, &answer_res(300, Security::Bogus(bogus)), T0).is_none());
    assert!(encode(&q, &answer_res(0, Security::Insecure), T0).is_none());
}

/// A store in memory that can be made to fail.
#[derive(Default)]
struct MapStore {
    map: Mutex<HashMap<String, Vec<u8>>>,
    down: std::sync::atomic::AtomicBool,
}

impl Store for MapStore {
    fn get(&self, key: String) -> StoreFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            if self.down.load(Ordering::Relaxed) {
                return Err(StoreError::Failed("down".into()));
            }
            Ok(self.map.lock().ok().and_then(|m| m.get(&key).cloned()))
        })
    }
    fn set(&self, key: String, value: Vec<u8>, _ttl: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.down.load(Ordering::Relaxed) {
                return Err(StoreError::Failed("down".into()));
            }
            if let Ok(mut m) = self.map.lock() {
                m.insert(key, value);
            }
            Ok(())
        })
    }
}

fn config() -> SharedCacheConfig {
    SharedCacheConfig {
        breaker_failures: 2,
        breaker_retry: Duration::from_millis(50),
        ..SharedCacheConfig::new("127.0.0.1:1")
    }
}

async fn settle(shared: &SharedCache) {
    for _ in 0..100 {
        if shared
            .read()
            .get("shared_cache.writes")
            .copied()
            .unwrap_or(0)
            > 0
        {
            return;
        }
        tokio::task::yield_now().await;
    }
}

fn clock() -> Arc<crate::clock::ManualClock> {
    Arc::new(crate::clock::ManualClock::new(T0))
}

#[tokio::test]
async fn a_written_answer_is_found_and_a_down_store_is_skipped() {
    let store = Arc::new(MapStore::default());
    let clock = clock();
    let shared = SharedCache::new(config(), store.clone(), clock.clone());
    let q = req("www.example.");
    assert!(shared.lookup(&q, true).await.is_none());
    shared.offer(&q, &answer_res(300, Security::Insecure));
    settle(&shared).await;
    clock.advance(Duration::from_secs(1));
    let hit = shared.lookup(&q, true).await;
    assert_eq!(hit.map(|h| h.answers[0].ttl), Some(299));
    store.down.store(true, Ordering::Relaxed);
    assert!(shared.lookup(&q, true).await.is_none());
    assert!(shared.lookup(&q, true).await.is_none());
    // Two errors opened the breaker: the store is not asked now.
    assert!(shared.lookup(&q, true).await.is_none());
    let c = shared.read();
    assert_eq!(c.get("shared_cache.errors"), Some(&2));
    assert_eq!(c.get("shared_cache.skips"), Some(&1));
    assert_eq!(c.get("shared_cache.breaker_open"), Some(&1));
    assert_eq!(c.get("shared_cache.hits"), Some(&1));
    store.down.store(false, Ordering::Relaxed);
    clock.advance(Duration::from_millis(40));
    assert!(shared.lookup(&q, true).await.is_none(), "still open");
    assert_eq!(shared.read().get("shared_cache.skips"), Some(&2));
    clock.advance(Duration::from_millis(20));
    assert!(shared.lookup(&q, true).await.is_some(), "the probe");
    assert_eq!(shared.read().get("shared_cache.breaker_open"), Some(&0));
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_write_queue_drops_and_counts() {
    let store = Arc::new(MapStore::default());
    let cfg = SharedCacheConfig {
        write_queue: 2,
        ..config()
    };
    let shared = SharedCache::new(cfg, store, clock());
    // The writer task cannot run before this test yields.
    for i in 0..5 {
        shared.offer(
            &req(&format!("n{i}.example.")),
            &answer_res(300, Security::Insecure),
        );
    }
    assert_eq!(shared.read().get("shared_cache.dropped_writes"), Some(&3));
}
