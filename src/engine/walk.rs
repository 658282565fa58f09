//! The walk through one zone's servers towards an answer, as plain data
//! and pure decisions: which name to ask next (QNAME minimisation, RFC
//! 9156, relaxed as Unbound's), what a classified reply means for the walk
//! (go one label down, ask the full name, try another server, follow a
//! referral, finish), and the last resorts kept when every server is lame.
//! `iterate.rs` does the sending and caching these decisions call for.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::engine::classify::Kind;
use crate::engine::problems::Problem;
use crate::engine::step::ZoneServers;

/// Where the walk stands: the zone and servers asked, how much of the
/// name they are shown, and what this zone step has learned so far.
pub(super) struct Walk {
    pub zs: ZoneServers,
    /// Still minimising (turned off for the rest of the walk when a
    /// minimised question goes wrong).
    qmin: bool,
    /// Labels of the name shown to the zone's servers.
    labels: u8,
    pub referrals: u32,
    /// Servers of the zone that failed this step.
    pub failed: HashSet<SocketAddr>,
    /// The parent's delegation has been tried (once per walk).
    pub tried_parent_side: bool,
    /// The delegation has been asked of the parent again (once per walk).
    pub restarted_above: bool,
    /// A recursive server's answer, used only if no authoritative one
    /// can be had.
    pub rec_lame: Option<Message>,
    /// Some server gave an authoritative empty reply without SOA.
    pub empty_aa: bool,
}

/// The question the walk asks next.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ask {
    pub name: Name,
    pub qtype: RecordType,
    /// A shortened name (asked for A), not the client's question.
    pub minimised: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn zone(s: &str) -> ZoneServers {
        ZoneServers {
            zone: n(s),
            ..ZoneServers::default()
        }
    }

    const NOERROR: Facts = Facts {
        authoritative: false,
        recursion_available: false,
        rcode: ResponseCode::NoError,
        no_answers: true,
        carried_ns: false,
    };

    #[test]
    fn minimisation_shows_one_label_more_per_step() {
        let name = n("www.a.example.com.");
        let mut w = Walk::new(zone("."), true);
        let steps: Vec<(String, RecordType, bool)> = (0..5)
            .map(|_| {
                let a = w.ask(&name, RecordType::AAAA);
                w.descend();
                (a.name.to_string(), a.qtype, a.minimised)
            })
            .collect();
        let want = [
            ("com.", RecordType::A, true),
            ("example.com.", RecordType::A, true),
            ("a.example.com.", RecordType::A, true),
            ("www.a.example.com.", RecordType::AAAA, false),
            ("www.a.example.com.", RecordType::AAAA, false),
        ];
        let want: Vec<(String, RecordType, bool)> = want
            .iter()
            .map(|(s, t, m)| (s.to_string(), *t, *m))
            .collect();
        assert_eq!(steps, want);
    }

    #[test]
    fn entering_a_zone_restarts_below_its_cut_and_forgets_failures() {
        let name = n("www.a.example.com.");
        let mut w = Walk::new(zone("."), true);
        w.failed.insert("192.0.2.1:53".parse().unwrap());
        w.enter(zone("example.com."), &n("example.com."));
        assert!(w.failed.is_empty());
        assert_eq!(w.ask(&name, RecordType::MX).name, n("a.example.com."));
        // Other servers for the same zone keep the name shown.
        w.descend();
        w.failed.insert("192.0.2.1:53".parse().unwrap());
        w.switch_servers(zone("example.com."));
        assert!(w.failed.is_empty());
        assert_eq!(w.ask(&name, RecordType::MX).name, name);
    }

    #[test]
    fn without_minimisation_the_full_question_is_asked() {
        let name = n("www.example.com.");
        let mut w = Walk::new(zone("."), false);
        assert_eq!(
            w.ask(&name, RecordType::TXT),
            Ask {
                name: name.clone(),
                qtype: RecordType::TXT,
                minimised: false
            }
        );
        let mut q = Walk::new(zone("."), true);
        q.ask_full_name();
        assert_eq!(q.ask(&name, RecordType::TXT), w.ask(&name, RecordType::TXT));
        w.descend();
        assert!(!w.ask(&name, RecordType::TXT).minimised);
    }

    fn min() -> Ask {
        Ask {
            name: n("example.com."),
            qtype: RecordType::A,
            minimised: true,
        }
    }

    fn full(qtype: RecordType) -> Ask {
        Ask {
            name: n("www.example.com."),
            qtype,
            minimised: false,
        }
    }

    const AA: Facts = Facts {
        authoritative: true,
        ..NOERROR
    };
    const AA_NS: Facts = Facts {
        carried_ns: true,
        ..AA
    };
    const RA: Facts = Facts {
        recursion_available: true,
        ..NOERROR
    };

    fn check(cases: Vec<(Kind, Ask, Facts, Verdict)>) {
        let name = n("www.example.com.");
        for (kind, ask, facts, want) in cases {
            let got = judge(kind.clone(), &ask, &name, facts);
            assert_eq!(got, want, "{kind:?} to {ask:?} with {facts:?}");
        }
    }

    fn referral(s: &str) -> Kind {
        Kind::Referral { child: n(s) }
    }

    #[test]
    fn minimised_questions_go_down_or_ask_the_full_name() {
        let refused = ResponseCode::Refused;
        check(vec![
            (
                Kind::Rcode(refused),
                min(),
                NOERROR,
                Verdict::FullName(Full::Rcode(refused)),
            ),
            (Kind::NxDomain, min(), AA, Verdict::FullName(Full::NxDomain)),
            (Kind::Lame, min(), AA, Verdict::Down(Down::EmptyAa)),
            (Kind::Lame, min(), AA_NS, Verdict::FullName(Full::Lame)),
            (Kind::Lame, min(), NOERROR, Verdict::FullName(Full::Lame)),
            (Kind::NoData, min(), AA, Verdict::Down(Down::NoData)),
            (Kind::Answer, min(), AA, Verdict::Down(Down::Answer)),
        ]);
    }

    #[test]
    fn useless_servers_are_noted_with_what_they_leave() {
        let failed = |problem, keep| Verdict::ServerFailed { problem, keep };
        let servfail = Facts {
            rcode: ResponseCode::ServFail,
            ..RA
        };
        let a = || full(RecordType::A);
        check(vec![
            (
                Kind::Rcode(ResponseCode::Refused),
                a(),
                NOERROR,
                failed(Problem::Refused, Keep::Nothing),
            ),
            (
                Kind::Rcode(ResponseCode::ServFail),
                a(),
                servfail,
                failed(Problem::ServFail, Keep::Nothing),
            ),
            (
                Kind::Rcode(ResponseCode::NotImp),
                a(),
                NOERROR,
                failed(Problem::OtherRcode, Keep::Nothing),
            ),
            (
                Kind::Lame,
                a(),
                RA,
                failed(Problem::Lame, Keep::RecursiveAnswer),
            ),
            (Kind::Lame, a(), AA, failed(Problem::Lame, Keep::EmptyAa)),
            (Kind::Lame, a(), AA_NS, failed(Problem::Lame, Keep::Nothing)),
        ]);
    }

    #[test]
    fn referrals_and_final_answers() {
        let www = n("www.example.com.");
        let a = || full(RecordType::A);
        let ds = || full(RecordType::DS);
        check(vec![
            (
                referral("example.com."),
                min(),
                NOERROR,
                Verdict::Referral {
                    child: n("example.com."),
                },
            ),
            (
                referral("www.example.com."),
                ds(),
                NOERROR,
                Verdict::NoDsAtParent { child: www.clone() },
            ),
            (
                referral("example.com."),
                ds(),
                NOERROR,
                Verdict::Referral {
                    child: n("example.com."),
                },
            ),
            (
                referral("www.example.com."),
                a(),
                NOERROR,
                Verdict::Referral { child: www },
            ),
            (Kind::NxDomain, a(), AA, Verdict::NxDomain),
            (Kind::NoData, a(), AA, Verdict::NoData),
            (Kind::Answer, a(), AA, Verdict::Answer),
            (Kind::YxDomain, a(), AA, Verdict::YxDomain),
        ]);
    }
}
