//! Auth zones in the engine, on the small test tree (`testkit`): a copy
//! used for upstream answers instead of the zone's servers (none of them
//! is asked), and a referral out of the copy is followed on the network;
//! a copy that cannot be loaded fails its names, or with fallback leaves
//! them to the servers; a copy for clients only does not change what the
//! resolver does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use tern::config::{AuthZone, Config};
use tern::engine::{Failure, Request, Resolution};

/// The copy differs from what the servers of example.test serve
/// (www 192.0.2.80), and delegates sub.example.test to other.test's
/// server (198.51.100.5), which serves nothing for it.
const COPY: &str = "$TTL 300
@ SOA ns1 h 7 3600 600 86400 300
@ NS ns1
ns1 A 198.51.100.3
www A 192.0.2.177
sub NS ns.other.test.
";

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn copy_file(tag: &str, text: Option<&str>) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("authzone-engine-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("example.test.zone");
    if let Some(t) = text {
        std::fs::write(&f, t).unwrap();
    }
    f
}

fn config(file: PathBuf, downstream: bool, upstream: bool, fallback: bool) -> Config {
    let mut c = Config::without_validation();
    c.resolver.auth_zones.push(AuthZone {
        name: name("example.test."),
        zonefile: file,
        for_downstream: downstream,
        for_upstream: upstream,
        fallback_enabled: fallback,
        zonemd_check: false,
        zonemd_reject_absent: false,
        zonemd_permissive: false,
    });
    c
}

fn addrs(res: &Resolution) -> Vec<String> {
    res.answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect()
}

fn to_example(net: &tern::testkit::TestNet) -> usize {
    net.count_to("198.51.100.3") + net.count_to("198.51.100.4")
}

#[tokio::test]
async fn copy_answers_instead_of_the_zone_servers() {
    let f = copy_file("up", Some(COPY));
    let (r, net, _) = tern::testkit::small_resolver(config(f, false, true, false));
    let res = r
        .resolve(&Request::new(name("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), ["192.0.2.177"]);
    let res = r
        .resolve(&Request::new(name("nope.example.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::NXDomain);
    assert_eq!(to_example(&net), 0, "{:?}", net.sent());
    // Names beside the zone still resolve on the network.
    let res = r
        .resolve(&Request::new(name("ns.other.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), ["198.51.100.5"]);
    // A CNAME from there into the zone is followed into the copy.
    let res = r
        .resolve(&Request::new(name("alias.other.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), ["192.0.2.177"]);
    assert_eq!(to_example(&net), 0, "{:?}", net.sent());
}

#[tokio::test]
async fn a_referral_out_of_the_copy_goes_to_the_network() {
    let f = copy_file("referral", Some(COPY));
    let (r, net, _) = tern::testkit::small_resolver(config(f, false, true, false));
    let before = net.count_to("198.51.100.5");
    let _ = r
        .resolve(&Request::new(name("www.sub.example.test."), RecordType::A))
        .await;
    assert!(net.count_to("198.51.100.5") > before, "{:?}", net.sent());
    assert_eq!(to_example(&net), 0);
}

#[tokio::test]
async fn unusable_copy_fails_its_names_or_falls_back() {
    let missing = copy_file("missing", None);
    let (r, net, _) = tern::testkit::small_resolver(config(missing.clone(), false, true, false));
    let res = r
        .resolve(&Request::new(name("www.example.test."), RecordType::A))
        .await;
    assert_eq!(res.rcode, ResponseCode::ServFail);
    assert_eq!(
        res.failure,
        Some(Failure::LocalCopyUnusable(name("example.test.")))
    );
    assert_eq!(to_example(&net), 0);
    assert!(r.auth_zones().copies()[0].problem().is_some());

    let (r, net, _) = tern::testkit::small_resolver(config(missing, false, true, true));
    let res = r
        .resolve(&Request::new(name("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), ["192.0.2.80"]);
    assert!(to_example(&net) > 0);
}

#[tokio::test]
async fn a_copy_for_clients_only_leaves_resolution_alone() {
    let f = copy_file("down", Some(COPY));
    let (r, net, _) = tern::testkit::small_resolver(config(f, true, false, false));
    let res = r
        .resolve(&Request::new(name("www.example.test."), RecordType::A))
        .await;
    assert_eq!(addrs(&res), ["192.0.2.80"]);
    assert!(to_example(&net) > 0);
    let copy = r
        .auth_zones()
        .for_downstream(&name("www.example.test."))
        .unwrap();
    assert!(copy.zone().is_some());
}
