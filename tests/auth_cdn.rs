//! CDN redirection: ECS-steered choices with the right scope (RFC 7871
//! §7.2.1), `live` dropping a replica whose listener stops within
//! fail × interval + 1 s, a seeded weighted split that matches its weights
//! and repeats exactly, and the simpler policies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use tern::auth::cdn::CdnSource;
use tern::zone::answer::{answer, make_query, ClientView, DynamicSource};
use tern::zone::{Zone, ZoneSet};

const ZONE: &str = "$ORIGIN cdn.lab.
$TTL 300
@   SOA ns hostmaster 1 3600 900 604800 30
    NS  ns
ns  A   127.77.3.53
";

fn setup(tag: &str, cdn: &str) -> (PathBuf, ZoneSet) {
    let d = std::env::temp_dir().join(format!("tern-auth-cdn-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("cdn.lab.zone"), ZONE).unwrap();
    std::fs::write(d.join("cdn.toml"), cdn).unwrap();
    let zones = ZoneSet::new(vec![Zone::load(&d.join("cdn.lab.zone"), None).unwrap()]).unwrap();
    (d, zones)
}

const REPLICAS: &str = r#"
[[replica]]
name = "eu-1"
addresses = ["127.154.1.1"]
site = "eu"
[[replica]]
name = "us-1"
addresses = ["127.154.2.1"]
site = "us"
[[replica]]
name = "ap-1"
addresses = ["127.154.3.1"]
site = "ap"
"#;

fn ecs_query(name: &str, subnet: Option<(&str, u8)>) -> Message {
    let mut q = make_query(3, Name::from_ascii(name).unwrap(), RecordType::A, true);
    if let Some((net, len)) = subnet {
        let ecs = ClientSubnet::new(net.parse().unwrap(), len, 0);
        q.edns
            .as_mut()
            .unwrap()
            .options_mut()
            .insert(EdnsOption::Subnet(ecs));
    }
    // through the wire, as a resolver would send it
    Message::from_vec(&q.to_vec().unwrap()).unwrap()
}

fn first_a(r: &Message) -> Option<Ipv4Addr> {
    r.answers.iter().find_map(|rr| match &rr.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

fn scope(r: &Message) -> Option<u8> {
    match r.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(s.scope_prefix()),
        _ => None,
    }
}

const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

#[test]
fn different_ecs_subnets_get_different_replicas_with_scope() {
    let cdn = format!(
        r#"{REPLICAS}
[[name]]
name = "www.cdn.lab."
policy = "closest"
replicas = ["eu-1", "us-1", "ap-1"]
ttl = 15
default_site = "ap"
subnets = [
  {{ net = "10.1.0.0/16", site = "eu" }},
  {{ net = "10.2.0.0/16", site = "us" }},
  {{ net = "10.2.7.0/24", site = "ap" }},
]
"#
    );
    let (d, zones) = setup("ecs", &cdn);
    let src = CdnSource::load(&d.join("cdn.toml")).unwrap();
    let dynamic: &dyn DynamicSource = &src;
    let ask = |sub| {
        answer(
            &zones,
            &ecs_query("www.cdn.lab.", sub),
            SOURCE,
            Some(dynamic),
        )
    };

    let eu = ask(Some(("10.1.9.0", 24)));
    let us = ask(Some(("10.2.9.0", 24)));
    assert_eq!(first_a(&eu), Some(Ipv4Addr::new(127, 154, 1, 1)));
    assert_eq!(first_a(&us), Some(Ipv4Addr::new(127, 154, 2, 1)));
    // the choice holds for the mapped /16
    assert_eq!(scope(&eu), Some(16));
    assert_eq!(scope(&us), Some(16));
    assert!(eu.metadata.authoritative);
    assert_eq!(eu.answers[0].ttl, 15);
    // a more specific map entry wins, and its scope is /24
    let ap = ask(Some(("10.2.7.0", 24)));
    assert_eq!(first_a(&ap), Some(Ipv4Addr::new(127, 154, 3, 1)));
    assert_eq!(scope(&ap), Some(24));
    // scope never exceeds what the client revealed
    let short = ask(Some(("10.1.0.0", 12)));
    assert_eq!(scope(&short), Some(12));
    // unmapped: the default site, scoped to the client's own prefix
    let other = ask(Some(("192.0.2.0", 24)));
    assert_eq!(first_a(&other), Some(Ipv4Addr::new(127, 154, 3, 1)));
    assert_eq!(scope(&other), Some(24));
    // no ECS: steered by the source address, no ECS option in the reply
    let plain = ask(None);
    assert_eq!(first_a(&plain), Some(Ipv4Addr::new(127, 154, 3, 1)));
    assert_eq!(scope(&plain), None);
    // ECS source prefix 0: not tailored, scope 0 (RFC 7871 §7.1.2)
    let zero = ask(Some(("0.0.0.0", 0)));
    assert_eq!(scope(&zero), Some(0));
    // other types at a policy name: NODATA with the SOA
    let q = make_query(
        4,
        Name::from_ascii("www.cdn.lab.").unwrap(),
        RecordType::MX,
        false,
    );
    let r = answer(&zones, &q, SOURCE, Some(dynamic));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
}

fn weighted_sequence(seed: u64, n: usize) -> Vec<String> {
    let cdn = format!(
        r#"{REPLICAS}
[[name]]
name = "w.cdn.lab."
policy = "weighted"
replicas = ["eu-1", "us-1", "ap-1"]
weights = {{ "eu-1" = 60, "us-1" = 30, "ap-1" = 10 }}
seed = {seed}
"#
    );
    let (d, _) = setup(&format!("w{seed}"), &cdn);
    let src = CdnSource::load(&d.join("cdn.toml")).unwrap();
    let view = ClientView {
        source: SOURCE,
        ecs: None,
    };
    let name = Name::from_ascii("w.cdn.lab.").unwrap();
    (0..n)
        .map(|_| {
            let a = src.answer(&name, RecordType::A, &view).unwrap();
            a.records[0].data.to_string()
        })
        .collect()
}

#[test]
fn weighted_split_matches_weights_and_repeats_with_the_seed() {
    let n = 10_000;
    let first = weighted_sequence(42, n);
    for (addr, weight) in [
        ("127.154.1.1", 60.0),
        ("127.154.2.1", 30.0),
        ("127.154.3.1", 10.0),
    ] {
        let share = first.iter().filter(|a| a.as_str() == addr).count() as f64 * 100.0 / n as f64;
        assert!(
            (share - weight).abs() <= 2.0,
            "{addr}: {share}% vs {weight}%"
        );
    }
    assert_eq!(first, weighted_sequence(42, n), "same seed, same sequence");
    assert_ne!(
        first,
        weighted_sequence(43, n),
        "another seed, another sequence"
    );
}

#[test]
fn simple_policies_round_robin_failover_reflect() {
    let cdn = format!(
        r#"{REPLICAS}
[[name]]
name = "rr.cdn.lab."
policy = "round-robin"
replicas = ["eu-1", "us-1", "ap-1"]
[[name]]
name = "fo.cdn.lab."
policy = "failover"
replicas = ["us-1", "eu-1"]
[[name]]
name = "me.cdn.lab."
policy = "reflect"
"#
    );
    let (d, _) = setup("simple", &cdn);
    let src = CdnSource::load(&d.join("cdn.toml")).unwrap();
    let view = ClientView {
        source: "127.9.8.7".parse().unwrap(),
        ecs: None,
    };
    let get = |n: &str, t| {
        src.answer(&Name::from_ascii(n).unwrap(), t, &view)
            .unwrap()
            .records
            .iter()
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>()
    };
    let rr: Vec<String> = (0..6)
        .map(|_| get("rr.cdn.lab.", RecordType::A)[0].clone())
        .collect();
    assert_eq!(rr[0..3], rr[3..6]);
    assert_ne!(rr[0], rr[1]);
    assert_ne!(rr[1], rr[2]);
    assert_eq!(get("fo.cdn.lab.", RecordType::A), vec!["127.154.2.1"]);
    assert_eq!(get("me.cdn.lab.", RecordType::A), vec!["127.9.8.7"]);
    assert!(get("me.cdn.lab.", RecordType::TXT)[0].contains("source=127.9.8.7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stops_returning_a_dead_replica_in_time_and_takes_it_back() {
    let a = tokio::net::TcpListener::bind("127.77.3.1:0").await.unwrap();
    let b = tokio::net::TcpListener::bind("127.77.3.2:0").await.unwrap();
    let (aa, ba): (SocketAddr, SocketAddr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let accept = |l: tokio::net::TcpListener| {
        tokio::spawn(async move {
            loop {
                let _ = l.accept().await;
            }
        })
    };
    let ha = accept(a);
    let _hb = accept(b);
    let (interval_ms, fail) = (200u64, 3u32);
    let cdn = format!(
        r#"[health]
interval_ms = {interval_ms}
timeout_ms = 100
fail = {fail}
rise = 2
[[replica]]
name = "a"
addresses = ["127.77.3.1"]
site = "x"
health = "{aa}"
[[replica]]
name = "b"
addresses = ["127.77.3.2"]
site = "x"
health = "{ba}"
[[name]]
name = "live.cdn.lab."
policy = "live"
replicas = ["a", "b"]
"#
    );
    let (d, _) = setup("live", &cdn);
    let src = Arc::new(CdnSource::load(&d.join("cdn.toml")).unwrap());
    src.start_background();
    let view = ClientView {
        source: SOURCE,
        ecs: None,
    };
    let name = Name::from_ascii("live.cdn.lab.").unwrap();
    let live = || -> Vec<String> {
        src.answer(&name, RecordType::A, &view)
            .unwrap()
            .records
            .iter()
            .map(|r| r.data.to_string())
            .collect()
    };
    tokio::time::sleep(Duration::from_millis(3 * interval_ms)).await;
    assert_eq!(live(), vec!["127.77.3.1", "127.77.3.2"]);
    // stop a's listener
    ha.abort();
    let _ = ha.await;
    let stopped = Instant::now();
    let budget = Duration::from_millis(u64::from(fail) * interval_ms) + Duration::from_secs(1);
    loop {
        let now = live();
        if now == vec!["127.77.3.2"] {
            break;
        }
        assert!(
            stopped.elapsed() <= budget,
            "still returned after {:?}: {now:?}",
            stopped.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // and it is never returned while down
    for _ in 0..10 {
        assert_eq!(live(), vec!["127.77.3.2"]);
        tokio::time::sleep(Duration::from_millis(interval_ms / 2)).await;
    }
    // back up: returned again after `rise` good checks
    let a = tokio::net::TcpListener::bind(aa).await.unwrap();
    let _ha = accept(a);
    let back = Instant::now();
    while live().len() != 2 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "replica a never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    src.stop();
}

/// A tiny HTTP server answering every request with the current status and
/// body held in `state`.
fn http_server(
    listener: tokio::net::TcpListener,
    state: Arc<std::sync::Mutex<(u16, String)>>,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let (status, body) = state.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.0 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_health_checks_and_load_endpoint() {
    let a = tokio::net::TcpListener::bind("127.77.3.11:0")
        .await
        .unwrap();
    let b = tokio::net::TcpListener::bind("127.77.3.12:0")
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.77.3.13:0")
        .await
        .unwrap();
    let (aa, ba, la) = (
        a.local_addr().unwrap(),
        b.local_addr().unwrap(),
        l.local_addr().unwrap(),
    );
    let a_state = Arc::new(std::sync::Mutex::new((200u16, "ok".to_string())));
    let ok = Arc::new(std::sync::Mutex::new((200u16, "ok".to_string())));
    let loads = Arc::new(std::sync::Mutex::new((
        200u16,
        "a = 0.9\nb = 0.1\n".to_string(),
    )));
    let _ha = http_server(a, a_state.clone());
    let _hb = http_server(b, ok);
    let _hl = http_server(l, loads.clone());
    let cdn = format!(
        r#"[health]
interval_ms = 200
timeout_ms = 150
fail = 2
rise = 1
http_path = "/health"
[[replica]]
name = "a"
addresses = ["127.77.3.11"]
site = "x"
health = "{aa}"
[[replica]]
name = "b"
addresses = ["127.77.3.12"]
site = "x"
health = "{ba}"
[[name]]
name = "live.cdn.lab."
policy = "live"
replicas = ["a", "b"]
[[name]]
name = "load.cdn.lab."
policy = "lowest-load"
replicas = ["a", "b"]
load_url = "http://{la}/load"
"#
    );
    let (d, _) = setup("http", &cdn);
    let src = Arc::new(CdnSource::load(&d.join("cdn.toml")).unwrap());
    src.start_background();
    let view = ClientView {
        source: SOURCE,
        ecs: None,
    };
    let get = |n: &str| -> Vec<String> {
        src.answer(&Name::from_ascii(n).unwrap(), RecordType::A, &view)
            .unwrap()
            .records
            .iter()
            .map(|r| r.data.to_string())
            .collect()
    };
    let wait = |n: &'static str, want: Vec<&'static str>| async move {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let now = get(n);
            if now == want {
                return;
            }
            assert!(Instant::now() < deadline, "{n}: {now:?}, wanted {want:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    wait("load.cdn.lab.", vec!["127.77.3.12"]).await;
    assert_eq!(get("live.cdn.lab."), vec!["127.77.3.11", "127.77.3.12"]);
    // a answers 503: it still accepts TCP, but the HTTP check fails it
    a_state.lock().unwrap().0 = 503;
    wait("live.cdn.lab.", vec!["127.77.3.12"]).await;
    // the load endpoint changes its mind
    loads.lock().unwrap().1 = "a = 0.2\nb = 0.8\n".to_string();
    a_state.lock().unwrap().0 = 200;
    wait("load.cdn.lab.", vec!["127.77.3.11"]).await;
    wait("live.cdn.lab.", vec!["127.77.3.11", "127.77.3.12"]).await;
    src.stop();
}
