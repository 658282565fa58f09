//! The front end around the real engine on a scripted network: answers
//! reach clients over UDP and TCP, a UDP answer larger than 512 bytes to a
//! client without EDNS comes back with TC=1 and in full over TCP (RFC 1035
//! §4.2.1, RFC 7766 §5), a client's EDNS size is honoured (RFC 6891
//! §6.2.5), and a repeated query is answered from cache with no upstream
//! query.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::SystemClock;
use tern::config::load_str;
use tern::engine::Resolver;
use tern::server::{self, Handler};
use tern::testkit::{small_hints, Server, TestNet, Zone};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::time::timeout;

fn root_zone() -> Zone {
    let mut text = String::from(
        "@ SOA a.root. h.root. 1 3600 600 86400 300\n@ NS a.root.\na.root. A 198.51.100.1\n\
         small TXT \"hello\"\n",
    );
    for i in 0..9 {
        text.push_str(&format!("big TXT \"{i:02}-{}\"\n", "x".repeat(90)));
    }
    Zone::parse(".", &text).unwrap()
}

async fn start() -> (SocketAddr, Arc<TestNet>, oneshot::Sender<()>) {
    let config = Arc::new(
        load_str(
            "[dnssec]\nvalidate = false\n[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\n",
            "t.toml",
        )
        .unwrap(),
    );
    let net = Arc::new(TestNet::new(None));
    net.add(
        "198.51.100.1",
        Server {
            zones: vec![root_zone()],
            ..Server::default()
        },
    );
    let sockets = server::bind(&config.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let resolver = Resolver::with_hints(config, small_hints(), net.clone(), SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    (addr, net, tx)
}

fn query(id: u16, name: &str, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii(name).unwrap(),
        RecordType::TXT,
    ));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.edns = Some(e);
    }
    m.to_vec().unwrap()
}

async fn udp(addr: SocketAddr, bytes: &[u8]) -> (usize, Message) {
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(addr).await.unwrap();
    c.send(bytes).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let n = timeout(Duration::from_secs(5), c.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (n, Message::from_vec(&buf[..n]).unwrap())
}

async fn tcp(addr: SocketAddr, bytes: &[u8]) -> Message {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.unwrap();
    let len = timeout(Duration::from_secs(5), s.read_u16())
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answer_truncates_for_plain_udp_and_arrives_over_tcp() {
    let (addr, _net, _stop) = start().await;
    let (n, r) = udp(addr, &query(1, "big.", None)).await;
    assert!(n <= 512, "{n} bytes without EDNS");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.truncation);
    assert!(r.answers.is_empty());
    assert_eq!(r.metadata.id, 1);

    let r = tcp(addr, &query(2, "big.", None)).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 9);
    assert_eq!(r.metadata.id, 2);

    // A client announcing 4096 bytes gets it whole over UDP (within our
    // max_udp_payload of 1232).
    let (n, r) = udp(addr, &query(3, "big.", Some(4096))).await;
    assert!(n > 512 && n <= 1232, "{n}");
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_query_is_answered_from_cache() {
    let (addr, net, _stop) = start().await;
    let (_, first) = udp(addr, &query(10, "small.", Some(1232))).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NoError);
    assert_eq!(first.answers.len(), 1);
    assert!(first.metadata.recursion_available);
    assert!(!first.metadata.authoritative);
    let upstream = net.sent().len();
    assert!(upstream >= 1);
    let (_, again) = udp(addr, &query(11, "small.", Some(1232))).await;
    assert_eq!(again.answers.len(), 1);
    assert_eq!(again.answers[0].data, first.answers[0].data);
    assert!(again.answers[0].ttl <= first.answers[0].ttl);
    let again = tcp(addr, &query(12, "small.", None)).await;
    assert_eq!(again.answers.len(), 1);
    assert_eq!(net.sent().len(), upstream, "cache hit went upstream");
}
