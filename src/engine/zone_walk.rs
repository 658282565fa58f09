//! The walk from a zone cut down to the answer for one (name, type), as
//! an I/O-free machine: `next(now, …)` says what to do (send bytes, look
//! something up, or done with a `Step`), the caller does it and hands back
//! what a send brought (`on_reply`) or what a look-up found (`on_found`).
//!
//! Its states: entering a zone's servers (the local copy below, the
//! response policy), asking the walk's next question (QNAME minimisation:
//! `Walk::ask`, a cached NODATA skipping a label), one zone step out
//! (`ZoneStep`), a look-up awaited (the zone's glueless NS names, the
//! child's own NS set after a referral, the parent asked again), and the
//! end. What a reply means (`walk::read`), how the walk moves on by it
//! (`Walk::take`), and the fallback ladder when a zone's servers fail
//! (`Walk::zone_failed`) are the pure pieces it strings together; what it
//! needs of the cache and what it stores there goes through `WalkEnv`.

use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};

use crate::clock::Mono;
use crate::config::ResolverConfig;
use crate::engine::attempt::Send;
use crate::engine::classify::Kind;
use crate::engine::step::{Question, Step, ZoneServers};
use crate::engine::walk::read::{read, Reading, Rules};
use crate::engine::walk::{self, Ask, Down, End, Full, Recover, Resort, Then, Verdict, Walk};
use crate::engine::zone_step::{Asking, StepAction, StepEnv, ZoneStep};
use crate::engine::{Failure, TraceEvent};
use crate::upstream::selection::Outcome;
use crate::upstream::ReplyBytes;

/// What the walk needs of the cache and the configuration, and what it
/// stores.
pub(super) trait WalkEnv: StepEnv {
    fn config(&self) -> &ResolverConfig;
    /// DNSSEC validation is on.
    fn validating(&self) -> bool;
    /// Some auth zone may hold a copy below a zone.
    fn has_local_copies(&self) -> bool;
    /// A response policy stops the walk at these servers.
    fn policy_stop(&self, zs: &ZoneServers) -> Option<Failure>;
    /// A NODATA for (`name`, A) from `zone` is cached.
    fn cached_nodata(&self, name: &Name, zone: &Name) -> bool;
    /// `zone` is a configured stub, forward or auth zone.
    fn configured(&self, zone: &Name) -> bool;
    /// The delegation the parent of `zs`'s zone gave, if it names other
    /// servers.
    fn parent_side(&self, zs: &ZoneServers) -> Option<ZoneServers>;
    /// Keeps the signatures a usable reply carried.
    fn stash_sigs(&self, msg: &Message);
    /// Tells selection what `from` did for `zone`.
    fn learn(&self, from: SocketAddr, zone: &Name, qtype: RecordType, outcome: Outcome, now: Mono);
    /// Keeps a NODATA for a minimised name asked.
    fn keep_nodata(&self, msg: &Message, ask: &Ask);
    /// Caches a referral to `child`.
    fn cache_referral(&self, msg: &Message, child: &Name);
    /// The servers a referral to `child` names.
    fn servers_from_referral(&self, msg: &Message, child: &Name) -> ZoneServers;
    /// Caches what a final reply from `zone` says about `q` and gives
    /// the step.
    fn finish(&self, end: End, msg: &Message, zone: &Name, q: Question<'_>) -> Step;
    /// The step a last resort gives for `q`.
    fn last_resort(&self, resort: Resort, q: Question<'_>) -> Step;
}

/// A look-up the walk waits for.
#[derive(Debug)]
pub(super) enum Need {
    /// An auth zone's copy below the walk's zone that holds the name.
    LocalCopy(Name),
    /// Addresses for the walk's zone's NS names without glue, filled in
    /// the servers `ZoneWalk::servers_mut` gives.
    NsNames,
    /// The child's own NS set, asked of the servers the referral gave.
    ChildNs(ZoneServers),
    /// The servers of the closest zone above this name (the parent, asked
    /// for the delegation again).
    CutAbove(Name),
}

/// What a look-up found.
#[derive(Debug)]
pub(super) enum Got {
    LocalCopy(Result<Option<ZoneServers>, Failure>),
    NsNames,
    /// The servers asked, and the child's own set if it gave one.
    ChildNs {
        asked: ZoneServers,
        own: Option<ZoneServers>,
    },
    CutAbove(Option<ZoneServers>),
}

/// What the walk does next.
#[derive(Debug)]
pub(super) enum Action {
    Send(Send),
    Need(Need),
    Done(Step),
}

enum Stage {
    /// At new servers: the local copy below is looked for first.
    Enter,
    /// The local copy is settled: the policy, then the question.
    Entered,
    /// Ask the walk's next question.
    Ask,
    /// A question is out to the zone's servers (or waits for the addresses
    /// of their glueless NS names, `names_pending`).
    Asking(Ask, Box<ZoneStep>),
    /// A look-up to ask the caller for.
    Need(Need),
    /// The local copy below is looked for.
    LocalCopy,
    /// Following a referral, the child's own NS set is asked.
    ChildNs,
    /// The parent is asked again, after the zone's servers failed.
    CutAbove,
    Done(Step),
    /// Between states (never seen by a caller).
    Moving,
}

/// The walk for (name, type) of a resolution.
pub(super) struct ZoneWalk<'q> {
    walk: Walk,
    q: Question<'q>,
    stage: Stage,
    /// Why the zone's servers failed, while the walk falls back.
    why: Option<Failure>,
    /// The question out waits for the zone's glueless NS names.
    names_pending: bool,
}

impl<'q> ZoneWalk<'q> {
    pub fn new(zs: ZoneServers, q: Question<'q>, qmin: bool) -> Self {
        Self {
            walk: Walk::new(zs, qmin),
            q,
            stage: Stage::Enter,
            why: None,
            names_pending: false,
        }
    }

    /// The servers the walk is at (for `Need::NsNames`, and the trace).
    pub fn servers(&self) -> &ZoneServers {
        &self.walk.zs
    }

    pub fn servers_mut(&mut self) -> &mut ZoneServers {
        &mut self.walk.zs
    }

    /// The question out to the zone's servers, if one is.
    pub fn asking(&self) -> Option<Question<'_>> {
        match &self.stage {
            Stage::Asking(ask, _) => Some(Question::new(&ask.name, ask.qtype, self.q.class)),
            _ => None,
        }
    }

    /// The next thing to do at `now`.
    pub fn next<E: WalkEnv>(&mut self, now: Mono, env: &E) -> Action {
        loop {
            // A question out is driven in place (its step is not moved).
            if let Stage::Asking(ask, step) = &mut self.stage {
                if self.names_pending {
                    return Action::Done(Step::Fail(Failure::Internal(
                        "zone walk asked to go on while waiting for NS addresses",
                    )));
                }
                let q = Question::new(&ask.name, ask.qtype, self.q.class);
                let a = Asking {
                    q,
                    zs: &self.walk.zs,
                    failed: &mut self.walk.failed,
                };
                match step.next(now, env, a) {
                    StepAction::Send(send) => return Action::Send(send),
                    StepAction::ResolveNames => {
                        self.names_pending = true;
                        return Action::Need(Need::NsNames);
                    }
                    StepAction::Done(result) => {
                        let Stage::Asking(ask, _) =
                            std::mem::replace(&mut self.stage, Stage::Moving)
                        else {
                            continue;
                        };
                        self.stage = match result {
                            Ok(reply) => self.on_answer(&ask, reply, now, env),
                            Err(f) => self.zone_failed(f, env),
                        };
                        continue;
                    }
                }
            }
            match std::mem::replace(&mut self.stage, Stage::Moving) {
                Stage::Enter if !self.walk.zs.local && env.has_local_copies() => {
                    self.stage = Stage::Need(Need::LocalCopy(self.walk.zs.zone.clone()));
                }
                Stage::Need(need) => {
                    self.stage = match &need {
                        Need::ChildNs(_) => Stage::ChildNs,
                        Need::CutAbove(_) => Stage::CutAbove,
                        Need::LocalCopy(_) => Stage::LocalCopy,
                        // Asked from a question out, which waits in place.
                        Need::NsNames => Stage::Moving,
                    };
                    return Action::Need(need);
                }
                Stage::Enter | Stage::Entered => {
                    self.stage = match env.policy_stop(&self.walk.zs) {
                        Some(f) => Stage::Done(Step::Fail(f)),
                        None => Stage::Ask,
                    }
                }
                Stage::Ask => self.stage = self.ask(env),
                Stage::Done(step) => return Action::Done(step),
                waiting => {
                    // Nothing to do until the look-up is handed in.
                    self.stage = waiting;
                    return Action::Done(Step::Fail(Failure::Internal(
                        "zone walk asked to go on while waiting for a look-up",
                    )));
                }
            }
        }
    }

    /// Takes in what the last send brought at `now`.
    pub fn on_reply<E: WalkEnv>(&mut self, now: Mono, got: ReplyBytes, env: &E) {
        if let Stage::Asking(ask, step) = &mut self.stage {
            let q = Question::new(&ask.name, ask.qtype, self.q.class);
            step.on_reply(now, got, env, (q, &self.walk.zs));
        }
    }

    /// Takes in what the look-up `next` asked for found.
    pub fn on_found<E: WalkEnv>(&mut self, got: Got, env: &E) {
        let stage = std::mem::replace(&mut self.stage, Stage::Moving);
        self.stage = match (stage, got) {
            (Stage::LocalCopy, Got::LocalCopy(found)) => self.local_copy(found, env),
            (asking @ Stage::Asking(..), Got::NsNames) if self.names_pending => {
                self.names_pending = false;
                asking
            }
            (Stage::ChildNs, Got::ChildNs { asked, own }) => {
                let child = asked.zone.clone();
                let zs = own.unwrap_or(asked);
                self.enter(zs, &child, env)
            }
            (Stage::CutAbove, Got::CutAbove(found)) => {
                if let Some(parent) = &found {
                    let why = self.why_text();
                    env.st().note(|| {
                        format!(
                            "servers of {} are useless ({why}): asking {} for the delegation again",
                            self.walk.zs.zone, parent.zone
                        )
                    });
                }
                let configured = env.configured(&self.walk.zs.zone);
                match self
                    .walk
                    .on_lookup(walk::Found::CutAbove(found), configured)
                {
                    None => Stage::Enter,
                    Some(next) => self.recover(next, configured, env),
                }
            }
            (stage, got) => {
                tracing::debug!(?got, "zone walk: a look-up it did not ask for");
                match stage {
                    Stage::Moving => Stage::Done(Step::Fail(Failure::Internal(
                        "zone walk handed a look-up it did not ask for",
                    ))),
                    other => other,
                }
            }
        };
    }

    /// The walk's next question, or on down at once past a name whose
    /// NODATA from this zone is cached (no zone cut there).
    fn ask<E: WalkEnv>(&mut self, env: &E) -> Stage {
        let ask = self.walk.ask(self.q.name, self.q.qtype);
        if ask.minimised && env.cached_nodata(&ask.name, &self.walk.zs.zone) {
            env.st().note(|| {
                format!(
                    "{}: NODATA from {} cached, going on down",
                    ask.name, self.walk.zs.zone
                )
            });
            self.walk.descend();
            return Stage::Ask;
        }
        Stage::Asking(ask, Box::default())
    }

    /// Goes on at the copy below that holds the name, if there is one.
    fn local_copy<E: WalkEnv>(
        &mut self,
        found: Result<Option<ZoneServers>, Failure>,
        env: &E,
    ) -> Stage {
        match found {
            Err(f) => Stage::Done(Step::Fail(f)),
            Ok(None) => Stage::Entered,
            Ok(Some(local)) => {
                env.st().note(|| {
                    format!(
                        "{} is in auth zone {}: answering from its copy",
                        self.q.name, local.zone
                    )
                });
                let cut = local.zone.clone();
                self.walk.enter(local, &cut);
                Stage::Entered
            }
        }
    }

    /// Goes on with the servers of the zone `cut`.
    fn enter<E: WalkEnv>(&mut self, zs: ZoneServers, cut: &Name, env: &E) -> Stage {
        env.st().record(|| start_at(&zs));
        self.walk.enter(zs, cut);
        Stage::Enter
    }

    /// What a usable reply to `ask` from `from` makes the walk do.
    fn on_answer<E: WalkEnv>(
        &mut self,
        ask: &Ask,
        (mut msg, from): (Message, SocketAddr),
        now: Mono,
        env: &E,
    ) -> Stage {
        let (st, cfg) = (env.st(), env.config());
        let rules = Rules {
            cfg,
            validate: env.validating(),
        };
        let Reading {
            kind,
            verdict,
            private_removed,
        } = read(&mut msg, &self.walk.zs.zone, ask, self.q.name, rules);
        if private_removed > 0 {
            st.note(|| format!("removed {private_removed} private addresses from the answer"));
        }
        if !matches!(kind, Kind::Rcode(_) | Kind::Lame) {
            env.stash_sigs(&msg);
        }
        // A server that refused, failed or was lame is a cause of the
        // failure, should the walk fail.
        let cause = matches!(kind, Kind::Rcode(_) | Kind::Lame);
        st.record_as(cause, || {
            TraceEvent::Note(format!("{from} for {} {}: {kind}", ask.name, ask.qtype))
        });
        note_verdict(&verdict, ask, env);
        let taken = self.walk.take(verdict, msg, from, cfg.max_referrals);
        if let Some(outcome) = taken.learn {
            env.learn(from, &self.walk.zs.zone, ask.qtype, outcome, now);
        }
        match taken.then {
            Then::Continue => Stage::Ask,
            Then::KeepNoData(msg) => {
                env.keep_nodata(&msg, ask);
                Stage::Ask
            }
            Then::Fail(f) => Stage::Done(Step::Fail(f)),
            Then::Referral { child, reply } => {
                env.cache_referral(&reply, &child);
                let zs = env.servers_from_referral(&reply, &child);
                if ask.wants_own_ns(&child, cfg.harden_referral_path) {
                    return Stage::Need(Need::ChildNs(zs));
                }
                self.enter(zs, &child, env)
            }
            Then::Finish(end, msg) => {
                Stage::Done(env.finish(end, &msg, &self.walk.zs.zone, self.q))
            }
        }
    }

    /// Every server of the zone failed this step with `f`: the next rung
    /// of the fallback ladder (`Walk::zone_failed` decides).
    fn zone_failed<E: WalkEnv>(&mut self, f: Failure, env: &E) -> Stage {
        let configured = env.configured(&self.walk.zs.zone);
        self.why = Some(f.clone());
        let next = self.walk.zone_failed(f, configured);
        self.recover(next, configured, env)
    }

    /// Climbs the ladder from `next`: a last resort, the parent's
    /// delegation (from the cache, at once), the parent asked again (a
    /// look-up), or the end.
    fn recover<E: WalkEnv>(&mut self, mut next: Recover, configured: bool, env: &E) -> Stage {
        loop {
            match next {
                Recover::Resort(resort) => return Stage::Done(self.last_resort(resort, env)),
                Recover::Fail(f) => return Stage::Done(Step::Fail(f)),
                Recover::Need(walk::Lookup::CutAbove(above)) => {
                    return Stage::Need(Need::CutAbove(above))
                }
                Recover::Need(walk::Lookup::ParentSide) => {
                    let got = env.parent_side(&self.walk.zs);
                    if got.is_some() {
                        let why = self.why_text();
                        env.st().note(|| {
                            format!(
                                "servers of {} failed ({why}): trying the delegation its parent gave",
                                self.walk.zs.zone
                            )
                        });
                    }
                    match self
                        .walk
                        .on_lookup(walk::Found::ParentSide(got), configured)
                    {
                        None => return Stage::Enter,
                        Some(then) => next = then,
                    }
                }
            }
        }
    }

    /// Last resorts when every server is lame, as Unbound: a recursive
    /// server's answer, else an authoritative empty reply read as NODATA.
    fn last_resort<E: WalkEnv>(&self, resort: Resort, env: &E) -> Step {
        env.st().note(|| match &resort {
            Resort::RecursiveNoData(_) => "every server is lame: using a recursive server's NODATA",
            Resort::RecursiveAnswer(_) => "every server is lame: using a recursive server's answer",
            Resort::EmptyAa => "every server is lame: an empty AA reply counts as NODATA",
        });
        env.last_resort(resort, self.q)
    }

    fn why_text(&self) -> String {
        self.why.as_ref().map(|f| f.to_string()).unwrap_or_default()
    }
}

/// Says why the walk changes course on a verdict.
fn note_verdict<E: WalkEnv>(verdict: &Verdict, ask: &Ask, env: &E) {
    let st = env.st();
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
pub(super) fn start_at(zs: &ZoneServers) -> TraceEvent {
    TraceEvent::StartAt {
        zone: zs.zone.clone(),
        servers: zs.ns.iter().filter_map(|(n, _)| n.clone()).collect(),
    }
}

#[cfg(test)]
mod tests;
