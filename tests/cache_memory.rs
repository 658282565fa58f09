//! The cache's memory accounting is honest: what it counts against
//! `cache.max_bytes` is close to what its entries really take on the heap
//! (measured with a counting allocator), so the bound holds for memory and
//! not only for the cache's own estimate. Names like the rig's and the
//! issue's (one A record each under a wildcard, and a few NS/TXT sets);
//! the front end's packet cache, which shares the budget, likewise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, NS, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::cache::{Cache, Rank};
use tern::config::CacheConfig;
use tern::server::packet_cache::{PacketCache, QueryKey};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only the
// sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests run one at a time: the count is the whole process's.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// (heap bytes the entries took, bytes the cache accounted) for `n`
/// entries made by `record(i)`.
fn measure(n: u32, record: impl Fn(u32) -> Vec<Record>) -> (f64, f64) {
    let cache = Cache::new(CacheConfig {
        max_bytes: 1 << 40,
        ..CacheConfig::default()
    });
    let now = Duration::from_secs(1);
    let before = live();
    for i in 0..n {
        cache.insert_rrset(record(i), Rank::AnswerAuth, now);
    }
    let took = (live() - before) as f64;
    (took, cache.bytes() as f64)
}

fn check(what: &str, n: u32, record: impl Fn(u32) -> Vec<Record>) {
    let (took, counted) = measure(n, record);
    let per = |b: f64| b / f64::from(n);
    println!(
        "{what}: {n} entries, heap {:.0} B/entry, accounted {:.0} B/entry",
        per(took),
        per(counted)
    );
    assert!(
        counted >= 0.9 * took,
        "{what}: accounted {:.0} B/entry, but entries take {:.0}",
        per(counted),
        per(took)
    );
    assert!(
        counted <= 1.6 * took,
        "{what}: accounted {:.0} B/entry, far above the {:.0} they take",
        per(counted),
        per(took)
    );
}

#[test]
fn accounted_bytes_match_the_heap() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    check("A under a wildcard", 50_000, |i| {
        let name = Name::from_ascii(format!("n{i}.edge.host3.net.")).unwrap();
        vec![Record::from_rdata(
            name,
            3600,
            RData::A(A::new(127, 100, (i >> 8) as u8, i as u8)),
        )]
    });
    check("long names", 20_000, |i| {
        let name = Name::from_ascii(format!(
            "a-rather-long-label-{i}.with-several.labels-below.d0042.example.org."
        ))
        .unwrap();
        vec![Record::from_rdata(
            name,
            3600,
            RData::A(A::new(127, 100, 1, 1)),
        )]
    });
    check("NS sets and TXT", 10_000, |i| {
        let zone = Name::from_ascii(format!("d{i:04}.com.")).unwrap();
        let mut set: Vec<Record> = ["ns1", "ns2"]
            .iter()
            .map(|h| {
                let target = Name::from_ascii(format!("{h}.d{i:04}.com.")).unwrap();
                Record::from_rdata(zone.clone(), 86400, RData::NS(NS(target)))
            })
            .collect();
        if i % 2 == 0 {
            set = vec![Record::from_rdata(
                zone,
                3600,
                RData::TXT(TXT::new(vec![format!("v=spf1 include:_spf.d{i}.com ~all")])),
            )];
        }
        set
    });
}

#[test]
fn the_heap_stays_within_max_bytes_under_many_more_names() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let max = 8u64 << 20;
    let cache = Cache::new(CacheConfig {
        max_bytes: max,
        ..CacheConfig::default()
    });
    let now = Duration::from_secs(1);
    let before = live();
    // About 4x what fits.
    for i in 0..60_000u32 {
        let name = Name::from_ascii(format!("n{i}.edge.host3.net.")).unwrap();
        let rec = Record::from_rdata(name, 3600, RData::A(A::new(127, 100, 0, 1)));
        cache.insert_rrset(vec![rec], Rank::AnswerAuth, now);
    }
    let took = (live() - before) as f64;
    println!(
        "60000 names into {} MiB: {} entries kept, heap {:.1} MiB, {} evicted",
        max >> 20,
        cache.len(),
        took / f64::from(1 << 20),
        cache.evictions()
    );
    assert!(cache.evictions() > 0, "the test did not fill the cache");
    assert!(cache.bytes() as u64 <= max);
    assert!(took <= 1.15 * max as f64, "heap {took} for max_bytes {max}");
}

/// A query for `name` (type A, EDNS) and a reply with one A record.
fn exchange(name: &str) -> (Vec<u8>, Vec<u8>) {
    let qname = Name::from_ascii(name).unwrap();
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(qname.clone(), RecordType::A));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    q.set_edns(e.clone());
    let mut r = q.clone();
    r.metadata.message_type = MessageType::Response;
    r.metadata.recursion_available = true;
    r.add_answer(Record::from_rdata(
        qname,
        3600,
        RData::A(A::new(127, 100, 0, 1)),
    ));
    (q.to_vec().unwrap(), r.to_vec().unwrap())
}

#[test]
fn packet_cache_bytes_match_the_heap() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let n = 20_000u32;
    let pairs: Vec<(QueryKey, Vec<u8>)> = (0..n)
        .map(|i| {
            let (q, r) = exchange(&format!("n{i}.edge.host3.net."));
            (QueryKey::of(&q).unwrap(), r)
        })
        .collect();
    let cache = PacketCache::new(1 << 40);
    let before = live();
    for (key, reply) in &pairs {
        assert!(cache.put(key, reply, Duration::from_secs(1), 0));
    }
    let took = (live() - before) as f64;
    let counted = cache.bytes() as f64;
    let per = |b: f64| b / f64::from(n);
    println!(
        "packet cache: {n} entries, heap {:.0} B/entry, accounted {:.0} B/entry",
        per(took),
        per(counted)
    );
    assert!(counted >= 0.9 * took, "accounted {counted}, heap {took}");
    assert!(counted <= 1.6 * took, "accounted {counted}, heap {took}");
}
