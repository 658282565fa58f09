//! A fresh `tern lab` answers every lab name whatever name is asked
//! first: priming (RFC 8109) leaves the resolver with root servers it can
//! reach, whether the first resolution walks through `com.`, `net.`,
//! `org.` or `lab.` (where the root servers' own names live). One fresh
//! lab per first name; the lab runs on 127.171.* / 127.172.* so it never
//! meets another test or a running lab.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use lab_support::*;

const RESOLVER: &str = "127.171.255.1:53";

/// (name, sorted A addresses at the end of the chain, lab moved)
const NAMES: &[(&str, &[&str])] = &[
    ("www.example.lab.", &["192.0.2.20"]),
    ("www.example.com.", &["192.0.2.10"]),
    ("ftp.example.com.", &["192.0.2.10"]),
    ("www.example.net.", &["192.0.2.30"]),
    ("www.example.org.", &["192.0.2.30"]),
    ("www.dns-host.org.", &["192.0.2.40"]),
    ("www.video.com.", &["127.172.1.1"]),
];

/// Waits until the resolver's socket answers anything (a CHAOS query,
/// answered or refused locally), without resolving a single name.
fn wait_listening(server: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut q = Message::new(0x4c48, MessageType::Query, OpCode::Query);
    let mut query = Query::query(Name::from_ascii("version.bind.").unwrap(), RecordType::TXT);
    query.set_query_class(DNSClass::CH);
    q.add_query(query);
    let bytes = q.to_vec().unwrap();
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        s.send_to(&bytes, server).unwrap();
        if s.recv_from(&mut buf).is_ok() {
            return;
        }
    }
    panic!("{server} never answered a CHAOS query");
}

fn check_all_after(first: &str) {
    let dir = lab_copy_moved(&format!("first-{first}"), 171, 172);
    let lab = start_lab_map(&dir, &[]);
    wait_listening(RESOLVER);
    let timeout = Duration::from_secs(10);
    let order = std::iter::once(first).chain(NAMES.iter().map(|(n, _)| *n));
    for name in order {
        let want = NAMES.iter().find(|(n, _)| *n == name).unwrap().1;
        let r = query(RESOLVER, name, RecordType::A, timeout)
            .unwrap_or_else(|| panic!("first {first}: no reply for {name}"));
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "first {first}: {name}: {r:?}"
        );
        assert_eq!(addresses(&r), want, "first {first}: {name}: {r:?}");
    }
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_lab_name_resolves_whatever_is_asked_first() {
    for (first, _) in NAMES {
        check_all_after(first);
    }
}
