//! Zone loading: every load-time check names the file and the right line,
//! and a bad zone loads nothing (RFC 1035 §5, RFC 1034 §4.2.1, §3.6.2).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use hickory_proto::rr::{Name, RecordType};
use tern::zone::{Zone, ZoneErrorKind, ZoneSet};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-auth-zone-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(d: &Path, file: &str, text: &str) -> PathBuf {
    let p = d.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = "$ORIGIN example.lab.
$TTL 300
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        3600 900 604800 60 )
    IN NS ns1
ns1 IN A 127.1.0.1
www IN A 192.0.2.1
";

#[test]
fn good_zone_loads_with_relative_names() {
    let d = dir("good");
    let p = write(&d, "example.lab.zone", GOOD);
    let z = Zone::load(&p, None).unwrap();
    assert_eq!(z.origin(), &Name::from_ascii("example.lab.").unwrap());
    let www = z.rrset(
        &Name::from_ascii("www.example.lab.").unwrap(),
        RecordType::A,
    );
    assert_eq!(www.unwrap().len(), 1);
    assert_eq!(z.negative_ttl(), Some(60));
    // the blank-owner NS belongs to the apex
    assert!(z.rrset(z.origin(), RecordType::NS).is_some());
}

#[test]
fn missing_soa_names_file_and_first_record_line() {
    let d = dir("nosoa");
    let p = write(
        &d,
        "nosoa.zone",
        "; no soa here\n$ORIGIN nosoa.lab.\n$TTL 60\n\n@ NS ns1\nns1 A 127.0.0.1\n",
    );
    let e = Zone::load(&p, Some(Name::from_ascii("nosoa.lab.").unwrap())).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::MissingSoa), "{e}");
    assert_eq!(e.line, 5);
    let msg = e.to_string();
    assert!(msg.contains("nosoa.zone:5:"), "{msg}");
}

#[test]
fn cname_and_other_data_points_at_the_second_record() {
    let d = dir("cname");
    let text = format!("{GOOD}alias CNAME www\nmail A 192.0.2.9\nalias TXT \"oops\"\n");
    let p = write(&d, "example.lab.zone", &text);
    let e = Zone::load(&p, None).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::CnameAndOtherData(_)), "{e}");
    assert_eq!(e.line, 11);
    assert!(e.to_string().contains("example.lab.zone:11:"), "{e}");
}

#[test]
fn glue_outside_the_zone_is_an_error() {
    let d = dir("outside");
    let text = format!("{GOOD}sub NS ns.other.lab.\nns.other.lab. A 127.9.9.9\n");
    let p = write(&d, "example.lab.zone", &text);
    let e = Zone::load(&p, None).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::OutOfZone { .. }), "{e}");
    assert_eq!(e.line, 10);
    assert!(e.to_string().contains("example.lab.zone:10:"), "{e}");
}

#[test]
fn non_glue_below_a_cut_is_an_error() {
    let d = dir("belowcut");
    let text = format!("{GOOD}sub NS ns.sub\nns.sub A 127.9.9.9\nwww.sub TXT \"hidden\"\n");
    let p = write(&d, "example.lab.zone", &text);
    let e = Zone::load(&p, None).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::BelowCut { .. }), "{e}");
    assert_eq!(e.line, 11);
}

#[test]
fn syntax_error_names_its_line() {
    let d = dir("syntax");
    let text = format!("{GOOD}bad IN A 300.1.2.3\n");
    let p = write(&d, "example.lab.zone", &text);
    let e = Zone::load(&p, None).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.line, 9);
    assert!(e.to_string().contains("example.lab.zone:9:"), "{e}");
    let text = format!("{GOOD}x IN BOGUSTYPE foo\n");
    let p = write(&d, "example.lab.zone", &text);
    let e = Zone::load(&p, None).unwrap_err();
    assert_eq!(e.line, 9, "{e}");
}

#[test]
fn missing_apex_ns_is_an_error() {
    let d = dir("nons");
    let p = write(
        &d,
        "x.zone",
        "$ORIGIN x.lab.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nns A 127.0.0.1\n",
    );
    let e = Zone::load(&p, None).unwrap_err();
    assert!(matches!(e.kind, ZoneErrorKind::MissingApexNs(_)), "{e}");
    assert_eq!(e.line, 3);
}

#[test]
fn include_reports_the_included_file_and_restores_origin() {
    let d = dir("include");
    write(&d, "hosts.inc", "a A 192.0.2.10\n\nb A 192.0.2.999\n");
    let main = format!("{GOOD}$INCLUDE hosts.inc sub.example.lab.\nc A 192.0.2.11\n");
    let p = write(&d, "example.lab.zone", &main);
    let e = Zone::load(&p, None).unwrap_err();
    assert!(e.to_string().contains("hosts.inc:3:"), "{e}");
    write(&d, "hosts.inc", "a A 192.0.2.10\n");
    let z = Zone::load(&p, None).unwrap();
    assert!(z
        .rrset(
            &Name::from_ascii("a.sub.example.lab.").unwrap(),
            RecordType::A
        )
        .is_some());
    assert!(z
        .rrset(&Name::from_ascii("c.example.lab.").unwrap(), RecordType::A)
        .is_some());
}

#[test]
fn a_directory_with_one_bad_zone_loads_nothing() {
    let d = dir("set");
    write(&d, "a.zone", GOOD);
    write(&d, "b.zone", "$ORIGIN b.lab.\n$TTL 60\n@ NS ns\n");
    let e = ZoneSet::load_paths(std::slice::from_ref(&d)).unwrap_err();
    assert!(e.to_string().contains("b.zone:3:"), "{e}");
    std::fs::remove_file(d.join("b.zone")).unwrap();
    let set = ZoneSet::load_paths(&[d]).unwrap();
    assert_eq!(set.zones().len(), 1);
}

#[test]
fn absolute_names_load_without_origin() {
    let d = dir("absolute");
    let text = "$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 60
example.test. IN NS ns1.example.test.
example.test. IN MX 10 mail.example.test.
ns1.example.test. IN A 192.0.2.1
www.example.test. 60 IN CNAME example.test.
";
    let p = write(&d, "example.test.zone", text);
    let z = Zone::load(&p, None).unwrap();
    assert_eq!(z.origin(), &Name::from_ascii("example.test.").unwrap());
    let ns1 = Name::from_ascii("ns1.example.test.").unwrap();
    assert!(z.rrset(&ns1, RecordType::A).is_some());
    let www = Name::from_ascii("www.example.test.").unwrap();
    assert_eq!(z.rrset(&www, RecordType::CNAME).unwrap()[0].ttl, 60);
}

#[test]
fn relative_names_without_origin_name_the_line() {
    let d = dir("relative");
    let head = "$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 60
";
    for (bad, word) in [
        ("www IN A 192.0.2.1\n", "www"),
        ("example.test. IN NS ns1\n", "ns1"),
        ("@ IN NS ns1.example.test.\n", "@"),
        ("example.test. IN MX 10 mail\n", "mail"),
    ] {
        let p = write(&d, "example.test.zone", &format!("{head}{bad}"));
        let e = Zone::load(&p, None).unwrap_err();
        assert_eq!(e.line, 3, "{bad}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("{word} is a relative name")),
            "{text}"
        );
        assert!(text.contains("no $ORIGIN"), "{text}");
    }
}

#[test]
fn include_errors_name_the_including_file_and_line() {
    let d = dir("include-chain");
    // GOOD is eight lines: the $INCLUDE is line 9 of the zone file.
    let main = format!("{GOOD}$INCLUDE hosts.inc\n");
    let p = write(&d, "example.lab.zone", &main);
    write(&d, "hosts.inc", "a A 192.0.2.10\n$INCLUDE more.inc\n");
    write(&d, "more.inc", "b A 192.0.2.11\nc A 300.0.0.1\n");
    let e = Zone::load(&p, None).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("more.inc:2:"), "{text}");
    assert!(
        text.contains("(included from ")
            && text.contains("hosts.inc:2, from ")
            && text.contains("example.lab.zone:9)"),
        "{text}"
    );
    // A missing file is an error at its $INCLUDE line too.
    std::fs::remove_file(d.join("more.inc")).unwrap();
    let text = Zone::load(&p, None).unwrap_err().to_string();
    assert!(text.contains("more.inc:0: cannot read"), "{text}");
    assert!(text.contains("hosts.inc:2"), "{text}");
    // A load check failing on an included record says where it came from.
    write(&d, "hosts.inc", "www CNAME a\n");
    let text = Zone::load(&p, None).unwrap_err().to_string();
    assert!(text.contains("hosts.inc:1:"), "{text}");
    assert!(text.contains("(included from "), "{text}");
    assert!(text.contains("example.lab.zone:9)"), "{text}");
}
