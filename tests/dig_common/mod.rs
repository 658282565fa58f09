//! Test fixture for the `tern dig` tests: a Debian NSD instance on a
//! loopback address with its own config and zone files in a temp dir,
//! started with `nsd -d`, ready once it answers, stopped on Drop; plus
//! helpers to run `dig` / `tern dig` and mask the fields that must differ.

#![allow(dead_code)]
// Test-support code: failing loudly is the point here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Nsd {
    child: Child,
    dir: TempDir,
    pub addr: SocketAddr,
}

/// A fresh temp dir for one fixture, removed on Drop.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("tern-dig-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

impl Nsd {
    /// Starts NSD on `ip:port` serving `zones` (origin, zone-file text);
    /// `extra` goes into the `server:` clause.
    pub fn start(tag: &str, ip: &str, port: u16, zones: &[(&str, &str)], extra: &str) -> Nsd {
        Nsd::start_with(tag, ip, port, zones, extra, "")
    }

    /// As `start`, with `zone_extra` in every `zone:` clause (e.g.
    /// `provide-xfr`).
    pub fn start_with(
        tag: &str,
        ip: &str,
        port: u16,
        zones: &[(&str, &str)],
        extra: &str,
        zone_extra: &str,
    ) -> Nsd {
        let dir = temp_dir(tag);
        let d = dir.display();
        let mut conf = format!(
            "server:\n  ip-address: {ip}@{port}\n  server-count: 1\n  username: \"\"\n  \
             zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             logfile: \"{d}/nsd.log\"\n  verbosity: 0\n{extra}\
             remote-control:\n  control-enable: no\n"
        );
        for (i, (origin, text)) in zones.iter().enumerate() {
            let file = format!("zone{i}.zone");
            std::fs::write(dir.join(&file), text).unwrap();
            conf.push_str(&format!(
                "zone:\n  name: \"{origin}\"\n  zonefile: \"{file}\"\n{zone_extra}"
            ));
        }
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        wait_port_free(addr);
        let conf_path = dir.join("nsd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nsd")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd must be installed (apt-get install nsd)");
        let mut nsd = Nsd { child, dir, addr };
        nsd.wait_ready(zones.first().map_or(".", |z| z.0));
        nsd
    }

    /// Polls with an SOA query until NSD answers (at most 15 s).
    /// Fails if our NSD exited (e.g. the address is taken by another).
    fn wait_ready(&mut self, origin: &str) {
        let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in origin.split('.').filter(|l| !l.is_empty()) {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 6, 0, 1]);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default();
                panic!("nsd for {} exited with {status}: {log}", self.addr);
            }
            let _ = sock.send_to(&q, self.addr);
            let mut buf = [0u8; 1500];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 4 && buf[0] == 0x12 && buf[1] == 0x34 {
                    // Still ours? A stray server on the same address would
                    // answer while our NSD dies on bind.
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("nsd for {} exited with {status}", self.addr);
                    }
                    return;
                }
            }
        }
        let log = std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default();
        panic!("nsd on {} did not answer: {log}", self.addr);
    }
}

/// Waits (at most 5 s) until nothing holds `addr` over UDP: NSD's worker
/// processes may outlive the main one by a moment.
fn wait_port_free(addr: SocketAddr) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if UdpSocket::bind(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        // SIGTERM lets nsd stop its server and xfrd children too.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                wait_port_free(self.addr);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tern dig ARGS`.
pub fn tern_dig(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("dig")
        .args(args)
        .output()
        .unwrap()
}

/// Runs Debian's `dig ARGS`.
pub fn real_dig(args: &[&str]) -> Output {
    Command::new("dig")
        .args(args)
        .output()
        .expect("dig must be installed (apt-get install dnsutils)")
}

/// Masks what must differ between two runs: message IDs, query time,
/// date, the version in the banner and cookie values.
pub fn mask(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let mut l = line.to_string();
            if let Some(pos) = l.find("expected ID ") {
                l.truncate(pos);
                l.push_str("expected ID <ID>, got <ID>");
            }
            if let Some(pos) = l.find(" id: ") {
                l.truncate(pos);
                l.push_str(" id: <ID>");
            }
            if l.starts_with("; <<>> ") {
                if let Some(end) = l[7..].find(" <<>> ") {
                    l = format!("; <<>> <VERSION> <<>> {}", &l[7 + end + 6..]);
                }
            }
            // "+identify": "... from server ADDR in N ms."
            if let (Some(pos), true) = (l.rfind(" in "), l.ends_with(" ms.")) {
                if l[pos + 4..l.len() - 4].bytes().all(|b| b.is_ascii_digit()) {
                    l = format!("{} in <N> ms.", &l[..pos]);
                }
            }
            if l.starts_with(";; Query time: ") {
                l = ";; Query time: <N> msec".into();
            }
            if l.starts_with(";; WHEN: ") {
                l = ";; WHEN: <DATE>".into();
            }
            if let Some(rest) = l.strip_prefix("; COOKIE: ") {
                // Keep dig's verdict, e.g. " (good)".
                let verdict = rest.trim_start_matches(|c: char| c.is_ascii_hexdigit());
                l = format!("; COOKIE: <COOKIE>{verdict}");
            }
            l
        })
        .collect()
}

/// Compares two outputs line by line; panics with the first difference.
pub fn assert_same(what: &str, expected: &str, actual: &str) {
    let (e, a) = (mask(expected), mask(actual));
    for (i, (x, y)) in e.iter().zip(a.iter()).enumerate() {
        assert_eq!(
            x,
            y,
            "{what}: line {} differs\n--- dig:\n{expected}\n--- tern dig:\n{actual}",
            i + 1
        );
    }
    assert_eq!(
        e.len(),
        a.len(),
        "{what}: line counts differ\n--- dig:\n{expected}\n--- tern dig:\n{actual}"
    );
}
