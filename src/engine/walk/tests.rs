//! Table tests for the zone walk: the questions it asks, the verdicts
//! on replies, and how each verdict moves it.

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

fn reply() -> Message {
    Message::new(
        0,
        hickory_proto::op::MessageType::Response,
        hickory_proto::op::OpCode::Query,
    )
}

/// A reply with one answer record (a recursive server's answer).
fn answered() -> Message {
    let mut m = reply();
    m.answers.push(hickory_proto::rr::Record::from_rdata(
        n("www.example.com."),
        60,
        hickory_proto::rr::RData::A("192.0.2.7".parse().unwrap()),
    ));
    m
}

/// (what, the verdict, what selection learns, what the resolver does)
type TakeRow = (&'static str, Verdict, Option<Outcome>, Then);

fn take_rows() -> Vec<TakeRow> {
    use Outcome::{Lame, Refused, Served};
    let failed = |problem, keep| Verdict::ServerFailed { problem, keep };
    let finish = |end| Then::Finish(end, reply());
    vec![
        (
            "no cut: down",
            Verdict::Down(Down::Answer),
            Some(Served),
            Then::Continue,
        ),
        (
            "empty AA: down",
            Verdict::Down(Down::EmptyAa),
            Some(Served),
            Then::Continue,
        ),
        (
            "NODATA on the way is kept",
            Verdict::Down(Down::NoData),
            Some(Served),
            Then::KeepNoData(reply()),
        ),
        (
            "full name: says nothing",
            Verdict::FullName(Full::Lame),
            None,
            Then::Continue,
        ),
        (
            "lame: learned, another server",
            failed(Problem::Lame, Keep::Nothing),
            Some(Lame),
            Then::Continue,
        ),
        (
            "REFUSED: learned",
            failed(Problem::Refused, Keep::EmptyAa),
            Some(Refused),
            Then::Continue,
        ),
        (
            "referral followed",
            Verdict::Referral { child: n("com.") },
            Some(Served),
            Then::Referral {
                child: n("com."),
                reply: reply(),
            },
        ),
        (
            "DS at a referral: NODATA",
            Verdict::NoDsAtParent { child: n("com.") },
            Some(Served),
            finish(End::NoDsAtParent { child: n("com.") }),
        ),
        ("answer", Verdict::Answer, Some(Served), finish(End::Answer)),
        ("NODATA", Verdict::NoData, Some(Served), finish(End::NoData)),
        (
            "NXDOMAIN",
            Verdict::NxDomain,
            Some(Served),
            finish(End::NxDomain),
        ),
        (
            "YXDOMAIN",
            Verdict::YxDomain,
            Some(Served),
            finish(End::YxDomain),
        ),
    ]
}

#[test]
fn verdicts_say_what_the_resolver_does_and_learns() {
    let from: SocketAddr = "192.0.2.1:53".parse().unwrap();
    for (what, verdict, learn, then) in take_rows() {
        let mut w = Walk::new(zone("."), true);
        assert_eq!(
            w.take(verdict, reply(), from, 5),
            Taken { learn, then },
            "{what}"
        );
    }
}

#[test]
fn verdicts_move_the_walk() {
    let name = n("www.a.example.com.");
    let from: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let mut w = Walk::new(zone("."), true);
    // One label down per "no cut here".
    w.take(Verdict::Down(Down::Answer), reply(), from, 5);
    w.take(Verdict::Down(Down::NoData), reply(), from, 5);
    assert_eq!(w.ask(&name, RecordType::MX).name, n("a.example.com."));
    // A useless server is counted out; what it leaves is kept.
    let lame = |keep| Verdict::ServerFailed {
        problem: Problem::Lame,
        keep,
    };
    w.take(lame(Keep::EmptyAa), reply(), from, 5);
    assert!(w.failed.contains(&from));
    assert_eq!(w.last_resort(), Resort::EmptyAa);
    // A minimised question gone wrong: the full name from now on.
    w.take(Verdict::FullName(Full::Lame), reply(), from, 5);
    assert_eq!(w.ask(&name, RecordType::MX).name, name);
    // A recursive server's reply is kept, and given once.
    w.take(lame(Keep::RecursiveAnswer), answered(), from, 5);
    assert_eq!(w.last_resort(), Resort::RecursiveAnswer(answered()));
    assert_eq!(w.last_resort(), Resort::EmptyAa);
    w.take(lame(Keep::RecursiveAnswer), reply(), from, 5);
    assert_eq!(w.last_resort(), Resort::RecursiveNoData(reply()));
    // A reply not worth keeping leaves nothing.
    let mut fresh = Walk::new(zone("."), true);
    fresh.take(lame(Keep::Nothing), answered(), from, 5);
    assert_eq!(
        fresh.fallback(&Failure::AllLame, false),
        Fallback::ParentSide
    );
}

#[test]
fn referrals_are_followed_up_to_the_limit() {
    let from: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let mut w = Walk::new(zone("."), true);
    let referral = |z: &str| Verdict::Referral { child: n(z) };
    let taken: Vec<Then> = ["com.", "example.com.", "a.example.com."]
        .iter()
        .map(|z| w.take(referral(z), reply(), from, 2).then)
        .collect();
    assert_eq!(
        taken,
        vec![
            Then::Referral {
                child: n("com."),
                reply: reply()
            },
            Then::Referral {
                child: n("example.com."),
                reply: reply()
            },
            Then::Fail(Failure::Depth),
        ]
    );
}

#[test]
fn a_referral_asks_for_the_childs_own_ns_set_when_hardened() {
    let child = n("example.com.");
    let ask = |name: &str, qtype| Ask {
        name: n(name),
        qtype,
        minimised: false,
    };
    // (question asked, harden-referral-path, the child's NS set asked first)
    let rows = [
        (ask("www.example.com.", RecordType::A), true, true),
        (ask("www.example.com.", RecordType::A), false, false),
        (ask("example.com.", RecordType::NS), true, false),
        (ask("example.com.", RecordType::A), true, true),
        (ask("a.example.com.", RecordType::NS), true, true),
    ];
    for (q, harden, want) in rows {
        assert_eq!(q.wants_own_ns(&child, harden), want, "{q:?} {harden}");
    }
}

mod ladder;
