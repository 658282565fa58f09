//! The front end on real loopback sockets: FORMERR for malformed queries,
//! silence for headerless garbage and for responses, REFUSED/drop by ACL,
//! RFC 7766 TCP (pipelining, idle timeout, connection cap giving idle
//! connections' slots to new ones), graceful drain;
//! and the `tern check` / `tern serve` binaries.
//!
//! The resolver runs over a fake transport that always times out, so every
//! allowed query ends in SERVFAIL: what is tested here is the framing around
//! the engine, not resolution.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::SystemClock;
use tern::config::load_str;
use tern::engine::Resolver;
use tern::server::{self, Handler};
use tern::upstream::{Transport, UpstreamFailure, UpstreamQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Every upstream exchange times out at once.
struct Silent;

impl Transport for Silent {
    #[allow(clippy::manual_async_fn)]
    fn exchange(
        &self,
        _query: UpstreamQuery,
    ) -> impl std::future::Future<Output = tern::upstream::ReplyBytes> + Send {
        async { Err(UpstreamFailure::Timeout) }
    }
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server did not stop")
            .unwrap();
    }
}

/// Starts the server on 127.0.0.1:0 with `[server]` settings `extra`.
async fn start(extra: &str) -> Running {
    let text = format!("[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 2\n{extra}\n");
    let config = Arc::new(load_str(&text, "test.toml").unwrap());
    let sockets = server::bind(&config.server).unwrap();
    assert_eq!(sockets.udp.len(), 2);
    let addr = sockets.local_addrs()[0];
    // Both UDP sockets share the TCP listener's port (SO_REUSEPORT).
    for s in &sockets.udp {
        assert_eq!(s.local_addr().unwrap(), addr);
    }
    let resolver = Resolver::new(config, Silent, SystemClock::new());
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

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

async fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

async fn recv(sock: &UdpSocket) -> Option<Message> {
    let mut buf = vec![0u8; 65_535];
    match timeout(Duration::from_secs(3), sock.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(Message::from_vec(&buf[..n]).unwrap()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_query_gets_servfail_with_question() {
    let srv = start("").await;
    let c = client().await;
    c.connect(srv.addr).await.unwrap();
    c.send(&query(0x1111, "www.example.com.")).await.unwrap();
    let r = recv(&c).await.unwrap();
    assert_eq!(r.metadata.id, 0x1111);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(r.queries[0].name().to_ascii(), "www.example.com.");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_query_gets_formerr_with_same_id() {
    let srv = start("").await;
    let c = client().await;
    c.connect(srv.addr).await.unwrap();
    // A header announcing one question that is not there.
    c.send(&[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let r = recv(&c).await.unwrap();
    assert_eq!(r.metadata.id, 0xbeef);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert!(r.metadata.recursion_desired);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_responses_get_no_reply() {
    let srv = start("").await;
    let c = client().await;
    c.connect(srv.addr).await.unwrap();
    c.send(&[1, 2, 3, 4, 5]).await.unwrap();
    c.send(&[]).await.unwrap();
    let mut response = query(0x2222, "www.example.com.");
    response[2] |= 0x80; // QR=1
    c.send(&response).await.unwrap();
    let mut bad_response = vec![0x33, 0x33, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    c.send(&bad_response).await.unwrap();
    bad_response.clear();
    // The first reply that arrives is for the query sent last.
    c.send(&query(0x4444, "www.example.com.")).await.unwrap();
    let r = recv(&c).await.unwrap();
    assert_eq!(r.metadata.id, 0x4444);
    let mut buf = [0u8; 512];
    assert!(
        timeout(Duration::from_millis(300), c.recv(&mut buf))
            .await
            .is_err(),
        "a reply came for garbage or a response"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_refuses_and_denies() {
    // 127.0.0.1 is not allowed: refused by default (no match).
    let srv = start("access_control = [{ net = \"::1\", action = \"allow\" }]").await;
    let c = client().await;
    c.connect(srv.addr).await.unwrap();
    c.send(&query(0x5555, "www.example.com.")).await.unwrap();
    let r = recv(&c).await.unwrap();
    assert_eq!(r.metadata.id, 0x5555);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    // With EDNS the refusal says why (RFC 8914 Prohibited).
    let mut q = Message::from_vec(&query(0x5556, "www.example.com.")).unwrap();
    q.edns = Some(Edns::new());
    c.send(&q.to_vec().unwrap()).await.unwrap();
    let r = recv(&c).await.unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert_eq!(tern::wire::ede(&r).map(|e| e.0), Some(18));
    srv.shutdown().await;

    // An explicit deny drops silently.
    let srv = start(
        "access_control = [{ net = \"127.0.0.1\", action = \"deny\" }, { net = \"127.0.0.0/8\", action = \"allow\" }]",
    )
    .await;
    let denied = client().await;
    denied.connect(srv.addr).await.unwrap();
    denied
        .send(&query(0x6666, "www.example.com."))
        .await
        .unwrap();
    // From another loopback address the same server answers.
    let allowed = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    allowed.connect(srv.addr).await.unwrap();
    allowed
        .send(&query(0x7777, "www.example.com."))
        .await
        .unwrap();
    assert_eq!(recv(&allowed).await.unwrap().metadata.id, 0x7777);
    let mut buf = [0u8; 512];
    assert!(
        timeout(Duration::from_millis(300), denied.recv(&mut buf))
            .await
            .is_err(),
        "denied client got a reply"
    );
    srv.shutdown().await;
}

async fn read_frame(s: &mut TcpStream) -> Option<Message> {
    let len = s.read_u16().await.ok()?;
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.ok()?;
    Some(Message::from_vec(&buf).unwrap())
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pipelined_queries_each_get_a_reply() {
    let srv = start("").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let mut both = framed(&query(0xa001, "one.example."));
    both.extend(framed(&[9, 9, 9])); // headerless: no reply, connection stays
    both.extend(framed(&query(0xa002, "two.example.")));
    // Written in two pieces that split a length prefix.
    let cut = framed(&query(0xa001, "one.example.")).len() + 1;
    s.write_all(&both[..cut]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(&both[cut..]).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = timeout(Duration::from_secs(3), read_frame(&mut s))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        ids.push(r.metadata.id);
    }
    ids.sort();
    assert_eq!(ids, vec![0xa001, 0xa002]);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tcp_connection_is_closed() {
    let srv = start("tcp_idle_timeout_ms = 300").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("idle connection was not closed")
        .unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(n, 0);
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
    // Activity restarts the idle timer: a query at 200 ms keeps it open past 300 ms.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.write_all(&framed(&query(0xb001, "x.example.")))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await.unwrap().metadata.id, 0xb001);
    let n = timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(450));
    // Dripping a query one byte at a time is not activity: after a second
    // of drip (ten bytes, each well inside the 300 ms idle time) the
    // connection has been closed.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let bytes = framed(&query(0xb002, "x.example."));
    for b in bytes.iter().take(10) {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match timeout(Duration::from_millis(200), s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        other => panic!("dripping connection still open: {other:?}"),
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_idle_connection_gives_way_to_a_new_one() {
    let srv = start("tcp_max_connections = 1").await;
    let mut first = TcpStream::connect(srv.addr).await.unwrap();
    first
        .write_all(&framed(&query(0xc001, "a.example.")))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut first).await.unwrap().metadata.id, 0xc001);
    // The first connection is idle now: the second takes its slot.
    let mut second = TcpStream::connect(srv.addr).await.unwrap();
    second
        .write_all(&framed(&query(0xc002, "b.example.")))
        .await
        .unwrap();
    let got = timeout(Duration::from_secs(3), read_frame(&mut second))
        .await
        .expect("second connection neither answered nor closed");
    assert_eq!(got.unwrap().metadata.id, 0xc002);
    // And the first was closed for it.
    let mut buf = [0u8; 16];
    match timeout(Duration::from_secs(3), first.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        other => panic!("idle connection still open: {other:?}"),
    }
    drop(second);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listens_on_ipv4_and_ipv6() {
    let text = "[server]\nlisten = [\"127.0.0.1:0\", \"[::1]:0\"]\nudp_sockets = 1\n";
    let config = Arc::new(load_str(text, "test.toml").unwrap());
    let sockets = server::bind(&config.server).unwrap();
    let addrs = sockets.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    let resolver = Resolver::new(config, Silent, SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    let c6 = UdpSocket::bind("[::1]:0").await.unwrap();
    c6.connect(addrs[1]).await.unwrap();
    c6.send(&query(0x6001, "v6.example.")).await.unwrap();
    assert_eq!(recv(&c6).await.unwrap().metadata.id, 0x6001);
    let mut s = TcpStream::connect(addrs[1]).await.unwrap();
    s.write_all(&framed(&query(0x6002, "v6.example.")))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await.unwrap().metadata.id, 0x6002);
    let c4 = client().await;
    c4.connect(addrs[0]).await.unwrap();
    c4.send(&query(0x4001, "v4.example.")).await.unwrap();
    assert_eq!(recv(&c4).await.unwrap().metadata.id, 0x4001);
    let _ = tx.send(());
    timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_idle_connections() {
    let srv = start("tcp_idle_timeout_ms = 60000").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(&framed(&query(0xe001, "a.example.")))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await.unwrap().metadata.id, 0xe001);
    let started = Instant::now();
    srv.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    // The idle connection was closed by the shutdown.
    let mut buf = [0u8; 4];
    let n = timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
}

/// Upstream exchanges that take a while, so a query is in flight.
struct Slow;

impl Transport for Slow {
    #[allow(clippy::manual_async_fn)]
    fn exchange(
        &self,
        _query: UpstreamQuery,
    ) -> impl std::future::Future<Output = tern::upstream::ReplyBytes> + Send {
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Err(UpstreamFailure::Timeout)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_in_flight_are_answered_during_drain() {
    let text = "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_sockets = 1\n[resolver]\nquery_timeout_ms = 2000\n";
    let config = Arc::new(load_str(text, "test.toml").unwrap());
    let sockets = server::bind(&config.server).unwrap();
    let addr = sockets.local_addrs()[0];
    let resolver = Resolver::new(config, Slow, SystemClock::new());
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(handler, sockets.udp, sockets.tcp, async {
        let _ = rx.await;
    }));
    let c = client().await;
    c.connect(addr).await.unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    c.send(&query(0xf001, "slow.example.")).await.unwrap();
    s.write_all(&framed(&query(0xf002, "slow.example.")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = tx.send(());
    assert_eq!(recv(&c).await.unwrap().metadata.id, 0xf001);
    assert_eq!(read_frame(&mut s).await.unwrap().metadata.id, 0xf002);
    timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_listeners() {
    let srv = start("").await;
    let addr = srv.addr;
    srv.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

// ---- the binary ----

fn tern() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tern"))
}

fn repo(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn check_accepts_the_shipped_config() {
    let out = tern()
        .args(["check", "--config"])
        .arg(repo("config/tern.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn check_rejects_a_bad_file_with_file_line_key() {
    let dir = std::env::temp_dir().join(format!("tern-frontend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[server]\nudp_sockets = 1\n\n[cache]\nmax_ttl = 0\n").unwrap();
    let out = tern().args(["check", "--config"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:5: cache.max_ttl:", f.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A port free on 127.0.0.1 for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[test]
fn serve_answers_and_exits_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("tern-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Root hints pointing at a loopback address where nothing listens, so
    // no packet ever leaves the machine.
    std::fs::write(
        dir.join("hints.zone"),
        ". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 127.33.0.99\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = tern()
        .args(["serve", "--config"])
        .arg(repo("config/tern.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--root-hints")
        .arg(dir.join("hints.zone"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        assert!(Instant::now() < deadline, "tern serve never answered");
        sock.send_to(&query(0xd00d, "www.example.com."), ("127.0.0.1", port))
            .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            break Message::from_vec(&buf[..n]).unwrap();
        }
    };
    assert_eq!(reply.metadata.id, 0xd00d);
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("tern serve did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
