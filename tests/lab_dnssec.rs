//! `tern lab --dnssec` end to end: the lab signs its zones, prints its
//! trust anchor, and Debian's Unbound validating from that anchor finds
//! www.example.lab secure (AD=1), bogus.example.lab bogus (SERVFAIL) and
//! the unsigned cdn.net insecure (AD=0); `delv` through that Unbound
//! reports "fully validated" and a failure the same way. The lab runs on
//! 127.163.* / 127.164.* so it never meets another test or a running lab.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use lab_support::*;

const VALIDATOR: &str = "127.163.255.2:53";

#[test]
fn unbound_and_delv_validate_the_signed_lab() {
    let dir = lab_copy_moved("dnssec", 163, 164);
    let lab = start_lab_map(&dir, &["--dnssec", "--no-resolver"]);
    let anchor = lab
        .anchor
        .clone()
        .unwrap_or_else(|| panic!("no trust anchor line:\n{}", lab.text));
    let anchor_text = std::fs::read_to_string(&anchor).unwrap();
    assert!(anchor_text.contains(". 3600 IN DS "), "{anchor_text}");
    wait_for("127.163.12.1:53", "www.example.lab.");
    let config = std::fs::read_to_string(dir.join("run/tern.toml")).unwrap();
    assert!(config.contains("validate = true"), "{config}");
    assert!(config.contains("builtin_root_anchors = false"), "{config}");

    let _unbound = start_validating_unbound(&dir, &lab.hints, &anchor, "127.163.255.2");
    wait_for(VALIDATOR, "www.example.lab.");
    let t = Duration::from_secs(10);
    let log =
        || std::fs::read_to_string(dir.join("unbound-validator/unbound.log")).unwrap_or_default();

    let secure = query_do(VALIDATOR, "www.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(secure.metadata.response_code, ResponseCode::NoError);
    assert!(
        secure.metadata.authentic_data,
        "AD=0: {secure:?}\n{}",
        log()
    );
    assert_eq!(addresses(&secure), ["192.0.2.20"]);

    let bogus = query_do(VALIDATOR, "bogus.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(
        bogus.metadata.response_code,
        ResponseCode::ServFail,
        "{bogus:?}"
    );

    let insecure = query_do(VALIDATOR, "eu-1.cdn.net.", RecordType::A, t).unwrap();
    assert_eq!(
        insecure.metadata.response_code,
        ResponseCode::NoError,
        "{insecure:?}"
    );
    assert!(!insecure.metadata.authentic_data, "{insecure:?}");
    assert_eq!(addresses(&insecure), ["127.164.1.1"]);

    // A secure NXDOMAIN (NSEC proofs) is authenticated too.
    let nx = query_do(VALIDATOR, "nope.example.lab.", RecordType::A, t).unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authentic_data, "{nx:?}\n{}", log());

    let bind_keys = dir.join("run/root.anchor.bind");
    std::fs::write(&bind_keys, bind_anchor(&anchor_text)).unwrap();
    let delv = |name: &str| delv("127.163.255.2", &bind_keys, name);
    let good = delv("www.example.lab");
    assert!(good.contains("; fully validated"), "delv: {good}");
    let bad = delv("bogus.example.lab");
    assert!(!bad.contains("fully validated"), "delv: {bad}");
    assert!(bad.contains("failed"), "delv: {bad}");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
