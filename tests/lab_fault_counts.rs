//! Every fault the lab can inject, end to end through the lab's resolver:
//! with the fault on example.com's only server, a question in that zone
//! gets the answer (or the failure) it should, after exactly the upstream
//! queries it should take, counted from the resolver's debug log (one line
//! per upstream reply or failure). The lab runs on 127.175.* / 127.176.*.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use lab_support::*;
use tern::zone::answer::make_query;

const RESOLVER: &str = "127.175.255.1:53";
const SERVER: &str = "127.175.10.1:53";

/// What the faulty server itself does with a query, seen directly.
#[derive(Debug, PartialEq)]
enum Direct {
    Answer,
    Rcode(ResponseCode),
    NotAuthoritative,
    Truncated,
    Unreadable,
    Nothing,
}

fn direct() -> Direct {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let q = make_query(
        77,
        Name::from_ascii("www.example.com.").unwrap(),
        RecordType::A,
        false,
    );
    s.send_to(&q.to_vec().unwrap(), SERVER).unwrap();
    let mut buf = [0u8; 1500];
    let Ok((n, _)) = s.recv_from(&mut buf) else {
        return Direct::Nothing;
    };
    let Ok(m) = Message::from_vec(&buf[..n]) else {
        return Direct::Unreadable;
    };
    if m.metadata.id != 77 {
        return Direct::Unreadable;
    }
    if m.metadata.truncation {
        return Direct::Truncated;
    }
    if m.metadata.response_code != ResponseCode::NoError {
        return Direct::Rcode(m.metadata.response_code);
    }
    if !m.metadata.authoritative {
        return Direct::NotAuthoritative;
    }
    Direct::Answer
}

/// Sets `faults` on example.com's server (none when empty) and waits until
/// the server shows `want`.
fn set_fault(lab_toml: &Path, original: &str, faults: &str, want: &Direct) {
    let header = "name = \"example.com\"\n";
    let text = if faults.is_empty() {
        original.to_string()
    } else {
        original.replace(header, &format!("{header}faults = {{ {faults} }}\n"))
    };
    std::fs::write(lab_toml, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = direct();
        if &got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "fault {faults:?} never applied: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Upstream exchanges with the faulty server logged so far.
fn exchanges(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.contains(&format!("server={SERVER}"))
                && (l.contains("upstream reply") || l.contains("upstream failure"))
        })
        .count()
}

fn txt(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn each_lab_fault_gives_its_answer_after_its_upstream_queries() {
    let dir = lab_copy_moved("fault-counts", 175, 176);
    let lab_toml = dir.join("lab.toml");
    let original = std::fs::read_to_string(&lab_toml).unwrap();
    std::env::set_var("RUST_LOG", "tern::engine=debug,warn");
    let _lab = start_lab_map(&dir, &[]);
    wait_for(RESOLVER, "www.example.com.");
    let log = dir.join("run").join("resolver.log");

    // (fault, what the server shows, rcode the client gets, exchanges).
    // The first question takes two queries: QNAME minimisation asks
    // users.example.com first, an empty non-terminal whose NODATA is then
    // cached, so every later question asks only its full name.
    let cases: &[(&str, Direct, ResponseCode, usize)] = &[
        ("", Direct::Answer, ResponseCode::NoError, 2),
        ("delay_ms = 300", Direct::Answer, ResponseCode::NoError, 1),
        // Over UDP (TC=1), then over TCP.
        (
            "truncate = true",
            Direct::Truncated,
            ResponseCode::NoError,
            2,
        ),
        // The full name, then once more after asking the parent for the
        // delegation again.
        (
            "refuse = true",
            Direct::Rcode(ResponseCode::Refused),
            ResponseCode::ServFail,
            2,
        ),
        (
            "servfail = true",
            Direct::Rcode(ResponseCode::ServFail),
            ResponseCode::ServFail,
            2,
        ),
        (
            "lame = true",
            Direct::NotAuthoritative,
            ResponseCode::ServFail,
            2,
        ),
        // upstream.retries timeouts from the zone's only server.
        ("down = true", Direct::Nothing, ResponseCode::ServFail, 5),
        // Random bytes are no reply: the same as down.
        (
            "garbage = true",
            Direct::Unreadable,
            ResponseCode::ServFail,
            5,
        ),
    ];
    for (i, (fault, shows, rcode, want)) in cases.iter().enumerate() {
        set_fault(&lab_toml, &original, fault, shows);
        let before = exchanges(&log);
        let name = format!("case{i}.users.example.com.");
        let r = query(RESOLVER, &name, RecordType::TXT, Duration::from_secs(12))
            .unwrap_or_else(|| panic!("{fault}: no reply"));
        assert_eq!(r.metadata.response_code, *rcode, "{fault}: {r:?}");
        if *rcode == ResponseCode::NoError {
            assert_eq!(txt(&r), ["wildcard: any user name resolves"], "{fault}");
        }
        // The log line of the last exchange may trail the reply a little.
        let deadline = Instant::now() + Duration::from_secs(2);
        while exchanges(&log) - before < *want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(exchanges(&log) - before, *want, "{fault}: upstream queries");

        if *fault == "down = true" {
            // The server is held down now. Back up, its hold-down (1 s)
            // over: the next client still gets SERVFAIL at once, and the
            // background probe it starts finds the server and clears the
            // state; the answer it fetched is cached for the retry.
            set_fault(&lab_toml, &original, "", &Direct::Answer);
            std::thread::sleep(Duration::from_millis(1_200));
            let before = exchanges(&log);
            let name = "back.users.example.com.";
            let r = query(RESOLVER, name, RecordType::TXT, Duration::from_secs(2)).unwrap();
            assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r:?}");
            let deadline = Instant::now() + Duration::from_secs(5);
            let r = loop {
                let r = query(RESOLVER, name, RecordType::TXT, Duration::from_secs(2)).unwrap();
                if r.metadata.response_code == ResponseCode::NoError || Instant::now() > deadline {
                    break r;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            assert_eq!(txt(&r), ["wildcard: any user name resolves"], "{r:?}");
            // The probe asks the full name (users.example.com's NODATA
            // is cached) and its answer serves the retry.
            assert_eq!(exchanges(&log) - before, 1, "the probe");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Packet loss, counted exactly: the lab draws each drop from the server's
/// seeded RNG (seed = the lab's seed + the server's index in lab.toml, one
/// draw per query), so the same draws, made here, tell how many of the
/// resolver's queries the server drops. Each lost query is retried after
/// its timeout; the question is answered after as many exchanges as it
/// took to get the two replies it needs (QNAME minimisation's, then the
/// full name's). Runs on its own lab (127.159.* / 127.160.*).
#[test]
fn packet_loss_costs_exactly_the_dropped_queries() {
    use tern::auth::faults::{rng, Faults, Verdict};
    const LOSS_RESOLVER: &str = "127.159.255.1:53";
    const LOSS_SERVER: &str = "127.159.10.1:53";
    let dir = lab_copy_moved("fault-loss", 159, 160);
    let lab_toml = dir.join("lab.toml");
    let original = std::fs::read_to_string(&lab_toml).unwrap();
    let seed: u64 = 11;
    let header = "name = \"example.com\"\n";
    let text = original
        .replace("seed = 1\n", &format!("seed = {seed}\n"))
        .replace(
            header,
            &format!("{header}faults = {{ loss_percent = 50 }}\n"),
        );
    assert_ne!(text, original);
    std::fs::write(&lab_toml, &text).unwrap();
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    let index = parsed["server"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["name"].as_str() == Some("example.com"))
        .unwrap() as u64;

    // The server's draws, from its first query on. Nothing asks it before
    // the question below: the readiness check asks another zone.
    let faults = Faults {
        loss_percent: 50.0,
        ..Faults::default()
    };
    let mut draws = rng(seed.wrapping_add(index));
    let mut want = 0;
    let mut dropped = 0;
    for _step in 0..2 {
        loop {
            want += 1;
            if faults.verdict(&mut draws) == Verdict::Answer {
                break;
            }
            dropped += 1;
        }
    }
    assert!(
        dropped > 0 && dropped < 4,
        "seed {seed} should drop some queries, within the retries: {dropped}"
    );

    std::env::set_var("RUST_LOG", "tern::engine=debug,warn");
    let _lab = start_lab_map(&dir, &[]);
    wait_for(LOSS_RESOLVER, "www.example.lab.");
    let log = dir.join("run").join("resolver.log");
    let count = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains(&format!("server={LOSS_SERVER}"))
                    && (l.contains("upstream reply") || l.contains("upstream failure"))
            })
            .count()
    };
    assert_eq!(count(&log), 0, "example.com's server asked before the test");
    let r = query(
        LOSS_RESOLVER,
        "lossy.users.example.com.",
        RecordType::TXT,
        Duration::from_secs(12),
    )
    .expect("no reply");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
    assert_eq!(txt(&r), ["wildcard: any user name resolves"]);
    let deadline = Instant::now() + Duration::from_secs(2);
    while count(&log) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        count(&log),
        want,
        "{dropped} dropped: exchanges with the lossy server"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
