//! The resolver engine on a scripted network with a manual clock: caching
//! (positive and negative, RFC 2308), replica selection and backoff,
//! bailiwick defences, limits, in-flight merging, TC and EDNS fallbacks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use tern::clock::{Clock, ManualClock};
use tern::config::Config;
use tern::engine::{Failure, Request, Resolver};
use tern::testkit::{small_hints, small_net, Fault, Server, TestNet, Zone};
use tern::upstream::selection::{Outcome, QueryKind};
use tern::upstream::Protocol;

type R = Resolver<Arc<TestNet>, Arc<ManualClock>>;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn setup_with(config: Config) -> (R, Arc<TestNet>, Arc<ManualClock>) {
    tern::testkit::small_resolver(config)
}

fn setup() -> (R, Arc<TestNet>, Arc<ManualClock>) {
    setup_with(Config::without_validation())
}

/// Adds delegation records to the `test.` TLD server of the small tree.
fn extend_tld(net: &TestNet, text: &str) {
    let mut tld = tern::testkit::small_tree()
        .into_iter()
        .find(|(ip, _)| *ip == "198.51.100.2")
        .unwrap()
        .1;
    tld[0]
        .records
        .extend(Zone::parse("test.", text).unwrap().records);
    net.add(
        "198.51.100.2",
        Server {
            zones: tld,
            ..Server::default()
        },
    );
}

fn addrs(res: &tern::engine::Resolution) -> Vec<String> {
    res.answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect()
}

#[tokio::test]
async fn resolves_through_glued_referrals() {
    let (r, net, _) = setup();
    let res = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::NoError, "{:?}", res.trace);
    assert_eq!(addrs(&res), vec!["192.0.2.80"]);
    assert!(net.count_to("198.51.100.1") >= 1);
    assert!(net.count_to("198.51.100.2") >= 1);
}

#[tokio::test]
async fn qname_minimisation_reveals_one_label_at_a_time() {
    let (r, net, _) = setup();
    r.resolve(&Request::new(n("www.example.test."), RecordType::AAAA))
        .await;
    let to_root: Vec<_> = net
        .sent()
        .into_iter()
        .filter(|s| s.server.ip().to_string() == "198.51.100.1")
        .collect();
    assert!(
        to_root
            .iter()
            .all(|s| s.qname == n("test.") || s.qname.is_root()),
        "{to_root:?}"
    );
    let to_tld: Vec<_> = net
        .sent()
        .into_iter()
        .filter(|s| s.server.ip().to_string() == "198.51.100.2")
        .collect();
    assert!(
        to_tld.iter().all(|s| s.qname == n("example.test.")),
        "{to_tld:?}"
    );
}

#[tokio::test]
async fn without_qname_minimisation_full_name_goes_to_root() {
    let mut cfg = Config::without_validation();
    cfg.resolver.qname_minimisation = false;
    let (r, net, _) = setup_with(cfg);
    r.resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert!(net
        .sent()
        .iter()
        .any(|s| s.server.ip().to_string() == "198.51.100.1" && s.qname == n("www.example.test.")));
}

#[tokio::test]
async fn cache_hit_sends_nothing_and_ttl_counts_down() {
    let (r, net, clock) = setup();
    let q = Request::new(n("www.example.test."), RecordType::A);
    let first = r.resolve(&q).await;
    assert_eq!(first.answers[0].ttl, 300);
    net.clear_log();
    clock.advance(Duration::from_secs(100));
    let again = r.resolve(&q).await;
    assert!(net.sent().is_empty(), "{:?}", net.sent());
    assert!(again.from_cache);
    assert_eq!(addrs(&again), vec!["192.0.2.80"]);
    assert_eq!(again.answers[0].ttl, 200);
}

#[tokio::test]
async fn nxdomain_cached_for_soa_minimum_and_not_after() {
    let (r, net, clock) = setup();
    let q = Request::new(n("nope.example.test."), RecordType::A);
    let first = r.resolve(&q).await;
    assert_eq!(first.rcode, ResponseCode::NXDomain);
    assert_eq!(first.authorities.len(), 1, "SOA in authority");
    net.clear_log();
    clock.advance(Duration::from_secs(299));
    let cached = r.resolve(&q).await;
    assert_eq!(cached.rcode, ResponseCode::NXDomain);
    assert!(net.sent().is_empty());
    // RFC 8020: names below a nonexistent name do not exist either.
    let below = r
        .resolve(&Request::new(n("a.b.nope.example.test."), RecordType::A))
        .await;
    assert_eq!(below.rcode, ResponseCode::NXDomain);
    assert!(net.sent().is_empty());
    clock.advance(Duration::from_secs(2));
    let expired = r.resolve(&q).await;
    assert_eq!(expired.rcode, ResponseCode::NXDomain);
    assert!(
        !net.sent().is_empty(),
        "after 301 s the negative entry is gone"
    );
}

#[tokio::test]
async fn nodata_cached_for_negative_ttl() {
    let (r, net, clock) = setup();
    let q = Request::new(n("www.example.test."), RecordType::TXT);
    let first = r.resolve(&q).await;
    assert_eq!(first.rcode, ResponseCode::NoError);
    assert!(first.answers.is_empty());
    net.clear_log();
    clock.advance(Duration::from_secs(250));
    let cached = r.resolve(&q).await;
    assert!(cached.answers.is_empty() && cached.rcode == ResponseCode::NoError);
    assert!(net.sent().is_empty());
    assert_eq!(cached.authorities[0].ttl, 50);
    clock.advance(Duration::from_secs(60));
    r.resolve(&q).await;
    assert!(!net.sent().is_empty());
}

#[tokio::test]
async fn glueless_delegation_resolves_ns_name_first() {
    let (r, _, _) = setup();
    let res = r
        .resolve(&Request::new(n("host.glueless.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), vec!["192.0.2.99"], "{:#?}", res.trace);
}

#[tokio::test]
async fn cname_chain_across_zones() {
    let (r, _, _) = setup();
    let res = r
        .resolve(&Request::new(n("far.example.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::NoError);
    let types: Vec<RecordType> = res.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(
        types,
        vec![RecordType::CNAME, RecordType::CNAME, RecordType::A]
    );
    assert_eq!(addrs(&res), vec!["192.0.2.80"]);
}

#[tokio::test]
async fn cname_loop_is_servfail() {
    let (r, net, _) = setup();
    let res = r
        .resolve(&Request::new(n("loop1.other.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::ServFail);
    assert_eq!(res.failure, Some(Failure::CnameLoop));
    assert!(net.sent().len() < 200);
}

fn chain_net(hops: usize) -> (R, Arc<TestNet>) {
    let clock = Arc::new(ManualClock::new(0));
    let net = Arc::new(small_net(Some(clock.clone())));
    let mut text = String::from("@ SOA ns h 1 1 1 1 60\n@ NS ns.chain.test.\n");
    for i in 0..hops {
        text.push_str(&format!("c{i} CNAME c{}\n", i + 1));
    }
    text.push_str(&format!("c{hops} A 192.0.2.1\n"));
    net.add(
        "198.51.100.9",
        Server {
            zones: vec![Zone::parse("chain.test.", &text).unwrap()],
            ..Server::default()
        },
    );
    // Delegate chain.test from the TLD.
    extend_tld(&net, "chain NS ns.chain.test.\nns.chain A 198.51.100.9\n");
    let r = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock,
    );
    (r, net)
}

#[tokio::test]
async fn long_cname_chain_is_servfail_within_budget() {
    let (r, net) = chain_net(20);
    // Each hop is a separate lookup: the chain inside one zone comes in one
    // reply, so ask a resolver that must follow it hop by hop.
    let res = r
        .resolve(&Request::new(n("c0.chain.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::ServFail, "{:?}", res.answers);
    assert_eq!(res.failure, Some(Failure::CnameChain(12)));
    assert!(net.sent().len() <= 200);
    // A short chain is fine.
    let (r, _) = chain_net(5);
    let ok = r
        .resolve(&Request::new(n("c0.chain.test."), RecordType::A))
        .await;
    assert_eq!(ok.rcode, ResponseCode::NoError);
    assert_eq!(ok.answers.len(), 6);
}

#[tokio::test]
async fn hundred_unresolvable_ns_names_end_in_servfail_within_budget() {
    let clock = Arc::new(ManualClock::new(0));
    let net = Arc::new(small_net(Some(clock.clone())));
    let mut tld_text = String::new();
    for i in 0..100 {
        tld_text.push_str(&format!("fanout NS ns{i}.nowhere.example.test.\n"));
    }
    extend_tld(&net, &tld_text);
    let r = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock,
    );
    let res = r
        .resolve(&Request::new(n("www.fanout.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::ServFail);
    let sent = net.sent().len();
    assert!(sent <= 200, "{sent} upstream queries");
    // Only a handful of the 100 names were looked up (NXNS defence).
    let looked_up: std::collections::HashSet<Name> = net
        .sent()
        .iter()
        .filter(|s| s.qname.to_ascii().starts_with("ns") && s.qname.to_ascii().contains("nowhere"))
        .map(|s| s.qname.clone())
        .collect();
    assert!(looked_up.len() <= 5, "{looked_up:?}");
}

fn replica_net(clock: Arc<ManualClock>) -> Arc<TestNet> {
    let net = Arc::new(small_net(Some(clock)));
    extend_tld(
        &net,
        "rep NS a.rep.test.\nrep NS b.rep.test.\nrep NS c.rep.test.\n\
             a.rep A 198.51.100.21\nb.rep A 198.51.100.22\nc.rep A 198.51.100.23\n",
    );
    let mut text = String::from("@ SOA a h 1 1 1 1 60\n@ NS a\n@ NS b\n@ NS c\na A 198.51.100.21\nb A 198.51.100.22\nc A 198.51.100.23\n");
    for i in 0..200 {
        text.push_str(&format!("h{i} 1 A 192.0.2.{}\n", i % 250));
    }
    let zone = Zone::parse("rep.test.", &text).unwrap();
    for (ip, fault, rtt) in [
        ("198.51.100.21", Fault::Silent, 0),
        ("198.51.100.22", Fault::Silent, 0),
        ("198.51.100.23", Fault::None, 20),
    ] {
        net.add(
            ip,
            Server {
                zones: vec![zone.clone()],
                fault,
                rtt: Duration::from_millis(rtt),
                ..Server::default()
            },
        );
    }
    net
}

/// A resolution as the front end makes it: when the resolution asks for
/// a background refresh (a held-down server is due for its probe), that
/// refresh runs too. The client's own answer is returned.
async fn as_front_end(r: &R, req: &Request) -> tern::engine::Resolution {
    let res = r.resolve(req).await;
    if res.refresh {
        r.resolve_refresh(req).await;
    }
    res
}

#[tokio::test]
async fn replicas_two_silent_one_live() {
    let clock = Arc::new(ManualClock::new(0));
    let net = replica_net(clock.clone());
    let r = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock.clone(),
    );
    let dead: SocketAddr = "198.51.100.21:53".parse().unwrap();
    let initial = r.config().upstream.initial_rto;

    // While every replica is silent, each loss doubles that server's RTO.
    net.set_fault("198.51.100.23", Fault::Silent);
    let cap = r.config().upstream.max_rto;
    for i in 0..3 {
        let res = r
            .resolve(&Request::new(n(&format!("h{i}.rep.test.")), RecordType::A))
            .await;
        assert_eq!(res.rcode, ResponseCode::ServFail);
        for ip in ["198.51.100.21", "198.51.100.22", "198.51.100.23"] {
            let s = r
                .selection()
                .stats(format!("{ip}:53").parse().unwrap())
                .unwrap();
            assert!(s.timeouts_in_row >= 1);
            assert_eq!(
                s.rto,
                (initial * 2u32.pow(s.timeouts_in_row)).min(cap),
                "{ip}"
            );
        }
        clock.advance(Duration::from_secs(1));
    }
    let _ = dead;
    // One replica comes back: two silent, one live → answered, once the
    // probe of the held-down servers (a background refresh the client's
    // failure asks for) has found it.
    net.set_fault("198.51.100.23", Fault::None);
    let mut traced = Request::new(n("h50.rep.test."), RecordType::A);
    traced.full_trace = true;
    let mut first = as_front_end(&r, &traced).await;
    for _ in 0..10 {
        if first.rcode == ResponseCode::NoError {
            break;
        }
        clock.advance(r.config().upstream.holddown);
        first = as_front_end(&r, &traced).await;
    }
    assert_eq!(first.rcode, ResponseCode::NoError, "{:#?}", first.trace);
    for j in 51..60 {
        r.resolve(&Request::new(n(&format!("h{j}.rep.test.")), RecordType::A))
            .await;
        clock.advance(Duration::from_secs(2));
    }

    // After warm-up, ≥ 90 % of queries go to the live server.
    net.clear_log();
    for j in 100..200 {
        let res = r
            .resolve(&Request::new(n(&format!("h{j}.rep.test.")), RecordType::A))
            .await;
        assert_eq!(res.rcode, ResponseCode::NoError);
        clock.advance(Duration::from_secs(2));
    }
    let to_zone: Vec<_> = net
        .sent()
        .into_iter()
        .filter(|s| s.qname.to_ascii().ends_with("rep.test."))
        .collect();
    let live = to_zone
        .iter()
        .filter(|s| s.server.ip().to_string() == "198.51.100.23")
        .count();
    assert!(
        live * 10 >= to_zone.len() * 9,
        "{live} of {}",
        to_zone.len()
    );
}

#[tokio::test]
async fn held_down_server_is_probed_only_after_holddown() {
    let clock = Arc::new(ManualClock::new(0));
    let net = replica_net(clock.clone());
    let cfg = Config::without_validation();
    let holddown = cfg.upstream.holddown;
    let r = Resolver::with_hints(Arc::new(cfg), small_hints(), net.clone(), clock.clone());
    // The live replica is down at first too, so every server keeps being
    // tried until the silent ones are held down.
    net.set_fault("198.51.100.23", Fault::Silent);
    let mut i = 0;
    while i < 150 {
        r.resolve(&Request::new(n(&format!("h{i}.rep.test.")), RecordType::A))
            .await;
        i += 1;
        let now = clock.now();
        let held = ["198.51.100.21:53", "198.51.100.22:53"].iter().all(|a| {
            r.selection()
                .stats(a.parse().unwrap())
                .is_some_and(|s| s.is_held(now))
        });
        if held {
            break;
        }
    }
    assert!(i < 150, "silent servers never held down");
    net.set_fault("198.51.100.23", Fault::None);
    // Past every hold-down (one resolution may itself last minutes of
    // backed-off timeouts).
    clock.advance(holddown * 4);
    // .23 (held down too, perhaps) answers its probe and is live again.
    let req = Request::new(n("h149.rep.test."), RecordType::A);
    as_front_end(&r, &req).await;
    let probe = r.resolve(&req).await;
    assert_eq!(probe.rcode, ResponseCode::NoError, "{:#?}", probe.trace);

    net.clear_log();
    // During the hold-down: nothing goes to the held servers.
    for j in 0..20 {
        r.resolve(&Request::new(
            n(&format!("h{}.rep.test.", 150 + j)),
            RecordType::A,
        ))
        .await;
        clock.advance(holddown / 40);
    }
    assert_eq!(
        net.count_to("198.51.100.21") + net.count_to("198.51.100.22"),
        0,
        "{:?}\n{:?}",
        r.selection().stats("198.51.100.21:53".parse().unwrap()),
        net.sent()
    );
    // After it: one probe each at most, then held again.
    clock.advance(holddown);
    net.clear_log();
    for j in 0..20 {
        r.resolve(&Request::new(
            n(&format!("h{}.rep.test.", 175 + j)),
            RecordType::A,
        ))
        .await;
    }
    assert!(
        net.count_to("198.51.100.21") <= 1,
        "{}",
        net.count_to("198.51.100.21")
    );
    assert!(net.count_to("198.51.100.22") <= 1);
}

#[tokio::test]
async fn out_of_bailiwick_records_are_not_cached() {
    let clock = Arc::new(ManualClock::new(0));
    let net = Arc::new(small_net(Some(clock.clone())));
    let evil = tern::testkit::small_tree()
        .into_iter()
        .find(|(ip, _)| *ip == "198.51.100.3")
        .unwrap()
        .1;
    let poison_answer = Zone::parse("other.test.", "poison 300 A 203.0.113.66\n")
        .unwrap()
        .records;
    let poison_glue = Zone::parse("other.test.", "ns 300 A 203.0.113.66\n")
        .unwrap()
        .records;
    for ip in ["198.51.100.3", "198.51.100.4"] {
        net.add(
            ip,
            Server {
                zones: evil.clone(),
                extra_answers: poison_answer.clone(),
                extra_additional: poison_glue.clone(),
                ..Server::default()
            },
        );
    }
    let r = Resolver::with_hints(
        Arc::new(Config::without_validation()),
        small_hints(),
        net.clone(),
        clock,
    );
    let res = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(
        addrs(&res),
        vec!["192.0.2.80"],
        "poison not passed to the client"
    );
    let p = r
        .resolve(&Request::new(n("poison.other.test."), RecordType::A))
        .await;
    assert_eq!(p.rcode, ResponseCode::NXDomain, "{:?}", p.answers);
    let ns = r
        .resolve(&Request::new(n("ns.other.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&ns), vec!["198.51.100.5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_identical_queries_share_one_resolution() {
    let (r, net, _) = setup();
    let r = Arc::new(r);
    let q = Request::new(n("www.example.test."), RecordType::A);
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let r = r.clone();
            let q = q.clone();
            tokio::spawn(async move { r.resolve(&q).await })
        })
        .collect();
    let mut answered = 0;
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(addrs(&res), vec!["192.0.2.80"]);
        answered += 1;
    }
    assert_eq!(answered, 500);
    for ip in ["198.51.100.1", "198.51.100.2"] {
        // Root: priming + one minimised query; TLD: one query.
        let sent: Vec<_> = net
            .sent()
            .into_iter()
            .filter(|s| s.server.ip().to_string() == ip)
            .collect();
        assert!(sent.len() <= 2, "{ip}: {sent:?}");
    }
    let zone = net.count_to("198.51.100.3") + net.count_to("198.51.100.4");
    assert_eq!(zone, 1, "{:?}", net.sent());
}

#[tokio::test]
async fn truncated_udp_reply_is_retried_over_tcp() {
    let (r, net, _) = setup();
    net.set_fault("198.51.100.3", Fault::TruncateUdp);
    net.set_fault("198.51.100.4", Fault::TruncateUdp);
    let res = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), vec!["192.0.2.80"]);
    assert!(net.sent().iter().any(|s| s.protocol == Protocol::Tcp));
}

#[tokio::test]
async fn formerr_to_edns_retries_without_and_remembers() {
    let (r, net, _) = setup();
    net.set_fault("198.51.100.3", Fault::FormErrEdns);
    net.set_fault("198.51.100.4", Fault::FormErrEdns);
    let res = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), vec!["192.0.2.80"], "{:#?}", res.trace);
    net.clear_log();
    r.resolve(&Request::new(n("mail.example.test."), RecordType::A))
        .await;
    let to_zone: Vec<_> = net
        .sent()
        .into_iter()
        .filter(|s| {
            s.server.ip().to_string().ends_with(".3") || s.server.ip().to_string().ends_with(".4")
        })
        .collect();
    assert!(!to_zone.is_empty());
    assert!(to_zone.iter().all(|s| !s.edns), "{to_zone:?}");
}

#[tokio::test]
async fn refused_server_falls_over_to_replica() {
    let (r, _, _) = setup();
    let (r2, net2, _) = setup();
    net2.set_fault("198.51.100.3", Fault::Refuse);
    let a = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    let b = r2
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&a), addrs(&b));
}

/// `bad`, put at .3 (one of example.test's two servers) and measured the
/// faster, fails the zone once; the next names of the zone go to its
/// replica (.4) first, so `bad` is not asked again.
async fn failed_server_is_not_asked_first_again(bad: Server, why: Outcome) {
    let (r, net, clock) = setup();
    let (bad_ip, good_ip) = ("198.51.100.3", "198.51.100.4");
    let zone = n("example.test.");
    let mut good = net.server(good_ip).unwrap();
    good.rtt = Duration::from_millis(20);
    net.add(good_ip, good);
    net.add(
        bad_ip,
        Server {
            rtt: Duration::from_millis(1),
            ..bad
        },
    );
    for (ip, ms) in [(bad_ip, 1), (good_ip, 20)] {
        let rtt = Duration::from_millis(ms);
        let addr = SocketAddr::new(ip.parse().unwrap(), 53);
        let replied = Outcome::Replied { rtt, edns: true };
        r.selection()
            .note(addr, &zone, QueryKind::A, replied, clock.now());
    }
    let first = r
        .resolve(&Request::new(n("n0.example.test."), RecordType::A))
        .await;
    assert_eq!(first.rcode, ResponseCode::NXDomain, "{:?}", first.trace);
    assert_eq!(net.count_to(bad_ip), 1, "{:?}", net.sent());
    let bad_addr = SocketAddr::new(bad_ip.parse().unwrap(), 53);
    let stats = r.selection().stats(bad_addr).unwrap();
    assert_eq!(stats.lame_for(&zone, clock.now()), Some(why));
    assert!(
        stats.srtt
            < r.selection()
                .stats(SocketAddr::new(good_ip.parse().unwrap(), 53))
                .unwrap()
                .srtt
    );
    net.clear_log();
    for name in ["www", "mail", "m1", "m2", "m3", "m4", "m5", "m6"] {
        let res = r
            .resolve(&Request::new(
                n(&format!("{name}.example.test.")),
                RecordType::A,
            ))
            .await;
        assert_ne!(res.rcode, ResponseCode::ServFail, "{:?}", res.trace);
    }
    assert_eq!(net.count_to(bad_ip), 0, "{:?}", net.sent());
    assert_eq!(net.count_to(good_ip), 8, "{:?}", net.sent());
}

#[tokio::test]
async fn a_refused_server_is_not_asked_first_for_the_zone_again() {
    let bad = Server {
        fault: Fault::Refuse,
        ..Server::default()
    };
    failed_server_is_not_asked_first_again(bad, Outcome::Refused).await;
}

#[tokio::test]
async fn a_servfail_server_is_not_asked_first_for_the_zone_again() {
    let bad = Server {
        fault: Fault::ServFail,
        ..Server::default()
    };
    failed_server_is_not_asked_first_again(bad, Outcome::ServFail).await;
}

#[tokio::test]
async fn a_lame_server_is_not_asked_first_for_the_zone_again() {
    // It serves the parent instead: a referral to the very zone it was
    // asked as a server of.
    let parent = tern::testkit::small_tree()
        .into_iter()
        .find(|(ip, _)| *ip == "198.51.100.2")
        .unwrap()
        .1;
    let bad = Server {
        zones: parent,
        ..Server::default()
    };
    failed_server_is_not_asked_first_again(bad, Outcome::Lame).await;
}

#[tokio::test]
async fn all_servers_dead_is_servfail_not_hang() {
    let (r, net, _) = setup();
    net.set_fault("198.51.100.3", Fault::Silent);
    net.set_fault("198.51.100.4", Fault::Silent);
    let res = r
        .resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::ServFail);
    assert_eq!(res.failure, Some(Failure::NoReachableAuthority));
}

#[tokio::test]
async fn rd_zero_is_served_from_cache_only() {
    let (r, net, _) = setup();
    let mut q = Request::new(n("www.example.test."), RecordType::A);
    q.recursion_desired = false;
    let miss = r.resolve(&q).await;
    assert!(miss.answers.is_empty());
    // Nothing cached, not even the root: refused, not an empty NOERROR.
    assert_eq!(miss.rcode, ResponseCode::Refused);
    assert_eq!(miss.failure, Some(Failure::NotCached));
    assert!(net.sent().is_empty(), "RD=0 must not iterate");
    r.resolve(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    let hit = r.resolve(&q).await;
    assert_eq!(addrs(&hit), vec!["192.0.2.80"]);
    assert!(matches!(hit.answers[0].data, RData::A(_)));
}

/// Names below an empty non-terminal (as under a wildcard at
/// `*.edge.other.test`): the NODATA the zone's servers gave the minimised
/// `edge.other.test` is cached, so each later name costs one upstream
/// query (the full name), not two.
#[tokio::test]
async fn empty_non_terminal_nodata_is_reused_under_qname_minimisation() {
    let (r, net, _) = setup();
    let mut zones = tern::testkit::small_tree()
        .into_iter()
        .find(|(ip, _)| *ip == "198.51.100.5")
        .unwrap()
        .1;
    zones[0].records.extend(
        Zone::parse(
            "other.test.",
            "a.edge 300 A 192.0.2.99\nb.edge 300 A 192.0.2.99\n\
             c.edge 300 A 192.0.2.99\nd.edge 300 A 192.0.2.99\n",
        )
        .unwrap()
        .records,
    );
    net.add(
        "198.51.100.5",
        Server {
            zones,
            ..Server::default()
        },
    );
    let first = r
        .resolve(&Request::new(n("a.edge.other.test."), RecordType::A))
        .await;
    assert_eq!(
        addrs(&first),
        ["192.0.2.99"],
        "{:?} {:?}",
        first.rcode,
        first.trace
    );
    let asked = |net: &TestNet| {
        net.sent()
            .into_iter()
            .filter(|s| s.server.ip().to_string() == "198.51.100.5")
            .map(|s| s.qname)
            .collect::<Vec<_>>()
    };
    // The first name: the minimised edge.other.test, then the full name.
    assert_eq!(
        asked(&net),
        [n("edge.other.test."), n("a.edge.other.test.")]
    );
    for (i, label) in ["b", "c", "d"].iter().enumerate() {
        let name = format!("{label}.edge.other.test.");
        let res = r.resolve(&Request::new(n(&name), RecordType::A)).await;
        assert_eq!(addrs(&res), ["192.0.2.99"], "{:?}", res.trace);
        assert_eq!(asked(&net).len(), 3 + i, "{name}: {:?}", asked(&net));
        assert_eq!(asked(&net).last(), Some(&n(&name)));
    }
    // The cached NODATA answers the empty non-terminal's own question.
    let ent = r
        .resolve(&Request::new(n("edge.other.test."), RecordType::A))
        .await;
    assert_eq!(ent.rcode, ResponseCode::NoError);
    assert!(ent.answers.is_empty());
    assert_eq!(asked(&net).len(), 5);
}
