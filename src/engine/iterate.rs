//! What the walk down from a zone cut stores and answers with, on the
//! resolver's side: the response policy's stop at a zone's servers, the
//! step a final reply gives (cached unless it holds for one client subnet
//! only), and the last resorts when every server is lame. The walk itself
//! is `zone_walk` (driven by `drive.rs`).

use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};

use super::store::Taking;
use crate::clock::Clock;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, Step, ZoneServers};
use crate::engine::store::{soa_of, AnswerFrom};
use crate::engine::walk::{End, Resort};
use crate::engine::{Failure, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// A response policy with a trigger for these servers decides the
    /// client's question (not the lookups made on its way).
    pub(super) fn policy_stop(&self, zs: &ZoneServers, path: &LookupPath) -> Option<Failure> {
        if path.depth() != 1 || zs.recursive {
            return None;
        }
        let p = self.policy()?;
        let ns_names: Vec<Name> = zs.ns.iter().filter_map(|(n, _)| n.clone()).collect();
        let addrs: Vec<IpAddr> = zs.ns.iter().flat_map(|(_, a)| a.iter().copied()).collect();
        p.stops_at_cut(&ns_names, &addrs).then(|| {
            Failure::Policy(Box::new(crate::engine::ZoneCut {
                zone: zs.zone.clone(),
                ns_names,
                addrs,
            }))
        })
    }

    /// The step a last resort gives: a recursive server's answer or NODATA,
    /// else an authoritative empty reply read as NODATA (not cached: it
    /// has no SOA to say for how long).
    pub(super) fn last_resort(&self, resort: Resort, q: Question<'_>, st: &QueryState) -> Step {
        match resort {
            Resort::RecursiveNoData(msg) => {
                if !self.config.resolver.minimal_responses {
                    self.keep_sections(&msg, q.name, q.qtype, q.class, st.leeway);
                }
                Step::NoData(Vec::new(), soa_of(&msg))
            }
            Resort::RecursiveAnswer(msg) => {
                self.take_answer(&msg, Taking::of(q.name, q.qtype, q.class, st.leeway))
            }
            Resort::EmptyAa => Step::NoData(Vec::new(), Vec::new()),
        }
    }

    /// The step a final verdict gives for the question. An answer for one
    /// client subnet (ECS scope above 0) stays out of the shared cache.
    pub(super) fn finish_walk(
        &self,
        end: End,
        msg: &Message,
        zone: &Name,
        q: Question<'_>,
        st: &QueryState,
    ) -> Step {
        match end {
            End::NxDomain => {
                if st.scope() == 0 {
                    self.cache_negative(msg, q.name, q.qtype, q.class, true);
                }
                Step::NxDomain(Vec::new(), self.negative_soa(msg))
            }
            End::NoData => {
                if st.scope() == 0 {
                    self.cache_negative(msg, q.name, q.qtype, q.class, false);
                }
                if !self.config.resolver.minimal_responses {
                    self.keep_sections(msg, q.name, q.qtype, q.class, st.leeway);
                }
                Step::NoData(Vec::new(), self.negative_soa(msg))
            }
            End::Answer => {
                let from = AnswerFrom {
                    zone,
                    started: st.start,
                    scoped: st.scope() > 0,
                };
                self.take_answer(
                    msg,
                    Taking {
                        from: Some(from),
                        ..Taking::of(q.name, q.qtype, q.class, st.leeway)
                    },
                )
            }
            End::NoDsAtParent { child } => {
                st.note(|| "a referral in reply to a DS question: no DS at the parent");
                self.cache_referral(msg, &child);
                Step::NoData(Vec::new(), self.negative_soa(msg))
            }
            End::YxDomain => {
                // The DNAME that overflows is passed on.
                let dname: Vec<Record> = msg
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == RecordType::DNAME)
                    .cloned()
                    .collect();
                Step::YxDomain(dname)
            }
        }
    }
}
