//! Benchmark of cache hits through the real UDP front end: `server::run`
//! on a loopback socket (scripted network behind it), one client keeping a
//! window of queries outstanding. `cargo bench --bench udp_hit` prints
//! microseconds per query; under `valgrind --tool=callgrind` the difference
//! of two runs with different `TERN_BENCH_QUERIES` is the user-space
//! instructions per query (the kernel's share is not counted). Bounded:
//! every receive has a 2 s timeout and the run stops at the first one.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::ManualClock;
use tern::config::Config;
use tern::engine::Resolver;
use tern::server::{self, Handler};
use tern::testkit::{small_hints, small_net};

/// Queries kept outstanding.
const WINDOW: usize = 32;

fn query(name: &str, qtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    if let Ok(n) = Name::from_ascii(name) {
        m.add_query(Query::query(n, qtype));
    }
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().unwrap_or_default()
}

fn main() {
    let n: usize = std::env::var("TERN_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    let mut config = Config::without_validation();
    config.server.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    config.server.udp_sockets = 1;
    let config = Arc::new(config);
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(small_net(Some(clock.clone())));
    let resolver = Resolver::with_hints(config.clone(), small_hints(), net, clock);
    let handler = Arc::new(Handler::new(Arc::new(resolver)));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let addr = match rt.block_on(async { server::bind(&config.server) }) {
        Ok(s) => {
            let addr = s.local_addrs().first().copied();
            rt.spawn(server::run(handler, s.udp, s.tcp, async {
                let _ = stop_rx.await;
            }));
            addr
        }
        Err(e) => {
            eprintln!("bind: {e}");
            return;
        }
    };
    let Some(addr) = addr else {
        return;
    };
    let Ok(client) = UdpSocket::bind("127.0.0.1:0") else {
        return;
    };
    if client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
    {
        return;
    }
    let names = [
        "www.example.test.",
        "mail.example.test.",
        "far.example.test.",
    ];
    let queries: Vec<Vec<u8>> = names
        .iter()
        .flat_map(|n| [query(n, RecordType::A, 1), query(n, RecordType::AAAA, 2)])
        .collect();
    let mut buf = vec![0u8; 4096];
    // Warm: each question twice (resolve, then store the packet).
    for q in queries.iter().chain(queries.iter()) {
        if client.send_to(q, addr).is_err() || client.recv_from(&mut buf).is_err() {
            eprintln!("warm-up query unanswered");
            return;
        }
    }
    let start = Instant::now();
    let mut sent = 0usize;
    let mut answered = 0usize;
    while answered < n {
        while sent < n && sent - answered < WINDOW {
            let q = queries
                .get(sent % queries.len())
                .map_or(&[][..], |q| &q[..]);
            if client.send_to(q, addr).is_err() {
                break;
            }
            sent += 1;
        }
        if client.recv_from(&mut buf).is_err() {
            eprintln!("timed out after {answered} answers");
            break;
        }
        answered += 1;
    }
    let elapsed = start.elapsed();
    let _ = stop_tx.send(());
    rt.shutdown_timeout(Duration::from_secs(1));
    println!(
        "udp_hit: {answered} answers in {:.3} s: {:.2} us/query wall, {:.0} queries/s",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / answered.max(1) as f64,
        answered as f64 / elapsed.as_secs_f64()
    );
}
