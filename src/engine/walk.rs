//! The walk through one zone's servers towards an answer, as plain data
//! and pure decisions: which name to ask next (QNAME minimisation, RFC
//! 9156, relaxed as Unbound's), what a classified reply means for the walk
//! (`judge`: go one label down, ask the full name, try another server,
//! follow a referral, finish), how the walk moves on by it (`Walk::take`),
//! the last resorts kept when every server is lame, and the ladder of
//! fallbacks when every server of the zone failed (`Walk::fallback`).
//! `iterate.rs` does the sending, caching and tracing these decisions call
//! for.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::engine::classify::Kind;
use crate::engine::learn::of_problem;
use crate::engine::problems::Problem;
use crate::engine::step::ZoneServers;
use crate::engine::Failure;
use crate::upstream::selection::Outcome;

/// Where the walk stands: the zone and servers asked, how much of the
/// name they are shown, and what this zone step has learned so far.
pub(super) struct Walk {
    pub zs: ZoneServers,
    /// Still minimising (turned off for the rest of the walk when a
    /// minimised question goes wrong).
    qmin: bool,
    /// Labels of the name shown to the zone's servers.
    labels: u8,
    referrals: u32,
    /// Servers of the zone that failed this step.
    pub failed: HashSet<SocketAddr>,
    /// The parent's delegation has been tried (once per walk).
    tried_parent_side: bool,
    /// The delegation has been asked of the parent again (once per walk).
    restarted_above: bool,
    /// Why the zone's servers failed, while a fallback is looked up.
    failure: Option<Failure>,
    /// A recursive server's answer, used only if no authoritative one
    /// can be had.
    rec_lame: Option<Message>,
    /// Some server gave an authoritative empty reply without SOA.
    empty_aa: bool,
}

/// The question the walk asks next.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ask {
    pub name: Name,
    pub qtype: RecordType,
    /// A shortened name (asked for A), not the client's question.
    pub minimised: bool,
}

impl Ask {
    /// Following a referral to `child`: whether the child's own NS set is
    /// asked for first (`harden`: harden-referral-path), unless this very
    /// question was for that NS set.
    pub fn wants_own_ns(&self, child: &Name, harden: bool) -> bool {
        harden && !(self.qtype == RecordType::NS && self.name == *child)
    }
}

/// Why the walk goes one label further down with the same servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Down {
    /// An authoritative empty reply without SOA: no cut here, as NODATA
    /// would say (Unbound types it so).
    EmptyAa,
    /// NODATA: no zone cut at this name.
    NoData,
    /// Data at the name: no zone cut here either.
    Answer,
}

/// Why a minimised question is asked again with the full name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    Rcode(ResponseCode),
    /// NXDOMAIN to a minimised name: asked again (relaxed minimisation).
    NxDomain,
    /// Nothing useful for the minimised name (RFC 9156 §3).
    Lame,
}

/// What a useless reply leaves for the last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    Nothing,
    /// A recursive server's cached answer (RA=1).
    RecursiveAnswer,
    /// An authoritative empty reply, read as NODATA if nothing better.
    EmptyAa,
}

/// The next rung when every server of the walk's zone failed this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fallback {
    /// Every server was lame, but one left a reply to fall back on (a
    /// recursive server's answer, an authoritative empty reply).
    LastResort,
    /// The delegation the zone's parent gave, if the cache holds one that
    /// names other servers (once per walk); if not, ask again.
    ParentSide,
    /// The delegation asked of the parent again (once per walk), when
    /// the cached one proved useless and is not configured.
    AskParentAgain,
    /// The walk fails with the zone's failure.
    Fail,
}

/// What the walk does when every server of its zone failed this step.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Recover {
    /// The walk ends with the last resort.
    Resort(Resort),
    /// The resolver looks this up and hands it to `on_lookup`.
    Need(Lookup),
    /// The walk fails.
    Fail(Failure),
}

/// A look-up the walk needs to go on after its zone's servers failed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lookup {
    /// The delegation the zone's parent gave, from the cache (None if it
    /// names no other servers).
    ParentSide,
    /// The servers of the closest zone above `0` (the parent, asked
    /// again for the delegation).
    CutAbove(Name),
}

/// What a look-up the walk needed found.
#[derive(Debug, Clone)]
pub(super) enum Found {
    ParentSide(Option<ZoneServers>),
    CutAbove(Option<ZoneServers>),
}

/// What one classified reply means for the walk.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    Down(Down),
    FullName(Full),
    /// The server is no use for this question: another one is asked.
    ServerFailed {
        problem: Problem,
        keep: Keep,
    },
    /// A DS question answered with a referral to that very name: the
    /// parent has no DS to give (an unsigned parent); NODATA, as Unbound
    /// reads it.
    NoDsAtParent {
        child: Name,
    },
    Referral {
        child: Name,
    },
    NxDomain,
    NoData,
    Answer,
    YxDomain,
}

/// What the resolver does once the walk has taken in a verdict on a
/// reply; the reply goes with it where it is still needed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Then {
    /// Ask the walk's next question.
    Continue,
    /// Keep the reply as NODATA for the minimised name asked (no cut
    /// there), then go on.
    KeepNoData(Message),
    /// Cache the referral to `child` and go on with its servers.
    Referral { child: Name, reply: Message },
    /// The walk fails.
    Fail(Failure),
    /// The reply ends the walk.
    Finish(End, Message),
}

/// How a final reply ends the walk.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum End {
    NxDomain,
    NoData,
    Answer,
    /// The DNAME substitution overflows.
    YxDomain,
    /// A DS question answered with a referral to `child`: NODATA, and the
    /// referral is cached.
    NoDsAtParent {
        child: Name,
    },
}

/// A verdict taken in: what selection learns of the server, and what the
/// resolver does next.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Taken {
    pub learn: Option<Outcome>,
    pub then: Then,
}

/// The last resort when every server of the zone was lame.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resort {
    /// A recursive server's answer.
    RecursiveAnswer(Message),
    /// A recursive server's empty answer: NODATA as it saw it (not cached
    /// without an SOA).
    RecursiveNoData(Message),
    /// An authoritative empty reply: NODATA, not cached.
    EmptyAa,
}

/// The facts of a reply a verdict rests on besides its classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Facts {
    pub authoritative: bool,
    pub recursion_available: bool,
    pub rcode: ResponseCode,
    pub no_answers: bool,
    /// The reply carried an NS set before scrubbing (an upward or
    /// sideways referral is lame even as a last resort).
    pub carried_ns: bool,
}

impl Facts {
    pub fn of(msg: &Message, carried_ns: bool) -> Self {
        Self {
            authoritative: msg.metadata.authoritative,
            recursion_available: msg.metadata.recursion_available,
            rcode: msg.metadata.response_code,
            no_answers: msg.answers.is_empty(),
            carried_ns,
        }
    }

    /// An authoritative empty NOERROR reply that named no servers.
    fn empty_aa(&self) -> bool {
        self.authoritative
            && !self.carried_ns
            && self.rcode == ResponseCode::NoError
            && self.no_answers
    }
}

impl Walk {
    pub fn new(zs: ZoneServers, qmin: bool) -> Self {
        let labels = zs.zone.num_labels().saturating_add(1);
        Self {
            zs,
            qmin,
            labels,
            referrals: 0,
            failed: HashSet::new(),
            tried_parent_side: false,
            restarted_above: false,
            failure: None,
            rec_lame: None,
            empty_aa: false,
        }
    }

    /// The question for the zone's servers: the name cut to one label
    /// below the zone (asked for A) while minimising, else the full one.
    pub fn ask(&self, name: &Name, qtype: RecordType) -> Ask {
        if self.qmin && self.labels < name.num_labels() {
            Ask {
                name: name.trim_to(usize::from(self.labels)),
                qtype: RecordType::A,
                minimised: true,
            }
        } else {
            Ask {
                name: name.clone(),
                qtype,
                minimised: false,
            }
        }
    }

    /// No zone cut at the name asked: one label more, same servers.
    pub fn descend(&mut self) {
        self.labels = self.labels.saturating_add(1);
    }

    pub fn ask_full_name(&mut self) {
        self.qmin = false;
    }

    /// Goes on with the servers of the zone `cut`, showing them one label
    /// below it.
    pub fn enter(&mut self, zs: ZoneServers, cut: &Name) {
        self.labels = cut.num_labels().saturating_add(1);
        self.zs = zs;
        self.failed.clear();
    }

    /// Other servers for the same zone (the parent's delegation): the
    /// name shown stays.
    pub fn switch_servers(&mut self, zs: ZoneServers) {
        self.zs = zs;
        self.failed.clear();
    }
}

impl Walk {
    /// The next fallback after every server of the zone failed with `f`;
    /// `configured` says the zone is a configured stub, forward or auth
    /// zone. Each of the parent's delegation and the parent asked again
    /// is offered once per walk; calling again after one came to nothing
    /// gives the next rung.
    pub fn fallback(&mut self, f: &Failure, configured: bool) -> Fallback {
        if matches!(f, Failure::AllLame) && (self.rec_lame.is_some() || self.empty_aa) {
            return Fallback::LastResort;
        }
        // Running out of time or budget, or too deep: no other servers help.
        let spent = matches!(
            f,
            Failure::QueryBudget(_) | Failure::Timeout | Failure::Depth
        );
        if !self.tried_parent_side && !self.zs.local && !spent {
            self.tried_parent_side = true;
            return Fallback::ParentSide;
        }
        let zs = &self.zs;
        let useless = matches!(f, Failure::NoNsAddress | Failure::AllLame);
        if !self.restarted_above
            && useless
            && !zs.zone.is_root()
            && zs.configured.is_empty()
            && !configured
        {
            self.restarted_above = true;
            return Fallback::AskParentAgain;
        }
        Fallback::Fail
    }

    /// Every server of the zone failed with `f` (`configured`: the zone
    /// is a configured one): the next rung of the fallback ladder, as
    /// what the resolver does.
    pub fn zone_failed(&mut self, f: Failure, configured: bool) -> Recover {
        let rung = self.fallback(&f, configured);
        self.failure = Some(f);
        self.recover(rung)
    }

    fn recover(&mut self, rung: Fallback) -> Recover {
        match rung {
            Fallback::LastResort => {
                self.failure = None;
                Recover::Resort(self.last_resort())
            }
            Fallback::ParentSide => Recover::Need(Lookup::ParentSide),
            Fallback::AskParentAgain => Recover::Need(Lookup::CutAbove(self.zs.zone.base_name())),
            Fallback::Fail => Recover::Fail(self.take_failure()),
        }
    }

    /// Why the zone's servers failed (set by `zone_failed`).
    fn take_failure(&mut self) -> Failure {
        self.failure.take().unwrap_or(Failure::AllLame)
    }

    /// Takes in what a look-up `zone_failed` asked for found: None to go
    /// on with the servers found, else what to do next (the next rung when
    /// the parent's delegation names no other servers; the failure when
    /// the parent cannot be found).
    pub fn on_lookup(&mut self, found: Found, configured: bool) -> Option<Recover> {
        match found {
            Found::ParentSide(Some(zs)) => self.switch_servers(zs),
            Found::CutAbove(Some(zs)) => {
                let cut = zs.zone.clone();
                self.enter(zs, &cut);
            }
            Found::ParentSide(None) => {
                let f = self.take_failure();
                return Some(self.zone_failed(f, configured));
            }
            Found::CutAbove(None) => return Some(Recover::Fail(self.take_failure())),
        }
        self.failure = None;
        None
    }

    /// Moves the walk on by a verdict on `reply` from `from`: one label
    /// down, the full name from now on, the server counted out (its reply
    /// kept as a last resort if it may serve as one), one referral more
    /// (at most `max_referrals`), or the end.
    pub fn take(
        &mut self,
        verdict: Verdict,
        reply: Message,
        from: SocketAddr,
        max_referrals: u32,
    ) -> Taken {
        let learn = verdict.serves().then_some(Outcome::Served);
        let then = match verdict {
            Verdict::FullName(_) => {
                self.ask_full_name();
                Then::Continue
            }
            Verdict::Down(why) => {
                self.descend();
                match why {
                    Down::NoData => Then::KeepNoData(reply),
                    Down::EmptyAa | Down::Answer => Then::Continue,
                }
            }
            Verdict::ServerFailed { problem, keep } => {
                self.server_failed(keep, reply, from);
                return Taken {
                    learn: Some(of_problem(problem)),
                    then: Then::Continue,
                };
            }
            Verdict::Referral { child } => {
                self.referrals += 1;
                if self.referrals > max_referrals {
                    Then::Fail(Failure::Depth)
                } else {
                    Then::Referral { child, reply }
                }
            }
            Verdict::NoDsAtParent { child } => Then::Finish(End::NoDsAtParent { child }, reply),
            Verdict::NxDomain => Then::Finish(End::NxDomain, reply),
            Verdict::NoData => Then::Finish(End::NoData, reply),
            Verdict::Answer => Then::Finish(End::Answer, reply),
            Verdict::YxDomain => Then::Finish(End::YxDomain, reply),
        };
        Taken { learn, then }
    }

    /// `from` is no use for this question: not asked again this step;
    /// what its reply leaves for the last resort is kept.
    fn server_failed(&mut self, keep: Keep, reply: Message, from: SocketAddr) {
        match keep {
            Keep::EmptyAa => self.empty_aa = true,
            Keep::RecursiveAnswer => self.rec_lame = Some(reply),
            Keep::Nothing => {}
        }
        self.failed.insert(from);
    }

    /// The last resort once `fallback` offered it: a recursive server's
    /// answer (or its NODATA), else an authoritative empty reply.
    pub fn last_resort(&mut self) -> Resort {
        match self.rec_lame.take() {
            Some(msg) if msg.answers.is_empty() => Resort::RecursiveNoData(msg),
            Some(msg) => Resort::RecursiveAnswer(msg),
            None => Resort::EmptyAa,
        }
    }
}

impl Verdict {
    /// Whether the verdict says the server served its zone (an answer, a
    /// referral down, NODATA, NXDOMAIN), which clears what it was held to
    /// for the zone. A minimised question asked again in full says
    /// nothing either way.
    pub fn serves(&self) -> bool {
        match self {
            Verdict::ServerFailed { .. } | Verdict::FullName(_) => false,
            Verdict::Down(_)
            | Verdict::NoDsAtParent { .. }
            | Verdict::Referral { .. }
            | Verdict::NxDomain
            | Verdict::NoData
            | Verdict::Answer
            | Verdict::YxDomain => true,
        }
    }
}

/// What a reply classified `kind` means, for a question `ask` on the way
/// to (`name`, …).
pub(super) fn judge(kind: Kind, ask: &Ask, name: &Name, facts: Facts) -> Verdict {
    let minimised = ask.minimised;
    match kind {
        Kind::Rcode(rcode) if minimised => Verdict::FullName(Full::Rcode(rcode)),
        Kind::NxDomain if minimised => Verdict::FullName(Full::NxDomain),
        Kind::Lame if minimised && facts.empty_aa() => Verdict::Down(Down::EmptyAa),
        Kind::Lame if minimised => Verdict::FullName(Full::Lame),
        Kind::Rcode(_) | Kind::Lame => {
            let problem = match kind {
                Kind::Rcode(ResponseCode::Refused) => Problem::Refused,
                Kind::Rcode(ResponseCode::ServFail) => Problem::ServFail,
                Kind::Rcode(_) => Problem::OtherRcode,
                _ => Problem::Lame,
            };
            let keep = if facts.recursion_available
                && (!facts.no_answers || facts.rcode == ResponseCode::NoError)
            {
                Keep::RecursiveAnswer
            } else if facts.empty_aa() {
                Keep::EmptyAa
            } else {
                Keep::Nothing
            };
            Verdict::ServerFailed { problem, keep }
        }
        Kind::Referral { child } if ask.qtype == RecordType::DS && child == *name => {
            Verdict::NoDsAtParent { child }
        }
        Kind::Referral { child } => Verdict::Referral { child },
        Kind::NoData if minimised => Verdict::Down(Down::NoData),
        Kind::Answer if minimised => Verdict::Down(Down::Answer),
        Kind::NxDomain => Verdict::NxDomain,
        Kind::NoData => Verdict::NoData,
        Kind::Answer => Verdict::Answer,
        Kind::YxDomain => Verdict::YxDomain,
    }
}

pub(super) mod read;

#[cfg(test)]
mod tests;
