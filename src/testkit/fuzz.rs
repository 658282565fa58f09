//! Entry points for fuzz targets, shared with `cargo test` (which replays
//! the committed corpora under `fuzz/corpus/`). Each takes arbitrary bytes
//! from "the network" and drives a path that must never panic, hang or
//! grow without bound.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_proto::rr::{Name, RecordType};

use crate::clock::ManualClock;
use crate::config::Config;
use crate::engine::classify::{classify, follow_chain, scrub};
use crate::engine::Resolver;
use crate::server::Handler;
use crate::testkit::{small_hints, small_net, TestNet};
use crate::upstream::Protocol;

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

/// A client query (any bytes) through the whole front-end handler, over
/// UDP and TCP: the reply, if any, must parse and fit its limit.
pub fn client_query(data: &[u8]) {
    let Some(rt) = runtime() else { return };
    let client: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5353));
    for proto in [Protocol::Udp, Protocol::Tcp] {
        if let Some(reply) = rt.block_on(handler().handle(data, client, proto)) {
            let limit = if proto == Protocol::Udp { 4096 } else { 65_535 };
            assert!(reply.len() <= limit, "reply over its limit");
            assert!(crate::wire::parse(&reply).is_ok(), "reply does not parse");
        }
    }
}

/// An upstream reply (any bytes) through scrubbing, classification and
/// chain following, as if a server of `example.test.` sent it.
pub fn upstream_reply(data: &[u8]) {
    // As the transports read it: records that do not decode dropped or kept
    // opaque. What they keep must encode again (it may reach a client).
    let Ok(reply) = crate::wire::parse_reply(data) else {
        return;
    };
    let mut msg = reply.message;
    let _ = msg.to_vec();
    let zone = Name::from_ascii("example.test.").unwrap_or_else(|_| Name::root());
    let qname = msg
        .queries
        .first()
        .map(|q| q.name().clone())
        .unwrap_or_else(|| zone.clone());
    let qtype = msg
        .queries
        .first()
        .map(|q| q.query_type())
        .unwrap_or(RecordType::A);
    scrub(&mut msg, &zone, &qname, qtype, true);
    let _ = classify(&msg, &zone, &qname, qtype);
    let (chain, _) = follow_chain(&msg.answers, &qname, qtype);
    assert!(chain.len() <= msg.answers.len());
    assert!(
        msg.additionals.iter().all(|r| zone.zone_of(&r.name)),
        "out-of-zone glue kept"
    );
}

/// Config text (any bytes as UTF-8) through the loader.
pub fn config_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::load::load_str(text, "fuzz.toml");
    }
}
