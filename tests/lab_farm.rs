//! A resolver farm end to end (docs/farm.md): `tern lab --farm 2` starts
//! Debian's redis-server and two `tern serve` instances sharing it. What
//! reaches the authoritative servers is counted at their side (the lab's
//! `auth reply` debug lines), the shared cache's counters are read with
//! `tern ctl stats`. The lab runs on 127.211.* / 127.212.*.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use lab_support::*;

/// Both tests run a farm on the same lab addresses: one at a time.
static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

const R1: &str = "127.211.255.1:53";
const R2: &str = "127.211.255.2:53";
const REDIS_HOST: &str = "127.211.255.1";
const REDIS_PORT: &str = "5379";

/// A running `tern lab --farm N`; dropping it stops the lab, and kills
/// whatever of its children (or a Redis the test restarted) is left.
struct Farm {
    lab: Child,
    run: PathBuf,
    auth_log: PathBuf,
    map: String,
    redis_again: Option<Child>,
}

fn alive_as(pid_file: &Path, what: &str) -> Option<String> {
    let pid = std::fs::read_to_string(pid_file).ok()?;
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains(what)
        .then(|| pid.trim().to_string())
}

impl Drop for Farm {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.lab.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.lab.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.lab.kill();
        let _ = self.lab.wait();
        if let Some(mut r) = self.redis_again.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        for (file, what) in [
            ("resolver.pid", "serve"),
            ("resolver-2.pid", "serve"),
            ("resolver-3.pid", "serve"),
            ("resolver-4.pid", "serve"),
            ("redis.pid", "redis-server"),
        ] {
            if let Some(pid) = alive_as(&self.run.join(file), what) {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        }
    }
}

/// The lab with a short-TTL name added to example.lab.
fn farm_dir(tag: &str) -> PathBuf {
    let dir = lab_copy_moved(tag, 211, 212);
    let zone = dir.join("example.lab.zone");
    let mut text = std::fs::read_to_string(&zone).unwrap();
    text.push_str("short  2  A  192.0.2.77\n");
    std::fs::write(&zone, text).unwrap();
    dir
}

/// Starts `tern lab DIR --farm N` and reads its map.
fn start_farm(dir: &Path, n: usize) -> Farm {
    let run = dir.join("run");
    let auth_log = dir.join("lab.log");
    let mut lab = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("lab")
        .arg(dir)
        .arg("--run-dir")
        .arg(&run)
        .args(["--farm", &n.to_string()])
        .env("RUST_LOG", "tern::auth=debug,warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&auth_log).unwrap())
        .spawn()
        .unwrap();
    let out = lab.stdout.take().unwrap();
    let mut farm = Farm {
        lab,
        run,
        auth_log,
        map: String::new(),
        redis_again: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let log = std::fs::read_to_string(&farm.auth_log).unwrap_or_default();
            panic!("tern lab --farm printed no map:\n{}\n{log}", farm.map);
        };
        farm.map.push_str(&line);
        farm.map.push('\n');
        if line.trim() == "try:" {
            break;
        }
    }
    farm
}

/// Queries that reached the lab's authoritative servers so far.
fn upstream(farm: &Farm) -> usize {
    std::fs::read_to_string(&farm.auth_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("auth reply"))
        .count()
}

fn socket(farm: &Farm, n: usize) -> PathBuf {
    farm.run.join(format!("control-{n}.socket"))
}

/// `tern ctl stats` of resolver `n`.
fn stats(farm: &Farm, n: usize) -> BTreeMap<String, u64> {
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("ctl")
        .arg("--socket")
        .arg(socket(farm, n))
        .arg("stats")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn stat(farm: &Farm, n: usize, key: &str) -> u64 {
    stats(farm, n).get(key).copied().unwrap_or(0)
}

/// Polls until resolver `n`'s counter `key` reaches `at_least`.
fn wait_stat(farm: &Farm, n: usize, key: &str, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if stat(farm, n, key) >= at_least {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "resolver {n}: {key} never reached {at_least}: {:?}",
        stats(farm, n)
    );
}

fn ask(server: &str, name: &str) -> Message {
    query(server, name, RecordType::A, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{server} did not answer {name}"))
}

fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", REDIS_HOST, "-p", REDIS_PORT])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_farm_shares_answers_survives_redis_and_never_serves_expired_data() {
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = farm_dir("farm");
    let mut farm = start_farm(&dir, 2);
    assert!(
        farm.map
            .contains(&format!("redis-server on {REDIS_HOST}:{REDIS_PORT}")),
        "{}",
        farm.map
    );
    assert!(
        farm.map
            .contains(&format!("resolver 2: tern serve on {R2}")),
        "{}",
        farm.map
    );
    wait_for(R1, "www.example.lab.");
    wait_for(R2, "www.example.lab.");

    // 1. A resolves a name; B answers it with no upstream query.
    let before = upstream(&farm);
    let writes = stat(&farm, 1, "shared_cache.writes");
    let a = ask(R1, "www.example.com.");
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    let after_a = upstream(&farm);
    assert!(after_a > before, "A resolved www.example.com upstream");
    wait_stat(&farm, 1, "shared_cache.writes", writes + 1);
    let hits = stat(&farm, 2, "shared_cache.hits");
    let b = ask(R2, "www.example.com.");
    assert_eq!(b.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&b), addresses(&a));
    assert!(!addresses(&b).is_empty());
    assert_eq!(upstream(&farm), after_a, "B asked no authoritative server");
    assert_eq!(stat(&farm, 2, "shared_cache.hits"), hits + 1);

    // A negative answer is shared too.
    let nx = ask(R1, "nothing-here.example.org.");
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    wait_stat(&farm, 1, "shared_cache.writes", writes + 2);
    let n = upstream(&farm);
    let nx = ask(R2, "nothing-here.example.org.");
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(upstream(&farm), n, "B's NXDOMAIN came from Redis");

    // 3. A record read from Redis after its TTL is not served, even when
    // Redis still holds it (here: its expiry removed).
    let short = ask(R1, "short.example.lab.");
    assert_eq!(addresses(&short), vec!["192.0.2.77".to_string()]);
    wait_stat(&farm, 1, "shared_cache.writes", writes + 3);
    let keys = redis_cli(&["--scan", "--pattern", "tern:short.example.lab.*"]);
    let key = keys
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no key in Redis"));
    assert_eq!(redis_cli(&["PERSIST", key]), "1");
    std::thread::sleep(Duration::from_millis(3_100));
    assert!(!redis_cli(&["GET", key]).is_empty(), "Redis still holds it");
    let misses = stat(&farm, 2, "shared_cache.misses");
    let n = upstream(&farm);
    let fresh = ask(R2, "short.example.lab.");
    assert_eq!(addresses(&fresh), vec!["192.0.2.77".to_string()]);
    assert!(upstream(&farm) > n, "B resolved the expired name itself");
    assert_eq!(stat(&farm, 2, "shared_cache.misses"), misses + 1);
    assert!(fresh.answers.iter().all(|r| r.ttl <= 2));

    // 2. Redis stops: both keep answering, the failures and skips are
    // counted, and both use Redis again once it is back.
    let pid = std::fs::read_to_string(farm.run.join("redis.pid")).unwrap();
    assert!(Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(200));
    for (i, r) in [R1, R2].into_iter().enumerate() {
        let canary = ask(r, "www.example.net.");
        assert_eq!(canary.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(!addresses(&canary).is_empty(), "{r}");
        for k in 0..5 {
            let m = ask(r, &format!("down-{i}-{k}.example.lab."));
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{r}");
        }
        let s = stats(&farm, i + 1);
        assert!(s["shared_cache.errors"] >= 1, "{r}: {s:?}");
        assert!(s["shared_cache.skips"] >= 1, "{r}: {s:?}");
        assert_eq!(s["shared_cache.breaker_open"], 1, "{r}: {s:?}");
    }
    let metrics_like = stats(&farm, 2);
    assert!(metrics_like.contains_key("shared_cache.dropped_writes"));

    let again = Command::new("redis-server")
        .args(["--bind", REDIS_HOST, "--port", REDIS_PORT])
        .arg("--dir")
        .arg(farm.run.join("redis"))
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    farm.redis_again = Some(again);
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis_cli(&["PING"]) != "PONG" {
        assert!(Instant::now() < deadline, "redis-server did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Fresh names until each breaker has probed Redis and closed.
    for (i, r) in [R1, R2].into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut k = 0;
        while stat(&farm, i + 1, "shared_cache.breaker_open") == 1 {
            assert!(Instant::now() < deadline, "{r} never went back to Redis");
            ask(r, &format!("probe-{i}-{k}.example.lab."));
            k += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let writes = stat(&farm, 1, "shared_cache.writes");
    let back = ask(R1, "www.example.org.");
    assert_eq!(back.metadata.response_code, ResponseCode::NoError);
    wait_stat(&farm, 1, "shared_cache.writes", writes + 1);
    let hits = stat(&farm, 2, "shared_cache.hits");
    let n = upstream(&farm);
    let m = ask(R2, "www.example.org.");
    assert_eq!(addresses(&m), addresses(&back));
    assert_eq!(stat(&farm, 2, "shared_cache.hits"), hits + 1);
    assert_eq!(upstream(&farm), n, "B took www.example.org from Redis");
}

/// The figure in docs/farm.md: upstream queries per answer for 1, 2 and 4
/// resolvers on the same query stream, with Redis and without (Redis
/// killed before the stream: every instance on its own). The figure in
/// docs/farm.md: `cargo test --test lab_farm farm_figure -- --nocapture`.
/// Asserted: with two or four instances, sharing saves upstream queries.
#[test]
fn farm_figure() {
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());
    // 3 zones x (www + 9 names that do not exist), asked 4 times each,
    // every round in another order; each query goes to an instance drawn
    // by a fixed pseudo-random sequence, as ECMP or SO_REUSEPORT hash
    // clients over instances.
    let mut names = Vec::new();
    for zone in ["example.com.", "example.net.", "example.org."] {
        names.push(format!("www.{zone}"));
        for k in 0..9 {
            names.push(format!("n{k}.{zone}"));
        }
    }
    let mut stream = Vec::new();
    for round in 0..4 {
        let mut r = names.clone();
        r.rotate_left(round * 7);
        if round == 1 {
            r.reverse();
        }
        stream.extend(r);
    }
    println!(
        "query stream: {} queries, {} names",
        stream.len(),
        names.len()
    );
    println!("instances | shared | upstream queries | per answer");
    let mut alone = 0;
    for n in [1usize, 2, 4] {
        for shared in [false, true] {
            let dir = farm_dir(&format!("figure-{n}-{shared}"));
            let farm = start_farm(&dir, n);
            let addrs: Vec<String> = (1..=n).map(|k| format!("127.211.255.{k}:53")).collect();
            for a in &addrs {
                wait_for(a, "www.example.lab.");
            }
            if !shared {
                let pid = std::fs::read_to_string(farm.run.join("redis.pid")).unwrap();
                Command::new("kill")
                    .args(["-9", pid.trim()])
                    .status()
                    .unwrap();
                std::thread::sleep(Duration::from_millis(200));
            }
            let before = upstream(&farm);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for name in &stream {
                // xorshift64: the same draw for every run.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let m = ask(&addrs[(x % n as u64) as usize], name);
                assert!(
                    matches!(
                        m.metadata.response_code,
                        ResponseCode::NoError | ResponseCode::NXDomain
                    ),
                    "{name}: {:?}",
                    m.metadata.response_code
                );
            }
            let used = upstream(&farm) - before;
            println!(
                "{n} | {} | {used} | {:.2}",
                if shared { "yes" } else { "no" },
                used as f64 / stream.len() as f64
            );
            if shared {
                assert!(
                    n == 1 || used < alone,
                    "{n} instances: {used} upstream queries shared, {alone} alone"
                );
            } else {
                alone = used;
            }
        }
    }
}
