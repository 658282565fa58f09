//! Tests for `anchors`: the built-in root, the parser and its errors, the
//! config, closest and negative anchors.

use super::*;
use hickory_proto::rr::RecordType;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn syntax_error(text: &str) -> (usize, String) {
    match parse(text, "anchors.txt") {
        Err(AnchorError::Syntax {
            label,
            line,
            message,
        }) => {
            assert_eq!(label, "anchors.txt");
            (line, message)
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn built_in_root_has_both_ksks() {
    let tags: Vec<u16> = root_ksks()
        .iter()
        .map(|k| k.calculate_key_tag().unwrap())
        .collect();
    assert_eq!(tags, vec![20326, 38696]);
    let anchors = TrustAnchors::built_in_root();
    let root = anchors.get(&Name::root()).unwrap();
    assert!(root.keys.is_empty());
    let ds: Vec<(u16, u8, u8, String)> = root
        .ds
        .iter()
        .map(|d| {
            let hex = data_encoding::HEXUPPER.encode(d.digest());
            (
                d.key_tag(),
                u8::from(d.algorithm()),
                u8::from(d.digest_type()),
                hex,
            )
        })
        .collect();
    // The digests IANA publishes in root-anchors.xml (RFC 7958).
    assert_eq!(
        ds,
        vec![
            (
                20326,
                8,
                2,
                "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D".to_string()
            ),
            (
                38696,
                8,
                2,
                "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16".to_string()
            ),
        ]
    );
}

#[test]
fn parses_zone_file_syntax() {
    let text = "\
; a comment line

$TTL 600
example.com. IN DS 2854 3 1 46e4ffc6e9a4793b488954bd3f0cc6af0dfb201b ; trailing comment
\"sub.example.com.    3600    IN      DS      30899 RSASHA1 1 f7ed618f24d5e5202927e1d27bc2e84a141cb4b3\"
example.net. 100 DNSKEY 257 3 15 (
        l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= ; the key
        )
Example.ORG DS 1 ED25519 2 ( 0123456789abcdef0123456789abcdef
                              0123456789ABCDEF0123456789ABCDEF )
";
    let records = parse(text, "anchors.txt").unwrap();
    let summary: Vec<(String, u32, RecordType)> = records
        .iter()
        .map(|r| (r.name.to_ascii(), r.ttl, r.record_type()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("example.com.".to_string(), 600, RecordType::DS),
            ("sub.example.com.".to_string(), 3600, RecordType::DS),
            ("example.net.".to_string(), 100, RecordType::DNSKEY),
            ("Example.ORG.".to_string(), 600, RecordType::DS),
        ]
    );
    let ds = |r: &Record| match &r.data {
        RData::DNSSEC(DNSSECRData::DS(d)) => d.clone(),
        other => panic!("{other:?}"),
    };
    let sub = ds(&records[1]);
    assert_eq!(
        (
            sub.key_tag(),
            u8::from(sub.algorithm()),
            u8::from(sub.digest_type())
        ),
        (30899, 5, 1)
    );
    assert_eq!(ds(&records[3]).digest().len(), 32);
    match &records[2].data {
        RData::DNSSEC(DNSSECRData::DNSKEY(k)) => {
            assert_eq!(k.flags(), 257);
            assert_eq!(
                hickory_proto::dnssec::PublicKey::public_bytes(k.public_key()).len(),
                32
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_the_source_and_line() {
    let cases = [
        ("example.com. IN A 192.0.2.1", 1, "only DS and DNSKEY"),
        ("\n\nexample.com. DS 1 8 2 zz", 3, "bad digest"),
        ("example.com. DS 1 8", 1, "digest type missing"),
        ("example.com. DS x 8 2 00", 1, "bad key tag"),
        ("example.com. DS 1 NOPE 2 00", 1, "bad algorithm"),
        ("; c\nexample.com. DNSKEY 257 2 8 AwEAAQ==", 2, "protocol 2"),
        ("example.com. DNSKEY 257 3 8 !!!", 1, "base64"),
        ("example.com. CH DS 1 8 2 00", 1, "class CH"),
        ("\nexample.com. DS 1 8 2 ( 00\n 11", 2, "not closed"),
        ("example.com. DS 1 8 2 00 )", 1, "without '('"),
        ("$ORIGIN example.com.", 1, "$ORIGIN"),
        ("$TTL soon", 1, "bad $TTL"),
        ("$INCLUDE other", 1, "unsupported directive"),
    ];
    for (text, line, needle) in cases {
        let (got_line, message) = syntax_error(text);
        assert_eq!(got_line, line, "{text:?}: {message}");
        assert!(message.contains(needle), "{text:?}: {message}");
    }
    let shown = parse("x. IN TXT a", "/etc/tern/anchors")
        .unwrap_err()
        .to_string();
    assert!(shown.starts_with("/etc/tern/anchors, line 1: "), "{shown}");
}

fn config() -> DnssecConfig {
    DnssecConfig::default()
}

#[test]
fn from_config_combines_sources() {
    let no_files = |p: &Path| -> std::io::Result<String> { panic!("read {p:?}") };
    // Default: the built-in root only.
    let anchors = TrustAnchors::from_config_with(&config(), no_files).unwrap();
    assert_eq!(
        anchors.zones().cloned().collect::<Vec<_>>(),
        vec![Name::root()]
    );
    // Turned off: nothing.
    let cfg = DnssecConfig {
        builtin_root_anchors: false,
        ..config()
    };
    assert!(TrustAnchors::from_config_with(&cfg, no_files)
        .unwrap()
        .is_empty());
    // A file and inline anchors; one names the root, replacing the built-in.
    let cfg = DnssecConfig {
        trust_anchor_files: vec![PathBuf::from("/anchors/example")],
        trust_anchors: vec![
            "\". IN DS 12345 8 2 0011223344556677889900112233445566778899001122334455667788990011\"".to_string(),
        ],
        negative_trust_anchors: vec![name("broken.example.")],
        ..config()
    };
    let anchors = TrustAnchors::from_config_with(&cfg, |p| {
        assert_eq!(p, Path::new("/anchors/example"));
        Ok("example.com. DS 2854 3 1 46e4ffc6e9a4793b488954bd3f0cc6af0dfb201b\n".to_string())
    })
    .unwrap();
    let root = anchors.get(&Name::root()).unwrap();
    assert_eq!(
        root.ds.iter().map(|d| d.key_tag()).collect::<Vec<_>>(),
        vec![12345]
    );
    assert!(anchors.get(&name("example.com.")).is_some());
    assert!(anchors.negative(&name("www.broken.example.")));
    assert!(anchors.negative(&name("broken.example.")));
    assert!(!anchors.negative(&name("example.")));
    // Errors carry the file or the inline index.
    let err =
        TrustAnchors::from_config_with(&cfg, |_| Err(std::io::Error::other("gone"))).unwrap_err();
    assert_eq!(err.to_string(), "/anchors/example: gone");
    let cfg = DnssecConfig {
        trust_anchors: vec!["ok. DS 1 8 2 00".into(), "bad. DS".into()],
        ..config()
    };
    let err = TrustAnchors::from_config_with(&cfg, no_files)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("trust_anchors[1], line 1: "), "{err}");
}

#[test]
fn closest_anchor_is_the_deepest() {
    let mut anchors = TrustAnchors::built_in_root();
    for record in parse(
        "example.com. DS 1 8 2 00\nsub.example.com. DS 2 8 2 00",
        "t",
    )
    .unwrap()
    {
        assert!(anchors.add(&record));
    }
    let cases = [
        ("www.sub.example.com.", "sub.example.com."),
        ("SUB.Example.com.", "sub.example.com."),
        ("a.example.com.", "example.com."),
        ("example.com.", "example.com."),
        ("example.net.", "."),
    ];
    for (query, want) in cases {
        let (zone, _) = anchors.closest(&name(query)).unwrap();
        assert_eq!(zone, &name(want), "{query}");
        assert_eq!(anchors.closest_zone(&name(query)), Some(name(want)));
    }
    assert!(TrustAnchors::default()
        .closest(&name("example.com."))
        .is_none());
    assert!(matches!(
        TrustAnchors::default().verify_keys(
            &name("x."),
            &[],
            &[],
            0,
            &VerifyOptions::default(),
            &mut Budget::new(1)
        ),
        KeyCheck::Insecure(_)
    ));
}
