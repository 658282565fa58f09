//! Entry points for fuzz targets, shared with `cargo test` (which replays
//! the committed corpora and regressions under `fuzz/`). Each takes
//! arbitrary bytes from "the outside" and drives a path that must never
//! panic, hang or grow without bound, and asserts what that path promises
//! beyond not crashing (an `assert!` here is the fuzz target's oracle).

mod cache;
mod dnssec;
mod engine;
mod text;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::clock::ManualClock;
use crate::config::Config;
use crate::engine::classify::{classify, follow_chain, scrub};
use crate::engine::Resolver;
use crate::server::Handler;
use crate::testkit::{small_hints, small_net, TestNet};
use crate::upstream::Protocol;

pub use cache::cache_ops;
pub use dnssec::{dnssec_check, dnssec_seed, dnssec_verify};
pub use engine::{engine_play, engine_replay, engine_seed};
pub use text::{config_text, dig_args, zone_file};

/// A fuzz entry point: arbitrary bytes in, assertions inside.
pub type Target = fn(&[u8]);

/// Every fuzz entry point by target name (the directory names under
/// `fuzz/corpus/` and `fuzz/regressions/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("message_roundtrip", message_roundtrip),
    ("client_query", client_query),
    ("upstream_reply", upstream_reply),
    ("engine_replay", engine_replay),
    ("cache_ops", cache_ops),
    ("tcp_framing", tcp_framing),
    ("zone_file", zone_file),
    ("config", config_text),
    ("dig_args", dig_args),
    ("dnssec_verify", dnssec_verify),
];

type FuzzHandler = Handler<Arc<TestNet>, Arc<ManualClock>>;

fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().ok())
        .as_ref()
}

fn handler() -> &'static FuzzHandler {
    static H: OnceLock<FuzzHandler> = OnceLock::new();
    H.get_or_init(|| {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let net = Arc::new(small_net(Some(clock.clone())));
        let resolver = Resolver::with_hints(
            Arc::new(Config::without_validation()),
            small_hints(),
            net,
            clock,
        );
        Handler::new(Arc::new(resolver))
    })
}

/// Bytes -> parse -> encode -> parse -> encode: the second encoding is the
/// first (what tern parses, it writes back the same way every time).
pub fn message_roundtrip(data: &[u8]) {
    let Ok(first) = crate::wire::parse(data) else {
        return;
    };
    let Some(bytes) = crate::wire::encode(&first) else {
        return;
    };
    // What tern writes directly is what hickory writes (a message it does
    // not write directly is hickory's anyway).
    assert_eq!(
        first.to_vec().ok().as_deref(),
        Some(bytes.as_slice()),
        "written differently from hickory"
    );
    let again = crate::wire::parse(&bytes);
    assert!(again.is_ok(), "an encoded message does not parse");
    if let Ok(again) = again {
        assert_eq!(
            crate::wire::encode(&again).as_deref(),
            Some(bytes.as_slice()),
            "encoding is not stable"
        );
        assert_eq!(again.metadata.id, first.metadata.id);
        assert_eq!(again.queries.len(), first.queries.len());
        assert_eq!(again.answers.len(), first.answers.len());
    }
}

/// A client query (any bytes) through the whole front-end handler, over
/// UDP and TCP: no reply to anything shorter than a header or with QR=1;
/// otherwise a reply with the query's ID and QR=1, within its size limit.
pub fn client_query(data: &[u8]) {
    let Some(rt) = runtime() else { return };
    let client: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5353));
    let h = handler();
    let parsed = crate::wire::parse(data).ok();
    let is_response = data.get(2).is_some_and(|b| b & 0x80 != 0);
    for proto in [Protocol::Udp, Protocol::Tcp] {
        let reply = rt.block_on(h.handle(data, client, proto));
        let Some(reply) = reply else { continue };
        assert!(data.len() >= 12, "answered a query shorter than a header");
        assert!(!is_response, "answered a message with QR=1");
        let limit = match (proto, &parsed) {
            (Protocol::Tcp, _) => 65_535,
            (Protocol::Udp, Some(q)) => {
                crate::wire::client_udp_limit(q, h.resolver().config().server.max_udp_payload)
            }
            (Protocol::Udp, None) => crate::wire::CLASSIC_UDP_SIZE,
        };
        assert!(reply.len() <= limit, "reply over its limit");
        assert_eq!(reply.get(..2), data.get(..2), "reply with another ID");
        assert!(reply.get(2).is_some_and(|b| b & 0x80 != 0), "reply QR=0");
        assert!(crate::wire::parse(&reply).is_ok(), "reply does not parse");
    }
}

/// Zone cuts an upstream reply is read as coming from.
const CUTS: &[&str] = &[".", "test.", "example.test.", "sub.example.test."];

/// Questions the reply is matched against (0 = the reply's own).
const QNAMES: &[&str] = &[
    "www.example.test.",
    "example.test.",
    "a.sub.example.test.",
    "test.",
];

/// An upstream reply, as (zone cut, question, reply bytes): the first byte
/// picks the cut, the second the question (and its type), the rest is the
/// reply. Matched against the question (ID, QR, question, as the real
/// transports do), scrubbed and classified: every record kept is of class
/// IN and inside the cut's bailiwick, glue only addresses, and what is kept
/// still encodes (it may reach a client).
pub fn upstream_reply(data: &[u8]) {
    let (Some(&cut), Some(&q), Some(bytes)) = (data.first(), data.get(1), data.get(2..)) else {
        return;
    };
    let zone = pick_name(CUTS, cut);
    let Ok(reply) = crate::wire::parse_reply(bytes) else {
        return;
    };
    let mut msg = reply.message;
    let asked = match (q & 0x0f).checked_sub(1) {
        None => msg.queries.first().map(|q| q.name().clone()),
        Some(i) => Some(pick_name(QNAMES, i)),
    };
    let Some(qname) = asked else { return };
    let qtype = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::NS,
        RecordType::CNAME,
        RecordType::MX,
        RecordType::TXT,
        RecordType::DS,
        RecordType::ANY,
    ]
    .get(usize::from(q >> 5))
    .copied()
    .unwrap_or(RecordType::A);
    let mut sent = Message::new(msg.metadata.id, MessageType::Query, OpCode::Query);
    sent.add_query(Query::query(qname.clone(), qtype));
    if !crate::engine::reply_matches(&sent, &msg) {
        return;
    }
    scrub(&mut msg, &zone, &qname, qtype, true);
    let _ = classify(&msg, &zone, &qname, qtype);
    let (chain, _) = follow_chain(&msg.answers, &qname, qtype);
    assert!(chain.len() <= msg.answers.len());
    for r in msg.answers.iter().chain(&msg.authorities) {
        assert!(zone.zone_of(&r.name), "out-of-bailiwick {} kept", r.name);
        assert_eq!(r.dns_class, DNSClass::IN, "record of another class kept");
    }
    for r in &msg.additionals {
        assert!(zone.zone_of(&r.name), "out-of-zone glue {} kept", r.name);
        assert!(
            matches!(r.record_type(), RecordType::A | RecordType::AAAA),
            "non-address glue kept"
        );
    }
    assert!(msg.to_vec().is_ok(), "scrubbed reply does not encode");
}

fn pick_name(names: &[&str], i: u8) -> Name {
    let text = names
        .get(usize::from(i) % names.len().max(1))
        .unwrap_or(&".");
    Name::from_ascii(text).unwrap_or_else(|_| Name::root())
}

/// A TCP byte stream cut at points the first byte's worth of input picks:
/// the frames read are the same as from the uncut stream, and what stays
/// buffered is never more than one unfinished frame.
pub fn tcp_framing(data: &[u8]) {
    let (Some(&ncuts), Some(rest)) = (data.first(), data.get(1..)) else {
        return;
    };
    let ncuts = usize::from(ncuts % 16);
    let (cuts, stream) = rest.split_at(ncuts.min(rest.len()));
    let mut whole = stream.to_vec();
    let mut expected = Vec::new();
    while let Some(f) = crate::server::tcp::take_frame(&mut whole) {
        expected.push(f);
    }
    let mut got = Vec::new();
    let mut buf = Vec::new();
    let mut pos = 0usize;
    let mut points: Vec<usize> = cuts.iter().map(|c| usize::from(*c) * 7).collect();
    points.push(usize::MAX);
    for step in points {
        let end = pos.saturating_add(step).min(stream.len());
        buf.extend_from_slice(stream.get(pos..end).unwrap_or(&[]));
        pos = end;
        while let Some(f) = crate::server::tcp::take_frame(&mut buf) {
            got.push(f);
        }
        assert!(buf.len() < 2 + 65_535, "more than one frame buffered");
    }
    assert_eq!(got, expected, "cut stream read differently");
    assert_eq!(buf, whole, "different remainder");
}
