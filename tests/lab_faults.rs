//! Faults through `tern lab` end to end: with one of the two gTLD servers
//! down and the other 200 ms slow, names under com/net/org still resolve;
//! after editing lab.toml while the lab runs (re-read within a second or
//! two), 30 % loss on the servers of a not-yet-cached path still resolves
//! within the resolver's retries; with UDP answers truncated, the resolver
//! falls back to TCP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use lab_support::*;
use tern::zone::answer::make_query;

/// Sets `faults = {...}` on the named server's section of lab.toml.
fn set_faults(lab: &str, server: &str, faults: &str) -> String {
    let header = format!("name = \"{server}\"\n");
    let i = lab.find(&header).unwrap() + header.len();
    let mut out = lab.to_string();
    out.insert_str(i, &format!("faults = {{ {faults} }}\n"));
    out
}

/// How many of `n` direct queries to `server` got no answer.
fn drops(server: &str, n: usize) -> usize {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let q = make_query(9, Name::from_ascii("com.").unwrap(), RecordType::SOA, false);
    let mut lost = 0;
    for _ in 0..n {
        s.send_to(&q.to_vec().unwrap(), server).unwrap();
        let mut buf = [0u8; 1500];
        if s.recv_from(&mut buf).is_err() {
            lost += 1;
        }
    }
    lost
}

#[test]
fn resolution_survives_down_delay_and_loss() {
    let dir = lab_copy("faults", |t| {
        let t = set_faults(&t, "b.gtld", "down = true");
        set_faults(&t, "a.gtld", "delay_ms = 200")
    });
    let _lab = start_lab(&dir);
    assert_eq!(drops("127.153.1.2:53", 3), 3, "b.gtld should be down");
    let start = Instant::now();
    let r = query(
        RESOLVER,
        "www.example.com.",
        RecordType::A,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
    assert_eq!(addresses(&r), vec!["192.0.2.10"]);
    // the answer had to come through the slow server
    assert!(start.elapsed() >= Duration::from_millis(200));
    for (name, want) in [
        ("www.example.net.", "192.0.2.30"),
        ("www.example.org.", "192.0.2.30"),
    ] {
        let r = query(RESOLVER, name, RecordType::A, Duration::from_secs(10)).unwrap();
        assert_eq!(addresses(&r), vec![want], "{name}: {r:?}");
    }

    // Change faults while the lab runs: 30 % loss everywhere on the path of
    // www.video.com (not cached yet) and of mail.example.com.
    let lab_file = dir.join("lab.toml");
    let mut text = std::fs::read_to_string(&lab_file).unwrap();
    text = text
        .replace("faults = { down = true }\n", "")
        .replace("faults = { delay_ms = 200 }\n", "");
    for s in ["a.gtld", "b.gtld", "example.com", "video.com", "cdn.net"] {
        text = set_faults(&text, s, "loss_percent = 30");
    }
    std::fs::write(&lab_file, text).unwrap();
    // the lab re-reads the file within about a second
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lost = drops("127.153.1.2:53", 20);
        if lost > 0 && lost < 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "loss fault never applied ({lost}/20 lost)"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    for (name, want) in [
        ("www.video.com.", "127.154.1.1"),
        ("mail.example.com.", "192.0.2.11"),
    ] {
        let r = query(RESOLVER, name, RecordType::A, Duration::from_secs(12)).unwrap();
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "{name}: {r:?}"
        );
        assert_eq!(addresses(&r), vec![want], "{name}: {r:?}");
    }

    // Truncate every UDP answer of example.lab's server: the resolver must
    // retry over TCP (RFC 7766 §5) and still get the (uncached) TXT record.
    let text = std::fs::read_to_string(&lab_file).unwrap();
    std::fs::write(
        &lab_file,
        set_faults(&text, "example.lab", "truncate = true"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let q = make_query(
            7,
            Name::from_ascii("www.example.lab.").unwrap(),
            RecordType::A,
            false,
        );
        s.send_to(&q.to_vec().unwrap(), "127.153.12.1:53").unwrap();
        let mut buf = [0u8; 1500];
        let tc = s
            .recv_from(&mut buf)
            .ok()
            .and_then(|(n, _)| hickory_proto::op::Message::from_vec(&buf[..n]).ok())
            .is_some_and(|m| m.metadata.truncation);
        if tc {
            break;
        }
        assert!(Instant::now() < deadline, "truncate fault never applied");
        std::thread::sleep(Duration::from_millis(300));
    }
    let r = query(
        RESOLVER,
        "www.example.lab.",
        RecordType::TXT,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
    assert!(
        r.answers
            .iter()
            .any(|a| a.data.to_string().contains("hello from the tern lab")),
        "{r:?}"
    );
}
