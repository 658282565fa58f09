//! `tern auth` serving signed zones (RFC 4035 §3.1, RFC 5155 §7.2): with
//! DO=1 answers carry RRSIGs, negative answers and referrals their NSEC /
//! NSEC3 proofs or DS; with DO=0 none of it. Zones signed by our signer
//! (signatures checked with hickory's verifier) and by `ldns-signzone`
//! (NSEC and NSEC3), the latter compared record type by record type with
//! NSD serving the same file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::nsd::{NsdServer, NsdTree};
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::{Algorithm, PublicKey, Verifier};
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tern::dnssec::sign::{sign_zone, ZoneKeys};
use tern::zone::answer::{answer, make_query};
use tern::zone::file::read_zone_file;
use tern::zone::{Zone, ZoneSet};

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@        SOA ns1 hostmaster 1 3600 900 604800 300
         NS  ns1
ns1      A   192.0.2.1
www      A   192.0.2.2
         TXT \"hello\"
alias    CNAME www
*.wild   TXT \"wild\"
a.b.c    A   192.0.2.3
sub      NS  ns.sub
sub      DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub   A   192.0.2.4
open     NS  ns.open
ns.open  A   192.0.2.5
";

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-auth-dnssec-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ask(z: &ZoneSet, name: &str, t: RecordType, dnssec_ok: bool) -> Message {
    let mut q = make_query(1, Name::from_ascii(name).unwrap(), t, true);
    if let Some(e) = q.edns.as_mut() {
        e.set_dnssec_ok(dnssec_ok);
    }
    answer(z, &q, "127.0.0.1".parse().unwrap(), None)
}

/// (owner, type) of a section, RRSIGs as "RRSIG/covered".
fn shape(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
                format!("{} RRSIG/{}", r.name.to_lowercase(), s.input().type_covered)
            }
            _ => format!("{} {}", r.name.to_lowercase(), r.record_type()),
        })
        .collect()
}

fn has(records: &[Record], what: &str) -> bool {
    shape(records).contains(what)
}

/// Our signer's zone, loaded like a zone file.
fn self_signed() -> (ZoneSet, ZoneKeys) {
    let d = dir("self");
    let path = d.join("example.test.zone");
    std::fs::write(&path, ZONE).unwrap();
    let apex = Name::from_ascii("example.test.").unwrap();
    let records: Vec<Record> = read_zone_file(&path, None)
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    let keys = ZoneKeys::generate(&apex, Algorithm::ECDSAP256SHA256).unwrap();
    let now = 1_800_000_000;
    let signed = sign_zone(&apex, records, &keys, now - 3600, now + 86_400).unwrap();
    // Round trip through zone-file text, as a signed file would be read.
    let text: String = signed
        .iter()
        .map(|r| {
            format!(
                "{} {} IN {} {}\n",
                r.name,
                r.ttl,
                r.record_type(),
                rdata_text(r)
            )
        })
        .collect();
    let signed_path = d.join("example.test.signed");
    std::fs::write(&signed_path, text).unwrap();
    let zone = Zone::load(&signed_path, None).unwrap();
    (ZoneSet::new(vec![zone]).unwrap(), keys)
}

/// Presentation RDATA; hickory prints RRSIG/DNSKEY/DS algorithms as names,
/// so those are written by hand.
fn rdata_text(r: &Record) -> String {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
            let i = s.input();
            format!(
                "{} {} {} {} {} {} {} {} {}",
                i.type_covered,
                u8::from(i.algorithm),
                i.num_labels,
                i.original_ttl,
                i.sig_expiration.get(),
                i.sig_inception.get(),
                i.key_tag,
                i.signer_name,
                b64(s.sig())
            )
        }
        RData::DNSSEC(DNSSECRData::DNSKEY(k)) => format!(
            "{} 3 {} {}",
            k.flags(),
            u8::from(k.public_key().algorithm()),
            b64(k.public_key().public_bytes())
        ),
        RData::DNSSEC(DNSSECRData::DS(ds)) => format!(
            "{} {} {} {}",
            ds.key_tag(),
            u8::from(ds.algorithm()),
            u8::from(ds.digest_type()),
            ds.digest()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
        d => d.to_string(),
    }
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, b| (a << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn signed_answers_carry_rrsigs_only_with_do() {
    let (z, keys) = self_signed();
    let r = ask(&z, "www.example.test.", RecordType::A, true);
    assert!(has(&r.answers, "www.example.test. RRSIG/A"), "{r:?}");
    let sig = r
        .answers
        .iter()
        .find_map(|x| match &x.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    let name = Name::from_ascii("www.example.test.").unwrap();
    let set: Vec<&Record> = r
        .answers
        .iter()
        .filter(|x| x.record_type() == RecordType::A)
        .collect();
    keys.zsk
        .dnskey()
        .verify_rrsig(&name, DNSClass::IN, &sig, set.into_iter())
        .unwrap();
    let plain = ask(&z, "www.example.test.", RecordType::A, false);
    assert_eq!(
        shape(&plain.answers),
        ["www.example.test. A".to_string()].into()
    );
    for (n, t) in [
        ("nope.example.test.", RecordType::A),
        ("www.example.test.", RecordType::MX),
    ] {
        let p = ask(&z, n, t, false);
        assert_eq!(
            shape(&p.authorities),
            ["example.test. SOA".to_string()].into()
        );
    }
    let dnskey = ask(&z, "example.test.", RecordType::DNSKEY, true);
    assert!(has(&dnskey.answers, "example.test. DNSKEY"));
    assert!(has(&dnskey.answers, "example.test. RRSIG/DNSKEY"));
    let nsec = ask(&z, "www.example.test.", RecordType::NSEC, false);
    assert!(has(&nsec.answers, "www.example.test. NSEC"), "{nsec:?}");
}

#[test]
fn negative_answers_and_referrals_carry_their_proofs() {
    let (z, _) = self_signed();
    let nx = ask(&z, "nope.example.test.", RecordType::A, true);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let auth = shape(&nx.authorities);
    assert!(auth.contains("example.test. RRSIG/SOA"), "{auth:?}");
    // a.b.c < nope < ns1 (RFC 4034 §6.1 orders by the rightmost label);
    // the apex NSEC covers *.example.test.
    assert!(auth.contains("a.b.c.example.test. NSEC"), "{auth:?}");
    assert!(auth.contains("example.test. NSEC"), "{auth:?}");
    let nodata = ask(&z, "www.example.test.", RecordType::MX, true);
    assert!(has(&nodata.authorities, "www.example.test. NSEC"));
    assert!(has(&nodata.authorities, "www.example.test. RRSIG/NSEC"));
    let ent = ask(&z, "b.c.example.test.", RecordType::A, true);
    assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
    assert!(has(&ent.authorities, "alias.example.test. NSEC"), "{ent:?}");
    let wild = ask(&z, "x.wild.example.test.", RecordType::TXT, true);
    let sig = wild
        .answers
        .iter()
        .find_map(|x| match &x.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
                Some((x.name.to_string(), s.input().num_labels))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(sig, ("x.wild.example.test.".to_string(), 3));
    // *.wild < x.wild < www: the wildcard's own NSEC shows no closer name.
    assert!(
        has(&wild.authorities, "*.wild.example.test. NSEC"),
        "{wild:?}"
    );
    let secure = ask(&z, "host.sub.example.test.", RecordType::A, true);
    let auth = shape(&secure.authorities);
    for want in [
        "sub.example.test. NS",
        "sub.example.test. DS",
        "sub.example.test. RRSIG/DS",
    ] {
        assert!(auth.contains(want), "{auth:?}");
    }
    assert!(!auth.contains("sub.example.test. RRSIG/NS"));
    let insecure = ask(&z, "host.open.example.test.", RecordType::A, true);
    let auth = shape(&insecure.authorities);
    assert!(auth.contains("open.example.test. NSEC"), "{auth:?}");
    assert!(auth.contains("open.example.test. RRSIG/NSEC"), "{auth:?}");
    assert!(!auth.contains("open.example.test. DS"));
    let plain = ask(&z, "host.sub.example.test.", RecordType::A, false);
    assert_eq!(
        shape(&plain.authorities),
        ["sub.example.test. NS".to_string()].into()
    );
}

/// Signs ZONE with ldns-signzone (NSEC, or NSEC3 with `extra` options).
fn ldns_signed(d: &Path, extra: &[&str]) -> PathBuf {
    let zone = d.join("example.test.zone");
    std::fs::write(&zone, ZONE).unwrap();
    let keygen = |ksk: bool| {
        let mut c = Command::new("ldns-keygen");
        c.current_dir(d).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        let out = c
            .arg("example.test.")
            .output()
            .expect("ldns-keygen is not installed (apt-get install ldnsutils)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (ksk, zsk) = (keygen(true), keygen(false));
    let status = Command::new("ldns-signzone")
        .current_dir(d)
        .args(extra)
        .args(["-f", "signed.zone", "example.test.zone", &ksk, &zsk])
        .status()
        .unwrap();
    assert!(status.success());
    d.join("signed.zone")
}

/// A DO=1 query over UDP.
fn udp_do(server: SocketAddr, name: &str, t: RecordType) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut q = make_query(7, Name::from_ascii(name).unwrap(), t, false);
    let mut e = Edns::new();
    e.set_max_payload(4096);
    e.set_dnssec_ok(true);
    q.edns = Some(e);
    s.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

const QUERIES: &[(&str, RecordType)] = &[
    ("www.example.test.", RecordType::A),
    ("www.example.test.", RecordType::MX),
    ("nope.example.test.", RecordType::A),
    ("x.y.nope.example.test.", RecordType::TXT),
    ("alias.example.test.", RecordType::A),
    ("x.wild.example.test.", RecordType::TXT),
    ("x.wild.example.test.", RecordType::A),
    ("b.c.example.test.", RecordType::A),
    ("host.sub.example.test.", RecordType::A),
    ("host.open.example.test.", RecordType::A),
    ("sub.example.test.", RecordType::DS),
    ("open.example.test.", RecordType::DS),
    ("example.test.", RecordType::DNSKEY),
    ("example.test.", RecordType::NSEC3PARAM),
];

fn compare_with_nsd(tag: &str, addr: &str, extra: &[&str]) {
    let d = dir(tag);
    let signed = ldns_signed(&d, extra);
    let zone = Zone::load(&signed, None).unwrap();
    let z = ZoneSet::new(vec![zone]).unwrap();
    let text = std::fs::read_to_string(&signed).unwrap();
    let ip: IpAddr = addr.parse().unwrap();
    let _nsd = NsdTree::start(&[NsdServer::new(
        "ns1.example.test.",
        &[addr],
        &[("example.test.", &text)],
    )
    .port(5353)]);
    for (name, t) in QUERIES {
        let theirs = udp_do(SocketAddr::new(ip, 5353), name, *t);
        let ours = ask(&z, name, *t, true);
        let what = format!("{tag} {name} {t}");
        assert_eq!(
            ours.metadata.response_code, theirs.metadata.response_code,
            "{what}"
        );
        assert_eq!(
            ours.metadata.authoritative, theirs.metadata.authoritative,
            "{what}"
        );
        assert_eq!(
            shape(&ours.answers),
            shape(&theirs.answers),
            "{what} answers"
        );
        // NSD also puts the apex NS set (and its RRSIG) beside answers.
        let mut theirs_auth = shape(&theirs.authorities);
        if !ours.answers.is_empty() {
            theirs_auth.remove("example.test. NS");
            theirs_auth.remove("example.test. RRSIG/NS");
        }
        assert_eq!(shape(&ours.authorities), theirs_auth, "{what} authority");
    }
    drop(_nsd);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ldns_signed_nsec_zone_answers_like_nsd() {
    compare_with_nsd("nsec", "127.93.0.1", &[]);
}

#[test]
fn ldns_signed_nsec3_zone_answers_like_nsd() {
    compare_with_nsd("nsec3", "127.93.0.2", &["-n", "-t", "0"]);
}

#[test]
fn ldns_signed_nsec3_opt_out_zone_answers_like_nsd() {
    compare_with_nsd("optout", "127.93.0.3", &["-n", "-p", "-t", "0"]);
}
