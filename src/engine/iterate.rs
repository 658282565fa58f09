//! Iteration: from the closest known zone cut down to an answer for one
//! (name, type), following referrals (RFC 1034 §5.3.3), minimising the
//! query name on the way (RFC 9156, relaxed), resolving NS names that came
//! without glue, and caching what each reply teaches. This file only
//! sequences; the decisions live in `classify`, `selection` and `cache`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Hit, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{classify, scrub, Kind};
use crate::engine::harden::{limit_ns_sets, PrivatePolicy};
use crate::engine::problems::Problem;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{BoxStep, Step, ZoneServers};
use crate::engine::store::{soa_of, AnswerFrom};
use crate::engine::{Failure, Resolver, TraceEvent};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// What the cache knows about (name, type): only data trusted enough to
    /// answer a client with (RFC 2181 §5.4.1: not glue, not referral NS).
    pub(crate) fn cached_step(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
    ) -> Option<Step> {
        self.cached_step_in(name, qtype, class, None)
    }

    /// `cached_step`, reading stale data if `st` allows it and noting in
    /// `st` what the reads found.
    pub(crate) fn cached_step_in(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: Option<&QueryState>,
    ) -> Option<Step> {
        if self.uncached_zone(name) {
            return None;
        }
        let now = self.clock.now();
        let stale_ok = st.is_some_and(|s| s.allow_stale);
        let saw = |h: &Hit| {
            if let Some(s) = st {
                s.saw(h.stale, h.prefetch);
            }
        };
        let key = Key::RRset(name.clone(), qtype, class);
        match self.cache.lookup(&key, now, stale_ok) {
            Some(h) if matches!(h.value, Cached::RRset(_)) && h.rank >= Rank::AnswerNonAuth => {
                saw(&h);
                if qtype == RecordType::CNAME {
                    if let Some(step) = self.dname_from_cache(name, qtype, class, now) {
                        return Some(step);
                    }
                }
                if let Cached::RRset(rs) = h.value {
                    return Some(Step::Answer(rs));
                }
            }
            Some(h) if matches!(h.value, Cached::NoData(_)) => {
                saw(&h);
                if let Cached::NoData(soa) = h.value {
                    return Some(Step::NoData(Vec::new(), soa));
                }
            }
            _ => {}
        }
        // ANY is answered with what the name holds, a CNAME included: not
        // chased (as Unbound).
        if qtype != RecordType::CNAME && qtype != RecordType::ANY {
            let ckey = Key::RRset(name.clone(), RecordType::CNAME, class);
            if let Some(h) = self.cache.lookup(&ckey, now, stale_ok) {
                if let Cached::RRset(rs) = &h.value {
                    let target = rs.iter().find_map(|r| match &r.data {
                        RData::CNAME(c) => Some(c.0.clone()),
                        _ => None,
                    });
                    if let Some(t) = target {
                        saw(&h);
                        // A CNAME a cached DNAME above made goes out with
                        // that DNAME, as it came.
                        if let Some(step) = self.dname_from_cache(name, qtype, class, now) {
                            return Some(step);
                        }
                        return Some(Step::Alias(rs.clone(), t));
                    }
                }
            }
        }
        if let Some(step) = self.dname_from_cache(name, qtype, class, now) {
            return Some(step);
        }
        let nx = self
            .cache
            .nxdomain_covering_stale(name, class, now, stale_ok)?;
        // Whether it was stale: the fresh read would not have found it.
        if stale_ok && self.cache.nxdomain_covering(name, class, now).is_none() {
            if let Some(s) = st {
                s.saw(true, false);
            }
        }
        Some(Step::NxDomain(Vec::new(), nx.1))
    }

    /// A CNAME synthesised from a cached DNAME above `name` (RFC 6672
    /// §3.2), with the DNAME: only a DNAME the validator found secure (as
    /// Unbound; an unvalidated one is asked for again). The CNAME
    /// lives as long as the DNAME has left. A DS set belongs to the
    /// parent side and is never redirected.
    fn dname_from_cache(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        now: crate::clock::Mono,
    ) -> Option<Step> {
        if qtype == RecordType::DS || name.is_root() {
            return None;
        }
        let mut owner = name.base_name();
        loop {
            let key = Key::RRset(owner.clone(), RecordType::DNAME, class);
            if let Some(h) = self.cache.lookup(&key, now, false) {
                if let (Cached::RRset(rs), true) = (&h.value, h.rank >= Rank::AnswerNonAuth) {
                    let secure = self.config.dnssec.validate
                        && matches!(
                            self.cache
                                .get(&Key::Status(owner.clone(), RecordType::DNAME, class), now),
                            Some(Cached::Status(crate::dnssec::Security::Secure))
                        );
                    let dname = rs.first()?;
                    if !secure {
                        return None;
                    }
                    let target = crate::engine::classify::dname_target(dname)?;
                    // The cache hands out TTLs as they stand now.
                    let ttl = rs.iter().map(|r| r.ttl).min().unwrap_or(0);
                    let mut records: Vec<Record> = rs.clone();
                    let Some(to) = crate::engine::classify::dname_substitute(name, &owner, &target)
                    else {
                        // Too long a name (RFC 6672 §2.2).
                        return Some(Step::YxDomain(records));
                    };
                    let mut cname = Record::from_rdata(
                        name.clone(),
                        ttl,
                        RData::CNAME(hickory_proto::rr::rdata::CNAME(to.clone())),
                    );
                    cname.dns_class = class;
                    records.push(cname);
                    if qtype == RecordType::CNAME {
                        return Some(Step::Answer(records));
                    }
                    return Some(Step::Alias(records, to));
                }
            }
            if owner.is_root() {
                return None;
            }
            owner = owner.base_name();
        }
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
            // A refresh re-asks the client's question itself (depth 0).
            let bypass = st.refresh && path.depth() == 0;
            if let Some(step) = (!bypass)
                .then(|| self.cached_step(name, qtype, class))
                .flatten()
            {
                st.record(|| TraceEvent::CacheHit {
                    name: name.clone(),
                    qtype,
                });
                return step;
            }
            if path.depth() > self.config.resolver.max_depth as usize {
                return Step::Fail(Failure::Depth);
            }
            let path = path.with(name, qtype);
            self.lookup_configured(name, qtype, class, st, path).await
        })
    }

    /// Whether the cache holds a live NODATA for (`name`, A) whose SOA is
    /// that of `zone`: the zone's servers said the name has no address and
    /// is no zone cut.
    fn cached_nodata_in(&self, name: &Name, class: DNSClass, zone: &Name) -> bool {
        let key = Key::RRset(name.clone(), RecordType::A, class);
        match self.cache.get(&key, self.clock.now()) {
            Some(Cached::NoData(soa)) => soa
                .iter()
                .any(|r| r.record_type() == RecordType::SOA && r.name == *zone),
            _ => false,
        }
    }

    pub(super) async fn iterate_from(
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
        let mut restarted_above = false;
        let mut rec_lame: Option<Message> = None;
        let mut empty_aa = false;
        st.record(|| TraceEvent::StartAt {
            zone: zs.zone.clone(),
            servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
        });
        loop {
            if !zs.local && !self.auth_zones.is_empty() {
                match self.local_copy_below(&zs.zone, name, qtype, path).await {
                    Ok(Some(local)) => {
                        st.note(|| {
                            format!(
                                "{name} is in auth zone {}: answering from its copy",
                                local.zone
                            )
                        });
                        labels = local.zone.num_labels().saturating_add(1);
                        zs = local;
                        failed.clear();
                    }
                    Ok(None) => {}
                    Err(f) => return Step::Fail(f),
                }
            }
            // A response policy with a trigger for these servers decides
            // the client's question (not the lookups made on its way).
            if path.depth() == 1 && !zs.recursive {
                if let Some(p) = self.policy() {
                    let ns_names: Vec<Name> = zs.ns.iter().filter_map(|(n, _)| n.clone()).collect();
                    let addrs: Vec<IpAddr> =
                        zs.ns.iter().flat_map(|(_, a)| a.iter().copied()).collect();
                    if p.stops_at_cut(&ns_names, &addrs) {
                        return Step::Fail(Failure::Policy(Box::new(crate::engine::ZoneCut {
                            zone: zs.zone.clone(),
                            ns_names,
                            addrs,
                        })));
                    }
                }
            }
            let minimised = qmin && labels < name.num_labels();
            let (sname, stype) = if minimised {
                (name.trim_to(usize::from(labels)), RecordType::A)
            } else {
                (name.clone(), qtype)
            };
            // A minimised name these servers answered NODATA for lately,
            // from this very zone (an empty non-terminal, or a name with
            // no address): no zone cut there, so the next label is asked
            // at once instead of the same question again.
            if minimised && self.cached_nodata_in(&sname, class, &zs.zone) {
                st.note(|| format!("{sname}: NODATA from {} cached, going on down", zs.zone));
                labels = labels.saturating_add(1);
                continue;
            }
            let (mut msg, from) = match self
                .query_zone(&mut zs, &sname, stype, class, st, path, &mut failed)
                .await
            {
                Ok(r) => r,
                Err(Failure::AllLame) if rec_lame.is_some() || empty_aa => {
                    // Last resorts, as Unbound: a recursive server's answer,
                    // else an authoritative empty reply read as NODATA (not
                    // cached: it has no SOA to say for how long).
                    match rec_lame.take() {
                        Some(msg) if msg.answers.is_empty() => {
                            // An empty recursive answer: NODATA as that
                            // server saw it (not cached without an SOA).
                            st.note(|| "every server is lame: using a recursive server's NODATA");
                            if !cfg.minimal_responses {
                                self.keep_sections(&msg, name, qtype, class, st.leeway);
                            }
                            return Step::NoData(Vec::new(), soa_of(&msg));
                        }
                        Some(msg) => {
                            st.note(|| "every server is lame: using a recursive server's answer");
                            return self.take_answer(&msg, name, qtype, class, st.leeway);
                        }
                        None => {
                            st.note(|| "every server is lame: an empty AA reply counts as NODATA");
                            return Step::NoData(Vec::new(), Vec::new());
                        }
                    }
                }
                Err(f) => match self.parent_side(&zs, &mut tried_parent_side, &f) {
                    Some(parent) => {
                        st.note(|| {
                            format!(
                                "servers of {} failed ({f}): trying the delegation its parent gave",
                                zs.zone
                            )
                        });
                        zs = parent;
                        failed.clear();
                        continue;
                    }
                    None if !restarted_above
                        && matches!(f, Failure::NoNsAddress | Failure::AllLame)
                        && !zs.zone.is_root()
                        && zs.configured.is_empty()
                        && !self.configured_zone(&zs.zone) =>
                    {
                        // The cached delegation turned useless (its NS names
                        // do not resolve, its servers are lame) and the
                        // parent's copy has expired: ask the parent again,
                        // once, as Unbound does.
                        restarted_above = true;
                        let Ok(parent) = self.find_cut(&zs.zone.base_name(), st, path).await else {
                            return Step::Fail(f);
                        };
                        st.note(|| {
                            format!(
                                "servers of {} are useless ({f}): asking {} for the delegation again",
                                zs.zone, parent.zone
                            )
                        });
                        labels = parent.zone.num_labels().saturating_add(1);
                        zs = parent;
                        failed.clear();
                        continue;
                    }
                    None => return Step::Fail(f),
                },
            };
            // An upward or sideways referral is lame even as a last resort.
            let carried_ns = msg
                .authorities
                .iter()
                .any(|r| r.record_type() == RecordType::NS);
            limit_ns_sets(&mut msg, cfg.max_ns_per_set as usize);
            crate::engine::store::scrub_signed(
                &mut msg,
                &zs.zone,
                &sname,
                stype,
                cfg.harden_glue,
                self.config.dnssec.validate,
            );
            let private = PrivatePolicy {
                nets: &cfg.private_addresses,
                allowed: &cfg.private_domains,
            };
            let removed = private.scrub_answers(&mut msg);
            if removed > 0 {
                st.note(|| format!("removed {removed} private addresses from the answer"));
            }
            if stype == RecordType::DS {
                ds_from_referral(&mut msg, &sname);
            }
            let kind = classify(&msg, &zs.zone, &sname, stype);
            if !matches!(kind, Kind::Rcode(_) | Kind::Lame) {
                self.stash_sigs(&msg);
            }
            st.record(|| TraceEvent::Note(format!("{from} for {sname} {stype}: {kind:?}")));
            match kind {
                Kind::Rcode(rcode) if minimised => {
                    st.note(|| format!("{rcode} to a minimised query: asking for the full name"));
                    qmin = false;
                }
                Kind::NxDomain if minimised => {
                    st.note(|| "NXDOMAIN to a minimised query: asking for the full name (relaxed)");
                    qmin = false;
                }
                Kind::Lame
                    if minimised
                        && msg.metadata.authoritative
                        && !carried_ns
                        && msg.metadata.response_code == ResponseCode::NoError
                        && msg.answers.is_empty() =>
                {
                    // An authoritative empty reply without SOA to a
                    // minimised query: no cut here, as NODATA would say
                    // (Unbound types it so); the descent goes on.
                    st.note(|| format!("{sname}: empty AA reply without SOA, going on down"));
                    labels = labels.saturating_add(1);
                }
                Kind::Lame if minimised => {
                    // Nothing useful for the minimised name: ask the same
                    // servers for the full one (RFC 9156 §3).
                    st.note(|| {
                        format!(
                            "{sname}: lame reply to a minimised query: asking for the full name"
                        )
                    });
                    qmin = false;
                }
                Kind::Rcode(_) | Kind::Lame => {
                    let problem = match kind {
                        Kind::Rcode(ResponseCode::Refused) => Problem::Refused,
                        Kind::Rcode(ResponseCode::ServFail) => Problem::ServFail,
                        Kind::Rcode(_) => Problem::OtherRcode,
                        _ => Problem::Lame,
                    };
                    self.problems
                        .server(from, &zs.zone, problem, self.clock.now());
                    if !minimised
                        && msg.metadata.recursion_available
                        && (!msg.answers.is_empty()
                            || msg.metadata.response_code == ResponseCode::NoError)
                    {
                        // A recursive server's cached answer: used only if
                        // no authoritative one can be had.
                        rec_lame = Some(msg);
                    } else if !minimised
                        && !carried_ns
                        && msg.metadata.authoritative
                        && msg.metadata.response_code == ResponseCode::NoError
                        && msg.answers.is_empty()
                    {
                        empty_aa = true;
                    }
                    failed.insert(from);
                }
                Kind::Referral { child } if stype == RecordType::DS && child == *name => {
                    // A DS question answered with a referral to that very
                    // name: the parent has no DS to give (an unsigned
                    // parent); NODATA, not cached, as Unbound reads it.
                    st.note(|| "a referral in reply to a DS question: no DS at the parent");
                    self.cache_referral(&msg, &child);
                    return Step::NoData(Vec::new(), self.negative_soa(&msg));
                }
                Kind::Referral { child } => {
                    referrals += 1;
                    if referrals > cfg.max_referrals {
                        return Step::Fail(Failure::Depth);
                    }
                    self.cache_referral(&msg, &child);
                    zs = self.servers_from_referral(&msg, &child, class);
                    if cfg.harden_referral_path && !(stype == RecordType::NS && sname == child) {
                        if let Some(own) = self.child_ns_set(&mut zs, class, st, path).await {
                            zs = own;
                        }
                    }
                    st.record(|| TraceEvent::StartAt {
                        zone: zs.zone.clone(),
                        servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
                    });
                    labels = child.num_labels().saturating_add(1);
                    failed.clear();
                }
                Kind::NoData if minimised => {
                    // No zone cut at this name: the same servers go on. The
                    // NODATA is kept (unless the answer holds for one
                    // client subnet), so the next name below it skips this
                    // question.
                    if st.scope() == 0 {
                        self.cache_negative(&msg, &sname, stype, class, false);
                    }
                    labels = labels.saturating_add(1);
                }
                Kind::Answer if minimised => {
                    // No zone cut at this name: the same servers go on.
                    labels = labels.saturating_add(1);
                }
                // An answer for one client subnet (ECS scope above 0)
                // stays out of the shared cache.
                Kind::NxDomain => {
                    if st.scope() == 0 {
                        self.cache_negative(&msg, name, qtype, class, true);
                    }
                    return Step::NxDomain(Vec::new(), self.negative_soa(&msg));
                }
                Kind::NoData => {
                    if st.scope() == 0 {
                        self.cache_negative(&msg, name, qtype, class, false);
                    }
                    if !self.config.resolver.minimal_responses {
                        self.keep_sections(&msg, name, qtype, class, st.leeway);
                    }
                    return Step::NoData(Vec::new(), self.negative_soa(&msg));
                }
                Kind::Answer => {
                    let from = AnswerFrom {
                        zone: &zs.zone,
                        started: st.start,
                        scoped: st.scope() > 0,
                    };
                    return self.take_answer_at(&msg, from, name, qtype, class, st.leeway);
                }
                Kind::YxDomain => {
                    let dname: Vec<Record> = msg
                        .answers
                        .iter()
                        .filter(|r| r.record_type() == RecordType::DNAME)
                        .cloned()
                        .collect();
                    return Step::YxDomain(dname);
                }
            }
        }
    }

    /// When a zone's servers (from its own NS set) all failed, the
    /// delegation its parent gave, if it names other servers (Unbound's
    /// parent-side fallback for parent/child NS differences). Once per step.
    pub(super) fn parent_side(
        &self,
        zs: &ZoneServers,
        tried: &mut bool,
        failure: &Failure,
    ) -> Option<ZoneServers> {
        if *tried
            || zs.local
            || matches!(
                failure,
                Failure::QueryBudget(_) | Failure::Timeout | Failure::Depth
            )
        {
            return None;
        }
        *tried = true;
        let key = Key::Delegation(zs.zone.clone(), DNSClass::IN);
        let mut parent = match self.cache.get(&key, self.clock.now()) {
            Some(Cached::Sections(ns, glue)) => {
                let mut m = Message::new(0, MessageType::Response, OpCode::Query);
                m.authorities = ns;
                m.additionals = glue;
                self.servers_from_referral(&m, &zs.zone, DNSClass::IN)
            }
            _ if zs.configured.is_empty() => zs.clone(),
            _ => return None,
        };
        // The child's own NS names stay candidates (one may only need its
        // parent-side address), after the parent's.
        if zs.configured.is_empty() {
            for entry in &zs.ns {
                if !parent.ns.iter().any(|(n, _)| n == &entry.0) {
                    parent.ns.push(entry.clone());
                }
            }
        }
        // Each NS name's own parent-side address too: the glue the
        // delegation of the name's zone carried, which the child's answer
        // for the name replaced in the cache.
        for (name, ips) in parent.ns.iter_mut() {
            if let Some(name) = name {
                for ip in self.usable(self.parent_side_addrs(name)) {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
        let same = parent.addrs() == zs.addrs()
            && parent
                .ns
                .iter()
                .map(|(n, _)| n)
                .eq(zs.ns.iter().map(|(n, _)| n));
        (!same).then_some(parent)
    }

    /// Addresses of `name` as glue in a cached delegation of a zone above
    /// it (closest first), whatever the child later said.
    fn parent_side_addrs(&self, name: &Name) -> Vec<IpAddr> {
        let now = self.clock.now();
        let mut cur = name.clone();
        while !cur.is_root() {
            cur = cur.base_name();
            let key = Key::Delegation(cur.clone(), DNSClass::IN);
            if let Some(Cached::Sections(_, glue)) = self.cache.get(&key, now) {
                let ips: Vec<IpAddr> = glue
                    .iter()
                    .filter(|r| r.name == *name)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                if !ips.is_empty() {
                    return ips;
                }
            }
        }
        Vec::new()
    }

    pub(super) fn servers_from_referral(
        &self,
        msg: &Message,
        child: &Name,
        class: DNSClass,
    ) -> ZoneServers {
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
                let glue: Vec<IpAddr> = msg
                    .additionals
                    .iter()
                    .filter(|r| r.name == n)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                let ips = self.delegation_addrs(child, &n, class, glue);
                (Some(n), self.usable(ips))
            })
            .collect();
        ZoneServers {
            zone: child.clone(),
            ns,
            ..ZoneServers::default()
        }
    }

    /// The closest zone cut for `name`: a configured stub zone or a cached
    /// NS set, whichever is deeper; else the root (primed once from hints).
    pub(super) async fn find_cut(
        &self,
        name: &Name,
        st: &QueryState,
        path: &LookupPath,
    ) -> Result<ZoneServers, Failure> {
        let class = DNSClass::IN;
        let now = self.clock.now() + st.leeway;
        let mut cur = name.clone();
        loop {
            if let Some(zs) = self.local_copy_at(&cur, path).await? {
                st.note(|| format!("{name} is in auth zone {cur}: answering from its copy"));
                return Ok(zs);
            }
            if let Some(stub) = self.stub_at(&cur, path) {
                return Ok(self.stub_servers(stub, st, path).await);
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
                        let ips = self.usable(self.delegation_addrs(&cur, &n, class, Vec::new()));
                        (Some(n), ips)
                    })
                    .collect();
                let mut zs = ZoneServers {
                    zone: cur,
                    ns,
                    ..ZoneServers::default()
                };
                self.fill_from_hints(&mut zs);
                if zs.zone.is_root() && zs.addrs().is_empty() {
                    // A root NS set none of whose servers has an address
                    // (not even from the hints): prime again.
                    break;
                }
                return Ok(zs);
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
    pub(super) async fn prime(
        &self,
        st: &QueryState,
        path: &LookupPath,
    ) -> Result<ZoneServers, Failure> {
        let mut zs = ZoneServers {
            zone: Name::root(),
            ns: self
                .hints
                .servers
                .iter()
                .map(|(n, ips)| (Some(n.clone()), self.usable(ips.clone())))
                .collect(),
            ..ZoneServers::default()
        };
        if zs.addrs().is_empty() {
            return Err(Failure::NoNsAddress);
        }
        st.note(|| "priming the root NS set from the hints");
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
            limit_ns_sets(&mut msg, self.config.resolver.max_ns_per_set as usize);
            scrub(&mut msg, &root, &root, RecordType::NS, true);
            if classify(&msg, &root, &root, RecordType::NS) == Kind::Answer {
                let _ = self.take_answer(&msg, &root, RecordType::NS, DNSClass::IN, st.leeway);
                let mut primed = self.servers_from_referral_answer(&msg);
                self.fill_from_hints(&mut primed);
                if !primed.addrs().is_empty() {
                    return Ok(primed);
                }
            }
        }
        st.note(|| "priming failed: using the hints as they are");
        Ok(zs)
    }

    /// Root servers named in the hints keep their hint addresses when
    /// nothing cached gives them one (a priming reply without addresses):
    /// RFC 8109 §3, priming must not leave the resolver without roots.
    fn fill_from_hints(&self, zs: &mut ZoneServers) {
        if !zs.zone.is_root() {
            return;
        }
        for (name, ips) in zs.ns.iter_mut() {
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
    }

    pub(super) fn servers_from_referral_answer(&self, msg: &Message) -> ZoneServers {
        let mut m = msg.clone();
        m.authorities = m.answers.clone();
        self.servers_from_referral(&m, &Name::root(), DNSClass::IN)
    }
}

/// A parent asked for a DS set may answer with its referral to the child,
/// the DS set (and its RRSIGs) in the authority section: that DS set is
/// the answer (as Unbound reads it), not a delegation to follow to the
/// child, which has no DS to give.
fn ds_from_referral(msg: &mut Message, qname: &Name) {
    if !msg.answers.is_empty() || msg.metadata.response_code != ResponseCode::NoError {
        return;
    }
    let is_ds = |r: &Record| {
        r.name == *qname
            && match &r.data {
                RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) => {
                    sig.input().type_covered == RecordType::DS
                }
                _ => r.record_type() == RecordType::DS,
            }
    };
    if !msg
        .authorities
        .iter()
        .any(|r| r.name == *qname && r.record_type() == RecordType::DS)
    {
        return;
    }
    let (ds, rest): (Vec<Record>, Vec<Record>) = std::mem::take(&mut msg.authorities)
        .into_iter()
        .partition(is_ds);
    msg.answers = ds;
    msg.authorities = rest;
}
