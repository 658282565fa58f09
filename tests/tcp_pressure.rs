//! Client TCP under pressure, on real loopback sockets: while twice
//! `tcp_max_connections` idle connections are held open (and reopened as
//! soon as they are closed), a client asking 100 queries over fresh TCP
//! connections is still answered (RFC 7766 §6.2.3: idle connections give
//! way); a connection with a query pending keeps its slot; the
//! per-address limit refuses one address's extra connections at once; and
//! a client whose resolution hangs is answered SERVFAIL at its deadline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::config::load_str;
use tern::server::{self, Handler};
use tern::testkit::root_only_resolver;
use tern::upstream::{Transport, UpstreamFailure, UpstreamQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;

/// The connection cap the tests run with.
const CAP: usize = 64;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = timeout(Duration::from_secs(15), &mut self.task).await;
    }
}

fn config(extra: &str) -> Arc<tern::config::Config> {
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\ntcp_max_connections = {CAP}\n{extra}\n\
         [dnssec]\nvalidate = false\n"
    );
    Arc::new(load_str(&text, "test.toml").unwrap())
}

/// A server whose resolver answers `www.` from a scripted root.
async fn start(extra: &str) -> Running {
    let cfg = config(extra);
    let sockets = server::bind(&cfg.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let (resolver, _clock) = root_only_resolver((*cfg).clone());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

fn framed_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = m.to_vec().unwrap();
    let mut v = (bytes.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&bytes);
    v
}

async fn read_frame(s: &mut TcpStream) -> Option<Message> {
    let len = s.read_u16().await.ok()?;
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.ok()?;
    Message::from_vec(&buf).ok()
}

/// One query over a fresh connection; the reply if one came within 2 s.
async fn ask_fresh(addr: SocketAddr, id: u16) -> Option<Message> {
    let mut s = timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    s.write_all(&framed_query(id, "www.")).await.ok()?;
    timeout(Duration::from_secs(2), read_frame(&mut s))
        .await
        .ok()
        .flatten()
}

/// Holds a connection open, sending nothing, and opens a new one as soon
/// as the server closes it, until `stop`.
async fn hold_idle(addr: SocketAddr, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Until the server closes it (or 200 ms pass: check `stop`).
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legitimate_clients_are_served_through_an_idle_connection_flood() {
    let srv = start("").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..2 * CAP {
        flood.spawn(hold_idle(srv.addr, stop.clone()));
    }
    // Let the flood fill every slot.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut answered = 0;
    for i in 0..100u16 {
        if let Some(r) = ask_fresh(srv.addr, 0x1000 + i).await {
            assert_eq!(r.metadata.id, 0x1000 + i);
            assert_eq!(r.metadata.response_code, ResponseCode::NoError);
            answered += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    while flood.join_next().await.is_some() {}
    assert!(answered >= 95, "only {answered} of 100 answered");
    srv.shutdown().await;
}

/// Every upstream exchange hangs (a minute): queries stay pending.
struct Hang;

impl Transport for Hang {
    #[allow(clippy::manual_async_fn)]
    fn exchange(
        &self,
        _query: UpstreamQuery,
    ) -> impl std::future::Future<Output = tern::upstream::ReplyBytes> + Send {
        async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Err(UpstreamFailure::Timeout)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_a_pending_query_keeps_its_slot() {
    let cfg = Arc::new(
        load_str(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\ntcp_max_connections = 1\n\
             client_timeout_ms = 0\n",
            "test.toml",
        )
        .unwrap(),
    );
    let sockets = server::bind(&cfg.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let resolver = tern::engine::Resolver::new(cfg, Hang, tern::clock::SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(&framed_query(0x2001, "pending.example."))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let _ = second.write_all(&framed_query(0x2002, "b.example.")).await;
    let got = timeout(Duration::from_secs(3), read_frame(&mut second))
        .await
        .expect("second connection neither answered nor closed");
    assert!(got.is_none(), "a busy connection lost its slot");
    // The busy connection is still open.
    let mut buf = [0u8; 4];
    assert!(
        timeout(Duration::from_millis(300), busy.read(&mut buf))
            .await
            .is_err(),
        "busy connection closed"
    );
    drop(busy);
    let _ = tx.send(());
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_at_most_its_share_of_connections() {
    let srv = start("tcp_max_connections_per_client = 2").await;
    let from = |ip: &str| {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        s
    };
    // Two from 127.0.0.1 are served and kept; the third is closed at once.
    let mut held = Vec::new();
    for id in [0x3001u16, 0x3002] {
        let mut c = from("127.0.0.1").connect(srv.addr).await.unwrap();
        c.write_all(&framed_query(id, "www.")).await.unwrap();
        assert_eq!(read_frame(&mut c).await.unwrap().metadata.id, id);
        held.push(c);
    }
    let mut third = from("127.0.0.1").connect(srv.addr).await.unwrap();
    let _ = third.write_all(&framed_query(0x3003, "www.")).await;
    let got = timeout(Duration::from_secs(3), read_frame(&mut third))
        .await
        .expect("third connection neither answered nor closed");
    assert!(
        got.is_none(),
        "a third connection from one address was served"
    );
    // Another address is served meanwhile.
    let mut other = from("127.0.0.2").connect(srv.addr).await.unwrap();
    other
        .write_all(&framed_query(0x3004, "www."))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut other).await.unwrap().metadata.id, 0x3004);
    drop(held);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_resolution_is_answered_at_the_client_deadline() {
    let cfg = Arc::new(
        load_str(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\nclient_timeout_ms = 300\n\
             [dnssec]\nvalidate = false\n",
            "test.toml",
        )
        .unwrap(),
    );
    let sockets = server::bind(&cfg.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let deadline = cfg.server.client_timeout;
    let resolver = tern::engine::Resolver::new(cfg, Hang, tern::clock::SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)).with_client_deadline(deadline));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&framed_query(0x4001, "slow.example."))
        .await
        .unwrap();
    // Every upstream exchange hangs for a minute; the reply comes anyway.
    let r = timeout(Duration::from_secs(5), read_frame(&mut s))
        .await
        .expect("no reply by the client deadline")
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    drop(s);
    let _ = tx.send(());
    task.abort();
}
