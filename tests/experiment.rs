//! `tern experiment` end to end: the failover example runs against its
//! own relocated lab (127.191.*, 127.192.*), writes a CSV row per query
//! and an SVG that parses, and its rows show clients leaving the dead
//! replica sooner under TTL 20 than under TTL 300; load, policy-file and
//! fault events change the answers. The example files themselves load and
//! name files that exist.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tern::auth::cdn::CdnConfig;
use tern::experiment::{Action, Experiment};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("zones/experiments")
        .join(name)
}

struct Row {
    time: f64,
    region: String,
    name: String,
    replica: String,
    rcode: String,
}

fn rows(csv: &str) -> Vec<Row> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("time_s,region,client_subnet,name,answer,replica,latency_ms,rcode")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 8, "row {l}");
            Row {
                time: f[0].parse().unwrap(),
                region: f[1].to_string(),
                name: f[3].to_string(),
                replica: f[5].to_string(),
                rcode: f[7].to_string(),
            }
        })
        .collect()
}

/// The last time in [from, until) `name` was answered with `replica` for
/// clients in `region`, and whether later answers went elsewhere.
fn last_sent(
    rows: &[Row],
    (name, region): (&str, &str),
    replica: &str,
    from: f64,
    until: f64,
) -> (f64, bool) {
    let window: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name == name && r.region == region)
        .filter(|r| r.time >= from && r.time < until)
        .collect();
    assert!(!window.is_empty(), "no {name} rows from {region}");
    let last = window
        .iter()
        .filter(|r| r.replica == replica)
        .map(|r| r.time)
        .fold(from, f64::max);
    let left = window
        .iter()
        .any(|r| r.time > last && !r.replica.is_empty() && r.replica != replica);
    (last, left)
}

#[test]
fn failover_example_ttl20_leaves_the_dead_replica_before_ttl300() {
    let file = example("failover.toml");
    let exp = Experiment::load(&file).unwrap();
    let out = std::env::temp_dir().join(format!("tern-experiment-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bound, not a timing assertion: a hung run fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tern experiment did not finish");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Progress while it ran, the events among it.
    assert!(stderr.contains("event: us-1 down"), "{stderr}");
    assert!(
        stdout.contains("time from a replica going down until no client is sent to it"),
        "{stdout}"
    );

    let csv = std::fs::read_to_string(out.join("answers.csv")).unwrap();
    let rows = rows(&csv);
    assert_eq!(rows.len(), exp.query_count(), "one row per query");
    let answered = rows.iter().filter(|r| r.rcode == "NOERROR").count();
    assert!(
        answered * 10 >= rows.len() * 9,
        "{answered} of {}",
        rows.len()
    );
    for region in ["eu", "us", "ap"] {
        assert!(rows.iter().any(|r| r.region == region), "no {region} rows");
    }

    let down = exp
        .events
        .iter()
        .find_map(|e| match &e.action {
            Action::ReplicaDown(r) => Some((e.at_s, r.clone())),
            _ => None,
        })
        .unwrap();
    let up = exp
        .events
        .iter()
        .find_map(|e| match &e.action {
            Action::ReplicaUp(r) if *r == down.1 => Some(e.at_s),
            _ => None,
        })
        .unwrap();
    // The us clients are sent to us-1 both while the resolver ignores
    // their subnet (everyone gets the CDN's default site, us) and once it
    // forwards it (their own site).
    let (short, short_left) = last_sent(&rows, ("ttl20.cdn.net.", "us"), &down.1, down.0, up);
    let (long, long_left) = last_sent(&rows, ("ttl300.cdn.net.", "us"), &down.1, down.0, up);
    assert!(
        short_left,
        "TTL 20 clients never left {}:\n{stdout}",
        down.1
    );
    assert!(
        !long_left,
        "TTL 300 clients left {} early:\n{stdout}",
        down.1
    );
    assert!(
        short < long,
        "TTL 20 last sent at {short}, TTL 300 at {long}"
    );

    let svg = std::fs::read_to_string(out.join("report.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    assert!(texts.iter().any(|t| t.contains("us-1 down")), "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("ttl300.cdn.net.")));
    assert!(texts.iter().any(|t| t.contains("p99")));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn example_experiments_load_with_their_policy_files() {
    for f in ["failover.toml", "weighted.toml"] {
        let exp = Experiment::load(&example(f)).unwrap_or_else(|e| panic!("{e}"));
        assert!(exp.lab.join("lab.toml").is_file(), "{f}: no lab");
        assert!(exp.resolver.ip().is_loopback());
        let mut files: Vec<PathBuf> = exp.cdn.values().map(|p| exp.dir.join(p)).collect();
        for e in &exp.events {
            match &e.action {
                Action::Cdn { file, .. } => files.push(exp.dir.join(file)),
                Action::Load { file, .. } => assert!(exp.dir.join(file).is_file(), "{f}"),
                _ => {}
            }
        }
        assert!(!files.is_empty());
        for p in files {
            let c = CdnConfig::load(&p).unwrap_or_else(|e| panic!("{e}"));
            for n in &exp.names {
                assert!(
                    c.names.iter().any(|x| x.name == n.name),
                    "{}: no policy for {}",
                    p.display(),
                    n.name
                );
            }
        }
    }
}

/// Policy file for the events test: `pin` is `failover` over `order`.
fn events_cdn(order: &str) -> String {
    format!(
        r#"[health]
interval_ms = 300
timeout_ms = 200
fail = 2
rise = 2
port = 8080

[[replica]]
name = "eu-1"
addresses = ["127.154.1.1"]
site = "eu"

[[replica]]
name = "us-1"
addresses = ["127.154.2.1"]
site = "us"

[[replica]]
name = "ap-1"
addresses = ["127.154.3.1"]
site = "ap"

[[name]]
name = "load.cdn.net."
policy = "lowest-load"
replicas = ["eu-1", "us-1", "ap-1"]
load_file = "t-load.toml"
ttl = 1

[[name]]
name = "pin.cdn.net."
policy = "failover"
replicas = [{order}]
ttl = 1
"#
    )
}

#[test]
fn load_cdn_and_fault_events_change_the_answers() {
    let d = std::env::temp_dir().join(format!("tern-experiment-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    std::fs::write(d.join("t.cdn.toml"), events_cdn(r#""us-1", "eu-1""#)).unwrap();
    std::fs::write(d.join("t2.cdn.toml"), events_cdn(r#""ap-1", "eu-1""#)).unwrap();
    std::fs::write(
        d.join("t-load.toml"),
        "\"eu-1\" = 0.2\n\"us-1\" = 0.5\n\"ap-1\" = 0.7\n",
    )
    .unwrap();
    let exp = format!(
        r#"[experiment]
lab = "{}"
relocate = {{ "127.153." = "127.195.", "127.154." = "127.196." }}
resolver = "127.195.255.1:53"
cdn = {{ "cdn.net" = "t.cdn.toml" }}
duration_s = 12
rate = 20

[[client]]
subnet = "10.2.0.0/24"

[[name]]
name = "load.cdn.net."

[[name]]
name = "pin.cdn.net."

[[event]]
at_s = 2
action = "load"
file = "t-load.toml"
loads = {{ "eu-1" = 0.9, "us-1" = 0.6, "ap-1" = 0.1 }}

[[event]]
at_s = 5
action = "cdn"
server = "cdn.net"
file = "t2.cdn.toml"

[[event]]
at_s = 8
action = "faults"
server = "cdn.net"
faults = {{ delay_ms = 300 }}
"#,
        zones.display()
    );
    let file = d.join("events.toml");
    std::fs::write(&file, exp).unwrap();
    let out = d.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let csv = std::fs::read_to_string(out.join("answers.csv")).unwrap();
    let rows = rows(&csv);
    assert_eq!(rows.len(), 240);
    let replicas = |name: &str, from: f64, to: f64| {
        let mut v: Vec<&str> = rows
            .iter()
            .filter(|r| r.name == name && r.time >= from && r.time < to)
            .map(|r| r.replica.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // Lowest load: eu-1 until the load file says ap-1 (re-read every
    // 300 ms, then at most a 1 s TTL in the resolver's cache).
    assert_eq!(replicas("load.cdn.net.", 0.0, 2.0), vec!["eu-1"]);
    assert_eq!(replicas("load.cdn.net.", 5.0, 12.0), vec!["ap-1"]);
    // The new policy file's order.
    assert_eq!(replicas("pin.cdn.net.", 0.0, 5.0), vec!["us-1"]);
    assert_eq!(replicas("pin.cdn.net.", 8.0, 12.0), vec!["ap-1"]);
    // The delay fault: the resolver's cache misses wait for it.
    let slow = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let t: f64 = f[0].parse().ok()?;
            let ms: f64 = f[6].parse().ok()?;
            (t >= 8.0 && ms >= 300.0).then_some(t)
        })
        .count();
    assert!(slow > 0, "no answer waited for the 300 ms delay:\n{csv}");
    let _ = std::fs::remove_dir_all(&d);
}
