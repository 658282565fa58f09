//! Helpers for the reliability battery: scripted authoritative servers on
//! loopback (a root that answers `rel.` names itself and delegates
//! `hostile.`, and a hostile child), a `tern serve` child process with its
//! resident memory, plain UDP/TCP stub queries, and a generator of hostile
//! client packets.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::{Rng, RngCore};

/// The address everything under `rel.` resolves to.
pub const REL_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);
/// What the hostile child's names really hold.
pub const GOOD_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// What `victim.other.` really holds (answered by the root).
pub const VICTIM_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
/// The forged address hostile servers try to plant.
pub const POISON_ADDR: Ipv4Addr = Ipv4Addr::new(6, 6, 6, 6);

/// Loopback addresses of one test's network, `127.120.<net>.x`: the root
/// server at .1, the forger at .2, the hostile child at .3, tern at .10.
#[derive(Clone, Copy)]
pub struct Net(pub u8);

impl Net {
    pub fn ip(self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 120, self.0, host)
    }
    pub fn root(self) -> Ipv4Addr {
        self.ip(1)
    }
    pub fn forger(self) -> Ipv4Addr {
        self.ip(2)
    }
    pub fn child(self) -> Ipv4Addr {
        self.ip(3)
    }
    pub fn tern(self) -> SocketAddr {
        SocketAddr::from((self.ip(10), 53))
    }
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(owner: &str, ip: Ipv4Addr, ttl: u32) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(ip)))
}

fn ns(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 3600, RData::NS(NS(name(target))))
}

fn soa(owner: &str) -> Record {
    let s = SOA::new(
        name("a.root."),
        name("admin.root."),
        1,
        3600,
        600,
        86_400,
        60,
    );
    Record::from_rdata(name(owner), 60, RData::SOA(s))
}

/// A reply skeleton for `q`: same ID, question and RD, QR=1.
pub fn reply_to(q: &Message, aa: bool) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.authoritative = aa;
    m.queries = q.queries.clone();
    m
}

fn qname_of(q: &Message) -> Name {
    q.queries
        .first()
        .map(|q| q.name().clone())
        .unwrap_or_else(Name::root)
}

fn qname(q: &Message) -> String {
    q.queries
        .first()
        .map(|q| q.name().to_ascii().to_ascii_lowercase())
        .unwrap_or_default()
}

fn qtype(q: &Message) -> RecordType {
    q.queries
        .first()
        .map(|q| q.query_type())
        .unwrap_or(RecordType::A)
}

/// The root's answer: `.` NS and `a.root.`, every name under `rel.` with
/// an A record (`short.rel.` with TTL 3, others 300), `victim.other.`, a
/// referral for `hostile.`, NXDOMAIN for the rest.
pub fn root_answer(q: &Message, net: Net) -> Message {
    let n = qname(q);
    let t = qtype(q);
    let mut m = reply_to(q, true);
    let is_a = matches!(t, RecordType::A | RecordType::ANY);
    if n == "hostile." || n.ends_with(".hostile.") {
        m.metadata.authoritative = false;
        m.authorities.push(ns("hostile.", "ns.hostile."));
        m.additionals.push(a("ns.hostile.", net.child(), 3600));
    } else if n == "." && t == RecordType::NS {
        m.answers.push(ns(".", "a.root."));
        m.additionals.push(a("a.root.", net.root(), 3600));
    } else if n == "a.root." && is_a {
        m.answers.push(a("a.root.", net.root(), 3600));
    } else if n.ends_with(".rel.") && is_a {
        let ttl = if n == "short.rel." { 3 } else { 300 };
        let owner = qname_of(q);
        m.answers
            .push(Record::from_rdata(owner, ttl, RData::A(A(REL_ADDR))));
    } else if n == "victim.other." && is_a {
        m.answers.push(a(&n, VICTIM_ADDR, 300));
    } else if [".", "a.root.", "rel.", "other.", "victim.other."].contains(&n.as_str())
        || n.ends_with(".rel.")
    {
        m.authorities.push(soa("."));
    } else {
        m.metadata.response_code = ResponseCode::NXDomain;
        m.authorities.push(soa("."));
    }
    m
}

/// One datagram a scripted server sends: from its own socket or the
/// forger's, after a pause.
pub struct Out {
    pub bytes: Vec<u8>,
    pub forged: bool,
    pub delay: Duration,
}

impl Out {
    pub fn now(m: &Message) -> Out {
        Out {
            bytes: m.to_vec().unwrap(),
            forged: false,
            delay: Duration::ZERO,
        }
    }
    fn raw(bytes: Vec<u8>) -> Out {
        Out {
            bytes,
            forged: false,
            delay: Duration::ZERO,
        }
    }
    fn later(m: &Message, ms: u64) -> Out {
        Out {
            delay: Duration::from_millis(ms),
            ..Out::now(m)
        }
    }
}

/// The hostile child for `hostile.`: the first label of a name says how
/// it misbehaves before (or instead of) answering properly with
/// `GOOD_ADDR`:
/// - `garbage`: random bytes, then a header with our ID and a broken body;
/// - `wrongid`: a forged answer with another ID;
/// - `wrongq`: our ID, another question, forged data;
/// - `othersrc`: a forged answer from another address;
/// - `oob`: the answer plus out-of-bailiwick records (other zones' data,
///   a new address for the root server);
/// - `junk`: only garbage, never an answer.
pub fn hostile_answer(q: &Message, net: Net, rng: &mut impl RngCore) -> Vec<Out> {
    let n = qname(q);
    let t = qtype(q);
    let is_a = matches!(t, RecordType::A | RecordType::ANY);
    let mut good = reply_to(q, true);
    if n == "hostile." {
        match t {
            RecordType::NS => good.answers.push(ns("hostile.", "ns.hostile.")),
            _ => good.authorities.push(soa("hostile.")),
        }
        return vec![Out::now(&good)];
    }
    if n == "ns.hostile." {
        if is_a {
            good.answers.push(a(&n, net.child(), 3600));
        } else {
            good.authorities.push(soa("hostile."));
        }
        return vec![Out::now(&good)];
    }
    // The mode, less any round number after it (`wrongid3`).
    let label = n.split('.').next().unwrap_or_default();
    let mode = label
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_string();
    if is_a {
        good.answers.push(a(&n, GOOD_ADDR, 300));
    } else {
        good.authorities.push(soa("hostile."));
    }
    let mut forged = reply_to(q, true);
    forged.answers.push(a(&n, POISON_ADDR, 86_400));
    forged.answers.push(a("victim.other.", POISON_ADDR, 86_400));
    forged.additionals.push(a("a.root.", POISON_ADDR, 86_400));
    let garbage = |rng: &mut dyn RngCore| {
        let mut g = vec![0u8; 48];
        rng.fill_bytes(&mut g);
        g
    };
    match mode.as_str() {
        "garbage" => {
            let mut broken = garbage(rng);
            broken[..2].copy_from_slice(&q.metadata.id.to_be_bytes());
            broken[2] = 0x84;
            broken[4..6].copy_from_slice(&[0, 1]);
            vec![
                Out::raw(garbage(rng)),
                Out::raw(broken),
                Out::later(&good, 5),
            ]
        }
        "wrongid" => {
            forged.metadata.id = q.metadata.id ^ 0x5555;
            vec![Out::now(&forged), Out::later(&good, 5)]
        }
        "wrongq" => {
            forged.queries = vec![Query::query(name("poison.hostile."), RecordType::A)];
            forged
                .answers
                .push(a("poison.hostile.", POISON_ADDR, 86_400));
            vec![Out::now(&forged), Out::later(&good, 5)]
        }
        "othersrc" => {
            let mut o = Out::now(&forged);
            o.forged = true;
            vec![o, Out::later(&good, 20)]
        }
        "oob" => {
            good.answers.push(a("victim.other.", POISON_ADDR, 86_400));
            good.authorities.push(ns("other.", "ns.hostile."));
            good.authorities.push(ns(".", "ns.hostile."));
            good.additionals.push(a("a.root.", POISON_ADDR, 86_400));
            good.additionals
                .push(a("victim.other.", POISON_ADDR, 86_400));
            vec![Out::now(&good)]
        }
        "junk" => vec![Out::raw(garbage(rng)), Out::raw(garbage(rng))],
        _ => {
            let mut nx = reply_to(q, true);
            nx.metadata.response_code = ResponseCode::NXDomain;
            nx.authorities.push(soa("hostile."));
            vec![Out::now(&nx)]
        }
    }
}

type Script = Box<dyn FnMut(&Message) -> Vec<Out> + Send>;

/// A scripted UDP server on `<ip>:53`, stopped on drop.
pub struct Auth {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub queries: Arc<AtomicU64>,
}

impl Auth {
    /// Binds at once (a test whose server cannot bind fails here).
    pub fn start(ip: Ipv4Addr, forger: Option<Ipv4Addr>, mut script: Script) -> Auth {
        let sock = UdpSocket::bind((ip, 53)).unwrap_or_else(|e| panic!("bind {ip}:53: {e}"));
        let forge = forger.map(|f| UdpSocket::bind((f, 53)).unwrap_or_else(|e| panic!("{f}: {e}")));
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicU64::new(0));
        let (s, count) = (stop.clone(), queries.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                for out in script(&q) {
                    if !out.delay.is_zero() {
                        std::thread::sleep(out.delay);
                    }
                    let via = match (&forge, out.forged) {
                        (Some(f), true) => f,
                        _ => &sock,
                    };
                    let _ = via.send_to(&out.bytes, from);
                }
            }
        });
        Auth {
            stop,
            thread: Some(thread),
            queries,
        }
    }

    /// The root of `net`.
    pub fn root(net: Net) -> Auth {
        Auth::start(
            net.root(),
            None,
            Box::new(move |q| vec![Out::now(&root_answer(q, net))]),
        )
    }

    /// The hostile child of `net` (and its forger).
    pub fn hostile(net: Net) -> Auth {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(u64::from(net.0));
        Auth::start(
            net.child(),
            Some(net.forger()),
            Box::new(move |q| hostile_answer(q, net, &mut rng)),
        )
    }
}

impl Drop for Auth {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A per-test scratch directory, emptied first and removed when dropped
/// (declare it before the servers that use it).
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch(tag: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("tern-reliability-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A `tern serve` on `net.tern()` with the root of `net` as its hints,
/// killed on drop.
pub struct Tern {
    pub child: Child,
    pub addr: SocketAddr,
    pub config: PathBuf,
}

impl Tern {
    /// Writes the config (`server` is added to its `[server]` table,
    /// `extra` appended) and starts tern.
    pub fn start(dir: &std::path::Path, net: Net, server: &str, extra: &str) -> Tern {
        let hints = dir.join("root.hints");
        std::fs::write(
            &hints,
            format!(". 3600000 NS a.root.\na.root. 3600000 A {}\n", net.root()),
        )
        .unwrap();
        let config = dir.join("tern.toml");
        let addr = net.tern();
        std::fs::write(
            &config,
            format!(
                "[dnssec]\nvalidate = false\n\
                 [server]\nlisten = [\"{addr}\"]\nclient_timeout_ms = 3000\n{server}\n\
                 access_control = [{{ net = \"127.0.0.0/8\", action = \"allow\" }}]\n\
                 [resolver]\nroot_hints = \"{}\"\nquery_timeout_ms = 3000\n\
                 [upstream]\ninitial_rto_ms = 100\nmin_rto_ms = 50\nmax_rto_ms = 300\n\
                 [log]\nlevel = \"error\"\n{extra}\n",
                hints.display()
            ),
        )
        .unwrap();
        Tern::run(addr, config)
    }

    /// Starts tern on an existing config and waits until it answers.
    pub fn run(addr: SocketAddr, config: PathBuf) -> Tern {
        let child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut tern = Tern {
            child,
            addr,
            config,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = tern.child.try_wait() {
                panic!("tern serve exited at start: {status}");
            }
            if udp(addr, ".", RecordType::NS, false, Duration::from_millis(100)).is_some() {
                return tern;
            }
        }
        panic!("tern serve did not answer on {addr}");
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, and wait for the exit (a clean shutdown).
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A query message.
pub fn query(id: u16, qname: &str, t: RecordType, rd: bool) -> Message {
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = rd;
    q.add_query(Query::query(name(qname), t));
    q
}

/// One UDP query; the matching reply, if one came within `wait`.
pub fn udp(
    server: SocketAddr,
    qname: &str,
    t: RecordType,
    rd: bool,
    wait: Duration,
) -> Option<Message> {
    let id: u16 = rand::random();
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    sock.send_to(&query(id, qname, t, rd).to_vec().ok()?, server)
        .ok()?;
    let mut buf = vec![0u8; 65_535];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if m.metadata.id == id {
                return Some(m);
            }
        }
    }
    None
}

/// One TCP query on a fresh connection.
pub fn tcp(server: SocketAddr, qname: &str, t: RecordType, wait: Duration) -> Option<Message> {
    let id: u16 = rand::random();
    let mut s = TcpStream::connect_timeout(&server, wait).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    let q = query(id, qname, t, true).to_vec().ok()?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    let m = Message::from_vec(&buf).ok()?;
    (m.metadata.id == id).then_some(m)
}

/// The A addresses of a reply's answer section.
pub fn addresses(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Every A address anywhere in a reply.
pub fn all_addresses(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// The canary: `canary.rel.` answered with `REL_ADDR`, over UDP or TCP,
/// within a few tries.
pub fn canary(server: SocketAddr, over_tcp: bool) -> bool {
    (0..5).any(|_| {
        let wait = Duration::from_secs(2);
        let reply = if over_tcp {
            tcp(server, "canary.rel.", RecordType::A, wait)
        } else {
            udp(server, "canary.rel.", RecordType::A, true, wait)
        };
        reply.is_some_and(|m| addresses(&m) == [REL_ADDR])
    })
}

/// What kinds of hostile packets `hostile_packet` makes.
pub const KINDS: usize = 8;

/// A hostile client packet of `kind` (0..KINDS): random bytes, a
/// truncated query, huge section counts, compression loops, a response
/// (QR=1), a bad OPT record, an odd opcode/type/class, or a query with
/// flipped bytes.
pub fn hostile_packet(kind: usize, rng: &mut impl Rng) -> Vec<u8> {
    let id: u16 = rng.random();
    let mut valid = query(id, "www.rel.", RecordType::A, true);
    valid.edns = Some(Edns::new());
    let valid = valid.to_vec().unwrap();
    match kind {
        0 => {
            let mut b = vec![0u8; rng.random_range(0..700)];
            rng.fill_bytes(&mut b);
            b
        }
        1 => valid[..rng.random_range(0..valid.len())].to_vec(),
        2 => {
            let mut b = valid[..4].to_vec();
            b.extend_from_slice(&[0xff; 8]);
            let mut tail = vec![0u8; rng.random_range(0..64)];
            rng.fill_bytes(&mut tail);
            b.extend_from_slice(&tail);
            b
        }
        3 => {
            let mut b = valid[..4].to_vec();
            b.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            let loops: [&[u8]; 4] = [
                &[0xc0, 0x0c],
                &[0xc0, 0x0e, 0xc0, 0x0c],
                &[1, b'a', 0xc0, 0x0c],
                &[3, b'w', b'w', b'w', 0xc0, 0x10, 0xc0, 0x0c],
            ];
            b.extend_from_slice(loops[rng.random_range(0..loops.len())]);
            b.extend_from_slice(&[0, 1, 0, 1]);
            b
        }
        4 => {
            let q = query(id, "www.rel.", RecordType::A, true);
            let mut r = reply_to(&q, true);
            r.answers.push(a("www.rel.", POISON_ADDR, 300));
            r.to_vec().unwrap()
        }
        5 => {
            // The query without its OPT, then a broken one.
            let mut b = query(id, "www.rel.", RecordType::A, true).to_vec().unwrap();
            let opts: [&[u8]; 5] = [
                // RDLENGTH past the end.
                &[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff],
                // Two OPT records.
                &[
                    0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
                ],
                // OPT not owned by the root.
                &[1, b'x', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0],
                // EDNS version 7, DO set.
                &[0, 0, 41, 0x10, 0, 0, 7, 0x80, 0, 0, 0],
                // An option longer than the RDATA.
                &[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 40],
            ];
            let pick = rng.random_range(0..opts.len());
            let count: u16 = if pick == 1 { 2 } else { 1 };
            b[10..12].copy_from_slice(&count.to_be_bytes());
            b.extend_from_slice(opts[pick]);
            b
        }
        6 => {
            let types = [
                RecordType::AXFR,
                RecordType::IXFR,
                RecordType::ANY,
                RecordType::OPT,
                RecordType::RRSIG,
                RecordType::Unknown(0),
                RecordType::Unknown(65_535),
            ];
            let t = types[rng.random_range(0..types.len())];
            let mut b = query(id, "www.rel.", t, true).to_vec().unwrap();
            b[2] = (rng.random_range(0u8..16) << 3) | 1;
            let classes: [u16; 5] = [1, 3, 254, 255, 0xff00];
            let class = classes[rng.random_range(0..classes.len())];
            let at = b.len() - 2;
            b[at..].copy_from_slice(&class.to_be_bytes());
            b
        }
        _ => {
            let mut b = valid;
            for _ in 0..rng.random_range(1..5) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            b
        }
    }
}

/// Whether a reply a hostile packet got is acceptable: it parses as a
/// response (QR=1).
pub fn reply_ok(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && bytes[2] & 0x80 != 0
}

/// `TERN_RELIABILITY_LONG=1`: the long variants.
pub fn long() -> bool {
    std::env::var("TERN_RELIABILITY_LONG").is_ok_and(|v| v == "1")
}
