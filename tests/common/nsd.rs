//! A DNS tree served by real NSD instances on loopback, for end-to-end
//! tests: each `NsdServer` gets its own NSD process, its own 127.x.y.z
//! addresses and its zones; `NsdTree` writes the files, starts `nsd -d`,
//! waits until each answers an SOA query, writes a root-hints file for the
//! tree, reads query counters through `nsd-control` over a unix socket, and
//! stops every process (SIGTERM to its process group, then SIGKILL) on Drop.
//!
//! Resolvers query port 53 for addresses learnt from referrals, so a tree
//! meant for iteration listens on port 53 on addresses no other test uses.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// How long one NSD may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One authoritative server of the tree.
#[derive(Debug, Clone)]
pub struct NsdServer {
    /// Host name of the server (e.g. "a.root-servers.net."); used in the
    /// root hints when it serves ".".
    pub host: String,
    /// Loopback addresses it listens on.
    pub addrs: Vec<IpAddr>,
    /// Port it listens on (53 for servers found through referrals).
    pub port: u16,
    /// (zone name, zone file text) pairs.
    pub zones: Vec<(String, String)>,
    /// More `server:` lines for nsd.conf (e.g. "refuse-any: yes").
    pub extra: String,
}

impl NsdServer {
    pub fn new(host: &str, addrs: &[&str], zones: &[(&str, &str)]) -> Self {
        Self {
            host: host.to_string(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            port: 53,
            zones: zones
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            extra: String::new(),
        }
    }

    /// Adds a `server:` line to this server's nsd.conf.
    pub fn with_config(mut self, line: &str) -> Self {
        self.extra.push_str(&format!("    {line}\n"));
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

struct Instance {
    server: NsdServer,
    dir: PathBuf,
    child: Child,
}

/// A running tree; every NSD is stopped when this is dropped.
pub struct NsdTree {
    dir: PathBuf,
    instances: Vec<Instance>,
    hints: PathBuf,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl NsdTree {
    /// Starts one NSD per server and waits until each answers.
    pub fn start(servers: &[NsdServer]) -> NsdTree {
        let dir = std::env::temp_dir().join(format!(
            "tern-nsd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let hints = dir.join("root.hints");
        std::fs::write(&hints, root_hints(servers)).unwrap();
        let mut tree = NsdTree {
            dir: dir.clone(),
            instances: Vec::new(),
            hints,
        };
        for (i, server) in servers.iter().enumerate() {
            let sdir = dir.join(format!("nsd{i}"));
            std::fs::create_dir_all(&sdir).unwrap();
            let conf = write_config(&sdir, server);
            let child = Command::new("nsd")
                .arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(sdir.join("stderr.log")).unwrap(),
                ))
                .process_group(0)
                .spawn()
                .expect("nsd not installed? (apt-get install nsd)");
            tree.instances.push(Instance {
                server: server.clone(),
                dir: sdir,
                child,
            });
        }
        for inst in &mut tree.instances {
            wait_until_answering(inst);
        }
        tree
    }

    /// A root-hints file (zone-file syntax) for the servers serving ".".
    pub fn root_hints(&self) -> &Path {
        &self.hints
    }

    /// The directory holding every generated file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queries answered so far by the server listening on `addr`
    /// (`nsd-control stats_noreset`, num.queries).
    pub fn queries(&self, addr: IpAddr) -> u64 {
        let inst = self
            .instances
            .iter()
            .find(|i| i.server.addrs.contains(&addr))
            .expect("no NSD on that address");
        stat(&inst.dir, "num.queries")
    }

    /// Queries answered so far by every server of the tree.
    pub fn total_queries(&self) -> u64 {
        self.instances
            .iter()
            .map(|i| stat(&i.dir, "num.queries"))
            .sum()
    }
}

impl Drop for NsdTree {
    fn drop(&mut self) {
        for inst in &mut self.instances {
            stop(&mut inst.child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn root_hints(servers: &[NsdServer]) -> String {
    let mut out = String::new();
    for s in servers
        .iter()
        .filter(|s| s.zones.iter().any(|(z, _)| z == "."))
    {
        out.push_str(&format!(".\t3600000\tIN\tNS\t{}\n", s.host));
        for a in &s.addrs {
            let t = if a.is_ipv4() { "A" } else { "AAAA" };
            out.push_str(&format!("{}\t3600000\tIN\t{t}\t{a}\n", s.host));
        }
    }
    out
}

fn write_config(dir: &Path, server: &NsdServer) -> PathBuf {
    let d = dir.display();
    let mut conf = String::from("server:\n");
    for a in &server.addrs {
        conf.push_str(&format!("    ip-address: {a}@{}\n", server.port));
    }
    conf.push_str(&server.extra);
    conf.push_str(&format!(
        "    port: {port}\n    zonesdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    database: \"\"\n    \
         zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    \
         logfile: \"{d}/nsd.log\"\n    username: \"\"\n    chroot: \"\"\n    server-count: 1\n    \
         verbosity: 1\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n    reuseport: no\n\
         remote-control:\n    control-enable: yes\n    control-interface: \"{d}/nsd.ctl\"\n",
        port = server.port
    ));
    for (i, (name, text)) in server.zones.iter().enumerate() {
        let file = format!("zone{i}.zone");
        std::fs::write(dir.join(&file), text).unwrap();
        conf.push_str(&format!(
            "zone:\n    name: \"{name}\"\n    zonefile: \"{file}\"\n"
        ));
    }
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// Sends one UDP query and returns the parsed reply, if one came in time.
pub fn udp_query(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    wait: Duration,
) -> Option<Message> {
    let bind = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let sock = UdpSocket::bind(bind).ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).ok()?, qtype));
    sock.send_to(&m.to_vec().ok()?, server).ok()?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = sock.recv_from(&mut buf).ok()?;
        if from != server {
            continue;
        }
        let reply = Message::from_vec(&buf[..n]).ok()?;
        if reply.metadata.id == id {
            return Some(reply);
        }
    }
}

fn wait_until_answering(inst: &mut Instance) {
    let addr = SocketAddr::new(inst.server.addrs[0], inst.server.port);
    let zone = inst.server.zones[0].0.clone();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = inst.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(inst.dir.join("stderr.log")).unwrap_or_default();
            let log2 = std::fs::read_to_string(inst.dir.join("nsd.log")).unwrap_or_default();
            panic!(
                "nsd for {} exited with {status}: {log}{log2}",
                inst.server.host
            );
        }
        if let Some(r) = udp_query(addr, &zone, RecordType::SOA, Duration::from_millis(200)) {
            if r.metadata.authoritative {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nsd for {} did not answer on {addr}",
            inst.server.host
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stat(dir: &Path, key: &str) -> u64 {
    let out = Command::new("nsd-control")
        .arg("-c")
        .arg(dir.join("nsd.conf"))
        .arg("stats_noreset")
        .output()
        .expect("nsd-control");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in nsd-control output: {text}"))
}

/// SIGTERM to the NSD process group (main, server and xfrd processes),
/// then SIGKILL if it has not gone within two seconds.
fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // Children of the group may linger a moment longer.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
}
