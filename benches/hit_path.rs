//! Benchmark of the hot path: a cached answer through the whole handler
//! (parse, ACL, cache lookup, encode), with the scripted network so only
//! tern's own work is measured. `cargo bench --bench hit_path` prints
//! nanoseconds per query; under `valgrind --tool=callgrind` the instruction
//! count per query is repeatable (set `TERN_BENCH_QUERIES` low).
//! `TERN_BENCH_PATH=full` skips the packet cache (`Handler::handle_uncached`:
//! parse, record cache, encode), the path every query takes after a change
//! to the record cache.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::ManualClock;
use tern::config::Config;
use tern::engine::{Request, Resolver};
use tern::server::Handler;
use tern::testkit::{small_hints, small_net};
use tern::upstream::Protocol;

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
    let full = std::env::var("TERN_BENCH_PATH").is_ok_and(|p| p == "full");
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(small_net(Some(clock.clone())));
    let resolver = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock,
    );
    let resolver = Arc::new(resolver);
    let handler = Handler::new(resolver.clone());
    let client = SocketAddr::from(([127, 0, 0, 1], 40000));
    let names = [
        "www.example.test.",
        "mail.example.test.",
        "far.example.test.",
    ];
    let queries: Vec<Vec<u8>> = names
        .iter()
        .flat_map(|n| [query(n, RecordType::A, 1), query(n, RecordType::AAAA, 2)])
        .collect();
    // Warm the cache.
    for q in &queries {
        rt.block_on(handler.handle(q, client, Protocol::Udp));
    }
    // Every query that misses the packet cache is spawned as this future
    // (moved and allocated whole), so its size is part of the miss path.
    println!(
        "handler future: {} bytes",
        std::mem::size_of_val(&handler.handle_uncached(&[], client, Protocol::Udp))
    );
    let request = Request::new(Name::root(), RecordType::A);
    println!(
        "engine futures: resolve {} bytes, resolve_cached {} bytes",
        std::mem::size_of_val(&resolver.resolve(&request)),
        std::mem::size_of_val(&resolver.resolve_cached(&request))
    );
    let upstream_before = net.sent().len();
    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        let Some(q) = queries.get(i % queries.len()) else {
            break;
        };
        // As the UDP front end does: a packet-cache hit is answered without
        // a future; a miss runs the handler's future boxed, as a spawn would.
        let reply = if full {
            rt.block_on(Box::pin(handler.handle_uncached(q, client, Protocol::Udp)))
        } else {
            match handler.try_cached(q, client, Protocol::Udp) {
                Some(r) => Some(r),
                None => rt.block_on(Box::pin(handler.handle_uncached(q, client, Protocol::Udp))),
            }
        };
        if let Some(r) = reply {
            bytes += r.len();
        }
    }
    let elapsed = start.elapsed();
    let upstream = net.sent().len() - upstream_before;
    println!(
        "hit_path{}: {n} queries in {:.3} s: {:.0} ns/query, {:.0} queries/s on one core, {upstream} upstream queries, {bytes} bytes out",
        if full { " (full path)" } else { "" },
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / n as f64,
        n as f64 / elapsed.as_secs_f64()
    );
}
