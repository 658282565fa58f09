//! End to end: a `tern serve` forwarding to a second `tern serve` that
//! iterates a small NSD tree on loopback. The forwarder's answers come
//! through the second resolver (when it is stopped, uncached names fail
//! and cached ones are still answered); a forward zone whose forwarder is
//! dead, with `first = true`, falls back to iteration from the root hints;
//! a forwarder that refuses leaves a SERVFAIL whose extended DNS error
//! names it and what it answered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nsd::{NsdServer, NsdTree};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

const ROOT: &str = "$TTL 86400
. SOA a.root. admin.root. 1 3600 600 86400 300
. NS a.root.
a.root. A 127.91.0.1
alpha. NS ns.nic.alpha.
beta. NS ns.nic.alpha.
ns.nic.alpha. A 127.91.1.1
";

const ALPHA: &str = "$TTL 3600
alpha. SOA ns.nic.alpha. admin.alpha. 1 3600 600 86400 300
alpha. NS ns.nic.alpha.
ns.nic.alpha. A 127.91.1.1
www.alpha. A 192.0.2.10
other.alpha. A 192.0.2.11
";

const BETA: &str = "$TTL 3600
beta. SOA ns.nic.alpha. admin.beta. 1 3600 600 86400 300
beta. NS ns.nic.alpha.
www.beta. A 192.0.2.20
";

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

fn start_tern(tree: &NsdTree, name: &str, addr: SocketAddr, extra: &str) -> Tern {
    let conf = tree.dir().join(format!("{name}.toml"));
    std::fs::write(
        &conf,
        format!(
            "[dnssec]\nvalidate = false\n[server]\nlisten = [\"{addr}\"]\n[resolver]\nroot_hints = \"{}\"\n{extra}\n\
             [upstream]\ninitial_rto_ms = 100\nmin_rto_ms = 50\nmax_rto_ms = 200\n\
             [log]\nlevel = \"warn\"\n",
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
    let tern = Tern { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // RD=0: answered from the cache (or refused) without going out.
        if udp(addr, "alpha.", false).is_some() {
            return tern;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tern serve did not answer on {addr}");
}

fn udp(server: SocketAddr, name: &str, rd: bool) -> Option<Message> {
    udp_with(server, name, rd, false)
}

/// A query with EDNS (so a SERVFAIL carries its extended error).
fn udp_with(server: SocketAddr, name: &str, rd: bool, edns: bool) -> Option<Message> {
    let id = (Instant::now().elapsed().subsec_nanos() as u16) ^ (std::process::id() as u16);
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = rd;
    if edns {
        q.edns = Some(Edns::new());
    }
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(8))).ok()?;
    sock.send_to(&q.to_vec().ok()?, server).ok()?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    let reply = Message::from_vec(&buf[..n]).ok()?;
    assert_eq!(reply.metadata.id, id);
    Some(reply)
}

fn a_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect()
}

#[test]
fn tern_forwards_to_tern_and_falls_back_when_first() {
    let tree = NsdTree::start(&[
        NsdServer::new("a.root.", &["127.91.0.1"], &[(".", ROOT)]),
        NsdServer::new(
            "ns.nic.alpha.",
            &["127.91.1.1"],
            &[("alpha.", ALPHA), ("beta.", BETA)],
        ),
    ]);
    let back_addr: SocketAddr = "127.91.9.1:5391".parse().unwrap();
    let front_addr: SocketAddr = "127.91.9.2:5392".parse().unwrap();
    let back = start_tern(&tree, "back", back_addr, "");
    let front = start_tern(
        &tree,
        "front",
        front_addr,
        &format!(
            "[[resolver.forward_zone]]\nname = \"alpha.\"\naddrs = [\"{back_addr}\"]\n\
             [[resolver.forward_zone]]\nname = \"beta.\"\naddrs = [\"127.91.9.9:5399\"]\nfirst = true\n\
             [[resolver.forward_zone]]\nname = \"gamma.\"\naddrs = [\"127.91.1.1\"]\n"
        ),
    );

    let r = udp(front_addr, "www.alpha.", true).expect("no answer");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.recursion_available);
    assert_eq!(a_records(&r), vec!["192.0.2.10"]);
    // The back end resolved it and cached it.
    let cached = udp(back_addr, "www.alpha.", false).expect("no answer");
    assert_eq!(a_records(&cached), vec!["192.0.2.10"]);

    // Nothing listens on the beta forwarder: forward-first iterates.
    let r = udp(front_addr, "www.beta.", true).expect("no answer");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&r), vec!["192.0.2.20"]);

    // NSD serves no gamma. zone and refuses: the SERVFAIL's extended
    // error says which forwarder did what, for this question, from the
    // same event the trace shows (and again while the failure is
    // remembered).
    for _ in 0..2 {
        let r = udp_with(front_addr, "www.gamma.", true, true).expect("no answer");
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        let (_, text) = tern::wire::ede(&r).expect("an extended DNS error");
        assert!(
            text.contains("forwarder 127.91.1.1:53 for www.gamma. A: rcode REFUSED"),
            "{text}"
        );
        assert!(text.len() <= 300, "{text}");
    }

    // With the back end gone, the front end does not iterate alpha. names
    // itself: an uncached one fails, a cached one is still answered.
    drop(back);
    let r = udp(front_addr, "other.alpha.", true).expect("no answer");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    let r = udp(front_addr, "www.alpha.", true).expect("no answer");
    assert_eq!(a_records(&r), vec!["192.0.2.10"]);
    drop(front);
}
