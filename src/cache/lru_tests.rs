#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// A one-shard map holding at most `entries`.
fn by_count(entries: usize) -> Sharded<String, u32> {
    Sharded::new(1, Bound::Entries(entries))
}

fn put(m: &Sharded<String, u32>, k: &str, v: u32, heap: usize) -> Option<u32> {
    let h = m.hash(k);
    m.lock(h).unwrap().insert(h, k.to_string(), v, heap)
}

fn get(m: &Sharded<String, u32>, k: &str) -> Option<u32> {
    let h = m.hash(k);
    m.lock(h).unwrap().get(h, k).copied()
}

fn keys(m: &Sharded<String, u32>) -> Vec<String> {
    let mut out = Vec::new();
    m.for_each_shard(|s| out.extend(s.iter().map(|(k, _)| k.clone())));
    out
}

#[test]
fn the_least_recently_used_goes_first() {
    let m = by_count(3);
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        put(&m, k, i as u32, 0);
    }
    // Reading "a" makes "b" the oldest.
    assert_eq!(get(&m, "a"), Some(0));
    put(&m, "d", 3, 0);
    assert_eq!(keys(&m), ["d", "a", "c"]);
    assert_eq!(get(&m, "b"), None);
    // A peek leaves the order alone.
    let h = m.hash("c");
    assert_eq!(m.lock(h).unwrap().peek(h, "c"), Some(&2));
    put(&m, "e", 4, 0);
    assert_eq!(keys(&m), ["e", "d", "a"]);
    let s = m.stats();
    assert_eq!((s.entries, s.charged, s.hits, s.evictions), (3, 3, 1, 2));
}

#[test]
fn replacing_keeps_one_entry_and_its_new_charge() {
    let m: Sharded<String, u32> = Sharded::new(1, Bound::Bytes(1 << 20));
    let over = Sharded::<String, u32>::OVERHEAD;
    assert_eq!(put(&m, "a", 1, 100), None);
    assert_eq!(put(&m, "b", 2, 10), None);
    assert_eq!(m.stats().charged, 110 + 2 * over);
    assert_eq!(put(&m, "a", 3, 40), Some(1));
    assert_eq!(m.stats().charged, 50 + 2 * over);
    assert_eq!(m.stats().entries, 2);
    assert_eq!(keys(&m), ["a", "b"]);
    assert_eq!(get(&m, "a"), Some(3));
}

#[test]
fn a_byte_bound_evicts_until_under_and_counts_it() {
    let over = Sharded::<String, u32>::OVERHEAD;
    let m: Sharded<String, u32> = Sharded::new(1, Bound::Bytes(3 * (over + 100)));
    for i in 0..3 {
        put(&m, &format!("k{i}"), i, 100);
    }
    assert_eq!(m.stats().evictions, 0);
    // One entry the size of two pushes out the two oldest.
    put(&m, "big", 9, 2 * over + 200);
    assert_eq!(keys(&m), ["big"]);
    let s = m.stats();
    assert_eq!((s.entries, s.evictions), (1, 3));
    assert_eq!(s.charged, 3 * over + 200);
    // One over the whole budget does not stay either.
    put(&m, "huge", 1, 3 * (over + 100));
    assert_eq!(m.stats().entries, 0);
    assert_eq!(m.stats().charged, 0);
}

#[test]
fn remove_and_remove_where_free_their_charge_and_slots() {
    let m = by_count(100);
    for i in 0..10 {
        put(&m, &format!("k{i}"), i, 0);
    }
    let h = m.hash("k3");
    assert_eq!(m.lock(h).unwrap().remove(h, "k3"), Some(3));
    assert_eq!(m.lock(h).unwrap().remove(h, "k3"), None);
    let mut gone = 0;
    m.for_each_shard(|s| gone += s.remove_where(|_, v| v % 2 == 0));
    assert_eq!(gone, 5);
    assert_eq!(keys(&m), ["k9", "k7", "k5", "k1"]);
    assert_eq!(m.stats().charged, 4);
    // Freed slots are used again before new ones.
    for i in 10..16 {
        put(&m, &format!("k{i}"), i, 0);
    }
    m.for_each_shard(|s| assert_eq!(s.nodes.chunks.iter().map(Vec::len).sum::<usize>(), 10));
    assert_eq!(get(&m, "k1"), Some(1));
    assert_eq!(get(&m, "k15"), Some(15));
    assert_eq!(m.clear(), 10);
    assert!(keys(&m).is_empty());
    assert_eq!(
        m.stats(),
        Stats {
            hits: 2,
            ..Stats::default()
        }
    );
}

#[test]
fn keys_spread_over_shards_and_each_keeps_its_share() {
    let over = Sharded::<String, u32>::OVERHEAD;
    let m: Sharded<String, u32> = Sharded::new(16, Bound::Bytes(16 * 10 * over));
    for i in 0..10_000 {
        put(&m, &format!("name{i}.example."), i, 0);
    }
    let mut sizes = Vec::new();
    m.for_each_shard(|s| {
        assert!(s.charged <= 10 * over);
        sizes.push(s.len());
    });
    assert_eq!(sizes, vec![10; 16]);
    // The newest of each shard are there, each found with its one hash.
    assert_eq!(get(&m, "name9999.example."), Some(9999));
    assert_eq!(m.stats().evictions, 10_000 - 160);
}

#[test]
fn many_entries_survive_growth_and_churn() {
    let m = by_count(5000);
    for round in 0..3u32 {
        for i in 0..5000u32 {
            put(&m, &format!("{i}"), i + round, 0);
        }
        for i in (0..5000u32).step_by(7) {
            assert_eq!(get(&m, &format!("{i}")), Some(i + round));
        }
    }
    let mut gone = 0;
    m.for_each_shard(|s| gone += s.remove_where(|k, _| k.ends_with('1')));
    assert_eq!(gone, 500);
    for i in 0..5000u32 {
        let want = (!format!("{i}").ends_with('1')).then_some(i + 2);
        assert_eq!(get(&m, &format!("{i}")), want, "{i}");
    }
    assert_eq!(m.stats().entries, 4500);
}
