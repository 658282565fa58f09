//! Shared by the lab end-to-end tests: copying `zones/` with rewritten
//! settings, starting `tern lab` and Unbound as guarded child processes,
//! and raw UDP queries.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tern::zone::answer::make_query;

/// The resolver address the tests give the lab (not the default 5300).
pub const RESOLVER: &str = "127.153.255.1:53";
/// Where the tests run Unbound.
pub const UNBOUND: &str = "127.153.255.2:53";

/// A fresh copy of zones/ in a temp dir, with `edit` applied to lab.toml.
pub fn lab_copy(tag: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    let d = std::env::temp_dir().join(format!("tern-lab-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
        }
    }
    let lab = std::fs::read_to_string(d.join("lab.toml")).unwrap();
    let lab = lab.replace(
        "listen = \"127.0.0.1:5300\"",
        &format!("listen = \"{RESOLVER}\""),
    );
    std::fs::write(d.join("lab.toml"), edit(lab)).unwrap();
    d
}

/// A child process stopped (SIGINT, then SIGKILL) when dropped, along
/// with the resolver pid file the lab writes.
pub struct Guard {
    pub child: Child,
    pub pid_file: Option<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pid) = self
            .pid_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        {
            // Only if that pid is still our resolver (pids can be reused).
            let cmdline =
                std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
            if !String::from_utf8_lossy(&cmdline).contains("serve") {
                return;
            }
            let _ = Command::new("kill")
                .args(["-9", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts `tern lab DIR` and waits until the resolver answers.
pub fn start_lab(dir: &Path) -> Guard {
    let run = dir.join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("lab")
        .arg(dir)
        .arg("--run-dir")
        .arg(&run)
        .args(["--log", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = Guard {
        child,
        pid_file: Some(run.join("resolver.pid")),
    };
    wait_for(RESOLVER, "www.example.lab.");
    g
}

/// Polls `server` until it answers `name` A (30 s at most).
pub fn wait_for(server: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(r) = query(server, name, RecordType::A, Duration::from_secs(2)) {
            if r.metadata.response_code == ResponseCode::NoError && !r.answers.is_empty() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{server} never answered {name}");
}

/// One recursive query over UDP (with EDNS), None on timeout.
pub fn query(server: &str, name: &str, t: RecordType, timeout: Duration) -> Option<Message> {
    let addr: SocketAddr = server.parse().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut q = make_query(rand_id(), Name::from_ascii(name).unwrap(), t, true);
    q.metadata.recursion_desired = true;
    s.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = s.recv_from(&mut buf).ok()?;
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if m.metadata.id == q.metadata.id {
                return Some(m);
            }
        }
    }
}

fn rand_id() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (t.subsec_nanos() % 65_521) as u16
}

/// The A addresses in an answer, sorted.
pub fn addresses(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Starts Unbound on UNBOUND with the lab's root hints; None if absent.
pub fn start_unbound(dir: &Path, hints: &Path) -> Option<Guard> {
    if Command::new("unbound").arg("-V").output().is_err() {
        return None;
    }
    let u = dir.join("unbound");
    std::fs::create_dir_all(&u).unwrap();
    let (ip, port) = UNBOUND.split_once(':').unwrap();
    let conf = format!(
        "server:\n  interface: {ip}\n  port: {port}\n  do-not-query-localhost: no\n  \
         root-hints: \"{}\"\n  module-config: \"iterator\"\n  username: \"\"\n  chroot: \"\"\n  \
         directory: \"{}\"\n  pidfile: \"{}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  \
         access-control: 127.0.0.0/8 allow\n  verbosity: 1\nremote-control:\n  control-enable: no\n",
        hints.display(),
        u.display(),
        u.display()
    );
    Some(spawn_unbound(&u, &conf))
}

/// Writes `conf` to `dir/unbound.conf` and runs Unbound in the foreground
/// on it, stopped when the guard drops.
fn spawn_unbound(dir: &Path, conf: &str) -> Guard {
    std::fs::write(dir.join("unbound.conf"), conf).unwrap();
    let child = Command::new("unbound")
        .args(["-d", "-c"])
        .arg(dir.join("unbound.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unbound is not installed (apt-get install unbound)");
    Guard {
        child,
        pid_file: None,
    }
}

/// `lab_copy` with every lab address moved: 127.153.* (servers, resolver)
/// to 127.`servers`.* and 127.154.* (CDN replicas) to 127.`replicas`.*,
/// so the copy runs beside a default `tern lab` and the other lab tests.
pub fn lab_copy_moved(tag: &str, servers: u8, replicas: u8) -> PathBuf {
    let d = lab_copy(tag, |t| t);
    for e in std::fs::read_dir(&d).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let text = std::fs::read_to_string(&p).unwrap();
            let moved = text
                .replace("127.153.", &format!("127.{servers}."))
                .replace("127.154.", &format!("127.{replicas}."));
            std::fs::write(&p, moved).unwrap();
        }
    }
    d
}

/// What `tern lab` printed about itself.
pub struct LabMap {
    pub guard: Guard,
    pub hints: PathBuf,
    /// `trust anchor: FILE` (only with `--dnssec`).
    pub anchor: Option<PathBuf>,
    /// The whole map, for messages.
    pub text: String,
}

/// Starts `tern lab DIR` with `extra` flags (e.g. `--dnssec`,
/// `--no-resolver`) and reads its printed map up to `try:`. The lab's
/// stdout keeps being drained, so it never blocks on a full pipe.
pub fn start_lab_map(dir: &Path, extra: &[&str]) -> LabMap {
    use std::io::BufRead;
    let run = dir.join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("lab")
        .arg(dir)
        .arg("--run-dir")
        .arg(&run)
        .args(["--log", "warn"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let guard = Guard {
        child,
        pid_file: Some(run.join("resolver.pid")),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("tern lab printed no map:\n{text}"));
        text.push_str(&line);
        text.push('\n');
        if line.trim() == "try:" {
            break;
        }
    }
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| PathBuf::from(v.trim()))
    };
    LabMap {
        guard,
        hints: field("root hints:").unwrap_or_else(|| panic!("no root hints in:\n{text}")),
        anchor: field("trust anchor:"),
        text,
    }
}

/// Starts Unbound validating from `anchor` (module-config "validator
/// iterator") on `addr` (port 53), with the lab's root hints.
pub fn start_validating_unbound(dir: &Path, hints: &Path, anchor: &Path, addr: &str) -> Guard {
    let u = dir.join("unbound-validator");
    std::fs::create_dir_all(&u).unwrap();
    let conf = format!(
        "server:\n  interface: {addr}\n  port: 53\n  do-not-query-localhost: no\n  \
         root-hints: \"{}\"\n  trust-anchor-file: \"{}\"\n  module-config: \"validator iterator\"\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{}\"\n  pidfile: \"{}/unbound.pid\"\n  \
         use-syslog: no\n  logfile: \"{}/unbound.log\"\n  access-control: 127.0.0.0/8 allow\n  \
         val-log-level: 2\n  verbosity: 1\nremote-control:\n  control-enable: no\n",
        hints.display(),
        anchor.display(),
        u.display(),
        u.display(),
        u.display()
    );
    spawn_unbound(&u, &conf)
}

/// One recursive query with DO=1 over UDP, None on timeout.
pub fn query_do(server: &str, name: &str, t: RecordType, timeout: Duration) -> Option<Message> {
    let addr: SocketAddr = server.parse().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut q = make_query(rand_id(), Name::from_ascii(name).unwrap(), t, true);
    q.metadata.recursion_desired = true;
    if let Some(e) = q.edns.as_mut() {
        e.set_dnssec_ok(true);
    }
    s.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = s.recv_from(&mut buf).ok()?;
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if m.metadata.id == q.metadata.id {
                return Some(m);
            }
        }
    }
}

/// BIND's `trust-anchors` syntax (what delv's `-a` reads) from the lab's
/// zone-file DS line.
pub fn bind_anchor(ds_file: &str) -> String {
    let line = ds_file
        .lines()
        .find(|l| l.contains(" DS "))
        .expect("a DS line");
    let f: Vec<&str> = line.split_whitespace().collect();
    // ". TTL IN DS tag alg digest-type hex"
    format!(
        "trust-anchors {{\n  . static-ds {} {} {} \"{}\";\n}};\n",
        f[4], f[5], f[6], f[7]
    )
}

/// Runs Debian's `delv` against `server` (an IPv4 address, port 53) with
/// the BIND-syntax anchor file `keys`, for `name` A; stdout and stderr.
pub fn delv(server: &str, keys: &Path, name: &str) -> String {
    let out = Command::new("delv")
        .arg(format!("@{server}"))
        .args(["-p", "53", "-a"])
        .arg(keys)
        .args(["+root=.", name, "A"])
        .output()
        .expect("delv is not installed (apt-get install bind9-dnsutils)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
