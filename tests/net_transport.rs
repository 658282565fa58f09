//! The real transport on loopback sockets, its replies read as the engine
//! reads them (RFC 5452 §9.1): replies with a wrong ID or from a wrong
//! source port are dropped and the matching one is returned; a reply with
//! our ID for another question ends the exchange at once; a silent server
//! times out; TCP length framing (RFC 1035 §4.2.2) works.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::upstream::net::NetTransport;
use tern::upstream::udp_pool::PoolLimits;
use tern::upstream::{Protocol, Transport, UpstreamFailure, UpstreamQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

fn query(name: &str) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m
}

/// A reply to `q` carrying one A record `10.0.0.<marker>`.
fn reply(q: &Message, marker: u8) -> Vec<u8> {
    let mut r = q.clone();
    r.metadata.message_type = MessageType::Response;
    let name = q.queries[0].name().clone();
    r.add_answer(Record::from_rdata(
        name,
        60,
        RData::A(A(Ipv4Addr::new(10, 0, 0, marker))),
    ));
    r.to_vec().unwrap()
}

fn marker(m: &Message) -> u8 {
    match &m.answers[0].data {
        RData::A(a) => a.0.octets()[3],
        other => panic!("unexpected {other:?}"),
    }
}

/// One exchange of a query for `www.Example.com. A` through `t`, its
/// reply read as the engine reads it.
async fn exchange(
    t: &NetTransport,
    server: SocketAddr,
    protocol: Protocol,
    timeout_ms: u64,
) -> Result<Message, UpstreamFailure> {
    let sent = query("www.Example.com.");
    let q = UpstreamQuery {
        server,
        protocol,
        bytes: sent.to_vec().unwrap(),
        timeout: Duration::from_millis(timeout_ms),
    };
    let bytes = t.exchange(q).await?;
    tern::engine::read_reply(&sent, &bytes)
}

#[tokio::test]
async fn spoofed_replies_are_ignored() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let task =
        tokio::spawn(
            async move { exchange(&NetTransport::new(), addr, Protocol::Udp, 2000).await },
        );
    let mut buf = [0u8; 512];
    let (n, client) = server.recv_from(&mut buf).await.unwrap();
    let q = Message::from_vec(&buf[..n]).unwrap();
    assert_ne!(client.port(), 0);

    let mut wrong_id = q.clone();
    wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
    server.send_to(&reply(&wrong_id, 1), client).await.unwrap();
    other.send_to(&reply(&q, 2), client).await.unwrap();
    // Garbage with the right ID is not an answer either.
    let id = q.metadata.id.to_be_bytes();
    server
        .send_to(&[id[0], id[1], 0x80, 0, 0, 1, 0xff], client)
        .await
        .unwrap();
    // Case differs in the question: still ours (0x20 is case-insensitive).
    let mut right = q.clone();
    right.queries = vec![Query::query(
        Name::from_ascii("WWW.EXAMPLE.COM.").unwrap(),
        RecordType::A,
    )];
    server.send_to(&reply(&right, 5), client).await.unwrap();
    let got = task.await.unwrap().unwrap();
    assert_eq!(marker(&got), 5);
    assert_eq!(got.metadata.id, q.metadata.id);
}

#[tokio::test]
async fn the_query_goes_out_as_given_from_a_fresh_port_each_time() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut ports = std::collections::HashSet::new();
    for _ in 0..8 {
        let task =
            tokio::spawn(
                async move { exchange(&NetTransport::new(), addr, Protocol::Udp, 2000).await },
            );
        let mut buf = [0u8; 512];
        let (n, client) = server.recv_from(&mut buf).await.unwrap();
        let q = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(q.queries, query("www.Example.com.").queries);
        ids.insert(q.metadata.id);
        ports.insert(client.port());
        server.send_to(&reply(&q, 9), client).await.unwrap();
        assert_eq!(marker(&task.await.unwrap().unwrap()), 9);
    }
    assert!(ids.len() >= 7, "the engine's IDs reach the wire: {ids:?}");
    assert!(ports.len() >= 7, "{ports:?}");
}

/// One pooled exchange: the server answers with `marker`; returns the
/// client's source port.
async fn pooled_exchange(
    transport: &NetTransport,
    server: &UdpSocket,
    timeout_ms: u64,
    marker_byte: Option<u8>,
) -> (u16, Result<Message, UpstreamFailure>) {
    let addr = server.local_addr().unwrap();
    let t = transport.clone();
    let task = tokio::spawn(async move { exchange(&t, addr, Protocol::Udp, timeout_ms).await });
    let mut buf = [0u8; 512];
    let (n, client) = server.recv_from(&mut buf).await.unwrap();
    let q = Message::from_vec(&buf[..n]).unwrap();
    if let Some(m) = marker_byte {
        server.send_to(&reply(&q, m), client).await.unwrap();
    }
    (client.port(), task.await.unwrap())
}

#[tokio::test]
async fn pooled_sockets_are_reused_a_bounded_number_of_times() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let transport = NetTransport::with_pool(PoolLimits { idle: 1, uses: 3 });
    let mut ports = Vec::new();
    for i in 0..6u8 {
        let (port, got) = pooled_exchange(&transport, &server, 2000, Some(i)).await;
        assert_eq!(marker(&got.unwrap()), i);
        ports.push(port);
        let idle = transport.pool().idle(server.local_addr().unwrap());
        // After its third exchange a socket is closed, not kept.
        assert_eq!(idle, usize::from(i % 3 != 2), "after exchange {i}");
    }
    assert!(ports[0] == ports[1] && ports[1] == ports[2], "{ports:?}");
    assert!(ports[3] == ports[4] && ports[4] == ports[5], "{ports:?}");
}

#[tokio::test]
async fn a_late_duplicate_on_a_pooled_socket_is_not_the_next_answer() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let transport = NetTransport::with_pool(PoolLimits { idle: 1, uses: 10 });
    let (port, got) = pooled_exchange(&transport, &server, 2000, Some(1)).await;
    let first = got.unwrap();
    // The server repeats its answer late, after the exchange ended.
    let client = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    server
        .send_to(&first.to_vec().unwrap(), client)
        .await
        .unwrap();
    server
        .send_to(&first.to_vec().unwrap(), client)
        .await
        .unwrap();
    let (again, got) = pooled_exchange(&transport, &server, 2000, Some(2)).await;
    assert_eq!(again, port, "the socket was reused");
    assert_eq!(marker(&got.unwrap()), 2);
}

#[tokio::test]
async fn a_socket_that_timed_out_is_not_reused() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let transport = NetTransport::with_pool(PoolLimits { idle: 4, uses: 10 });
    let (_, got) = pooled_exchange(&transport, &server, 100, None).await;
    assert_eq!(got.unwrap_err(), UpstreamFailure::Timeout);
    assert_eq!(transport.pool().idle(server.local_addr().unwrap()), 0);
    let (_, got) = pooled_exchange(&transport, &server, 2000, Some(5)).await;
    assert_eq!(marker(&got.unwrap()), 5);
    assert_eq!(transport.pool().idle(server.local_addr().unwrap()), 1);
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let started = Instant::now();
    let got = exchange(&NetTransport::new(), addr, Protocol::Udp, 300).await;
    let took = started.elapsed();
    assert_eq!(got.unwrap_err(), UpstreamFailure::Timeout);
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // The query did reach the server.
    let mut buf = [0u8; 512];
    let (n, _) = server.try_recv_from(&mut buf).unwrap();
    assert!(Message::from_vec(&buf[..n]).is_ok());
}

/// The server answers our ID with `question`; what the exchange returns.
async fn reply_with_question(
    question: Option<(&str, RecordType)>,
    protocol: Protocol,
) -> Result<Message, UpstreamFailure> {
    let answer = |q: &Message| {
        let mut r = q.clone();
        r.metadata.message_type = MessageType::Response;
        r.queries = question
            .map(|(n, t)| vec![Query::query(Name::from_ascii(n).unwrap(), t)])
            .unwrap_or_default();
        r.to_vec().unwrap()
    };
    match protocol {
        Protocol::Udp => {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            let task = tokio::spawn(async move {
                exchange(&NetTransport::new(), addr, Protocol::Udp, 5000).await
            });
            let mut buf = [0u8; 512];
            let (n, client) = server.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            server.send_to(&answer(&q), client).await.unwrap();
            task.await.unwrap()
        }
        Protocol::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = tokio::spawn(async move {
                exchange(&NetTransport::new(), addr, Protocol::Tcp, 5000).await
            });
            let (mut s, _) = listener.accept().await.unwrap();
            let len = s.read_u16().await.unwrap();
            let mut buf = vec![0u8; usize::from(len)];
            s.read_exact(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf).unwrap();
            let bytes = answer(&q);
            s.write_all(&(bytes.len() as u16).to_be_bytes())
                .await
                .unwrap();
            s.write_all(&bytes).await.unwrap();
            let got = task.await.unwrap();
            drop(s);
            got
        }
    }
}

#[tokio::test]
async fn a_reply_to_another_question_ends_the_exchange_at_once() {
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        for question in [
            Some(("www.example.org.", RecordType::A)),
            Some(("www.example.com.", RecordType::AAAA)),
            None,
        ] {
            let got = reply_with_question(question, protocol).await;
            assert_eq!(
                got.unwrap_err(),
                UpstreamFailure::WrongQuestion,
                "{protocol:?} {question:?}"
            );
        }
    }
}

/// A datagram with our ID too short to be a DNS message is waited past; if
/// nothing better comes, the exchange ends as malformed, not silent.
#[tokio::test]
async fn garbage_with_our_id_ends_as_malformed() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let task =
        tokio::spawn(async move { exchange(&NetTransport::new(), addr, Protocol::Udp, 300).await });
    let mut buf = [0u8; 512];
    let (n, client) = server.recv_from(&mut buf).await.unwrap();
    let q = Message::from_vec(&buf[..n]).unwrap();
    let id = q.metadata.id.to_be_bytes();
    server
        .send_to(&[id[0], id[1], 0x80, 0, 0, 1, 0xff], client)
        .await
        .unwrap();
    assert_eq!(task.await.unwrap().unwrap_err(), UpstreamFailure::Malformed);
}

/// A whole header with our ID and QR=1 that does not parse ends the
/// exchange at once: the engine reads it as malformed.
#[tokio::test]
async fn an_unparseable_reply_with_our_id_is_malformed_at_once() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let task =
        tokio::spawn(
            async move { exchange(&NetTransport::new(), addr, Protocol::Udp, 5000).await },
        );
    let mut buf = [0u8; 512];
    let (n, client) = server.recv_from(&mut buf).await.unwrap();
    let mut bad = buf[..12].to_vec();
    bad[2] |= 0x80;
    bad.extend_from_slice(&[0x3f, 0xff, 0xff]);
    assert!(n > 12);
    server.send_to(&bad, client).await.unwrap();
    // Waited past, it would have ended as a timeout.
    assert_eq!(task.await.unwrap().unwrap_err(), UpstreamFailure::Malformed);
}

#[tokio::test]
async fn tcp_exchange_with_framing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task =
        tokio::spawn(
            async move { exchange(&NetTransport::new(), addr, Protocol::Tcp, 2000).await },
        );
    let (mut conn, _) = listener.accept().await.unwrap();
    let len = conn.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    conn.read_exact(&mut buf).await.unwrap();
    let q = Message::from_vec(&buf).unwrap();
    // A reply with the wrong ID first, then the right one, written in
    // small pieces to exercise reassembly.
    let mut wrong = q.clone();
    wrong.metadata.id = q.metadata.id.wrapping_add(7);
    for (m, mark) in [(&wrong, 1), (&q, 2)] {
        let bytes = reply(m, mark);
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        for chunk in framed.chunks(5) {
            conn.write_all(chunk).await.unwrap();
            conn.flush().await.unwrap();
        }
    }
    let got = task.await.unwrap().unwrap();
    assert_eq!(marker(&got), 2);
}

#[tokio::test]
async fn tcp_closed_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task =
        tokio::spawn(
            async move { exchange(&NetTransport::new(), addr, Protocol::Tcp, 2000).await },
        );
    let (conn, _) = listener.accept().await.unwrap();
    drop(conn);
    assert_eq!(task.await.unwrap().unwrap_err(), UpstreamFailure::Closed);
    drop(listener);
    let got = exchange(&NetTransport::new(), addr, Protocol::Tcp, 2000).await;
    assert!(
        matches!(
            got,
            Err(UpstreamFailure::Network(
                std::io::ErrorKind::ConnectionRefused
            ))
        ),
        "{got:?}"
    );
}
