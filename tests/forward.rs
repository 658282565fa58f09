//! Configured zones on a scripted network: forward zones (RD=1 to the
//! forwarders, their answer final, forward-first fallback to iteration,
//! forward-tcp-upstream), stub zones below forward zones, stub-first and
//! stub-prime, do-ip4/do-ip6 and tcp-upstream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use tern::clock::ManualClock;
use tern::config::{Config, ForwardZone, StubZone};
use tern::engine::{Request, Resolver};
use tern::testkit::{small_hints, small_net, Fault, Server, TestNet, Zone};
use tern::upstream::Protocol;

type R = Resolver<Arc<TestNet>, Arc<ManualClock>>;

const FORWARDER: &str = "203.0.113.53";

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    SocketAddr::new(s.parse().unwrap(), 53)
}

fn forward(name: &str, first: bool, tcp: bool) -> ForwardZone {
    ForwardZone {
        name: n(name),
        addrs: vec![sa(FORWARDER)],
        hosts: Vec::new(),
        first,
        tcp,
        no_cache: false,
        tls: None,
    }
}

/// The small tree plus a forwarder whose view of example.test differs
/// from the real tree's (so an answer shows where it came from).
fn setup(config: Config, forwarder_fault: Fault) -> (R, Arc<TestNet>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(small_net(Some(clock.clone())));
    let view = Zone::parse(
        "example.test.",
        "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.3\nwww A 192.0.2.199\n",
    )
    .unwrap();
    let other = Zone::parse(
        "other.test.",
        "@ 3600 SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 198.51.100.5\nhost A 192.0.2.77\n",
    )
    .unwrap();
    net.add(
        FORWARDER,
        Server {
            zones: vec![view, other],
            fault: forwarder_fault,
            ..Server::default()
        },
    );
    let r = Resolver::with_hints(Arc::new(config), small_hints(), net.clone(), clock);
    (r, net)
}

async fn ask(r: &R, name: &str) -> (ResponseCode, Vec<String>) {
    let res = r.resolve(&Request::new(n(name), RecordType::A)).await;
    let ips = res
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect();
    (res.rcode, ips)
}

#[tokio::test]
async fn forward_zone_sends_rd_to_forwarder_and_takes_its_answer() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![forward("example.test.", false, false)];
    let (r, net) = setup(c, Fault::None);
    assert_eq!(
        ask(&r, "www.example.test.").await,
        (ResponseCode::NoError, vec!["192.0.2.199".to_string()])
    );
    let sent = net.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].server, sa(FORWARDER));
    assert!(sent[0].rd, "queries to a forwarder carry RD=1");
    assert_eq!(sent[0].protocol, Protocol::Udp);
    // Cached: asked again, nothing is sent.
    assert_eq!(
        ask(&r, "www.example.test.").await.1,
        vec!["192.0.2.199".to_string()]
    );
    assert_eq!(net.sent().len(), 1);
    // Outside the forward zone, iteration as usual, RD=0.
    net.clear_log();
    assert_eq!(
        ask(&r, "ns.test.").await.1,
        vec!["198.51.100.2".to_string()]
    );
    assert!(net
        .sent()
        .iter()
        .all(|s| !s.rd && s.server != sa(FORWARDER)));
}

#[tokio::test]
async fn failing_forwarder_is_servfail_unless_forward_first() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![forward("example.test.", false, false)];
    let (r, net) = setup(c.clone(), Fault::ServFail);
    assert_eq!(ask(&r, "www.example.test.").await.0, ResponseCode::ServFail);
    assert!(net.sent().iter().all(|s| s.server == sa(FORWARDER)));

    c.resolver.forward_zones = vec![forward("example.test.", true, false)];
    let (r, net) = setup(c, Fault::ServFail);
    assert_eq!(
        ask(&r, "www.example.test.").await,
        (ResponseCode::NoError, vec!["192.0.2.80".to_string()])
    );
    let sent = net.sent();
    assert!(sent[0].server == sa(FORWARDER) && sent[0].rd);
    assert!(sent.iter().any(|s| s.server == sa("198.51.100.1") && !s.rd));
}

#[tokio::test]
async fn forward_tcp_and_tcp_upstream_use_tcp() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![forward("example.test.", false, true)];
    let (r, net) = setup(c, Fault::None);
    ask(&r, "www.example.test.").await;
    ask(&r, "host.glueless.test.").await;
    let sent = net.sent();
    assert!(sent
        .iter()
        .all(|s| (s.server == sa(FORWARDER)) == (s.protocol == Protocol::Tcp)));

    let mut c = Config::without_validation();
    c.upstream.tcp = true;
    let (r, net) = setup(c, Fault::None);
    assert_eq!(ask(&r, "www.example.test.").await.0, ResponseCode::NoError);
    assert!(net.sent().iter().all(|s| s.protocol == Protocol::Tcp));
}

#[tokio::test]
async fn forward_root_sends_everything_but_a_stub_below_it() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![forward(".", false, false)];
    c.resolver.stub_zones = vec![StubZone {
        name: n("example.test."),
        addrs: vec![sa("198.51.100.4")],
        first: false,
        prime: false,
    }];
    let (r, net) = setup(c, Fault::None);
    assert_eq!(
        ask(&r, "host.other.test.").await.1,
        vec!["192.0.2.77".to_string()]
    );
    assert_eq!(
        ask(&r, "www.example.test.").await.1,
        vec!["192.0.2.80".to_string()]
    );
    let sent = net.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].server == sa(FORWARDER) && sent[0].rd);
    assert!(sent[1].server == sa("198.51.100.4") && !sent[1].rd);
}

#[tokio::test]
async fn stub_first_falls_back_and_stub_prime_asks_for_ns() {
    let stub = |first, prime| StubZone {
        name: n("example.test."),
        addrs: vec![sa("198.51.100.9")],
        first,
        prime,
    };
    let mut c = Config::without_validation();
    c.resolver.stub_zones = vec![stub(false, false)];
    let (r, net) = setup(c.clone(), Fault::None);
    net.add(
        "198.51.100.9",
        Server {
            fault: Fault::Refuse,
            ..Server::default()
        },
    );
    assert_eq!(ask(&r, "www.example.test.").await.0, ResponseCode::ServFail);

    c.resolver.stub_zones = vec![stub(true, false)];
    let (r, net) = setup(c.clone(), Fault::None);
    net.add(
        "198.51.100.9",
        Server {
            fault: Fault::Refuse,
            ..Server::default()
        },
    );
    assert_eq!(
        ask(&r, "www.example.test.").await.1,
        vec!["192.0.2.80".to_string()]
    );

    // Primed: the stub address is asked for the NS set only; the names it
    // gives (ns1/ns2 with glue) answer the question.
    c.resolver.stub_zones = vec![stub(false, true)];
    let (r, net) = setup(c, Fault::None);
    let zone = Zone::parse(
        "example.test.",
        "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.3\nwww A 192.0.2.250\n",
    )
    .unwrap();
    net.add(
        "198.51.100.9",
        Server {
            zones: vec![zone],
            ..Server::default()
        },
    );
    assert_eq!(
        ask(&r, "www.example.test.").await.1,
        vec!["192.0.2.80".to_string()]
    );
    let sent = net.sent();
    assert_eq!(sent[0].server, sa("198.51.100.9"));
    assert_eq!(sent[0].qtype, RecordType::NS);
    assert_eq!(sent[1].server, sa("198.51.100.3"));
}

#[tokio::test]
async fn do_ip6_no_and_do_ip4_no_keep_queries_off_that_family() {
    for (v4, v6) in [(true, false), (false, true)] {
        let mut c = Config::without_validation();
        c.upstream.ipv4 = v4;
        c.upstream.ipv6 = v6;
        c.resolver.stub_zones = vec![StubZone {
            name: n("example.test."),
            addrs: vec![sa("198.51.100.3"), sa("2001:db8::3")],
            first: false,
            prime: false,
        }];
        let (r, net) = setup(c, Fault::None);
        net.add("2001:db8::3", net_server_like_ns1());
        let (rcode, _) = ask(&r, "www.example.test.").await;
        assert_eq!(rcode, ResponseCode::NoError);
        let sent = net.sent();
        assert!(!sent.is_empty());
        assert!(sent
            .iter()
            .all(|s| s.server.is_ipv4() == v4 && s.server.is_ipv6() == v6));
    }
}

fn net_server_like_ns1() -> Server {
    Server {
        zones: vec![Zone::parse(
            "example.test.",
            "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.3\nwww A 192.0.2.80\n",
        )
        .unwrap()],
        ..Server::default()
    }
}

/// `sib.test.` is delegated to `ns.example.test.` with sibling glue that
/// points nowhere useful (192.0.2.66); the real address (198.51.100.4) is
/// in example.test.
fn sibling_glue_net(harden_unverified_glue: bool) -> (R, Arc<TestNet>) {
    let mut c = Config::without_validation();
    c.resolver.harden_unverified_glue = harden_unverified_glue;
    c.upstream.max_rto = std::time::Duration::from_millis(200);
    c.upstream.initial_rto = std::time::Duration::from_millis(100);
    let (r, net) = setup(c, Fault::None);
    let tree = tern::testkit::small_tree();
    let zones_of = |ip: &str| tree.iter().find(|(a, _)| *a == ip).unwrap().1.clone();
    let mut tld = zones_of("198.51.100.2");
    tld[0].records.extend(
        Zone::parse(
            "test.",
            "sib NS ns.example.test.\nns.example A 192.0.2.66\n",
        )
        .unwrap()
        .records,
    );
    net.add(
        "198.51.100.2",
        Server {
            zones: tld,
            ..Server::default()
        },
    );
    let mut ns = zones_of("198.51.100.4");
    ns.push(
        Zone::parse(
            "sib.test.",
            "@ 3600 SOA ns.example.test. h 1 3600 600 86400 300\n@ NS ns.example.test.\nwww A 192.0.2.111\n",
        )
        .unwrap(),
    );
    net.add(
        "198.51.100.4",
        Server {
            zones: ns,
            ..Server::default()
        },
    );
    (r, net)
}

#[tokio::test]
async fn harden_unverified_glue_resolves_sibling_ns_names_first() {
    let (r, net) = sibling_glue_net(true);
    assert_eq!(
        ask(&r, "www.sib.test.").await,
        (ResponseCode::NoError, vec!["192.0.2.111".to_string()])
    );
    assert_eq!(net.count_to("192.0.2.66"), 0, "{:?}", net.sent());

    // Without the option the sibling glue is used as given.
    let (r, net) = sibling_glue_net(false);
    ask(&r, "www.sib.test.").await;
    assert!(net.count_to("192.0.2.66") > 0);
}

#[tokio::test]
async fn forward_no_cache_asks_the_forwarder_every_time() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![ForwardZone {
        no_cache: true,
        ..forward("example.test.", false, false)
    }];
    let (r, net) = setup(c, Fault::None);
    for round in 1..=2 {
        assert_eq!(
            ask(&r, "www.example.test.").await.1,
            vec!["192.0.2.199".to_string()]
        );
        assert_eq!(net.count_to(FORWARDER), round);
    }
    let peek = r
        .resolve_cached(&Request::new(n("www.example.test."), RecordType::A))
        .await;
    assert!(
        peek.is_none(),
        "nothing in a no-cache zone is served from cache"
    );
    // NXDOMAIN is not remembered either (RFC 8020 would cut below it).
    assert_eq!(ask(&r, "nx.example.test.").await.0, ResponseCode::NXDomain);
    assert_eq!(ask(&r, "nx.example.test.").await.0, ResponseCode::NXDomain);
    assert_eq!(net.count_to(FORWARDER), 4);
}

#[tokio::test]
async fn forward_hosts_are_looked_up_and_used() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![ForwardZone {
        hosts: vec![n("fwd2.other.test.")],
        ..forward(".", false, false)
    }];
    let (r, net) = setup(c, Fault::None);
    // The configured forwarder knows only other.test (where the second
    // forwarder's name lives) and refuses the rest.
    net.add(
        FORWARDER,
        Server {
            zones: vec![Zone::parse(
                "other.test.",
                "@ 3600 SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 198.51.100.5\n\
                 fwd2 A 203.0.113.54\n",
            )
            .unwrap()],
            ..Server::default()
        },
    );
    net.add(
        "203.0.113.54",
        Server {
            zones: vec![Zone::parse(
                "example.test.",
                "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.3\n\
                 www A 192.0.2.198\n",
            )
            .unwrap()],
            ..Server::default()
        },
    );
    assert_eq!(
        ask(&r, "www.example.test.").await,
        (ResponseCode::NoError, vec!["192.0.2.198".to_string()])
    );
    let sent = net.sent();
    assert_eq!(sent[0].qname, n("fwd2.other.test."), "{sent:?}");
    assert!(sent.iter().all(|s| s.rd));
    assert!(net.count_to("203.0.113.54") >= 1);
}

#[tokio::test]
async fn forwarder_ns_set_gives_rd0_clients_a_referral() {
    let mut c = Config::without_validation();
    c.resolver.forward_zones = vec![forward(".", false, false)];
    let (r, net) = setup(c, Fault::None);
    let ns = Zone::parse("example.test.", "@ 3600 NS ns1\nns1 3600 A 198.51.100.3\n")
        .unwrap()
        .records;
    let (auth, glue): (Vec<_>, Vec<_>) = ns
        .into_iter()
        .partition(|r| r.record_type() == RecordType::NS);
    let mut fwd = Server {
        zones: vec![Zone::parse(
            "example.test.",
            "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.3\nwww A 192.0.2.199\n",
        )
        .unwrap()],
        ..Server::default()
    };
    fwd.extra_authorities = auth;
    fwd.extra_additional = glue;
    net.add(FORWARDER, fwd);
    assert_eq!(
        ask(&r, "www.example.test.").await.1,
        vec!["192.0.2.199".to_string()]
    );
    let mut rd0 = Request::new(n("c.example.test."), RecordType::A);
    rd0.recursion_desired = false;
    let res = r.resolve(&rd0).await;
    assert_eq!(res.rcode, ResponseCode::NoError);
    assert!(res.answers.is_empty());
    assert_eq!(res.authorities.len(), 1, "{:?}", res.authorities);
    assert_eq!(res.authorities[0].name, n("example.test."));
    assert_eq!(
        res.additionals
            .iter()
            .filter_map(|r| r.data.ip_addr())
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>(),
        vec!["198.51.100.3"]
    );
}

#[tokio::test]
async fn retries_bound_the_tries_of_a_zones_only_server() {
    for (retries, want) in [(2, 2), (5, 5)] {
        let mut c = Config::without_validation();
        c.upstream.retries = retries;
        c.resolver.forward_zones = vec![forward("example.test.", false, false)];
        let (r, net) = setup(c, Fault::Silent);
        assert_eq!(ask(&r, "www.example.test.").await.0, ResponseCode::ServFail);
        assert_eq!(net.count_to(FORWARDER), want);
    }
}
