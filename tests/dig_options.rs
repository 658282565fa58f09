//! The OPT pseudosection against Debian's dig: a scripted UDP responder on
//! 127.66.3.1 answers each query with the EDNS options its first label
//! names (`cg` echoes our client cookie, `cb` a wrong one, `oCODE-HEX` any
//! option), and `dig` and `tern dig` must print the same lines: COOKIE
//! (good)/(bad) and the mismatch warning, EDE with and without text, NSID,
//! EXPIRE, TCP KEEPALIVE, PAD, KEY-TAG, SERVER-TAG, CLIENT-SUBNET, OPT=N.
//! A second responder (127.66.3.2) answers each query with a wrong ID, a
//! wrong question and a message without QR before the real reply: both
//! clients must warn alike and take the same message. TCP to a closed
//! port (127.66.3.3) must fail alike.

// The responder and helpers fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod dig_common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dig_common::{assert_same, real_dig, tern_dig};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The reply to one query: the question echoed, AA+RA, and an OPT record
/// carrying the options the first label asks for.
fn reply(query: &[u8]) -> Option<Vec<u8>> {
    let mut p = 12;
    while *query.get(p)? != 0 {
        p += usize::from(query[p]) + 1;
    }
    let question = query.get(12..p + 5)?;
    let label = std::str::from_utf8(&query[13..13 + usize::from(query[12])]).ok()?;
    // Our client cookie: the 8 bytes after option code 10, length 8.
    let client = query
        .windows(4)
        .position(|w| w == [0, 10, 0, 8])
        .and_then(|i| query.get(i + 4..i + 12))
        .unwrap_or(&[]);
    let mut options: Vec<(u16, Vec<u8>)> = Vec::new();
    for part in label.split('_') {
        match part {
            "cg" => options.push((10, [client, &[1, 0, 0, 0], &[0x11; 12]].concat())),
            "cb" => options.push((10, [[0x99; 8], [1; 8], [1; 8]].concat())),
            _ => {
                let (code, data) = part.strip_prefix('o')?.split_once('-')?;
                options.push((code.parse().ok()?, hex(data)));
            }
        }
    }
    let mut rdata = Vec::new();
    for (code, data) in &options {
        rdata.extend_from_slice(&code.to_be_bytes());
        rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
        rdata.extend_from_slice(data);
    }
    let mut m = query[..2].to_vec();
    m.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 0, 0, 0, 0, 1]);
    m.extend_from_slice(question);
    m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    Some(m)
}

#[test]
fn opt_pseudosection_matches_dig() {
    let sock = UdpSocket::bind("127.66.3.1:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if let Some(r) = reply(&buf[..n]) {
                    let _ = sock.send_to(&r, from);
                }
            }
        }
    });
    let labels = [
        "cg",
        "cb",
        "cg_o3-6e7331_o15-0016",
        "o15-0016414243",
        "o15-0014",
        "o15-0063",
        "o3-6e7331",
        "o9-00000e10",
        "o9-00015fcd",
        "o11-012c",
        "o11-",
        "o12-0000000000",
        "o12-",
        "o14-00010002",
        "o17-7374",
        "o8-00011810c00002",
        "o8-00023800200d0db8000000",
        "o65001-414201",
        "o65002-",
    ];
    for label in labels {
        let name = format!("{label}.example");
        for extra in ["+nsid", "+noall"] {
            let args = ["@127.66.3.1", "-p", &port, &name, extra];
            let (want, got) = (real_dig(&args), tern_dig(&args));
            assert_eq!(want.status.code(), got.status.code(), "{label}");
            let (w, g) = (
                String::from_utf8_lossy(&want.stdout),
                String::from_utf8_lossy(&got.stdout),
            );
            assert!(
                w.contains("OPT PSEUDOSECTION") || extra == "+noall",
                "{label}: {w}"
            );
            assert_same(label, &w, &g);
        }
    }
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
}

/// Sends, for each query: wrong ID, wrong question, QR=0 echo, reply.
fn noisy_responder(sock: UdpSocket, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..n];
        let Some(good) = reply(q) else {
            continue;
        };
        let mut bad_id = good.clone();
        bad_id[0] ^= 0xff;
        let mut other = good[..12].to_vec();
        other[4..6].copy_from_slice(&[0, 1]);
        other[10..12].copy_from_slice(&[0, 0]);
        other.extend_from_slice(b"\x05other\x00\x00\x01\x00\x01");
        for m in [&bad_id, &other, &q.to_vec(), &good] {
            let _ = sock.send_to(m, from);
        }
    }
}

#[test]
fn mismatched_replies_and_tcp_failures_match_dig() {
    let sock = UdpSocket::bind("127.66.3.2:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || noisy_responder(sock, stop2));
    for extra in ["+noedns", "+nsid"] {
        let args = ["@127.66.3.2", "-p", &port, "o3-6e7331.example", extra];
        let (want, got) = (real_dig(&args), tern_dig(&args));
        assert_eq!(want.status.code(), got.status.code());
        let w = String::from_utf8_lossy(&want.stdout);
        assert!(w.contains(";; Warning: query response not set"), "{w}");
        assert_same(extra, &w, &String::from_utf8_lossy(&got.stdout));
    }
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();

    // Nothing listens on TCP there: each try fails on its own, as in dig.
    let args = [
        "@127.66.3.3",
        "-p",
        &port,
        "x.example",
        "+tcp",
        "+tries=2",
        "+timeout=1",
    ];
    let (want, got) = (real_dig(&args), tern_dig(&args));
    assert_eq!(got.status.code(), Some(9));
    assert_eq!(want.status.code(), got.status.code());
    assert_same(
        "tcp refused",
        &String::from_utf8_lossy(&want.stdout),
        &String::from_utf8_lossy(&got.stdout),
    );
}

/// Answers every query with two NSEC3 records (RFC 5155 §3.3), which NSD
/// will not serve from an unsigned zone.
fn nsec3_responder(sock: UdpSocket, stop: Arc<AtomicBool>) {
    let hash: Vec<u8> = (0..20).collect();
    let with_types = [
        &[1, 1, 0, 10, 4, 0xaa, 0xbb, 0xcc, 0xdd, 20][..],
        &hash,
        &[0, 6, 0x40, 0, 0, 0, 0, 2],
    ]
    .concat();
    let bare = [&[1, 0, 0, 0, 0, 20][..], &hash].concat();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..n];
        let mut p = 12;
        while q[p] != 0 {
            p += usize::from(q[p]) + 1;
        }
        let mut m = q[..2].to_vec();
        m.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
        m.extend_from_slice(&q[12..p + 5]);
        for rd in [&with_types, &bare] {
            m.extend_from_slice(&[0xc0, 12, 0, 50, 0, 1, 0, 0, 1, 44]);
            m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            m.extend_from_slice(rd);
        }
        let _ = sock.send_to(&m, from);
    }
}

#[test]
fn nsec3_matches_dig() {
    let sock = UdpSocket::bind("127.66.3.4:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || nsec3_responder(sock, stop2));
    // dig checks that an NSEC3 owner is a hash label.
    let name = "000g40o40k30e209185go38e1s8124gj.example";
    for extra in ["+noedns", "+multi"] {
        let args = ["@127.66.3.4", "-p", &port, name, "NSEC3", extra];
        let (want, got) = (real_dig(&args), tern_dig(&args));
        let w = String::from_utf8_lossy(&want.stdout);
        assert!(w.contains("000G40O40K30E209185GO38E1S8124GJ"), "{w}");
        assert_same(extra, &w, &String::from_utf8_lossy(&got.stdout));
    }
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
}

/// Answers with a compression pointer past the end of the message: both
/// clients must report a bad packet with the same dump and exit 0.
#[test]
fn bad_packet_matches_dig() {
    let sock = UdpSocket::bind("127.66.3.5:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop2.load(Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let q = &buf[..n];
            let mut p = 12;
            while q[p] != 0 {
                p += usize::from(q[p]) + 1;
            }
            let mut m = q[..2].to_vec();
            m.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
            m.extend_from_slice(&q[12..p + 5]);
            m.extend_from_slice(&[0xc0, 0x40, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
            let _ = sock.send_to(&m, from);
        }
    });
    let args = ["@127.66.3.5", "-p", &port, "ptr.example", "+noedns"];
    let (want, got) = (real_dig(&args), tern_dig(&args));
    assert_eq!(want.status.code(), Some(0));
    assert_eq!(got.status.code(), Some(0));
    // The first dump line holds the (random) message ID.
    let strip = |o: &std::process::Output| -> Vec<String> {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| l.to_string())
            .collect()
    };
    let w = strip(&want);
    assert_eq!(
        w.first().map(String::as_str),
        Some(";; Got bad packet: bad compression pointer")
    );
    assert_eq!(w, strip(&got));
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
}
