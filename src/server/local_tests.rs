//! Tests of `server::local`: the zone-type decision table and answers
//! from local data, default zones and redirect zones.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::config::local::LocalZone;
use crate::config::StubZone;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn zones(zs: &[(&str, LocalZoneType)], data: &[&str]) -> LocalZones {
    let cfg = ResolverConfig {
        local_zones: zs
            .iter()
            .map(|(n, kind)| LocalZone {
                name: name(n),
                class: DNSClass::IN,
                kind: *kind,
                overrides: Vec::new(),
            })
            .collect(),
        local_data: data.iter().map(|t| parse_record(t).unwrap()).collect(),
        ..ResolverConfig::default()
    };
    LocalZones::new(&cfg)
}

fn rcode_of(a: &Option<LocalAnswer>) -> Option<ResponseCode> {
    match a {
        Some(LocalAnswer::Reply { rcode, .. }) => Some(*rcode),
        _ => None,
    }
}

#[test]
fn decision_table() {
    use LocalZoneType as T;
    // (type, has data, exists, expected) for an MX question
    let cases = [
        (T::Deny, false, false, Miss::Drop),
        (T::InformDeny, true, true, Miss::Drop),
        (T::Refuse, false, false, Miss::Refuse),
        (T::AlwaysRefuse, true, true, Miss::Refuse),
        (T::Static, false, false, Miss::NxDomain),
        (T::Static, false, true, Miss::NoData),
        (T::Static, true, true, Miss::NoData),
        (T::Noview, false, false, Miss::NxDomain),
        (T::Transparent, false, false, Miss::Resolve),
        (T::Transparent, false, true, Miss::Resolve),
        (T::Transparent, true, true, Miss::NoData),
        (T::Inform, true, true, Miss::NoData),
        (T::TypeTransparent, true, true, Miss::Resolve),
        (T::AlwaysTransparent, true, true, Miss::Resolve),
        (T::Redirect, false, false, Miss::NoData),
        (T::AlwaysNxdomain, true, true, Miss::NxDomain),
        (T::AlwaysNodata, false, false, Miss::NoData),
        (T::AlwaysNull, false, false, Miss::NoData),
    ];
    for (kind, has, exists, want) in cases {
        assert_eq!(
            miss_action(kind, RecordType::MX, has, exists),
            want,
            "{kind:?} {has} {exists}"
        );
    }
    // The block types answer NODATA for their one type, resolve the rest.
    let a = RecordType::A;
    let aaaa = RecordType::AAAA;
    assert_eq!(miss_action(T::BlockA, a, false, false), Miss::NoData);
    assert_eq!(miss_action(T::BlockA, aaaa, false, false), Miss::Resolve);
    assert_eq!(miss_action(T::BlockAWdata, a, true, true), Miss::NoData);
    assert_eq!(miss_action(T::BlockAaaa, aaaa, false, false), Miss::NoData);
    assert_eq!(
        miss_action(T::BlockAaaaWdata, a, false, false),
        Miss::Resolve
    );
    assert_eq!(
        miss_action(T::BlockAaaaWdata, RecordType::MX, true, true),
        Miss::Resolve
    );
}

#[test]
fn static_zone_answers_and_denies_with_soa() {
    let z = zones(
        &[("lan.", LocalZoneType::Static)],
        &[
            "lan. SOA ns.lan. admin.lan. 1 2 3 4 60",
            "printer.lan. A 192.168.1.9",
        ],
    );
    let a = z.answer(&name("printer.lan."), RecordType::A, DNSClass::IN, None);
    let Some(LocalAnswer::Reply { answers, .. }) = &a else {
        panic!("{a:?}")
    };
    assert_eq!(answers.len(), 1);
    let nx = z.answer(&name("nope.lan."), RecordType::A, DNSClass::IN, None);
    assert_eq!(rcode_of(&nx), Some(ResponseCode::NXDomain));
    let Some(LocalAnswer::Reply { authorities, .. }) = nx else {
        panic!()
    };
    assert_eq!(authorities[0].ttl, 60, "SOA TTL capped by its minimum");
    let nodata = z.answer(&name("printer.lan."), RecordType::AAAA, DNSClass::IN, None);
    assert_eq!(rcode_of(&nodata), Some(ResponseCode::NoError));
    // Outside the zone: not ours.
    assert!(z
        .answer(&name("example.com."), RecordType::A, DNSClass::IN, None)
        .is_none());
    // Another class: not ours either.
    assert!(z
        .answer(&name("printer.lan."), RecordType::A, DNSClass::CH, None)
        .is_none());
}

#[test]
fn transparent_and_implicit_zones() {
    let z = zones(&[], &["nas.example. A 10.0.0.2"]);
    assert!(z
        .answer(&name("nas.example."), RecordType::A, DNSClass::IN, None)
        .is_some());
    // Same name, other type: NODATA; other names: resolved.
    let a = z.answer(&name("nas.example."), RecordType::MX, DNSClass::IN, None);
    assert_eq!(rcode_of(&a), Some(ResponseCode::NoError));
    assert!(z
        .answer(&name("www.example."), RecordType::A, DNSClass::IN, None)
        .is_none());
    let z = zones(
        &[("example.", LocalZoneType::TypeTransparent)],
        &["nas.example. A 10.0.0.2"],
    );
    assert!(z
        .answer(&name("nas.example."), RecordType::MX, DNSClass::IN, None)
        .is_none());
}

#[test]
fn deny_refuse_redirect_null() {
    let z = zones(
        &[
            ("ads.", LocalZoneType::Deny),
            ("bad.", LocalZoneType::Refuse),
            ("r.", LocalZoneType::Redirect),
            ("null.", LocalZoneType::AlwaysNull),
        ],
        &["r. A 192.0.2.1"],
    );
    assert_eq!(
        z.answer(&name("x.ads."), RecordType::A, DNSClass::IN, None),
        Some(LocalAnswer::Drop)
    );
    let a = z.answer(&name("x.bad."), RecordType::A, DNSClass::IN, None);
    assert_eq!(rcode_of(&a), Some(ResponseCode::Refused));
    let Some(LocalAnswer::Reply { answers, .. }) =
        z.answer(&name("a.b.r."), RecordType::A, DNSClass::IN, None)
    else {
        panic!()
    };
    assert_eq!(answers[0].name, name("a.b.r."));
    let Some(LocalAnswer::Reply { answers, .. }) =
        z.answer(&name("w.null."), RecordType::AAAA, DNSClass::IN, None)
    else {
        panic!()
    };
    assert_eq!(answers.len(), 1);
}

#[test]
fn cname_is_followed_and_type_wins_over_cname() {
    let z = zones(
        &[("a.", LocalZoneType::Static)],
        &[
            "x.a. CNAME www.example.com.",
            "y.a. CNAME t.a.",
            "y.a. TXT hi",
        ],
    );
    let Some(LocalAnswer::Reply {
        follow, answers, ..
    }) = z.answer(&name("x.a."), RecordType::A, DNSClass::IN, None)
    else {
        panic!()
    };
    assert_eq!(follow, Some(name("www.example.com.")));
    assert_eq!(answers.len(), 1);
    let Some(LocalAnswer::Reply { follow, .. }) =
        z.answer(&name("y.a."), RecordType::TXT, DNSClass::IN, None)
    else {
        panic!()
    };
    assert_eq!(follow, None);
}

#[test]
fn default_zones_and_nodefault() {
    let z = zones(&[], &[]);
    let a = z.answer(&name("localhost."), RecordType::A, DNSClass::IN, None);
    let Some(LocalAnswer::Reply { answers, .. }) = &a else {
        panic!()
    };
    assert_eq!(answers[0].ttl, 10800);
    let a = z.answer(
        &name("4.3.2.10.in-addr.arpa."),
        RecordType::PTR,
        DNSClass::IN,
        None,
    );
    assert_eq!(rcode_of(&a), Some(ResponseCode::NXDomain));
    let z = zones(&[("10.in-addr.arpa.", LocalZoneType::Nodefault)], &[]);
    assert!(z
        .answer(
            &name("4.3.2.10.in-addr.arpa."),
            RecordType::PTR,
            DNSClass::IN,
            None
        )
        .is_none());
    // A stub zone for a default zone turns that default off.
    let mut cfg = ResolverConfig::default();
    cfg.stub_zones.push(StubZone {
        name: name("168.192.in-addr.arpa."),
        addrs: vec!["192.0.2.53:53".parse().unwrap()],
        first: false,
        prime: false,
    });
    let z = LocalZones::new(&cfg);
    assert!(z
        .answer(
            &name("1.1.168.192.in-addr.arpa."),
            RecordType::PTR,
            DNSClass::IN,
            None
        )
        .is_none());
}

#[test]
fn overrides_pick_the_most_specific_network() {
    let cfg = ResolverConfig {
        local_zones: vec![LocalZone {
            name: name("corp."),
            class: DNSClass::IN,
            kind: LocalZoneType::Transparent,
            overrides: vec![
                ("10.0.0.0/8".parse().unwrap(), LocalZoneType::Refuse),
                (
                    "10.1.0.0/16".parse().unwrap(),
                    LocalZoneType::AlwaysNxdomain,
                ),
            ],
        }],
        ..ResolverConfig::default()
    };
    let z = LocalZones::new(&cfg);
    let ask = |ip: &str| {
        z.answer(
            &name("www.corp."),
            RecordType::A,
            DNSClass::IN,
            Some(ip.parse().unwrap()),
        )
    };
    assert!(ask("192.0.2.1").is_none(), "no override: transparent");
    assert_eq!(rcode_of(&ask("10.9.9.9")), Some(ResponseCode::Refused));
    assert_eq!(rcode_of(&ask("10.1.2.3")), Some(ResponseCode::NXDomain));
}

#[test]
fn empty_non_terminals_are_nodata_not_nxdomain() {
    let z = zones(
        &[("lan.", LocalZoneType::Static)],
        &["a.b.c.lan. A 10.0.0.1"],
    );
    for n in ["b.c.lan.", "c.lan.", "lan."] {
        let a = z.answer(&name(n), RecordType::A, DNSClass::IN, None);
        assert_eq!(rcode_of(&a), Some(ResponseCode::NoError), "{n}");
    }
    let a = z.answer(&name("x.c.lan."), RecordType::A, DNSClass::IN, None);
    assert_eq!(rcode_of(&a), Some(ResponseCode::NXDomain));
}

#[test]
fn zones_are_found_by_their_last_label_in_any_case_and_the_root_holds_every_name() {
    let client = Some(IpAddr::from([192, 0, 2, 1]));
    let z = zones(&[("Blocked.EXAMPLE.", LocalZoneType::AlwaysNxdomain)], &[]);
    let q = |z: &LocalZones, n: &str| {
        rcode_of(&z.answer(&name(n), RecordType::A, DNSClass::IN, client))
    };
    assert_eq!(q(&z, "a.b.blocked.example."), Some(ResponseCode::NXDomain));
    assert_eq!(q(&z, "A.BLOCKED.Example."), Some(ResponseCode::NXDomain));
    assert_eq!(q(&z, "other.example."), None);
    assert_eq!(q(&z, "blocked.test."), None);
    assert_eq!(q(&z, "."), None);
    let root = zones(&[(".", LocalZoneType::AlwaysNxdomain)], &[]);
    assert_eq!(q(&root, "www.example.net."), Some(ResponseCode::NXDomain));
    assert_eq!(q(&root, "."), Some(ResponseCode::NXDomain));
}
