//! End to end: `tern serve` on a loopback address with a response policy
//! zone (`[[rpz]]`), asked with Debian's `dig` over real sockets: NXDOMAIN,
//! NODATA, local data, a CNAME to a wildcard target, drop, tcp-only and a
//! client address trigger, all answered without anything sent upstream
//! (the root hints point where nothing listens); then resolving from a
//! tree served by NSD, the triggers met during resolution: a CNAME target,
//! an answer's address, a zone cut's name server. Also `tern check` naming
//! the file and line of a broken policy zone, and the config key of a bad
//! override.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This test's own loopback address (no other test uses 127.84.0.0/16).
const ADDR: &str = "127.84.0.1";

/// A port free on `ADDR` for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind((ADDR, 0)).unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind((ADDR, port)).is_ok() {
            return port;
        }
    }
}

/// Kills the server when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-rpz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const POLICY: &str = "\
$TTL 300
@ IN SOA ns.rpz.test. admin.rpz.test. 1 3600 600 86400 300
@ IN NS ns.rpz.test.
blocked.example CNAME .
*.blocked.example CNAME .
empty.example CNAME *.
printer.example A 192.0.2.9
printer.example TXT \"from policy\"
walled.example CNAME *.garden.test.
drop.example CNAME rpz-drop.
slow.example CNAME rpz-tcp-only.
32.7.0.84.127.rpz-client-ip CNAME .
mine.example CNAME .
";

/// dig's output for one question, asked from `source`.
fn dig(port: u16, source: &str, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{ADDR}"))
        .args(["-p", &port.to_string(), "-b", source])
        .args(["+tries=1", "+time=2", "+norecurse"])
        .args(args)
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The status and flags line of dig's output.
fn header(out: &str) -> &str {
    out.lines()
        .find(|l| l.contains("status:"))
        .unwrap_or_else(|| panic!("no answer: {out}"))
}

fn flags(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags: {out}"))
}

/// Asks until the server answers (it may still be starting).
fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if dig(port, ADDR, &["blocked.example.", "A"]).contains("status:") {
            return;
        }
    }
    panic!("tern serve never answered");
}

fn spawn(config: &Path, hints: &Path, port: u16) -> Serve {
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("{ADDR}:{port}")])
        .arg("--root-hints")
        .arg(hints)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Serve(child)
}

#[test]
fn serve_applies_a_policy_zone() {
    let d = dir("serve");
    std::fs::write(d.join("policy.zone"), POLICY).unwrap();
    std::fs::write(
        d.join("hints.zone"),
        ". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 127.84.0.99\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tern.toml"),
        "[dnssec]\nvalidate = false\n\
         [resolver]\nlocal_data = [\"mine.example. 60 A 192.0.2.50\"]\n\
         [[rpz]]\nname = \"rpz.test.\"\nzonefile = \"policy.zone\"\nlog = true\n",
    )
    .unwrap();
    let port = free_port();
    let _serve = spawn(&d.join("tern.toml"), &d.join("hints.zone"), port);
    wait_ready(port);

    let out = dig(port, ADDR, &["blocked.example.", "A"]);
    assert!(header(&out).contains("NXDOMAIN"), "{out}");
    assert!(flags(&out).contains(" aa"), "{out}");
    let out = dig(port, ADDR, &["deep.er.blocked.example.", "AAAA"]);
    assert!(header(&out).contains("NXDOMAIN"), "wildcard trigger: {out}");

    let out = dig(port, ADDR, &["empty.example.", "A"]);
    assert!(header(&out).contains("NOERROR"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");

    let out = dig(port, ADDR, &["printer.example.", "TXT"]);
    assert!(out.contains("\"from policy\""), "{out}");
    let out = dig(port, ADDR, &["printer.example.", "A"]);
    assert!(out.contains("300\tIN\tA\t192.0.2.9"), "{out}");

    // RD=0: the CNAME is answered; its target is not in the cache.
    let out = dig(port, ADDR, &["walled.example.", "A"]);
    assert!(
        out.contains("CNAME\twalled.example.garden.test."),
        "a CNAME to *.garden.test. gets the query name: {out}"
    );

    let out = dig(port, ADDR, &["slow.example.", "A", "+ignore"]);
    assert!(flags(&out).contains(" tc"), "tcp-only over UDP: {out}");

    let out = dig(port, ADDR, &["drop.example.", "A"]);
    assert!(!out.contains("status:"), "dropped, no reply: {out}");

    // Local data answers before any policy (as in Unbound).
    let out = dig(port, ADDR, &["mine.example.", "A"]);
    assert!(out.contains("192.0.2.50"), "{out}");

    // The client address trigger: 127.84.0.7 gets NXDOMAIN for anything.
    let out = dig(port, "127.84.0.7", &["printer.example.", "A"]);
    assert!(header(&out).contains("NXDOMAIN"), "{out}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn check_names_file_line_and_key() {
    let d = dir("check");
    std::fs::write(
        d.join("policy.zone"),
        "$TTL 300\n@ SOA ns.rpz.test. admin.rpz.test. 1 3600 600 86400 300\nok CNAME .\nbad A 192.0.2\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tern.toml"),
        "[[rpz]]\nname = \"rpz.test.\"\nzonefile = \"policy.zone\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["check", "--config"])
        .arg(d.join("tern.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy.zone:4"), "{err}");

    std::fs::write(
        d.join("tern.toml"),
        "[[rpz]]\nname = \"rpz.test.\"\nzonefile = \"policy.zone\"\naction_override = \"block\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["check", "--config"])
        .arg(d.join("tern.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":4: rpz.action_override"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

const ROOT: &str = "$TTL 86400
. SOA a.root. admin.root. 1 3600 600 86400 300
. NS a.root.
a.root. A 127.85.0.1
test. NS ns.test.
ns.test. A 127.85.1.1
";

/// `sub.test.` is delegated to a server that does not exist: a query
/// reaching it would time out, so an answer shows the policy came first.
const TEST: &str = "$TTL 3600
test. SOA ns.test. admin.test. 1 3600 600 86400 300
test. NS ns.test.
ns.test. A 127.85.1.1
www.test. CNAME tracker.test.
tracker.test. A 192.0.2.66
img.test. A 198.51.100.7
ok.test. A 192.0.2.1
sub.test. NS ns.evil.test.
ns.evil.test. A 127.85.2.1
";

const DURING: &str = "\
$TTL 300
@ SOA ns.rpz.test. admin.rpz.test. 1 3600 600 86400 300
tracker.test CNAME .
32.7.100.51.198.rpz-ip CNAME *.
ns.evil.test.rpz-nsdname CNAME .
";

#[test]
fn policies_apply_during_resolution() {
    use common::nsd::{NsdServer, NsdTree};
    let tree = NsdTree::start(&[
        NsdServer::new("a.root.", &["127.85.0.1"], &[(".", ROOT)]),
        NsdServer::new("ns.test.", &["127.85.1.1"], &[("test.", TEST)]),
    ]);
    let d = dir("nsd");
    std::fs::write(d.join("policy.zone"), DURING).unwrap();
    std::fs::write(
        d.join("tern.toml"),
        "[dnssec]\nvalidate = false\n\
         [[rpz]]\nname = \"rpz.test.\"\nzonefile = \"policy.zone\"\n",
    )
    .unwrap();
    let port = free_port();
    let _serve = spawn(&d.join("tern.toml"), tree.root_hints(), port);
    let rd = |name: &str| {
        let out = Command::new("dig")
            .arg(format!("@{ADDR}"))
            .args(["-p", &port.to_string(), "+tries=1", "+time=5", name, "A"])
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = rd("ok.test.");
    while !out.contains("status:") && Instant::now() < deadline {
        out = rd("ok.test.");
    }
    assert!(out.contains("192.0.2.1"), "no policy for ok.test.: {out}");

    // The CNAME is resolved, its target blocked: NXDOMAIN after the CNAME.
    let out = rd("www.test.");
    assert!(header(&out).contains("NXDOMAIN"), "{out}");
    assert!(out.contains("CNAME\ttracker.test."), "{out}");
    assert!(!out.contains("192.0.2.66"), "{out}");

    // The answer's address has a trigger: NODATA.
    let out = rd("img.test.");
    assert!(header(&out).contains("NOERROR"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");

    // The servers of sub.test. have a trigger: NXDOMAIN without asking them.
    let out = rd("host.sub.test.");
    assert!(header(&out).contains("NXDOMAIN"), "{out}");
    assert!(flags(&out).contains(" aa"), "{out}");
    std::fs::remove_dir_all(&d).unwrap();
}
