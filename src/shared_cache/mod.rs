//! A second-level cache shared by several resolvers (`[cache.shared]`,
//! docs/farm.md), after Unbound's `cachedb` module: on a local miss the
//! front end asks the shared store before resolving, and writes what it
//! resolved back with the remaining TTL as the key's expiry.
//!
//! The store is reached through the `Store` trait (the Redis client is in
//! `redis.rs`), so that the engine and the cache never see it and tests
//! can plug in their own. The store is never on the critical path: a
//! lookup has a short deadline, failures open a circuit breaker that skips
//! the store for a while, and writes go through a bounded queue (dropped,
//! and counted, when it is full).
//!
//! A stored value is a small header (format, trust rank, validation
//! status, rcode, when it was stored and when it expires, both as Unix
//! seconds) followed by the reply's sections in wire form. Read back, it is
//! checked against the clock: past its expiry it is a miss, and its TTLs
//! are lowered by the time since it was stored. Bytes that do not decode,
//! or that answer another question, are a miss.

pub mod breaker;
pub mod redis;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Record;

use crate::cache::rank::Rank;
use crate::clock::Clock;
use crate::config::SharedCacheConfig;
use crate::dnssec::Security;
use crate::engine::{Request, Resolution};
use breaker::Breaker;

/// Why the store did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("{0}")]
    Failed(String),
}

/// A boxed future the store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A key-value store with expiring keys (Redis, or a test's map).
pub trait Store: Send + Sync + 'static {
    /// The value under `key`, None when there is none.
    fn get(&self, key: String) -> StoreFuture<'_, Option<Vec<u8>>>;
    /// Stores `value` under `key` for `ttl_secs` seconds.
    fn set(&self, key: String, value: Vec<u8>, ttl_secs: u64) -> StoreFuture<'_, ()>;
}

/// The first bytes of every stored value: the format and its version.
const MAGIC: &[u8; 4] = b"TSC1";
/// Header: magic, rank, security, rcode (2), stored at (8), expires at (8).
const HEADER: usize = 4 + 1 + 1 + 2 + 8 + 8;

/// One answer as it travels through the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub rank: Rank,
    pub security: Security,
    pub rcode: ResponseCode,
    /// Unix seconds when it was written.
    pub stored_at: u64,
    /// Unix seconds when its shortest TTL runs out.
    pub expires_at: u64,
    pub message: Message,
}

fn rank_byte(r: Rank) -> u8 {
    match r {
        Rank::Additional => 0,
        Rank::AuthorityNonAuth => 1,
        Rank::AnswerNonAuth => 2,
        Rank::AuthorityAuth => 3,
        Rank::AnswerAuth => 4,
    }
}

fn rank_of(b: u8) -> Option<Rank> {
    Some(match b {
        0 => Rank::Additional,
        1 => Rank::AuthorityNonAuth,
        2 => Rank::AnswerNonAuth,
        3 => Rank::AuthorityAuth,
        4 => Rank::AnswerAuth,
        _ => return None,
    })
}

/// The statuses that are stored: a bogus answer is a failure and never
/// leaves the resolver; an insecure-for-want-of-an-algorithm one carries a
/// reason the store does not keep.
fn security_byte(s: &Security) -> Option<u8> {
    match s {
        Security::Secure => Some(1),
        Security::Insecure => Some(2),
        Security::Unchecked => Some(3),
        Security::Bogus(_) | Security::Unsupported(_) => None,
    }
}

fn security_of(b: u8) -> Option<Security> {
    match b {
        1 => Some(Security::Secure),
        2 => Some(Security::Insecure),
        3 => Some(Security::Unchecked),
        _ => None,
    }
}

/// The key of a question: prefix, lower-cased name, type, class and DO.
pub fn key(prefix: &str, request: &Request) -> String {
    format!(
        "{prefix}{}/{}/{}/{}",
        request.name.to_lowercase().to_ascii(),
        u16::from(request.qtype),
        u16::from(request.qclass),
        u8::from(request.dnssec_ok)
    )
}

/// The value stored for a resolution, and its TTL in seconds; None when
/// it must not be shared (a failure, stale or scoped data, a status not
/// kept, or nothing left to live).
pub fn encode(request: &Request, res: &Resolution, now_unix: u64) -> Option<(Vec<u8>, u64)> {
    // A scope above 0 holds for one client subnet only (RFC 7871 §7.3.1);
    // scope 0 holds for every client, whatever subnet was sent.
    if res.failure.is_some() || res.stale || res.ecs_scope > 0 {
        return None;
    }
    if !matches!(res.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return None;
    }
    let security = security_byte(&res.security)?;
    let ttl = res
        .answers
        .iter()
        .chain(&res.authorities)
        .chain(&res.additionals)
        .map(|r| r.ttl)
        .min()?;
    if ttl == 0 {
        return None;
    }
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(request.name.clone(), request.qtype));
    m.metadata.response_code = res.rcode;
    m.answers = res.answers.clone();
    m.authorities = res.authorities.clone();
    m.additionals = res.additionals.clone();
    let wire = m.to_vec().ok()?;
    // Data resolved by iteration is the answer of an authoritative server
    // (RFC 2181 §5.4.1); the rank travels so that a reader can tell.
    let rank = if res.answers.is_empty() {
        Rank::AuthorityAuth
    } else {
        Rank::AnswerAuth
    };
    let mut out = Vec::with_capacity(HEADER + wire.len());
    out.extend_from_slice(MAGIC);
    out.push(rank_byte(rank));
    out.push(security);
    out.extend_from_slice(&u16::from(res.rcode).to_be_bytes());
    out.extend_from_slice(&now_unix.to_be_bytes());
    out.extend_from_slice(&now_unix.saturating_add(u64::from(ttl)).to_be_bytes());
    out.extend_from_slice(&wire);
    Some((out, u64::from(ttl)))
}

/// Reads a stored value; None for anything that is not one.
pub fn decode(bytes: &[u8]) -> Option<Stored> {
    let (head, wire) = (bytes.get(..HEADER)?, bytes.get(HEADER..)?);
    if head.get(..4)? != MAGIC {
        return None;
    }
    let rank = rank_of(*head.get(4)?)?;
    let security = security_of(*head.get(5)?)?;
    let rcode = u16::from_be_bytes(head.get(6..8)?.try_into().ok()?);
    let rcode = ResponseCode::from(u8::try_from(rcode >> 4).ok()?, (rcode & 0xf) as u8);
    let stored_at = u64::from_be_bytes(head.get(8..16)?.try_into().ok()?);
    let expires_at = u64::from_be_bytes(head.get(16..24)?.try_into().ok()?);
    if expires_at <= stored_at {
        return None;
    }
    let message = Message::from_vec(wire).ok()?;
    Some(Stored {
        rank,
        security,
        rcode,
        stored_at,
        expires_at,
        message,
    })
}

/// A stored value as the answer to `request` at `now_unix`, with its TTLs
/// lowered by the time since it was stored; None when it has expired,
/// answers another question, or holds data of too low a rank.
/// `validating`: this resolver validates, so data nobody checked is not
/// taken (it is resolved and checked here instead); a resolver that does
/// not validate takes checked data as unchecked.
pub fn answer(
    request: &Request,
    stored: Stored,
    now_unix: u64,
    validating: bool,
) -> Option<Resolution> {
    if now_unix >= stored.expires_at || stored.rank < Rank::AuthorityAuth {
        return None;
    }
    let [q] = stored.message.queries.as_slice() else {
        return None;
    };
    if q.name() != &request.name || q.query_type() != request.qtype {
        return None;
    }
    if stored.rcode != stored.message.metadata.response_code {
        return None;
    }
    let security = match (stored.security, validating) {
        (Security::Unchecked, true) => return None,
        (_, false) => Security::Unchecked,
        (s, true) => s,
    };
    let passed = now_unix.saturating_sub(stored.stored_at);
    let passed = u32::try_from(passed).unwrap_or(u32::MAX);
    let lower = |rs: Vec<Record>| -> Option<Vec<Record>> {
        rs.into_iter()
            .map(|mut r| {
                r.ttl = r.ttl.checked_sub(passed).filter(|t| *t > 0)?;
                Some(r)
            })
            .collect()
    };
    let m = stored.message;
    let mut res = Resolution::failed(crate::engine::Failure::NotCached, Vec::new());
    res.failure = None;
    res.rcode = stored.rcode;
    res.answers = lower(m.answers)?;
    res.authorities = lower(m.authorities)?;
    res.additionals = lower(m.additionals)?;
    res.from_cache = true;
    res.security = security;
    Some(res)
}

/// Counters for `tern ctl stats` and the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Lookups and writes not tried: the breaker was open.
    pub skips: AtomicU64,
    /// Timeouts, connection and protocol errors.
    pub errors: AtomicU64,
    /// Writes dropped because the queue was full.
    pub dropped_writes: AtomicU64,
    pub writes: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The shared cache as the front end uses it.
pub struct SharedCache {
    config: SharedCacheConfig,
    store: Arc<dyn Store>,
    /// Expiry is checked against its wall clock, the breaker runs on its
    /// monotonic one.
    clock: Arc<dyn Clock>,
    breaker: Mutex<Breaker>,
    counters: Arc<Counters>,
    writes: tokio::sync::mpsc::Sender<(String, Vec<u8>, u64)>,
}

impl SharedCache {
    /// A shared cache over `store`, timed by `clock`; its writer runs on
    /// the current tokio runtime.
    pub fn new(
        config: SharedCacheConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(config.write_queue.max(1));
        let shared = Arc::new(Self {
            breaker: Mutex::new(Breaker::new(config.breaker_failures, config.breaker_retry)),
            config,
            store,
            clock,
            counters: Arc::new(Counters::default()),
            writes: tx,
        });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            while let Some((key, value, ttl)) = rx.recv().await {
                let Some(me) = weak.upgrade() else { break };
                me.write_now(key, value, ttl).await;
            }
        });
        shared
    }

    /// A shared cache on Redis, as configured.
    pub fn redis(
        config: SharedCacheConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let store = redis::RedisStore::new(&config)?;
        Ok(Self::new(config, Arc::new(store), clock))
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        match self.breaker.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn outcome(&self, ok: bool) {
        let now = self.clock.now();
        let mut b = self.breaker();
        if ok {
            b.success();
        } else {
            bump(&self.counters.errors);
            b.failure(now);
        }
    }

    /// Whether a question may be shared at all. A client subnet does not
    /// keep it out: only answers of scope 0 are stored.
    pub fn shares(request: &Request) -> bool {
        request.recursion_desired && !request.checking_disabled && !request.full_trace
    }

    /// The answer the shared cache holds for `request`, if it has a usable
    /// one within the lookup deadline.
    pub async fn lookup(&self, request: &Request, validating: bool) -> Option<Resolution> {
        if !Self::shares(request) {
            return None;
        }
        if !self.breaker().allow(self.clock.now()) {
            bump(&self.counters.skips);
            return None;
        }
        let key = key(&self.config.key_prefix, request);
        let limit = self.config.lookup_timeout;
        let got = match tokio::time::timeout(limit, self.store.get(key)).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(limit.as_millis() as u64)),
        };
        let got = match got {
            Ok(v) => {
                self.outcome(true);
                v
            }
            Err(e) => {
                tracing::debug!(error = %e, "shared cache lookup failed");
                self.outcome(false);
                return None;
            }
        };
        let res = got
            .as_deref()
            .and_then(decode)
            .and_then(|s| answer(request, s, self.clock.unix_secs(), validating));
        bump(if res.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        });
        res
    }

    /// Queues `res` for writing (never waits; dropped when the queue is
    /// full or the breaker is open).
    pub fn offer(&self, request: &Request, res: &Resolution) {
        if !Self::shares(request) {
            return;
        }
        let Some((value, ttl)) = encode(request, res, self.clock.unix_secs()) else {
            return;
        };
        if !self.breaker().allow_write() {
            bump(&self.counters.skips);
            return;
        }
        let key = key(&self.config.key_prefix, request);
        if self.writes.try_send((key, value, ttl)).is_err() {
            bump(&self.counters.dropped_writes);
        }
    }

    async fn write_now(&self, key: String, value: Vec<u8>, ttl: u64) {
        if !self.breaker().allow_write() {
            bump(&self.counters.skips);
            return;
        }
        // Writes wait longer than lookups: nobody waits on them.
        let limit = self.config.lookup_timeout.max(self.config.connect_timeout);
        let r = match tokio::time::timeout(limit, self.store.set(key, value, ttl)).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(limit.as_millis() as u64)),
        };
        match r {
            Ok(()) => {
                bump(&self.counters.writes);
                self.outcome(true);
            }
            Err(e) => {
                tracing::debug!(error = %e, "shared cache write failed");
                self.outcome(false);
            }
        }
    }

    /// The counters as `shared_cache.*` entries of `tern ctl stats`.
    pub fn read(&self) -> BTreeMap<String, u64> {
        let c = &self.counters;
        let open = u64::from(!self.breaker().allow_write());
        [
            ("hits", c.hits.load(Ordering::Relaxed)),
            ("misses", c.misses.load(Ordering::Relaxed)),
            ("skips", c.skips.load(Ordering::Relaxed)),
            ("errors", c.errors.load(Ordering::Relaxed)),
            ("dropped_writes", c.dropped_writes.load(Ordering::Relaxed)),
            ("writes", c.writes.load(Ordering::Relaxed)),
            ("breaker_open", open),
        ]
        .into_iter()
        .map(|(k, v)| (format!("shared_cache.{k}"), v))
        .collect()
    }
}

#[cfg(test)]
mod tests;
