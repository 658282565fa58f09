//! A zone whose only server is down, through `tern lab`'s real resolver
//! (RFC 9520): the first query gets SERVFAIL by the client deadline
//! (below a stub's 5 s); once that resolution has given up, the next
//! queries in the zone are answered SERVFAIL with an extended DNS error
//! at once, sending nothing upstream; and exactly one probe reaches the
//! dead server per hold-down period, counted at the server. The dead
//! server is a UDP socket of this test at video.com's address (the lab
//! serves everything else). The lab runs on 127.173.* / 127.174.*.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::RecordType;
use lab_support::*;

const RESOLVER: &str = "127.173.255.1:53";
const DEAD: &str = "127.173.20.1:53";

/// A server that counts the queries it gets and never answers.
struct BlackHole {
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlackHole {
    fn start(addr: &str) -> Self {
        let s = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("cannot bind {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                if s.recv_from(&mut buf).is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Self {
            count,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// (code, text) of the extended DNS errors (RFC 8914) of a reply.
fn edes(m: &Message) -> Vec<(u16, String)> {
    let Some(edns) = &m.edns else {
        return Vec::new();
    };
    edns.options()
        .as_ref()
        .iter()
        .filter_map(|(code, opt)| match (u16::from(*code), opt) {
            (15, EdnsOption::Unknown(_, data)) if data.len() >= 2 => Some((
                u16::from_be_bytes([data[0], data[1]]),
                String::from_utf8_lossy(&data[2..]).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// SERVFAIL, answered within `wait` (far below the 10 s query timeout).
fn servfail_within(name: &str, wait: Duration) -> Message {
    let r = query(RESOLVER, name, RecordType::A, wait)
        .unwrap_or_else(|| panic!("{name}: no reply within {wait:?}"));
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{name}");
    r
}

/// Waits until the resolver's log has a line holding every one of `words`.
fn wait_log(log: &std::path::Path, words: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().any(|l| words.iter().all(|w| l.contains(w))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no log line with {words:?} in {}", log.display());
}

#[test]
fn a_dead_zone_answers_servfail_at_once_and_is_probed_once_per_period() {
    let dir = lab_copy_moved("dead-zone", 173, 174);
    let lab_toml = dir.join("lab.toml");
    let text = std::fs::read_to_string(&lab_toml).unwrap();
    let server = "[[server]]\nname = \"video.com\"\naddresses = [\"127.173.20.1\"]\nzones = [\"video.com.zone\"]\n";
    assert!(text.contains(server), "lab.toml changed: {text}");
    std::fs::write(&lab_toml, text.replace(server, "")).unwrap();
    let dead = BlackHole::start(DEAD);
    // The lab's resolver inherits the filter: its log says when the first
    // resolution gives up.
    std::env::set_var("RUST_LOG", "tern::engine=debug,warn");
    let _lab = start_lab_map(&dir, &[]);
    wait_for(RESOLVER, "www.example.lab.");

    // The first query: SERVFAIL by the client deadline (4 s), with an EDE,
    // while the resolution goes on until it gives the server up.
    // Its EDE names the server the resolution is waiting on.
    let first = servfail_within("www.video.com.", Duration::from_secs(5));
    assert!(
        edes(&first)
            .iter()
            .any(|(c, t)| *c == 22 && t.contains(DEAD) && t.contains("video.com.")),
        "{first:?}"
    );
    let log = dir.join("run").join("resolver.log");
    wait_log(&log, &["failure remembered", "qname=www.video.com."]);
    let tried = dead.count();
    assert!(tried >= 1);

    // Now the zone is known dead: SERVFAIL at once, nothing sent.
    for name in ["a.video.com.", "b.video.com.", "www.video.com."] {
        let r = servfail_within(name, Duration::from_secs(1));
        let e = edes(&r);
        assert!(
            e.iter()
                .any(|(c, t)| (*c == 22 && t.contains("video.com. unreachable"))
                    || (*c == 13 && t.contains("ago"))),
            "{name}: {e:?}"
        );
    }
    assert_eq!(dead.count(), tried, "a query reached the dead server");

    // One probe per hold-down period (1 s, then 2 s, then 4 s, each
    // counted from the failure of the last probe, which takes 3 s), however
    // many clients ask; every client is answered at once meanwhile.
    let mut probes = 0;
    let mut wait = Duration::from_millis(1_300);
    for (period, hold) in [2u64, 4, 8].into_iter().enumerate() {
        std::thread::sleep(wait);
        for i in 0..5 {
            servfail_within(&format!("p{period}-{i}.video.com."), Duration::from_secs(1));
        }
        std::thread::sleep(Duration::from_millis(300));
        probes += 1;
        assert_eq!(dead.count(), tried + probes, "period {period}");
        wait = Duration::from_millis(3_000 + hold * 1000);
    }
    drop(dead);
    let _ = std::fs::remove_dir_all(&dir);
}
