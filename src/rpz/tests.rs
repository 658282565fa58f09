#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::config::local::parse_record;

fn zone(name: &str, ov: Option<RpzOverride>, lines: &[&str]) -> PolicyZone {
    let config = RpzZone {
        name: Name::from_ascii(name).unwrap(),
        zonefile: "unused".into(),
        action_override: ov,
        log: false,
        log_name: None,
        signal_nxdomain_ra: false,
        tags: Vec::new(),
    };
    let records = lines.iter().map(|l| parse_record(l).unwrap()).collect();
    PolicyZone::from_records(config, records).unwrap()
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn q<'a>(name: &'a Name, qtype: RecordType, client: &str) -> Query<'a> {
    Query {
        name,
        qtype,
        client: client.parse().unwrap(),
        udp: true,
        minimal: true,
        tags: &[],
    }
}

fn answer(b: Before) -> Synth {
    match b {
        Before::Answer(s) => s,
        other => panic!("expected an answer, got {other:?}"),
    }
}

const SOA: &str = "rpz.example. 3600 IN SOA ns. h. 1 2 3 4 5";

fn base() -> PolicyZone {
    zone(
        "rpz.example.",
        None,
        &[
            SOA,
            "rpz.example. 3600 IN NS ns.",
            "nx.rpz.example. 60 IN CNAME .",
            "nd.rpz.example. 60 IN CNAME *.",
            "*.wild.rpz.example. 60 IN TXT \"wild\"",
            "ok.wild.rpz.example. 60 IN CNAME rpz-passthru.",
            "drop.rpz.example. 60 IN CNAME rpz-drop.",
            "tcp.rpz.example. 60 IN CNAME rpz-tcp-only.",
            "data.rpz.example. 60 IN A 192.0.2.1",
            "data.rpz.example. 60 IN TXT \"t\"",
            "alias.rpz.example. 60 IN CNAME *.sink.test.",
            "24.0.2.0.192.rpz-client-ip.rpz.example. 60 IN CNAME .",
            "32.9.2.0.192.rpz-client-ip.rpz.example. 60 IN A 127.0.0.9",
            "24.0.113.0.203.rpz-ip.rpz.example. 60 IN CNAME *.",
            "32.7.113.0.203.rpz-ip.rpz.example. 60 IN A 198.51.100.7",
            "64.zz.db8.2001.rpz-ip.rpz.example. 60 IN CNAME .",
            "ns.bad.rpz-nsdname.rpz.example. 60 IN CNAME .",
            "32.5.5.5.5.rpz-nsip.rpz.example. 60 IN CNAME *.",
            "bogus.rpz.example. 60 IN CNAME x.rpz-nope.",
        ],
    )
}

#[test]
fn qname_actions() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("nx.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    assert!(s.authoritative && s.answers.is_empty());
    let name = n("nd.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    assert_eq!((s.rcode, s.answers.len()), (ResponseCode::NoError, 0));
    let name = n("drop.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::A, "10.0.0.1")),
        Before::Drop
    );
    let name = n("tcp.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    assert!(s.truncated);
    let mut tcp = q(&name, RecordType::A, "10.0.0.1");
    tcp.udp = false;
    assert_eq!(rpz.before(&tcp), Before::Resolve);
    let name = n("other.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::A, "10.0.0.1")),
        Before::Resolve
    );
    // An invalid action (a reserved rpz- label) is no trigger at all.
    let name = n("bogus.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::A, "10.0.0.1")),
        Before::Resolve
    );
}

#[test]
fn local_data_and_wildcards() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("Data.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    assert_eq!(s.answers.len(), 1);
    assert_eq!(s.answers[0].name, name);
    assert_eq!(s.answers[0].data, RData::A("192.0.2.1".parse().unwrap()));
    // No data of the type asked: NODATA.
    let s = answer(rpz.before(&q(&name, RecordType::AAAA, "10.0.0.1")));
    assert!(s.answers.is_empty() && s.rcode == ResponseCode::NoError);
    // A wildcard covers names below, not the name itself; an exact
    // trigger below it wins.
    let name = n("a.b.wild.");
    let s = answer(rpz.before(&q(&name, RecordType::TXT, "10.0.0.1")));
    assert_eq!(s.answers[0].name, name);
    let name = n("wild.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::TXT, "10.0.0.1")),
        Before::Resolve
    );
    let name = n("ok.wild.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::TXT, "10.0.0.1")),
        Before::Passthru
    );
    // A CNAME to `*.x` points at the query name below x, and is followed.
    let name = n("alias.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    let want = n("alias.sink.test.");
    assert_eq!(s.follow, Some(want.clone()));
    assert_eq!(s.answers[0].data, RData::CNAME(CNAME(want)));
    // Asked for the CNAME itself: answered, not followed.
    let s = answer(rpz.before(&q(&name, RecordType::CNAME, "10.0.0.1")));
    assert_eq!(s.follow, None);
    assert_eq!(s.answers.len(), 1);
}

#[test]
fn client_ip_comes_before_qname_and_most_specific_wins() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("data.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "192.0.2.1")));
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    // The /32 with local data beats the /24; the zone's SOA goes along.
    let s = answer(rpz.before(&q(&name, RecordType::A, "192.0.2.9")));
    assert_eq!(s.answers[0].data, RData::A("127.0.0.9".parse().unwrap()));
    assert_eq!(s.additionals.len(), 1);
    assert_eq!(s.additionals[0].record_type(), RecordType::SOA);
    // An IPv4-mapped IPv6 client is the IPv4 client.
    let s = answer(rpz.before(&q(&name, RecordType::A, "::ffff:192.0.2.3")));
    assert_eq!(s.rcode, ResponseCode::NXDomain);
}

#[test]
fn zone_order_and_overrides() {
    let first = zone(
        "one.",
        Some(RpzOverride::Disabled),
        &["x.one. 60 IN CNAME .", "y.one. 60 IN CNAME ."],
    );
    let second = zone(
        "two.",
        Some(RpzOverride::Cname(n("walled.test."))),
        &["x.two. 60 IN CNAME rpz-drop."],
    );
    let third = zone("three.", None, &["y.three. 60 IN CNAME rpz-passthru."]);
    let rpz = Rpz::new(vec![first, second, third]);
    // Disabled: the next zone decides; its override turns drop into a CNAME.
    let name = n("x.");
    let s = answer(rpz.before(&q(&name, RecordType::A, "10.0.0.1")));
    assert_eq!(s.follow, Some(n("walled.test.")));
    let name = n("y.");
    assert_eq!(
        rpz.before(&q(&name, RecordType::A, "10.0.0.1")),
        Before::Passthru
    );
}

#[test]
fn response_ip_rewrites_the_answer() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("www.test.");
    let chain = vec![
        parse_record("www.test. 60 IN CNAME host.test.").unwrap(),
        parse_record("host.test. 60 IN A 203.0.113.5").unwrap(),
    ];
    let After::Answer(s) = rpz.after(
        &q(&name, RecordType::A, "10.0.0.1"),
        ResponseCode::NoError,
        &chain,
        &[],
        false,
    ) else {
        panic!("no rewrite");
    };
    // NODATA for the address, the CNAME before it kept, flags not AA.
    assert_eq!(s.rcode, ResponseCode::NoError);
    assert_eq!(s.answers, chain[..1].to_vec());
    assert!(!s.authoritative);
    let redirect = vec![parse_record("www.test. 60 IN A 203.0.113.7").unwrap()];
    let After::Answer(s) = rpz.after(
        &q(&name, RecordType::A, "10.0.0.1"),
        ResponseCode::NoError,
        &redirect,
        &[],
        false,
    ) else {
        panic!("no rewrite");
    };
    assert_eq!(s.answers[0].data, RData::A("198.51.100.7".parse().unwrap()));
    let v6 = vec![parse_record("www.test. 60 IN AAAA 2001:db8::1").unwrap()];
    let After::Answer(s) = rpz.after(
        &q(&name, RecordType::AAAA, "10.0.0.1"),
        ResponseCode::NoError,
        &v6,
        &[],
        false,
    ) else {
        panic!("no rewrite");
    };
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    let clean = vec![parse_record("www.test. 60 IN A 198.51.100.1").unwrap()];
    assert_eq!(
        rpz.after(
            &q(&name, RecordType::A, "10.0.0.1"),
            ResponseCode::NoError,
            &clean,
            &[],
            false
        ),
        After::Keep
    );
}

#[test]
fn qname_triggers_apply_to_cname_targets() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("start.test.");
    let chain = vec![
        parse_record("start.test. 60 IN CNAME data.").unwrap(),
        parse_record("data. 60 IN A 192.0.2.200").unwrap(),
    ];
    let mut full = q(&name, RecordType::A, "10.0.0.1");
    full.minimal = false;
    let After::Answer(s) = rpz.after(&full, ResponseCode::NoError, &chain, &[], false) else {
        panic!("no rewrite");
    };
    assert_eq!(s.answers.len(), 2);
    assert_eq!(s.answers[0], chain[0]);
    assert_eq!(s.answers[1].data, RData::A("192.0.2.1".parse().unwrap()));
    assert!(s.authoritative);
    assert_eq!(s.additionals.len(), 1, "SOA without minimal responses");
}

#[test]
fn name_server_triggers() {
    let rpz = Rpz::new(vec![base()]);
    assert!(rpz.has_ns_triggers());
    let name = n("x.test.");
    let qq = q(&name, RecordType::A, "10.0.0.1");
    let hit = rpz.at_zone_cut(&qq, &[], &[n("ns.good."), n("NS.bad.")], &[]);
    let Some(After::Answer(s)) = hit else {
        panic!("{hit:?}")
    };
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    let hit = rpz.at_zone_cut(&qq, &[], &[], &["5.5.5.5".parse().unwrap()]);
    let Some(After::Answer(s)) = hit else {
        panic!("{hit:?}")
    };
    assert_eq!(s.rcode, ResponseCode::NoError);
    assert_eq!(
        rpz.at_zone_cut(&qq, &[], &[n("ns.good.")], &["5.5.5.6".parse().unwrap()]),
        None
    );
}

#[test]
fn address_trigger_names() {
    let labels = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        parse_net(&labels("24.0.2.0.192")),
        Some("192.0.2.0/24".parse().unwrap())
    );
    assert_eq!(
        parse_net(&labels("64.zz.db8.2001")),
        Some("2001:db8::/64".parse().unwrap())
    );
    assert_eq!(
        parse_net(&labels("128.1.zz.cc.bb.aa.db8.2001")),
        Some("2001:db8:aa:bb:cc::1/128".parse().unwrap())
    );
    assert_eq!(parse_net(&labels("33.0.2.0.192")), None);
    assert_eq!(parse_net(&labels("24.zz.zz.1")), None);
    assert_eq!(parse_net(&labels("x.1.2.3.4")), None);
}

#[test]
fn records_outside_the_zone_are_refused() {
    let config = RpzZone {
        name: n("rpz.example."),
        zonefile: "unused".into(),
        action_override: None,
        log: false,
        log_name: None,
        signal_nxdomain_ra: false,
        tags: Vec::new(),
    };
    let r = parse_record("a.other. 60 IN CNAME .").unwrap();
    assert!(PolicyZone::from_records(config, vec![r]).is_err());
}

#[test]
fn load_names_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("tern-rpz-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.zone");
    std::fs::write(
        &file,
        "$ORIGIN rpz.example.\n@ 3600 IN SOA ns. h. 1 2 3 4 5\nx CNAME .\ny IN A 1.2.3\n",
    )
    .unwrap();
    let config = RpzZone {
        name: n("rpz.example."),
        zonefile: file.clone(),
        action_override: None,
        log: false,
        log_name: None,
        signal_nxdomain_ra: false,
        tags: Vec::new(),
    };
    let e = PolicyZone::load(&config).unwrap_err().to_string();
    assert!(e.contains("bad.zone:4"), "{e}");
    std::fs::write(&file, "$ORIGIN rpz.example.\nx CNAME .\n").unwrap();
    let z = PolicyZone::load(&config).unwrap();
    assert!(z.qname.find(&n("x.")).is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn passthru_and_tcp_only_on_a_chain_resolve_on() {
    let z = zone(
        "p.",
        None,
        &[
            "ok.test.p. 60 IN CNAME rpz-passthru.",
            "slow.test.p. 60 IN CNAME rpz-tcp-only.",
            "bad.test.p. 60 IN CNAME .",
        ],
    );
    let rpz = Rpz::new(vec![z]);
    use crate::engine::AliasPolicy;
    assert!(rpz.stops_at(&n("ok.test.")) && !rpz.stops_at(&n("fine.test.")));
    let name = n("www.x.");
    let qq = q(&name, RecordType::A, "10.0.0.1");
    // The engine stopped at ok.test.: resolve on, with no policy after.
    let chain = vec![parse_record("www.x. 60 IN CNAME ok.test.").unwrap()];
    let after = rpz.after(&qq, ResponseCode::NoError, &chain, &[], false);
    assert_eq!(
        after,
        After::Continue {
            from: n("ok.test."),
            passthru: true
        }
    );
    // tcp-only on the way: resolve on, policies still apply after it.
    let chain = vec![parse_record("www.x. 60 IN CNAME slow.test.").unwrap()];
    let after = rpz.after(&qq, ResponseCode::NoError, &chain, &[], false);
    assert_eq!(
        after,
        After::Continue {
            from: n("slow.test."),
            passthru: false
        }
    );
    let mut longer = chain.clone();
    longer.push(parse_record("slow.test. 60 IN CNAME bad.test.").unwrap());
    let After::Answer(s) = rpz.after(
        &qq,
        ResponseCode::NoError,
        &longer,
        &[n("slow.test.")],
        false,
    ) else {
        panic!("bad.test. blocks");
    };
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    assert_eq!(s.answers, longer);
    // With passthru in force no policy applies: a chain stopped at a
    // trigger is only resolved on.
    assert_eq!(
        rpz.after(
            &qq,
            ResponseCode::NoError,
            &longer,
            &[n("slow.test.")],
            true
        ),
        After::Continue {
            from: n("bad.test."),
            passthru: true
        }
    );
    longer.push(parse_record("bad.test. 60 IN A 192.0.2.1").unwrap());
    assert_eq!(
        rpz.after(
            &qq,
            ResponseCode::NoError,
            &longer,
            &[n("slow.test.")],
            true
        ),
        After::Keep
    );
}

#[test]
fn zone_cut_answers_follow_the_chain() {
    let rpz = Rpz::new(vec![base()]);
    let name = n("www.x.");
    let qq = q(&name, RecordType::A, "10.0.0.1");
    let chain = vec![parse_record("www.x. 60 IN CNAME host.y.").unwrap()];
    let Some(After::Answer(s)) = rpz.at_zone_cut(&qq, &chain, &[n("ns.bad.")], &[]) else {
        panic!("nsdname trigger");
    };
    assert_eq!(s.answers, chain, "the chain stays in front");
    assert_eq!(s.rcode, ResponseCode::NXDomain);
    assert_eq!(chain_end(&name, &chain), n("host.y."));
    // A CNAME a policy answers with is itself checked for triggers.
    let target = n("data.");
    let Some(After::Answer(s)) = rpz.at_target(&q(&target, RecordType::TXT, "10.0.0.1")) else {
        panic!("data. has local data");
    };
    assert_eq!(s.answers.len(), 1);
}

#[test]
fn tagged_zones_apply_to_tagged_clients_only() {
    let mut z = zone("t.", None, &["x.t. 60 IN CNAME ."]);
    z.config.tags = vec!["kids".to_string()];
    let rpz = Rpz::new(vec![z]);
    let name = n("x.");
    let mut qq = q(&name, RecordType::A, "10.0.0.1");
    assert_eq!(rpz.before(&qq), Before::Resolve, "no tags");
    let other = ["guests".to_string()];
    qq.tags = &other;
    assert_eq!(rpz.before(&qq), Before::Resolve, "other tags");
    let kids = ["guests".to_string(), "kids".to_string()];
    qq.tags = &kids;
    assert!(matches!(rpz.before(&qq), Before::Answer(_)));
    // The engine's view: the tags of the task it runs in.
    use crate::engine::AliasPolicy;
    assert!(!rpz.stops_at(&name), "no client: tagged zones do not apply");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let stops = rt.block_on(with_client_tags(&kids, async { rpz.stops_at(&name) }));
    assert!(stops);
}
