//! `tern dig +trace` on a three-tier loopback tree: NSD instances for the
//! root (127.66.1.1), `test.` (127.66.1.2) and `zone.test.` (127.66.1.3),
//! with `--hints FILE` naming the root. The walk must show root → TLD →
//! zone, the final answer, a dead server being skipped, and exit 0;
//! `+trace +json` must give the same walk as a list of steps.

// Helpers of this test file fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::panic)]

mod dig_common;

use dig_common::{temp_dir, tern_dig, Nsd};
use std::process::Output;

const PORT: &str = "5301";

const ROOT: &str = "$TTL 86400
. IN SOA a.root-servers.lab. hostmaster.lab. 1 1800 900 604800 86400
. IN NS a.root-servers.lab.
a.root-servers.lab. IN A 127.66.1.1
test. IN NS ns0.nic.test.
test. IN NS ns1.nic.test.
ns0.nic.test. IN A 127.66.1.9
ns1.nic.test. IN A 127.66.1.2
";

const TLD: &str = "$TTL 3600
test. IN SOA ns1.nic.test. hostmaster.test. 1 1800 900 604800 300
test. IN NS ns1.nic.test.
ns1.nic.test. IN A 127.66.1.2
zone.test. IN NS ns.zone.test.
ns.zone.test. IN A 127.66.1.3
";

const ZONE: &str = "$TTL 300
zone.test. IN SOA ns.zone.test. hostmaster.zone.test. 1 1800 900 604800 60
zone.test. IN NS ns.zone.test.
ns.zone.test. IN A 127.66.1.3
www.zone.test. IN A 192.0.2.80
alias.zone.test. IN CNAME www.zone.test.
";

struct Tree {
    _servers: Vec<Nsd>,
    _dir: dig_common::TempDir,
    hints: String,
}

fn tree(tag: &str) -> Tree {
    let port: u16 = PORT.parse().unwrap();
    let servers = vec![
        Nsd::start(
            &format!("{tag}-root"),
            "127.66.1.1",
            port,
            &[(".", ROOT)],
            "",
        ),
        Nsd::start(
            &format!("{tag}-tld"),
            "127.66.1.2",
            port,
            &[("test.", TLD)],
            "",
        ),
        Nsd::start(
            &format!("{tag}-zone"),
            "127.66.1.3",
            port,
            &[("zone.test.", ZONE)],
            "",
        ),
    ];
    let dir = temp_dir(&format!("{tag}-hints"));
    let hints = dir.join("root.hints");
    std::fs::write(
        &hints,
        ".\t3600000\tIN\tNS\ta.root-servers.lab.\na.root-servers.lab.\t3600000\tIN\tA\t127.66.1.1\n",
    )
    .unwrap();
    Tree {
        _servers: servers,
        hints: hints.display().to_string(),
        _dir: dir,
    }
}

fn position(lines: &[&str], pred: impl Fn(&str) -> bool, what: &str, text: &str) -> usize {
    lines
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no line {what} in:\n{text}"))
}

/// One test drives both outputs: the tree's addresses are shared.
#[test]
fn trace_walks_root_tld_zone() {
    let t = tree("trace");
    let out = tern_dig(&[
        "-p",
        PORT,
        "+trace",
        "+timeout=1",
        "www.zone.test",
        "--hints",
        &t.hints,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let root = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.66.1.1#5301(a.root-servers.lab)"),
        "from the root",
        &text,
    );
    let to_tld = position(
        &lines,
        |l| l.starts_with(";; referral to test. (2 NS, 2 glue)"),
        "referral to test.",
        &text,
    );
    let dead = position(
        &lines,
        |l| l.contains("127.66.1.9#5301") && l.ends_with("(ns0.nic.test.), trying next"),
        "skipping the dead TLD server",
        &text,
    );
    let tld = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.66.1.2#5301(ns1.nic.test)"),
        "from the TLD",
        &text,
    );
    let to_zone = position(
        &lines,
        |l| l == ";; referral to zone.test. (1 NS, 1 glue)",
        "referral to zone.test.",
        &text,
    );
    let answer = position(
        &lines,
        |l| l == "www.zone.test.\t\t300\tIN\tA\t192.0.2.80",
        "the answer",
        &text,
    );
    let zone = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.66.1.3#5301(ns.zone.test)"),
        "from the zone",
        &text,
    );
    let done = position(
        &lines,
        |l| l == ";; answer from zone zone.test.",
        "the end",
        &text,
    );
    assert!(
        root < to_tld && to_tld < dead && dead < tld && tld < to_zone,
        "{text}"
    );
    assert!(to_zone < answer && answer < zone && zone < done, "{text}");
    // Each referral shows its NS records as dig does.
    assert!(
        lines.contains(&"test.\t\t\t86400\tIN\tNS\tns1.nic.test."),
        "{text}"
    );
    assert!(
        lines.contains(&"zone.test.\t\t3600\tIN\tNS\tns.zone.test."),
        "{text}"
    );

    // The same walk as JSON steps.
    let out = tern_dig(&[
        "-p",
        PORT,
        "+trace",
        "+json",
        "+timeout=1",
        "alias.zone.test",
        "--hints",
        &t.hints,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let steps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = steps.as_array().unwrap();
    let zones: Vec<&str> = steps.iter().map(|s| s["zone"].as_str().unwrap()).collect();
    assert_eq!(zones, [".", "test.", "test.", "zone.test."]);
    assert!(steps[1]["why"].as_str().unwrap().ends_with("trying next"));
    assert_eq!(steps[0]["why"], "referral to test. (2 NS, 2 glue)");
    let last = &steps[3];
    assert_eq!(last["server"], "127.66.1.3#5301");
    assert!(last["rttMs"].is_u64());
    assert_eq!(
        last["message"]["answerRRs"][0]["rdataCNAME"],
        "www.zone.test."
    );

    // Without hints but with @server, the roots come from that server's
    // ". NS" answer, as with dig +trace.
    let out = tern_dig(&[
        "@127.66.1.1",
        "-p",
        PORT,
        "+trace",
        "+timeout=1",
        "www.zone.test",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let primed = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.66.1.1#5301(127.66.1.1) in "),
        "priming from @server",
        &text,
    );
    let root_ns = position(
        &lines,
        |l| l == ".\t\t\t86400\tIN\tNS\ta.root-servers.lab.",
        "root NS",
        &text,
    );
    let answer = position(
        &lines,
        |l| l == "www.zone.test.\t\t300\tIN\tA\t192.0.2.80",
        "answer",
        &text,
    );
    assert!(root_ns < primed && primed < answer, "{text}");

    // The same question through tern's engine (+engine): its own walk,
    // retries past the dead TLD server included, then the answer.
    let out = tern_dig(&[
        "-p",
        PORT,
        "+engine",
        "+timeout=1",
        "www.zone.test",
        "--hints",
        &t.hints,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let start_tld = position(
        &lines,
        |l| l.starts_with(";; start at zone test. "),
        "start at test.",
        &text,
    );
    let start_zone = position(
        &lines,
        |l| l.starts_with(";; start at zone zone.test. "),
        "start at zone.test.",
        &text,
    );
    let asked = position(
        &lines,
        |l| {
            // The reason names the server, not the port 53 the engine
            // addressed before `-p` mapped it.
            l == ";; asking ns.zone.test. (127.66.1.3#5301) for www.zone.test. A in zone zone.test. \
                  over UDP: ns.zone.test. is a server for zone.test."
        },
        "the zone's server asked",
        &text,
    );
    let resolved = position(
        &lines,
        |l| l.starts_with(";; resolved: "),
        "the result",
        &text,
    );
    assert!(
        start_tld < start_zone && start_zone < asked && asked < resolved,
        "{text}"
    );
    assert_eq!(
        lines.get(resolved + 1),
        Some(&"www.zone.test.\t\t300\tIN\tA\t192.0.2.80"),
        "{text}"
    );

    let out = tern_dig(&[
        "-p",
        PORT,
        "+engine",
        "+json",
        "alias.zone.test",
        "--hints",
        &t.hints,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| e["event"] == "query"
        && e["zone"] == "zone.test."
        && e["server"] == "127.66.1.3#5301"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "reply" && e["rttMs"].is_u64()));
    let result = events.last().unwrap();
    assert_eq!(result["event"], "result");
    assert!(result["failure"].is_null());
    let answers: Vec<&str> = result["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        answers
            .iter()
            .any(|a| a.contains("CNAME") && a.contains("www.zone.test.")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.ends_with("192.0.2.80")),
        "{answers:?}"
    );

    // A name that does not exist ends with the zone's NXDOMAIN, still exit 0.
    let out = tern_dig(&["-p", PORT, "+trace", "nope.zone.test", "--hints", &t.hints]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(";; NXDOMAIN from zone zone.test.\n"),
        "{text}"
    );
}

#[test]
fn trace_without_reachable_roots_exits_9() {
    let dir = temp_dir("trace-dead-hints");
    let hints = dir.join("hints");
    std::fs::write(
        &hints,
        ". 3600 NS a.dead.lab.\na.dead.lab. 3600 A 127.66.1.10\n",
    )
    .unwrap();
    let out = tern_dig(&[
        "-p",
        PORT,
        "+trace",
        "+timeout=1",
        "www.zone.test",
        "+hints=".to_string().as_str(),
    ]);
    // An empty +hints= value names no file.
    assert_eq!(out.status.code(), Some(10));
    let arg = format!("+hints={}", hints.display());
    let out = tern_dig(&["-p", PORT, "+trace", "+timeout=1", "www.zone.test", &arg]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(text.ends_with(";; no servers could be reached\n"), "{text}");
    // The engine gives up too, says why, and exits 9.
    let out = tern_dig(&["-p", PORT, "+engine", "www.zone.test", &arg]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(text.contains(";; resolution failed: "), "{text}");
    assert!(
        text.contains(";; 127.66.1.10#5301: network error: connection refused (next timeout "),
        "{text}"
    );
}

/// A root server (127.180.0.1) that answers every query with bytes that
/// carry another ID: the trace names what came, not only the timeout.
#[test]
fn trace_names_an_unusable_reply() {
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let sock = UdpSocket::bind("127.180.0.1:5301").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let garbage = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !st.load(Ordering::SeqCst) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if n >= 2 {
                    let id = u16::from_be_bytes([buf[0], buf[1]]) ^ 0x5555;
                    let [a, b] = id.to_be_bytes();
                    let _ = sock.send_to(&[a, b, 0x80, 0, 0, 1, 0xff], from);
                }
            }
        }
    });
    let out = trace_with_hints(
        "trace-garbage",
        ".\t3600000\tIN\tNS\ta.root.garbage.\na.root.garbage.\t3600000\tIN\tA\t127.180.0.1\n",
    );
    stop.store(true, Ordering::SeqCst);
    garbage.join().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_ne!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("127.180.0.1#5301") && l.ends_with("trying next"))
        .unwrap_or_else(|| panic!("no failed step for the root:\n{text}"));
    assert!(
        line.contains("timed out after 1 unusable reply, the last: ID mismatch"),
        "{line}"
    );
}

/// A hints file that cannot be used stops `+trace` before any query, with
/// the engine's reader's error naming the file and line (exit 10); so does
/// one that names no root server with an address.
#[test]
fn trace_refuses_a_broken_hints_file() {
    let dir = temp_dir("trace-broken-hints");
    let hints = dir.join("broken.hints");
    std::fs::write(
        &hints,
        "; lab root\n. 3600 NS a.root.lab.\na.root.lab. 3600 A 127.66.1.300\n",
    )
    .unwrap();
    let path = hints.display().to_string();
    for args in [
        vec!["-p", PORT, "+trace", "www.zone.test", "--hints", &path],
        vec![
            "-p",
            PORT,
            "+trace",
            "+json",
            "www.zone.test",
            "--hints",
            &path,
        ],
    ] {
        let out = tern_dig(&args);
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(10), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with(";; cannot use hints: "))
            .unwrap_or_else(|| panic!("no hints error in:\n{text}"));
        assert!(line.contains(&format!("{path}:3: ")), "{line}");
        assert!(!text.contains(";; Received"), "{text}");
    }
    std::fs::write(&hints, ". 3600 NS a.root.lab.\n").unwrap();
    let out = tern_dig(&["-p", PORT, "+trace", "www.zone.test", "--hints", &path]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(10), "{text}");
    assert!(
        text.contains(&format!(
            ";; cannot use hints: {path}: no root NS record with an address"
        )),
        "{text}"
    );
}

/// The walk judges replies as tern's resolver does: a root (127.180.0.2)
/// that answers like a recursive server's cache (RA set, AA clear) is lame
/// and the next root (127.180.0.3, AA set) gives the answer.
#[test]
fn trace_skips_an_answer_from_a_cache() {
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    // (address, flags byte 2, flags byte 3, address answered)
    let servers = [
        ("127.180.0.2:5301", 0x80, 0x80, [192, 0, 2, 66]),
        ("127.180.0.3:5301", 0x84, 0x00, [192, 0, 2, 80]),
    ];
    let threads: Vec<_> = servers
        .into_iter()
        .map(|(addr, f2, f3, ip)| {
            let sock = UdpSocket::bind(addr).unwrap();
            sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
                .unwrap();
            let st = stop.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !st.load(Ordering::SeqCst) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    // The question ends after its name's root label and
                    // four bytes of type and class.
                    let Some(zero) = buf[12..n].iter().position(|&b| b == 0) else {
                        continue;
                    };
                    let end = 12 + zero + 5;
                    let mut m = vec![buf[0], buf[1], f2, f3, 0, 1, 0, 1, 0, 0, 0, 0];
                    m.extend_from_slice(&buf[12..end]);
                    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                    m.extend_from_slice(&ip);
                    let _ = sock.send_to(&m, from);
                }
            })
        })
        .collect();
    let out = trace_with_hints(
        "trace-cache-root",
        ". 3600 NS a.root.cache.\n. 3600 NS b.root.cache.\n\
         a.root.cache. 3600 A 127.180.0.2\nb.root.cache. 3600 A 127.180.0.3\n",
    );
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let cache = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.180.0.2#5301(a.root.cache)"),
        "from the caching root",
        &text,
    );
    assert!(
        lines[cache + 1].starts_with(";; a lame reply (")
            && lines[cache + 1].contains("an answer without AA from a server offering recursion")
            && lines[cache + 1].ends_with(", trying next"),
        "{text}"
    );
    let answer = position(
        &lines,
        |l| l.starts_with(";; Received ") && l.contains("from 127.180.0.3#5301(b.root.cache)"),
        "from the authoritative root",
        &text,
    );
    assert_eq!(lines[answer + 1], ";; answer from zone .", "{text}");
    assert!(cache < answer, "{text}");
    // The cached data is printed as received, the answer follows it.
    assert!(
        lines[..cache].contains(&"www.zone.test.\t\t60\tIN\tA\t192.0.2.66"),
        "{text}"
    );
    assert!(
        lines[cache..answer].contains(&"www.zone.test.\t\t60\tIN\tA\t192.0.2.80"),
        "{text}"
    );
}

/// `tern dig +trace www.zone.test` from the roots in `hints` (the text of a
/// hints file, written to a fresh directory named by `tag`).
fn trace_with_hints(tag: &str, hints: &str) -> Output {
    let dir = temp_dir(tag);
    let file = dir.join("roots.hints");
    std::fs::write(&file, hints).unwrap();
    tern_dig(&[
        "-p",
        PORT,
        "+trace",
        "+timeout=1",
        "www.zone.test",
        "--hints",
        file.to_str().unwrap(),
    ])
}
