//! One sharded, bounded map that forgets its least recently used entries:
//! the storage of the record cache, the front end's packet cache and the
//! subnet cache.
//!
//! Each shard sits behind its own lock, so that hits on different keys from
//! different cores do not contend. A key is hashed once per operation: the
//! same 64-bit hash picks the shard (from its bits 32 and up) and finds
//! the entry in the shard's table (whose buckets come from the low bits and
//! whose tags from the top seven, so the shard's bits leave them spread).
//!
//! A shard keeps its entries in chunks of slots linked in recency order by
//! index, and its table holds only slot numbers: no allocation per entry,
//! and an entry's real cost is known. With a byte bound each entry is
//! charged the heap bytes its key and value own (the caller says how many)
//! plus its slot and its share of the table (`Sharded::OVERHEAD`), and a
//! shard that goes over its share of the budget drops entries from the
//! least recently used end until it is back under.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::{DefaultHashBuilder, HashTable};

/// What bounds a map: the sum of its entries' charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Bytes of memory: an entry is charged its heap bytes (given on
    /// insert) plus `Sharded::OVERHEAD`.
    Bytes(usize),
    /// A number of entries: each is charged 1.
    Entries(usize),
}

/// Counters of a map, summed over its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries held.
    pub entries: usize,
    /// The sum of their charges (bytes, or entries for `Bound::Entries`).
    pub charged: usize,
    /// Reads (`Shard::get`) that found their key.
    pub hits: u64,
    /// Entries dropped to stay within the bound.
    pub evictions: u64,
}

/// "No slot" in the recency links and the free list.
const NIL: u32 = u32::MAX;

/// Slots per chunk (a power of two). Chunks are allocated whole and never
/// moved, so a shard wastes at most one partly used chunk and growing
/// never copies entries.
const CHUNK_BITS: u32 = 5;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A table slot (a `u32` slot number and a control byte), at the load
/// between a half and seven eighths that a growing table keeps.
const TABLE_SLOT: usize = 8;

/// The shard's bits of a hash.
const SHARD_SHIFT: u32 = 32;

struct Node<K, V> {
    key: K,
    value: V,
    hash: u64,
    charge: usize,
    /// Toward the most recently used end.
    prev: u32,
    /// Toward the least recently used end.
    next: u32,
}

enum Slot<K, V> {
    Used(Node<K, V>),
    /// Free; the next free slot.
    Free(u32),
}

/// Slots in chunks, the used ones linked from most to least recently used.
struct Nodes<K, V> {
    chunks: Vec<Vec<Slot<K, V>>>,
    free: u32,
    head: u32,
    tail: u32,
    len: usize,
}

impl<K, V> Nodes<K, V> {
    fn new() -> Self {
        Self {
            chunks: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }

    fn slot(&self, i: u32) -> Option<&Slot<K, V>> {
        let i = i as usize;
        self.chunks.get(i >> CHUNK_BITS)?.get(i & (CHUNK - 1))
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot<K, V>> {
        let i = i as usize;
        self.chunks
            .get_mut(i >> CHUNK_BITS)?
            .get_mut(i & (CHUNK - 1))
    }

    fn node(&self, i: u32) -> Option<&Node<K, V>> {
        match self.slot(i)? {
            Slot::Used(n) => Some(n),
            Slot::Free(_) => None,
        }
    }

    fn node_mut(&mut self, i: u32) -> Option<&mut Node<K, V>> {
        match self.slot_mut(i)? {
            Slot::Used(n) => Some(n),
            Slot::Free(_) => None,
        }
    }

    /// Stores `node` in a free slot, most recently used; None when the
    /// slot numbers have run out.
    fn push(&mut self, node: Node<K, V>) -> Option<u32> {
        let i = if self.free != NIL {
            let i = self.free;
            let slot = self.slot_mut(i)?;
            let Slot::Free(next) = *slot else {
                return None;
            };
            *slot = Slot::Used(node);
            self.free = next;
            i
        } else {
            // Free slots are all taken: the next one past the last used.
            let next = match self.chunks.last() {
                Some(c) if c.len() < CHUNK => (self.chunks.len() - 1) * CHUNK + c.len(),
                _ => {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                    (self.chunks.len() - 1) * CHUNK
                }
            };
            let i = u32::try_from(next).ok().filter(|&i| i != NIL)?;
            self.chunks.last_mut()?.push(Slot::Used(node));
            i
        };
        self.len += 1;
        self.link_front(i);
        Some(i)
    }

    /// Frees slot `i`, returning its node.
    fn take(&mut self, i: u32) -> Option<Node<K, V>> {
        self.node(i)?;
        self.unlink(i);
        let free = self.free;
        let slot = self.slot_mut(i)?;
        let Slot::Used(node) = std::mem::replace(slot, Slot::Free(free)) else {
            return None;
        };
        self.free = i;
        self.len -= 1;
        Some(node)
    }

    fn unlink(&mut self, i: u32) {
        let Some(n) = self.node(i) else { return };
        let (prev, next) = (n.prev, n.next);
        match self.node_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.node_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn link_front(&mut self, i: u32) {
        let head = self.head;
        let Some(n) = self.node_mut(i) else { return };
        n.prev = NIL;
        n.next = head;
        match self.node_mut(head) {
            Some(h) => h.prev = i,
            None => self.tail = i,
        }
        self.head = i;
    }

    /// Makes `i` the most recently used.
    fn promote(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.link_front(i);
        }
    }

    fn hash_of(&self, i: u32) -> u64 {
        self.node(i).map_or(0, |n| n.hash)
    }
}

/// One shard: its table, its entries, and its share of the bound.
pub struct Shard<K, V> {
    table: HashTable<u32>,
    nodes: Nodes<K, V>,
    charged: usize,
    budget: usize,
    by_bytes: bool,
    hits: u64,
    evictions: u64,
}

impl<K: Eq, V> Shard<K, V> {
    fn new(bound: Bound, shards: usize) -> Self {
        let (budget, by_bytes) = match bound {
            Bound::Bytes(b) => (b / shards, true),
            Bound::Entries(n) => (n.div_ceil(shards), false),
        };
        Self {
            table: HashTable::new(),
            nodes: Nodes::new(),
            charged: 0,
            budget,
            by_bytes,
            hits: 0,
            evictions: 0,
        }
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let nodes = &self.nodes;
        self.table
            .find(hash, |&i| {
                nodes.node(i).is_some_and(|n| n.key.borrow() == key)
            })
            .copied()
    }

    /// The value of the entry with `hash` whose key `is` picks, made the
    /// most recently used: for a caller that can tell its key without
    /// building one.
    pub fn get_by(&mut self, hash: u64, is: impl Fn(&K) -> bool) -> Option<&mut V> {
        let nodes = &self.nodes;
        let i = *self
            .table
            .find(hash, |&i| nodes.node(i).is_some_and(|n| is(&n.key)))?;
        self.hits += 1;
        self.nodes.promote(i);
        self.nodes.node_mut(i).map(|n| &mut n.value)
    }

    /// The value at `key`, made the most recently used (a hit).
    pub fn get<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        self.hits += 1;
        self.nodes.promote(i);
        self.nodes.node_mut(i).map(|n| &mut n.value)
    }

    /// The value at `key`, its recency left alone.
    pub fn peek<Q>(&self, hash: u64, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        self.nodes.node(i).map(|n| &n.value)
    }

    /// `peek`, to change the value in place.
    pub fn peek_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        self.nodes.node_mut(i).map(|n| &mut n.value)
    }

    /// Takes the entry at `key` out.
    pub fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let nodes = &self.nodes;
        let found = self
            .table
            .find_entry(hash, |&i| {
                nodes.node(i).is_some_and(|n| n.key.borrow() == key)
            })
            .ok()?;
        let (i, _) = found.remove();
        let node = self.nodes.take(i)?;
        self.charged = self.charged.saturating_sub(node.charge);
        Some(node.value)
    }

    /// Stores `value` at `key` (whose hash is `hash`) as the most recently
    /// used, `heap` being the bytes key and value own on the heap, then
    /// drops least recently used entries while the shard is over its
    /// budget (the new one too, if it alone is over). Returns the value it
    /// replaced; when the slot numbers have run out, nothing is stored.
    pub fn insert(&mut self, hash: u64, key: K, value: V, heap: usize) -> Option<V> {
        let charge = if self.by_bytes {
            heap + Sharded::<K, V>::OVERHEAD
        } else {
            1
        };
        let Self { table, nodes, .. } = self;
        let old = match table.entry(
            hash,
            |&i| nodes.node(i).is_some_and(|n| n.key == key),
            |&i| nodes.hash_of(i),
        ) {
            TableEntry::Occupied(e) => {
                let i = *e.get();
                nodes.promote(i);
                let n = nodes.node_mut(i)?;
                let old = std::mem::replace(&mut n.value, value);
                let old_charge = std::mem::replace(&mut n.charge, charge);
                self.charged = self.charged.saturating_sub(old_charge);
                Some(old)
            }
            TableEntry::Vacant(e) => {
                let node = Node {
                    key,
                    value,
                    hash,
                    charge,
                    prev: NIL,
                    next: NIL,
                };
                e.insert(nodes.push(node)?);
                None
            }
        };
        self.charged += charge;
        self.shrink_to(self.budget);
        old
    }

    /// Drops least recently used entries until at most `budget` is charged.
    fn shrink_to(&mut self, budget: usize) {
        while self.charged > budget {
            let tail = self.nodes.tail;
            let hash = self.nodes.hash_of(tail);
            if let Ok(e) = self.table.find_entry(hash, |&i| i == tail) {
                e.remove();
            }
            let Some(node) = self.nodes.take(tail) else {
                // Nothing left; the count can only be off by rounding.
                self.charged = 0;
                break;
            };
            self.charged = self.charged.saturating_sub(node.charge);
            self.evictions += 1;
        }
    }

    /// Removes every entry for which `pick` holds; returns how many.
    pub fn remove_where(&mut self, mut pick: impl FnMut(&K, &V) -> bool) -> usize {
        let mut doomed = Vec::new();
        let mut i = self.nodes.head;
        while let Some(n) = self.nodes.node(i) {
            if pick(&n.key, &n.value) {
                doomed.push(i);
            }
            i = n.next;
        }
        for &i in &doomed {
            let hash = self.nodes.hash_of(i);
            if let Ok(e) = self.table.find_entry(hash, |&j| j == i) {
                e.remove();
            }
            if let Some(node) = self.nodes.take(i) {
                self.charged = self.charged.saturating_sub(node.charge);
            }
        }
        doomed.len()
    }

    /// The entries from most to least recently used.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut i = self.nodes.head;
        std::iter::from_fn(move || {
            let n = self.nodes.node(i)?;
            i = n.next;
            Some((&n.key, &n.value))
        })
    }

    /// Drops every entry (and the memory that held them); returns how
    /// many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.nodes.len;
        self.table = HashTable::new();
        self.nodes = Nodes::new();
        self.charged = 0;
        n
    }

    pub fn len(&self) -> usize {
        self.nodes.len
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len == 0
    }
}

/// The map: shards of a bounded LRU, one lock each.
pub struct Sharded<K, V> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    /// Fast and randomly seeded (SipHash cost a tenth of a cache hit);
    /// one hash serves both the shard and its table.
    hasher: DefaultHashBuilder,
    mask: usize,
}

impl<K, V> Sharded<K, V> {
    /// What a byte-bounded map charges an entry besides the heap bytes of
    /// its key and value: its slot (key, value, hash, charge and links
    /// inline) and its share of the table. `tests/cache_memory.rs` holds
    /// it against the heap.
    pub const OVERHEAD: usize = std::mem::size_of::<Slot<K, V>>() + TABLE_SLOT;
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    /// A map of `shards` shards (rounded up to a power of two), each
    /// bounded by its share of `bound`.
    pub fn new(shards: usize, bound: Bound) -> Self {
        let n = shards.max(1).next_power_of_two();
        Self {
            shards: (0..n).map(|_| Mutex::new(Shard::new(bound, n))).collect(),
            hasher: DefaultHashBuilder::default(),
            mask: n - 1,
        }
    }

    /// The hash of `key`, for `lock` and the shard's methods (computed
    /// once per operation). Keys that borrow as the same `Q` hash alike.
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The hasher `hash` uses, for a caller that hashes keys it does not
    /// build (its writes must be those of the key's `Hash`).
    pub fn hasher(&self) -> &DefaultHashBuilder {
        &self.hasher
    }

    /// The shard that holds keys with `hash`, locked; None if a thread
    /// panicked holding it.
    pub fn lock(&self, hash: u64) -> Option<MutexGuard<'_, Shard<K, V>>> {
        let i = (hash >> SHARD_SHIFT) as usize & self.mask;
        self.shards.get(i)?.lock().ok()
    }

    /// Every shard in turn, each locked while `f` runs on it.
    pub fn for_each_shard(&self, mut f: impl FnMut(&mut Shard<K, V>)) {
        for s in self.shards.iter() {
            if let Ok(mut s) = s.lock() {
                f(&mut s);
            }
        }
    }

    /// Whether no shard holds an entry (each locked in turn).
    pub fn is_empty(&self) -> bool {
        let mut empty = true;
        self.for_each_shard(|s| empty &= s.is_empty());
        empty
    }

    /// Drops every entry; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut n = 0;
        self.for_each_shard(|s| n += s.clear());
        n
    }

    /// The counters, summed over the shards.
    pub fn stats(&self) -> Stats {
        let mut t = Stats::default();
        self.for_each_shard(|s| {
            t.entries += s.len();
            t.charged += s.charged;
            t.hits += s.hits;
            t.evictions += s.evictions;
        });
        t
    }
}

#[cfg(test)]
#[path = "lru_tests.rs"]
mod tests;
