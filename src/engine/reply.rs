//! The resolution made at the end of a chain: the answer with the
//! authority and additional sections kept for it or the zone's NS set and
//! addresses (non-minimal responses, as Unbound's message cache), live
//! SOAs for negative answers, and for RD=0 a referral from the cache.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cached, Hit, Key, Rank};
use crate::clock::Clock;
use crate::engine::state::QueryState;
use crate::engine::{Failure, Resolution, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    pub(super) fn finish(
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
            if let Some(sections) = self.kept_sections(&answers, last, st) {
                (authorities, additionals) = sections;
            }
        }
        authorities = self.live_soa(authorities);
        if self.config.resolver.minimal_responses && rcode == ResponseCode::NoError {
            if let Some(b) = self.ns_answer_addresses(&answers) {
                additionals = b;
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
            causes: Vec::new(),
            security: crate::dnssec::Security::Unchecked,
            ecs_scope: st.scope(),
        }
    }

    /// The authority and additional sections kept around where the answer
    /// ends: its last record, or for a NODATA that came without an SOA,
    /// the question asked last (whose reply's own sections are all there
    /// is to add); else the zone's NS set and addresses. None: nothing.
    fn kept_sections(
        &self,
        answers: &[Record],
        last: (&Name, RecordType),
        st: &QueryState,
    ) -> Option<(Vec<Record>, Vec<Record>)> {
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
            }) => Some(if stale {
                st.saw(true, false);
                (self.freshen(a), self.freshen(b))
            } else {
                // As the cache holds those RRsets now.
                let kept = Rank::of(Section::Authority, rank == Rank::AnswerAuth);
                (
                    self.live_records(a, kept, Some(serial)),
                    self.live_records(b, Rank::Additional, Some(serial)),
                )
            }),
            _ => owner.map(|owner| self.zone_ns_with_addrs(&owner)),
        }
    }

    /// An NS answer keeps the addresses its reply carried, even in a
    /// minimal response (as Unbound does).
    fn ns_answer_addresses(&self, answers: &[Record]) -> Option<Vec<Record>> {
        let owner = answers
            .last()
            .filter(|r| r.record_type() == RecordType::NS)
            .map(|r| r.name.clone())?;
        let key = Key::Sections(owner, RecordType::NS, DNSClass::IN);
        match self.cache.get(&key, self.clock.now()) {
            Some(Cached::Sections(_, b)) => Some(b),
            _ => None,
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
            cur = crate::names::parent(&cur);
        }
    }

    /// RD=0 and nothing cached: a referral to the closest cached zone cut
    /// (what Unbound does); REFUSED when nothing at all is cached.
    pub(super) fn cache_referral_answer(&self, name: &Name, st: &QueryState) -> Resolution {
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
            cur = crate::names::parent(&cur);
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
