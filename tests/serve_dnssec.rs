//! `tern serve` validating the signed lab end to end (real processes on
//! loopback): `tern lab --dnssec` runs its own resolver, which validates
//! from the lab's printed trust anchor. www.example.lab is secure (AD=1),
//! bogus.example.lab is SERVFAIL with EDE 6, the unsigned cdn.net is
//! insecure; Debian's Unbound given the same hints and anchor agrees on
//! each; `delv` pointed at tern validates through it. The lab runs on
//! 127.165.* / 127.166.* so it never meets another test or a running lab.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use lab_support::*;

const TERN: &str = "127.165.255.1:53";
const UNBOUND_ADDR: &str = "127.165.255.2";
const UNBOUND_AT: &str = "127.165.255.2:53";

/// The extended DNS error codes (RFC 8914) a reply carries.
fn ede_codes(m: &Message) -> Vec<u16> {
    let Some(edns) = &m.edns else {
        return Vec::new();
    };
    edns.options()
        .as_ref()
        .iter()
        .filter_map(|(code, opt)| match (u16::from(*code), opt) {
            (15, hickory_proto::rr::rdata::opt::EdnsOption::Unknown(_, data)) => {
                Some(u16::from_be_bytes([data[0], data[1]]))
            }
            _ => None,
        })
        .collect()
}

fn has_type(m: &Message, t: RecordType) -> bool {
    m.answers
        .iter()
        .chain(&m.authorities)
        .any(|r| r.record_type() == t)
}

#[test]
fn tern_serve_validates_the_signed_lab_as_unbound_does() {
    let dir = lab_copy_moved("serve-dnssec", 165, 166);
    let lab = start_lab_map(&dir, &["--dnssec"]);
    let anchor = lab
        .anchor
        .clone()
        .unwrap_or_else(|| panic!("no trust anchor line:\n{}", lab.text));
    wait_for("127.165.12.1:53", "www.example.lab.");
    wait_for(TERN, "www.example.lab.");
    let _unbound = start_validating_unbound(&dir, &lab.hints, &anchor, UNBOUND_ADDR);
    wait_for(UNBOUND_AT, "www.example.lab.");
    let t = Duration::from_secs(10);
    let log = || std::fs::read_to_string(dir.join("run/resolver.log")).unwrap_or_default();

    // Secure: AD=1 with the RRSIG, which a DO=1 client gets.
    let secure = query_do(TERN, "www.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(secure.metadata.response_code, ResponseCode::NoError);
    assert!(secure.metadata.authentic_data, "{secure:?}\n{}", log());
    assert_eq!(addresses(&secure), ["192.0.2.20"]);
    assert!(has_type(&secure, RecordType::RRSIG), "{secure:?}");

    // Bogus: SERVFAIL with EDE 6 and a text naming the record and zone.
    let bogus = query_do(TERN, "bogus.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(bogus.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede_codes(&bogus), [6], "{bogus:?}");

    // Insecure: the unsigned delegation answers without AD.
    let insecure = query_do(TERN, "eu-1.cdn.net.", RecordType::A, t).unwrap();
    assert_eq!(insecure.metadata.response_code, ResponseCode::NoError);
    assert!(!insecure.metadata.authentic_data, "{insecure:?}");
    assert_eq!(addresses(&insecure), ["127.166.1.1"]);

    // A secure NXDOMAIN carries its NSEC proof to a DO=1 client.
    let nx = query_do(TERN, "nope.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authentic_data, "{nx:?}");
    assert!(has_type(&nx, RecordType::NSEC), "{nx:?}");

    // A DO=0 client gets no DNSSEC records.
    let plain = query(TERN, "nope.example.lab.", RecordType::A, t).unwrap();
    assert!(!has_type(&plain, RecordType::NSEC), "{plain:?}");
    assert!(!has_type(&plain, RecordType::RRSIG), "{plain:?}");

    // Unbound, validating from the same anchor, agrees name by name.
    for name in [
        "www.example.lab.",
        "bogus.example.lab.",
        "eu-1.cdn.net.",
        "nope.example.lab.",
        "www.example.com.",
        "alias.example.lab.",
    ] {
        let ours = query_do(TERN, name, RecordType::A, t).unwrap();
        let theirs = query_do(UNBOUND_AT, name, RecordType::A, t).unwrap();
        assert_eq!(
            (
                ours.metadata.response_code,
                ours.metadata.authentic_data,
                addresses(&ours)
            ),
            (
                theirs.metadata.response_code,
                theirs.metadata.authentic_data,
                addresses(&theirs)
            ),
            "{name}: tern {ours:?}\nunbound {theirs:?}"
        );
    }

    // A validating stub behind tern: delv checks every signature itself.
    let bind_keys = dir.join("run/root.anchor.bind");
    let anchor_text = std::fs::read_to_string(&anchor).unwrap();
    std::fs::write(&bind_keys, bind_anchor(&anchor_text)).unwrap();
    let delv = |name: &str| delv("127.165.255.1", &bind_keys, name);
    let good = delv("www.example.lab");
    assert!(good.contains("; fully validated"), "delv: {good}");
    let bad = delv("bogus.example.lab");
    assert!(!bad.contains("fully validated"), "delv: {bad}");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
