//! Additional section processing in `tern auth` (RFC 1034 §4.3.2 step 6):
//! NS, MX and SRV answers carry the addresses the zone holds for their
//! targets, in-zone data and glue alike, so a priming reply (`. NS`)
//! brings the root servers' addresses (RFC 8109 §4). Compared, query by
//! query, with NSD serving the same zone files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::nsd::{udp_query, NsdServer, NsdTree};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::zone::answer::{answer, make_query};
use tern::zone::{Zone, ZoneSet};

const ROOT: &str = "$ORIGIN .
$TTL 86400
@       SOA a.root.test. hostmaster.test. 1 1800 900 604800 86400
        NS  a.root.test.
        NS  b.root.test.
        NS  ns.elsewhere.example.
test.   NS  a.root.test.
a.root.test. A 127.94.0.1
a.root.test. AAAA ::1
b.root.test. A 127.94.0.2
";

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@        SOA ns1 hostmaster 1 3600 900 604800 300
         NS  ns1
         NS  ns.sub
         NS  ns.other.test.
         MX  10 mail
         MX  20 mx.other.test.
ns1      A   192.0.2.1
         AAAA 2001:db8::1
mail     A   192.0.2.2
www      A   192.0.2.3
         MX  5 www
_sip._udp SRV 0 5 5060 sip
sip      A   192.0.2.4
         AAAA 2001:db8::4
nomx     MX  10 absent
sub      NS  ns.sub
ns.sub   A   192.0.2.9
";

/// (zone, name, type)
const QUERIES: &[(&str, &str, RecordType)] = &[
    (".", ".", RecordType::NS),
    ("example.test.", "example.test.", RecordType::NS),
    ("example.test.", "example.test.", RecordType::MX),
    ("example.test.", "www.example.test.", RecordType::MX),
    ("example.test.", "_sip._udp.example.test.", RecordType::SRV),
    ("example.test.", "nomx.example.test.", RecordType::MX),
    ("example.test.", "www.example.test.", RecordType::A),
    ("example.test.", "sub.example.test.", RecordType::NS),
];

fn shape(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect()
}

/// The names NS, MX and SRV records point at.
fn targets(records: &[Record]) -> Vec<Name> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            RData::MX(mx) => Some(mx.exchange.clone()),
            RData::SRV(srv) => Some(srv.target.clone()),
            _ => None,
        })
        .collect()
}

fn zones() -> ZoneSet {
    // One directory per call: the tests of this file run in parallel and
    // each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("tern-auth-additional-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("root.zone"), ROOT).unwrap();
    std::fs::write(d.join("example.test.zone"), ZONE).unwrap();
    let z = ZoneSet::new(vec![
        Zone::load(&d.join("root.zone"), Some(Name::root())).unwrap(),
        Zone::load(&d.join("example.test.zone"), None).unwrap(),
    ])
    .unwrap();
    let _ = std::fs::remove_dir_all(&d);
    z
}

fn ours(z: &ZoneSet, name: &str, t: RecordType) -> Message {
    let q = make_query(9, Name::from_ascii(name).unwrap(), t, false);
    answer(z, &q, IpAddr::V4(Ipv4Addr::LOCALHOST), None)
}

#[test]
fn priming_reply_carries_root_server_addresses() {
    let z = zones();
    let r = ours(&z, ".", RecordType::NS);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 3);
    assert_eq!(
        shape(&r.additionals),
        BTreeSet::from([
            "a.root.test. A 127.94.0.1".to_string(),
            "a.root.test. AAAA ::1".to_string(),
            "b.root.test. A 127.94.0.2".to_string(),
        ])
    );
}

#[test]
fn targets_without_addresses_add_nothing() {
    let z = zones();
    assert!(ours(&z, "nomx.example.test.", RecordType::MX)
        .additionals
        .is_empty());
    assert!(ours(&z, "www.example.test.", RecordType::A)
        .additionals
        .is_empty());
}

#[test]
fn additional_sections_match_nsd() {
    let z = zones();
    let _nsd = NsdTree::start(&[
        NsdServer::new("a.root.test.", &["127.94.0.1"], &[(".", ROOT)]).port(5353),
        NsdServer::new(
            "ns1.example.test.",
            &["127.94.0.3"],
            &[("example.test.", ZONE)],
        )
        .port(5353),
    ]);
    for (zone, name, t) in QUERIES {
        let ip = if *zone == "." {
            "127.94.0.1"
        } else {
            "127.94.0.3"
        };
        let server = SocketAddr::new(ip.parse().unwrap(), 5353);
        let theirs = udp_query(server, name, *t, Duration::from_secs(3)).unwrap();
        let ours = ours(&z, name, *t);
        assert_eq!(
            shape(&ours.answers),
            shape(&theirs.answers),
            "{name} {t} answers"
        );
        // NSD also puts the apex NS set in authority beside answers, and
        // its servers' addresses in additional; tern does not (minimal
        // responses), so only the answer targets' addresses compare.
        // A referral has no answer: its NS set in authority names the glue.
        let targets = if theirs.answers.is_empty() {
            targets(&theirs.authorities)
        } else {
            targets(&theirs.answers)
        };
        let theirs_for_answer: Vec<Record> = theirs
            .additionals
            .iter()
            .filter(|r| targets.contains(&r.name))
            .cloned()
            .collect();
        assert_eq!(
            shape(&ours.additionals),
            shape(&theirs_for_answer),
            "{name} {t} additional"
        );
    }
}
