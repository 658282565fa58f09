//! Iteration: from the closest known zone cut down to an answer for one
//! (name, type), following referrals (RFC 1034 §5.3.3), minimising the
//! query name on the way (RFC 9156, relaxed), resolving NS names that came
//! without glue, and caching what each reply teaches. This file only
//! sequences; the decisions live in `walk` (what a reply means and how
//! the walk moves on), `tries`, `attempt`, `classify` and `selection`.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use super::store::Taking;
use crate::clock::Clock;
use crate::engine::classify::Kind;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, Step, ZoneServers};
use crate::engine::store::{soa_of, AnswerFrom};
use crate::engine::walk::read::{read, Reading, Rules};
use crate::engine::walk::{
    Ask, Down, End, Found, Full, Lookup, Recover, Resort, Then, Verdict, Walk,
};
use crate::engine::{Failure, Resolver, TraceEvent};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    pub(super) async fn iterate_from(
        &self,
        zs: ZoneServers,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Step {
        let cx = WalkCx {
            q: Question::new(name, qtype, class),
            st,
            path,
        };
        let mut w = Walk::new(zs, self.config.resolver.qname_minimisation);
        st.record(|| start_at(&w.zs));
        loop {
            if !w.zs.local && !self.auth_zones.is_empty() {
                if let Err(f) = self.enter_local_copy(&mut w, &cx).await {
                    return Step::Fail(f);
                }
            }
            if let Some(f) = self.policy_stop(&w.zs, path) {
                return Step::Fail(f);
            }
            let ask = w.ask(name, qtype);
            // A minimised name these servers answered NODATA for lately,
            // from this very zone (an empty non-terminal, or a name with
            // no address): no zone cut there, so the next label is asked
            // at once instead of the same question again.
            if ask.minimised && self.cached_nodata_in(&ask.name, class, &w.zs.zone) {
                st.note(|| {
                    format!(
                        "{}: NODATA from {} cached, going on down",
                        ask.name, w.zs.zone
                    )
                });
                w.descend();
                continue;
            }
            let asked = Question::new(&ask.name, ask.qtype, class);
            let (mut msg, from) = match self
                .query_zone(&mut w.zs, asked, st, path, &mut w.failed)
                .await
            {
                Ok(r) => r,
                Err(f) => match self.zone_failed(&mut w, f, &cx).await {
                    Some(step) => return step,
                    None => continue,
                },
            };
            let rules = Rules {
                cfg: &self.config.resolver,
                validate: self.config.dnssec.validate,
            };
            let Reading {
                kind,
                verdict,
                private_removed,
            } = read(&mut msg, &w.zs.zone, &ask, name, rules);
            if private_removed > 0 {
                st.note(|| format!("removed {private_removed} private addresses from the answer"));
            }
            if !matches!(kind, Kind::Rcode(_) | Kind::Lame) {
                self.stash_sigs(&msg);
            }
            st.record(|| {
                TraceEvent::Note(format!("{from} for {} {}: {kind}", ask.name, ask.qtype))
            });
            if let Some(step) = self.follow(&mut w, verdict, (msg, from), &ask, &cx).await {
                return step;
            }
        }
    }

    /// When the name lies in an auth zone below the walk's zone, the walk
    /// goes on from that zone's local copy.
    async fn enter_local_copy(&self, w: &mut Walk, cx: &WalkCx<'_>) -> Result<(), Failure> {
        let q = cx.q;
        if let Some(local) = self
            .local_copy_below(&w.zs.zone, q.name, q.qtype, cx.path)
            .await?
        {
            cx.st.note(|| {
                format!(
                    "{} is in auth zone {}: answering from its copy",
                    q.name, local.zone
                )
            });
            let cut = local.zone.clone();
            w.enter(local, &cut);
        }
        Ok(())
    }

    /// A response policy with a trigger for these servers decides the
    /// client's question (not the lookups made on its way).
    fn policy_stop(&self, zs: &ZoneServers, path: &LookupPath) -> Option<Failure> {
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

    /// Every server of the zone failed this step: a last resort, the
    /// parent's delegation, or the parent asked again (`Walk::zone_failed`
    /// decides, this looks up what it needs); None to go on.
    async fn zone_failed(&self, w: &mut Walk, f: Failure, cx: &WalkCx<'_>) -> Option<Step> {
        let configured = self.configured_zone(&w.zs.zone);
        let why = f.clone();
        let mut next = w.zone_failed(f, configured);
        loop {
            let found = match next {
                Recover::Resort(resort) => return Some(self.last_resort(resort, cx)),
                Recover::Fail(f) => return Some(Step::Fail(f)),
                Recover::Need(Lookup::ParentSide) => {
                    let got = self.parent_side(&w.zs);
                    if got.is_some() {
                        cx.st.note(|| {
                            format!(
                                "servers of {} failed ({why}): trying the delegation its parent gave",
                                w.zs.zone
                            )
                        });
                    }
                    Found::ParentSide(got)
                }
                // The cached delegation turned useless (its NS names do
                // not resolve, its servers are lame) and the parent's copy
                // has expired: ask the parent again, once, as Unbound does.
                Recover::Need(Lookup::CutAbove(above)) => {
                    let got = self.find_cut(&above, cx.st, cx.path).await.ok();
                    if let Some(parent) = &got {
                        cx.st.note(|| {
                            format!(
                                "servers of {} are useless ({why}): asking {} for the delegation again",
                                w.zs.zone, parent.zone
                            )
                        });
                    }
                    Found::CutAbove(got)
                }
            };
            match w.on_lookup(found, configured) {
                None => return None,
                Some(then) => next = then,
            }
        }
    }

    /// Last resorts when every server is lame, as Unbound: a recursive
    /// server's answer, else an authoritative empty reply read as NODATA
    /// (not cached: it has no SOA to say for how long).
    fn last_resort(&self, resort: Resort, cx: &WalkCx<'_>) -> Step {
        let (st, q) = (cx.st, cx.q);
        match resort {
            Resort::RecursiveNoData(msg) => {
                st.note(|| "every server is lame: using a recursive server's NODATA");
                if !self.config.resolver.minimal_responses {
                    self.keep_sections(&msg, q.name, q.qtype, q.class, st.leeway);
                }
                Step::NoData(Vec::new(), soa_of(&msg))
            }
            Resort::RecursiveAnswer(msg) => {
                st.note(|| "every server is lame: using a recursive server's answer");
                self.take_answer(&msg, Taking::of(q.name, q.qtype, q.class, st.leeway))
            }
            Resort::EmptyAa => {
                st.note(|| "every server is lame: an empty AA reply counts as NODATA");
                Step::NoData(Vec::new(), Vec::new())
            }
        }
    }

    /// Does what a verdict on a reply calls for (`Walk::take` decides);
    /// the step when the walk ends.
    async fn follow(
        &self,
        w: &mut Walk,
        verdict: Verdict,
        (msg, from): (Message, SocketAddr),
        ask: &Ask,
        cx: &WalkCx<'_>,
    ) -> Option<Step> {
        let (st, q) = (cx.st, cx.q);
        note_verdict(&verdict, ask, st);
        let taken = w.take(verdict, msg, from, self.config.resolver.max_referrals);
        if let Some(outcome) = taken.learn {
            self.learn(from, &w.zs.zone, ask.qtype, outcome, self.clock.now());
        }
        match taken.then {
            Then::Continue => None,
            // The NODATA is kept (unless the answer holds for one client
            // subnet), so the next name below it skips this question.
            Then::KeepNoData(msg) => {
                if st.scope() == 0 {
                    self.cache_negative(&msg, &ask.name, ask.qtype, q.class, false);
                }
                None
            }
            Then::Fail(f) => Some(Step::Fail(f)),
            Then::Referral { child, reply } => {
                self.follow_referral(w, &reply, child, ask, cx).await
            }
            Then::Finish(End::NoDsAtParent { child }, msg) => {
                st.note(|| "a referral in reply to a DS question: no DS at the parent");
                self.cache_referral(&msg, &child);
                Some(Step::NoData(Vec::new(), self.negative_soa(&msg)))
            }
            Then::Finish(end, msg) => Some(self.finish_walk(end, &msg, &w.zs.zone, cx)),
        }
    }

    /// Follows a referral to `child` (the parent's NS set, or with
    /// harden-referral-path the child's own).
    async fn follow_referral(
        &self,
        w: &mut Walk,
        msg: &Message,
        child: Name,
        ask: &Ask,
        cx: &WalkCx<'_>,
    ) -> Option<Step> {
        let cfg = &self.config.resolver;
        self.cache_referral(msg, &child);
        let mut zs = self.servers_from_referral(msg, &child, cx.q.class);
        if ask.wants_own_ns(&child, cfg.harden_referral_path) {
            if let Some(own) = self.child_ns_set(&mut zs, cx.q.class, cx.st, cx.path).await {
                zs = own;
            }
        }
        cx.st.record(|| start_at(&zs));
        w.enter(zs, &child);
        None
    }

    /// The step a final verdict gives for the question. An answer for one
    /// client subnet (ECS scope above 0) stays out of the shared cache.
    fn finish_walk(&self, end: End, msg: &Message, zone: &Name, cx: &WalkCx<'_>) -> Step {
        let (st, q) = (cx.st, cx.q);
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
            _ => {
                // YXDOMAIN: the DNAME that overflows is passed on.
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

/// The question a walk is for, and the resolution it belongs to.
struct WalkCx<'a> {
    q: Question<'a>,
    st: &'a QueryState,
    path: &'a LookupPath,
}

/// Says why the walk changes course on a verdict.
fn note_verdict(verdict: &Verdict, ask: &Ask, st: &QueryState) {
    match verdict {
        Verdict::FullName(why) => st.note(|| match why {
            Full::Rcode(rcode) => format!("{rcode} to a minimised query: asking for the full name"),
            Full::NxDomain => {
                "NXDOMAIN to a minimised query: asking for the full name (relaxed)".into()
            }
            Full::Lame => format!(
                "{}: lame reply to a minimised query: asking for the full name",
                ask.name
            ),
        }),
        Verdict::Down(Down::EmptyAa) => {
            st.note(|| format!("{}: empty AA reply without SOA, going on down", ask.name))
        }
        _ => {}
    }
}

/// The trace event for starting at a zone's servers.
fn start_at(zs: &ZoneServers) -> TraceEvent {
    TraceEvent::StartAt {
        zone: zs.zone.clone(),
        servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
    }
}
