//! End to end: the real `tern serve` on loopback with an auth zone
//! (`[[resolver.auth_zone]]`), asked with dig. A zone for clients is
//! answered authoritatively (AA=1, NXDOMAIN with the SOA); a zone for the
//! resolver answers through recursion (RA=1, AA=0) with no server
//! reachable (the root hints point at a dead address); a zone file with
//! an error stops `tern serve` and `tern check` with its file and line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ZONE: &str = "$ORIGIN example.org.
$TTL 3600
@       SOA ns1 hostmaster 2026120701 7200 3600 1209600 300
@       NS  ns1
ns1     A   192.0.2.53
www     A   192.0.2.1
mail    A   192.0.2.2
sub     NS  ns.sub
ns.sub  A   192.0.2.54
";

/// Nothing listens here: a resolution that left the machine would fail.
const DEAD_ROOT: &str = ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.77.4.99\n";

struct Tern(Child);

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-auth-zone-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A config serving `example.org.` from `zone.txt` in `d`.
fn config(d: &Path, listen: &str, downstream: bool, upstream: bool) -> PathBuf {
    std::fs::write(d.join("root.hints"), DEAD_ROOT).unwrap();
    let conf = d.join("tern.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"{listen}\"]\n[dnssec]\nvalidate = false\n\
             [resolver]\nroot_hints = \"root.hints\"\nquery_timeout_ms = 1000\n\
             [[resolver.auth_zone]]\nname = \"example.org.\"\nzonefile = \"zone.txt\"\n\
             for_downstream = {downstream}\nfor_upstream = {upstream}\n\
             [log]\nlevel = \"warn\"\n"
        ),
    )
    .unwrap();
    conf
}

fn dig(server: &str, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{server}"))
        .args(args)
        .args(["+tries=1", "+time=2"])
        .output()
        .expect("dig is not installed (apt-get install dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `tern serve` and waits until it answers; fails at once if the
/// process exits (e.g. it cannot bind).
fn start(conf: &Path, server: &str) -> Tern {
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut tern = Tern(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = tern.0.try_wait().unwrap() {
            panic!("tern serve exited at start: {status}");
        }
        if dig(server, &["ns1.example.org", "A"]).contains("status: NOERROR") {
            return tern;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tern serve did not answer on {server}");
}

#[test]
fn serve_answers_an_auth_zone_for_clients() {
    let d = dir("down");
    std::fs::write(d.join("zone.txt"), ZONE).unwrap();
    let conf = config(&d, "127.77.4.1:53", true, false);
    let _t = start(&conf, "127.77.4.1");

    let text = dig("127.77.4.1", &["www.example.org", "A"]);
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains(" aa"), "{text}");
    assert!(text.contains("192.0.2.1"), "{text}");

    let text = dig("127.77.4.1", &["nothere.example.org", "A"]);
    assert!(text.contains("status: NXDOMAIN"), "{text}");
    assert!(text.contains(" aa"), "{text}");
    assert!(text.contains("SOA\tns1.example.org."), "{text}");

    let text = dig("127.77.4.1", &["mail.example.org", "AAAA"]);
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains("ANSWER: 0"), "{text}");

    // Below a delegation inside the zone: a referral, not an answer.
    let text = dig("127.77.4.1", &["www.sub.example.org", "A", "+norec"]);
    assert!(text.contains("AUTHORITY: 1"), "{text}");
    assert!(text.contains("NS\tns.sub.example.org."), "{text}");
}

#[test]
fn serve_resolves_from_an_auth_zone_copy() {
    let d = dir("up");
    std::fs::write(d.join("zone.txt"), ZONE).unwrap();
    let conf = config(&d, "127.77.4.2:53", false, true);
    let _t = start(&conf, "127.77.4.2");

    let text = dig("127.77.4.2", &["www.example.org", "A"]);
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains("flags: qr rd ra;"), "{text}");
    assert!(text.contains("192.0.2.1"), "{text}");

    let text = dig("127.77.4.2", &["nothere.example.org", "A"]);
    assert!(text.contains("status: NXDOMAIN"), "{text}");
}

#[test]
fn broken_zone_file_stops_serve_and_check_with_file_and_line() {
    let d = dir("bad");
    let bad = format!("{ZONE}oops    A   not-an-address\n");
    std::fs::write(d.join("zone.txt"), bad).unwrap();
    let conf = config(&d, "127.77.4.3:53", true, true);
    for args in [&["serve", "--config"][..], &["check", "--config"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(args)
            .arg(&conf)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted a broken zone");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("zone.txt:10:"), "{args:?}: {err}");
    }
}
