//! Automated updates of DNSSEC trust anchors (RFC 5011), as Unbound's
//! `auto-trust-anchor-file`: a trust point per zone, the state of each of
//! its key-signing keys (RFC 5011 §4: Start, AddPend, Valid, Missing,
//! Revoked, Removed), the add hold-down (§2.4.1), revocation by a
//! self-signed REVOKE bit (§2.1), the remove hold-down (§4.2) and the
//! active refresh interval (§2.3).
//!
//! Pure: `now` (Unix seconds) is a parameter. The one I/O is in `file`:
//! reading a state file at startup and writing one, each given a path.
//! The engine (`engine/autotrust.rs`) feeds `TrustPoint::process` every
//! DNSKEY set it fetches for the zone and hands the written text to a
//! `StateSink`.

pub mod file;

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::PublicKey;
use hickory_proto::rr::{Name, Record, RecordType};

use super::anchors::{Anchor, TrustAnchors};
use super::ds::ds_matches;
use super::verify::{self, dnskey_of, rrsig_of, KeyCheck, VerifyOptions};
use super::Budget;

/// RFC 5011 §2.4.1: a new key is trusted after 30 days (Unbound's
/// `add-holddown`).
pub const ADD_HOLDDOWN: u64 = 30 * 24 * 3600;
/// RFC 5011 §4.2: a revoked key is forgotten after 30 days (Unbound's
/// `del-holddown`).
pub const REMOVE_HOLDDOWN: u64 = 30 * 24 * 3600;
/// A Missing key is dropped after a year when other keys are Valid
/// (Unbound's `keep-missing`).
pub const KEEP_MISSING: u64 = 366 * 24 * 3600;
/// Probes a pending key must have been seen in before it turns Valid
/// (Unbound's MIN_PENDINGCOUNT): one hold-down with one probe proves
/// little.
const MIN_PENDING_COUNT: u8 = 2;
/// RFC 5011 §2.3 bounds on the refresh interval.
const MIN_INTERVAL: u64 = 3600;
const MAX_INTERVAL: u64 = 15 * 24 * 3600;
const MAX_RETRY: u64 = 24 * 3600;

/// RFC 5011 §4 key states; the numbers are those of Unbound's state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Start = 0,
    AddPend = 1,
    Valid = 2,
    Missing = 3,
    Revoked = 4,
    Removed = 5,
}

impl KeyState {
    pub fn from_number(n: u32) -> Option<Self> {
        [
            Self::Start,
            Self::AddPend,
            Self::Valid,
            Self::Missing,
            Self::Revoked,
            Self::Removed,
        ]
        .into_iter()
        .find(|s| *s as u32 == n)
    }

    /// The label in the state file, padded as Unbound writes it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Start => "  START  ",
            Self::AddPend => " ADDPEND ",
            Self::Valid => "  VALID  ",
            Self::Missing => " MISSING ",
            Self::Revoked => " REVOKED ",
            Self::Removed => " REMOVED ",
        }
    }
}

/// What a tracked anchor is: a key, or a DS a key is first matched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaData {
    Key(DNSKEY),
    Ds(DS),
}

/// One key of a trust point and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedKey {
    pub data: TaData,
    pub ttl: u32,
    pub state: KeyState,
    /// Probes the key was seen in while pending.
    pub pending_count: u8,
    /// When the state last changed (0: configured, never seen).
    pub last_change: u64,
    /// Seen in the current probe.
    fetched: bool,
    /// Seen revoked and self-signed in the current probe.
    revoked: bool,
}

impl TrackedKey {
    pub fn new(
        data: TaData,
        ttl: u32,
        state: KeyState,
        pending_count: u8,
        last_change: u64,
    ) -> Self {
        Self {
            data,
            ttl,
            state,
            pending_count,
            last_change,
            fetched: false,
            revoked: false,
        }
    }

    fn key(&self) -> Option<&DNSKEY> {
        match &self.data {
            TaData::Key(k) => Some(k),
            TaData::Ds(_) => None,
        }
    }

    /// A key-signing key (the SEP bit): only those go through RFC 5011.
    fn is_sep(&self) -> bool {
        self.key().is_some_and(DNSKEY::secure_entry_point)
    }

    fn set_state(&mut self, state: KeyState, now: u64) {
        self.state = state;
        self.last_change = now;
    }
}

/// A zone whose anchors are kept up to date, with Unbound's probe
/// bookkeeping (all of it is written to the state file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPoint {
    pub zone: Name,
    /// Newest first, the order of the state file.
    pub keys: Vec<TrackedKey>,
    pub last_queried: u64,
    pub last_success: u64,
    pub next_probe_time: u64,
    pub query_failed: u8,
    pub query_interval: u64,
    pub retry_time: u64,
    /// Every key was revoked: the zone has no anchor any more.
    pub revoked: bool,
}

/// What one DNSKEY set did to a trust point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The set verified with the anchor; the state was updated.
    Updated,
    /// The set did not verify; `failed` counts it (after a first success).
    Failed,
    /// Every trusted key is revoked: the trust point is gone.
    Revoked,
    /// The trust point was revoked before; nothing done.
    Ignored,
}

impl TrustPoint {
    pub fn new(zone: Name) -> Self {
        Self {
            zone,
            keys: Vec::new(),
            last_queried: 0,
            last_success: 0,
            next_probe_time: 0,
            query_failed: 0,
            query_interval: 0,
            retry_time: 0,
            revoked: false,
        }
    }

    /// The anchor validation uses: Valid and Missing keys (RFC 5011 §4:
    /// a missing key stays trusted) and configured DS records.
    pub fn anchor(&self) -> Anchor {
        let mut anchor = Anchor::default();
        if self.revoked {
            return anchor;
        }
        for k in &self.keys {
            match &k.data {
                TaData::Ds(ds) => anchor.ds.push(ds.clone()),
                TaData::Key(key) if matches!(k.state, KeyState::Valid | KeyState::Missing) => {
                    anchor.keys.push(key.clone())
                }
                TaData::Key(_) => {}
            }
        }
        anchor
    }

    /// Checks a DNSKEY set against the current anchor.
    pub fn verify(
        &self,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: u64,
        opts: &VerifyOptions,
        budget: &mut Budget,
    ) -> KeyCheck {
        let mut anchors = TrustAnchors::default();
        anchors.set_anchor(&self.zone, self.anchor());
        anchors.verify_keys(&self.zone, dnskeys, rrsigs, sig_time(now), opts, budget)
    }

    /// One probe's DNSKEY set (RFC 5011 §2.2-§4, in Unbound's order):
    /// revocations first, then the set must verify with the anchor, then
    /// new keys are noted and every key-signing key takes its transition.
    pub fn process(
        &mut self,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: u64,
        opts: &VerifyOptions,
        budget: &mut Budget,
    ) -> Outcome {
        if self.revoked {
            return Outcome::Ignored;
        }
        self.last_queried = now;
        self.holddown_exceeded(now);
        if self.check_revoked(dnskeys, rrsigs, now, opts, budget) && self.all_revoked() {
            self.last_success = now;
            self.remove_point();
            return Outcome::Revoked;
        }
        if !matches!(
            self.verify(dnskeys, rrsigs, now, opts, budget),
            KeyCheck::Secure { .. }
        ) {
            if self.last_success != 0 {
                self.query_failed = self.query_failed.saturating_add(1);
            }
            return Outcome::Failed;
        }
        self.last_success = now;
        self.query_failed = 0;
        self.update_events(dnskeys, rrsigs, now, opts);
        for k in self.keys.iter_mut().filter(|k| k.is_sep()) {
            transition(k, now);
        }
        self.remove_missing(now);
        self.cleanup();
        self.next_probe_time = now + self.query_interval;
        if self.all_revoked() {
            self.remove_point();
            return Outcome::Revoked;
        }
        Outcome::Updated
    }

    /// When the next probe is due: `next_probe_time`, or none for a
    /// revoked trust point.
    pub fn next_probe(&self) -> Option<u64> {
        (!self.revoked).then_some(self.next_probe_time)
    }

    /// A probe is being sent: if it fails, try again after `retry_time`
    /// (a success sets the next probe from `query_interval`).
    pub fn probe_started(&mut self, now: u64) {
        self.next_probe_time = now + self.retry_time.max(MIN_INTERVAL);
    }

    fn all_revoked(&self) -> bool {
        let a = self.anchor();
        a.ds.is_empty() && a.keys.is_empty()
    }

    fn remove_point(&mut self) {
        self.revoked = true;
        self.next_probe_time = 0;
    }

    /// Time alone makes pending keys valid (Unbound does this first).
    fn holddown_exceeded(&mut self, now: u64) {
        for k in self.keys.iter_mut().filter(|k| k.is_sep()) {
            if k.state == KeyState::AddPend {
                add_time(k, now);
            }
        }
    }

    /// RFC 5011 §2.1: a known key, now with the REVOKE bit and signing
    /// the set itself, is revoked at once, trusted or not. True if any
    /// key changed.
    fn check_revoked(
        &mut self,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: u64,
        opts: &VerifyOptions,
        budget: &mut Budget,
    ) -> bool {
        let set = zone_set(&self.zone, dnskeys);
        let mut changed = false;
        for key in set.iter().filter_map(|r| dnskey_of(r)) {
            if !(key.secure_entry_point() && key.revoke()) {
                continue;
            }
            let Some(i) = self.find(key) else { continue };
            if !verify::self_signed_by(&set, rrsigs, key, &self.zone, sig_time(now), opts, budget) {
                continue;
            }
            let Some(k) = self.keys.get_mut(i) else {
                continue;
            };
            k.revoked = true;
            if matches!(k.state, KeyState::Valid | KeyState::Missing) {
                k.set_state(KeyState::Revoked, now);
                k.data = TaData::Key(key.clone());
                changed = true;
            }
        }
        changed
    }

    /// The tracked key equal to `key` but for the REVOKE bit.
    fn find(&self, key: &DNSKEY) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.key().is_some_and(|t| same_key(t, key)))
    }

    /// Notes which key-signing keys the set holds, adds new ones (at
    /// the front, in Start, or Valid when a configured DS names them) and
    /// sets the refresh interval.
    fn update_events(
        &mut self,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: u64,
        opts: &VerifyOptions,
    ) {
        for k in &mut self.keys {
            k.fetched = false;
        }
        let set = zone_set(&self.zone, dnskeys);
        let ds: Vec<DS> = self.anchor().ds;
        for record in &set {
            let Some(key) = dnskey_of(record) else {
                continue;
            };
            if !key.secure_entry_point() || key.revoke() {
                continue;
            }
            if !verify::algorithm_supported(u8::from(key.public_key().algorithm()), opts) {
                continue;
            }
            let i = match self.find(key) {
                Some(i) => i,
                None => {
                    let by_ds = ds.iter().any(|d| ds_matches(&self.zone, d, key));
                    let state = if by_ds {
                        KeyState::Valid
                    } else {
                        KeyState::Start
                    };
                    let data = TaData::Key(key.clone());
                    self.keys
                        .insert(0, TrackedKey::new(data, record.ttl, state, 0, 0));
                    0
                }
            };
            if let Some(k) = self.keys.get_mut(i) {
                k.fetched = true;
                k.pending_count = k.pending_count.saturating_add(1).min(250);
            }
        }
        let ttl = set.iter().map(|r| u64::from(r.ttl)).min().unwrap_or(0);
        let (interval, retry) = intervals(ttl, min_expiry(rrsigs, now));
        self.query_interval = interval;
        self.retry_time = retry;
    }

    /// Drops Missing keys after `KEEP_MISSING` and configured ZSKs once a
    /// KSK is Valid; a configured ZSK vouches for pending KSKs at once.
    fn remove_missing(&mut self, now: u64) {
        let mut valid = self
            .keys
            .iter()
            .filter(|k| k.is_sep() && k.state == KeyState::Valid)
            .count();
        if valid == 0 {
            valid = self.zsk_to_ksk(now);
            if valid == 0 {
                return;
            }
        }
        for k in &mut self.keys {
            if k.state == KeyState::Start {
                continue;
            }
            if !k.is_sep() {
                if k.key().is_some() {
                    k.set_state(KeyState::Removed, now);
                }
                continue;
            }
            if k.state == KeyState::Missing && exceeded(k, now, KEEP_MISSING) > 0 {
                k.set_state(KeyState::Removed, now);
            }
        }
    }

    /// Started from a configured ZSK: trust the pending KSKs it signed.
    fn zsk_to_ksk(&mut self, now: u64) -> usize {
        let zsk = self.keys.iter().any(|k| {
            k.key().is_some() && !k.is_sep() && k.last_change == 0 && k.state == KeyState::Valid
        });
        if !zsk {
            return 0;
        }
        let mut n = 0;
        for k in self
            .keys
            .iter_mut()
            .filter(|k| k.is_sep() && k.state == KeyState::AddPend)
        {
            k.set_state(KeyState::Valid, now);
            n += 1;
        }
        n
    }

    /// Forgets Start and Removed keys and DS records (the file keeps
    /// only DNSKEYs), and pending counts of keys no longer pending.
    fn cleanup(&mut self) {
        self.keys.retain(|k| {
            k.key().is_some() && !matches!(k.state, KeyState::Start | KeyState::Removed)
        });
        for k in &mut self.keys {
            if k.state != KeyState::AddPend {
                k.pending_count = 0;
            }
        }
    }
}

/// The RFC 5011 §4 transition of one key-signing key after a probe.
fn transition(k: &mut TrackedKey, now: u64) {
    match k.state {
        KeyState::Start if k.fetched => k.set_state(KeyState::AddPend, now),
        KeyState::AddPend if !k.fetched => {
            k.set_state(KeyState::Start, now);
            k.pending_count = 0;
        }
        KeyState::AddPend => add_time(k, now),
        KeyState::Valid if !k.fetched => k.set_state(KeyState::Missing, now),
        // A configured key seen for the first time starts its clock.
        KeyState::Valid if k.last_change == 0 => k.last_change = now,
        KeyState::Missing if k.fetched => k.set_state(KeyState::Valid, now),
        KeyState::Revoked if k.fetched => k.last_change = now,
        KeyState::Revoked if exceeded(k, now, REMOVE_HOLDDOWN) > 0 => {
            k.set_state(KeyState::Removed, now)
        }
        _ => {}
    }
}

/// AddPend to Valid once the add hold-down has passed and the key was
/// seen in enough probes.
fn add_time(k: &mut TrackedKey, now: u64) {
    if k.state == KeyState::AddPend
        && exceeded(k, now, ADD_HOLDDOWN) > 0
        && k.pending_count >= MIN_PENDING_COUNT
    {
        k.set_state(KeyState::Valid, now);
        k.pending_count = 0;
    }
}

/// Seconds past a hold-down since the key's last change (0: not yet).
fn exceeded(k: &TrackedKey, now: u64, holddown: u64) -> u64 {
    now.saturating_sub(k.last_change).saturating_sub(holddown)
}

/// Equal keys but for the REVOKE bit (RFC 5011 §2.1: revoking changes
/// the flags, and so the key tag, of the same key).
fn same_key(a: &DNSKEY, b: &DNSKEY) -> bool {
    const REVOKE: u16 = 0x0080;
    (a.flags() | REVOKE) == (b.flags() | REVOKE)
        && a.public_key().algorithm() == b.public_key().algorithm()
        && a.public_key().public_bytes() == b.public_key().public_bytes()
}

/// The zone's DNSKEY records.
fn zone_set(zone: &Name, dnskeys: &[Record]) -> Vec<Record> {
    dnskeys
        .iter()
        .filter(|r| r.name == *zone && r.record_type() == RecordType::DNSKEY)
        .cloned()
        .collect()
}

/// Seconds until the earliest RRSIG expiry still ahead, at most 15 days.
fn min_expiry(rrsigs: &[Record], now: u64) -> u64 {
    rrsigs
        .iter()
        .filter_map(rrsig_of)
        .filter(|s| s.input().type_covered == RecordType::DNSKEY)
        .map(|s| u64::from(s.input().sig_expiration.get()))
        .filter(|&e| e > now)
        .map(|e| e - now)
        .fold(MAX_INTERVAL, u64::min)
}

/// RFC 5011 §2.3: the refresh interval max(1h, min(15d, TTL/2,
/// expiry/2)), and the retry time max(1h, min(1d, TTL/10, expiry/10)).
pub fn intervals(ttl: u64, expiry: u64) -> (u64, u64) {
    let query = MAX_INTERVAL.min(ttl / 2).min(expiry / 2).max(MIN_INTERVAL);
    let retry = MAX_RETRY.min(ttl / 10).min(expiry / 10).max(MIN_INTERVAL);
    (query, retry)
}

/// RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5).
fn sig_time(now: u64) -> u32 {
    (now & 0xffff_ffff) as u32
}

/// Where a written state file goes: `tern serve` writes it to disk, the
/// replay harness to its scratch directory, tests keep it in memory.
pub trait StateSink: Send + Sync {
    fn write(&self, path: &std::path::Path, contents: &str);
}

#[cfg(test)]
#[path = "autotrust_tests.rs"]
mod tests;
