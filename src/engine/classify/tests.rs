//! Table tests for reply classification and bailiwick scrubbing.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}
fn a(name: &str, last: u8) -> Record {
    Record::from_rdata(n(name), 300, RData::A(A::new(192, 0, 2, last)))
}
fn ns(owner: &str, target: &str) -> Record {
    Record::from_rdata(n(owner), 300, RData::NS(NS(n(target))))
}
fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(n(owner), 300, RData::CNAME(CNAME(n(target))))
}
fn soa(owner: &str) -> Record {
    let s = SOA::new(n("ns.x."), n("h.x."), 1, 1, 1, 1, 60);
    Record::from_rdata(n(owner), 300, RData::SOA(s))
}
fn reply(
    q: &str,
    rcode: ResponseCode,
    aa: bool,
    ans: Vec<Record>,
    auth: Vec<Record>,
    add: Vec<Record>,
) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = aa;
    m.metadata.response_code = rcode;
    m.add_query(Query::query(n(q), RecordType::A));
    m.answers = ans;
    m.authorities = auth;
    m.additionals = add;
    m
}

const Q: &str = "www.example.com.";

/// Classifies each reply (to `Q` A, from a server of the zone given).
fn check_kinds(cases: Vec<(&str, Message, &str, Kind)>) {
    for (what, m, zone, want) in cases {
        assert_eq!(classify(&m, &n(zone), &n(Q), RecordType::A), want, "{what}");
    }
}

#[test]
fn classification_table_answers() {
    use ResponseCode::*;
    let q = Q;
    check_kinds(vec![
        (
            "answer",
            reply(q, NoError, true, vec![a(q, 1)], vec![], vec![]),
            "example.com.",
            Kind::Answer,
        ),
        (
            "cname",
            reply(q, NoError, true, vec![cname(q, "x.other.")], vec![], vec![]),
            "example.com.",
            Kind::Answer,
        ),
        (
            "nxdomain",
            reply(q, NXDomain, true, vec![], vec![soa("example.com.")], vec![]),
            "example.com.",
            Kind::NxDomain,
        ),
        (
            "nodata",
            reply(q, NoError, true, vec![], vec![soa("example.com.")], vec![]),
            "example.com.",
            Kind::NoData,
        ),
    ]);
}

#[test]
fn classification_table_referrals_and_failures() {
    use ResponseCode::*;
    let q = Q;
    check_kinds(vec![
        (
            "referral",
            reply(
                q,
                NoError,
                false,
                vec![],
                vec![ns("example.com.", "ns1.example.com.")],
                vec![],
            ),
            "com.",
            Kind::Referral {
                child: n("example.com."),
            },
        ),
        (
            "upward referral is lame",
            reply(
                q,
                NoError,
                false,
                vec![],
                vec![ns("com.", "a.gtld.")],
                vec![],
            ),
            "example.com.",
            Kind::Lame,
        ),
        (
            "referral to same zone is lame",
            reply(
                q,
                NoError,
                false,
                vec![],
                vec![ns("example.com.", "ns1.example.com.")],
                vec![],
            ),
            "example.com.",
            Kind::Lame,
        ),
        (
            "empty non-aa is lame",
            reply(q, NoError, false, vec![], vec![], vec![]),
            "example.com.",
            Kind::Lame,
        ),
        (
            "servfail",
            reply(q, ServFail, false, vec![], vec![], vec![]),
            "example.com.",
            Kind::Rcode(ServFail),
        ),
        (
            "refused",
            reply(q, Refused, false, vec![], vec![], vec![]),
            "example.com.",
            Kind::Rcode(Refused),
        ),
    ]);
}

#[test]
fn scrub_drops_out_of_bailiwick_data() {
    let q = "www.example.com.";
    let mut m = reply(
        q,
        ResponseCode::NoError,
        false,
        vec![a("evil.net.", 66)],
        vec![
            ns("example.com.", "ns1.example.com."),
            ns("example.com.", "ns.other.net."),
            ns("net.", "evil.net."),
        ],
        vec![
            a("ns1.example.com.", 1),
            a("ns.other.net.", 2),
            a("unrelated.com.", 3),
        ],
    );
    scrub(&mut m, &n("com."), &n(q), RecordType::A, true);
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    assert_eq!(m.authorities.len(), 2);
    assert!(m.authorities.iter().all(|r| r.name == n("example.com.")));
    let names: Vec<String> = m.additionals.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(names, vec!["ns1.example.com."]);
}

#[test]
fn scrub_keeps_in_zone_chain_only() {
    let q = "www.example.com.";
    let mut m = reply(
        q,
        ResponseCode::NoError,
        true,
        vec![
            cname(q, "web.example.com."),
            a("web.example.com.", 1),
            cname("other.example.com.", "x.example.com."),
            a("www.elsewhere.org.", 9),
        ],
        vec![],
        vec![],
    );
    scrub(&mut m, &n("example.com."), &n(q), RecordType::A, true);
    assert_eq!(m.answers.len(), 2);
    let (chain, end) = follow_chain(&m.answers, &n(q), RecordType::A);
    assert_eq!(chain.len(), 2);
    assert_eq!(end, ChainEnd::Complete);
}

#[test]
fn chain_to_other_zone_ends_in_alias() {
    let q = "www.example.com.";
    let answers = vec![cname(q, "cdn.example.net."), a("cdn.example.net.", 1)];
    let mut m = reply(q, ResponseCode::NoError, true, answers, vec![], vec![]);
    scrub(&mut m, &n("example.com."), &n(q), RecordType::A, true);
    let (chain, end) = follow_chain(&m.answers, &n(q), RecordType::A);
    assert_eq!(chain.len(), 1);
    assert_eq!(end, ChainEnd::Alias(n("cdn.example.net.")));
}

#[test]
fn cname_loop_is_reported_as_alias_to_seen_name() {
    let q = "a.example.com.";
    let answers = vec![cname(q, "b.example.com."), cname("b.example.com.", q)];
    let (chain, end) = follow_chain(&answers, &n(q), RecordType::A);
    assert_eq!(chain.len(), 2);
    assert_eq!(end, ChainEnd::Alias(n(q)));
}

#[test]
fn scrub_drops_records_of_another_class() {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    let mut ch_ns =
        Record::from_rdata(n("example.com."), 3600, RData::NS(NS(n("ch.example.com."))));
    ch_ns.dns_class = DNSClass::CH;
    let in_ns = Record::from_rdata(n("example.com."), 3600, RData::NS(NS(n("ns.example.com."))));
    let mut ch_a = Record::from_rdata(n("ch.example.com."), 3600, RData::A(A::new(1, 2, 3, 5)));
    ch_a.dns_class = DNSClass::CH;
    let in_a = Record::from_rdata(n("ns.example.com."), 3600, RData::A(A::new(1, 2, 3, 4)));
    m.authorities = vec![ch_ns, in_ns.clone()];
    m.additionals = vec![ch_a, in_a.clone()];
    scrub(
        &mut m,
        &n("com."),
        &n("www.example.com."),
        RecordType::A,
        true,
    );
    assert_eq!(m.authorities, vec![in_ns]);
    assert_eq!(m.additionals, vec![in_a]);
    assert_eq!(
        classify(&m, &n("com."), &n("www.example.com."), RecordType::A),
        Kind::Referral {
            child: n("example.com.")
        }
    );
}

#[test]
fn dname_substitution_replaces_the_owner_suffix() {
    let name = Name::from_ascii("a.b.old.example.").unwrap();
    let owner = Name::from_ascii("old.example.").unwrap();
    let target = Name::from_ascii("new.test.").unwrap();
    assert_eq!(
        super::dname_substitute(&name, &owner, &target),
        Some(Name::from_ascii("a.b.new.test.").unwrap())
    );
    // The owner itself and names outside it are not redirected.
    assert_eq!(super::dname_substitute(&owner, &owner, &target), None);
    let other = Name::from_ascii("a.other.example.").unwrap();
    assert_eq!(super::dname_substitute(&other, &owner, &target), None);
    // A result longer than 255 octets is no name (RFC 6672 §2.2: YXDOMAIN).
    let long_target = Name::from_ascii(format!(
        "{}.{}.{}.",
        "x".repeat(63),
        "y".repeat(63),
        "z".repeat(63)
    ))
    .unwrap();
    let long_name = Name::from_ascii(format!(
        "{}.{}.old.example.",
        "p".repeat(63),
        "q".repeat(20)
    ))
    .unwrap();
    assert_eq!(
        super::dname_substitute(&long_name, &owner, &long_target),
        None
    );
}

#[test]
fn scrub_drops_an_nsec_whose_next_name_leaves_the_zone() {
    use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
    let nsec = |owner: &str, next: &str| {
        let data = NSEC::new(n(next), vec![RecordType::A, RecordType::NSEC]);
        Record::from_rdata(n(owner), 300, RData::DNSSEC(DNSSECRData::NSEC(data)))
    };
    let q = "c.example.test.";
    let mut m = reply(
        q,
        ResponseCode::NXDomain,
        true,
        vec![],
        vec![
            soa("example.test."),
            nsec("b.example.test.", "d.example.test."),
            // Claims the span up to a name of another zone.
            nsec("example.test.", "b.foo.test."),
        ],
        vec![],
    );
    scrub(&mut m, &n("example.test."), &n(q), RecordType::A, true);
    let owners: Vec<String> = m
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NSEC)
        .map(|r| r.name.to_ascii())
        .collect();
    assert_eq!(owners, vec!["b.example.test."]);
    assert!(m
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA));
}

#[test]
fn kinds_read_as_text_in_traces() {
    let child = Kind::Referral {
        child: n("example.com."),
    };
    assert_eq!(child.to_string(), "a referral to example.com.");
    assert_eq!(Kind::Answer.to_string(), "an answer");
    assert_eq!(
        Kind::Rcode(ResponseCode::Refused).to_string(),
        "rcode REFUSED"
    );
    assert!(Kind::NoData.to_string().starts_with("NODATA"));
    assert!(!Kind::Lame.to_string().contains('{'));
}
