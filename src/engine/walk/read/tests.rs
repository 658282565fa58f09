//! Table tests for reading one reply: scrubbed, classified and judged
//! without a resolver.

use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::op::{MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::RData;

use super::*;
use crate::engine::problems::Problem;
use crate::engine::walk::{Down, Full, Keep};

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn rr(owner: &str, data: RData) -> Record {
    Record::from_rdata(n(owner), 300, data)
}

fn ns(owner: &str, target: &str) -> Record {
    rr(owner, RData::NS(NS(n(target))))
}

fn soa(owner: &str) -> Record {
    rr(
        owner,
        RData::SOA(SOA::new(n("ns.x."), n("h.x."), 1, 1, 1, 1, 60)),
    )
}

fn ask(name: &str, qtype: RecordType, minimised: bool) -> Ask {
    Ask {
        name: n(name),
        qtype,
        minimised,
    }
}

/// A reply to `ask` with `rcode`, AA when `aa`, and the sections given.
fn reply(ask: &Ask, rcode: ResponseCode, aa: bool, sections: [Vec<Record>; 3]) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = aa;
    m.metadata.response_code = rcode;
    m.add_query(Query::query(ask.name.clone(), ask.qtype));
    let [answers, authorities, additionals] = sections;
    m.answers = answers;
    m.authorities = authorities;
    m.additionals = additionals;
    m
}

fn read_one(mut msg: Message, zone: &str, ask: &Ask, name: &str, cfg: &ResolverConfig) -> Reading {
    let rules = Rules {
        cfg,
        validate: false,
    };
    read(&mut msg, &n(zone), ask, &n(name), rules)
}

type Row<'a> = (&'a str, Message, &'a str, &'a Ask, Verdict);

/// Reads each row's reply, from a server of its zone, on the way to
/// www.example.com.
fn check(rows: Vec<Row<'_>>) {
    let cfg = ResolverConfig::default();
    for (what, msg, zone, ask, want) in rows {
        let got = read_one(msg, zone, ask, "www.example.com.", &cfg);
        assert_eq!(got.verdict, want, "{what}");
    }
}

#[test]
fn referrals_read_as_verdicts() {
    let www = ask("www.example.com.", RecordType::A, false);
    let ds = ask("example.com.", RecordType::DS, false);
    let glue = rr("ns.example.com.", RData::A(A::new(192, 0, 2, 53)));
    let ds_rr = rr(
        "example.com.",
        RData::DNSSEC(DNSSECRData::DS(DS::new(
            1,
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            vec![0; 32],
        ))),
    );
    let child = ns("example.com.", "ns.example.com.");
    let no_error = ResponseCode::NoError;
    check(vec![
        (
            "a referral to the child",
            reply(
                &www,
                no_error,
                false,
                [vec![], vec![child.clone()], vec![glue]],
            ),
            "com.",
            &www,
            Verdict::Referral {
                child: n("example.com."),
            },
        ),
        (
            "an upward referral is lame",
            reply(
                &www,
                no_error,
                false,
                [vec![], vec![ns("com.", "a.gtld.")], vec![]],
            ),
            "example.com.",
            &www,
            Verdict::ServerFailed {
                problem: Problem::Lame,
                keep: Keep::Nothing,
            },
        ),
        (
            "a DS referral carrying the DS set answers the DS question",
            reply(&ds, no_error, false, [vec![], vec![child, ds_rr], vec![]]),
            "com.",
            &ds,
            Verdict::Answer,
        ),
    ]);
}

#[test]
fn answers_read_as_verdicts() {
    let www = ask("www.example.com.", RecordType::A, false);
    let min = ask("example.com.", RecordType::A, true);
    let address = rr("www.example.com.", RData::A(A::new(192, 0, 2, 80)));
    let negative = || [vec![], vec![soa("com.")], vec![]];
    check(vec![
        (
            "NXDOMAIN to a minimised name: the full name (relaxed)",
            reply(&min, ResponseCode::NXDomain, true, negative()),
            "com.",
            &min,
            Verdict::FullName(Full::NxDomain),
        ),
        (
            "NODATA to a minimised name: one label down",
            reply(&min, ResponseCode::NoError, true, negative()),
            "com.",
            &min,
            Verdict::Down(Down::NoData),
        ),
        (
            "an address answer",
            reply(
                &www,
                ResponseCode::NoError,
                true,
                [vec![address], vec![], vec![]],
            ),
            "example.com.",
            &www,
            Verdict::Answer,
        ),
    ]);
}

#[test]
fn private_addresses_are_scrubbed_from_answers() {
    let cfg = ResolverConfig {
        private_addresses: vec!["10.0.0.0/8".parse().unwrap()],
        ..ResolverConfig::default()
    };
    let www = ask("www.example.com.", RecordType::A, false);
    let private = rr("www.example.com.", RData::A(A::new(10, 1, 2, 3)));
    let msg = reply(
        &www,
        ResponseCode::NoError,
        true,
        [vec![private], vec![soa("example.com.")], vec![]],
    );
    let got = read_one(msg, "example.com.", &www, "www.example.com.", &cfg);
    assert_eq!(got.private_removed, 1);
    assert_eq!(got.verdict, Verdict::NoData);
}
