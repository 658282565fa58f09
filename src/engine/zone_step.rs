//! One zone step as an I/O-free machine: one question to one zone's
//! servers until a reply to use, or the step fails. It strings together
//! the tries of the zone's servers (`tries`: which server next, when to
//! give up, NS names without glue first) and the exchange with each
//! (`attempt`: UDP, TCP after TC=1, without EDNS after FORMERR, the
//! deadlines). The caller asks `next(now, …)` what to do: send bytes,
//! find addresses for the zone's glueless NS names, or done; does it; and
//! hands back what a send brought with `on_reply(now, …)`.
//!
//! What the machine needs to know of the world (server order, RTOs, query
//! IDs, the budget) and what it tells (what a server did, for selection
//! and the trace) goes through `StepEnv`, which the resolver implements
//! over its selection, cache and trace, and tests implement over tables.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::clock::Mono;
use crate::engine::attempt::{Exchange, ExchangeError, Heard, Late, Next, Send, Waits};
use crate::engine::state::QueryState;
use crate::engine::step::{Question, ZoneServers};
use crate::engine::tries::{Asked, Pick, Tries};
use crate::engine::Failure;
use crate::upstream::ReplyBytes;

/// What a zone step needs of the world and tells it.
pub(super) trait StepEnv {
    /// The resolution the step is part of (trace, budget).
    fn st(&self) -> &QueryState;
    /// A zone answered from a local copy: its reply.
    fn local_reply(
        &self,
        zs: &ZoneServers,
        q: Question<'_>,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure>;
    /// The zone's servers not failed this step, best first; fails when the
    /// zone's servers are all held down.
    fn order(
        &self,
        zs: &ZoneServers,
        failed: &HashSet<SocketAddr>,
        qtype: RecordType,
        now: Mono,
    ) -> Result<Vec<SocketAddr>, Failure>;
    /// `addr` served bogus data lately: set aside while others may serve.
    fn set_aside(&self, addr: SocketAddr, now: Mono) -> bool;
    /// Whether asking `addr` now probes a server held down (claimed).
    fn probe(&self, addr: SocketAddr, now: Mono) -> bool;
    /// Timeouts allowed the zone's only server, and the upstream budget.
    fn limits(&self) -> (usize, u32);
    /// The exchange of `q` with `addr`, one of `zs`'s servers (the query
    /// with EDNS or not, client subnet, time window).
    fn exchange(&self, addr: SocketAddr, zs: &ZoneServers, q: Question<'_>) -> Exchange;
    /// How long to wait for `addr`'s reply, by protocol.
    fn waits(&self, addr: SocketAddr, now: Mono) -> Waits;
    /// The ID of the next query sent.
    fn id(&self) -> u16;
    /// What an exchange with `addr` heard at `now`.
    fn heard(
        &self,
        addr: SocketAddr,
        zs: &ZoneServers,
        q: Question<'_>,
        ex: &Exchange,
        heard: Heard,
        now: Mono,
    );
    /// `addr` gave the reply used for `q`.
    fn answered(&self, q: Question<'_>, addr: SocketAddr);
    /// The step gave up on the zone: hold down the servers `tries` says.
    fn give_up_zone(&self, zs: &ZoneServers, tries: &Tries, qtype: RecordType, now: Mono);
}

/// What the zone step does next.
#[derive(Debug, PartialEq)]
pub(super) enum StepAction {
    /// Send these bytes and hand what comes to `on_reply`.
    Send(Send),
    /// Find addresses for the zone's NS names without glue, then ask
    /// `next` again.
    ResolveNames,
    /// The reply to use and its server, or why the step failed.
    Done(Result<(Message, SocketAddr), Failure>),
}

/// The exchange under way and what the tries know of its server.
struct Current {
    ex: Exchange,
    asked: Asked,
}

/// One question to one zone's servers. The question and the servers are
/// the caller's, handed in with each call.
#[derive(Default)]
pub(super) struct ZoneStep {
    tries: Tries,
    current: Option<Current>,
}

/// The question a step asks of which servers, and those failed this step
/// (not asked again).
pub(super) struct Asking<'a> {
    pub q: Question<'a>,
    pub zs: &'a ZoneServers,
    pub failed: &'a mut HashSet<SocketAddr>,
}

impl ZoneStep {
    /// The next thing to do at `now`.
    pub fn next<E: StepEnv>(&mut self, now: Mono, env: &E, a: Asking<'_>) -> StepAction {
        let Asking { q, zs, failed } = a;
        if zs.local {
            return StepAction::Done(env.local_reply(zs, q, failed));
        }
        loop {
            if let Some(cur) = self.current.as_mut() {
                // An ID and a wait are drawn only for a send.
                let next = match cur.ex.ended() {
                    Some(result) => Next::Done(result),
                    None => cur.ex.next(now, env.id(), env.waits(cur.asked.addr, now)),
                };
                let ended = match next {
                    Next::Send(send) if env.st().spend() => return StepAction::Send(send),
                    Next::Send(_) => ExchangeError::Budget,
                    Next::Done(Ok(msg)) => {
                        let addr = cur.asked.addr;
                        self.current = None;
                        env.answered(q, addr);
                        return StepAction::Done(Ok((msg, addr)));
                    }
                    Next::Done(Err(e)) => e,
                    Next::Late(late) => {
                        env.st().note(|| match late {
                            Late::Query => "query timeout reached: giving up",
                            Late::Client => "client timeout reached: answering from stale data",
                        });
                        ExchangeError::Deadline
                    }
                };
                let asked = cur.asked;
                self.current = None;
                if let Some(f) = self.tries.ended(asked, ended, || zs.addrs().len(), failed) {
                    return StepAction::Done(Err(f));
                }
                continue;
            }
            if let Some(action) = self.pick(now, env, q, zs, failed) {
                return action;
            }
        }
    }

    /// Picks the next server and starts an exchange with it (None), or
    /// says what else to do.
    fn pick<E: StepEnv>(
        &mut self,
        now: Mono,
        env: &E,
        q: Question<'_>,
        zs: &ZoneServers,
        failed: &HashSet<SocketAddr>,
    ) -> Option<StepAction> {
        let order = match env.order(zs, failed, q.qtype, now) {
            Ok(order) => order,
            Err(f) => return Some(StepAction::Done(Err(f))),
        };
        let best = order.first().copied();
        let set_aside = best.is_some_and(|a| env.set_aside(a, now));
        match self.tries.pick(best, set_aside) {
            Pick::Ask(addr) => {
                let (retries, budget) = env.limits();
                let asked = Asked {
                    addr,
                    probe: env.probe(addr, now),
                    retries,
                    budget,
                };
                let ex = env.exchange(addr, zs, q);
                self.current = Some(Current { ex, asked });
                None
            }
            Pick::ResolveNames => Some(StepAction::ResolveNames),
            stop @ (Pick::OutOfServers | Pick::TooManyTries) => {
                let end = self.tries.give_up(stop, &zs.addrs(), failed);
                if end.zone_down {
                    env.give_up_zone(zs, &self.tries, q.qtype, now);
                }
                Some(StepAction::Done(Err(end.failure)))
            }
        }
    }

    /// Takes in what the last send of `q` to one of `zs` brought at `now`.
    pub fn on_reply<E: StepEnv>(
        &mut self,
        now: Mono,
        got: ReplyBytes,
        env: &E,
        (q, zs): (Question<'_>, &ZoneServers),
    ) {
        if let Some(cur) = self.current.as_mut() {
            let heard = cur.ex.on_reply(now, got);
            env.heard(cur.asked.addr, zs, q, &cur.ex, heard, now);
        }
    }
}
