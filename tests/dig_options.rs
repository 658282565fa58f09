//! The OPT pseudosection against Debian's dig: a scripted UDP responder on
//! 127.66.3.1 answers each query with the EDNS options its first label
//! names (`cg` echoes our client cookie, `cb` a wrong one, `oCODE-HEX` any
//! option), and `dig` and `tern dig` must print the same lines: COOKIE
//! (good)/(bad) and the mismatch warning, EDE with and without text, NSID,
//! EXPIRE, TCP KEEPALIVE, PAD, KEY-TAG, SERVER-TAG, CLIENT-SUBNET, OPT=N.

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
