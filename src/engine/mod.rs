//! The iterative resolution engine: `Resolver<T: Transport, C: Clock>`.
//!
//! Sans-IO at its edges: the network is reached only through `Transport` and
//! time only through `Clock`, so the same engine runs under `tern serve`, the
//! replay harness, fault tests, fuzzing and benches.

mod autotrust;
mod cached;
pub mod classify;
mod cut;
mod dns64;
pub mod ecs;
mod exchange;
pub mod failures;
mod forward;
mod glue;
pub mod harden;
pub mod hints;
pub mod inflight;
pub mod iterate;
mod local_copy;
mod problems;
mod referral_path;
mod send;
mod stale;
pub mod state;
pub mod step;
mod store;
pub mod trace;
pub mod validate;
mod walk;

use std::collections::HashSet;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cache, Cached, Hit, Key, Rank};
use crate::clock::Clock;
use crate::config::Config;
use crate::upstream::selection::Selection;
use crate::upstream::Transport;

pub use hints::RootHints;
pub use trace::TraceEvent;

use inflight::{Inflight, InflightKey, Role};
use state::{LookupPath, QueryState};
use step::Step;

/// One client question, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    pub name: Name,
    pub qtype: RecordType,
    pub qclass: DNSClass,
    /// RD=0: answer from cache only.
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub dnssec_ok: bool,
    /// Record full upstream replies in the trace (for `tern dig +trace`).
    pub full_trace: bool,
    /// The client's network, sent as EDNS Client Subnet to the servers
    /// configured for it (None: ECS off, or the client opted out).
    pub subnet: Option<ecs::ClientNet>,
}

impl Request {
    /// An ordinary recursive question.
    pub fn new(name: Name, qtype: RecordType) -> Self {
        Self {
            name,
            qtype,
            qclass: DNSClass::IN,
            recursion_desired: true,
            checking_disabled: false,
            dnssec_ok: false,
            full_trace: false,
            subnet: None,
        }
    }
}

/// Why a resolution failed; mapped to SERVFAIL + an extended DNS error
/// (RFC 8914) by `server::handler`, the only place that does that mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("no authoritative server answered")]
    NoReachableAuthority,
    #[error("all authoritative servers were lame or refused")]
    AllLame,
    #[error("upstream query budget of {0} exhausted")]
    QueryBudget(u32),
    #[error("CNAME chain longer than {0}")]
    CnameChain(u32),
    #[error("CNAME loop")]
    CnameLoop,
    #[error("delegation depth or referral limit reached")]
    Depth,
    #[error("no NS address could be found for the zone")]
    NoNsAddress,
    #[error("not in cache and recursion not desired")]
    NotCached,
    #[error("resolution took longer than the query timeout")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("resolving this question failed moments ago")]
    RecentlyFailed,
    /// The zone is an auth zone whose copy cannot be used, without
    /// fallback to its servers.
    #[error("auth zone {0} is not usable and has no fallback")]
    LocalCopyUnusable(Name),
    /// Every server of a zone gave no reply lately and is held down
    /// (RFC 9520): failed without asking.
    #[error("all {servers} servers of {zone} unreachable for {down_secs} s; next probe in {retry_secs} s")]
    ServersDown {
        zone: Name,
        servers: usize,
        down_secs: u64,
        retry_secs: u64,
    },
    /// The same question failed moments ago and is not asked again
    /// before the remembered failure expires (RFC 9520 §3).
    #[error("{failure} (failed {age_secs} s ago; tried again in {retry_secs} s)")]
    Remembered {
        failure: Box<Failure>,
        age_secs: u64,
        retry_secs: u64,
    },
    /// The client's deadline came before the resolution ended; it goes
    /// on in the background and fills the cache.
    #[error("still resolving after {ms} ms{}: the answer will be cached",
        .waiting.as_ref().map(|(a, z)| format!(", waiting for {a} (a server of {z})")).unwrap_or_default())]
    ClientDeadline {
        ms: u64,
        /// The server the resolution was waiting on, and its zone.
        waiting: Option<(std::net::SocketAddr, Name)>,
    },
    /// DNSSEC validation found the answer bogus (RFC 4035 §5.5).
    #[error("DNSSEC: {0}")]
    Dnssec(crate::dnssec::Bogus),
    /// A response policy has a trigger for the servers of this zone cut
    /// (`AliasPolicy::stops_at_cut`): the server decides the answer.
    #[error("response policy applies at the servers of {}", .0.zone)]
    Policy(Box<ZoneCut>),
    /// A response policy has a trigger for a CNAME target
    /// (`AliasPolicy::stops_at`): the resolution's answers hold the chain
    /// up to it, unvalidated, and the server decides the rest.
    #[error("response policy applies at the CNAME target {0}")]
    PolicyAlias(Name),
}

/// A zone cut's name server names and known addresses, as met while
/// resolving a client's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneCut {
    pub zone: Name,
    pub ns_names: Vec<Name>,
    pub addrs: Vec<std::net::IpAddr>,
}

tokio::task_local! {
    /// Set while resolving for a query a policy let through (passthru).
    static POLICY_OFF: bool;
}

/// Runs `f` (a resolution) with the response policy not consulted.
pub async fn without_policy<F: std::future::Future>(f: F) -> F::Output {
    POLICY_OFF.scope(true, f).await
}

/// What a resolution produced: an answer, NODATA or NXDOMAIN are values
/// (rcode + sections); `failure` is set only for real failures (SERVFAIL).
#[derive(Debug, Clone)]
pub struct Resolution {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The answer data was authoritative for us (unused by a resolver: AA=0).
    pub failure: Option<Failure>,
    /// Answered entirely from cache (no upstream query).
    pub from_cache: bool,
    /// Made (partly) from expired data (RFC 8767): EDE 3 "Stale Answer".
    pub stale: bool,
    /// The question should be re-resolved in the background
    /// (`Resolver::resolve_refresh`): a prefetch or a stale answer's refresh.
    pub refresh: bool,
    /// What the engine did and why.
    pub trace: Vec<TraceEvent>,
    /// What validation found (RFC 4035 §4.3); Secure earns AD=1.
    pub security: crate::dnssec::Security,
    /// The EDNS Client Subnet scope of the answer (RFC 7871): 0 when it
    /// holds for every client.
    pub ecs_scope: u8,
}

impl Resolution {
    /// A SERVFAIL carrying its reason.
    pub fn failed(failure: Failure, trace: Vec<TraceEvent>) -> Self {
        Self {
            rcode: ResponseCode::ServFail,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            failure: Some(failure),
            from_cache: false,
            stale: false,
            refresh: false,
            trace,
            security: crate::dnssec::Security::Unchecked,
            ecs_scope: 0,
        }
    }
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

    /// The answer kept for the client's subnet (RFC 7871 §7.3.1), if any.
    fn subnet_hit(&self, request: &Request) -> Option<Resolution> {
        let net = request.subnet?;
        if self.subnet_cache.is_empty() {
            return None;
        }
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        let hit = self
            .subnet_cache
            .get(name, t, c, net.addr, net.prefix, self.clock.now())?;
        Some(Resolution {
            rcode: hit.rcode,
            answers: hit.answers,
            authorities: hit.authorities,
            from_cache: true,
            failure: None,
            ecs_scope: hit.scope,
            ..Resolution::failed(Failure::Internal("unused"), Vec::new())
        })
    }

    /// Keeps an answer given for one client subnet in the subnet cache.
    fn keep_scoped(&self, request: &Request, res: &Resolution) {
        let Some(net) = request.subnet else { return };
        if res.ecs_scope == 0 || res.failure.is_some() || res.from_cache {
            return;
        }
        let answer = crate::cache::subnet::ScopedAnswer {
            rcode: res.rcode,
            answers: res.answers.clone(),
            authorities: res.authorities.clone(),
            scope: res.ecs_scope,
        };
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        self.subnet_cache
            .insert(name, t, c, net.addr, answer, self.clock.now());
    }

    /// Answers held for single client subnets now.
    pub fn subnet_entries(&self) -> usize {
        self.subnet_cache.len()
    }

    /// Resolves one client question. Identical questions in flight at the
    /// same time share one resolution.
    /// The answer is validated (`validate.rs`) unless the request has CD=1.
    pub async fn resolve(&self, request: &Request) -> Resolution {
        if !request.full_trace {
            if let Some(hit) = self.resolve_cached(request).await {
                return hit;
            }
        }
        self.resolve_after_miss(request).await
    }

    /// `resolve` without the validation layer: what iteration and the
    /// cache give.
    pub(crate) async fn resolve_inner(&self, request: &Request) -> Resolution {
        if request.full_trace {
            return self.resolve_now(request).await;
        }
        if let Some(hit) = self.resolve_cached_inner(request).await {
            return hit;
        }
        self.resolve_after_miss_inner(request).await
    }

    /// `resolve` for a caller that has just seen `resolve_cached` miss (the
    /// front end does, to fill its packet cache): skips that second peek.
    pub async fn resolve_after_miss(&self, request: &Request) -> Resolution {
        if let Some(Some(res)) = self.dns64_ptr(request, false).await {
            return res;
        }
        let res = match self.synthesized(request) {
            Some(res) => res,
            None => {
                let res = self.resolve_after_miss_inner(request).await;
                self.validated(request, res).await
            }
        };
        self.keep_scoped(request, &res);
        match self.dns64(request, res.clone(), false).await {
            Some(r) => r,
            None => res,
        }
    }

    async fn resolve_after_miss_inner(&self, request: &Request) -> Resolution {
        if request.full_trace {
            return self.resolve_now(request).await;
        }
        if self.config.cache.serve_expired {
            return self.resolve_or_stale(request).await;
        }
        if request.recursion_desired {
            let now = self.clock.now();
            let (name, t, c) = (&request.name, request.qtype, request.qclass);
            if let Some(f) = self.failures.check(name, t, c, now) {
                tracing::debug!(qname = %name, qtype = %t, failure = %f, "remembered failure");
                return Resolution::failed(f, Vec::new());
            }
        }
        self.resolve_merged(request, Fetch::default()).await
    }

    /// Remembers a failed question, or forgets its failures once it is
    /// answered (RFC 9520 §3). Called once per resolution, by its leader,
    /// so that merged clients count as one failure.
    fn note_question(&self, request: &Request, res: &Resolution) {
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        match &res.failure {
            None => self.failures.answered(name, t, c),
            Some(f) if failures::worth_remembering(f) && request.recursion_desired => {
                let ttl = self.failures.failed(name, t, c, f, self.clock.now());
                tracing::debug!(qname = %name, qtype = %t, failure = %f, ttl_ms = ttl.as_millis() as u64, "failure remembered");
            }
            Some(_) => {}
        }
    }

    /// The key under which identical resolutions are merged.
    fn inflight_key(request: &Request, bounded: bool) -> InflightKey {
        InflightKey {
            request: Request {
                name: request.name.to_lowercase(),
                ..request.clone()
            },
            bounded,
        }
    }

    /// The server a running resolution of `request` waits on now, and the
    /// zone it serves.
    pub fn waiting_on(&self, request: &Request) -> Option<(std::net::SocketAddr, Name)> {
        [false, true]
            .into_iter()
            .find_map(|b| self.inflight.asking(&Self::inflight_key(request, b)))
    }

    /// Resolves, sharing the work with an identical question in flight.
    async fn resolve_merged(&self, request: &Request, fetch: Fetch) -> Resolution {
        match self
            .inflight
            .join(Self::inflight_key(request, fetch.deadline.is_some()))
        {
            Role::Leader(guard) => {
                let mut st = self.query_state(request);
                st.asking = guard.asking();
                st.refresh = fetch.refresh;
                st.deadline = fetch.deadline;
                st.leeway = fetch.leeway;
                let res = self
                    .resolve_steps_in(request, false, &st)
                    .await
                    .unwrap_or_else(|| {
                        Resolution::failed(
                            Failure::Internal("cache peek in iterative mode"),
                            Vec::new(),
                        )
                    });
                if !fetch.refresh && fetch.deadline.is_none() && !self.config.cache.serve_expired {
                    self.note_question(request, &res);
                }
                let res = Arc::new(res);
                guard.publish(res.clone());
                Arc::unwrap_or_clone(res)
            }
            Role::Follower(rx) => match inflight::follow(rx).await {
                Some(res) => {
                    let mut r = (*res).clone();
                    r.from_cache = true;
                    r
                }
                None => self.resolve_now(request).await,
            },
        }
    }

    /// Resolves without merging: follows CNAMEs across zones (up to the
    /// configured hop limit), each step from cache or by iteration.
    async fn resolve_now(&self, request: &Request) -> Resolution {
        match self.resolve_steps(request, false).await {
            Some(r) => r,
            None => Resolution::failed(
                Failure::Internal("cache peek in iterative mode"),
                Vec::new(),
            ),
        }
    }

    /// The answer from cache alone, or None at the first miss: the hit
    /// path, which takes no lock beyond the cache shard's and sends nothing.
    pub async fn resolve_cached(&self, request: &Request) -> Option<Resolution> {
        if let Some(hit) = self.subnet_hit(request) {
            return Some(hit);
        }
        if let Some(ptr) = self.dns64_ptr(request, true).await {
            return ptr;
        }
        let hit = self.resolve_cached_inner(request).await?;
        let res = self.validated_cached(request, hit)?;
        self.dns64(request, res, true).await
    }

    async fn resolve_cached_inner(&self, request: &Request) -> Option<Resolution> {
        let mut hit = self.resolve_steps(request, true).await?;
        if hit.refresh && self.failed_recently(request) {
            // A prefetch failed moments ago: not again yet.
            hit.refresh = false;
        }
        Some(hit)
    }

    /// Follows the question through CNAMEs, each step from cache, else (not
    /// `peek`) by iteration or, for RD=0, a referral from cache.
    async fn resolve_steps(&self, request: &Request, peek: bool) -> Option<Resolution> {
        let st = self.query_state(request);
        self.resolve_steps_in(request, peek, &st).await
    }

    /// A fresh `QueryState` for one client question.
    fn query_state(&self, request: &Request) -> QueryState {
        let mut st = QueryState::new(
            self.config.resolver.max_upstream_queries,
            self.clock.now(),
            request.full_trace,
        );
        st.subnet = request.subnet;
        st
    }

    /// `resolve_steps` with a state the caller set up (stale reads allowed,
    /// a refresh, a deadline).
    async fn resolve_steps_in(
        &self,
        request: &Request,
        peek: bool,
        st: &QueryState,
    ) -> Option<Resolution> {
        let cfg = &self.config.resolver;
        if matches!(request.qtype, RecordType::AXFR | RecordType::IXFR) {
            // Zone transfers are not a resolver's business. As Unbound does:
            // AXFR is refused, IXFR (which needs an SOA) is malformed here.
            return Some(Resolution {
                rcode: if request.qtype == RecordType::AXFR {
                    ResponseCode::Refused
                } else {
                    ResponseCode::FormErr
                },
                ..Resolution::failed(
                    Failure::Internal("zone transfer asked of a resolver"),
                    Vec::new(),
                )
            });
        }
        if request.qclass != DNSClass::IN {
            return Some(Resolution {
                rcode: ResponseCode::Refused,
                ..Resolution::failed(Failure::Internal("class not served"), Vec::new())
            });
        }
        let mut chain: Vec<Record> = Vec::new();
        let mut cur = request.name.clone();
        let mut seen: HashSet<Name> = HashSet::from([cur.clone()]);
        let mut hops = 0u32;
        loop {
            let step = if peek {
                self.cached_step_in(&cur, request.qtype, request.qclass, Some(st))?
            } else if request.recursion_desired {
                self.lookup(
                    &cur,
                    request.qtype,
                    request.qclass,
                    st,
                    LookupPath::default(),
                )
                .await
            } else {
                self.cached_step_in(&cur, request.qtype, request.qclass, Some(st))
                    .unwrap_or(Step::Fail(Failure::NotCached))
            };
            let (records, next) = match step {
                Step::Answer(rs) => (rs, None),
                Step::Alias(rs, target) => (rs, Some(target)),
                Step::NxDomain(rs, soa) => {
                    chain.extend(rs);
                    return Some(self.finish(
                        ResponseCode::NXDomain,
                        chain,
                        soa,
                        (&cur, request.qtype),
                        st,
                    ));
                }
                Step::NoData(rs, soa) => {
                    chain.extend(rs);
                    return Some(self.finish(
                        ResponseCode::NoError,
                        chain,
                        soa,
                        (&cur, request.qtype),
                        st,
                    ));
                }
                Step::YxDomain(rs) => {
                    chain.extend(rs);
                    return Some(self.finish(
                        ResponseCode::YXDomain,
                        chain,
                        Vec::new(),
                        (&cur, request.qtype),
                        st,
                    ));
                }
                Step::Fail(Failure::NotCached) if !chain.is_empty() => {
                    // RD=0: the part of the chain we have is the answer.
                    return Some(self.finish(
                        ResponseCode::NoError,
                        chain,
                        Vec::new(),
                        (&cur, request.qtype),
                        st,
                    ));
                }
                Step::Fail(Failure::NotCached) => {
                    return Some(self.cache_referral_answer(&cur, st))
                }
                Step::Fail(f @ Failure::Policy(_)) => {
                    // The server applies the policy to the chain so far.
                    let mut res = Resolution::failed(f, st.take_trace());
                    res.answers = chain;
                    return Some(res);
                }
                Step::Fail(f) => {
                    return Some(Resolution {
                        // A held-down server is due for its probe: the
                        // front end sends it from a background refresh.
                        refresh: st.probe_due(),
                        ..Resolution::failed(f, st.take_trace())
                    });
                }
            };
            for r in &records {
                if let RData::CNAME(_) = r.data {
                    hops += 1;
                    seen.insert(r.name.clone());
                }
            }
            chain.extend(records);
            let Some(target) = next else {
                return Some(self.finish(
                    ResponseCode::NoError,
                    chain,
                    Vec::new(),
                    (&cur, request.qtype),
                    st,
                ));
            };
            if hops > cfg.max_cname_hops {
                return Some(Resolution::failed(
                    Failure::CnameChain(cfg.max_cname_hops),
                    st.take_trace(),
                ));
            }
            if !seen.insert(target.clone()) {
                return Some(Resolution::failed(Failure::CnameLoop, st.take_trace()));
            }
            if self.policy().is_some_and(|p| p.stops_at(&target)) {
                let mut res = Resolution::failed(Failure::PolicyAlias(target), st.take_trace());
                res.answers = chain;
                return Some(res);
            }
            cur = target;
        }
    }

    fn finish(
        &self,
        rcode: ResponseCode,
        answers: Vec<Record>,
        mut authorities: Vec<Record>,
        last: (&Name, RecordType),
        st: &QueryState,
    ) -> Resolution {
        let mut additionals = Vec::new();
        if !self.config.resolver.minimal_responses
            && authorities.is_empty()
            && rcode == ResponseCode::NoError
        {
            // Around where the answer ends: its last record, or for a
            // NODATA that came without an SOA, the question asked last
            // (whose reply's own sections are all there is to add).
            let (key, owner) = match answers.last() {
                Some(r) => (
                    Key::Sections(r.name.clone(), r.record_type(), DNSClass::IN),
                    Some(r.name.clone()),
                ),
                None => (Key::Sections(last.0.clone(), last.1, DNSClass::IN), None),
            };
            match self.cache.lookup(&key, self.clock.now(), st.allow_stale) {
                Some(Hit {
                    value: Cached::Sections(a, b),
                    stale,
                    rank,
                    serial,
                    ..
                }) => {
                    (authorities, additionals) = if stale {
                        st.saw(true, false);
                        (self.freshen(a), self.freshen(b))
                    } else {
                        // As the cache holds those RRsets now.
                        let kept = Rank::of(Section::Authority, rank == Rank::AnswerAuth);
                        (
                            self.live_records(a, kept, Some(serial)),
                            self.live_records(b, Rank::Additional, Some(serial)),
                        )
                    }
                }
                _ => {
                    if let Some(owner) = owner {
                        (authorities, additionals) = self.zone_ns_with_addrs(&owner);
                    }
                }
            }
        }
        authorities = self.live_soa(authorities);
        if self.config.resolver.minimal_responses && rcode == ResponseCode::NoError {
            // An NS answer keeps the addresses its reply carried, even in a
            // minimal response (as Unbound does).
            if let Some(owner) = answers
                .last()
                .filter(|r| r.record_type() == RecordType::NS)
                .map(|r| r.name.clone())
            {
                let key = Key::Sections(owner, RecordType::NS, DNSClass::IN);
                if let Some(Cached::Sections(_, b)) = self.cache.get(&key, self.clock.now()) {
                    additionals = b;
                }
            }
        }
        // An RRset goes into a reply once: the answer's copy wins.
        additionals.retain(|r| {
            !answers
                .iter()
                .any(|a| a.name == r.name && a.record_type() == r.record_type())
        });
        Resolution {
            rcode,
            answers,
            authorities,
            additionals,
            failure: None,
            from_cache: st.sent() == 0,
            stale: st.used_stale(),
            refresh: st.prefetch_due() && st.sent() == 0 && self.config.cache.prefetch,
            trace: st.take_trace(),
            security: crate::dnssec::Security::Unchecked,
            ecs_scope: st.scope(),
        }
    }

    /// The NS set of the closest cached zone holding `name`, and the cached
    /// addresses of those NS names (for non-minimal responses).
    fn zone_ns_with_addrs(&self, name: &Name) -> (Vec<Record>, Vec<Record>) {
        let now = self.clock.now();
        let mut cur = name.clone();
        loop {
            if let Some(Cached::RRset(ns)) = self
                .cache
                .get(&Key::RRset(cur.clone(), RecordType::NS, DNSClass::IN), now)
            {
                let mut addrs = Vec::new();
                for r in &ns {
                    if let RData::NS(target) = &r.data {
                        for t in [RecordType::A, RecordType::AAAA] {
                            if let Some(Cached::RRset(rs)) = self
                                .cache
                                .get(&Key::RRset(target.0.clone(), t, DNSClass::IN), now)
                            {
                                addrs.extend(rs);
                            }
                        }
                    }
                }
                return (ns, addrs);
            }
            if cur.is_root() {
                return (Vec::new(), Vec::new());
            }
            cur = cur.base_name();
        }
    }

    /// RD=0 and nothing cached: a referral to the closest cached zone cut
    /// (what Unbound does); REFUSED when nothing at all is cached.
    fn cache_referral_answer(&self, name: &Name, st: &QueryState) -> Resolution {
        let now = self.clock.now();
        let mut cur = name.clone();
        let authorities = loop {
            if let Some(Cached::RRset(rs)) = self
                .cache
                .get(&Key::RRset(cur.clone(), RecordType::NS, DNSClass::IN), now)
            {
                break rs;
            }
            if cur.is_root() {
                // Not even the root's NS set is cached (not primed): no
                // referral to give. REFUSED, as Unbound answers, with the
                // failure explaining it (EDE 20, Not Authoritative).
                return Resolution {
                    rcode: ResponseCode::Refused,
                    ..Resolution::failed(Failure::NotCached, st.take_trace())
                };
            }
            cur = cur.base_name();
        };
        // The referral carries the cached addresses of its NS names, as
        // a referral from an authority carries glue.
        let glue = self.glue_of(&authorities);
        let mut res = self.finish(
            ResponseCode::NoError,
            Vec::new(),
            authorities,
            (name, RecordType::NS),
            st,
        );
        if res.additionals.is_empty() {
            res.additionals = glue;
        }
        res
    }
}
