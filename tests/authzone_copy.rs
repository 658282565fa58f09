//! Auth zones (`tern::authzone`): how a copy is read (records outside the
//! zone left out, a missing apex SOA tolerated, errors with file and line),
//! which copy holds a name, the ZONEMD check (RFC 8976: a digest made by
//! another implementation verifies, a changed digest, serial or zone does
//! not, unknown algorithms pass, absence fails only when asked), and the
//! `[[resolver.auth_zone]]` config keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tern::authzone::zonemd::{self, ZonemdError};
use tern::authzone::{AuthZones, LocalCopy, Unusable};
use tern::config::{load_file, load_str, AuthZone};

/// A zone whose SHA-512 ZONEMD digest was computed by Unbound's tooling
/// (Unbound's testdata/auth_zonemd_file.rpl).
const SIGNED_DIGEST_ZONE: &str = "example.com. IN SOA ns.example.com. hostmaster.example.com. 200154054 28800 7200 604800 3600
example.com. IN NS ns.example.com.
example.com. IN ZONEMD 200154054 1 2 EFAA5B78B38AB1C45DE57B8167BCCE906451D0E72118E1F5E80B5F0C3CF04BFFC65D53C011185528EAD439D6F3A02F511961E090E5E4E0DFA013BD276D728B22
www.example.com. IN A 127.0.0.1
ns.example.com. IN A 127.0.0.1
bar.example.com. IN A 1.2.3.4
ding.example.com. IN A 1.2.3.4
foo.example.com. IN A 1.2.3.4
";

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn dir(tag: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("authzone-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn zone_config(file: &Path, origin: &str) -> AuthZone {
    AuthZone {
        name: name(origin),
        zonefile: file.to_path_buf(),
        for_downstream: true,
        for_upstream: true,
        fallback_enabled: false,
        zonemd_check: true,
        zonemd_reject_absent: false,
        zonemd_permissive: false,
    }
}

fn copy_of(tag: &str, text: &str, origin: &str) -> LocalCopy {
    let d = dir(tag);
    let f = d.join("zone");
    std::fs::write(&f, text).unwrap();
    LocalCopy::load(&zone_config(&f, origin))
}

fn zonemd_problem(copy: &LocalCopy) -> Option<String> {
    match copy.problem() {
        None => None,
        Some(Unusable::Zonemd { why, .. }) => Some(why.clone()),
        Some(other) => panic!("not a ZONEMD problem: {other}"),
    }
}

#[test]
fn digest_from_another_implementation_verifies() {
    let copy = copy_of("good", SIGNED_DIGEST_ZONE, "example.com.");
    assert_eq!(zonemd_problem(&copy), None);
    let zone = copy.zone().unwrap();
    let records = zonemd::records(zone).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].scheme, records[0].hash), (1, 2));
    assert_eq!(zonemd::digest(zone, 1).unwrap().unwrap().len(), 48);
    assert_eq!(zonemd::digest(zone, 2).unwrap().unwrap(), records[0].digest);
    assert_eq!(zonemd::digest(zone, 9).unwrap(), None);
}

#[test]
fn changed_digest_serial_or_data_fails() {
    let wrong = SIGNED_DIGEST_ZONE.replace("76D728B22", "76D7AAAAA");
    let copy = copy_of("wrong-digest", &wrong, "example.com.");
    assert!(copy.zone().is_none());
    assert!(zonemd_problem(&copy).unwrap().contains("does not match"));

    let serial = SIGNED_DIGEST_ZONE.replace("ZONEMD 200154054", "ZONEMD 200154055");
    let copy = copy_of("wrong-serial", &serial, "example.com.");
    assert!(zonemd_problem(&copy).unwrap().contains("serial"));

    // One more record: the digest no longer covers the zone.
    let more = format!("{SIGNED_DIGEST_ZONE}extra.example.com. IN A 1.2.3.5\n");
    let copy = copy_of("more-data", &more, "example.com.");
    assert!(zonemd_problem(&copy).unwrap().contains("does not match"));

    // Case and TTL of the owner: canonical form lowercases the owner,
    // while a TTL is part of the digest.
    let upper = SIGNED_DIGEST_ZONE.replace("www.example.com.", "WWW.Example.COM.");
    assert_eq!(
        zonemd_problem(&copy_of("case", &upper, "example.com.")),
        None
    );
    let ttl = SIGNED_DIGEST_ZONE.replace("www.example.com. IN A", "www.example.com. 60 IN A");
    assert!(zonemd_problem(&copy_of("ttl", &ttl, "example.com.")).is_some());
}

#[test]
fn unknown_algorithm_passes_and_absence_fails_only_when_asked() {
    let unknown = SIGNED_DIGEST_ZONE.replace("ZONEMD 200154054 1 2", "ZONEMD 200154054 1 241");
    let copy = copy_of("unknown", &unknown, "example.com.");
    assert_eq!(zonemd_problem(&copy), None);

    let absent: String = SIGNED_DIGEST_ZONE
        .lines()
        .filter(|l| !l.contains("ZONEMD"))
        .map(|l| format!("{l}\n"))
        .collect();
    let d = dir("absent");
    let f = d.join("zone");
    std::fs::write(&f, &absent).unwrap();
    let mut cfg = zone_config(&f, "example.com.");
    assert!(LocalCopy::load(&cfg).problem().is_none());
    cfg.zonemd_reject_absent = true;
    let copy = LocalCopy::load(&cfg);
    assert_eq!(
        zonemd_problem(&copy).unwrap(),
        ZonemdError::Absent.to_string()
    );
    // Permissive: logged, and used.
    cfg.zonemd_permissive = true;
    assert!(LocalCopy::load(&cfg).zone().is_some());
}

#[test]
fn a_copy_is_read_leniently_but_syntax_errors_name_file_and_line() {
    // No SOA at the apex, a record outside the zone, a record below a cut
    // and no TTL: still a usable copy.
    let text = "www.example.net. A 192.0.2.1\nother.test. A 192.0.2.9\n\
                sub.example.net. NS ns.sub.example.net.\nx.sub.example.net. TXT hidden\n";
    let copy = copy_of("lenient", text, "example.net.");
    let zone = copy.zone().expect("usable");
    assert!(zone.soa().is_none());
    assert!(zone.rrset(&name("other.test."), RecordType::A).is_none());
    assert_eq!(
        zone.rrset(&name("www.example.net."), RecordType::A)
            .unwrap()[0]
            .ttl,
        3600
    );
    // The copy answers what it holds: a referral at the cut, NXDOMAIN
    // without an SOA elsewhere.
    let r = copy
        .resolver_answer(&name("x.sub.example.net."), RecordType::TXT, DNSClass::IN)
        .unwrap();
    assert!(!r.metadata.authoritative);
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    let r = copy
        .resolver_answer(&name("no.example.net."), RecordType::A, DNSClass::IN)
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.authorities.is_empty());

    let copy = copy_of(
        "syntax",
        "$TTL 60\nwww.example.net. A 192.0.2.1\nbad.example.net. A 300.1.1.1\n",
        "example.net.",
    );
    let Some(Unusable::Load(e)) = copy.problem() else {
        panic!("{:?}", copy.problem());
    };
    assert_eq!(e.line, 3, "{e}");
    assert!(e.to_string().contains("zone:3:"), "{e}");
    let d = dir("check");
    let f = d.join("broken.zone");
    std::fs::write(&f, "$TTL 60\nwww.example.net. A nope\n").unwrap();
    let e = AuthZones::check(&[zone_config(&f, "example.net.")]).unwrap_err();
    assert!(e.to_string().contains("broken.zone:2:"), "{e}");
}

#[test]
fn the_deepest_zone_holds_a_name_and_roles_are_separate() {
    let d = dir("roles");
    let outer = d.join("outer");
    let inner = d.join("inner");
    std::fs::write(
        &outer,
        "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
    )
    .unwrap();
    std::fs::write(
        &inner,
        "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.2\n",
    )
    .unwrap();
    let mut a = zone_config(&outer, "example.");
    a.for_upstream = false;
    let mut b = zone_config(&inner, "deep.example.");
    b.for_downstream = false;
    let zones = AuthZones::load(&[a, b]);
    let n = name("www.deep.example.");
    assert_eq!(zones.for_downstream(&n).unwrap().name(), &name("example."));
    assert_eq!(
        zones.for_upstream(&n).unwrap().name(),
        &name("deep.example.")
    );
    assert!(zones.for_upstream_at(&name("example.")).is_none());
    assert!(zones.for_upstream(&name("www.other.")).is_none());
    // Each copy has its own stand-in address.
    assert_ne!(zones.copies()[0].address, zones.copies()[1].address);
}

#[test]
fn auth_zone_config_keys() {
    let d = dir("config");
    let f = d.join("t.toml");
    std::fs::write(
        &f,
        "[[resolver.auth_zone]]\nname = \"example.org\"\nzonefile = \"z/example.org.zone\"\n\
         for_upstream = false\nzonemd_check = true\n",
    )
    .unwrap();
    let c = load_file(&f).unwrap();
    let z = &c.resolver.auth_zones[0];
    assert_eq!(z.name, name("example.org."));
    assert_eq!(z.zonefile, d.join("z/example.org.zone"));
    assert!(z.for_downstream && !z.for_upstream && !z.fallback_enabled);
    assert!(z.zonemd_check && !z.zonemd_reject_absent && !z.zonemd_permissive);

    let e = load_str(
        "[[resolver.auth_zone]]\nname = \"a.\"\nzonefile = \"f\"\nfor_downstream = false\nfor_upstream = false\n",
        "bad.toml",
    )
    .unwrap_err();
    assert_eq!(
        (e.line(), e.key()),
        (Some(2), Some("resolver.auth_zone")),
        "{e}"
    );
    let e = load_str(
        "[[resolver.auth_zone]]\nname = \"a.\"\nzonefile = \"f\"\n[[resolver.auth_zone]]\nname = \"A.\"\nzonefile = \"g\"\n",
        "bad.toml",
    )
    .unwrap_err();
    assert_eq!(e.line(), Some(5), "{e}");
    let e = load_str(
        "[[resolver.auth_zone]]\nname = \"a.\"\nzonefile = \"f\"\nfallback = true\n",
        "bad.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("fallback"), "{e}");
}
