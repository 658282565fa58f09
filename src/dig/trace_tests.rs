//! Table tests of the pure parts of `+trace` (src/dig/trace.rs): root
//! hints through the engine's reader, and reply classification through
//! the engine's scrubber and classifier.

use super::*;
use crate::dig::types::TYPE_SOA;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn wire_name(s: &str, out: &mut Vec<u8>) {
    for l in s.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
}

/// A reply (to www.zone.test A) with the given flags/rcode byte pair and
/// (section, owner, type, rdata) records.
fn reply(flags: u16, records: &[(usize, &str, u16, Vec<u8>)]) -> Message {
    let mut counts = [1u16, 0, 0, 0];
    for r in records {
        counts[r.0] += 1;
    }
    let mut m = vec![0, 1];
    m.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    wire_name("www.zone.test", &mut m);
    m.extend_from_slice(&[0, 1, 0, 1]);
    let mut sorted: Vec<_> = records.to_vec();
    sorted.sort_by_key(|r| r.0);
    for (_, owner, t, data) in sorted {
        wire_name(owner, &mut m);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(&data);
    }
    crate::wire::parse(&m).unwrap()
}

fn name_data(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    wire_name(s, &mut v);
    v
}

#[test]
fn hints_files() {
    let dir = std::env::temp_dir().join(format!("tern-dig-hints-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lab.hints");
    // Names are lower-cased; relative names are under the root; an NS
    // name without any address cannot be asked and is left out.
    std::fs::write(
        &path,
        "; comment\n$TTL 1\n.  3600000 IN NS A.ROOT.lab.\nA.root.lab. 3600000 A 127.66.1.1\n\
         a.root.lab. AAAA ::1\n. NS b.root.lab\n. NS c.root.lab.\nb.root.lab IN A 127.66.1.2\n",
    )
    .unwrap();
    let h = hints::from_file(path.to_str().unwrap()).unwrap();
    assert_eq!(
        h,
        vec![
            NsServer {
                name: "a.root.lab.".into(),
                addrs: vec!["127.66.1.1".parse().unwrap(), "::1".parse().unwrap()]
            },
            NsServer {
                name: "b.root.lab.".into(),
                addrs: vec!["127.66.1.2".parse().unwrap()]
            },
        ]
    );
    // A bad address is an error naming the file and line.
    std::fs::write(&path, ". 1 NS a.root.lab.\na.root.lab. 1 A nope\n").unwrap();
    let e = hints::from_file(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("lab.hints:2: "), "{e}");
    // So is a file with no root server that has an address.
    std::fs::write(&path, ". 1 NS a.root.lab.\n").unwrap();
    let e = hints::from_file(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lab.hints: no root NS record with an address"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let roots = hints::built_in();
    assert_eq!(roots.len(), 13);
    assert_eq!(roots[0].name, "a.root-servers.net.");
    assert!(roots.iter().all(|r| r.addrs.iter().any(IpAddr::is_ipv4)));
}

#[test]
fn classification() {
    let q = n("www.zone.test.");
    let a = RecordType::A;
    let root = Name::root();
    let step = |m: &Message, zone: &Name| classify(m.clone(), &q, a, zone).0;
    let referral = reply(
        0x8000,
        &[
            (2, "test", TYPE_NS, name_data("ns1.nic.test")),
            (2, "test", TYPE_NS, name_data("ns2.nic.test")),
            (3, "ns1.nic.test", TYPE_A, vec![127, 66, 1, 2]),
        ],
    );
    match step(&referral, &root) {
        Step::Referral { zone, servers } => {
            assert_eq!(zone, n("test."));
            assert_eq!(servers.len(), 2);
            assert_eq!(servers[0].name, "ns1.nic.test.");
            assert_eq!(
                servers[0].addrs,
                vec!["127.66.1.2".parse::<IpAddr>().unwrap()]
            );
            assert!(servers[1].addrs.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // The same referral from the test. servers is sideways: lame, and the
    // reason names the NS set.
    match step(&referral, &n("test.")) {
        Step::Lame(why) => assert!(
            why.ends_with(": NS for test. from a server of test."),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    let answer = reply(0x8400, &[(1, "www.zone.test", TYPE_A, vec![192, 0, 2, 80])]);
    assert_eq!(step(&answer, &n("zone.test.")), Step::Answer);
    let nx = reply(0x8403, &[(2, "zone.test", TYPE_SOA, vec![0; 22])]);
    assert_eq!(
        step(&nx, &n("zone.test.")),
        Step::Negative("NXDOMAIN".into())
    );
    let nodata = reply(0x8400, &[(2, "zone.test", TYPE_SOA, vec![0; 22])]);
    assert_eq!(
        step(&nodata, &n("zone.test.")),
        Step::Negative("NODATA".into())
    );
    let refused = reply(0x8005, &[]);
    assert_eq!(step(&refused, &root), Step::Lame("rcode REFUSED".into()));
    let empty = reply(0x8000, &[]);
    assert!(matches!(step(&empty, &root), Step::Lame(_)));
}

/// Where the engine's rules are stricter than a plain look at the
/// sections: each reply here would have passed as an answer, a negative
/// answer or a referral with its glue.
#[test]
fn classification_follows_the_engines_rules() {
    let q = n("www.zone.test.");
    let a = RecordType::A;
    let step = |m: &Message, zone: &Name| classify(m.clone(), &q, a, zone).0;
    // AA and nothing else, no SOA: not a NODATA (RFC 2308 §2.2 needs the
    // SOA); another server is asked.
    let bare = reply(0x8400, &[]);
    assert!(matches!(step(&bare, &n("zone.test.")), Step::Lame(_)));
    // An answer from a recursive server's cache (RA, no AA) is lame.
    let cached = reply(0x8080, &[(1, "www.zone.test", TYPE_A, vec![192, 0, 2, 80])]);
    assert!(matches!(step(&cached, &n("zone.test.")), Step::Lame(_)));
    // Data of another type for the name is no answer to A.
    let txt = reply(0x8400, &[(1, "www.zone.test", 16, b"\x02hi".to_vec())]);
    assert!(matches!(step(&txt, &n("zone.test.")), Step::Lame(_)));
    // An answer for a name outside the zone asked is dropped: a server of
    // other.test. cannot speak for www.zone.test.
    assert!(matches!(
        step(&answer_of_www(), &n("other.test.")),
        Step::Lame(_)
    ));
    // Glue outside the referring zone is not believed (RFC 5452 §6): the
    // NS is kept, its address is not.
    let out_of_zone_glue = reply(
        0x8000,
        &[
            (2, "zone.test", TYPE_NS, name_data("ns.zone.test")),
            (2, "zone.test", TYPE_NS, name_data("ns.elsewhere.lab")),
            (3, "ns.zone.test", TYPE_A, vec![127, 66, 1, 3]),
            (3, "ns.elsewhere.lab", TYPE_A, vec![192, 0, 2, 9]),
        ],
    );
    match step(&out_of_zone_glue, &n("test.")) {
        Step::Referral { zone, servers } => {
            assert_eq!(zone, n("zone.test."));
            let glue: Vec<(&str, usize)> = servers
                .iter()
                .map(|s| (s.name.as_str(), s.addrs.len()))
                .collect();
            assert_eq!(glue, [("ns.zone.test.", 1), ("ns.elsewhere.lab.", 0)]);
        }
        other => panic!("{other:?}"),
    }
    // The scrubbed reply comes back for the walk's own use.
    let (_, kept) = classify(out_of_zone_glue, &q, a, &n("test."));
    assert_eq!(kept.additionals.len(), 1);
}

fn answer_of_www() -> Message {
    reply(0x8400, &[(1, "www.zone.test", TYPE_A, vec![192, 0, 2, 80])])
}
