//! Benchmark of the hot path: a cached answer through the whole handler
//! (parse, ACL, cache lookup, encode), with the scripted network so only
//! tern's own work is measured. `cargo bench --bench hit_path` prints
//! nanoseconds per query; under `valgrind --tool=callgrind` the instruction
//! count per query is repeatable (set `TERN_BENCH_QUERIES` low).
//! `TERN_BENCH_PATH=full` skips the packet cache (`Handler::handle_uncached`:
//! parse, record cache, encode), the path every query takes after a change
//! to the record cache.
//!
//! `TERN_BENCH_PATH=cold` resolves `TERN_BENCH_QUERIES` names never asked
//! before, each by an iterative walk (root, then `test.`, then the name's
//! own zone) against an in-process upstream (`ColdNet`) that answers from
//! wire bytes it builds itself, so nearly every instruction counted is
//! tern's. Five names share a zone, as in the comparison rig's cold load
//! (www A and AAAA, mail, api, cdn): one referral from `test.` and five
//! answers per five resolutions.

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
use tern::upstream::{Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

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
    let path = std::env::var("TERN_BENCH_PATH").unwrap_or_default();
    let full = path == "full";
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    if path == "cold" {
        cold(&rt, n);
        return;
    }
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

/// The cold path: `n` names, each resolved once through the handler as the
/// UDP front end runs a packet-cache miss.
fn cold(rt: &tokio::runtime::Runtime, n: usize) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(ColdNet::default());
    let resolver = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock,
    );
    resolver.seed_query_ids(1);
    let handler = Handler::new(Arc::new(resolver));
    let client = SocketAddr::from(([127, 0, 0, 1], 40000));
    const KINDS: [(&str, RecordType); 5] = [
        ("www", RecordType::A),
        ("www", RecordType::AAAA),
        ("mail", RecordType::A),
        ("api", RecordType::A),
        ("cdn", RecordType::A),
    ];
    // Built as wire bytes so that making them costs little of the count.
    let queries: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let (label, qtype) = KINDS.get(i % KINDS.len()).copied().unwrap_or(KINDS[0]);
            let zone = format!("d{}", i / KINDS.len());
            let mut q = Vec::with_capacity(64);
            q.extend_from_slice(&(i as u16).to_be_bytes());
            // RD; one question, one additional (OPT).
            q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
            q.extend_from_slice(&wire_name(&[label.as_bytes(), zone.as_bytes(), b"test"]));
            q.extend_from_slice(&u16::from(qtype).to_be_bytes());
            q.extend_from_slice(&[0, 1]);
            // OPT: payload 1232.
            q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
            q
        })
        .collect();
    let start = Instant::now();
    let (mut answered, mut bytes) = (0usize, 0usize);
    for q in &queries {
        let reply = match handler.try_cached(q, client, Protocol::Udp) {
            Some(r) => Some(r),
            None => rt.block_on(Box::pin(handler.handle_uncached(q, client, Protocol::Udp))),
        };
        if let Some(r) = reply {
            bytes += r.len();
            // NOERROR with one answer record.
            if matches!(r.get(3), Some(f) if f & 0x0f == 0) && r.get(6..8) == Some(&[0, 1]) {
                answered += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    let upstream = net.queries.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "hit_path (cold): {n} resolutions in {:.3} s: {:.0} ns/resolution, {answered} answered, \
         {upstream} upstream queries ({:.2} per resolution), {bytes} bytes out",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / n as f64,
        upstream as f64 / n.max(1) as f64
    );
}

const ROOT: [u8; 4] = [198, 51, 100, 1];
const TLD: [u8; 4] = [198, 51, 100, 2];
const AUTH: [u8; 4] = [198, 51, 100, 3];

/// Upstream servers built into the bench: the root (198.51.100.1, hinted
/// as `a.root.`) delegates `test.` to 198.51.100.2, which delegates every
/// `dN.test.` to `ns.dN.test.` at 198.51.100.3 (glued), which answers
/// every name below `dN.test.` with one A or AAAA record, as a wildcard
/// would. Replies are built as wire bytes (question echoed, owner names of
/// answers compressed to it), not through a DNS library.
#[derive(Default)]
struct ColdNet {
    queries: std::sync::atomic::AtomicUsize,
}

impl Transport for ColdNet {
    async fn exchange(&self, q: UpstreamQuery) -> ReplyBytes {
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let std::net::IpAddr::V4(ip) = q.server.ip() else {
            return Err(UpstreamFailure::Timeout);
        };
        cold_answer(ip.octets(), &q.bytes).ok_or(UpstreamFailure::Timeout)
    }
}

/// One record: owner (wire form), type, TTL 3600, data.
fn rr(out: &mut Vec<u8>, owner: &[u8], rtype: u16, rdata: &[u8]) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// A name in wire form from its labels.
fn wire_name(labels: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

#[inline(never)]
fn cold_answer(server: [u8; 4], query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    // The question's labels (uncompressed, as a query's are).
    let mut labels: Vec<&[u8]> = Vec::with_capacity(4);
    let mut at = 12;
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(query.get(at..at + len)?);
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let edns = query.get(10..12)? != [0, 0];
    let is = |l: &[u8], s: &str| l.eq_ignore_ascii_case(s.as_bytes());
    let (mut an, mut ns, mut ar) = (Vec::new(), Vec::new(), Vec::new());
    let counts: [u16; 3];
    let mut aa = false;
    let soa = |out: &mut Vec<u8>, zone: &[&[u8]]| {
        let mut data = wire_name(&[b"ns"]);
        data.extend_from_slice(&wire_name(&[b"h"]));
        for v in [1u32, 3600, 600, 86400, 300] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        rr(out, &wire_name(zone), 6, &data);
    };
    let tail = labels.len().checked_sub(1).and_then(|i| labels.get(i));
    match (server, labels.len()) {
        (ROOT, 0) => {
            aa = true;
            if qtype == 2 {
                rr(&mut an, &[0xc0, 12], 2, &wire_name(&[b"a", b"root"]));
                rr(&mut ar, &wire_name(&[b"a", b"root"]), 1, &ROOT);
                counts = [1, 0, 1];
            } else {
                soa(&mut ns, &[]);
                counts = [0, 1, 0];
            }
        }
        (ROOT, _) if tail.is_some_and(|t| is(t, "test")) => {
            rr(
                &mut ns,
                &wire_name(&[b"test"]),
                2,
                &wire_name(&[b"ns", b"test"]),
            );
            rr(&mut ar, &wire_name(&[b"ns", b"test"]), 1, &TLD);
            counts = [0, 1, 1];
        }
        (TLD, 1) if tail.is_some_and(|t| is(t, "test")) => {
            aa = true;
            soa(&mut ns, &[b"test"]);
            counts = [0, 1, 0];
        }
        (TLD, k) if k >= 2 && tail.is_some_and(|t| is(t, "test")) => {
            let zone = labels.get(k - 2..)?;
            let host: Vec<&[u8]> = [&b"ns"[..]]
                .into_iter()
                .chain(zone.iter().copied())
                .collect();
            rr(&mut ns, &wire_name(zone), 2, &wire_name(&host));
            rr(&mut ar, &wire_name(&host), 1, &AUTH);
            counts = [0, 1, 1];
        }
        (AUTH, k) if k >= 2 && tail.is_some_and(|t| is(t, "test")) => {
            aa = true;
            let zone = labels.get(k - 2..)?;
            match (k, qtype) {
                (2, 2) => {
                    let host: Vec<&[u8]> = [&b"ns"[..]]
                        .into_iter()
                        .chain(zone.iter().copied())
                        .collect();
                    rr(&mut an, &[0xc0, 12], 2, &wire_name(&host));
                    counts = [1, 0, 0];
                }
                (3.., 1) => {
                    rr(&mut an, &[0xc0, 12], 1, &[192, 0, 2, 1]);
                    counts = [1, 0, 0];
                }
                (3.., 28) => {
                    rr(
                        &mut an,
                        &[0xc0, 12],
                        28,
                        &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    );
                    counts = [1, 0, 0];
                }
                _ => {
                    soa(&mut ns, zone);
                    counts = [0, 1, 0];
                }
            }
        }
        _ => return None,
    }
    let mut out = Vec::with_capacity(12 + question.len() + an.len() + ns.len() + ar.len() + 11);
    out.extend_from_slice(header.get(..2)?);
    // QR, the query's opcode and RD, AA for answers; RA=0, NOERROR.
    let flags = header.get(2)?;
    out.push(0x80 | (flags & 0x79) | if aa { 0x04 } else { 0 });
    out.push(0);
    out.extend_from_slice(&[0, 1]);
    let [a, n, r] = counts;
    for c in [a, n, r + u16::from(edns)] {
        out.extend_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(question);
    out.extend_from_slice(&an);
    out.extend_from_slice(&ns);
    out.extend_from_slice(&ar);
    if edns {
        // OPT: payload 1232, no extended rcode, version 0, no flags.
        out.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    Some(out)
}
