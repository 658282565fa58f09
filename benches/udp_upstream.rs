//! Benchmark of upstream UDP exchanges through the real transport
//! (`NetTransport`) against a loopback responder, with the socket pool and
//! with a fresh socket per query (`udp_socket_pool = 0`). Prints, for each,
//! wall microseconds and CPU microseconds (user + system, of the thread
//! that runs the transport, so the kernel's socket work is counted) per
//! exchange. `cargo bench --bench udp_upstream`; `TERN_BENCH_QUERIES`
//! (default 20000) and `TERN_BENCH_INFLIGHT` (default 16) set the load.
//! Bounded: the responder stops after 2 s without a query, and every
//! exchange has a 2 s timeout.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tern::upstream::net::NetTransport;
use tern::upstream::udp_pool::PoolLimits;
use tern::upstream::{Protocol, Transport, UpstreamQuery};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Echo every query back with QR=1: a reply that matches (ID, question).
fn responder() -> std::io::Result<SocketAddr> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let addr = socket.local_addr()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Some(flags) = buf.get_mut(2) {
                *flags |= 0x80;
            }
            let _ = socket.send_to(buf.get(..n).unwrap_or(&[]), from);
        }
    });
    Ok(addr)
}

/// CPU time of the calling thread (user + system).
fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn query(server: SocketAddr, i: usize) -> UpstreamQuery {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    if let Ok(name) = Name::from_ascii(format!("n{i}.example.com.")) {
        m.add_query(Query::query(name, RecordType::A));
    }
    m.metadata.id = i as u16;
    UpstreamQuery {
        server,
        protocol: Protocol::Udp,
        bytes: m.to_vec().unwrap_or_default(),
        timeout: Duration::from_secs(2),
    }
}

async fn run(transport: &NetTransport, server: SocketAddr, total: usize, inflight: usize) -> usize {
    let mut pending = FuturesUnordered::new();
    let (mut sent, mut ok) = (0, 0);
    while sent < total || !pending.is_empty() {
        while sent < total && pending.len() < inflight {
            pending.push(transport.exchange(query(server, sent)));
            sent += 1;
        }
        if let Some(result) = pending.next().await {
            ok += usize::from(result.is_ok());
        }
    }
    ok
}

fn main() -> std::io::Result<()> {
    let total = env("TERN_BENCH_QUERIES", 20_000);
    let inflight = env("TERN_BENCH_INFLIGHT", 16);
    let server = responder()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (label, limits) in [
        ("fresh socket per query", PoolLimits { idle: 0, uses: 1 }),
        ("pool (defaults)", PoolLimits::default()),
    ] {
        let transport = NetTransport::with_pool(limits);
        let (cpu0, wall0) = (thread_cpu(), Instant::now());
        let ok = runtime.block_on(run(&transport, server, total, inflight));
        let (cpu, wall) = (thread_cpu() - cpu0, wall0.elapsed());
        let per = |d: Duration| d.as_secs_f64() * 1e6 / total.max(1) as f64;
        println!(
            "{label:<24} {ok}/{total} answered, {inflight} in flight: \
             {:.1} us wall, {:.1} us CPU per exchange",
            per(wall),
            per(cpu)
        );
    }
    Ok(())
}
