//! The reliability battery: the real `tern serve` on loopback, black box,
//! against hostile clients, hostile upstream servers, connection hogs,
//! SIGKILL and many unique names. Each test prints its figures (counts,
//! resident memory, time to serve again); none asserts a timing. The
//! default counts keep `cargo test` short; `TERN_RELIABILITY_LONG=1` runs
//! the full sizes (100 k hostile packets per transport, 5 M names);
//! `TERN_RELIABILITY_NAMES=N` sets the unique-name count and
//! `TERN_RELIABILITY_SAMPLES=1` prints its resident-memory samples.
//!
//! Addresses: `127.120.<n>.x`, one `n` per test (see `Net`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod reliability_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use rand::rngs::StdRng;
use rand::SeedableRng;

use reliability_support::*;

/// Reads and checks every reply a hostile packet gets, until `stop`.
fn drain_udp(sock: UdpSocket, stop: Arc<AtomicBool>, replies: Arc<AtomicU64>) {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    while !stop.load(Ordering::SeqCst) {
        if let Ok(n) = sock.recv(&mut buf) {
            assert!(reply_ok(&buf[..n]), "a reply that is not a response");
            replies.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One TCP connection carrying `frames` hostile messages (and sometimes a
/// frame cut short), read until the server closes it.
fn hostile_tcp_connection(addr: SocketAddr, frames: usize, rng: &mut StdRng) -> usize {
    use rand::Rng;
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut out = Vec::new();
    for _ in 0..frames {
        // QR=1 messages are never answered; leave them to the UDP side,
        // where that is checked, so every frame here may be answered.
        let kind = match rng.random_range(0..KINDS) {
            4 => 0,
            k => k,
        };
        let p = hostile_packet(kind, rng);
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(&p);
    }
    if rng.random_range(0..4) == 0 {
        // A length promising more than ever comes.
        out.extend_from_slice(&[0xff, 0xff, 1, 2, 3]);
    }
    let _ = s.write_all(&out);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut replies = 0;
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            break;
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if s.read_exact(&mut body).is_err() {
            break;
        }
        assert!(reply_ok(&body), "a TCP reply that is not a response");
        replies += 1;
    }
    replies
}

#[test]
fn hostile_client_packets_leave_the_canary_answered_and_memory_flat() {
    let net = Net(1);
    let dir = scratch("clients");
    let _root = Auth::root(net);
    // A small cache, full early on: what grows after that is not the
    // cache filling with the hostile names' negative answers. Queries in
    // flight are bounded too (each holds a resolution's state, tens of
    // kilobytes): with the default 10,000 a slow machine lets them pile up
    // past the 16 MiB allowed below without anything leaking.
    let tern = Tern::start(
        &dir,
        net,
        "max_concurrent_queries = 256",
        "[cache]\nmax_bytes = 2097152\n",
    );
    let total: usize = if long() { 100_000 } else { 4_000 };
    let mut rng = StdRng::seed_from_u64(20);
    assert!(canary(tern.addr, false), "canary unanswered at start");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(tern.addr).unwrap();
    // Responses (QR=1) go from their own socket, which must hear nothing.
    let qr_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    qr_sock.connect(tern.addr).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let replies = Arc::new(AtomicU64::new(0));
    let drain = {
        let (s, st, r) = (sender.try_clone().unwrap(), stop.clone(), replies.clone());
        std::thread::spawn(move || drain_udp(s, st, r))
    };
    let mut rss_warm = 0;
    let mut rss_max = 0;
    let mut canaries = 0;
    for i in 0..total {
        let kind = i % KINDS;
        let p = hostile_packet(kind, &mut rng);
        let via = if kind == 4 { &qr_sock } else { &sender };
        let _ = via.send(&p);
        if i % 500 == 499 {
            // Let the server keep up; then the canary.
            std::thread::sleep(Duration::from_millis(20));
            assert!(canary(tern.addr, false), "UDP canary unanswered after {i}");
            canaries += 1;
            let rss = tern.rss_kib();
            if i < total / 4 {
                rss_warm = rss_warm.max(rss);
            }
            rss_max = rss_max.max(rss);
        }
    }
    let udp_rss = tern.rss_kib();
    // TCP: connections of 50 frames each.
    let conns = total / 50;
    let mut tcp_replies = 0;
    for c in 0..conns {
        tcp_replies += hostile_tcp_connection(tern.addr, 50, &mut rng);
        if c % 10 == 9 {
            assert!(canary(tern.addr, true), "TCP canary unanswered");
            canaries += 1;
            rss_max = rss_max.max(tern.rss_kib());
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    drain.join().unwrap();
    qr_sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(qr_sock.recv(&mut buf).is_err(), "a response was answered");
    assert!(canary(tern.addr, false) && canary(tern.addr, true));
    let end = tern.rss_kib();
    println!(
        "hostile clients: {total} UDP packets ({} replies), {} TCP frames on {conns} \
         connections ({tcp_replies} replies), {canaries} canaries answered; RSS KiB: \
         warm {rss_warm}, after UDP {udp_rss}, max {rss_max}, end {end}",
        replies.load(Ordering::Relaxed),
        conns * 50,
    );
    // Flat: no growth beyond a small allowance over the warmed-up size.
    assert!(
        rss_max <= rss_warm + 16 * 1024,
        "RSS grew from {rss_warm} to {rss_max} KiB"
    );
}

#[test]
fn idle_and_slow_tcp_connections_are_closed_and_the_canary_answered() {
    let net = Net(2);
    let dir = scratch("loris");
    let _root = Auth::root(net);
    let cap = 16;
    let tern = Tern::start(
        &dir,
        net,
        &format!("tcp_max_connections = {cap}\ntcp_idle_timeout_ms = 1000"),
        "",
    );
    let hogs = if long() { cap * 8 } else { cap * 3 };
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..hogs {
        let (addr, stop, closed) = (tern.addr, stop.clone(), closed.clone());
        threads.push(std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else {
                closed.fetch_add(1, Ordering::SeqCst);
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            // Half stay silent; half drip a frame that never completes.
            let slow = i % 2 == 1;
            if slow {
                let _ = s.write_all(&[0, 200]);
            }
            let mut buf = [0u8; 64];
            while !stop.load(Ordering::SeqCst) {
                if slow && s.write_all(&[0x55]).is_err() {
                    closed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                match s.read(&mut buf) {
                    Ok(0) => {
                        closed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    Err(e)
                        if e.kind() != std::io::ErrorKind::WouldBlock
                            && e.kind() != std::io::ErrorKind::TimedOut =>
                    {
                        closed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    _ => {}
                }
            }
        }));
    }
    let mut answered = 0;
    for _ in 0..5 {
        assert!(canary(tern.addr, true), "TCP canary unanswered");
        answered += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    // Every hog is closed by the server within a generous bound (a slow
    // frame never counts as activity; the idle timeout is 1 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    while closed.load(Ordering::SeqCst) < hogs as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = closed.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    println!("slow/idle TCP: {hogs} hogs (cap {cap}), {n} closed by the server, {answered} TCP canaries answered");
    assert_eq!(n, hogs as u64, "connections left open");
    assert!(canary(tern.addr, true));
}

/// Asks `name` and checks the reply: `want` or SERVFAIL, and the forged
/// address nowhere in it. Returns whether it was answered properly.
fn right_or_servfail(addr: SocketAddr, name: &str, want: std::net::Ipv4Addr) -> bool {
    let reply = udp(addr, name, RecordType::A, true, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("{name}: no reply"));
    assert!(
        !all_addresses(&reply).contains(&POISON_ADDR),
        "{name}: forged data served: {reply:?}"
    );
    match reply.metadata.response_code {
        ResponseCode::NoError => {
            assert_eq!(addresses(&reply), [want], "{name}: wrong answer");
            true
        }
        ResponseCode::ServFail => false,
        other => panic!("{name}: rcode {other}"),
    }
}

#[test]
fn hostile_upstream_data_is_never_served_or_cached() {
    let net = Net(4);
    let dir = scratch("upstream");
    let socket = dir.join("control.socket");
    let _root = Auth::root(net);
    let _child = Auth::hostile(net);
    let tern = Tern::start(
        &dir,
        net,
        "",
        &format!("[control]\nsocket = \"{}\"\n", socket.display()),
    );
    let rounds = if long() { 25 } else { 2 };
    let modes = ["garbage", "wrongid", "wrongq", "othersrc", "oob", "junk"];
    let mut tally = Vec::new();
    for mode in modes {
        let mut right = 0;
        for round in 0..rounds {
            let name = format!("{mode}{round}.hostile.");
            if right_or_servfail(tern.addr, &name, GOOD_ADDR) {
                right += 1;
            }
        }
        if mode == "junk" {
            assert_eq!(right, 0, "junk answered");
        }
        tally.push(format!("{mode} {right}/{rounds} right, rest SERVFAIL"));
    }
    // What the forgers tried to plant: other zones' names, the root
    // server's address, a name from another question.
    assert!(right_or_servfail(tern.addr, "victim.other.", VICTIM_ADDR));
    assert!(right_or_servfail(tern.addr, "a.root.", net.root()));
    let poison = udp(
        tern.addr,
        "poison.hostile.",
        RecordType::A,
        true,
        Duration::from_secs(8),
    )
    .expect("poison.hostile.: no reply");
    assert!(!all_addresses(&poison).contains(&POISON_ADDR));
    // Nothing forged in the cache at all.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["ctl", "--socket"])
        .arg(&socket)
        .arg("dump-cache")
        .output()
        .unwrap();
    assert!(out.status.success(), "dump-cache failed");
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(dump.contains("192.0.2.1"), "the cache holds no good answer");
    assert!(
        !dump.contains(&POISON_ADDR.to_string()),
        "forged data cached:\n{dump}"
    );
    println!(
        "hostile upstream: {}; cache dump {} lines, none forged",
        tally.join("; "),
        dump.lines().count()
    );
}

/// Queries `n<i>.rel.` names from `threads` threads until `stop`, each
/// reply checked (REL_ADDR or SERVFAIL; a missing reply is counted, not a
/// failure: the server may be down). Returns (asked, answered, wrong).
fn load(
    addr: SocketAddr,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(u64, u64, u64)>> {
    (0..threads)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut asked, mut answered, mut wrong) = (0, 0, 0);
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let name = format!("k{t}-{}.rel.", i % 64);
                    asked += 1;
                    if let Some(m) =
                        udp(addr, &name, RecordType::A, true, Duration::from_millis(300))
                    {
                        answered += 1;
                        let fine = match m.metadata.response_code {
                            ResponseCode::NoError => addresses(&m) == [REL_ADDR],
                            ResponseCode::ServFail => true,
                            _ => false,
                        };
                        if !fine {
                            wrong += 1;
                        }
                    }
                }
                (asked, answered, wrong)
            })
        })
        .collect()
}

#[test]
fn sigkill_under_load_then_serving_again_with_no_wrong_answer() {
    let net = Net(3);
    let dir = scratch("sigkill");
    let _root = Auth::root(net);
    let save = dir.join("cache.save");
    let extra = format!("[cache]\nsave_file = \"{}\"\n", save.display());
    // A clean run saves the cache, with a name of TTL 3.
    let first = Tern::start(&dir, net, "", &extra);
    assert!(right_or_servfail(first.addr, "short.rel.", REL_ADDR));
    assert!(right_or_servfail(first.addr, "www.rel.", REL_ADDR));
    first.terminate();
    let saved_at = Instant::now();
    let text = std::fs::read_to_string(&save).unwrap();
    assert!(text.contains("short.rel."), "short.rel. not saved:\n{text}");
    let kills = if long() { 10 } else { 2 };
    let mut tern = Tern::run(net.tern(), dir.join("tern.toml"));
    let mut back = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let loaders = load(tern.addr, 4, stop.clone());
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(700));
        // SIGKILL (Child::kill) in the middle of the load.
        let _ = tern.child.kill();
        let _ = tern.child.wait();
        let killed = Instant::now();
        drop(tern);
        tern = Tern::run(net.tern(), dir.join("tern.toml"));
        assert!(canary(tern.addr, false), "not serving after restart");
        back.push(killed.elapsed().as_millis());
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let (mut asked, mut answered, mut wrong) = (0, 0, 0);
    for l in loaders {
        let (a, b, c) = l.join().unwrap();
        asked += a;
        answered += b;
        wrong += c;
    }
    // The saved cache is never trusted past its TTLs: short.rel. (TTL 3)
    // is gone from the cache once 3 s have passed since it was saved.
    if let Some(wait) = Duration::from_secs(4).checked_sub(saved_at.elapsed()) {
        std::thread::sleep(wait);
    }
    let cached = udp(
        tern.addr,
        "short.rel.",
        RecordType::A,
        false,
        Duration::from_secs(2),
    )
    .expect("RD=0 query unanswered");
    assert!(
        addresses(&cached).is_empty(),
        "expired saved record served: {cached:?}"
    );
    if let Some(m) = udp(
        tern.addr,
        "www.rel.",
        RecordType::A,
        false,
        Duration::from_secs(2),
    ) {
        assert!(m.answers.iter().all(|r| r.ttl <= 300), "TTL grew: {m:?}");
    }
    assert!(tern.alive());
    println!(
        "sigkill: {kills} kills under load; serving again after (ms) {back:?}; \
         {asked} queries asked, {answered} answered, {wrong} wrong"
    );
    assert_eq!(wrong, 0, "wrong answers");
}

#[test]
fn unique_names_keep_memory_within_the_cache_limit() {
    let net = Net(5);
    let dir = scratch("names");
    let _root = Auth::root(net);
    let (mut names, max_bytes): (u64, u64) = if long() {
        (5_000_000, 64 << 20)
    } else {
        (32_000, 2 << 20)
    };
    if let Some(n) = std::env::var("TERN_RELIABILITY_NAMES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        names = n;
    }
    let tern = Tern::start(
        &dir,
        net,
        "",
        &format!("[cache]\nmax_bytes = {max_bytes}\n"),
    );
    let rss_start = tern.rss_kib();
    let threads = 4u64;

    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (addr, next) = (tern.addr, next.clone());
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.connect(addr).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let (mut ok, mut lost, mut bad) = (0u64, 0u64, 0u64);
                let mut buf = vec![0u8; 4096];
                loop {
                    let start = next.fetch_add(32, Ordering::SeqCst);
                    if start >= names {
                        break;
                    }
                    let end = (start + 32).min(names);
                    for i in start..end {
                        let q = query(i as u16, &format!("u{i}.rel."), RecordType::A, true);
                        let _ = sock.send(&q.to_vec().unwrap());
                    }
                    let mut left = end - start;
                    while left > 0 {
                        let Ok(n) = sock.recv(&mut buf) else {
                            lost += left;
                            break;
                        };
                        left -= 1;
                        match Message::from_vec(&buf[..n]) {
                            Ok(m)
                                if m.metadata.response_code == ResponseCode::NoError
                                    && addresses(&m) == [REL_ADDR] =>
                            {
                                ok += 1
                            }
                            Ok(m) if m.metadata.response_code == ResponseCode::ServFail => {}
                            _ => bad += 1,
                        }
                    }
                }
                (ok, lost, bad)
            })
        })
        .collect();
    let mut rss_max = 0;
    let mut samples = Vec::new();
    while next.load(Ordering::SeqCst) < names {
        std::thread::sleep(Duration::from_millis(200));
        let rss = tern.rss_kib();
        rss_max = rss_max.max(rss);
        samples.push((next.load(Ordering::SeqCst), rss));
    }
    if std::env::var("TERN_RELIABILITY_SAMPLES").is_ok() {
        eprintln!("(names asked, RSS KiB) {samples:?}");
    }
    let (mut ok, mut lost, mut bad) = (0, 0, 0);
    for w in workers {
        let (a, b, c) = w.join().unwrap();
        ok += a;
        lost += b;
        bad += c;
    }
    let rss_end = tern.rss_kib();
    rss_max = rss_max.max(rss_end);
    // The first half fills the cache and warms the allocator; the second
    // half adds as many names again, which a bounded process absorbs.
    let rss_half = samples
        .iter()
        .filter(|(asked, _)| *asked <= names / 2)
        .map(|(_, rss)| *rss)
        .max()
        .unwrap_or(rss_start);
    let limit_kib = max_bytes / 1024;
    println!(
        "unique names: {names} asked, {ok} answered right, {lost} unanswered, {bad} bad; \
         cache limit {limit_kib} KiB; RSS KiB start {rss_start}, half-way {rss_half}, \
         max {rss_max}, end {rss_end}"
    );
    assert_eq!(bad, 0, "wrong answers");
    assert!(ok > names / 2, "most names unanswered");
    // (The end, not the maximum: a sample may catch a burst of replies
    // in flight.)
    assert!(
        rss_end.saturating_sub(rss_half) <= limit_kib * 3 / 2,
        "RSS grew by {} KiB in the second half, over 1.5 x the cache limit",
        rss_end.saturating_sub(rss_half)
    );
    if long() {
        assert!(
            rss_max.saturating_sub(rss_start) <= limit_kib * 3 / 2,
            "RSS grew by {} KiB, over 1.5 x the cache limit",
            rss_max.saturating_sub(rss_start)
        );
    }
}
