//! Tests for `verify`'s DNSKEY checks: against DS records, against
//! trust-anchor keys, and Unbound's DSA and 512-bit RSA vectors.
#![allow(clippy::cloned_ref_to_slice_refs, clippy::type_complexity)]

use super::*;
fn ds_of(zone: &Name, key: &Key, digest: DigestType) -> DS {
    let d = key.dnskey.to_digest(zone, digest).unwrap();
    DS::new(
        key.tag(),
        key.signing.algorithm(),
        digest,
        d.as_ref().to_vec(),
    )
}

#[test]
fn dnskeys_against_ds() {
    let zone = name("example.com.");
    let ksk = Key::ecdsa(Algorithm::ECDSAP256SHA256, 257);
    let zsk = Key::ecdsa(Algorithm::ECDSAP256SHA256, 256);
    let set = dnskey_set(&zone, &[&ksk, &zsk]);
    let by_ksk = Sig::by(&zone).sign(&ksk, &set);
    let by_zsk = Sig::by(&zone).sign(&zsk, &set);
    let opts = VerifyOptions::default();
    let check = |sigs: &[Record], ds: &[DS]| {
        let mut budget = Budget::new(10);
        verify_dnskeys_with_ds(&zone, &set, sigs, ds, NOW, &opts, &mut budget)
    };
    let ds = ds_of(&zone, &ksk, DigestType::SHA256);
    match check(&[by_ksk.clone()], &[ds.clone()]) {
        KeyCheck::Secure { keys, ttl, matched } => {
            assert_eq!(keys.len(), 2);
            assert_eq!(ttl, 3600);
            assert_eq!(matched, vec![(ksk.tag(), 13, 2)]);
        }
        other => panic!("{other:?}"),
    }
    // Signed only by a key the DS does not name.
    match check(&[by_zsk.clone()], &[ds.clone()]) {
        KeyCheck::Bogus(b) => assert_eq!(b.kind, BogusKind::DnskeyMissing, "{}", b.text),
        other => panic!("{other:?}"),
    }
    // A DS naming no key of the set.
    let stray = Key::ecdsa(Algorithm::ECDSAP256SHA256, 257);
    match check(
        &[by_ksk.clone()],
        &[ds_of(&zone, &stray, DigestType::SHA256)],
    ) {
        KeyCheck::Bogus(b) => assert_eq!(b.kind, BogusKind::DnskeyMissing, "{}", b.text),
        other => panic!("{other:?}"),
    }
    // Only unsupported algorithms or digests: insecure.
    let unknown_alg = DS::new(
        ksk.tag(),
        Algorithm::Unknown(16),
        DigestType::SHA256,
        ds.digest().to_vec(),
    );
    let gost = DS::new(
        ksk.tag(),
        ds.algorithm(),
        DigestType::Unknown(3),
        vec![0; 32],
    );
    // Insecure, with the extended error saying which (EDE 1, EDE 2).
    for (d, kind) in [
        (unknown_alg, BogusKind::UnsupportedAlgorithm),
        (gost, BogusKind::UnsupportedDigest),
    ] {
        let got = check(&[by_ksk.clone()], &[d]);
        assert!(
            matches!(got, KeyCheck::Unsupported(ref b) if b.kind == kind),
            "{got:?}"
        );
    }
    // A bad signature by the named key: bogus.
    match check(&[flip_signature(&by_ksk)], &[ds]) {
        KeyCheck::Bogus(b) => assert_eq!(b.kind, BogusKind::Bogus),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dnskeys_against_anchor_keys() {
    let zone = name("example.com.");
    let ksk = Key::ed25519(257);
    let set = dnskey_set(&zone, &[&ksk]);
    let sig = Sig::by(&zone).sign(&ksk, &set);
    let opts = VerifyOptions::default();
    let mut budget = Budget::new(10);
    let check = verify_dnskeys_with_anchor_keys(
        &zone,
        &set,
        &[sig.clone()],
        &[ksk.dnskey.clone()],
        NOW,
        &opts,
        &mut budget,
    );
    assert!(
        matches!(check, KeyCheck::Secure { ref matched, .. } if matched == &vec![(ksk.tag(), 15, 0)])
    );
    let other = Key::ed25519(257);
    let check = verify_dnskeys_with_anchor_keys(
        &zone,
        &set,
        &[sig.clone()],
        &[other.dnskey.clone()],
        NOW,
        &opts,
        &mut budget,
    );
    assert!(matches!(check, KeyCheck::Bogus(ref b) if b.kind == BogusKind::DnskeyMissing));
    let revoked = DNSKEY::with_flags(257 | 0x80, ksk.dnskey.public_key().clone());
    let check =
        verify_dnskeys_with_anchor_keys(&zone, &set, &[sig], &[revoked], NOW, &opts, &mut budget);
    assert!(matches!(check, KeyCheck::Insecure(_)));
}

/// A DNSKEY RRset and its self-signature from Unbound's scenarios, checked
/// at the scenario's `val-override-date` (20070916134226).
fn unbound_vector(
    zone: &str,
    alg: u8,
    key_b64: &str,
    sig: (u8, u32, u32, u16, &str),
) -> (Vec<Record>, Record, DNSKEY) {
    let zone = name(zone);
    let bytes = data_encoding::BASE64
        .decode(key_b64.replace(' ', "").as_bytes())
        .unwrap();
    let key = DNSKEY::with_flags(256, PublicKeyBuf::new(bytes, Algorithm::from_u8(alg)));
    let set = vec![Record::from_rdata(
        zone.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DNSKEY(key.clone())),
    )];
    let (labels, expiration, inception, tag, sig_b64) = sig;
    let input = SigInput {
        type_covered: RecordType::DNSKEY,
        algorithm: Algorithm::from_u8(alg),
        num_labels: labels,
        original_ttl: 3600,
        sig_expiration: SerialNumber::new(expiration),
        sig_inception: SerialNumber::new(inception),
        key_tag: tag,
        signer_name: zone.clone(),
    };
    let sig = data_encoding::BASE64.decode(sig_b64.as_bytes()).unwrap();
    (set, rrsig_record(&zone, RRSIG::from_sig(input, sig)), key)
}

const UNBOUND_NOW: u32 = 1_189_950_146;

/// val_positive.rpl: example.com's 512-bit DSA key (DER-encoded signature).
const DSA_KEY: &str = "ALXLUsWqUrY3JYER3T4TBJII s70j+sDS/UT2QRp61SE7S3E EXopNXoFE73JLRmvpi/UrOO/Vz4Se 6wXv/CYCKjGw06U4WRgR YXcpEhJROyNapmdIKSx hOzfLVE1gqA0PweZR8d tY3aNQSRn3sPpwJr6Mi /PqQKAMMrZ9ckJpf1+b QMOOvxgzz2U1GS18b3y ZKcgTMEaJzd/GZYzi/B N2DzQ0MsrSwYXfsNLFO Bbs8PJMW4LYIxeeOe6rUgkWOF 7CC9Dh/dduQ1QrsJhmZAEFfd6ByYV+";
const DSA_SIG: &str = "MCwCFG1yhRNtTEa3Eno2zhVVuy2EJX3wAhQeLyUp6+UXcpC5qGNu9tkrTEgPUg==";

#[test]
fn unbound_vectors_need_the_legacy_options() {
    let dsa = unbound_vector(
        "example.com.",
        3,
        DSA_KEY,
        (2, 1_190_814_482, 1_188_395_282, 2854, DSA_SIG),
    );
    // val_anchor_nx.rpl: sub.example.com's 512-bit RSA/SHA-1 key.
    let rsa = unbound_vector(
        "sub.example.com.",
        5,
        "AQPQ41chR9DEHt/aIzIFAqanbDlRflJoRs5yz1jFsoRIT7dWf0r+PeDuewdxkszNH6wnU4QL8pfKFRh5PIYVBLK3",
        (3, 1_190_814_110, 1_188_394_910, 30899, "uNGp99iznjD7oOX02XnQbDnbg75UwBHRvZSKYUorTKvPUnCWMHKdRsQ+mf+Fx3GZ+Fz9BVjoCmQqpnfgXLEYqw=="),
    );
    let legacy = VerifyOptions {
        legacy_dsa: true,
        legacy_small_rsa: true,
    };
    for (what, (set, sig, key), alg) in [("DSA", dsa, 3u8), ("RSA-512", rsa, 5)] {
        let zone = set[0].name.clone();
        assert_eq!(
            key.calculate_key_tag().unwrap(),
            rrsig_of(&sig).unwrap().input().key_tag
        );
        let mut budget = Budget::new(10);
        let v = verify_rrset(
            &set,
            std::slice::from_ref(&sig),
            std::slice::from_ref(&key),
            &zone,
            UNBOUND_NOW,
            &legacy,
            &mut budget,
        );
        assert_eq!(v.map(|v| v.algorithm), Ok(alg), "{what}");
        let err = verify_rrset(
            &set,
            &[flip_signature(&sig)],
            &[key.clone()],
            &zone,
            UNBOUND_NOW,
            &legacy,
            &mut budget,
        );
        assert_eq!(err.unwrap_err().kind, BogusKind::Bogus, "{what} flipped");
        let plain = VerifyOptions::default();
        let err = verify_rrset(
            &set,
            &[sig],
            &[key],
            &zone,
            UNBOUND_NOW,
            &plain,
            &mut budget,
        );
        assert_eq!(
            err.unwrap_err().kind,
            BogusKind::Bogus,
            "{what} without legacy"
        );
    }
}

/// val_positive.rpl end to end: the scenario's DS trust anchor, parsed,
/// against example.com's DSA DNSKEY set. With `legacy_dsa` it is secure;
/// without, the only DS uses an unsupported algorithm, so insecure.
#[test]
fn unbound_val_positive_anchor() {
    let line =
        "example.com.    3600    IN      DS      2854 3 1 46e4ffc6e9a4793b488954bd3f0cc6af0dfb201b";
    let mut anchors = crate::dnssec::anchors::TrustAnchors::default();
    for record in crate::dnssec::anchors::parse(line, "val_positive.rpl").unwrap() {
        assert!(anchors.add(&record));
    }
    let (set, sig, _) = unbound_vector(
        "example.com.",
        3,
        DSA_KEY,
        (2, 1_190_814_482, 1_188_395_282, 2854, DSA_SIG),
    );
    let zone = name("example.com.");
    let legacy = VerifyOptions {
        legacy_dsa: true,
        legacy_small_rsa: true,
    };
    let mut budget = Budget::new(10);
    let sigs = std::slice::from_ref(&sig);
    match anchors.verify_keys(&zone, &set, sigs, UNBOUND_NOW, &legacy, &mut budget) {
        KeyCheck::Secure { keys, matched, .. } => {
            assert_eq!(keys.len(), 1);
            assert_eq!(matched, vec![(2854, 3, 1)]);
        }
        other => panic!("{other:?}"),
    }
    let plain = VerifyOptions::default();
    let check = anchors.verify_keys(&zone, &set, sigs, UNBOUND_NOW, &plain, &mut budget);
    assert!(
        matches!(check, KeyCheck::Unsupported(ref b) if b.text.contains("supported") && b.kind.ede_code() == 1),
        "{check:?}"
    );
}
