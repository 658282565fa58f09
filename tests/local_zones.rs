//! End to end: `tern serve` on a loopback address answers local data,
//! local-zone blocks and the built-in RFC 6303 zones itself, with real
//! sockets and nothing sent upstream (the root hints point at a loopback
//! address where nothing listens); and through `Handler::handle` on a
//! scripted network: deny zones, local CNAMEs followed upstream, and
//! per-client overrides (which turn the packet cache off).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// This test's own loopback address (no other test uses 127.77.0.0/16).
const ADDR: &str = "127.77.0.1";

/// A port free on `ADDR` for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind((ADDR, 0)).unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind((ADDR, port)).is_ok() {
            return port;
        }
    }
}

fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

/// Kills the server when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asks until the server answers (it may still be starting).
fn ask(sock: &UdpSocket, port: u16, id: u16, name: &str, qtype: RecordType) -> Message {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "tern serve never answered {name}"
        );
        sock.send_to(&query(id, name, qtype), (ADDR, port)).unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            let m = Message::from_vec(&buf[..n]).unwrap();
            if m.metadata.id == id {
                return m;
            }
        }
    }
}

#[test]
fn serve_answers_local_zones_over_udp() {
    let dir = std::env::temp_dir().join(format!("tern-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hints.zone"),
        ". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 127.77.0.99\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tern.toml"),
        "[dnssec]\nvalidate = false\n[resolver]\n\
         local_data = [\"lan. SOA ns.lan. admin.lan. 1 3600 600 86400 300\", \
                       \"printer.lan. 120 A 192.168.1.9\"]\n\
         [[resolver.local_zone]]\nname = \"lan.\"\ntype = \"static\"\n\
         [[resolver.local_zone]]\nname = \"tracker.example.\"\ntype = \"refuse\"\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(dir.join("tern.toml"))
        .args(["--listen", &format!("{ADDR}:{port}")])
        .arg("--root-hints")
        .arg(dir.join("hints.zone"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _serve = Serve(child);
    let sock = UdpSocket::bind((ADDR, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let m = ask(&sock, port, 1, "printer.lan.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative, "local data is answered with AA=1");
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].ttl, 120);
    assert_eq!(
        m.answers[0].data,
        RData::A("192.168.1.9".parse::<std::net::Ipv4Addr>().unwrap().into())
    );

    let m = ask(&sock, port, 2, "fax.lan.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1, "the zone's SOA: {m:?}");
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    let m = ask(&sock, port, 3, "www.tracker.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);

    // Built in: localhost (RFC 6761 §6.3) and private reverse zones (RFC 6303).
    let m = ask(&sock, port, 4, "localhost.", RecordType::AAAA);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    let m = ask(&sock, port, 5, "9.1.168.192.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- through `Handler::handle` on a scripted network ----

mod handler {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RecordType;
    use tern::clock::ManualClock;
    use tern::config::load_str;
    use tern::server::Handler;
    use tern::testkit::TestNet;
    use tern::upstream::Protocol;

    fn handler(resolver_toml: &str) -> Handler<Arc<TestNet>, Arc<ManualClock>> {
        let config = load_str(
            &format!("[dnssec]\nvalidate = false\n[resolver]\n{resolver_toml}\n"),
            "t.toml",
        )
        .unwrap();
        let (resolver, _) = tern::testkit::root_only_resolver(config);
        Handler::new(Arc::new(resolver))
    }

    fn client(ip: &str) -> SocketAddr {
        format!("{ip}:5353").parse().unwrap()
    }

    async fn ask(
        h: &Handler<Arc<TestNet>, Arc<ManualClock>>,
        name: &str,
        from: &str,
    ) -> Option<Message> {
        let q = super::query(9, name, RecordType::A);
        h.handle(&q, client(from), Protocol::Udp)
            .await
            .map(|b| Message::from_vec(&b).unwrap())
    }

    #[tokio::test]
    async fn deny_drops_and_a_local_cname_is_followed() {
        let h = handler(
            "local_data = [\"alias.lan. CNAME www.\"]\n\
             [[resolver.local_zone]]\nname = \"ads.\"\ntype = \"deny\"\n",
        );
        assert!(
            ask(&h, "x.ads.", "127.0.0.1").await.is_none(),
            "deny: no reply"
        );
        let m = ask(&h, "alias.lan.", "127.0.0.1").await.unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 2, "{m:?}");
        assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(m.answers[1].record_type(), RecordType::A);
        // RD=0: the CNAME, and the target only from the cache.
        let h = handler("local_data = [\"alias.lan. CNAME www.\"]\n");
        let mut q = Message::from_vec(&super::query(3, "alias.lan.", RecordType::A)).unwrap();
        q.metadata.recursion_desired = false;
        let m = h
            .handle(&q.to_vec().unwrap(), client("127.0.0.1"), Protocol::Udp)
            .await
            .map(|b| Message::from_vec(&b).unwrap())
            .unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers.len(), 1, "{m:?}");
    }

    #[tokio::test]
    async fn overrides_are_per_client_and_bypass_the_packet_cache() {
        let zone = "[[resolver.local_zone]]\nname = \"www.\"\ntype = \"transparent\"\n";
        assert!(handler(zone).packet_cache().is_some());
        let h = handler(&format!(
            "{zone}overrides = [{{ net = \"10.9.0.0/16\", type = \"refuse\" }}]\n"
        ));
        assert!(h.packet_cache().is_none());
        let m = ask(&h, "www.", "127.0.0.1").await.unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1);
        // Allowed by the default access control, refused by the override.
        let m = ask(&h, "www.", "10.9.1.1").await.unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.metadata.authoritative);
        let m = ask(&h, "www.", "127.0.0.1").await.unwrap();
        assert_eq!(m.answers.len(), 1, "the other client still gets the answer");
    }
}
