//! The iterative resolution engine: `Resolver<T: Transport, C: Clock>`.
//!
//! Sans-IO at its edges: the network is reached only through `Transport` and
//! time only through `Clock`, so the same engine runs under `tern serve`, the
//! replay harness, fault tests, fuzzing and benches.

mod attempt;
mod autotrust;
mod cached;
pub mod classify;
mod cut;
mod dns64;
mod drive;
pub mod ecs;
mod exchange;
pub mod failures;
mod forward;
mod glue;
pub mod harden;
pub mod hints;
pub mod inflight;
pub mod iterate;
mod learn;
mod local_copy;
mod message;
mod outcome;
mod problems;
mod referral_path;
mod reply;
mod resolve;
mod send;
mod stale;
pub mod state;
pub mod step;
mod store;
pub mod trace;
mod tries;
pub mod validate;
mod walk;
mod zone_step;
mod zone_walk;

use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::upstream::selection::Selection;
use crate::upstream::Transport;

pub use hints::RootHints;
pub use message::{
    check_reply, read_reply, reply_matches, same_first_question, Bare, Head, Mismatch,
};
pub use outcome::{Failure, Request, Resolution, ZoneCut};
pub use trace::TraceEvent;

use inflight::Inflight;

tokio::task_local! {
    /// Set while resolving for a query a policy let through (passthru).
    static POLICY_OFF: bool;
}

/// Runs `f` (a resolution) with the response policy not consulted.
pub async fn without_policy<F: std::future::Future>(f: F) -> F::Output {
    POLICY_OFF.scope(true, f).await
}

/// How a resolution goes about it (serve-stale and prefetch).
#[derive(Debug, Clone, Copy, Default)]
struct Fetch {
    /// Bypass the cache for the question itself.
    refresh: bool,
    /// Give up on upstream exchanges at this time.
    deadline: Option<crate::clock::Mono>,
    /// Take zone cuts expiring this soon as expired.
    leeway: std::time::Duration,
}

/// The resolver: cache + iteration over a `Transport`, timed by a `Clock`.
pub struct Resolver<T: Transport, C: Clock> {
    pub(crate) config: Arc<Config>,
    pub(crate) transport: T,
    pub(crate) clock: C,
    pub(crate) cache: Arc<Cache>,
    /// Answers for one client subnet (ECS scope above 0).
    pub(crate) subnet_cache: Arc<crate::cache::subnet::SubnetCache>,
    pub(crate) selection: Arc<Selection>,
    pub(crate) hints: RootHints,
    inflight: Arc<Inflight>,
    /// Trust anchors and negative trust anchors for validation.
    pub(crate) anchors: Arc<crate::dnssec::anchors::TrustAnchors>,
    /// RFC 5011 trust points (engine/autotrust.rs), whose zones are also
    /// in `anchors`.
    autotrust: autotrust::AutoTrust,
    /// What validation has cost since start (statistics, tests).
    pub(crate) dnssec_work: Arc<validate::WorkCounters>,
    /// Validated NSEC/NSEC3 ranges for aggressive negative answers
    /// (RFC 8198).
    pub(crate) aggressive: Arc<crate::dnssec::aggressive::AggressiveCache>,
    /// Which server answered what, and servers set aside for bogus data.
    pub(crate) suspects: validate::retry::Suspects,
    /// Zones held as a local copy (auth zones), read once at start.
    pub(crate) auth_zones: Arc<crate::authzone::AuthZones>,
    /// Questions that failed lately (RFC 9520).
    pub(crate) failures: failures::FailureMemory,
    /// Upstream problems logged at info, once a minute each.
    problems: problems::ProblemLog,
    /// A response policy consulted while following CNAMEs (set once, by
    /// the server that applies it).
    policy: std::sync::OnceLock<Arc<dyn AliasPolicy>>,
    /// Where query IDs come from.
    ids: message::QueryIds,
}

/// A response policy (RPZ) the engine consults while it follows a CNAME
/// chain: at a target the policy has a trigger for, resolution stops with
/// the chain so far, and the server applies the policy to it. Deciding
/// what the policy does, and continuing past it, are the server's.
pub trait AliasPolicy: Send + Sync {
    /// Whether to stop before resolving the CNAME target `target`.
    fn stops_at(&self, target: &Name) -> bool;

    /// Whether to stop before asking the servers of a zone cut, for the
    /// client's question (or a CNAME target in its chain).
    fn stops_at_cut(&self, _ns_names: &[Name], _addrs: &[std::net::IpAddr]) -> bool {
        false
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// A resolver with the root hints named in the config (built-in ones
    /// when none is named). A hints file that cannot be read leaves the
    /// resolver without roots (every iterative query fails) and is logged;
    /// callers that want the error use `with_hints` after
    /// `RootHints::from_file`.
    pub fn new(config: Arc<Config>, transport: T, clock: C) -> Self {
        let hints = match &config.resolver.root_hints {
            None => RootHints::built_in(),
            Some(path) => RootHints::from_file(path).unwrap_or_else(|e| {
                tracing::error!(error = %e, "root hints unusable");
                RootHints {
                    servers: Vec::new(),
                }
            }),
        };
        Self::with_hints(config, hints, transport, clock)
    }

    pub fn with_hints(config: Arc<Config>, hints: RootHints, transport: T, clock: C) -> Self {
        let mut anchors = crate::dnssec::anchors::TrustAnchors::from_config(&config.dnssec)
            .unwrap_or_else(|e| {
                // `tern check` and `tern serve` refuse such a config before
                // it gets here; a library caller gets no anchors (nothing
                // validates as secure) and this line.
                tracing::error!(error = %e, "trust anchors unusable");
                crate::dnssec::anchors::TrustAnchors::default()
            });
        let autotrust = autotrust::AutoTrust::load(&config.dnssec, &mut anchors);
        let auth_zones = Arc::new(crate::authzone::AuthZones::load(
            &config.resolver.auth_zones,
        ));
        Self {
            auth_zones,
            anchors: Arc::new(anchors),
            autotrust,
            cache: Arc::new(Cache::new(crate::config::CacheConfig {
                max_bytes: crate::cache::record_budget(config.cache.max_bytes),
                ..config.cache.clone()
            })),
            subnet_cache: Arc::new(crate::cache::subnet::SubnetCache::new(
                config.resolver.client_subnet_cache_entries,
            )),
            selection: Arc::new(Selection::new(config.upstream.clone())),
            problems: problems::ProblemLog::default(),
            failures: failures::FailureMemory::new(
                config.resolver.failure_ttl_initial,
                config.resolver.failure_ttl_max,
            ),
            config,
            transport,
            clock,
            hints,
            inflight: Arc::new(Inflight::default()),
            dnssec_work: Default::default(),
            aggressive: Arc::new(crate::dnssec::aggressive::AggressiveCache::new()),
            suspects: validate::retry::Suspects::default(),
            policy: std::sync::OnceLock::new(),
            ids: message::QueryIds::default(),
        }
    }

    /// A resolver for a new configuration (a reload) that keeps what this
    /// one learned: the cache and the aggressive NSEC cache while `[cache]`
    /// is unchanged, server RTTs and backoff while `[upstream]` is, and
    /// the validation counters. Resolutions running on this one finish
    /// here. The second value says whether the cache was kept.
    pub fn reconfigured(&self, config: Arc<Config>, hints: RootHints) -> (Self, bool)
    where
        T: Clone,
        C: Clone,
    {
        let mut next = Self::with_hints(
            config.clone(),
            hints,
            self.transport.clone(),
            self.clock.clone(),
        );
        let keep_cache = format!("{:?}", self.config.cache) == format!("{:?}", config.cache);
        if keep_cache
            && self.config.resolver.client_subnet_cache_entries
                == config.resolver.client_subnet_cache_entries
        {
            next.subnet_cache = self.subnet_cache.clone();
        }
        if keep_cache {
            next.cache = self.cache.clone();
            next.aggressive = self.aggressive.clone();
        }
        if format!("{:?}", self.config.upstream) == format!("{:?}", config.upstream) {
            next.selection = self.selection.clone();
        }
        next.dnssec_work = self.dnssec_work.clone();
        (next, keep_cache)
    }

    /// Sets the response policy consulted at CNAME targets; a second call
    /// leaves the first policy in place and returns false.
    pub fn set_alias_policy(&self, policy: Arc<dyn AliasPolicy>) -> bool {
        self.policy.set(policy).is_ok()
    }

    /// The response policy, unless this task resolves without it.
    pub(crate) fn policy(&self) -> Option<&Arc<dyn AliasPolicy>> {
        let off = POLICY_OFF.try_with(|off| *off).unwrap_or(false);
        self.policy.get().filter(|_| !off)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The cache, shared (it may outlive this resolver across a reload).
    pub fn shared_cache(&self) -> Arc<Cache> {
        self.cache.clone()
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The auth zones (local copies) the resolver was started with.
    pub fn auth_zones(&self) -> &Arc<crate::authzone::AuthZones> {
        &self.auth_zones
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Resolutions running now (identical questions merged count once).
    pub fn inflight_count(&self) -> usize {
        self.inflight.len()
    }

    /// Validation work done since start: (validations, signature
    /// verifications, NSEC3 hashes).
    pub fn dnssec_work(&self) -> validate::Work {
        self.dnssec_work.read()
    }
}
