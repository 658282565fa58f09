//! The resolver's side of the zone machines (`zone_step`, `zone_walk`):
//! it drives them (sends what they ask through the `Transport`, does the
//! look-ups they wait for) and is their world (`Ctx` implements `StepEnv`
//! and `WalkEnv` over the resolver's selection, cache, configuration and
//! the resolution's trace). Everything here is delegation; the decisions
//! are the machines'.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::clock::{Clock, Mono};
use crate::config::ResolverConfig;
use crate::engine::attempt::{Exchange, Heard, Waits};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, Step, ZoneServers};
use crate::engine::tries::Tries;
use crate::engine::walk::{Ask, End, Resort};
use crate::engine::zone_step::{Asking, StepAction, StepEnv, ZoneStep};
use crate::engine::zone_walk::{start_at, Action, Got, Need, WalkEnv, ZoneWalk};
use crate::engine::{Failure, Resolver};
use crate::upstream::selection::Outcome;
use crate::upstream::Transport;

/// The resolver as the world of one resolution's zone machines.
pub(super) struct Ctx<'a, T: Transport, C: Clock> {
    pub r: &'a Resolver<T, C>,
    pub st: &'a QueryState,
    pub path: &'a LookupPath,
    /// The class of the question walked.
    pub class: DNSClass,
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Walks from the servers `zs` down to the answer for (name, type).
    pub(super) async fn iterate_from(
        &self,
        zs: ZoneServers,
        q: Question<'_>,
        st: &QueryState,
        path: &LookupPath,
    ) -> Step {
        let cx = Ctx {
            r: self,
            st,
            path,
            class: q.class,
        };
        st.record(|| start_at(&zs));
        let mut walk = ZoneWalk::new(zs, q, self.config.resolver.qname_minimisation);
        loop {
            match walk.next(self.clock.now(), &cx) {
                Action::Done(step) => return step,
                Action::Send(send) => {
                    let now = self.clock.now();
                    let Some(asked) = walk.asking() else {
                        return Step::Fail(Failure::Internal("a send without a question"));
                    };
                    let (got, after) = self.send(walk.servers(), asked, send, now, st).await;
                    walk.on_reply(after, got, &cx);
                }
                Action::Need(need) => {
                    let got = self.look_up(need, &mut walk, q, &cx).await;
                    walk.on_found(got, &cx);
                }
            }
        }
    }

    /// Does a look-up a walk waits for.
    async fn look_up(
        &self,
        need: Need,
        walk: &mut ZoneWalk<'_>,
        q: Question<'_>,
        cx: &Ctx<'_, T, C>,
    ) -> Got {
        match need {
            Need::LocalCopy(zone) => {
                Got::LocalCopy(self.local_copy_below(&zone, q.name, q.qtype, cx.path).await)
            }
            Need::NsNames => {
                self.resolve_ns_names(walk.servers_mut(), cx.st, cx.path)
                    .await;
                Got::NsNames
            }
            Need::ChildNs(mut asked) => {
                let own = self.child_ns_set(&mut asked, q.class, cx.st, cx.path).await;
                Got::ChildNs { asked, own }
            }
            Need::CutAbove(above) => {
                Got::CutAbove(self.find_cut(&above, cx.st, cx.path).await.ok())
            }
        }
    }

    /// Sends the question to the best server of the zone that has not
    /// failed this step, with retries; returns the first reply that is not
    /// a transport failure. Glueless NS names are resolved when needed.
    pub(super) async fn query_zone(
        &self,
        zs: &mut ZoneServers,
        q: Question<'_>,
        st: &QueryState,
        path: &LookupPath,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        let cx = Ctx {
            r: self,
            st,
            path,
            class: q.class,
        };
        let mut step = ZoneStep::default();
        loop {
            let now = self.clock.now();
            match step.next(now, &cx, Asking { q, zs, failed }) {
                StepAction::Done(result) => return result,
                StepAction::ResolveNames => {
                    self.resolve_ns_names(zs, st, path).await;
                }
                StepAction::Send(send) => {
                    let (got, after) = self.send(zs, q, send, now, st).await;
                    step.on_reply(after, got, &cx, (q, zs));
                }
            }
        }
    }
}

impl<T: Transport, C: Clock> StepEnv for Ctx<'_, T, C> {
    fn st(&self) -> &QueryState {
        self.st
    }

    fn local_reply(
        &self,
        zs: &ZoneServers,
        q: Question<'_>,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        self.r
            .local_copy_reply(zs, q.name, q.qtype, q.class, self.st, failed)
    }

    fn order(
        &self,
        zs: &ZoneServers,
        failed: &HashSet<SocketAddr>,
        qtype: RecordType,
        now: Mono,
    ) -> Result<Vec<SocketAddr>, Failure> {
        self.r.server_order(zs, failed, qtype, self.st, now)
    }

    fn set_aside(&self, addr: SocketAddr, now: Mono) -> bool {
        self.r.config.dnssec.validate && self.r.suspects.is_set_aside(&addr, now)
    }

    fn probe(&self, addr: SocketAddr, now: Mono) -> bool {
        self.r.probe(addr, now, self.st)
    }

    fn limits(&self) -> (usize, u32) {
        let cfg = &self.r.config;
        (
            cfg.upstream.retries as usize,
            cfg.resolver.max_upstream_queries,
        )
    }

    fn exchange(&self, addr: SocketAddr, zs: &ZoneServers, q: Question<'_>) -> Exchange {
        self.r.start_exchange(addr, zs, q, self.st)
    }

    fn waits(&self, addr: SocketAddr, now: Mono) -> Waits {
        Waits {
            udp: self.r.selection.rto(addr, now),
            tcp: self.r.config.upstream.tcp_timeout,
        }
    }

    fn id(&self) -> u16 {
        self.r.ids.next()
    }

    fn heard(
        &self,
        addr: SocketAddr,
        zs: &ZoneServers,
        q: Question<'_>,
        ex: &Exchange,
        heard: Heard,
        now: Mono,
    ) {
        self.r.heard((addr, zs, q), ex, heard, now, self.st);
    }

    fn answered(&self, q: Question<'_>, addr: SocketAddr) {
        if self.r.config.dnssec.validate {
            self.r.suspects.answered(q.name, q.qtype, addr);
        }
    }

    fn give_up_zone(&self, zs: &ZoneServers, tries: &Tries, qtype: RecordType, now: Mono) {
        self.r.give_up_zone(zs, tries, qtype, now);
    }
}

impl<T: Transport, C: Clock> WalkEnv for Ctx<'_, T, C> {
    fn config(&self) -> &ResolverConfig {
        &self.r.config.resolver
    }

    fn validating(&self) -> bool {
        self.r.config.dnssec.validate
    }

    fn has_local_copies(&self) -> bool {
        !self.r.auth_zones.is_empty()
    }

    fn policy_stop(&self, zs: &ZoneServers) -> Option<Failure> {
        self.r.policy_stop(zs, self.path)
    }

    fn cached_nodata(&self, name: &Name, zone: &Name) -> bool {
        self.r.cached_nodata_in(name, self.class, zone)
    }

    fn configured(&self, zone: &Name) -> bool {
        self.r.configured_zone(zone)
    }

    fn parent_side(&self, zs: &ZoneServers) -> Option<ZoneServers> {
        self.r.parent_side(zs)
    }

    fn stash_sigs(&self, msg: &Message) {
        self.r.stash_sigs(msg);
    }

    fn learn(&self, from: SocketAddr, zone: &Name, qtype: RecordType, outcome: Outcome, now: Mono) {
        self.r.learn(from, zone, qtype, outcome, now);
    }

    fn keep_nodata(&self, msg: &Message, ask: &Ask) {
        // Not when the answer holds for one client subnet only.
        if self.st.scope() == 0 {
            self.r
                .cache_negative(msg, &ask.name, ask.qtype, self.class, false);
        }
    }

    fn cache_referral(&self, msg: &Message, child: &Name) {
        self.r.cache_referral(msg, child);
    }

    fn servers_from_referral(&self, msg: &Message, child: &Name) -> ZoneServers {
        self.r.servers_from_referral(msg, child, self.class)
    }

    fn finish(&self, end: End, msg: &Message, zone: &Name, q: Question<'_>) -> Step {
        self.r.finish_walk(end, msg, zone, q, self.st)
    }

    fn last_resort(&self, resort: Resort, q: Question<'_>) -> Step {
        self.r.last_resort(resort, q, self.st)
    }
}
