//! QTYPE ANY (RFC 8482) through `tern serve` when the authority is NSD
//! with `refuse-any: yes`, which answers a UDP ANY query with a bare TC=1
//! header (no question): the resolver takes that as "ask over TCP", as
//! Unbound does, and answers promptly with what the TCP reply holds,
//! instead of dropping the header and timing out. NSD on 127.181.0.1 (root)
//! and 127.181.0.2 (anyzone.), tern on 127.181.0.3.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nsd::{udp_query, NsdServer, NsdTree};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::zone::answer::make_query;

const ROOT: &str = "$TTL 86400
. IN SOA a.root.anyzone. hostmaster.anyzone. 1 1800 900 604800 86400
. IN NS a.root.anyzone.
anyzone. IN NS ns.anyzone.
a.root.anyzone. IN A 127.181.0.1
ns.anyzone. IN A 127.181.0.2
";

const ZONE: &str = "$TTL 300
anyzone. IN SOA ns.anyzone. hostmaster.anyzone. 1 1800 900 604800 60
anyzone. IN NS ns.anyzone.
ns.anyzone. IN A 127.181.0.2
www.anyzone. IN A 192.0.2.1
www.anyzone. IN AAAA 2001:db8::1
www.anyzone. IN TXT \"hello\"
";

/// One recursive query (RD=1) over UDP; None on timeout.
fn ask(server: SocketAddr, name: &str, qtype: RecordType) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut q = make_query(0x7a11, Name::from_ascii(name).unwrap(), qtype, true);
    q.metadata.recursion_desired = true;
    s.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

struct Tern(Child);

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn any_is_answered_when_the_authority_refuses_it_over_udp() {
    let tree = NsdTree::start(&[
        NsdServer::new("a.root.anyzone.", &["127.181.0.1"], &[(".", ROOT)]),
        NsdServer::new("ns.anyzone.", &["127.181.0.2"], &[("anyzone.", ZONE)])
            .with_config("refuse-any: yes"),
    ]);
    // NSD itself: a bare TC=1 header over UDP.
    let direct = udp_query(
        "127.181.0.2:53".parse().unwrap(),
        "www.anyzone.",
        RecordType::ANY,
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(
        direct.metadata.truncation && direct.queries.is_empty(),
        "{direct:?}"
    );

    let addr: SocketAddr = "127.181.0.3:53".parse().unwrap();
    let conf = tree.dir().join("tern.toml");
    std::fs::write(
        &conf,
        format!(
            "[dnssec]\nvalidate = false\n[server]\nlisten = [\"{addr}\"]\n[resolver]\nroot_hints = \"{}\"\n[log]\nlevel = \"warn\"\n",
            tree.root_hints().display()
        ),
    )
    .unwrap();
    let _tern = Tern(
        Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--config"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while udp_query(
        addr,
        "anyzone.",
        RecordType::SOA,
        Duration::from_millis(300),
    )
    .is_none()
    {
        assert!(Instant::now() < deadline, "tern serve did not answer");
    }
    // Within 2 s: far below the upstream timeouts a dropped header costs.
    let r = ask(addr, "www.anyzone.", RecordType::ANY).expect("no reply to ANY");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
    assert!(!r.answers.is_empty(), "{r:?}");
    assert!(r
        .answers
        .iter()
        .all(|a| a.name.to_ascii() == "www.anyzone."));
    let nx = ask(addr, "nope.anyzone.", RecordType::ANY).expect("no reply to ANY");
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain, "{nx:?}");
}
