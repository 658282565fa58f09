//! Table tests for the pure authoritative answer function: AA, referrals
//! with glue, CNAME chasing (within and across our zones), RFC 4592
//! wildcards, NXDOMAIN/NODATA with the SOA (RFC 2308), REFUSED, EDNS, TC,
//! AXFR.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::type_complexity,
    clippy::panic
)]

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tern::zone::answer::{answer, axfr, make_query};
use tern::zone::{Zone, ZoneSet};

const EXAMPLE: &str = "$ORIGIN example.lab.
$TTL 300
@       SOA ns1 hostmaster 1 3600 900 604800 60
        NS  ns1
        NS  ns2.other.lab.
ns1     A   127.1.0.1
www     A   192.0.2.1
        AAAA 2001:db8::1
alias   CNAME www
chain   CNAME alias
across  CNAME www.other.lab.
away    CNAME www.elsewhere.example.
dangling CNAME nothere.other.lab.
loop1   CNAME loop2
loop2   CNAME loop1
sub     NS  ns.sub
        NS  ns.other.lab.
ns.sub  A   127.1.0.9
*       A   192.0.2.77
        TXT \"wild\"
host    TXT \"exists\"
x.y     A   192.0.2.5
big     TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"
        TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"
        TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"
        TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"
        TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"
        TXT \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"
";

const OTHER: &str = "$ORIGIN other.lab.
$TTL 600
@   SOA ns2 hostmaster 7 3600 900 604800 900
    NS  ns2
ns2 A   127.1.0.2
www A   192.0.2.2
";

fn zones() -> ZoneSet {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("tern-auth-answer-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("example.lab.zone"), EXAMPLE).unwrap();
    std::fs::write(d.join("other.lab.zone"), OTHER).unwrap();
    ZoneSet::new(vec![
        Zone::load(&d.join("example.lab.zone"), None).unwrap(),
        Zone::load(&d.join("other.lab.zone"), None).unwrap(),
    ])
    .unwrap()
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

fn ask(z: &ZoneSet, name: &str, t: RecordType) -> Message {
    let q = make_query(42, Name::from_ascii(name).unwrap(), t, true);
    answer(z, &q, CLIENT, None)
}

fn names(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {}", r.name, r.record_type()))
        .collect()
}

#[test]
fn answer_table() {
    let z = zones();
    use RecordType::*;
    // (qname, qtype, rcode, aa, answer owners+types, authority types)
    let cases: Vec<(
        &str,
        RecordType,
        ResponseCode,
        bool,
        Vec<&str>,
        Vec<RecordType>,
    )> = vec![
        (
            "www.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec!["www.example.lab. A"],
            vec![],
        ),
        (
            "WWW.Example.LAB.",
            AAAA,
            ResponseCode::NoError,
            true,
            vec!["www.example.lab. AAAA"],
            vec![],
        ),
        // NODATA: name exists, type does not
        (
            "www.example.lab.",
            MX,
            ResponseCode::NoError,
            true,
            vec![],
            vec![SOA],
        ),
        // NXDOMAIN below an existing name with no wildcard
        (
            "nope.host.example.lab.",
            A,
            ResponseCode::NXDomain,
            true,
            vec![],
            vec![SOA],
        ),
        // CNAME chased within the zone
        (
            "chain.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec![
                "chain.example.lab. CNAME",
                "alias.example.lab. CNAME",
                "www.example.lab. A",
            ],
            vec![],
        ),
        // CNAME asked for directly is not chased
        (
            "alias.example.lab.",
            CNAME,
            ResponseCode::NoError,
            true,
            vec!["alias.example.lab. CNAME"],
            vec![],
        ),
        // CNAME chased into another zone we serve
        (
            "across.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec!["across.example.lab. CNAME", "www.other.lab. A"],
            vec![],
        ),
        // CNAME to a zone we do not serve: just the CNAME
        (
            "away.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec!["away.example.lab. CNAME"],
            vec![],
        ),
        // CNAME loop stops
        (
            "loop1.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec!["loop1.example.lab. CNAME", "loop2.example.lab. CNAME"],
            vec![],
        ),
        // CNAME to a nonexistent name in our other zone: NXDOMAIN of the target
        (
            "dangling.example.lab.",
            A,
            ResponseCode::NXDomain,
            true,
            vec!["dangling.example.lab. CNAME"],
            vec![SOA],
        ),
        // wildcard synthesis (RFC 4592 §3.3.1)
        (
            "anything.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec!["anything.example.lab. A"],
            vec![],
        ),
        (
            "deep.er.example.lab.",
            TXT,
            ResponseCode::NoError,
            true,
            vec!["deep.er.example.lab. TXT"],
            vec![],
        ),
        // wildcard NODATA
        (
            "anything.example.lab.",
            MX,
            ResponseCode::NoError,
            true,
            vec![],
            vec![SOA],
        ),
        // an existing name blocks the wildcard
        (
            "host.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec![],
            vec![SOA],
        ),
        // an empty non-terminal is NODATA, not the wildcard
        (
            "y.example.lab.",
            A,
            ResponseCode::NoError,
            true,
            vec![],
            vec![SOA],
        ),
        // below an existing name without its own wildcard: NXDOMAIN
        (
            "z.x.y.example.lab.",
            A,
            ResponseCode::NXDomain,
            true,
            vec![],
            vec![SOA],
        ),
        // referral at and below the cut: NS in authority, no AA
        (
            "sub.example.lab.",
            A,
            ResponseCode::NoError,
            false,
            vec![],
            vec![NS, NS],
        ),
        (
            "www.sub.example.lab.",
            A,
            ResponseCode::NoError,
            false,
            vec![],
            vec![NS, NS],
        ),
        // DS at the cut is the parent's: NODATA here
        (
            "sub.example.lab.",
            DS,
            ResponseCode::NoError,
            true,
            vec![],
            vec![SOA],
        ),
        // a zone we do not serve
        (
            "www.example.com.",
            A,
            ResponseCode::Refused,
            false,
            vec![],
            vec![],
        ),
    ];
    for (qname, qtype, rcode, aa, ans, auth) in cases {
        let r = ask(&z, qname, qtype);
        let ctx = format!("{qname} {qtype}: {r:?}");
        assert_eq!(r.metadata.response_code, rcode, "{ctx}");
        assert_eq!(r.metadata.authoritative, aa, "{ctx}");
        assert_eq!(names(&r.answers), ans, "{ctx}");
        let at: Vec<RecordType> = r.authorities.iter().map(|x| x.record_type()).collect();
        assert_eq!(at, auth, "{ctx}");
        assert_eq!(r.metadata.id, 42);
        assert_eq!(r.queries.len(), 1);
    }
}

#[test]
fn referral_carries_in_zone_glue_only() {
    let z = zones();
    let r = ask(&z, "a.sub.example.lab.", RecordType::A);
    let glue = names(&r.additionals);
    assert_eq!(glue, vec!["ns.sub.example.lab. A"]);
}

#[test]
fn negative_ttl_is_min_of_soa_ttl_and_minimum() {
    let z = zones();
    let r = ask(&z, "nope.host.example.lab.", RecordType::A);
    assert_eq!(r.authorities[0].ttl, 60);
    let r = ask(&z, "missing.other.lab.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].ttl, 600);
    assert_eq!(
        r.authorities[0].name,
        Name::from_ascii("other.lab.").unwrap()
    );
}

#[test]
fn wildcard_answer_is_renamed_to_the_query_name() {
    let z = zones();
    let r = ask(&z, "foo.example.lab.", RecordType::A);
    match &r.answers[0].data {
        RData::A(a) => assert_eq!(a.0, Ipv4Addr::new(192, 0, 2, 77)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn edns_is_echoed_with_our_payload_and_absent_without() {
    let z = zones();
    let r = ask(&z, "www.example.lab.", RecordType::A);
    assert_eq!(r.edns.as_ref().unwrap().max_payload(), 1232);
    let q = make_query(
        1,
        Name::from_ascii("www.example.lab.").unwrap(),
        RecordType::A,
        false,
    );
    let r = answer(&z, &q, CLIENT, None);
    assert!(r.edns.is_none());
}

#[test]
fn oversized_udp_answer_sets_tc() {
    let z = zones();
    let q = make_query(
        1,
        Name::from_ascii("big.example.lab.").unwrap(),
        RecordType::TXT,
        false,
    );
    let r = answer(&z, &q, CLIENT, None);
    assert_eq!(r.answers.len(), 6);
    let limit = tern::wire::client_udp_limit(&q, 1232);
    let bytes = tern::wire::encode_limited(&r, limit).unwrap();
    let back = tern::wire::parse(&bytes).unwrap();
    assert!(back.metadata.truncation);
    // over TCP it fits
    let bytes = tern::wire::encode_limited(&r, 65_535).unwrap();
    assert!(!tern::wire::parse(&bytes).unwrap().metadata.truncation);
}

#[test]
fn axfr_is_soa_everything_soa() {
    let z = zones();
    let q = make_query(
        9,
        Name::from_ascii("other.lab.").unwrap(),
        RecordType::AXFR,
        false,
    );
    let msgs = axfr(&z, &q).unwrap();
    let all: Vec<_> = msgs.iter().flat_map(|m| m.answers.clone()).collect();
    assert_eq!(all.first().unwrap().record_type(), RecordType::SOA);
    assert_eq!(all.last().unwrap().record_type(), RecordType::SOA);
    // SOA, NS, ns2 A, www A, closing SOA
    assert_eq!(all.len(), 5);
    let q = make_query(
        9,
        Name::from_ascii("www.other.lab.").unwrap(),
        RecordType::AXFR,
        false,
    );
    assert_eq!(
        axfr(&z, &q).unwrap_err().metadata.response_code,
        ResponseCode::NotAuth
    );
    // AXFR through the ordinary path (UDP) is refused
    let r = answer(&z, &q, CLIENT, None);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}
