//! The written query against hickory's encoding of the same message, byte
//! for byte, over a table of shapes and many generated ones, and read
//! back by hickory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::write_message;
use crate::wire::encode;

/// What a query may carry, as the resolver sets it.
#[derive(Clone, Default)]
struct Shape {
    name: &'static str,
    qtype: u16,
    class: u16,
    rd: bool,
    cd: bool,
    edns: Option<Opt>,
}

#[derive(Clone, Default)]
struct Opt {
    payload: u16,
    dnssec_ok: bool,
    subnet: Option<(IpAddr, u8)>,
    client_string: Option<(u16, &'static [u8])>,
    subnet_first: bool,
}

fn build(s: &Shape) -> Message {
    let mut m = Message::new(0xbeef, MessageType::Query, OpCode::Query);
    let mut q = Query::query(Name::from_ascii(s.name).unwrap(), RecordType::from(s.qtype));
    q.set_query_class(DNSClass::from(s.class));
    m.add_query(q);
    m.metadata.recursion_desired = s.rd;
    m.metadata.checking_disabled = s.cd;
    if let Some(o) = &s.edns {
        let mut e = Edns::new();
        e.set_max_payload(o.payload);
        e.set_dnssec_ok(o.dnssec_ok);
        let subnet = o
            .subnet
            .map(|(a, p)| EdnsOption::Subnet(ClientSubnet::new(a, p, 0)));
        let string = o
            .client_string
            .map(|(c, t)| EdnsOption::Unknown(c, t.to_vec()));
        let opts = if o.subnet_first {
            [subnet, string]
        } else {
            [string, subnet]
        };
        for opt in opts.into_iter().flatten() {
            e.options_mut().insert(opt);
        }
        m.set_edns(e);
    }
    m
}

/// Written here, equal to hickory's bytes, and read back by hickory as
/// the same message.
fn check_written(m: &Message, what: &str) -> Vec<u8> {
    let ours = write_message(m).unwrap_or_else(|| panic!("{what}: not written directly"));
    let theirs = m.to_vec().unwrap();
    assert_eq!(ours, theirs, "{what}");
    assert_eq!(encode(m), Some(theirs), "{what}");
    let back = Message::from_vec(&ours).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(back.metadata, m.metadata, "{what}");
    // On the wire every name is absolute.
    let mut asked = m.queries.clone();
    for q in &mut asked {
        let mut name = q.name().clone();
        name.set_fqdn(true);
        q.set_name(name);
    }
    assert_eq!(back.queries, asked, "{what}");
    assert!(
        back.answers.is_empty() && back.additionals.is_empty(),
        "{what}"
    );
    assert_eq!(back.edns.is_some(), m.edns.is_some(), "{what}");
    if let (Some(b), Some(e)) = (&back.edns, &m.edns) {
        assert_eq!(b.max_payload(), e.max_payload(), "{what}");
        assert_eq!(b.flags(), e.flags(), "{what}");
        assert_eq!(b.version(), e.version(), "{what}");
        assert_eq!(
            b.options().as_ref().len(),
            e.options().as_ref().len(),
            "{what}"
        );
    }
    // What hickory read, written again, is the same bytes.
    assert_eq!(back.to_vec().unwrap(), ours, "{what}");
    ours
}

#[test]
fn table_of_query_shapes_matches_hickory() {
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0));
    let v4_odd = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x1234, 0x5600, 0, 0, 0, 0));
    let plain = Shape {
        name: "www.example.com.",
        qtype: 1,
        class: 1,
        ..Shape::default()
    };
    let edns = Opt {
        payload: 1232,
        ..Opt::default()
    };
    let with = |f: &dyn Fn(&mut Shape)| {
        let mut s = plain.clone();
        f(&mut s);
        s
    };
    let opt = |f: &dyn Fn(&mut Opt)| {
        let mut o = edns.clone();
        f(&mut o);
        with(&|s| s.edns = Some(o.clone()))
    };
    let long_name: &'static str = Box::leak(
        format!(
            "{}.{}.{}.{}.",
            "a".repeat(63),
            "B".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        )
        .into_boxed_str(),
    );
    let table: Vec<(&str, Shape)> = vec![
        ("no EDNS", plain.clone()),
        ("RD", with(&|s| s.rd = true)),
        ("CD", with(&|s| s.cd = true)),
        (
            "RD and CD",
            with(&|s| {
                s.rd = true;
                s.cd = true
            }),
        ),
        ("EDNS", opt(&|_| {})),
        ("EDNS, DO", opt(&|o| o.dnssec_ok = true)),
        ("EDNS, payload 4096", opt(&|o| o.payload = 4096)),
        ("EDNS, payload 512", opt(&|o| o.payload = 512)),
        ("EDNS, payload 65535", opt(&|o| o.payload = u16::MAX)),
        ("ECS v4 /24", opt(&|o| o.subnet = Some((v4, 24)))),
        ("ECS v4 /0", opt(&|o| o.subnet = Some((v4, 0)))),
        ("ECS v4 /32", opt(&|o| o.subnet = Some((v4_odd, 32)))),
        (
            "ECS v4 /21, host bits set",
            opt(&|o| o.subnet = Some((v4_odd, 21))),
        ),
        ("ECS v4 /1", opt(&|o| o.subnet = Some((v4_odd, 1)))),
        ("ECS v6 /56", opt(&|o| o.subnet = Some((v6, 56)))),
        ("ECS v6 /0", opt(&|o| o.subnet = Some((v6, 0)))),
        ("ECS v6 /128", opt(&|o| o.subnet = Some((v6, 128)))),
        ("ECS v6 /45", opt(&|o| o.subnet = Some((v6, 45)))),
        (
            "client string",
            opt(&|o| o.client_string = Some((65001, b"tern-test"))),
        ),
        (
            "empty client string",
            opt(&|o| o.client_string = Some((65001, b""))),
        ),
        (
            "client string and ECS",
            opt(&|o| {
                o.client_string = Some((65001, b"resolver \x00\xff"));
                o.subnet = Some((v4, 24));
            }),
        ),
        (
            "ECS then client string, DO",
            opt(&|o| {
                o.client_string = Some((20292, b"x"));
                o.subnet = Some((v6, 48));
                o.subnet_first = true;
                o.dnssec_ok = true;
            }),
        ),
        ("root name", with(&|s| s.name = ".")),
        (
            "root name, NS, EDNS DO",
            with(&|s| {
                s.name = ".";
                s.qtype = 2;
                s.edns = Some(Opt {
                    payload: 1232,
                    dnssec_ok: true,
                    ..Opt::default()
                });
            }),
        ),
        ("longest name", with(&|s| s.name = long_name)),
        ("mixed case", with(&|s| s.name = "wWw.ExAmPlE.CoM.")),
        ("not fully qualified", with(&|s| s.name = "www.example")),
        ("repeated labels", with(&|s| s.name = "a.a.a.example.a.")),
        (
            "escaped dot, hyphen, underscore",
            with(&|s| s.name = "a\\.b.c-d_e.example."),
        ),
        ("DS", with(&|s| s.qtype = 43)),
        ("ANY", with(&|s| s.qtype = 255)),
        ("type 0", with(&|s| s.qtype = 0)),
        ("unknown type 65280", with(&|s| s.qtype = 65280)),
        ("OPT as qtype", with(&|s| s.qtype = 41)),
        ("class CH", with(&|s| s.class = 3)),
        ("class HS", with(&|s| s.class = 4)),
        ("class NONE", with(&|s| s.class = 254)),
        ("class ANY", with(&|s| s.class = 255)),
        ("class 65535", with(&|s| s.class = 65535)),
    ];
    for (what, shape) in &table {
        check_written(&build(shape), what);
    }
    // The exact bytes of one, as RFC 1035 and RFC 6891 lay them out.
    let m = build(&opt(&|o| {
        o.dnssec_ok = true;
        o.subnet = Some((v4, 24));
    }));
    let mut want = vec![0xbe, 0xef, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    want.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    want.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 11]);
    want.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]);
    assert_eq!(write_message(&m), Some(want));
}

#[test]
fn other_header_fields_and_extended_rcode_match_hickory() {
    let mut m = build(&Shape {
        name: "example.",
        qtype: 1,
        class: 1,
        edns: Some(Opt {
            payload: 1400,
            ..Opt::default()
        }),
        ..Shape::default()
    });
    m.metadata.message_type = MessageType::Response;
    m.metadata.op_code = OpCode::Notify;
    m.metadata.authoritative = true;
    m.metadata.truncation = true;
    m.metadata.recursion_available = true;
    m.metadata.authentic_data = true;
    m.metadata.response_code = ResponseCode::BADCOOKIE;
    let e = m.edns.as_mut().unwrap();
    e.set_version(3);
    e.flags_mut().z = 0x1234;
    let ours = write_message(&m).unwrap();
    assert_eq!(ours, m.to_vec().unwrap());
    // The extended RCODE is split between the header and the OPT TTL.
    let back = Message::from_vec(&ours).unwrap();
    assert_eq!(back.metadata.response_code, ResponseCode::BADCOOKIE);
}

#[test]
fn other_messages_are_left_to_hickory() {
    let base = || {
        build(&Shape {
            name: "www.example.",
            qtype: 28,
            class: 1,
            edns: Some(Opt {
                payload: 1232,
                ..Opt::default()
            }),
            ..Shape::default()
        })
    };
    let record = Record::from_rdata(
        Name::from_ascii("www.example.").unwrap(),
        300,
        RData::A(A::new(192, 0, 2, 1)),
    );
    let mut two = base();
    two.add_query(Query::query(
        Name::from_ascii("mail.example.").unwrap(),
        RecordType::A,
    ));
    let mut none = base();
    none.queries.clear();
    let mut answer = base();
    answer.answers.push(record.clone());
    let mut authority = base();
    authority.authorities.push(record.clone());
    let mut additional = base();
    additional.additionals.push(record);
    let mut nsid = base();
    let e = nsid.edns.as_mut().unwrap();
    e.options_mut()
        .insert(EdnsOption::NSID(NSIDPayload::new([1u8, 2, 3]).unwrap()));
    let mut srv = base();
    srv.answers.push(Record::from_rdata(
        Name::from_ascii("_x._tcp.example.").unwrap(),
        300,
        RData::SRV(SRV::new(
            1,
            2,
            3,
            Name::from_ascii("host.example.").unwrap(),
        )),
    ));
    let cases = [
        ("two questions", two),
        ("no question", none),
        ("an NSID option", nsid),
        ("an SRV record", srv),
    ];
    for (what, m) in cases {
        assert_eq!(write_message(&m), None, "{what}");
        // Still encoded, by hickory, and compressed where it compresses.
        assert_eq!(encode(&m), Some(m.to_vec().unwrap()), "{what}");
    }
    // Records of addresses are written here, in any section.
    for (what, m) in [
        ("an answer", answer),
        ("an authority record", authority),
        ("an additional record", additional),
    ] {
        let ours = write_message(&m).unwrap_or_else(|| panic!("{what}: not written"));
        assert_eq!(ours, m.to_vec().unwrap(), "{what}");
    }
}

#[test]
fn what_hickory_refuses_is_refused() {
    // A source prefix longer than the address: hickory fails to encode.
    for (addr, prefix) in [
        (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)), 33),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), 129),
    ] {
        let mut m = build(&Shape {
            name: "example.",
            qtype: 1,
            class: 1,
            edns: Some(Opt {
                payload: 1232,
                ..Opt::default()
            }),
            ..Shape::default()
        });
        let e = m.edns.as_mut().unwrap();
        e.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
        assert!(m.to_vec().is_err());
        assert_eq!(write_message(&m), None);
        assert_eq!(encode(&m), None);
    }
}

/// A random label: any bytes but mostly letters, 1 to 63 long.
fn label(rng: &mut StdRng) -> Vec<u8> {
    let len = if rng.random_bool(0.1) {
        63
    } else {
        rng.random_range(1..=20)
    };
    (0..len)
        .map(|_| match rng.random_range(0..10) {
            0 => rng.random(),
            1..=3 => rng.random_range(b'A'..=b'Z'),
            _ => rng.random_range(b'a'..=b'z'),
        })
        .collect()
}

/// A random name of at most 255 bytes in wire form.
fn name(rng: &mut StdRng) -> Name {
    let mut labels = Vec::new();
    let mut wire = 1;
    for _ in 0..rng.random_range(0..12) {
        let l = label(rng);
        if wire + 1 + l.len() > 255 {
            break;
        }
        wire += 1 + l.len();
        labels.push(l);
    }
    Name::from_labels(labels).unwrap()
}

#[test]
fn generated_queries_match_hickory() {
    let mut rng = StdRng::seed_from_u64(0x7e57);
    let mut written = 0;
    for i in 0..5000 {
        let mut m = Message::new(rng.random(), MessageType::Query, OpCode::Query);
        let mut q = Query::query(name(&mut rng), RecordType::from(rng.random::<u16>()));
        let class = match rng.random_range(0..4) {
            0 => rng.random(),
            1 => 3,
            _ => 1,
        };
        q.set_query_class(DNSClass::from(class));
        m.add_query(q);
        m.metadata.recursion_desired = rng.random();
        m.metadata.checking_disabled = rng.random();
        if rng.random_bool(0.7) {
            let mut e = Edns::new();
            e.set_max_payload(rng.random());
            e.set_dnssec_ok(rng.random());
            let mut opts = Vec::new();
            if rng.random() {
                let addr = if rng.random() {
                    IpAddr::V4(Ipv4Addr::from(rng.random::<u32>()))
                } else {
                    IpAddr::V6(Ipv6Addr::from(rng.random::<u128>()))
                };
                let longest = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = rng.random_range(0..=longest);
                opts.push(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
            }
            if rng.random() {
                let text: Vec<u8> = (0..rng.random_range(0..40)).map(|_| rng.random()).collect();
                // Codes that read back as opaque bytes (not NSID, DAU,
                // subnet...).
                opts.push(EdnsOption::Unknown(rng.random_range(14..=u16::MAX), text));
            }
            if rng.random() {
                opts.reverse();
            }
            for o in opts {
                e.options_mut().insert(o);
            }
            m.set_edns(e);
        }
        check_written(&m, &format!("generated query {i}: {m:?}"));
        written += 1;
    }
    assert_eq!(written, 5000);
}

fn rec(owner: &str, data: RData) -> Record {
    Record::from_rdata(Name::from_ascii(owner).unwrap(), 3600, data)
}

fn dname(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// A reply to `qname` with `answers`, `authority` and `additional`, and
/// an OPT when `edns`.
fn reply(
    qname: &str,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
) -> Message {
    let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(dname(qname), RecordType::A));
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.answers = answers;
    m.authorities = authority;
    m.additionals = additional;
    m
}

/// Written here and the same bytes as hickory's, read back as the same
/// records.
fn check_reply(m: &Message, what: &str) -> Vec<u8> {
    let ours = write_message(m).unwrap_or_else(|| panic!("{what}: not written directly"));
    assert_eq!(ours, m.to_vec().unwrap(), "{what}");
    let back = Message::from_vec(&ours).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(back.answers, m.answers, "{what}");
    assert_eq!(back.authorities, m.authorities, "{what}");
    assert_eq!(back.additionals, m.additionals, "{what}");
    ours
}

#[test]
fn replies_are_compressed_as_hickory_compresses_them() {
    let a = |o: &str| rec(o, RData::A(A::new(192, 0, 2, 1)));
    let cname = |o: &str, t: &str| rec(o, RData::CNAME(CNAME(dname(t))));
    let ns = |o: &str, t: &str| rec(o, RData::NS(NS(dname(t))));
    let cases = [
        (
            "one address",
            reply("www.example.", vec![a("www.example.")], vec![], vec![]),
        ),
        (
            "an owner in another case is not compressed to the question",
            reply("www.example.", vec![a("WWW.example.")], vec![], vec![]),
        ),
        (
            "a chain through another zone",
            reply(
                "cdn.example.",
                vec![
                    cname("cdn.example.", "d1-example.edge.host.net."),
                    cname("d1-example.edge.host.net.", "e.edge.host.net."),
                    rec(
                        "e.edge.host.net.",
                        RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                    ),
                ],
                vec![],
                vec![],
            ),
        ),
        (
            "a delegation with glue",
            reply(
                "www.d1.test.",
                vec![],
                vec![
                    ns("d1.test.", "ns1.d1.test."),
                    ns("d1.test.", "ns2.d1.test."),
                ],
                vec![a("ns1.d1.test."), a("ns2.d1.test.")],
            ),
        ),
        (
            "a reverse name",
            reply(
                "1.2.0.192.in-addr.arpa.",
                vec![rec(
                    "1.2.0.192.in-addr.arpa.",
                    RData::PTR(PTR(dname("host.example."))),
                )],
                vec![],
                vec![],
            ),
        ),
        (
            "the root as owner and as target",
            reply(
                ".",
                vec![ns(".", "a.root-servers.net."), cname("x.", ".")],
                vec![],
                vec![],
            ),
        ),
    ];
    for (what, m) in cases {
        check_reply(&m, what);
        let mut with_opt = m.clone();
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(true);
        with_opt.set_edns(e);
        check_reply(&with_opt, &format!("{what}, with OPT"));
    }
}

#[test]
fn many_names_and_long_replies_keep_hickorys_limits() {
    // More than 64 remembered suffixes, more than 120 names, and names
    // past offset 0x3FFF (which cannot be pointed to).
    let long = "a".repeat(60);
    let mut answers = Vec::new();
    for i in 0..250 {
        let owner = format!("{long}.n{}.z{}.example.", i, i % 7);
        answers.push(rec(&owner, RData::A(A::new(192, 0, 2, (i % 250) as u8))));
        answers.push(rec(
            &format!("c{i}.example."),
            RData::CNAME(CNAME(dname(&owner))),
        ));
    }
    let m = reply("q.example.", answers, vec![], vec![]);
    let bytes = check_reply(&m, "500 records");
    assert!(bytes.len() > 0x4000, "{} bytes", bytes.len());
}

#[test]
fn generated_replies_match_hickory() {
    let mut rng = StdRng::seed_from_u64(0x5e1f);
    for i in 0..2000 {
        // Names from a small pool, so that suffixes repeat.
        let pool: Vec<Name> = (0..rng.random_range(1..8))
            .map(|_| name(&mut rng))
            .collect();
        let pick = |rng: &mut StdRng| {
            let base = pool[rng.random_range(0..pool.len())].clone();
            if rng.random_bool(0.4) {
                // A child of a pooled name, when it fits.
                let child = Name::from_labels(vec![label(rng)]).unwrap();
                child.append_name(&base).unwrap_or(base)
            } else {
                base
            }
        };
        let record = |rng: &mut StdRng| {
            let owner = pick(rng);
            let data = match rng.random_range(0..8) {
                0 => RData::A(A::from(Ipv4Addr::from(rng.random::<u32>()))),
                1 => RData::AAAA(AAAA::from(Ipv6Addr::from(rng.random::<u128>()))),
                2 => RData::CNAME(CNAME(pick(rng))),
                3 => RData::NS(NS(pick(rng))),
                4 => RData::MX(MX::new(rng.random(), pick(rng))),
                5 => RData::SOA(SOA::new(
                    pick(rng),
                    pick(rng),
                    rng.random(),
                    rng.random(),
                    rng.random(),
                    rng.random(),
                    rng.random(),
                )),
                6 => {
                    let strings: Vec<Vec<u8>> = (0..rng.random_range(1..4))
                        .map(|_| (0..rng.random_range(0..80)).map(|_| rng.random()).collect())
                        .collect();
                    RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
                }
                _ => RData::PTR(PTR(pick(rng))),
            };
            let mut r = Record::from_rdata(owner, rng.random(), data);
            r.dns_class = DNSClass::from(if rng.random_bool(0.9) { 1 } else { 3 });
            r
        };
        let section = |rng: &mut StdRng| {
            let n = rng.random_range(0..6);
            (0..n).map(|_| record(rng)).collect::<Vec<_>>()
        };
        let (an, ns, ar) = (section(&mut rng), section(&mut rng), section(&mut rng));
        let mut m = Message::new(rng.random(), MessageType::Response, OpCode::Query);
        let mut q = Query::query(pick(&mut rng), RecordType::A);
        q.set_query_class(DNSClass::IN);
        m.add_query(q);
        m.metadata.authoritative = rng.random();
        m.metadata.truncation = rng.random();
        m.metadata.response_code = ResponseCode::from(0, rng.random_range(0..6));
        m.answers = an;
        m.authorities = ns;
        m.additionals = ar;
        if rng.random() {
            let mut e = Edns::new();
            e.set_max_payload(rng.random());
            m.set_edns(e);
        }
        check_reply(&m, &format!("generated reply {i}: {m:?}"));
    }
}
