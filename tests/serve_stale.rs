//! Serve-stale (RFC 8767) and prefetch in the engine, on the test network
//! with a manual clock: the client timeout as a deadline on the engine's
//! clock, the refresh that bypasses the cache, merged refreshes, the
//! five-second hold after a failure, and the prefetch point.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use tern::clock::{Clock, ManualClock};
use tern::config::Config;
use tern::engine::{Failure, Request, Resolution, Resolver};
use tern::testkit::{Fault, TestNet};

type R = Resolver<Arc<TestNet>, Arc<ManualClock>>;

fn setup(config: Config) -> (R, Arc<TestNet>, Arc<ManualClock>) {
    tern::testkit::small_resolver(config)
}

fn stale_config(client_timeout_ms: u64) -> Config {
    let mut c = Config::without_validation();
    c.cache.serve_expired = true;
    c.cache.serve_expired_reply_ttl = 30;
    c.cache.serve_expired_client_timeout = Duration::from_millis(client_timeout_ms);
    c
}

fn www() -> Request {
    Request::new(
        Name::from_ascii("www.example.test.").unwrap(),
        RecordType::A,
    )
}

fn to_example(net: &TestNet) -> usize {
    net.count_to("198.51.100.3") + net.count_to("198.51.100.4")
}

fn silence_example(net: &TestNet, fault: Fault) {
    net.set_fault("198.51.100.3", fault.clone());
    net.set_fault("198.51.100.4", fault);
}

fn ttl(res: &Resolution) -> u32 {
    res.answers[0].ttl
}

#[tokio::test]
async fn client_timeout_is_a_deadline_on_the_engine_clock() {
    let (r, net, clock) = setup(stale_config(1_000));
    assert_eq!(ttl(&r.resolve(&www()).await), 300);
    clock.advance(Duration::from_secs(301));
    silence_example(&net, Fault::Silent);
    let before = clock.now();
    let res = r.resolve(&www()).await;
    let waited = clock.now() - before;
    assert_eq!(res.rcode, ResponseCode::NoError, "{:?}", res.trace);
    assert!(res.stale && res.failure.is_none());
    assert_eq!(ttl(&res), 30);
    // Out of time rather than failed: the front end keeps trying.
    assert!(res.refresh);
    // The silent servers were waited for up to the client timeout, no more.
    assert!(waited >= Duration::from_millis(1_000), "{waited:?}");
    assert!(waited < Duration::from_millis(1_100), "{waited:?}");
}

#[tokio::test]
async fn without_serve_expired_expired_data_is_not_used() {
    let mut c = stale_config(0);
    c.cache.serve_expired = false;
    let (r, net, clock) = setup(c);
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(301));
    silence_example(&net, Fault::ServFail);
    let res = r.resolve(&www()).await;
    assert_eq!(res.rcode, ResponseCode::ServFail);
    assert!(!res.stale);
}

#[tokio::test]
async fn stale_at_once_then_refresh_replaces_it() {
    let (r, net, clock) = setup(stale_config(0));
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(400));
    net.clear_log();
    let res = r.resolve(&www()).await;
    assert!(res.stale && res.refresh);
    assert_eq!(ttl(&res), 30);
    // Answered without asking anyone.
    assert_eq!(to_example(&net), 0);
    let fresh = r.resolve_refresh(&www()).await;
    assert_eq!(ttl(&fresh), 300);
    let again = r.resolve(&www()).await;
    assert!(!again.stale && !again.refresh);
    assert_eq!(ttl(&again), 300);
}

#[tokio::test]
async fn a_failed_refresh_holds_off_retries_for_five_seconds() {
    let (r, net, clock) = setup(stale_config(0));
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(400));
    silence_example(&net, Fault::ServFail);
    let failed = r.resolve_refresh(&www()).await;
    assert_eq!(failed.rcode, ResponseCode::ServFail);
    silence_example(&net, Fault::None);
    net.clear_log();
    let held = r.resolve(&www()).await;
    assert!(
        held.stale && !held.refresh,
        "no refresh while the failure is recent"
    );
    assert_eq!(to_example(&net), 0);
    clock.advance(Duration::from_secs(5));
    let later = r.resolve(&www()).await;
    assert!(later.stale && later.refresh);
}

#[tokio::test]
async fn without_stale_data_a_recent_failure_is_served_as_such() {
    let (r, net, _) = setup(stale_config(0));
    silence_example(&net, Fault::ServFail);
    let first = r.resolve(&www()).await;
    assert_eq!(first.rcode, ResponseCode::ServFail);
    silence_example(&net, Fault::None);
    net.clear_log();
    let second = r.resolve(&www()).await;
    assert_eq!(second.failure, Some(Failure::RecentlyFailed));
    assert_eq!(to_example(&net), 0);
}

#[tokio::test]
async fn simultaneous_refreshes_send_one_query() {
    let (r, net, clock) = setup(stale_config(0));
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(400));
    net.clear_log();
    let r = Arc::new(r);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.resolve_refresh(&www()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().rcode, ResponseCode::NoError);
    }
    assert_eq!(to_example(&net), 1, "{:?}", net.sent());
}

#[tokio::test]
async fn prefetch_is_due_in_the_last_tenth_of_the_ttl() {
    let mut c = Config::without_validation();
    c.cache.prefetch = true;
    let (r, net, clock) = setup(c);
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(200));
    assert!(!r.resolve(&www()).await.refresh);
    clock.advance(Duration::from_secs(70)); // 30 s of 300 left
    let due = r.resolve(&www()).await;
    assert!(due.refresh && due.from_cache);
    assert_eq!(ttl(&due), 30);
    net.clear_log();
    let fresh = r.resolve_refresh(&www()).await;
    assert_eq!(ttl(&fresh), 300);
    assert_eq!(to_example(&net), 1, "the question itself is asked again");
    assert!(!r.resolve(&www()).await.refresh);
}

#[tokio::test]
async fn prefetch_is_not_due_without_the_option() {
    let (r, _, clock) = setup(Config::without_validation());
    r.resolve(&www()).await;
    clock.advance(Duration::from_secs(290));
    assert!(!r.resolve(&www()).await.refresh);
}
