//! End to end: `tern ctl` against a running `tern serve` that iterates a
//! small NSD tree on loopback. Queries go in with dig; the control socket
//! shows them in `stats`, a flushed name is asked upstream again (NSD's own
//! counters), `reload` refuses a broken file and applies a new access
//! control list (over the socket and on SIGHUP) with the cache kept, and a
//! second server cannot take a control socket that is in use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::nsd::{udp_query, NsdServer, NsdTree};
use hickory_proto::rr::RecordType;

const ROOT: &str = "$TTL 86400
. SOA a.root. admin.root. 1 3600 600 86400 300
. NS a.root.
a.root. A 127.94.0.1
alpha. NS ns.nic.alpha.
ns.nic.alpha. A 127.94.1.1
";

const ALPHA: &str = "$TTL 3600
alpha. SOA ns.nic.alpha. admin.alpha. 1 3600 600 86400 300
alpha. NS ns.nic.alpha.
ns.nic.alpha. A 127.94.1.1
www.alpha. A 192.0.2.10
other.alpha. A 192.0.2.11
";

const ALPHA_NS: &str = "127.94.1.1";

fn tree() -> NsdTree {
    tree_at("127.94.0.1", ALPHA_NS)
}

/// The same tree on other addresses (one set per test).
fn tree_at(root: &str, alpha: &str) -> NsdTree {
    tree_with(root, alpha, "")
}

/// `tree_at` with `extra` records in alpha.
fn tree_with(root: &str, alpha: &str, extra: &str) -> NsdTree {
    let root_zone = ROOT.replace("127.94.0.1", root).replace(ALPHA_NS, alpha);
    let alpha_zone = ALPHA.replace(ALPHA_NS, alpha) + extra;
    NsdTree::start(&[
        NsdServer::new("a.root.", &[root], &[(".", &root_zone)]),
        NsdServer::new("ns.nic.alpha.", &[alpha], &[("alpha.", &alpha_zone)]),
    ])
}

/// A `tern serve`, killed on drop.
struct Tern {
    child: Child,
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(hints: &Path, addr: SocketAddr, socket: &Path, acl_action: &str) -> String {
    format!(
        "[dnssec]\nvalidate = false\n\
         [server]\nlisten = [\"{addr}\"]\n\
         access_control = [{{ net = \"127.0.0.0/8\", action = \"{acl_action}\" }}]\n\
         [resolver]\nroot_hints = \"{}\"\n\
         [upstream]\ninitial_rto_ms = 100\nmin_rto_ms = 50\nmax_rto_ms = 200\n\
         [control]\nsocket = \"{}\"\n\
         [log]\nlevel = \"warn\"\n",
        hints.display(),
        socket.display()
    )
}

fn spawn_tern(conf: &Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Starts `tern serve` and waits until it answers on `addr` and its
/// control socket is up.
fn start_tern(conf: &Path, addr: SocketAddr, socket: &Path) -> Tern {
    let mut tern = Tern {
        child: spawn_tern(conf, Stdio::inherit()),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = tern.child.try_wait().unwrap() {
            panic!("tern serve exited at start: {status}");
        }
        let answering = udp_query(addr, "alpha.", RecordType::SOA, Duration::from_millis(200));
        if answering.is_some() && socket.exists() {
            return tern;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tern serve did not start on {addr}");
}

fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `tern ctl`, expects success, returns stdout.
fn ctl_ok(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert!(
        out.status.success(),
        "tern ctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `tern ctl`, expects failure, returns stderr.
fn ctl_err(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert!(
        !out.status.success(),
        "tern ctl {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// `name=value` lines of `tern ctl stats`.
fn stat(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .map(|v| v.parse().unwrap())
        .unwrap_or(0)
}

/// dig's status and answer section (`+noall +answer +comments`).
fn dig(addr: SocketAddr, name: &str, qtype: &str) -> (String, String) {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args([
            name,
            qtype,
            "+tries=1",
            "+time=5",
            "+noall",
            "+answer",
            "+comments",
        ])
        .output()
        .expect("dig not installed? (apt-get install bind9-dnsutils)");
    let text = String::from_utf8(out.stdout).unwrap();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no reply")
        .to_string();
    let answer = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (status, answer)
}

fn alpha_queries(tree: &NsdTree) -> u64 {
    tree.queries(ALPHA_NS.parse::<IpAddr>().unwrap())
}

#[test]
fn ctl_status_stats_flush_and_lookup() {
    let tree = tree();
    let addr: SocketAddr = "127.94.9.1:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    std::fs::write(
        &conf,
        config_text(tree.root_hints(), addr, &socket, "allow"),
    )
    .unwrap();
    let _tern = start_tern(&conf, addr, &socket);

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");

    let status = ctl_ok(&socket, &["status"]);
    assert!(status.contains(&format!("listen: {addr}")), "{status}");
    assert!(status.contains(&conf.display().to_string()), "{status}");
    assert!(status.contains(env!("CARGO_PKG_VERSION")), "{status}");

    let before = ctl_ok(&socket, &["stats"]);
    let (rcode, answer) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("192.0.2.10"), "{answer}");
    let (rcode, _) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    let (rcode, _) = dig(addr, "nx.alpha.", "TXT");
    assert_eq!(rcode, "NXDOMAIN");
    let after = ctl_ok(&socket, &["stats"]);
    let moved = |name: &str| stat(&after, name) - stat(&before, name);
    assert_eq!(moved("queries.type.A"), 2, "{after}");
    assert_eq!(moved("queries.type.TXT"), 1, "{after}");
    assert_eq!(moved("queries.rcode.NOERROR"), 2, "{after}");
    assert_eq!(moved("queries.rcode.NXDOMAIN"), 1, "{after}");
    assert!(moved("queries.udp") >= 3, "{after}");
    assert!(moved("cache.hits") >= 1, "{after}");
    assert!(moved("cache.misses") >= 2, "{after}");
    assert!(moved("upstream.queries") >= 2, "{after}");
    assert!(stat(&after, "cache.entries") > 0, "{after}");

    let json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&socket, &["stats", "--json"])).unwrap();
    assert_eq!(
        json["queries.type.A"].as_u64(),
        Some(stat(&after, "queries.type.A"))
    );
    assert!(json["dnssec.verifications"].is_u64());

    let lookup = ctl_ok(&socket, &["lookup", "www.alpha"]);
    assert!(lookup.contains("192.0.2.10"), "{lookup}");
    // The entry's trust, in words (the answer came with AA set).
    assert!(lookup.contains("trust: answer, authoritative"), "{lookup}");
    assert!(lookup.contains("servers of alpha."), "{lookup}");
    assert!(
        lookup.contains(&format!("ns.nic.alpha. {ALPHA_NS}: srtt=")),
        "{lookup}"
    );

    // Cached: no new query upstream. Flushed: asked again.
    let asked = alpha_queries(&tree);
    dig(addr, "www.alpha.", "A");
    assert_eq!(alpha_queries(&tree), asked);
    let out = ctl_ok(&socket, &["flush", "www.alpha.", "A"]);
    assert!(!out.starts_with("removed 0 "), "{out}");
    let lookup = ctl_ok(&socket, &["lookup", "www.alpha."]);
    assert!(lookup.contains("nothing cached"), "{lookup}");
    let (rcode, answer) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("192.0.2.10"), "{answer}");
    assert!(alpha_queries(&tree) > asked, "flushed name not asked again");

    // The negative answer is cached until flush-negative.
    let asked = alpha_queries(&tree);
    assert_eq!(dig(addr, "nx.alpha.", "TXT").0, "NXDOMAIN");
    assert_eq!(alpha_queries(&tree), asked);
    ctl_ok(&socket, &["flush-negative"]);
    assert_eq!(dig(addr, "nx.alpha.", "TXT").0, "NXDOMAIN");
    assert!(alpha_queries(&tree) > asked, "negative answer not flushed");

    // flush-zone takes the names below and the delegation itself.
    dig(addr, "other.alpha.", "A");
    let out = ctl_ok(&socket, &["flush-zone", "alpha"]);
    assert!(!out.starts_with("removed 0 "), "{out}");
    for name in ["www.alpha.", "other.alpha.", "alpha."] {
        let lookup = ctl_ok(&socket, &["lookup", name]);
        assert!(lookup.contains("nothing cached"), "{name}: {lookup}");
    }
    let lookup = ctl_ok(&socket, &["lookup", "www.alpha."]);
    assert!(lookup.contains("servers of .:"), "{lookup}");
    let asked = alpha_queries(&tree);
    assert_eq!(dig(addr, "other.alpha.", "A").0, "NOERROR");
    assert!(alpha_queries(&tree) > asked);

    // flush-servers forgets what was measured.
    let out = ctl_ok(&socket, &["flush-servers"]);
    assert!(
        out.starts_with("forgot ") && !out.starts_with("forgot 0 "),
        "{out}"
    );
    let lookup = ctl_ok(&socket, &["lookup", "www.alpha."]);
    assert!(
        lookup.contains(&format!("ns.nic.alpha. {ALPHA_NS}: not asked yet")),
        "{lookup}"
    );

    // trace resolves now, past the cache, and says how.
    let asked = alpha_queries(&tree);
    let trace = ctl_ok(&socket, &["trace", "www.alpha", "A"]);
    assert!(
        trace.contains(&format!(
            "asking ns.nic.alpha. {ALPHA_NS}:53 for www.alpha. A"
        )),
        "{trace}"
    );
    assert!(trace.contains("rcode NOERROR"), "{trace}");
    assert!(trace.contains("for www.alpha. A: an answer"), "{trace}");
    assert!(trace.contains("192.0.2.10"), "{trace}");
    assert!(alpha_queries(&tree) > asked);

    // Errors name what went wrong.
    let err = ctl_err(&socket, &["flush", "a..b"]);
    assert!(err.contains("bad name"), "{err}");
    let err = ctl_err(&socket, &["flush", "www.alpha.", "NOSUCHTYPE"]);
    assert!(err.contains("unknown record type"), "{err}");
    let missing = tree.dir().join("no-such.socket");
    let err = ctl_err(&missing, &["status"]);
    assert!(err.contains("no control socket at"), "{err}");
}

#[test]
fn ctl_reload_refuses_a_broken_config_and_applies_a_new_one_keeping_the_cache() {
    let tree = tree_at("127.94.2.1", "127.94.3.1");
    let ns: IpAddr = "127.94.3.1".parse().unwrap();
    let addr: SocketAddr = "127.94.9.2:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    let good = config_text(tree.root_hints(), addr, &socket, "allow");
    std::fs::write(&conf, &good).unwrap();
    let tern = start_tern(&conf, addr, &socket);
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");

    // A file that fails `tern check` is refused; the server keeps serving.
    std::fs::write(
        &conf,
        good.replace("initial_rto_ms = 100", "initial_rto_ms = \"x\""),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["check", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!check.status.success());
    let err = ctl_err(&socket, &["reload"]);
    assert!(err.contains("reload refused"), "{err}");
    assert!(err.contains("initial_rto_ms"), "{err}");
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");

    // The new configuration applies at once (a new access control list,
    // new upstream timers) with the cache kept; what is bound at start is
    // named as waiting for a restart.
    std::fs::write(
        &conf,
        config_text(tree.root_hints(), addr, &socket, "refuse")
            .replace("max_rto_ms = 200", "max_rto_ms = 300")
            .replace("[server]\n", "[server]\nudp_sockets = 1\n"),
    )
    .unwrap();
    let out = ctl_ok(&socket, &["reload"]);
    assert!(out.contains("new configuration in service"), "{out}");
    assert!(out.contains("cache kept"), "{out}");
    assert!(out.contains("server.udp_sockets"), "{out}");
    assert!(!out.contains("[upstream]"), "{out}");
    assert_eq!(dig(addr, "www.alpha.", "A").0, "REFUSED");

    // SIGHUP reloads too (and does not stop the server), here with local
    // data added to [resolver]; the cache was kept through both reloads:
    // no new query upstream.
    let asked = tree.queries(ns);
    let with_local = good.replace(
        "[resolver]\n",
        "[resolver]\nlocal_data = [\"printer.alpha. 300 A 192.0.2.99\"]\n",
    );
    assert_ne!(with_local, good);
    std::fs::write(&conf, &with_local).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &tern.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut answer = dig(addr, "www.alpha.", "A");
    while answer.0 != "NOERROR" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        answer = dig(addr, "www.alpha.", "A");
    }
    assert_eq!(answer.0, "NOERROR", "SIGHUP did not reload");
    assert!(answer.1.contains("192.0.2.10"), "{}", answer.1);
    assert_eq!(tree.queries(ns), asked, "cache not kept across reload");
    let (rcode, local) = dig(addr, "printer.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(local.contains("192.0.2.99"), "{local}");
    assert_eq!(tree.queries(ns), asked, "local data asked upstream");
    // Stats were kept too.
    assert!(stat(&ctl_ok(&socket, &["stats"]), "queries.total") >= 5);
    drop(tern);
}

/// Stops `tern serve` as an operator would (SIGTERM) and waits for it.
fn stop(mut tern: Tern) {
    let term = Command::new("kill")
        .args(["-TERM", &tern.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tern.child.wait().unwrap();
    assert!(status.success(), "tern serve exited with {status}");
}

#[test]
fn cache_dumped_saved_and_loaded_back_answers_without_upstream_queries() {
    let tree = tree_at("127.94.4.1", "127.94.5.1");
    let all = |t: &NsdTree| t.total_queries();
    let addr: SocketAddr = "127.94.9.5:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let saved = tree.dir().join("cache.txt");
    let conf = tree.dir().join("tern.toml");
    std::fs::write(
        &conf,
        config_text(tree.root_hints(), addr, &socket, "allow")
            .replace("[control]", "[cache]\nsave_file = \"cache.txt\"\n[control]"),
    )
    .unwrap();
    let tern = start_tern(&conf, addr, &socket);
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");
    let dump = ctl_ok(&socket, &["dump-cache"]);
    assert!(dump.starts_with("; tern cache, written at "), "{dump}");
    let line = dump
        .lines()
        .find(|l| l.starts_with("rrset answer-auth www.alpha. "))
        .unwrap_or_else(|| panic!("{dump}"));
    assert!(line.ends_with(" IN A 192.0.2.10"), "{line}");
    let copy = tree.dir().join("copy.txt");
    let out = ctl_ok(&socket, &["dump-cache", copy.to_str().unwrap()]);
    assert!(out.starts_with("wrote "), "{out}");

    // Saved on a clean stop, loaded at start: no query goes upstream.
    stop(tern);
    assert!(std::fs::read_to_string(&saved)
        .unwrap()
        .contains("www.alpha."));
    let asked = all(&tree);
    let tern = start_tern(&conf, addr, &socket);
    let (rcode, answer) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("192.0.2.10"), "{answer}");
    assert_eq!(all(&tree), asked, "the saved cache was not used");

    // load-cache after a flush of everything: the same.
    ctl_ok(&socket, &["flush-zone", "."]);
    assert!(ctl_ok(&socket, &["lookup", "www.alpha."]).contains("nothing cached"));
    let out = ctl_ok(&socket, &["load-cache", copy.to_str().unwrap()]);
    assert!(
        out.starts_with("loaded ") && !out.starts_with("loaded 0 "),
        "{out}"
    );
    let (rcode, answer) = dig(addr, "other.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("192.0.2.11"), "{answer}");
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");
    assert_eq!(all(&tree) - asked, 1, "only other.alpha. should be asked");

    // A file that is not a dump is refused with its line.
    std::fs::write(
        &copy,
        "; tern cache, written at 1\nrrset answer-auth www.alpha. 60 IN A bogus\n",
    )
    .unwrap();
    let err = ctl_err(&socket, &["load-cache", copy.to_str().unwrap()]);
    assert!(err.contains("line 2"), "{err}");
    drop(tern);
}

#[test]
fn control_socket_in_use_is_an_error_and_a_stale_one_is_replaced() {
    let dir: PathBuf = std::env::temp_dir().join(format!("tern-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("control.socket");
    // Left behind by a process that is gone: nobody accepts on it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let hints = dir.join("root.hints");
    std::fs::write(&hints, ". 3600 NS a.root.\na.root. 3600 A 127.94.8.1\n").unwrap();
    let first: SocketAddr = "127.94.9.3:5394".parse().unwrap();
    let conf = dir.join("first.toml");
    std::fs::write(&conf, config_text(&hints, first, &socket, "allow")).unwrap();
    let tern = start_tern(&conf, first, &socket);
    assert!(ctl_ok(&socket, &["status"]).contains(&first.to_string()));

    // A second server on the same socket stops at start, saying why.
    let second: SocketAddr = "127.94.9.4:5394".parse().unwrap();
    let conf2 = dir.join("second.toml");
    std::fs::write(&conf2, config_text(&hints, second, &socket, "allow")).unwrap();
    let out = spawn_tern(&conf2, Stdio::piped())
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another tern is listening"), "{err}");
    // The first one still owns it.
    assert!(ctl_ok(&socket, &["status"]).contains(&first.to_string()));
    drop(tern);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The uid fields (real, effective, saved, filesystem) of a process.
fn uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn privileges_dropped_after_binding_port_53() {
    // Binding port 53 and changing user both need root.
    if !tern::server::privileges::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let nobody = tern::server::privileges::lookup("nobody", None).unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("tern-priv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("control.socket");
    let hints = dir.join("root.hints");
    std::fs::write(&hints, ". 3600 NS a.root.\na.root. 3600 A 127.94.8.1\n").unwrap();
    let addr: SocketAddr = "127.94.9.6:53".parse().unwrap();
    let conf = dir.join("tern.toml");
    std::fs::write(
        &conf,
        config_text(&hints, addr, &socket, "allow")
            .replace("[server]\n", "[server]\nuser = \"nobody\"\n"),
    )
    .unwrap();
    let tern = start_tern(&conf, addr, &socket);
    assert_eq!(uids(tern.child.id()), vec![nobody.uid; 4]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().uid(), nobody.uid);
    // Still answering on the port below 1024, and to its control socket.
    assert!(udp_query(addr, "alpha.", RecordType::SOA, Duration::from_secs(2)).is_some());
    assert!(ctl_ok(&socket, &["status"]).contains("listen: 127.94.9.6:53"));

    // A user that does not exist stops the start, naming the key.
    let conf2 = dir.join("bad.toml");
    let other: SocketAddr = "127.94.9.7:53".parse().unwrap();
    std::fs::write(
        &conf2,
        config_text(&hints, other, &dir.join("other.socket"), "allow")
            .replace("[server]\n", "[server]\nuser = \"no-such-user-tern\"\n"),
    )
    .unwrap();
    let out = spawn_tern(&conf2, Stdio::piped())
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.user: no user \"no-such-user-tern\""),
        "{err}"
    );
    drop(tern);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The A records `dig` gets for `name` from `addr`, as text.
fn a_of(addr: SocketAddr, name: &str) -> String {
    dig(addr, name, "A").1
}

/// Waits (bounded) until `name`'s answer from `addr` contains `want`.
fn wait_for_answer(addr: SocketAddr, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = a_of(addr, name);
        if got.contains(want) || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tern_auth_reloads_zone_files_on_change_and_sighup_keeping_the_old_on_error() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tern-auth-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let zone = dir.join("alpha.zone");
    std::fs::write(&zone, ALPHA).unwrap();
    let addr: SocketAddr = "127.94.9.8:5394".parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["auth", "--log", "warn", "--zones"])
        .arg(&dir)
        .args(["--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let auth = Tern { child };
    assert!(wait_for_answer(addr, "www.alpha.", "192.0.2.10").contains("192.0.2.10"));

    // An edited file is served without a signal.
    let edited = ALPHA
        .replace(" 1 3600 600", " 2 3600 600")
        .replace("192.0.2.10", "192.0.2.99");
    std::fs::write(&zone, &edited).unwrap();
    let got = wait_for_answer(addr, "www.alpha.", "192.0.2.99");
    assert!(got.contains("192.0.2.99"), "edit not picked up: {got}");

    // A broken file is not: the zone being served stays.
    std::fs::write(&zone, format!("{edited}www.alpha. A not-an-address\n")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(a_of(addr, "www.alpha.").contains("192.0.2.99"));

    // SIGHUP reads the files even when nothing looks changed: same size
    // and modification time as the broken file.
    let broken_meta = std::fs::metadata(&zone).unwrap();
    let fixed = format!("{edited}www.alpha. A 192.0.2.123\n");
    let fixed = format!(
        "{fixed}{}",
        ";".repeat(broken_meta.len() as usize - fixed.len())
    );
    std::fs::write(&zone, &fixed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&zone)
        .unwrap()
        .set_modified(broken_meta.modified().unwrap())
        .unwrap();
    assert_eq!(std::fs::metadata(&zone).unwrap().len(), broken_meta.len());
    std::thread::sleep(Duration::from_secs(2));
    assert!(!a_of(addr, "www.alpha.").contains("192.0.2.123"));
    let hup = Command::new("kill")
        .args(["-HUP", &auth.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let got = wait_for_answer(addr, "www.alpha.", "192.0.2.123");
    assert!(got.contains("192.0.2.123"), "SIGHUP did not reload: {got}");
    drop(auth);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_queries_writes_one_line_per_query_saying_whether_cached() {
    let tree = tree_at("127.94.6.1", "127.94.7.1");
    let addr: SocketAddr = "127.94.9.9:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    std::fs::write(
        &conf,
        config_text(tree.root_hints(), addr, &socket, "allow")
            .replace("level = \"warn\"", "level = \"warn\"\nqueries = true")
            .replace("[dnssec]", "[cache]\nprefetch = false\n[dnssec]"),
    )
    .unwrap();
    let log = tree.dir().join("tern.log");
    let mut tern = Tern {
        child: spawn_tern(&conf, Stdio::from(std::fs::File::create(&log).unwrap())),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        assert!(
            tern.child.try_wait().unwrap().is_none(),
            "tern serve exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");
    assert_eq!(dig(addr, "www.alpha.", "A").0, "NOERROR");
    assert_eq!(dig(addr, "nx.alpha.", "TXT").0, "NXDOMAIN");
    // The log level is warn: the query lines come anyway, nothing else.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains("tern::queries"))
            .map(str::to_string)
            .collect();
        if lines.len() >= 3 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        assert!(l.contains("proto=udp") && l.contains("ms="), "{l}");
    }
    assert!(
        lines[0].contains("qname=www.alpha. qtype=A rcode=NOERROR"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("cached=false"), "{}", lines[0]);
    assert!(lines[1].contains("cached=true"), "{}", lines[1]);
    assert!(
        lines[2].contains("qtype=TXT rcode=NXDOMAIN"),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains("cached=false"), "{}", lines[2]);

    // Off after a reload without it.
    std::fs::write(
        &conf,
        config_text(tree.root_hints(), addr, &socket, "allow"),
    )
    .unwrap();
    ctl_ok(&socket, &["reload"]);
    dig(addr, "www.alpha.", "A");
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("tern::queries").count(), 3, "{text}");
    let _ = tern.child.kill();
}

#[test]
fn ratelimit_drops_a_flood_slips_tc_and_leaves_tcp_open() {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;

    let dir: PathBuf = std::env::temp_dir().join(format!("tern-rl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("control.socket");
    let hints = dir.join("root.hints");
    std::fs::write(&hints, ". 3600 NS a.root.\na.root. 3600 A 127.94.8.1\n").unwrap();
    let addr: SocketAddr = "127.94.9.10:5394".parse().unwrap();
    let conf = dir.join("tern.toml");
    std::fs::write(
        &conf,
        config_text(&hints, addr, &socket, "allow").replace(
            "[server]\n",
            "[server]\nratelimit = 5\nratelimit_slip = 2\n",
        ),
    )
    .unwrap();
    let tern = start_tern(&conf, addr, &socket);
    // start_tern's probes used some of the budget: let it refill.
    std::thread::sleep(Duration::from_millis(1500));

    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    const SENT: u16 = 40;
    for id in 0..SENT {
        let mut q = Message::new(id, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(
            Name::from_ascii("alpha.").unwrap(),
            RecordType::SOA,
        ));
        sock.send_to(&q.to_vec().unwrap(), addr).unwrap();
    }
    let (mut full, mut truncated) = (0, 0);
    let mut buf = vec![0u8; 65_535];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        if m.metadata.truncation {
            assert!(m.answers.is_empty());
            truncated += 1;
        } else {
            full += 1;
        }
    }
    assert!(full >= 5, "answered {full}");
    assert!(full <= 10, "answered {full} of {SENT} at 5 per second");
    assert!(truncated >= 10, "only {truncated} TC=1 replies");
    assert!(full + truncated < usize::from(SENT), "nothing dropped");
    // TCP is not limited.
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args([
            "-p",
            &addr.port().to_string(),
            "+tcp",
            "+norecurse",
            "+tries=1",
            "+time=5",
        ])
        .args(["alpha.", "SOA"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: "), "{text}");
    drop(tern);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET path` on `addr`; (status line, body).
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

/// The scrape parsed, as (metric name, labels) -> value.
fn scrape(addr: SocketAddr) -> Vec<prometheus_parse::Sample> {
    let (status, body) = http_get(addr, "/metrics");
    assert!(status.contains("200"), "{status}\n{body}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("not Prometheus text");
    // Every sample's family is described (HELP).
    for s in &parsed.samples {
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|x| s.metric.strip_suffix(x))
            .unwrap_or(&s.metric);
        assert!(
            parsed.docs.contains_key(&s.metric) || parsed.docs.contains_key(family),
            "{} has no HELP",
            s.metric
        );
    }
    parsed.samples
}

fn metric(samples: &[prometheus_parse::Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    use prometheus_parse::Value;
    samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name}: {other:?}"),
        })
        .sum()
}

#[test]
fn metrics_are_scraped_parsed_and_move_with_traffic() {
    // alpha. delegates dead.alpha. to a server that never answers.
    let tree = tree_with(
        "127.94.10.1",
        "127.94.11.1",
        "dead.alpha. NS ns.dead.alpha.\nns.dead.alpha. A 127.94.12.1\n",
    );
    let addr: SocketAddr = "127.94.9.11:5394".parse().unwrap();
    let metrics: SocketAddr = "127.94.9.11:9153".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    let text = config_text(tree.root_hints(), addr, &socket, "allow")
        + &format!("[metrics]\nlisten = \"{metrics}\"\n");
    std::fs::write(&conf, text).unwrap();
    let _tern = start_tern(&conf, addr, &socket);

    let before = scrape(metrics);
    let udp_before = metric(&before, "tern_queries_total", Some(("protocol", "udp")));
    assert!(http_get(metrics, "/other").0.contains("404"));

    let (rcode, _) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    let (rcode, _) = dig(addr, "www.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    let (rcode, _) = dig(addr, "nothing.alpha.", "AAAA");
    assert_eq!(rcode, "NXDOMAIN");
    let (rcode, _) = dig(addr, "www.dead.alpha.", "A");
    assert_eq!(rcode, "SERVFAIL");

    let after = scrape(metrics);
    let m = |name: &str, label: Option<(&str, &str)>| metric(&after, name, label);
    assert_eq!(
        m("tern_queries_total", Some(("protocol", "udp"))) - udp_before,
        4.0
    );
    assert!(m("tern_queries_by_type_total", Some(("qtype", "AAAA"))) >= 1.0);
    assert!(m("tern_responses_by_rcode_total", Some(("rcode", "NXDOMAIN"))) >= 1.0);
    assert!(m("tern_servfail_by_ede_total", Some(("ede", "22"))) >= 1.0);
    assert!(m("tern_cache_hits_total", None) >= 1.0);
    assert!(m("tern_cache_misses_total", None) >= 2.0);
    assert!(m("tern_cache_entries", None) >= 1.0);
    assert!(m("tern_cache_bytes", None) > 0.0);
    assert!(m("tern_upstream_queries_total", Some(("protocol", "udp"))) >= 3.0);
    // Nothing listens at the dead server's address: refused (an error) or
    // unanswered (a timeout).
    assert!(m("tern_upstream_timeouts_total", None) + m("tern_upstream_errors_total", None) >= 1.0);
    // The reply-time histogram counts every upstream reply.
    let rtt = after
        .iter()
        .find(|s| s.metric == "tern_upstream_rtt_seconds")
        .expect("no rtt histogram");
    let prometheus_parse::Value::Histogram(buckets) = &rtt.value else {
        panic!("{rtt:?}");
    };
    let total = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
    assert!(total >= 3.0, "{buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "{buckets:?}"
    );
}

#[test]
fn an_upstream_problem_leaves_one_info_line() {
    // dead.alpha.'s only server never answers; the resolver tries it
    // `upstream.retries` times in one resolution, and more clients ask.
    let tree = tree_with(
        "127.94.13.1",
        "127.94.14.1",
        "dead.alpha. NS ns.dead.alpha.\nns.dead.alpha. A 127.94.15.1\n",
    );
    let addr: SocketAddr = "127.94.9.12:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    let text = config_text(tree.root_hints(), addr, &socket, "allow")
        .replace("level = \"warn\"", "level = \"info\"");
    std::fs::write(&conf, text).unwrap();
    let log = tree.dir().join("stderr.log");
    let mut tern = Tern {
        child: spawn_tern(&conf, Stdio::from(std::fs::File::create(&log).unwrap())),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while udp_query(addr, "alpha.", RecordType::SOA, Duration::from_millis(200)).is_none() {
        assert!(Instant::now() < deadline, "tern serve did not start");
        assert!(
            tern.child.try_wait().unwrap().is_none(),
            "tern serve exited"
        );
    }
    for name in ["www.dead.alpha.", "a.dead.alpha.", "www.dead.alpha."] {
        let (rcode, _) = dig(addr, name, "A");
        assert_eq!(rcode, "SERVFAIL", "{name}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("upstream problem"))
        .collect();
    let dead = problems
        .iter()
        .filter(|l| l.contains("server=127.94.15.1:53"))
        .count();
    let zone = problems
        .iter()
        .filter(|l| l.contains("zone=dead.alpha.") && l.contains("no server of the zone answered"))
        .count();
    assert_eq!(dead, 1, "{text}");
    assert_eq!(zone, 1, "{text}");
    // Nothing else went wrong upstream.
    assert_eq!(problems.len(), 2, "{text}");
    stop(tern);
}

#[test]
fn rebinding_filter_removes_private_addresses_outside_allowed_domains() {
    let tree = tree_with(
        "127.94.16.1",
        "127.94.17.1",
        "evil.alpha. A 10.0.0.1\nevil.alpha. A 192.0.2.20\nonly.alpha. A 192.168.1.1\n\
         nas.intranet.alpha. A 10.1.1.1\n",
    );
    let addr: SocketAddr = "127.94.9.13:5394".parse().unwrap();
    let socket = tree.dir().join("control.socket");
    let conf = tree.dir().join("tern.toml");
    let text = config_text(tree.root_hints(), addr, &socket, "allow").replace(
        "[resolver]\n",
        "[resolver]\nprivate_addresses = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n\
         private_domains = [\"intranet.alpha.\"]\n",
    );
    std::fs::write(&conf, text).unwrap();
    let _tern = start_tern(&conf, addr, &socket);

    // The private address goes; the public one stays.
    let (rcode, answer) = dig(addr, "evil.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("192.0.2.20"), "{answer}");
    assert!(!answer.contains("10.0.0.1"), "{answer}");
    // Only a private address: nothing is left of the answer.
    let (rcode, answer) = dig(addr, "only.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.is_empty(), "{answer}");
    // An allowed domain keeps its private addresses.
    let (rcode, answer) = dig(addr, "nas.intranet.alpha.", "A");
    assert_eq!(rcode, "NOERROR");
    assert!(answer.contains("10.1.1.1"), "{answer}");
    // Public names are untouched.
    let (_, answer) = dig(addr, "www.alpha.", "A");
    assert!(answer.contains("192.0.2.10"), "{answer}");
}
