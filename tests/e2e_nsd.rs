//! End to end: the real `tern serve` binary resolving, from the root down,
//! a small tree served by NSD (Debian's, another implementation) on
//! loopback: two TLDs, glued and glueless delegations, a CNAME chain
//! across zones, NXDOMAIN, NODATA, and an answer over 512 bytes (TC=1 to a
//! client without EDNS, then whole over TCP). Every answer is checked
//! against the zone data, over UDP and TCP; repeats are answered from the
//! cache with no query reaching NSD and with TTLs gone down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nsd::{NsdServer, NsdTree};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

const ROOT: &str = "$TTL 86400
. SOA a.root. admin.root. 1 3600 600 86400 300
. NS a.root.
a.root. A 127.78.0.1
alpha. NS ns.nic.alpha.
ns.nic.alpha. A 127.78.1.1
beta. NS ns.nic.beta.
ns.nic.beta. A 127.78.1.2
";

const ALPHA: &str = "$TTL 86400
alpha. SOA ns.nic.alpha. admin.alpha. 1 3600 600 86400 300
alpha. NS ns.nic.alpha.
ns.nic.alpha. A 127.78.1.1
glued.alpha. NS ns1.glued.alpha.
ns1.glued.alpha. A 127.78.2.1
glueless.alpha. NS ns.hosting.beta.
";

const BETA: &str = "$TTL 86400
beta. SOA ns.nic.beta. admin.beta. 1 3600 600 86400 300
beta. NS ns.nic.beta.
ns.nic.beta. A 127.78.1.2
hosting.beta. NS ns.hosting.beta.
ns.hosting.beta. A 127.78.2.2
cdn.beta. NS ns.hosting.beta.
";

fn glued_zone() -> String {
    let mut z = String::from(
        "$TTL 3600
glued.alpha. SOA ns1.glued.alpha. admin.glued.alpha. 1 3600 600 86400 120
glued.alpha. NS ns1.glued.alpha.
ns1.glued.alpha. A 127.78.2.1
www.glued.alpha. 600 A 192.0.2.10
www.glued.alpha. 600 AAAA 2001:db8::10
glued.alpha. MX 10 mail.glued.alpha.
mail.glued.alpha. A 192.0.2.25
alias.glued.alpha. CNAME edge.cdn.beta.
final.glued.alpha. A 192.0.2.99
",
    );
    for i in 0..12 {
        z.push_str(&format!(
            "big.glued.alpha. TXT \"record {i:02} with enough text to make the answer longer than 512 bytes\"\n"
        ));
    }
    z
}

const HOSTING: &str = "$TTL 3600
hosting.beta. SOA ns.hosting.beta. admin.hosting.beta. 1 3600 600 86400 300
hosting.beta. NS ns.hosting.beta.
ns.hosting.beta. A 127.78.2.2
";

const GLUELESS: &str = "$TTL 3600
glueless.alpha. SOA ns.hosting.beta. admin.glueless.alpha. 1 3600 600 86400 300
glueless.alpha. NS ns.hosting.beta.
www.glueless.alpha. A 192.0.2.20
";

const CDN: &str = "$TTL 3600
cdn.beta. SOA ns.hosting.beta. admin.cdn.beta. 1 3600 600 86400 300
cdn.beta. NS ns.hosting.beta.
edge.cdn.beta. 300 CNAME final.glued.alpha.
";

/// The tree on 127.`net`.x.y, so tests running at once do not collide.
fn tree(net: u8) -> NsdTree {
    let at = |s: &str| s.replace("127.78.", &format!("127.{net}."));
    let glued = at(&glued_zone());
    let (root, alpha, beta, hosting) = (at(ROOT), at(ALPHA), at(BETA), at(HOSTING));
    NsdTree::start(&[
        NsdServer::new("a.root.", &[&at("127.78.0.1")], &[(".", &root)]),
        NsdServer::new("ns.nic.alpha.", &[&at("127.78.1.1")], &[("alpha.", &alpha)]),
        NsdServer::new("ns.nic.beta.", &[&at("127.78.1.2")], &[("beta.", &beta)]),
        NsdServer::new(
            "ns1.glued.alpha.",
            &[&at("127.78.2.1")],
            &[("glued.alpha.", &glued)],
        ),
        NsdServer::new(
            "ns.hosting.beta.",
            &[&at("127.78.2.2")],
            &[
                ("hosting.beta.", &hosting),
                ("glueless.alpha.", GLUELESS),
                ("cdn.beta.", CDN),
            ],
        ),
    ])
}

/// The real binary, killed on drop.
struct Tern {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tern(tree: &NsdTree, addr: &str) -> Tern {
    let addr: SocketAddr = addr.parse().unwrap();
    let conf = tree.dir().join("tern.toml");
    std::fs::write(
        &conf,
        format!(
            "[dnssec]\nvalidate = false\n[server]\nlisten = [\"{addr}\"]\n[resolver]\nroot_hints = \"{}\"\n[log]\nlevel = \"warn\"\n",
            tree.root_hints().display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let tern = Tern { child, addr };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if udp(addr, "alpha.", RecordType::SOA, true).is_some() {
            return tern;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tern serve did not answer on {addr}");
}

fn query(name: &str, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

fn rand_id() -> u16 {
    (Instant::now().elapsed().subsec_nanos() as u16) ^ (std::process::id() as u16)
}

fn udp(server: SocketAddr, name: &str, qtype: RecordType, edns: bool) -> Option<Message> {
    let q = query(name, qtype, edns);
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    sock.send_to(&q.to_vec().ok()?, server).ok()?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    let reply = Message::from_vec(&buf[..n]).ok()?;
    assert_eq!(reply.metadata.id, q.metadata.id);
    Some(reply)
}

fn tcp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let q = query(name, qtype, true).to_vec().unwrap();
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

fn addrs(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect();
    v.sort();
    v
}

fn check_answers(server: SocketAddr, ask: &dyn Fn(&str, RecordType) -> Message) {
    let m = ask("www.glued.alpha.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available);
    assert_eq!(addrs(&m), vec!["192.0.2.10"]);

    let m = ask("www.glued.alpha.", RecordType::AAAA);
    assert_eq!(addrs(&m), vec!["2001:db8::10"]);

    let m = ask("www.glueless.alpha.", RecordType::A);
    assert_eq!(
        addrs(&m),
        vec!["192.0.2.20"],
        "glueless delegation via {server}"
    );

    let m = ask("alias.glued.alpha.", RecordType::A);
    let chain: Vec<(String, RecordType)> = m
        .answers
        .iter()
        .map(|r| (r.name.to_ascii(), r.record_type()))
        .collect();
    assert_eq!(
        chain,
        vec![
            ("alias.glued.alpha.".to_string(), RecordType::CNAME),
            ("edge.cdn.beta.".to_string(), RecordType::CNAME),
            ("final.glued.alpha.".to_string(), RecordType::A),
        ]
    );
    assert_eq!(addrs(&m), vec!["192.0.2.99"]);

    let m = ask("glued.alpha.", RecordType::MX);
    match &m.answers[0].data {
        RData::MX(mx) => {
            assert_eq!(mx.preference, 10);
            assert_eq!(mx.exchange.to_ascii(), "mail.glued.alpha.");
        }
        other => panic!("{other:?}"),
    }

    let m = ask("nonexistent.glued.alpha.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name.to_ascii(), "glued.alpha.");

    let m = ask("www.glued.alpha.", RecordType::TXT);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "NODATA");
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    let m = ask("nowhere.gamma.", RecordType::A);
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "nonexistent TLD"
    );
}

#[test]
fn tern_serve_resolves_nsd_tree_over_udp_and_tcp() {
    let tree = tree(78);
    let tern = start_tern(&tree, "127.78.9.1:5301");
    let server = tern.addr;

    check_answers(server, &|n, t| udp(server, n, t, true).expect("UDP reply"));
    check_answers(server, &|n, t| tcp(server, n, t));

    // Over 512 bytes to a client without EDNS: TC=1, then whole over TCP.
    let m = udp(server, "big.glued.alpha.", RecordType::TXT, false).unwrap();
    assert!(m.metadata.truncation, "TC=1 expected");
    let full = tcp(server, "big.glued.alpha.", RecordType::TXT);
    assert!(!full.metadata.truncation);
    assert_eq!(full.answers.len(), 12);
    assert!(full.to_vec().unwrap().len() > 512);
    // With EDNS 1232 the same answer fits in UDP.
    let m = udp(server, "big.glued.alpha.", RecordType::TXT, true).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 12);
}

#[test]
fn repeated_queries_are_answered_from_cache() {
    let tree = tree(79);
    let tern = start_tern(&tree, "127.79.9.2:5302");
    let server = tern.addr;
    let first = udp(server, "www.glued.alpha.", RecordType::A, true).unwrap();
    let nx = udp(server, "missing.glued.alpha.", RecordType::A, true).unwrap();
    let nodata = udp(server, "www.glued.alpha.", RecordType::TXT, true).unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nodata.answers.is_empty());
    let ttl0 = first.answers[0].ttl;
    let before = tree.total_queries();
    std::thread::sleep(Duration::from_millis(2100));
    let again = udp(server, "www.glued.alpha.", RecordType::A, true).unwrap();
    let nx2 = udp(server, "missing.glued.alpha.", RecordType::A, true).unwrap();
    let nodata2 = udp(server, "www.glued.alpha.", RecordType::TXT, true).unwrap();
    assert_eq!(tree.total_queries(), before, "cache hits reached NSD");
    assert_eq!(addrs(&again), vec!["192.0.2.10"]);
    let ttl1 = again.answers[0].ttl;
    assert!(
        ttl1 < ttl0 && ttl1 + 3 >= ttl0,
        "TTL {ttl0} then {ttl1} after 2.1 s"
    );
    assert_eq!(nx2.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx2.authorities[0].ttl < nx.authorities[0].ttl);
    assert!(nodata2.answers.is_empty() && nodata2.metadata.response_code == ResponseCode::NoError);
}

#[test]
fn five_hundred_identical_client_queries_make_one_upstream_query_per_server() {
    let tree = tree(80);
    let tern = start_tern(&tree, "127.80.9.3:5303");
    let before: Vec<u64> = ["127.80.0.1", "127.80.1.1", "127.80.2.1"]
        .iter()
        .map(|a| tree.queries(a.parse().unwrap()))
        .collect();
    // start_tern's readiness probe resolved "alpha. SOA" already; ask a
    // name nothing has looked up yet.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut pending: std::collections::HashSet<u16> = (0..500u16).collect();
    let mut answered = 0;
    let mut buf = vec![0u8; 4096];
    // All 500 go out at once. A burst this size can overflow a socket
    // buffer on a busy machine (UDP may drop), so, as stub resolvers do,
    // what is unanswered after 2 s quiet is asked again (twice at most):
    // repeats must then come from the cache, not from NSD.
    for _round in 0..3 {
        for &id in &pending {
            let mut q = query("www.glued.alpha.", RecordType::A, true);
            q.metadata.id = id;
            sock.send_to(&q.to_vec().unwrap(), tern.addr).unwrap();
        }
        while !pending.is_empty() {
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                break;
            };
            let m = Message::from_vec(&buf[..n]).unwrap();
            assert_eq!(addrs(&m), vec!["192.0.2.10"]);
            if pending.remove(&m.metadata.id) {
                answered += 1;
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    assert_eq!(answered, 500);
    let after: Vec<u64> = ["127.80.0.1", "127.80.1.1", "127.80.2.1"]
        .iter()
        .map(|a| tree.queries(a.parse().unwrap()))
        .collect();
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // Root and TLD were learnt by the probe; the zone's server sees exactly
    // one query for the 500 clients.
    assert!(delta[0] <= 1 && delta[1] <= 1, "root/TLD queries {delta:?}");
    assert_eq!(delta[2], 1, "queries at the zone's server: {delta:?}");
}
