//! Resolution that holds under failure, on the scripted network with a
//! manual clock: a zone whose servers all gave no reply fails at once
//! afterwards (no upstream query), one probe per hold-down period, sent by
//! a background refresh, re-checks it, the hold-down doubles with each failed probe and an answer clears
//! it (RFC 9520 §3.2, as Unbound's infra cache); a failed question is
//! remembered at least 1 s, doubling (RFC 9520 §3); priming that brings
//! no root server addresses leaves the hints in use (RFC 8109 §3).
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
use tern::clock::ManualClock;
use tern::config::Config;
use tern::engine::{Failure, Request, Resolution, Resolver};
use tern::testkit::{small_hints, small_resolver, Fault, Server, TestNet, Zone};

type R = Resolver<Arc<TestNet>, Arc<ManualClock>>;

/// The single server of `other.test.` in the small tree.
const OTHER: &str = "198.51.100.5";

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn setup() -> (R, Arc<TestNet>, Arc<ManualClock>) {
    small_resolver(Config::without_validation())
}

async fn ask(r: &R, name: &str) -> Resolution {
    r.resolve(&Request::new(n(name), RecordType::A)).await
}

fn servers_down(res: &Resolution) -> bool {
    matches!(res.failure, Some(Failure::ServersDown { .. }))
}

#[tokio::test]
async fn a_dead_zone_fails_at_once_and_is_probed_once_per_holddown() {
    let (r, net, clock) = setup();
    // Learn the delegation of other.test while its server answers.
    let ok = ask(&r, "ns.other.test.").await;
    assert_eq!(ok.rcode, ResponseCode::NoError, "{:?}", ok.trace);
    net.set_fault(OTHER, Fault::Silent);
    let before = net.count_to(OTHER);

    let first = ask(&r, "a.other.test.").await;
    assert_eq!(first.rcode, ResponseCode::ServFail);
    assert_eq!(first.failure, Some(Failure::NoReachableAuthority));
    let tries = net.count_to(OTHER);
    assert_eq!(tries - before, r.config().upstream.retries as usize);

    // Every later question in the zone: SERVFAIL without a query.
    for name in ["b.other.test.", "c.other.test.", "a.other.test."] {
        let res = ask(&r, name).await;
        assert_eq!(res.rcode, ResponseCode::ServFail);
        assert!(
            servers_down(&res) || matches!(res.failure, Some(Failure::Remembered { .. })),
            "{name}: {:?}",
            res.failure
        );
    }
    assert_eq!(net.count_to(OTHER), tries, "no query to the dead server");
    let text = ask(&r, "d.other.test.").await.failure.unwrap().to_string();
    assert!(
        text.contains("all 1 servers of other.test. unreachable"),
        "{text}"
    );

    // Hold-down 1 s, then 2 s, then 4 s: one probe per period, however
    // many questions come.
    let mut probes = 0;
    for (i, wait) in [1u64, 2, 4].into_iter().enumerate() {
        clock.advance(Duration::from_secs(wait));
        // The probe is due: the client's question fails at once all the
        // same and asks for a background refresh, which sends the probe.
        let due = ask(&r, &format!("p{i}.other.test.")).await;
        assert!(servers_down(&due) && due.refresh, "{:?}", due.failure);
        assert_eq!(net.count_to(OTHER), tries + probes);
        let req = Request::new(n(&format!("p{i}.other.test.")), RecordType::A);
        let bg = r.resolve_refresh(&req).await;
        assert_eq!(bg.rcode, ResponseCode::ServFail);
        for j in 0..5 {
            let res = ask(&r, &format!("p{i}-{j}.other.test.")).await;
            assert!(servers_down(&res) && !res.refresh, "{:?}", res.failure);
            assert!(!r.resolve_refresh(&req).await.refresh);
        }
        probes += 1;
        assert_eq!(
            net.count_to(OTHER),
            tries + probes,
            "period {i}: {:?}",
            net.sent()
        );
        // Half the next (doubled) period later: still no probe.
        clock.advance(Duration::from_millis(wait * 1000 / 2 + 100));
        ask(&r, &format!("q{i}.other.test.")).await;
        assert_eq!(net.count_to(OTHER), tries + probes);
        clock.advance(Duration::from_millis(wait * 1000 / 2));
    }

    // The server is back: the next probe's answer clears the state.
    net.set_fault(OTHER, Fault::None);
    clock.advance(Duration::from_secs(8));
    let due = ask(&r, "alias.other.test.").await;
    assert!(due.refresh, "{:?}", due.failure);
    let req = Request::new(n("alias.other.test."), RecordType::A);
    let back = r.resolve_refresh(&req).await;
    assert_eq!(back.rcode, ResponseCode::NoError, "{:?}", back.failure);
    let again = ask(&r, "alias.other.test.").await;
    assert_eq!(again.rcode, ResponseCode::NoError, "{:?}", again.failure);
}

#[tokio::test]
async fn a_zone_with_one_live_server_is_not_down() {
    let (r, net, _) = setup();
    net.set_fault("198.51.100.3", Fault::Silent);
    for name in [
        "www.example.test.",
        "mail.example.test.",
        "www.example.test.",
    ] {
        let res = ask(&r, name).await;
        assert_eq!(
            res.rcode,
            ResponseCode::NoError,
            "{name}: {:?}",
            res.failure
        );
    }
}

#[tokio::test]
async fn a_failed_question_is_remembered_with_backoff() {
    let (r, net, clock) = setup();
    // A server that answers, uselessly: REFUSED (not held down).
    net.set_fault(OTHER, Fault::Refuse);
    let first = ask(&r, "x.other.test.").await;
    assert_eq!(first.failure, Some(Failure::AllLame));
    let sent = net.count_to(OTHER);
    assert!(sent >= 1);

    let again = ask(&r, "x.other.test.").await;
    let Some(Failure::Remembered {
        failure,
        retry_secs,
        ..
    }) = again.failure
    else {
        panic!("{:?}", again.failure)
    };
    assert_eq!(*failure, Failure::AllLame);
    assert_eq!(retry_secs, 1);
    assert_eq!(net.count_to(OTHER), sent, "remembered: nothing sent");

    // After 1 s it is tried again, fails, and is remembered 2 s.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        ask(&r, "x.other.test.").await.failure,
        Some(Failure::AllLame)
    );
    let sent2 = net.count_to(OTHER);
    assert!(sent2 > sent);
    clock.advance(Duration::from_millis(1500));
    assert!(matches!(
        ask(&r, "x.other.test.").await.failure,
        Some(Failure::Remembered { .. })
    ));
    assert_eq!(net.count_to(OTHER), sent2);

    // Once the server answers and the memory expires, the answer clears it.
    net.set_fault(OTHER, Fault::None);
    clock.advance(Duration::from_secs(1));
    let res = ask(&r, "ns.other.test.").await;
    assert_eq!(res.rcode, ResponseCode::NoError, "{:?}", res.failure);
}

#[tokio::test]
async fn priming_without_addresses_keeps_the_hints() {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(tern::testkit::small_net(Some(clock.clone())));
    // A root whose NS name has no address in its zone: the priming reply
    // carries none (as `tern auth` did before additional processing).
    let root = Zone::parse(
        ".",
        "@ SOA a.root. h.root. 1 3600 600 86400 300\n@ 300 NS a.root-servers.test.\n\
         test. NS ns.test.\nns.test. A 198.51.100.2\n",
    )
    .unwrap();
    net.add(
        "198.51.100.1",
        Server {
            zones: vec![root],
            ..Server::default()
        },
    );
    let mut hints = small_hints();
    hints.servers[0].0 = n("a.root-servers.test.");
    let r = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        hints,
        net.clone(),
        clock.clone(),
    );
    for name in [
        "www.example.test.",
        "host.glueless.test.",
        "www.example.test.",
    ] {
        let res = ask(&r, name).await;
        assert_eq!(
            res.rcode,
            ResponseCode::NoError,
            "{name}: {:?}",
            res.failure
        );
    }
    // Past the root NS set's TTL: primed again, still resolving.
    clock.advance(Duration::from_secs(400));
    let res = ask(&r, "mail.example.test.").await;
    assert_eq!(res.rcode, ResponseCode::NoError, "{:?}", res.failure);
    assert!(net.count_to("198.51.100.1") >= 2);
}

#[tokio::test]
async fn a_failed_resolution_names_the_servers_that_failed_and_how() {
    let (r, net, _clock) = setup();
    let ok = ask(&r, "ns.other.test.").await;
    assert_eq!(ok.rcode, ResponseCode::NoError, "{:?}", ok.trace);
    // The zone's only server refuses: the walk's cause is its REFUSED.
    net.set_fault(OTHER, Fault::Refuse);
    let refused = ask(&r, "a.other.test.").await;
    assert_eq!(refused.rcode, ResponseCode::ServFail);
    assert!(
        refused
            .causes
            .iter()
            .any(|c| c.contains(&format!("{OTHER}:53 for")) && c.contains("REFUSED")),
        "{:?}",
        refused.causes
    );
    // Silent: the cause is the timeout, with the server's address.
    net.set_fault(OTHER, Fault::Silent);
    let silent = ask(&r, "b.other.test.").await;
    assert_eq!(silent.rcode, ResponseCode::ServFail);
    assert!(
        silent
            .causes
            .iter()
            .any(|c| c.contains(&format!("{OTHER}:53")) && c.contains("timeout")),
        "{:?}",
        silent.causes
    );
    // Never more than a handful, however long the resolution.
    assert!(silent.causes.len() <= 4, "{:?}", silent.causes);
}
