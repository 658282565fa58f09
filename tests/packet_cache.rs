//! The packet cache seen through the handler: a reply it serves is byte for
//! byte the reply the full path would have made at that moment (ID, case,
//! flags, EDNS, TTLs counted down); it stops serving at expiry, after any
//! change to the record cache, and to clients the ACL does not allow.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::cache::Rank;
use tern::clock::{Clock, ManualClock};
use tern::config::Config;
use tern::engine::Resolver;
use tern::server::Handler;
use tern::testkit::{small_hints, small_net, TestNet};
use tern::upstream::Protocol;

type H = Handler<Arc<TestNet>, Arc<ManualClock>>;

fn setup(config: Config) -> (H, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(small_net(Some(clock.clone())));
    let resolver = Resolver::with_hints(Arc::new(config), small_hints(), net, clock.clone());
    (Handler::new(Arc::new(resolver)), clock)
}

fn query(name: &str, qtype: RecordType, id: u16, edns: Option<(u16, bool)>, cd: bool) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some((size, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn client() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5353))
}

fn queries() -> Vec<(Vec<u8>, ResponseCode)> {
    use RecordType::*;
    let e = Some((1232, false));
    vec![
        (
            query("www.example.test.", A, 1, e, false),
            ResponseCode::NoError,
        ),
        (
            query("WwW.Example.TEST.", A, 2, e, false),
            ResponseCode::NoError,
        ),
        (
            query("www.example.test.", AAAA, 3, None, false),
            ResponseCode::NoError,
        ),
        (
            query("www.example.test.", A, 4, Some((4096, true)), true),
            ResponseCode::NoError,
        ),
        (
            query("mail.example.test.", AAAA, 5, e, false),
            ResponseCode::NoError,
        ),
        (
            query("web.example.test.", A, 6, e, false),
            ResponseCode::NoError,
        ),
        (
            query("far.example.test.", A, 7, e, false),
            ResponseCode::NoError,
        ),
        (
            query("example.test.", MX, 8, e, false),
            ResponseCode::NoError,
        ),
        (
            query("nope.example.test.", A, 9, e, false),
            ResponseCode::NXDomain,
        ),
        (
            query("deeper.nope.example.test.", A, 10, None, false),
            ResponseCode::NXDomain,
        ),
    ]
}

async fn both(h: &H, q: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
    let fast = h.try_cached(q, client(), Protocol::Udp);
    let slow = h.handle_uncached(q, client(), Protocol::Udp).await.unwrap();
    (fast, slow)
}

#[tokio::test]
async fn packet_replies_equal_full_path_replies_as_time_passes() {
    let (h, clock) = setup(Config::without_validation());
    for (q, rcode) in queries() {
        // Nothing before the first query; resolved (upstream or from the
        // record cache), then once more from the record cache (stored).
        assert!(h.try_cached(&q, client(), Protocol::Udp).is_none());
        let first = h.handle(&q, client(), Protocol::Udp).await.unwrap();
        assert_eq!(
            Message::from_vec(&first).unwrap().metadata.response_code,
            rcode
        );
        h.handle(&q, client(), Protocol::Udp).await.unwrap();
    }
    // Resolving later names may have changed the cache: store again.
    for (q, _) in queries() {
        h.handle(&q, client(), Protocol::Udp).await.unwrap();
    }
    for step in [0u64, 1, 9, 50, 200] {
        clock.advance(Duration::from_secs(step));
        for (q, rcode) in queries() {
            let (fast, slow) = both(&h, &q).await;
            let fast = fast.unwrap_or_else(|| panic!("no packet hit at +{step}s"));
            assert_eq!(fast, slow, "differs at +{step}s");
            let m = Message::from_vec(&fast).unwrap();
            assert_eq!(m.metadata.id, u16::from_be_bytes([q[0], q[1]]));
            assert_eq!(m.metadata.response_code, rcode);
            assert_eq!(m.queries, Message::from_vec(&q).unwrap().queries);
        }
    }
    // 260 s in: www's 300 s TTL ends within the next 40 s; the packet must
    // stop being served by then, and the full path answers anew.
    let www = &queries()[0].0;
    let before = Message::from_vec(&h.try_cached(www, client(), Protocol::Udp).unwrap()).unwrap();
    assert_eq!(before.answers[0].ttl, 40);
    clock.advance(Duration::from_secs(40));
    assert!(h.try_cached(www, client(), Protocol::Udp).is_none());
}

#[tokio::test]
async fn any_change_to_the_record_cache_ends_packet_hits() {
    let (h, clock) = setup(Config::without_validation());
    let q = &queries()[0].0;
    h.handle(q, client(), Protocol::Udp).await.unwrap();
    h.handle(q, client(), Protocol::Udp).await.unwrap();
    assert!(h.try_cached(q, client(), Protocol::Udp).is_some());
    // Caching another name (a miss elsewhere) leaves packet hits alone.
    let other = Name::from_ascii("other-name.example.test.").unwrap();
    let unrelated = Record::from_rdata(other, 600, RData::A(A::new(192, 0, 2, 7)));
    assert!(h
        .resolver()
        .cache()
        .insert_rrset(vec![unrelated], Rank::AnswerAuth, clock.now()));
    assert!(h.try_cached(q, client(), Protocol::Udp).is_some());
    // A better-ranked answer replaces the cached one.
    let name = Name::from_ascii("www.example.test.").unwrap();
    let rec = Record::from_rdata(name, 600, RData::A(A::new(192, 0, 2, 81)));
    let cache = h.resolver().cache();
    assert!(cache.insert_rrset(vec![rec], Rank::AnswerAuth, clock.now()));
    assert!(h.try_cached(q, client(), Protocol::Udp).is_none());
    let m = Message::from_vec(&h.handle(q, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(m.answers[0].data, RData::A(A::new(192, 0, 2, 81)));
    let again = h.try_cached(q, client(), Protocol::Udp).unwrap();
    assert_eq!(Message::from_vec(&again).unwrap().answers, m.answers);
    h.resolver().cache().clear();
    assert!(h.try_cached(q, client(), Protocol::Udp).is_none());
}

#[tokio::test]
async fn limits_acl_and_non_minimal_responses() {
    let (h, _clock) = setup(Config::without_validation());
    let q = query(
        "www.example.test.",
        RecordType::A,
        1,
        Some((1232, false)),
        false,
    );
    h.handle(&q, client(), Protocol::Udp).await.unwrap();
    h.handle(&q, client(), Protocol::Udp).await.unwrap();
    assert!(h.try_cached(&q, client(), Protocol::Udp).is_some());
    assert!(h.try_cached(&q, client(), Protocol::Tcp).is_some());
    // A client the default ACL refuses gets its REFUSED from the full path.
    let outsider = SocketAddr::from(([203, 0, 113, 9], 53));
    assert!(h.try_cached(&q, outsider, Protocol::Udp).is_none());
    let m = Message::from_vec(&h.handle(&q, outsider, Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);

    let mut config = Config::without_validation();
    config.resolver.minimal_responses = false;
    let (h, _clock) = setup(config);
    h.handle(&q, client(), Protocol::Udp).await.unwrap();
    h.handle(&q, client(), Protocol::Udp).await.unwrap();
    assert!(h.packet_cache().is_none());
    assert!(h.try_cached(&q, client(), Protocol::Udp).is_none());
}

#[tokio::test]
async fn ttls_never_exceed_the_record_cache_at_fractional_times() {
    let (h, clock) = setup(Config::without_validation());
    let q = &queries()[0].0;
    clock.advance(Duration::from_millis(300));
    h.handle(q, client(), Protocol::Udp).await.unwrap();
    clock.advance(Duration::from_millis(450));
    h.handle(q, client(), Protocol::Udp).await.unwrap();
    let mut served = 0;
    for _ in 0..40 {
        clock.advance(Duration::from_millis(7_700));
        let (fast, slow) = both(&h, q).await;
        let slow = Message::from_vec(&slow).unwrap();
        let Some(fast) = fast else {
            continue;
        };
        served += 1;
        let fast = Message::from_vec(&fast).unwrap();
        for (f, s) in fast.answers.iter().zip(&slow.answers) {
            assert_eq!(f.data, s.data);
            assert!(
                f.ttl <= s.ttl && f.ttl + 1 >= s.ttl,
                "{} vs {}",
                f.ttl,
                s.ttl
            );
        }
    }
    assert!(served > 30, "only {served} packet hits");
}
