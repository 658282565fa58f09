//! The record cache: RRsets keyed by (name, type, class), negative answers
//! (RFC 2308) and delegations, each with an expiry on the engine's clock and
//! a trust rank (RFC 2181 §5.4.1) so that glue never overwrites answers.
//!
//! Time comes in as a `now` argument; nothing here reads a clock. Memory is
//! bounded by a byte count per shard (`lru::Sharded`), least recently used
//! entries going first.
//!
//! Expired entries stay until evicted, so that with serve-stale (RFC 8767
//! §4) they can still answer for up to `serve_expired_ttl` past expiry;
//! reads say whether what they return is stale or due for a prefetch (its
//! last tenth of TTL, as Unbound's `prefetch`). Recent resolution failures
//! are kept briefly too (`Key::Failure`), as Unbound keeps SERVFAIL for
//! 5 seconds, so that a failing name is not hammered.

pub mod admin;
pub mod lru;
pub mod rank;
pub mod subnet;
mod update;

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::MutexGuard;
use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::clock::Mono;
use crate::config::CacheConfig;
use lru::{Bound, Shard, Sharded, Stats};

pub use rank::Rank;

/// Shards of the cache, each behind its own lock, so concurrent hits on
/// different names do not contend.
const SHARDS: usize = 16;

/// `cache.max_bytes` bounds the record cache and the front end's packet
/// cache together: the packet cache has 1/8 of it, the records the rest.
pub const PACKET_CACHE_SHARE: u64 = 8;

/// The part of `cache.max_bytes` the record cache may use.
pub fn record_budget(max_bytes: u64) -> u64 {
    max_bytes - max_bytes / PACKET_CACHE_SHARE
}

/// What a cache key points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// An RRset, or a NODATA marker for that type.
    RRset(Name, RecordType, DNSClass),
    /// An NXDOMAIN for the name (and, per RFC 8020, everything below it).
    NxDomain(Name, DNSClass),
    /// The authority and additional sections that came with an answer for
    /// (name, type), for non-minimal responses.
    Sections(Name, RecordType, DNSClass),
    /// The delegation as the parent zone gave it (NS set and glue), kept
    /// apart from the child's own NS set for when that one proves useless.
    Delegation(Name, DNSClass),
    /// A recent failure to resolve (name, type): while live, no new
    /// attempt is made (stale data, if any, is served instead).
    Failure(Name, RecordType, DNSClass),
    /// The RRSIGs covering the RRset (name, type), stored with it (kept
    /// apart so that readers of the RRset see only its own records).
    Sigs(Name, RecordType, DNSClass),
    /// The validation status of the answer to (name, type) (RFC 4035
    /// §4.3), so that a cached answer is validated once.
    Status(Name, RecordType, DNSClass),
    /// A zone's validated DNSKEYs, or why it is insecure or bogus.
    ZoneKeys(Name),
    /// The NSEC/NSEC3 records (and RRSIGs) that came with an answer for
    /// (name, type): a wildcard answer's proof of no closer match.
    Proof(Name, RecordType, DNSClass),
}

/// Hashed as the derived hash would be, but with each name written to the
/// hasher in one piece (`hash_name`) rather than byte by byte: a key is
/// hashed on every cache read and write.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Key::RRset(n, t, c)
            | Key::Sections(n, t, c)
            | Key::Failure(n, t, c)
            | Key::Sigs(n, t, c)
            | Key::Status(n, t, c)
            | Key::Proof(n, t, c) => {
                hash_name(n, state);
                t.hash(state);
                c.hash(state);
            }
            Key::NxDomain(n, c) | Key::Delegation(n, c) => {
                let mut buf = [0u8; 256];
                let at = lower_labels(n, &mut buf);
                let labels = buf.get(..at).unwrap_or_default();
                hash_name_class(n.is_fqdn(), labels, *c, state);
            }
            Key::ZoneKeys(n) => hash_name(n, state),
        }
    }
}

/// What a (name, class) key writes after its kind, the name given as its
/// lower-cased labels: the NXDOMAIN walk hashes its ancestors' keys through
/// this without making them, so the two cannot drift apart.
fn hash_name_class<H: Hasher>(fqdn: bool, labels: &[u8], class: DNSClass, state: &mut H) {
    hash_labels(fqdn, labels, state);
    class.hash(state);
}

/// Hashes a name as names compare (`Name`'s `Eq` ignores ASCII case):
/// whether it is fully qualified, then its labels lower-cased, each after
/// its length, in one write.
pub fn hash_name<H: Hasher>(name: &Name, state: &mut H) {
    let mut buf = [0u8; 256];
    let at = lower_labels(name, &mut buf);
    hash_labels(name.is_fqdn(), buf.get(..at).unwrap_or_default(), state);
}

/// What `hash_name` writes for a name given as its labels lower-cased,
/// each after its length: a name's ancestors are the tails of its labels,
/// hashed without being made.
fn hash_labels<H: Hasher>(fqdn: bool, labels: &[u8], state: &mut H) {
    state.write_u8(u8::from(fqdn));
    state.write(labels);
}

/// Writes `name`'s labels lower-cased, each after its length, into `buf`;
/// the bytes written. A name's labels and their lengths take at most 255
/// bytes.
fn lower_labels(name: &Name, buf: &mut [u8; 256]) -> usize {
    let mut at = 0;
    for label in name.iter() {
        let end = at + 1 + label.len();
        let Some((len, rest)) = buf.get_mut(at..end).and_then(|d| d.split_first_mut()) else {
            break;
        };
        *len = label.len() as u8;
        for (d, s) in rest.iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        at = end;
    }
    at
}

/// Whether `name`'s labels, lower-cased, are `labels` (as `lower_labels`
/// writes them).
fn labels_are(name: &Name, labels: &[u8]) -> bool {
    let mut rest = labels;
    for label in name.iter() {
        let Some((&len, tail)) = rest.split_first() else {
            return false;
        };
        let Some((these, tail)) = tail.split_at_checked(usize::from(len)) else {
            return false;
        };
        if label.len() != these.len()
            || !label
                .iter()
                .zip(these)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

/// A cached value.
#[derive(Debug, Clone)]
pub enum Cached {
    /// Records with their TTLs as remaining at read time.
    RRset(Vec<Record>),
    /// The type does not exist at the name; the SOA (if any) for authority.
    NoData(Vec<Record>),
    /// The name does not exist; the SOA (if any) for authority.
    NxDomain(Vec<Record>),
    /// Authority and additional records kept with an answer.
    Sections(Vec<Record>, Vec<Record>),
    /// The question failed to resolve (SERVFAIL).
    Failure,
    /// A validation status.
    Status(crate::dnssec::Security),
    /// A zone's keys as the chain of trust left them.
    ZoneKeys(crate::dnssec::ZoneKeys),
}

/// What a read found.
#[derive(Debug, Clone)]
pub struct Hit {
    pub value: Cached,
    pub rank: Rank,
    /// Past its expiry (only returned to reads that allow stale data).
    pub stale: bool,
    /// In the last tenth of its TTL: worth re-resolving ahead of expiry.
    pub prefetch: bool,
    /// The order in which entries were stored (a larger number was stored
    /// later), to tell which of two entries is the newer even within one
    /// clock tick.
    pub serial: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Cached,
    rank: Rank,
    stored_at: Mono,
    /// From the cache's store counter: which entry is newer.
    serial: u64,
    expires_at: Mono,
    /// The TTL it was stored for (after clamping), for the prefetch point.
    ttl: u32,
    /// Until when it may be served stale; None = no limit.
    stale_until: Option<Mono>,
}

/// The cache itself; cheap to share behind an `Arc`.
pub struct Cache {
    /// Entries charged their records' heap bytes plus their slot
    /// (`value_bytes`, `Sharded::OVERHEAD`) against `max_bytes`.
    map: Sharded<Key, Entry>,
    config: CacheConfig,
    /// Bumped when live data is replaced and on clear, so that anything
    /// derived from the cache's content (the front end's packet cache) can
    /// tell it may be stale.
    generation: AtomicU64,
    /// Counts stores, numbering each entry (`Hit::serial`).
    stores: AtomicU64,
    /// Whether a DNAME RRset was ever stored: until one is, no read for a
    /// DNAME above a name can find one.
    dnames: AtomicBool,
}

impl Cache {
    pub fn new(config: CacheConfig) -> Self {
        let max_bytes = usize::try_from(config.max_bytes).unwrap_or(usize::MAX);
        Self {
            map: Sharded::new(SHARDS, Bound::Bytes(max_bytes)),
            config,
            generation: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            dnames: AtomicBool::new(false),
        }
    }

    /// A number that changes whenever live content is replaced or the cache
    /// cleared (new names, expiry and eviction leave it alone).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The key's hash (computed once, for both shard and table) and its
    /// shard, locked.
    fn locked(&self, key: &Key) -> Option<(u64, MutexGuard<'_, Shard<Key, Entry>>)> {
        let h = self.map.hash(key);
        Some((h, self.map.lock(h)?))
    }

    /// Clamps a TTL into the configured [min_ttl, max_ttl].
    pub fn clamp_ttl(&self, ttl: u32) -> u32 {
        ttl.clamp(
            self.config.min_ttl,
            self.config.max_ttl.max(self.config.min_ttl),
        )
    }

    /// The TTL of a negative answer per RFC 2308 §5: min(SOA TTL, SOA
    /// MINIMUM), capped by the configured negative maximum.
    pub fn negative_ttl(&self, soa: &[Record]) -> Option<u32> {
        let ttl = soa.iter().find_map(|r| match &r.data {
            RData::SOA(s) => Some(r.ttl.min(s.minimum)),
            _ => None,
        })?;
        Some(self.clamp_negative_ttl(ttl))
    }

    /// Clamps a negative TTL into [min_negative_ttl, max_negative_ttl].
    pub fn clamp_negative_ttl(&self, ttl: u32) -> u32 {
        ttl.max(self.config.min_negative_ttl)
            .min(self.config.max_negative_ttl)
    }

    /// Reads a key; expired entries are treated as absent. TTLs of the
    /// returned records are what remains at `now`.
    pub fn get(&self, key: &Key, now: Mono) -> Option<Cached> {
        self.get_ranked(key, now).map(|(value, _)| value)
    }

    /// `f` of the live value at `key`, read in place: for a caller that
    /// needs a part of it (addresses, names) and not a copy of its records.
    /// TTLs are as stored, not counted down.
    pub fn read<R>(&self, key: &Key, now: Mono, f: impl FnOnce(&Cached) -> R) -> Option<R> {
        let (h, mut s) = self.locked(key)?;
        let e = s.get(h, key)?;
        (e.expires_at > now).then(|| f(&e.value))
    }

    /// `get`, with the trust rank of what was read (one lookup for both).
    pub fn get_ranked(&self, key: &Key, now: Mono) -> Option<(Cached, Rank)> {
        self.lookup(key, now, false).map(|h| (h.value, h.rank))
    }

    /// Reads a key; with `allow_stale` (and serve-stale configured) also an
    /// expired entry still inside its stale window, its records then
    /// carrying the stale reply TTL (RFC 8767 §4). Entries stored with a
    /// zero TTL are never served stale: they were not to be cached at all.
    pub fn lookup(&self, key: &Key, now: Mono, allow_stale: bool) -> Option<Hit> {
        let (h, mut s) = self.locked(key)?;
        let e = s.get(h, key)?;
        self.hit(e, now, allow_stale)
    }

    /// What a read of entry `e` returns at `now`: None when it has expired
    /// (unless stale data may be served), else its value with TTLs counted
    /// down.
    fn hit(&self, e: &Entry, now: Mono, allow_stale: bool) -> Option<Hit> {
        let stale = e.expires_at <= now;
        if stale
            && !(allow_stale
                && self.config.serve_expired
                && e.ttl > 0
                && e.stale_until.is_none_or(|t| now < t))
        {
            return None;
        }
        let original = self.config.serve_original_ttl;
        let mut value = e.value.clone();
        let set = |r: &mut Record, counted_down: u32| {
            r.ttl = match (original, stale) {
                (true, _) => r.ttl,
                (false, true) => r.ttl.min(self.config.serve_expired_reply_ttl),
                (false, false) => counted_down,
            };
        };
        match &mut value {
            Cached::RRset(rs) | Cached::NoData(rs) | Cached::NxDomain(rs) => {
                let left = remaining_secs(e.expires_at, now);
                for r in rs.iter_mut() {
                    set(r, left);
                }
            }
            Cached::Sections(a, b) => {
                // Each record keeps its own TTL, counted down since storing.
                let elapsed =
                    u32::try_from(now.saturating_sub(e.stored_at).as_secs()).unwrap_or(u32::MAX);
                for r in a.iter_mut().chain(b.iter_mut()) {
                    let left = r.ttl.saturating_sub(elapsed);
                    set(r, left);
                }
            }
            Cached::Failure | Cached::Status(_) | Cached::ZoneKeys(_) => {}
        }
        // Unbound's prefetch point: the last tenth of the TTL.
        let prefetch_at = e.stored_at + Duration::from_secs(u64::from(e.ttl - e.ttl / 10));
        Some(Hit {
            value,
            rank: e.rank,
            stale,
            prefetch: !stale && now >= prefetch_at,
            serial: e.serial,
        })
    }

    /// The records of a `Sections` entry still within their own TTLs, even
    /// when the entry (which lives as long as its answer) has expired, with
    /// its rank; for renewing sections without extending what is unchanged.
    pub fn sections_records(&self, key: &Key, now: Mono) -> Option<(Vec<Record>, Rank)> {
        let (h, s) = self.locked(key)?;
        let e = s.peek(h, key)?;
        let Cached::Sections(a, b) = &e.value else {
            return None;
        };
        let elapsed = u32::try_from(now.saturating_sub(e.stored_at).as_secs()).unwrap_or(u32::MAX);
        let live = a
            .iter()
            .chain(b.iter())
            .filter(|r| r.ttl > elapsed)
            .map(|r| {
                let mut r = r.clone();
                r.ttl -= elapsed;
                r
            })
            .collect();
        Some((live, e.rank))
    }

    /// Time left before a live entry expires; None if absent or expired.
    pub fn remaining(&self, key: &Key, now: Mono) -> Option<Duration> {
        let (h, s) = self.locked(key)?;
        let e = s.peek(h, key)?;
        (e.expires_at > now).then(|| e.expires_at - now)
    }

    /// Restarts the stale window of an expired entry at `now`
    /// (serve-expired-ttl-reset: a failed refresh keeps stale data usable).
    pub fn reset_stale_window(&self, key: &Key, now: Mono) {
        let Some((h, mut s)) = self.locked(key) else {
            return;
        };
        let window = self.stale_window();
        if let Some(e) = s.peek_mut(h, key) {
            if e.expires_at <= now {
                e.stale_until = window.map(|w| now + w);
            }
        }
    }

    /// Drops a key (data proven wrong, e.g. an NXDOMAIN for a name that
    /// has since answered).
    pub fn remove(&self, key: &Key) {
        let Some((h, mut s)) = self.locked(key) else {
            return;
        };
        if s.remove(h, key).is_some() {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// How long past expiry entries stay servable; None = no limit.
    fn stale_window(&self) -> Option<Duration> {
        match self.config.serve_expired_ttl {
            0 => None,
            t => Some(Duration::from_secs(u64::from(t))),
        }
    }

    /// Stores `value` under `key` for `ttl` seconds (clamped for positive
    /// data), unless a live entry of higher rank is already there.
    /// Returns whether it was stored.
    pub fn insert(&self, key: Key, value: Cached, ttl: u32, rank: Rank, now: Mono) -> bool {
        let ttl = match value {
            Cached::RRset(_) | Cached::Sections(..) => self.clamp_ttl(ttl),
            Cached::NoData(_) | Cached::NxDomain(_) => self.clamp_negative_ttl(ttl),
            Cached::Failure | Cached::Status(_) | Cached::ZoneKeys(_) => ttl,
        };
        let Some((h, mut s)) = self.locked(&key) else {
            return false;
        };
        if ttl == 0 {
            // Not cached; but it supersedes what it replaces, so expired
            // data is not served stale in its place (Unbound stores such a
            // reply with TTL 0 for the same reason).
            let replaceable = s
                .peek(h, &key)
                .is_some_and(|old| old.expires_at <= now || old.rank <= rank);
            if replaceable && s.remove(h, &key).is_some() {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
            return false;
        }
        let replaces_live = match s.peek(h, &key) {
            Some(old) if old.expires_at > now && old.rank > rank => return false,
            Some(old) => old.expires_at > now,
            None => false,
        };
        let heap = value_bytes(&key, &value);
        let expires_at = now + Duration::from_secs(u64::from(ttl));
        let entry = Entry {
            value,
            rank,
            stored_at: now,
            serial: self.stores.fetch_add(1, Ordering::Relaxed),
            expires_at,
            ttl,
            stale_until: self.stale_window().map(|w| expires_at + w),
        };
        // Only replacing live data can make something derived from it wrong:
        // a new name changes no earlier answer, and what was derived from an
        // expired or evicted entry expires with it (its TTLs were no longer).
        // Under the shard lock: a reader that saw the new number waits for
        // this lock and then sees the new entry.
        if replaces_live {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        if matches!(key, Key::RRset(_, RecordType::DNAME, _)) {
            // Before the entry is readable (the shard is still locked).
            self.dnames.store(true, Ordering::SeqCst);
        }
        // Least recently used entries go while the shard is over budget.
        s.insert(h, key, entry, heap);
        true
    }

    /// Whether the cache may hold a DNAME RRset (false: it never stored one).
    pub fn may_hold_dname(&self) -> bool {
        self.dnames.load(Ordering::SeqCst)
    }

    /// Stores an RRset (all records must share name, type and class); its
    /// TTL is the lowest of its records' (RFC 2181 §5.2).
    pub fn insert_rrset(&self, records: Vec<Record>, rank: Rank, now: Mono) -> bool {
        let Some(first) = records.first() else {
            return false;
        };
        let key = Key::RRset(first.name.clone(), first.record_type(), first.dns_class);
        let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
        self.insert(key, Cached::RRset(records), ttl, rank, now)
    }

    /// Looks for an NXDOMAIN cached for `name` or any of its ancestors
    /// (RFC 8020: nothing exists below a name that does not exist).
    pub fn nxdomain_covering(
        &self,
        name: &Name,
        class: DNSClass,
        now: Mono,
    ) -> Option<(Name, Vec<Record>)> {
        self.nxdomain_covering_stale(name, class, now, false)
    }

    /// `nxdomain_covering`, optionally finding a stale NXDOMAIN.
    pub fn nxdomain_covering_stale(
        &self,
        name: &Name,
        class: DNSClass,
        now: Mono,
        allow_stale: bool,
    ) -> Option<(Name, Vec<Record>)> {
        // The name and each ancestor in turn, read without making the
        // ancestors: each is a tail of the name's lower-cased labels, hashed
        // as its key would be and matched against the keys in place.
        let mut buf = [0u8; 256];
        let len = lower_labels(name, &mut buf);
        let labels = buf.get(..len).unwrap_or_default();
        let kind = std::mem::discriminant(&Key::NxDomain(Name::root(), class));
        let (mut at, mut up) = (0, 0);
        // Ancestors are fully qualified (as `names::parent` makes them).
        let mut fqdn = name.is_fqdn();
        loop {
            let tail = labels.get(at..).unwrap_or_default();
            let mut state = self.map.hasher().build_hasher();
            kind.hash(&mut state);
            hash_name_class(fqdn, tail, class, &mut state);
            let h = state.finish();
            let hit = self.map.lock(h).and_then(|mut s| {
                let e = s.get_by(h, |k| {
                    matches!(k, Key::NxDomain(n, c) if *c == class
                        && n.is_fqdn() == fqdn
                        && labels_are(n, tail))
                })?;
                self.hit(e, now, allow_stale)
            });
            if let Some(Hit {
                value: Cached::NxDomain(soa),
                ..
            }) = hit
            {
                let owner = match up {
                    0 => name.clone(),
                    _ => crate::names::trim(name, name.iter().len().saturating_sub(up)),
                };
                return Some((owner, soa));
            }
            // The root's tail is empty: nothing above it.
            at += 1 + usize::from(*tail.first()?);
            up += 1;
            fqdn = true;
        }
    }

    /// Removes everything (used by tests and a future control command).
    pub fn clear(&self) {
        self.map.clear();
        // After the clearing: a reader that saw the new number sees the
        // cleared cache.
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Bytes in use as charged against `max_bytes`.
    pub fn bytes(&self) -> usize {
        self.map.stats().charged
    }

    /// Entries dropped so far to stay within `max_bytes`.
    pub fn evictions(&self) -> u64 {
        self.map.stats().evictions
    }

    /// Entries held (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.map.stats().entries
    }

    /// Entries, bytes, hits and evictions in one pass over the shards.
    pub fn stats(&self) -> Stats {
        self.map.stats()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whole seconds from `now` to `expires_at`, rounded up so that a record
/// read just after insertion keeps its full TTL.
fn remaining_secs(expires_at: Mono, now: Mono) -> u32 {
    let left = expires_at.saturating_sub(now);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// The memory a key and value take beyond their slot: the heap
/// parts of the key's name, and each record as stored (its full size in
/// the RRset's vector, plus what its names and data put on the heap).
fn value_bytes(key: &Key, value: &Cached) -> usize {
    let key_bytes = match key {
        Key::RRset(n, _, _)
        | Key::NxDomain(n, _)
        | Key::Sections(n, _, _)
        | Key::Delegation(n, _)
        | Key::Failure(n, _, _)
        | Key::Sigs(n, _, _)
        | Key::Status(n, _, _)
        | Key::Proof(n, _, _)
        | Key::ZoneKeys(n) => name_heap(n),
    };
    let records: Box<dyn Iterator<Item = &Record>> = match value {
        Cached::RRset(rs) | Cached::NoData(rs) | Cached::NxDomain(rs) => Box::new(rs.iter()),
        Cached::Sections(a, b) => Box::new(a.iter().chain(b.iter())),
        Cached::Failure | Cached::Status(_) => Box::new(std::iter::empty()),
        Cached::ZoneKeys(k) => return key_bytes + k.approx_bytes(),
    };
    key_bytes + records.map(record_bytes).sum::<usize>()
}

/// Heap bytes of a name: none while its labels fit the inline buffers
/// (32 bytes of label data, 24 labels), else both buffers' contents.
fn name_heap(n: &Name) -> usize {
    let labels = usize::from(n.num_labels());
    let data = n.len().saturating_sub(labels);
    let mut heap = 0;
    if data > 32 {
        heap += data;
    }
    if labels > 24 {
        heap += labels;
    }
    heap
}

fn record_bytes(r: &Record) -> usize {
    let rdata = match &r.data {
        RData::A(_) | RData::AAAA(_) => 0,
        RData::NS(n) => name_heap(&n.0),
        RData::CNAME(n) => name_heap(&n.0),
        RData::PTR(n) => name_heap(&n.0),
        RData::SOA(s) => name_heap(&s.mname) + name_heap(&s.rname),
        RData::MX(m) => name_heap(&m.exchange),
        // A boxed slice of boxed strings.
        RData::TXT(t) => t.txt_data.iter().map(|d| d.len() + 16).sum(),
        // Signatures and keys: RSA ones run to a few hundred bytes.
        RData::DNSSEC(_) => 300,
        _ => 64,
    };
    std::mem::size_of::<Record>() + name_heap(&r.name) + rdata
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stale_tests;
