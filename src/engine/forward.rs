//! Configured zones: forward zones (queries with RD=1 to recursive
//! servers whose answer is final, RFC 1034 §4.3.1 / §5.3.1) and stub zones
//! (iteration starts at configured servers, optionally primed with the
//! zone's own NS set), with the `first` fallback of each to plain
//! iteration when the configured servers fail. The most specific of the
//! configured zones wins; at equal names the forward zone does (Unbound).

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::store::Taking;
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::config::{ForwardZone, StubZone};
use crate::engine::classify::{classify, follow_chain, scrub, ChainEnd, Kind};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, Step, ZoneServers};
use crate::engine::store::{group_rrsets, soa_of};
use crate::engine::{Failure, Resolver, TraceEvent};
use crate::upstream::Transport;

/// Failures after which a `first` zone may fall back to iteration: the
/// configured servers failed, not the client query's own limits.
fn may_fall_back(f: &Failure) -> bool {
    !matches!(
        f,
        Failure::QueryBudget(_) | Failure::Timeout | Failure::Depth | Failure::Internal(_)
    )
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The stub zone configured exactly at `zone`, unless the path skips it.
    pub(super) fn stub_at(&self, zone: &Name, path: &LookupPath) -> Option<&StubZone> {
        self.config
            .resolver
            .stub_zones
            .iter()
            .find(|s| &s.name == zone && !path.skips(&s.name))
    }

    /// Whether `zone` is a configured stub or forward zone (its servers are
    /// not the parent's to change).
    pub(super) fn configured_zone(&self, zone: &Name) -> bool {
        let r = &self.config.resolver;
        r.stub_zones.iter().any(|s| &s.name == zone)
            || r.forward_zones.iter().any(|f| &f.name == zone)
            || self.auth_zones.for_upstream_at(zone).is_some()
    }

    fn forward_at(&self, zone: &Name, path: &LookupPath) -> Option<&ForwardZone> {
        self.config
            .resolver
            .forward_zones
            .iter()
            .find(|f| &f.name == zone && !path.skips(&f.name))
    }

    /// The closest configured zone holding `name`: Ok(forward) or
    /// Err(stub), None when neither is configured.
    fn closest_configured(
        &self,
        name: &Name,
        path: &LookupPath,
    ) -> Option<Result<&ForwardZone, &StubZone>> {
        let r = &self.config.resolver;
        if r.forward_zones.is_empty() && r.stub_zones.is_empty() {
            return None;
        }
        let mut cur = name.clone();
        loop {
            // An auth zone used for upstream below any configured zone is
            // found by `find_cut` (unless its copy is passed over for its
            // servers, which the zones above then lead to).
            if let Some(copy) = self.auth_zones.for_upstream_at(&cur) {
                if !path.skips(&cur) && (self.copy_in_use(copy) || !copy.config.fallback_enabled) {
                    return None;
                }
            }
            if let Some(f) = self.forward_at(&cur, path) {
                return Some(Ok(f));
            }
            if let Some(s) = self.stub_at(&cur, path) {
                return Some(Err(s));
            }
            if cur.is_root() {
                return None;
            }
            cur = crate::names::parent(&cur);
        }
    }

    /// Looks (name, type) up through its closest configured zone: a
    /// forward zone's servers, else iteration (from a stub zone or the
    /// closest cached cut). A `first` zone whose servers fail is skipped
    /// and the lookup tried again without it.
    pub(super) async fn lookup_configured(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        mut path: LookupPath,
    ) -> Step {
        if !self.auth_zones.is_empty() {
            self.settle_copy(&ds_cut_start(name, qtype)).await;
        }
        // Each pass skips one more configured zone, so this ends.
        loop {
            // A DS set is the parent's: a forward or stub zone at the
            // name itself is not asked for it (as for iteration).
            let closest = self.closest_configured(&ds_cut_start(name, qtype), &path);
            let step = match closest {
                Some(Ok(fwd)) => self.forward(fwd, name, qtype, class, st, &path).await,
                _ => match self.find_cut(&ds_cut_start(name, qtype), st, &path).await {
                    Ok(zs) => {
                        let q = Question::new(name, qtype, class);
                        self.iterate_from(zs, q, st, &path).await
                    }
                    Err(f) => Step::Fail(f),
                },
            };
            let fallback = match closest {
                Some(Ok(f)) if f.first => Some(&f.name),
                Some(Err(s)) if s.first => Some(&s.name),
                _ => None,
            };
            match (step, fallback) {
                (Step::Fail(f), Some(zone)) if may_fall_back(&f) => {
                    st.note(|| {
                        format!("configured servers of {zone} failed ({f}): resolving without them")
                    });
                    path = path.skipping(zone);
                }
                (step, _) => return step,
            }
        }
    }

    /// Sends (name, type) with RD=1 to a forward zone's servers and takes
    /// the first usable reply as the answer. A referral or an empty reply
    /// from a forwarder is an answer without data (as Unbound reads it):
    /// no query goes elsewhere.
    async fn forward(
        &self,
        fwd: &ForwardZone,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Step {
        let mut zs = self.forwarders(fwd, st, path).await;
        st.record(|| TraceEvent::StartAt {
            zone: zs.zone.clone(),
            servers: Vec::new(),
        });
        st.note(|| format!("{name} is in forward zone {}", fwd.name));
        let mut failed = HashSet::new();
        loop {
            let (mut msg, from) = match self
                .query_zone(
                    &mut zs,
                    Question::new(name, qtype, class),
                    st,
                    path,
                    &mut failed,
                )
                .await
            {
                Ok(r) => r,
                Err(f) => return Step::Fail(f),
            };
            let upward = upward_referral(&msg, &fwd.name);
            crate::engine::store::scrub_signed(
                &mut msg,
                &fwd.name,
                name,
                qtype,
                self.config.resolver.harden_glue,
                self.config.dnssec.validate,
            );
            // A forwarder's answers are recursive by nature: RA=1 with
            // AA=0 is how a good one looks, not lameness.
            msg.metadata.recursion_available = false;
            let kind = classify(&msg, &fwd.name, name, qtype);
            let server_failed = match kind {
                Kind::Rcode(_) => true,
                Kind::Referral { .. } | Kind::Lame => upward,
                _ => false,
            };
            let said = || format!("forwarder {from} for {name} {qtype}: {kind}");
            if server_failed {
                st.cause_note(said);
                failed.insert(from);
                continue;
            }
            st.note(said);
            if fwd.no_cache {
                return uncached_step(&msg, kind, name, qtype);
            }
            self.keep_forwarder_ns(&msg, &fwd.name);
            self.stash_sigs(&msg);
            return self.forwarded_step(&msg, kind, Question::new(name, qtype, class), st);
        }
    }

    /// A forward zone's servers: its configured addresses and the
    /// addresses of its configured host names.
    async fn forwarders(
        &self,
        fwd: &ForwardZone,
        st: &QueryState,
        path: &LookupPath,
    ) -> ZoneServers {
        let ips = self.usable(fwd.addrs.iter().map(|a| a.ip()).collect());
        let mut ns = vec![(None, ips)];
        ns.extend(self.forward_hosts(fwd, st, path).await);
        ZoneServers {
            zone: fwd.name.clone(),
            ns,
            configured: fwd.addrs.clone(),
            recursive: true,
            tcp: fwd.tcp,
            local: false,
        }
    }

    /// The step a forwarder's (cached) reply gives.
    fn forwarded_step(&self, msg: &Message, kind: Kind, q: Question<'_>, st: &QueryState) -> Step {
        let (name, qtype, class) = (q.name, q.qtype, q.class);
        match kind {
            Kind::Answer => self.take_answer(
                msg,
                Taking {
                    recursive: true,
                    ..Taking::of(name, qtype, class, st.leeway)
                },
            ),
            Kind::NxDomain => {
                self.cache_negative(msg, name, qtype, class, true);
                Step::NxDomain(Vec::new(), self.negative_soa(msg))
            }
            Kind::NoData => {
                self.cache_negative(msg, name, qtype, class, false);
                Step::NoData(Vec::new(), self.negative_soa(msg))
            }
            Kind::YxDomain => Step::YxDomain(dnames(msg)),
            // Referrals and empty replies are answers without data.
            Kind::Referral { .. } | Kind::Lame | Kind::Rcode(_) => {
                Step::NoData(Vec::new(), Vec::new())
            }
        }
    }

    /// Caches the NS sets a forwarder's reply carries in its authority
    /// section (inside the forward zone, above the name asked: scrubbed
    /// already) and their addresses, at the low ranks of referral data,
    /// so that an RD=0 client can be given a referral from the cache.
    fn keep_forwarder_ns(&self, msg: &Message, zone: &Name) {
        let now = self.clock.now();
        let ns: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && zone.zone_of(&r.name))
            .cloned()
            .collect();
        if ns.is_empty() {
            return;
        }
        for rrset in group_rrsets(&ns) {
            self.cache.insert_rrset(rrset, Rank::AuthorityNonAuth, now);
        }
        let glue: Vec<Record> = msg
            .additionals
            .iter()
            .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
            .cloned()
            .collect();
        for rrset in group_rrsets(&glue) {
            self.cache.insert_rrset(rrset, Rank::Additional, now);
        }
    }

    /// The forwarders a zone names by host name, with their addresses:
    /// cached, else looked up now (through the usual path, which may be
    /// this very forward zone; a host already being looked up on this
    /// path is left out). Hosts without an address are left out.
    async fn forward_hosts(
        &self,
        fwd: &ForwardZone,
        st: &QueryState,
        path: &LookupPath,
    ) -> Vec<(Option<Name>, Vec<IpAddr>)> {
        let limit = self.config.resolver.max_ns_lookups_per_delegation as usize;
        let mut out = Vec::new();
        for host in fwd.hosts.iter().take(limit) {
            let mut ips = self.usable(self.cached_addrs(host, DNSClass::IN));
            if ips.is_empty() && !path.contains(host, RecordType::A) {
                st.note(|| format!("looking up forwarder {host} of {}", fwd.name));
                let step = self
                    .lookup(host, RecordType::A, DNSClass::IN, st, path.clone())
                    .await;
                if let Step::Answer(rs) = step {
                    ips = self.usable(rs.iter().filter_map(|r| r.data.ip_addr()).collect());
                }
            }
            if !ips.is_empty() {
                out.push((Some(host.clone()), ips));
            }
        }
        out
    }

    /// Whether `name` lies in a forward zone that caches nothing (its most
    /// specific configured zone says `no_cache`).
    pub(super) fn uncached_zone(&self, name: &Name) -> bool {
        if !self
            .config
            .resolver
            .forward_zones
            .iter()
            .any(|f| f.no_cache)
        {
            return false;
        }
        matches!(
            self.closest_configured(name, &LookupPath::default()),
            Some(Ok(f)) if f.no_cache
        )
    }

    /// A stub zone's servers: its configured addresses, or with `prime`
    /// the NS set those servers give for the zone (cached once learned).
    pub(super) async fn stub_servers(
        &self,
        stub: &StubZone,
        st: &QueryState,
        path: &LookupPath,
    ) -> ZoneServers {
        let configured = ZoneServers {
            zone: stub.name.clone(),
            ns: vec![(
                None,
                self.usable(stub.addrs.iter().map(|a| a.ip()).collect()),
            )],
            configured: stub.addrs.clone(),
            ..ZoneServers::default()
        };
        if !stub.prime {
            return configured;
        }
        let class = DNSClass::IN;
        let key = Key::RRset(stub.name.clone(), RecordType::NS, class);
        if let Some(Cached::RRset(rs)) = self.cache.get(&key, self.clock.now()) {
            return self.servers_of_ns_set(&stub.name, &rs, &[]);
        }
        st.note(|| format!("priming stub zone {}", stub.name));
        let mut zs = configured.clone();
        let mut failed = HashSet::new();
        let zone = &stub.name;
        if let Ok((mut msg, _)) = self
            .query_zone(
                &mut zs,
                Question::new(zone, RecordType::NS, class),
                st,
                path,
                &mut failed,
            )
            .await
        {
            scrub(&mut msg, zone, zone, RecordType::NS, true);
            msg.metadata.recursion_available = false;
            if classify(&msg, zone, zone, RecordType::NS) == Kind::Answer {
                let _ = self.take_answer(&msg, Taking::of(zone, RecordType::NS, class, st.leeway));
                let primed = self.servers_of_ns_set(zone, &msg.answers, &msg.additionals);
                if !primed.ns.is_empty() {
                    return primed;
                }
            }
        }
        st.note(|| {
            format!(
                "priming stub zone {} failed: using its addresses",
                stub.name
            )
        });
        configured
    }

    /// The servers an NS set names, with addresses from `glue` or the cache.
    fn servers_of_ns_set(&self, zone: &Name, ns: &[Record], glue: &[Record]) -> ZoneServers {
        let ns = ns
            .iter()
            .filter(|r| &r.name == zone)
            .filter_map(|r| match &r.data {
                RData::NS(n) => Some(n.0.clone()),
                _ => None,
            })
            .map(|n| {
                let mut ips: Vec<_> = glue
                    .iter()
                    .filter(|r| r.name == n)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                if ips.is_empty() {
                    ips = self.cached_addrs(&n, DNSClass::IN);
                }
                (Some(n), self.usable(ips))
            })
            .collect();
        ZoneServers {
            zone: zone.clone(),
            ns,
            ..ZoneServers::default()
        }
    }
}

/// A forwarder's reply as a step, nothing cached (forward-no-cache).
fn uncached_step(msg: &Message, kind: Kind, name: &Name, qtype: RecordType) -> Step {
    match kind {
        Kind::Answer => {
            let (chain, end) = follow_chain(&msg.answers, name, qtype);
            match end {
                ChainEnd::Complete => Step::Answer(chain),
                ChainEnd::Alias(_) if msg.metadata.response_code == ResponseCode::NXDomain => {
                    Step::NxDomain(chain, soa_of(msg))
                }
                ChainEnd::Alias(target) => Step::Alias(chain, target),
            }
        }
        Kind::NxDomain => Step::NxDomain(Vec::new(), soa_of(msg)),
        Kind::YxDomain => Step::YxDomain(dnames(msg)),
        _ => Step::NoData(Vec::new(), soa_of(msg)),
    }
}

/// The DNAME records of a YXDOMAIN reply (RFC 6672 §2.2).
fn dnames(msg: &Message) -> Vec<Record> {
    msg.answers
        .iter()
        .filter(|r| r.record_type() == RecordType::DNAME)
        .cloned()
        .collect()
}

/// Where the search for a zone cut starts: a DS set lives in the parent
/// zone (RFC 4035 §3.1.4.1, §4.2), so a DS question starts above its name.
fn ds_cut_start(name: &Name, qtype: RecordType) -> Name {
    if qtype == RecordType::DS && !name.is_root() {
        name.base_name()
    } else {
        name.clone()
    }
}

/// An NS set above the forward zone in an otherwise empty reply is an
/// upward referral: that forwarder is lame.
fn upward_referral(msg: &Message, zone: &Name) -> bool {
    msg.answers.is_empty()
        && msg
            .authorities
            .iter()
            .all(|r| r.record_type() != RecordType::SOA)
        && msg
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NS && !zone.zone_of(&r.name))
}
