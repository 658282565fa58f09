//! Aggressive use of the DNSSEC-validated cache (RFC 8198): validated NSEC
//! and NSEC3 records kept per zone, so a later query whose name or type
//! they already deny is answered without asking the zone again.
//!
//! - NSEC (RFC 8198 §5.1, §5.2): records ordered by canonical name (RFC
//!   4034 §6.1) so the record covering a name is its predecessor; NXDOMAIN
//!   needs the name and the wildcard at its closest encloser covered,
//!   NODATA an NSEC at the name (or an empty non-terminal, or a matching
//!   wildcard) lacking the type and CNAME.
//! - NSEC3 (RFC 8198 §5.3, RFC 5155 §8): the same by hash order, per set
//!   of hash parameters; a covering record with opt-out never synthesises
//!   anything (RFC 8198 §4), and neither does a chain hashed more often
//!   than the caller allows (RFC 9276).
//! - The answer's TTL is the least of the records' remaining TTLs and the
//!   SOA MINIMUM (RFC 8198 §5.4).
//!
//! Every candidate set is rechecked with the proofs in `nsec` and `nsec3`
//! before it is returned, so the lookups here only have to find
//! candidates, not to be right. Signatures are not checked: the caller
//! inserts only records whose RRSIGs verified. No clock is read; `now` is
//! monotonic time from the caller.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC, NSEC3};
use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::nsec::{self, ancestor, common_labels, is_below, label_count, same_name, wildcard_at};
use super::nsec3::{self, base32hex_decode, Nsec3Result};
use super::{Bogus, Budget};
use crate::clock::Mono;

/// Denial records kept across all zones. One NSEC with an RRSIG is a few
/// hundred bytes, so this is a few megabytes; past it the oldest insert
/// goes first, which is also roughly the nearest to expiry.
pub const MAX_RECORDS: usize = 20_000;

/// A negative answer built from cached denial records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthesized {
    /// NXDOMAIN when true, NODATA (NOERROR, empty answer) when false.
    pub nx: bool,
    /// For the authority section: the SOA with its RRSIGs, then the NSEC
    /// or NSEC3 records of the proof with theirs, each at `ttl`.
    pub records: Vec<Record>,
    /// The least of the used records' remaining TTLs and the SOA MINIMUM.
    pub ttl: u32,
}

/// Validated denial records by zone, bounded in count, safe to share.
///
/// Lookups take a read lock (NSEC3 hashing happens under it, so readers
/// never wait on each other); inserts take the write lock briefly.
pub struct AggressiveCache {
    inner: RwLock<Inner>,
    limit: usize,
}

/// A name as a canonical-order key: labels from the root, lower-cased.
/// Comparing keys as vectors of byte strings is RFC 4034 §6.1 order, and
/// an ancestor's key is a prefix of its descendants'.
type Key = Vec<Box<[u8]>>;

fn key_of(name: &Name) -> Key {
    name.iter()
        .rev()
        .map(|label| label.to_ascii_lowercase().into_boxed_slice())
        .collect()
}

#[derive(Default)]
struct Inner {
    zones: BTreeMap<Key, Zone>,
    /// Every stored record by insertion number, oldest first: the
    /// eviction queue and the overall count.
    order: BTreeMap<u64, (Key, Spot)>,
    next_seq: u64,
}

struct Zone {
    name: Name,
    /// The SOA of the most recent insert: a negative answer must carry it.
    soa: Option<Soa>,
    nsec: BTreeMap<Key, Entry>,
    nsec3: BTreeMap<Nsec3Params, Nsec3Chain>,
}

struct Soa {
    record: Record,
    sigs: Vec<Record>,
    expires: Mono,
}

/// One validated denial record with the RRSIGs a DO=1 client gets.
struct Entry {
    record: Record,
    sigs: Vec<Record>,
    expires: Mono,
    seq: u64,
}

/// What makes two NSEC3 records hash alike. A zone mid-way through a
/// parameter change has two chains; each is searched on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Nsec3Params {
    algorithm: u8,
    iterations: u16,
    salt: Vec<u8>,
}

/// By the owner's decoded hash; byte order is hash order.
type Nsec3Chain = BTreeMap<Vec<u8>, Entry>;

/// Where a record sits in its zone's maps.
enum Spot {
    Nsec(Key),
    Nsec3(Nsec3Params, Vec<u8>),
}

impl Default for AggressiveCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for AggressiveCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggressiveCache")
            .field("records", &self.len())
            .field("limit", &self.limit)
            .finish()
    }
}

impl AggressiveCache {
    /// An empty cache holding at most `MAX_RECORDS` records.
    pub fn new() -> Self {
        Self::with_limit(MAX_RECORDS)
    }

    /// An empty cache holding at most `limit` records.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            limit,
        }
    }

    /// Denial records stored (expired ones included until evicted or
    /// replaced).
    pub fn len(&self) -> usize {
        self.read().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every record (`tern ctl flush-negative`, `flush-zone`);
    /// returns how many there were.
    pub fn clear(&self) -> usize {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let n = inner.order.len();
        *inner = Inner::default();
        n
    }

    /// Stores a validated NSEC of `zone` for `ttl` seconds from `now`,
    /// with the zone's SOA from the same answer. `sigs` are the RRSIGs
    /// that came with them: those over this NSEC stay with it, those over
    /// the SOA with the SOA. False when the records are not what they
    /// claim (not an NSEC, owner outside the zone, SOA not the zone's) or
    /// `ttl` is 0.
    pub fn insert_nsec(
        &self,
        zone: &Name,
        soa: Record,
        nsec: Record,
        sigs: Vec<Record>,
        ttl: u32,
        now: Mono,
    ) -> bool {
        if nsec_of(&nsec).is_none() || !zone.zone_of(&nsec.name) {
            return false;
        }
        let spot = Spot::Nsec(key_of(&nsec.name));
        self.store(zone, soa, nsec, sigs, ttl, now, spot)
    }

    /// Stores a validated NSEC of `zone` that came without the zone's SOA
    /// (the parent side of an insecure delegation, from a referral): it
    /// proves answers once an SOA of the zone is known from a denial.
    pub fn insert_nsec_without_soa(
        &self,
        zone: &Name,
        nsec: Record,
        sigs: Vec<Record>,
        ttl: u32,
        now: Mono,
    ) -> bool {
        if nsec_of(&nsec).is_none() || !zone.zone_of(&nsec.name) || ttl == 0 {
            return false;
        }
        let spot = Spot::Nsec(key_of(&nsec.name));
        let record_sigs = sigs
            .into_iter()
            .filter(|s| same_name(&s.name, &nsec.name))
            .collect();
        self.put_entry(zone, None, nsec, record_sigs, ttl, now, spot);
        true
    }

    /// Stores a validated NSEC3 of `zone`, as `insert_nsec` does. Its
    /// owner must be a hash label directly below the zone apex.
    pub fn insert_nsec3(
        &self,
        zone: &Name,
        soa: Record,
        nsec3: Record,
        sigs: Vec<Record>,
        ttl: u32,
        now: Mono,
    ) -> bool {
        let Some(rdata) = nsec3_of(&nsec3) else {
            return false;
        };
        let direct_child =
            label_count(&nsec3.name) == label_count(zone) + 1 && zone.zone_of(&nsec3.name);
        let well_formed = |h: &Vec<u8>| {
            direct_child && !h.is_empty() && h.len() == rdata.next_hashed_owner_name().len()
        };
        let hash = nsec3.name.iter().next().and_then(base32hex_decode);
        let Some(hash) = hash.filter(well_formed) else {
            return false;
        };
        let spot = Spot::Nsec3(Nsec3Params::of(rdata), hash);
        self.store(zone, soa, nsec3, sigs, ttl, now, spot)
    }

    /// A negative answer for `qname`/`qtype` from the records stored for
    /// the deepest zone holding `qname` (for DS, the deepest strictly above
    /// it: DS lives in the parent), or None when they do not prove one.
    /// NSEC3 hashing is paid from `budget`, both for the lookups here and
    /// for the proof that rechecks them.
    pub fn synthesize(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Mono,
        max_nsec3_iterations: u16,
        budget: &mut Budget,
    ) -> Option<Synthesized> {
        let inner = self.read();
        let zone = inner.zone_for(qname, qtype)?;
        let soa = zone.soa.as_ref().filter(|s| s.expires > now)?;
        let (nx, used) = match zone.by_nsec(qname, qtype, now) {
            Some(found) => found,
            None => zone.by_nsec3(qname, qtype, now, max_nsec3_iterations, budget)?,
        };
        // A type map never lists ANY or the transfer types, so it cannot
        // show a name has none of their data; only NXDOMAIN holds for them.
        let meta = matches!(
            qtype,
            RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT
        );
        if meta && !nx {
            return None;
        }
        Some(answer(soa, nx, &used, now))
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        zone: &Name,
        soa: Record,
        record: Record,
        sigs: Vec<Record>,
        ttl: u32,
        now: Mono,
        spot: Spot,
    ) -> bool {
        let is_zone_soa = matches!(soa.data, RData::SOA(_)) && same_name(&soa.name, zone);
        if ttl == 0 || !is_zone_soa {
            return false;
        }
        let (record_sigs, soa_sigs) = split_sigs(sigs, &record, &soa);
        let soa = Soa {
            expires: now + Duration::from_secs(u64::from(soa.ttl)),
            record: soa,
            sigs: soa_sigs,
        };
        self.put_entry(zone, Some(soa), record, record_sigs, ttl, now, spot);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn put_entry(
        &self,
        zone: &Name,
        soa: Option<Soa>,
        record: Record,
        record_sigs: Vec<Record>,
        ttl: u32,
        now: Mono,
        spot: Spot,
    ) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let entry = Entry {
            record,
            sigs: record_sigs,
            expires: now + Duration::from_secs(u64::from(ttl)),
            seq: inner.next_seq,
        };
        inner.next_seq += 1;
        inner.put(zone, soa, spot, entry, self.limit);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // Nothing here panics while holding the lock; if something did,
        // the maps are still consistent enough to read.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn put(&mut self, zone: &Name, soa: Option<Soa>, spot: Spot, entry: Entry, limit: usize) {
        let zone_key = key_of(zone);
        let stored = self
            .zones
            .entry(zone_key.clone())
            .or_insert_with(|| Zone::new(zone.clone()));
        if soa.is_some() {
            stored.soa = soa;
        }
        let seq = entry.seq;
        let replaced = match &spot {
            Spot::Nsec(owner) => stored.nsec.insert(owner.clone(), entry),
            Spot::Nsec3(params, hash) => {
                let chain = stored.nsec3.entry(params.clone()).or_default();
                chain.insert(hash.clone(), entry)
            }
        };
        if let Some(old) = replaced {
            self.order.remove(&old.seq);
        }
        self.order.insert(seq, (zone_key, spot));
        while self.order.len() > limit {
            let Some((_, (zone_key, spot))) = self.order.pop_first() else {
                break;
            };
            self.evict(&zone_key, &spot);
        }
    }

    /// Drops one record, and its zone when nothing else is left in it.
    fn evict(&mut self, zone_key: &Key, spot: &Spot) {
        let Some(zone) = self.zones.get_mut(zone_key) else {
            return;
        };
        match spot {
            Spot::Nsec(owner) => {
                zone.nsec.remove(owner);
            }
            Spot::Nsec3(params, hash) => {
                let emptied = zone.nsec3.get_mut(params).is_some_and(|chain| {
                    chain.remove(hash);
                    chain.is_empty()
                });
                if emptied {
                    zone.nsec3.remove(params);
                }
            }
        }
        if zone.nsec.is_empty() && zone.nsec3.is_empty() {
            self.zones.remove(zone_key);
        }
    }

    /// The deepest stored zone that is `qname` or an ancestor of it; for
    /// DS, a proper ancestor.
    fn zone_for(&self, qname: &Name, qtype: RecordType) -> Option<&Zone> {
        let key = key_of(qname);
        let deepest = if qtype == RecordType::DS {
            key.len().checked_sub(1)?
        } else {
            key.len()
        };
        (0..=deepest)
            .rev()
            .find_map(|labels| self.zones.get(key.get(..labels)?))
    }
}

impl Zone {
    fn new(name: Name) -> Self {
        Self {
            name,
            soa: None,
            nsec: BTreeMap::new(),
            nsec3: BTreeMap::new(),
        }
    }

    /// NODATA from an NSEC at `qname` or an empty non-terminal; else the
    /// NSEC covering `qname` and the one at or covering the wildcard at
    /// the closest encloser it implies (NXDOMAIN, or wildcard NODATA).
    fn by_nsec(&self, qname: &Name, qtype: RecordType, now: Mono) -> Option<(bool, Vec<&Entry>)> {
        // The record at or else before a name in canonical order.
        let at_or_before = |key: &Key| {
            let found = self.nsec.range::<Key, _>(..=key).next_back();
            found.filter(|(_, e)| e.expires > now)
        };
        let qkey = key_of(qname);
        let (owner, found) = at_or_before(&qkey)?;
        let next = nsec_of(&found.record)?.next_domain_name();
        if *owner == qkey || is_below(next, qname) {
            let used = vec![found];
            nsec::prove_nodata(qname, qtype, &self.name, &pairs(&used, nsec_of)).ok()?;
            return Some((false, used));
        }
        let closest = common_labels(qname, &found.record.name).max(common_labels(qname, next));
        let wildcard = key_of(&wildcard_at(&ancestor(qname, closest).ok()?).ok()?);
        let (wild_owner, wild) = at_or_before(&wildcard)?;
        let used = distinct([found, wild]);
        let proof_set = pairs(&used, nsec_of);
        let nx = *wild_owner != wildcard;
        let proven = if nx {
            nsec::prove_nxdomain(qname, &self.name, &proof_set).is_ok()
        } else {
            nsec::prove_nodata(qname, qtype, &self.name, &proof_set).is_ok()
        };
        proven.then_some((nx, used))
    }

    /// The same from each NSEC3 chain the caller is willing to hash.
    fn by_nsec3(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Mono,
        max_iterations: u16,
        budget: &mut Budget,
    ) -> Option<(bool, Vec<&Entry>)> {
        let searches = self.nsec3.iter().filter_map(|(params, chain)| {
            Some(Nsec3Search {
                chain,
                params,
                algorithm: Nsec3HashAlgorithm::try_from(params.algorithm).ok()?,
                zone: &self.name,
                qname,
                qtype,
                now,
                max_iterations,
            })
        });
        searches
            .filter(|search| search.params.iterations <= max_iterations)
            .find_map(|search| search.run(budget))
    }
}

/// One query against one NSEC3 chain of a zone.
struct Nsec3Search<'a, 'q> {
    chain: &'a Nsec3Chain,
    params: &'a Nsec3Params,
    algorithm: Nsec3HashAlgorithm,
    zone: &'a Name,
    qname: &'q Name,
    qtype: RecordType,
    now: Mono,
    max_iterations: u16,
}

impl<'a> Nsec3Search<'a, '_> {
    /// NODATA from a record matching `qname`; else a closest encloser (the
    /// deepest ancestor with a stored match), a cover of the next closer
    /// name, and a match (wildcard NODATA) or cover (NXDOMAIN) of the
    /// wildcard. Covers with opt-out are refused: an unsigned delegation
    /// may hide in their span (RFC 8198 §4, RFC 5155 §6). A match at
    /// `qname` itself is not weakened by opt-out, which only concerns the
    /// names a record's span skips.
    fn run(&self, budget: &mut Budget) -> Option<(bool, Vec<&'a Entry>)> {
        let (zone, qname, max) = (self.zone, self.qname, self.max_iterations);
        let mut below = self.hash(qname, budget)?;
        if let Some(at) = self.matching(&below) {
            let used = vec![at];
            let proof_set = pairs(&used, nsec3_of);
            let proof = nsec3::prove_nodata(qname, self.qtype, zone, &proof_set, max, budget);
            return secure(proof).then_some((false, used));
        }
        for labels in (label_count(zone)..label_count(qname)).rev() {
            let candidate = ancestor(qname, labels).ok()?;
            let hash = self.hash(&candidate, budget)?;
            let Some(encloser) = self.matching(&hash) else {
                below = hash;
                continue;
            };
            let next_closer = self.covering(&below)?;
            let wildcard = self.hash(&wildcard_at(&candidate).ok()?, budget)?;
            let (nx, wild) = match self.matching(&wildcard) {
                Some(at) => (false, at),
                None => (true, self.covering(&wildcard)?),
            };
            if opt_out(next_closer) || (nx && opt_out(wild)) {
                return None;
            }
            let used = distinct([encloser, next_closer, wild]);
            let proof_set = pairs(&used, nsec3_of);
            let proof = if nx {
                nsec3::prove_nxdomain(qname, zone, &proof_set, max, budget)
            } else {
                nsec3::prove_nodata(qname, self.qtype, zone, &proof_set, max, budget)
            };
            return secure(proof).then_some((nx, used));
        }
        None
    }

    /// The hash of `name` under this chain's parameters, one unit of the
    /// budget each.
    fn hash(&self, name: &Name, budget: &mut Budget) -> Option<Vec<u8>> {
        if !budget.take_nsec3_hash() {
            return None;
        }
        let (salt, iterations) = (&self.params.salt, self.params.iterations);
        let digest = self.algorithm.hash(salt, name, iterations).ok()?;
        Some(digest.as_ref().to_vec())
    }

    fn matching(&self, hash: &[u8]) -> Option<&'a Entry> {
        self.chain.get(hash).filter(|e| e.expires > self.now)
    }

    /// The record before `hash` in hash order, or the last one (whose
    /// next hash wraps to the first) when none is before it.
    fn covering(&self, hash: &[u8]) -> Option<&'a Entry> {
        self.chain
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(hash)))
            .next_back()
            .or_else(|| self.chain.iter().next_back())
            .map(|(_, e)| e)
            .filter(|e| e.expires > self.now)
    }
}

impl Nsec3Params {
    fn of(rdata: &NSEC3) -> Self {
        Self {
            algorithm: u8::from(rdata.hash_algorithm()),
            iterations: rdata.iterations(),
            salt: rdata.salt().to_vec(),
        }
    }
}

/// The SOA and the used records, each with its RRSIGs, all at the
/// answer's TTL (RFC 8198 §5.4).
fn answer(soa: &Soa, nx: bool, used: &[&Entry], now: Mono) -> Synthesized {
    let remaining =
        |expires: Mono| u32::try_from(expires.saturating_sub(now).as_secs()).unwrap_or(u32::MAX);
    let minimum = match &soa.record.data {
        RData::SOA(s) => s.minimum,
        _ => 0,
    };
    let ttl = used
        .iter()
        .map(|e| remaining(e.expires))
        .chain([remaining(soa.expires), minimum])
        .min()
        .unwrap_or(0);
    let parts = [(&soa.record, &soa.sigs)]
        .into_iter()
        .chain(used.iter().map(|e| (&e.record, &e.sigs)));
    let records = parts
        .flat_map(|(record, sigs)| std::iter::once(record).chain(sigs))
        .map(|r| {
            let mut r = r.clone();
            r.ttl = ttl;
            r
        })
        .collect();
    Synthesized { nx, records, ttl }
}

/// Splits RRSIGs into those over `record`'s RRset and those over the SOA;
/// anything else is not ours to keep.
fn split_sigs(sigs: Vec<Record>, record: &Record, soa: &Record) -> (Vec<Record>, Vec<Record>) {
    let mut own = Vec::new();
    let mut over_soa = Vec::new();
    for sig in sigs {
        let covered = match &sig.data {
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) => rrsig.input().type_covered,
            _ => continue,
        };
        if covered == record.record_type() && same_name(&sig.name, &record.name) {
            own.push(sig);
        } else if covered == RecordType::SOA && same_name(&sig.name, &soa.name) {
            over_soa.push(sig);
        }
    }
    (own, over_soa)
}

/// The entries in order, each once (one record often proves two things).
fn distinct<const N: usize>(entries: [&Entry; N]) -> Vec<&Entry> {
    let mut out: Vec<&Entry> = Vec::with_capacity(N);
    for entry in entries {
        if !out.iter().any(|seen| std::ptr::eq(*seen, entry)) {
            out.push(entry);
        }
    }
    out
}

fn secure(proof: Result<Nsec3Result, Bogus>) -> bool {
    matches!(proof, Ok(Nsec3Result::Secure))
}

fn opt_out(entry: &Entry) -> bool {
    nsec3_of(&entry.record).is_none_or(NSEC3::opt_out)
}

fn nsec_of(record: &Record) -> Option<&NSEC> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some(nsec),
        _ => None,
    }
}

fn nsec3_of(record: &Record) -> Option<&NSEC3> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => Some(nsec3),
        _ => None,
    }
}

/// The (owner, rdata) pairs the proof functions take.
fn pairs<T: Clone>(entries: &[&Entry], data: fn(&Record) -> Option<&T>) -> Vec<(Name, T)> {
    let pair = |e: &&Entry| Some((e.record.name.clone(), data(&e.record)?.clone()));
    entries.iter().filter_map(pair).collect()
}

#[cfg(test)]
#[path = "aggressive_tests.rs"]
mod tests;
