//! EDNS Client Subnet (RFC 7871) end to end through the lab's resolver:
//! the lab sends ECS to its CDN zone (cdn.net), so clients in three
//! networks get their three sites; an answer scoped to one network is not
//! served to another, a scope-0 answer is served to every network; and the
//! subnet cache stays within its bound under 10 000 client networks (a
//! second `tern serve` on the lab's hints, with a small bound). The lab
//! runs on 127.157.* / 127.158.*.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use lab_support::*;
use tern::zone::answer::make_query;

const RESOLVER_MOVED: &str = "127.157.255.1:53";

/// A query for `name` A carrying `subnet` (e.g. "10.1.0.0/24") as ECS.
fn ask(server: &str, name: &str, subnet: &str, id: u16) -> Message {
    let addr: SocketAddr = server.parse().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut q = make_query(id, Name::from_ascii(name).unwrap(), RecordType::A, true);
    q.metadata.recursion_desired = true;
    let net: ipnet::IpNet = subnet.parse().unwrap();
    let mut e = q.edns.take().unwrap_or_default();
    e.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::from(net)));
    q.edns = Some(e);
    s.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = s.recv_from(&mut buf).expect("no reply");
        let m = Message::from_vec(&buf[..n]).unwrap();
        if m.metadata.id == id {
            return m;
        }
    }
}

/// The reply's ECS option: (address, source prefix, scope prefix).
fn echoed(m: &Message) -> Option<(String, u8, u8)> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some((s.addr().to_string(), s.source_prefix(), s.scope_prefix())),
        _ => None,
    }
}

fn ttl(m: &Message) -> u32 {
    m.answers.last().map(|r| r.ttl).expect("no answer")
}

#[test]
fn client_subnets_get_their_sites_and_scoped_answers_stay_in_their_network() {
    let dir = lab_copy_moved("ecs", 157, 158);
    let text = std::fs::read_to_string(dir.join("lab.toml")).unwrap();
    assert!(text.contains("client_subnet_zones = [\"cdn.net.\"]"));
    let lab = start_lab_map(&dir, &[]);
    let resolver = RESOLVER.replace("127.153.", "127.157.");
    assert_eq!(resolver, RESOLVER_MOVED);
    wait_for(&resolver, "www.example.lab.");

    // Three networks, three sites (zones/cdn.toml: 10.1/16 eu, 10.2/16
    // us, 10.3/16 ap), one right after another through one resolver.
    let sites = [
        ("10.2.0.0/24", "127.158.2.1"),
        ("10.1.0.0/24", "127.158.1.1"),
        ("10.3.0.0/24", "127.158.3.1"),
    ];
    for (i, (net, replica)) in sites.iter().enumerate() {
        let r = ask(&resolver, "www.video.com.", net, 100 + i as u16);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{net}");
        assert_eq!(addresses(&r), [replica.to_string()], "{net}: {r:?}");
        // The client's option comes back with the scope the CDN gave
        // (its /16 mapping).
        let (addr, source, scope) = echoed(&r).expect("no ECS in the reply");
        assert_eq!((source, scope), (24, 16), "{net}");
        assert_eq!(format!("{addr}/24"), *net);
    }

    // An answer scoped to a /24 (an unmapped network: the CDN gives the
    // default site for the client's /24): a second later the same /24 is
    // answered from the cache (its TTL counted down), another /24 of the
    // same /16 is not (a fresh answer, full TTL).
    let first = ask(&resolver, "www.video.com.", "10.9.1.0/24", 200);
    assert_eq!(echoed(&first).unwrap().2, 24, "{first:?}");
    let full = ttl(&first);
    std::thread::sleep(Duration::from_millis(2_100));
    let same = ask(&resolver, "www.video.com.", "10.9.1.0/24", 201);
    assert!(ttl(&same) < full, "same /24 not from the cache: {same:?}");
    let other = ask(&resolver, "www.video.com.", "10.9.2.0/24", 202);
    assert_eq!(ttl(&other), full, "another /24 got the first one's answer");

    // A scope-0 answer (round-robin does not depend on the client) is
    // served to every network from the one cached copy.
    let a = ask(&resolver, "rr.cdn.net.", "10.1.0.0/24", 300);
    assert_eq!(echoed(&a).unwrap().2, 0, "{a:?}");
    let full = ttl(&a);
    std::thread::sleep(Duration::from_millis(1_100));
    let b = ask(&resolver, "rr.cdn.net.", "10.3.7.0/24", 301);
    assert_eq!(addresses(&b), addresses(&a));
    assert!(ttl(&b) < full, "a scope-0 answer was not shared: {b:?}");

    // The bound: a second resolver on the lab's hints keeps at most 500
    // scoped answers however many networks ask.
    let conf = dir.join("ecs-bound.toml");
    let socket = dir.join("ecs-bound.socket");
    let bound_addr = "127.157.255.2:53";
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"{bound_addr}\"]\nmax_concurrent_queries = 4096\n\
             [resolver]\nroot_hints = \"{}\"\nclient_subnet_zones = [\"cdn.net.\"]\n\
             client_subnet_cache_entries = 500\n\
             [dnssec]\nvalidate = false\n[control]\nsocket = \"{}\"\n[log]\nlevel = \"warn\"\n",
            lab.hints.display(),
            socket.display()
        ),
    )
    .unwrap();
    let mut bound = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(bound_addr, "www.example.lab.");
    // 10 000 distinct /24s outside the CDN's map, 100 queries in flight at
    // a time.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let target: SocketAddr = bound_addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answered = 0;
    let mut buf = [0u8; 2048];
    for batch in 0..100u32 {
        for i in 0..100u32 {
            let n = batch * 100 + i;
            let mut q = make_query(
                n as u16,
                Name::from_ascii("www.video.cdn.net.").unwrap(),
                RecordType::A,
                true,
            );
            q.metadata.recursion_desired = true;
            let net: ipnet::IpNet = format!("11.{}.{}.0/24", n / 256, n % 256).parse().unwrap();
            let mut e = q.edns.take().unwrap_or_default();
            e.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::from(net)));
            q.edns = Some(e);
            s.send_to(&q.to_vec().unwrap(), target).unwrap();
        }
        for _ in 0..100 {
            if s.recv_from(&mut buf).is_err() {
                break;
            }
            answered += 1;
        }
        assert!(Instant::now() < deadline, "10 000 queries took over 60 s");
    }
    let stats = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["ctl", "--socket"])
        .arg(&socket)
        .arg("stats")
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&stats.stdout).to_string();
    let kept: usize = stats
        .lines()
        .find_map(|l| l.strip_prefix("cache.subnet_entries="))
        .expect("no cache.subnet_entries")
        .parse()
        .unwrap();
    let _ = bound.kill();
    let _ = bound.wait();
    assert!(answered >= 9_000, "{answered} of 10000 answered");
    assert!(kept <= 500, "{kept} scoped answers kept, bound 500");
    assert!(kept >= 400, "the subnet cache is not used: {kept}");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
