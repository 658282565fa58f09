//! `tern lab zones/` end to end with the real binary: the lab's `tern
//! serve` resolves the example names (glued, glueless, a CNAME chain across
//! three zones, the CDN name, NXDOMAIN), `tern dig` and Debian's dig get
//! the same, and Unbound pointed at the lab's root hints agrees.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::process::Command;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use lab_support::*;

/// (name, expected sorted A addresses at the end of the chain)
const NAMES: &[(&str, &[&str])] = &[
    ("www.example.lab.", &["192.0.2.20"]),
    ("www.example.com.", &["192.0.2.10"]),
    ("ftp.example.com.", &["192.0.2.10"]),
    ("www.example.net.", &["192.0.2.30"]),
    ("www.example.org.", &["192.0.2.30"]),
    ("www.dns-host.org.", &["192.0.2.40"]),
    ("www.video.com.", &["127.154.1.1"]),
];

#[test]
fn lab_resolver_and_unbound_resolve_the_example_internet() {
    let dir = lab_copy("e2e", |t| t);
    let _lab = start_lab(&dir);
    let timeout = Duration::from_secs(10);
    for (name, want) in NAMES {
        let r = query(RESOLVER, name, RecordType::A, timeout).unwrap();
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "{name}: {r:?}"
        );
        assert_eq!(addresses(&r), *want, "{name}: {r:?}");
    }
    let chain = query(RESOLVER, "www.example.org.", RecordType::A, timeout).unwrap();
    let cnames = chain
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .count();
    assert_eq!(cnames, 2, "{chain:?}");
    let nx = query(RESOLVER, "nope.example.com.", RecordType::A, timeout).unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

    // tern dig through the lab's resolver
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["dig", "@127.153.255.1", "www.example.lab", "A"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "tern dig: {text}");
    assert!(text.contains("192.0.2.20"), "tern dig: {text}");
    // Debian's dig (CI installs it in .ci/run)
    let out = Command::new("dig")
        .args([
            "@127.153.255.1",
            "www.video.com",
            "A",
            "+time=5",
            "+tries=1",
        ])
        .output()
        .expect("dig is not installed (apt-get install dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: NOERROR"), "dig: {text}");
    assert!(text.contains("www.video.cdn.net."), "dig: {text}");

    // dig with ECS straight at the CDN's server: two client networks, two
    // replicas, each answer valid for its mapped /16 (the ECS scope)
    for (subnet, replica) in [
        ("10.1.7.0/24", "127.154.1.1"),
        ("10.3.7.0/24", "127.154.3.1"),
    ] {
        let out = Command::new("dig")
            .args([
                "@127.153.21.1",
                "www.video.cdn.net",
                "A",
                "+norec",
                "+time=3",
            ])
            .arg(format!("+subnet={subnet}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("CLIENT-SUBNET: {subnet}/16")),
            "{text}"
        );
        assert!(text.contains(&format!("\t{replica}\n")), "{text}");
    }

    // Unbound, pointed at the hints the lab wrote, gives the same answers.
    let hints = dir.join("run").join("root.hints");
    let Some(_unbound) = start_unbound(&dir, &hints) else {
        panic!("unbound is not installed (apt-get install unbound)");
    };
    wait_for(UNBOUND, "www.example.lab.");
    for (name, want) in NAMES {
        let r = query(UNBOUND, name, RecordType::A, timeout).unwrap();
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "unbound {name}: {r:?}"
        );
        assert_eq!(addresses(&r), *want, "unbound {name}: {r:?}");
    }
    let nx = query(UNBOUND, "nope.example.com.", RecordType::A, timeout).unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
}
