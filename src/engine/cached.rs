//! What the cache says about one (name, type) before any server is asked:
//! data trusted enough to answer a client with (RFC 2181 §5.4.1), stale
//! data when serve-stale allows it (RFC 8767), CNAMEs synthesised from a
//! cached DNAME (RFC 6672 §3.2), and the lookup that goes to the servers
//! only when the cache has nothing.

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Hit, Key, Rank};
use crate::clock::Clock;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{BoxStep, Step};
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
        // Only a secure DNAME is used: without validation none is, and a
        // cache that never held a DNAME has none to find.
        if qtype == RecordType::DS
            || name.is_root()
            || !self.config.dnssec.validate
            || !self.cache.may_hold_dname()
        {
            return None;
        }
        let mut owner = crate::names::parent(name);
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
            owner = crate::names::parent(&owner);
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
    pub(super) fn cached_nodata_in(&self, name: &Name, class: DNSClass, zone: &Name) -> bool {
        let key = Key::RRset(name.clone(), RecordType::A, class);
        match self.cache.get(&key, self.clock.now()) {
            Some(Cached::NoData(soa)) => soa
                .iter()
                .any(|r| r.record_type() == RecordType::SOA && r.name == *zone),
            _ => false,
        }
    }
}
