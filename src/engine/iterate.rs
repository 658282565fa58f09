//! Iteration: from the closest known zone cut down to an answer for one
//! (name, type), following referrals (RFC 1034 §5.3.3), minimising the
//! query name on the way (RFC 9156, relaxed), resolving NS names that came
//! without glue, and caching what each reply teaches. This file only
//! sequences; the decisions live in `classify`, `selection` and `cache`.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{classify, follow_chain, scrub, ChainEnd, Kind};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::{Failure, Resolver, TraceEvent};
use crate::upstream::{Protocol, Transport, UpstreamFailure, UpstreamQuery};
use tracing::Instrument;

/// Tries of one zone-step before giving up on the zone (timeouts, lame and
/// failing servers all count). Unbound allows a similar handful of
/// retries per target (`outbound-msg-retry`, default 5).
const MAX_TRIES_PER_STEP: usize = 8;

/// Glueless NS names resolved at once for one delegation ("in parallel
/// where there are several", without multiplying fan-out).
const PARALLEL_NS_LOOKUPS: usize = 2;

/// Re-sends of one exchange (TC=1 → TCP, FORMERR → without EDNS).
const MAX_RESENDS: usize = 3;

/// The result of looking up one (name, type).
#[derive(Debug, Clone)]
pub enum Step {
    /// Data for the name, possibly after CNAMEs inside one zone.
    Answer(Vec<Record>),
    /// A CNAME chain (records) whose target lies elsewhere.
    Alias(Vec<Record>, Name),
    /// The name does not exist (chain so far, SOA).
    NxDomain(Vec<Record>, Vec<Record>),
    /// No data of that type (chain so far, SOA).
    NoData(Vec<Record>, Vec<Record>),
    Fail(Failure),
}

/// A zone and the servers we know for it.
#[derive(Debug, Clone)]
pub struct ZoneServers {
    pub zone: Name,
    /// NS names (None for configured stub addresses) with known addresses.
    pub ns: Vec<(Option<Name>, Vec<IpAddr>)>,
}

impl ZoneServers {
    fn addrs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for (_, ips) in &self.ns {
            for ip in ips {
                let sa = SocketAddr::new(*ip, 53);
                if !out.contains(&sa) {
                    out.push(sa);
                }
            }
        }
        out
    }

    fn name_of(&self, addr: &SocketAddr) -> Option<Name> {
        self.ns
            .iter()
            .find(|(_, ips)| ips.contains(&addr.ip()))
            .and_then(|(n, _)| n.clone())
    }
}

type BoxStep<'a> = Pin<Box<dyn Future<Output = Step> + Send + 'a>>;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// What the cache knows about (name, type): only data trusted enough to
    /// answer a client with (RFC 2181 §5.4.1: not glue, not referral NS).
    pub(crate) fn cached_step(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
    ) -> Option<Step> {
        let now = self.clock.now();
        let key = Key::RRset(name.clone(), qtype, class);
        let answer_rank = |k: &Key| {
            self.cache
                .rank_of(k, now)
                .is_some_and(|r| r >= Rank::AnswerNonAuth)
        };
        match self.cache.get(&key, now) {
            Some(Cached::RRset(rs)) if answer_rank(&key) => return Some(Step::Answer(rs)),
            Some(Cached::NoData(soa)) => return Some(Step::NoData(Vec::new(), soa)),
            _ => {}
        }
        if qtype != RecordType::CNAME {
            let ckey = Key::RRset(name.clone(), RecordType::CNAME, class);
            if let Some(Cached::RRset(rs)) = self.cache.get(&ckey, now) {
                let target = rs.iter().find_map(|r| match &r.data {
                    RData::CNAME(c) => Some(c.0.clone()),
                    _ => None,
                });
                if let Some(t) = target {
                    return Some(Step::Alias(rs, t));
                }
            }
        }
        self.cache
            .nxdomain_covering(name, class, now)
            .map(|(_, soa)| Step::NxDomain(Vec::new(), soa))
    }

    /// Looks up (name, type) iteratively, cache first.
    pub(crate) fn lookup<'a>(
        &'a self,
        name: &'a Name,
        qtype: RecordType,
        class: DNSClass,
        st: &'a QueryState,
        path: LookupPath,
    ) -> BoxStep<'a> {
        Box::pin(async move {
            if let Some(step) = self.cached_step(name, qtype, class) {
                st.record(TraceEvent::CacheHit {
                    name: name.clone(),
                    qtype,
                });
                return step;
            }
            if path.depth() > self.config.resolver.max_depth as usize {
                return Step::Fail(Failure::Depth);
            }
            let path = path.with(name, qtype);
            let zs = match self.find_cut(name, st, &path).await {
                Ok(zs) => zs,
                Err(f) => return Step::Fail(f),
            };
            self.iterate_from(zs, name, qtype, class, st, &path).await
        })
    }

    async fn iterate_from(
        &self,
        mut zs: ZoneServers,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Step {
        let cfg = &self.config.resolver;
        let mut qmin = cfg.qname_minimisation;
        let mut labels = zs.zone.num_labels().saturating_add(1);
        let mut referrals = 0u32;
        let mut failed: HashSet<SocketAddr> = HashSet::new();
        let mut tried_parent_side = false;
        st.record(TraceEvent::StartAt {
            zone: zs.zone.clone(),
            servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
        });
        loop {
            let minimised = qmin && labels < name.num_labels();
            let (sname, stype) = if minimised {
                (name.trim_to(usize::from(labels)), RecordType::A)
            } else {
                (name.clone(), qtype)
            };
            let (mut msg, from) = match self
                .query_zone(&mut zs, &sname, stype, class, st, path, &mut failed)
                .await
            {
                Ok(r) => r,
                Err(f) => match self.parent_side(&zs, &mut tried_parent_side, &f) {
                    Some(parent) => {
                        st.note(format!(
                            "servers of {} failed ({f}): trying the delegation its parent gave",
                            zs.zone
                        ));
                        zs = parent;
                        failed.clear();
                        continue;
                    }
                    None => return Step::Fail(f),
                },
            };
            scrub(&mut msg, &zs.zone, &sname, stype, cfg.harden_glue);
            let kind = classify(&msg, &zs.zone, &sname, stype);
            st.record(TraceEvent::Note(format!(
                "{from} for {sname} {stype}: {kind:?}"
            )));
            match kind {
                Kind::Rcode(rcode) if minimised => {
                    st.note(format!(
                        "{rcode} to a minimised query: asking for the full name"
                    ));
                    qmin = false;
                }
                Kind::NxDomain if minimised => {
                    st.note("NXDOMAIN to a minimised query: asking for the full name (relaxed)");
                    qmin = false;
                }
                Kind::Rcode(_) | Kind::Lame => {
                    failed.insert(from);
                }
                Kind::Referral { child } => {
                    referrals += 1;
                    if referrals > cfg.max_referrals {
                        return Step::Fail(Failure::Depth);
                    }
                    self.cache_referral(&msg, &child);
                    zs = self.servers_from_referral(&msg, &child, class);
                    st.record(TraceEvent::StartAt {
                        zone: zs.zone.clone(),
                        servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
                    });
                    labels = child.num_labels().saturating_add(1);
                    failed.clear();
                }
                Kind::NoData | Kind::Answer if minimised => {
                    // No zone cut at this name: the same servers go on.
                    labels = labels.saturating_add(1);
                }
                Kind::NxDomain => {
                    self.cache_negative(&msg, name, qtype, class, true);
                    return Step::NxDomain(Vec::new(), self.negative_soa(&msg));
                }
                Kind::NoData => {
                    self.cache_negative(&msg, name, qtype, class, false);
                    return Step::NoData(Vec::new(), self.negative_soa(&msg));
                }
                Kind::Answer => return self.take_answer(&msg, name, qtype, class),
            }
        }
    }

    /// Caches an answer and says where its chain ends.
    fn take_answer(&self, msg: &Message, name: &Name, qtype: RecordType, class: DNSClass) -> Step {
        let now = self.clock.now();
        let aa = msg.metadata.authoritative;
        for rrset in group_rrsets(&msg.answers) {
            self.cache
                .insert_rrset(rrset, Rank::of(Section::Answer, aa), now);
        }
        for rrset in group_rrsets(&msg.authorities) {
            if rrset
                .first()
                .is_some_and(|r| r.record_type() == RecordType::NS)
            {
                self.cache
                    .insert_rrset(rrset, Rank::of(Section::Authority, aa), now);
            }
        }
        for rrset in group_rrsets(&msg.additionals) {
            self.cache.insert_rrset(rrset, Rank::Additional, now);
        }
        if !self.config.resolver.minimal_responses {
            self.keep_sections(msg, name, qtype, class);
        }
        let (chain, end) = follow_chain(&msg.answers, name, qtype);
        let chain: Vec<Record> = chain.into_iter().map(|r| self.clamped(r)).collect();
        match end {
            ChainEnd::Complete => Step::Answer(chain),
            ChainEnd::Alias(target) => {
                // The chain's end may be answered negatively in the same reply.
                let rcode = msg.metadata.response_code;
                if rcode == ResponseCode::NXDomain {
                    self.cache_negative(msg, &target, qtype, class, true);
                    return Step::NxDomain(chain, self.negative_soa(msg));
                }
                let soa_covers_target = msg
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::SOA && r.name.zone_of(&target));
                if soa_covers_target {
                    self.cache_negative(msg, &target, qtype, class, false);
                    return Step::NoData(chain, self.negative_soa(msg));
                }
                Step::Alias(chain, target)
            }
        }
    }

    /// Keeps the (scrubbed) authority NS and additional addresses of an
    /// answer, as Unbound's message cache does, for non-minimal responses.
    fn keep_sections(&self, msg: &Message, name: &Name, qtype: RecordType, class: DNSClass) {
        let authority: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS)
            .cloned()
            .collect();
        let additional = msg.additionals.clone();
        let ttl = msg.answers.iter().map(|r| r.ttl).min().unwrap_or(0);
        // Keyed by where the answer ends, which is what the reply to the
        // client is built around.
        let (owner, rtype) = msg
            .answers
            .last()
            .map(|r| (r.name.clone(), r.record_type()))
            .unwrap_or((name.clone(), qtype));
        self.cache.insert(
            Key::Sections(owner, rtype, class),
            Cached::Sections(authority, additional),
            ttl,
            Rank::of(Section::Answer, msg.metadata.authoritative),
            self.clock.now(),
        );
    }

    fn clamped(&self, mut r: Record) -> Record {
        r.ttl = self.cache.clamp_ttl(r.ttl);
        r
    }

    /// The SOA of a negative reply with its TTL set to the negative TTL
    /// (RFC 2308 §3: min of SOA TTL and MINIMUM, capped by config).
    fn negative_soa(&self, msg: &Message) -> Vec<Record> {
        let soa = soa_of(msg);
        match self.cache.negative_ttl(&soa) {
            Some(ttl) => soa
                .into_iter()
                .map(|mut r| {
                    r.ttl = ttl;
                    r
                })
                .collect(),
            None => soa,
        }
    }

    /// Caches NXDOMAIN (for the name and, RFC 8020, below) or NODATA for
    /// the negative TTL of RFC 2308 §5; without an SOA nothing is cached.
    fn cache_negative(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        nx: bool,
    ) {
        let soa = self.negative_soa(msg);
        let Some(ttl) = self.cache.negative_ttl(&soa) else {
            return;
        };
        let now = self.clock.now();
        if nx {
            self.cache.insert(
                Key::NxDomain(name.clone(), class),
                Cached::NxDomain(soa),
                ttl,
                Rank::AnswerAuth,
                now,
            );
        } else {
            self.cache.insert(
                Key::RRset(name.clone(), qtype, class),
                Cached::NoData(soa),
                ttl,
                Rank::AnswerAuth,
                now,
            );
        }
    }

    /// Caches a referral's NS set and glue at their (low) ranks.
    fn cache_referral(&self, msg: &Message, child: &Name) {
        let now = self.clock.now();
        let ns: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && &r.name == child)
            .cloned()
            .collect();
        let ttl = ns.iter().map(|r| r.ttl).min().unwrap_or(0);
        self.cache.insert(
            Key::Delegation(child.clone(), DNSClass::IN),
            Cached::Sections(ns.clone(), msg.additionals.clone()),
            ttl,
            Rank::AuthorityNonAuth,
            now,
        );
        self.cache.insert_rrset(ns, Rank::AuthorityNonAuth, now);
        for rrset in group_rrsets(&msg.additionals) {
            self.cache.insert_rrset(rrset, Rank::Additional, now);
        }
    }

    /// When a zone's servers (from its own NS set) all failed, the
    /// delegation its parent gave, if it names other servers (Unbound's
    /// parent-side fallback for parent/child NS differences). Once per step.
    fn parent_side(
        &self,
        zs: &ZoneServers,
        tried: &mut bool,
        failure: &Failure,
    ) -> Option<ZoneServers> {
        if *tried
            || matches!(
                failure,
                Failure::QueryBudget(_) | Failure::Timeout | Failure::Depth
            )
        {
            return None;
        }
        *tried = true;
        let key = Key::Delegation(zs.zone.clone(), DNSClass::IN);
        let Some(Cached::Sections(ns, glue)) = self.cache.get(&key, self.clock.now()) else {
            return None;
        };
        let mut m = Message::new(0, MessageType::Response, OpCode::Query);
        m.authorities = ns;
        m.additionals = glue;
        let parent = self.servers_from_referral(&m, &zs.zone, DNSClass::IN);
        let same = parent.addrs() == zs.addrs()
            && parent
                .ns
                .iter()
                .map(|(n, _)| n)
                .eq(zs.ns.iter().map(|(n, _)| n));
        (!same).then_some(parent)
    }

    fn servers_from_referral(&self, msg: &Message, child: &Name, class: DNSClass) -> ZoneServers {
        let names: Vec<Name> = msg
            .authorities
            .iter()
            .filter(|r| &r.name == child)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        let ns = names
            .into_iter()
            .map(|n| {
                let mut ips: Vec<IpAddr> = msg
                    .additionals
                    .iter()
                    .filter(|r| r.name == n)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                if ips.is_empty() {
                    ips = self.cached_addrs(&n, class);
                }
                (Some(n), self.usable(ips))
            })
            .collect();
        ZoneServers {
            zone: child.clone(),
            ns,
        }
    }

    /// Addresses of a name from the cache (any rank: glue will do here).
    pub(crate) fn cached_addrs(&self, name: &Name, class: DNSClass) -> Vec<IpAddr> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for t in [RecordType::A, RecordType::AAAA] {
            if let Some(Cached::RRset(rs)) =
                self.cache.get(&Key::RRset(name.clone(), t, class), now)
            {
                out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
            }
        }
        out
    }

    /// Drops addresses we must not query.
    fn usable(&self, ips: Vec<IpAddr>) -> Vec<IpAddr> {
        let allow_lo = self.config.resolver.allow_loopback_upstream;
        ips.into_iter()
            .filter(|ip| {
                !ip.is_unspecified() && !ip.is_multicast() && (allow_lo || !ip.is_loopback())
            })
            .collect()
    }

    /// The closest zone cut for `name`: a configured stub zone or a cached
    /// NS set, whichever is deeper; else the root (primed once from hints).
    async fn find_cut(
        &self,
        name: &Name,
        st: &QueryState,
        path: &LookupPath,
    ) -> Result<ZoneServers, Failure> {
        let class = DNSClass::IN;
        let now = self.clock.now();
        let mut cur = name.clone();
        loop {
            if let Some(stub) = self
                .config
                .resolver
                .stub_zones
                .iter()
                .find(|s| s.name == cur)
            {
                return Ok(ZoneServers {
                    zone: cur,
                    ns: vec![(None, stub.addrs.iter().map(|a| a.ip()).collect())],
                });
            }
            if let Some(Cached::RRset(rs)) = self
                .cache
                .get(&Key::RRset(cur.clone(), RecordType::NS, class), now)
            {
                let ns = rs
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::NS(n) => Some(n.0.clone()),
                        _ => None,
                    })
                    .map(|n| {
                        let ips = self.usable(self.cached_addrs(&n, class));
                        (Some(n), ips)
                    })
                    .collect();
                return Ok(ZoneServers { zone: cur, ns });
            }
            if cur.is_root() {
                break;
            }
            cur = cur.base_name();
        }
        self.prime(st, path).await
    }

    /// Priming (RFC 8109): asks a hints server for the root NS set and
    /// caches it; on failure the hints themselves are used.
    async fn prime(&self, st: &QueryState, path: &LookupPath) -> Result<ZoneServers, Failure> {
        let mut zs = ZoneServers {
            zone: Name::root(),
            ns: self
                .hints
                .servers
                .iter()
                .map(|(n, ips)| (Some(n.clone()), self.usable(ips.clone())))
                .collect(),
        };
        if zs.addrs().is_empty() {
            return Err(Failure::NoNsAddress);
        }
        st.note("priming the root NS set from the hints");
        let mut failed = HashSet::new();
        let root = Name::root();
        if let Ok((mut msg, _)) = self
            .query_zone(
                &mut zs,
                &root,
                RecordType::NS,
                DNSClass::IN,
                st,
                path,
                &mut failed,
            )
            .await
        {
            scrub(&mut msg, &root, &root, RecordType::NS, true);
            if classify(&msg, &root, &root, RecordType::NS) == Kind::Answer {
                let _ = self.take_answer(&msg, &root, RecordType::NS, DNSClass::IN);
                let mut primed = self.servers_from_referral_answer(&msg);
                // Root servers named in the hints keep their hint addresses
                // when the priming reply came without them.
                for (name, ips) in primed.ns.iter_mut() {
                    if ips.is_empty() {
                        if let Some((_, hint)) = self
                            .hints
                            .servers
                            .iter()
                            .find(|(h, _)| Some(h) == name.as_ref())
                        {
                            *ips = self.usable(hint.clone());
                        }
                    }
                }
                if !primed.addrs().is_empty() {
                    return Ok(primed);
                }
            }
        }
        st.note("priming failed: using the hints as they are");
        Ok(zs)
    }

    fn servers_from_referral_answer(&self, msg: &Message) -> ZoneServers {
        let mut m = msg.clone();
        m.authorities = m.answers.clone();
        self.servers_from_referral(&m, &Name::root(), DNSClass::IN)
    }

    /// Sends (name, type) to the best server of the zone that has not
    /// failed this step, with retries; returns the first reply that is not
    /// a transport failure. Glueless NS names are resolved when needed.
    #[allow(clippy::too_many_arguments)]
    async fn query_zone(
        &self,
        zs: &mut ZoneServers,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        let mut tries = 0usize;
        let mut timeouts = 0usize;
        let mut resolved_names = false;
        loop {
            let candidates: Vec<SocketAddr> = zs
                .addrs()
                .into_iter()
                .filter(|a| !failed.contains(a))
                .collect();
            let now = self.clock.now();
            let mut order = self.selection.order(&candidates, now);
            if order.is_empty() && !candidates.is_empty() && tries == 0 {
                // Every server is held down: try them anyway rather than fail.
                order = candidates.clone();
            }
            let Some(addr) = order.first().copied() else {
                if !resolved_names && self.resolve_ns_names(zs, st, path).await {
                    resolved_names = true;
                    continue;
                }
                return Err(if timeouts > 0 || tries == 0 {
                    if zs.addrs().is_empty() {
                        Failure::NoNsAddress
                    } else {
                        Failure::NoReachableAuthority
                    }
                } else {
                    Failure::AllLame
                });
            };
            if tries >= MAX_TRIES_PER_STEP {
                return Err(Failure::NoReachableAuthority);
            }
            tries += 1;
            if self
                .selection
                .stats(addr)
                .is_some_and(|s| s.held_until.is_some())
            {
                self.selection.claim_probe(addr, now);
            }
            match self.exchange(addr, zs, qname, qtype, class, st).await {
                Ok(msg) => return Ok((msg, addr)),
                Err(ExchangeError::Budget) => {
                    return Err(Failure::QueryBudget(
                        self.config.resolver.max_upstream_queries,
                    ))
                }
                Err(ExchangeError::Deadline) => return Err(Failure::Timeout),
                Err(ExchangeError::Timeout) => {
                    timeouts += 1;
                    // A timed-out server may be tried again after the others.
                    if order.len() == 1 && timeouts >= 3 {
                        failed.insert(addr);
                    } else if order.len() > 1 {
                        failed.insert(addr);
                        if failed.len() >= zs.addrs().len() {
                            failed.clear();
                        }
                    }
                }
                Err(ExchangeError::Other) => {
                    failed.insert(addr);
                }
            }
        }
    }

    /// Asks the servers of the zone above `zone` for the address of `name`
    /// (an NS name inside `zone` that came without glue).
    fn parent_side_glue<'a>(
        &'a self,
        name: &'a Name,
        zone: &'a Name,
        st: &'a QueryState,
        path: LookupPath,
    ) -> BoxStep<'a> {
        Box::pin(async move {
            if path.depth() > self.config.resolver.max_depth as usize {
                return Step::Fail(Failure::Depth);
            }
            let mut parent = match self.find_cut(&zone.base_name(), st, &path).await {
                Ok(p) => p,
                Err(f) => return Step::Fail(f),
            };
            st.note(format!(
                "asking the servers of {} for glue of {name}",
                parent.zone
            ));
            let mut failed = HashSet::new();
            let msg = match self
                .query_zone(
                    &mut parent,
                    name,
                    RecordType::A,
                    DNSClass::IN,
                    st,
                    &path,
                    &mut failed,
                )
                .await
            {
                Ok((msg, _)) => msg,
                Err(f) => return Step::Fail(f),
            };
            let glue: Vec<Record> = msg
                .answers
                .iter()
                .chain(msg.additionals.iter())
                .filter(|r| &r.name == name && r.record_type() == RecordType::A)
                .filter(|r| parent.zone.zone_of(&r.name))
                .cloned()
                .collect();
            if glue.is_empty() {
                return Step::Fail(Failure::NoNsAddress);
            }
            self.cache
                .insert_rrset(glue.clone(), Rank::Additional, self.clock.now());
            Step::Answer(glue)
        })
    }

    /// Resolves addresses for NS names that came without glue, a few at a
    /// time; true if any address was found.
    async fn resolve_ns_names(
        &self,
        zs: &mut ZoneServers,
        st: &QueryState,
        path: &LookupPath,
    ) -> bool {
        let limit = self.config.resolver.max_ns_lookups_per_delegation as usize;
        let todo: Vec<Name> = zs
            .ns
            .iter()
            .filter(|(_, ips)| ips.is_empty())
            .filter_map(|(n, _)| n.clone())
            .filter(|n| !path.contains(n, RecordType::A))
            .take(limit)
            .collect();
        let mut found = false;
        for batch in todo.chunks(PARALLEL_NS_LOOKUPS) {
            st.note(format!(
                "resolving NS names without glue for {}: {}",
                zs.zone,
                batch
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let lookups = batch.iter().map(|n| {
                if zs.zone.zone_of(n) && !zs.zone.is_root() {
                    // Inside the zone it names and without glue: only the
                    // parent can tell (Unbound's "fetch glue").
                    self.parent_side_glue(n, &zs.zone, st, path.with(n, RecordType::A))
                } else {
                    self.lookup(n, RecordType::A, DNSClass::IN, st, path.clone())
                }
            });
            let results = futures_join(lookups).await;
            for (n, step) in batch.iter().zip(results) {
                let ips: Vec<IpAddr> = match step {
                    Step::Answer(rs) => rs.iter().filter_map(|r| r.data.ip_addr()).collect(),
                    // The child's own answer failed (lame, bogus referral):
                    // glue its parent gave for the name still serves.
                    _ => self.cached_addrs(n, DNSClass::IN),
                };
                let ips = self.usable(ips);
                if !ips.is_empty() {
                    found = true;
                    for entry in zs
                        .ns
                        .iter_mut()
                        .filter(|(name, _)| name.as_ref() == Some(n))
                    {
                        entry.1 = ips.clone();
                    }
                }
            }
            if found {
                break;
            }
        }
        found
    }

    /// One exchange with one server: UDP first, TCP after TC=1, and once
    /// without EDNS after a FORMERR to EDNS (remembered per server).
    async fn exchange(
        &self,
        addr: SocketAddr,
        zs: &ZoneServers,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
    ) -> Result<Message, ExchangeError> {
        let mut protocol = Protocol::Udp;
        for _ in 0..MAX_RESENDS {
            let now = self.clock.now();
            let elapsed = now.saturating_sub(st.start);
            let Some(left) = self
                .config
                .resolver
                .query_timeout
                .checked_sub(elapsed)
                .filter(|l| !l.is_zero())
            else {
                st.note("query timeout reached: giving up");
                return Err(ExchangeError::Deadline);
            };
            if !st.spend() {
                return Err(ExchangeError::Budget);
            }
            let edns = !self.selection.no_edns(addr);
            let message = self.build_query(qname, qtype, class, edns);
            let timeout = match protocol {
                Protocol::Udp => self.selection.rto(addr, now),
                Protocol::Tcp => self.config.upstream.tcp_timeout,
            }
            .min(left);
            st.record(TraceEvent::Query {
                zone: zs.zone.clone(),
                server: addr,
                server_name: zs.name_of(&addr),
                qname: qname.clone(),
                qtype,
                protocol,
                reason: format!("{} is a server for {}", addr, zs.zone),
            });
            let span = tracing::debug_span!(
                "upstream",
                server = %addr,
                zone = %zs.zone,
                qname = %qname,
                qtype = %qtype,
                rtt_ms = tracing::field::Empty
            );
            let result = self
                .transport
                .exchange(UpstreamQuery {
                    server: addr,
                    protocol,
                    message,
                    timeout,
                })
                .instrument(span.clone())
                .await;
            let after = self.clock.now();
            let rtt = after.saturating_sub(now);
            span.record("rtt_ms", rtt.as_millis() as u64);
            let reply = match result {
                Ok(m) => m,
                Err(failure) => {
                    if failure == UpstreamFailure::Timeout {
                        self.selection.on_timeout(addr, after);
                    }
                    tracing::debug!(server = %addr, zone = %zs.zone, %failure, "upstream failure");
                    st.record(TraceEvent::Failed {
                        server: addr,
                        failure: failure.clone(),
                        rto: self.selection.rto(addr, after),
                    });
                    return Err(match failure {
                        UpstreamFailure::Timeout => ExchangeError::Timeout,
                        _ => ExchangeError::Other,
                    });
                }
            };
            self.selection.on_reply(addr, rtt, after);
            tracing::debug!(server = %addr, zone = %zs.zone, rtt_ms = rtt.as_millis() as u64, "upstream reply");
            st.record(TraceEvent::Reply {
                server: addr,
                rtt,
                rcode: reply.metadata.response_code,
                kind: summarize(&reply),
                message: st.full_trace.then(|| Box::new(reply.clone())),
            });
            if reply.metadata.message_type != MessageType::Response
                || !same_question(&reply, qname, qtype, class)
            {
                st.note(format!("{addr} replied to another question: ignored"));
                return Err(ExchangeError::Other);
            }
            if reply.metadata.truncation && protocol == Protocol::Udp {
                st.note(format!("{addr} truncated the reply: retrying over TCP"));
                protocol = Protocol::Tcp;
                continue;
            }
            if edns && reply.metadata.response_code == ResponseCode::FormErr && reply.edns.is_none()
            {
                st.note(format!("{addr} answered FORMERR to EDNS: retrying without"));
                self.selection.set_no_edns(addr, after);
                continue;
            }
            return Ok(reply);
        }
        Err(ExchangeError::Other)
    }

    fn build_query(&self, qname: &Name, qtype: RecordType, class: DNSClass, edns: bool) -> Message {
        let mut m = Message::new(0, MessageType::Query, OpCode::Query);
        let mut q = Query::query(qname.clone(), qtype);
        q.set_query_class(class);
        m.add_query(q);
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(self.config.resolver.edns_payload);
            m.set_edns(e);
        }
        m
    }
}

enum ExchangeError {
    Timeout,
    /// The client query's own time limit is spent.
    Deadline,
    Budget,
    Other,
}

/// Awaits all futures concurrently, results in order.
async fn futures_join<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<F> = futs.into_iter().collect();
    futures_util::future::join_all(futs).await
}

/// Whether a reply carries exactly the question we asked (RFC 5452 §9.1;
/// names compare case-insensitively).
fn same_question(reply: &Message, qname: &Name, qtype: RecordType, class: DNSClass) -> bool {
    match reply.queries.as_slice() {
        [q] => q.name() == qname && q.query_type() == qtype && q.query_class() == class,
        // FORMERR and some error replies legitimately carry no question.
        [] => reply.metadata.response_code != ResponseCode::NoError,
        _ => false,
    }
}

/// The SOA records of a reply's authority section.
fn soa_of(msg: &Message) -> Vec<Record> {
    msg.authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect()
}

/// Groups records into RRsets by (name, type, class), keeping order.
pub(crate) fn group_rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records {
        if matches!(r.record_type(), RecordType::OPT | RecordType::RRSIG) {
            continue;
        }
        match sets.iter_mut().find(|s| {
            s.first().is_some_and(|f| {
                f.name == r.name && f.record_type() == r.record_type() && f.dns_class == r.dns_class
            })
        }) {
            Some(s) => s.push(r.clone()),
            None => sets.push(vec![r.clone()]),
        }
    }
    sets
}

/// A one-line summary of a reply, for traces.
fn summarize(m: &Message) -> String {
    format!(
        "{} aa={} answers={} authority={} additional={}",
        m.metadata.response_code,
        m.metadata.authoritative,
        m.answers.len(),
        m.authorities.len(),
        m.additionals.len()
    )
}
