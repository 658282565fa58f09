//! Serve-stale through the real front end on loopback sockets with the
//! system clock: an expired answer comes back with EDE 3 "Stale Answer"
//! (RFC 8914 §4.4) and the server refreshes it in the background on its
//! own runtime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::SystemClock;
use tern::config::load_str;
use tern::engine::Resolver;
use tern::server::{self, Handler};
use tern::testkit::{small_hints, small_net};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout, Instant};

fn query(id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("www.example.test.").unwrap(),
        RecordType::A,
    ));
    m.edns = Some(Edns::new());
    m.to_vec().unwrap()
}

async fn ask(sock: &UdpSocket, id: u16) -> Message {
    sock.send(&query(id)).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let n = timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .expect("no reply")
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_answer_is_served_stale_and_refreshed_in_the_background() {
    // Everything is kept one second, so it expires quickly.
    let text =
        "[dnssec]\nvalidate = false\n[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\n\
                [cache]\nmax_ttl = 1\nserve_expired = true\n\
                serve_expired_client_timeout_ms = 0\nserve_expired_reply_ttl = 7\n";
    let config = Arc::new(load_str(text, "test.toml").unwrap());
    let sockets = server::bind(&config.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let net = Arc::new(small_net(None));
    let resolver = Resolver::with_hints(config, small_hints(), net.clone(), SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(addr).await.unwrap();
    let to_zone = || net.count_to("198.51.100.3") + net.count_to("198.51.100.4");

    let fresh = ask(&sock, 1).await;
    assert_eq!(fresh.metadata.response_code, ResponseCode::NoError);
    assert_eq!(tern::wire::ede(&fresh), None);
    let asked = to_zone();
    assert!(asked >= 1);

    sleep(Duration::from_millis(1_300)).await;
    let stale = ask(&sock, 2).await;
    assert_eq!(stale.metadata.response_code, ResponseCode::NoError);
    assert_eq!(stale.answers.len(), 1, "{stale:?}");
    assert_eq!(stale.answers[0].ttl, 7);
    assert_eq!(tern::wire::ede(&stale).map(|e| e.0), Some(3));

    // The refresh runs on its own after the reply went out.
    let deadline = Instant::now() + Duration::from_secs(5);
    while to_zone() == asked && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(to_zone(), asked + 1, "{:?}", net.sent());

    let _ = tx.send(());
    timeout(Duration::from_secs(5), task)
        .await
        .expect("server did not stop")
        .unwrap();
}
