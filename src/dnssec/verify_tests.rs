//! Tests for `verify`: RRsets signed with real keys (hickory's signing
//! keys over hickory's own TBS, so the signed data built here is checked
//! against an independent encoder).
#![allow(clippy::cloned_ref_to_slice_refs, clippy::type_complexity)]

use super::*;
use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, SigningKey, TBS};
use hickory_proto::rr::SerialNumber;
use std::net::Ipv4Addr;

const NOW: u32 = 1_700_000_000;

struct Key {
    signing: Box<dyn SigningKey>,
    dnskey: DNSKEY,
}

impl Key {
    fn ed25519(flags: u16) -> Self {
        let der = Ed25519SigningKey::generate_pkcs8().unwrap();
        Self::new(
            Box::new(Ed25519SigningKey::from_pkcs8(&der).unwrap()),
            flags,
        )
    }

    fn ecdsa(alg: Algorithm, flags: u16) -> Self {
        let der = EcdsaSigningKey::generate_pkcs8(alg).unwrap();
        Self::new(
            Box::new(EcdsaSigningKey::from_pkcs8(&der, alg).unwrap()),
            flags,
        )
    }

    fn new(signing: Box<dyn SigningKey>, flags: u16) -> Self {
        let dnskey = DNSKEY::with_flags(flags, signing.to_public_key().unwrap());
        Self { signing, dnskey }
    }

    fn tag(&self) -> u16 {
        self.dnskey.calculate_key_tag().unwrap()
    }
}

struct Sig<'a> {
    signer: &'a Name,
    labels: Option<u8>,
    inception: u32,
    expiration: u32,
    original_ttl: u32,
}

impl<'a> Sig<'a> {
    fn by(signer: &'a Name) -> Self {
        Self {
            signer,
            labels: None,
            inception: NOW - 3600,
            expiration: NOW + 86400,
            original_ttl: 3600,
        }
    }

    fn sign(&self, key: &Key, rrset: &[Record]) -> Record {
        let first = &rrset[0];
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: key.signing.algorithm(),
            num_labels: self.labels.unwrap_or(first.name.num_labels()),
            original_ttl: self.original_ttl,
            sig_expiration: SerialNumber::new(self.expiration),
            sig_inception: SerialNumber::new(self.inception),
            key_tag: key.tag(),
            signer_name: self.signer.clone(),
        };
        let tbs = TBS::from_input(&first.name, first.dns_class, &input, rrset.iter()).unwrap();
        let sig = key.signing.sign(&tbs).unwrap();
        rrsig_record(&first.name, RRSIG::from_sig(input, sig))
    }
}

fn rrsig_record(owner: &Name, sig: RRSIG) -> Record {
    Record::from_rdata(owner.clone(), 3600, RData::DNSSEC(DNSSECRData::RRSIG(sig)))
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a_set(owner: &str, ttl: u32) -> Vec<Record> {
    [1u8, 2]
        .iter()
        .map(|i| {
            Record::from_rdata(
                name(owner),
                ttl,
                RData::A(Ipv4Addr::new(192, 0, 2, *i).into()),
            )
        })
        .collect()
}

fn dnskey_set(zone: &Name, keys: &[&Key]) -> Vec<Record> {
    keys.iter()
        .map(|k| {
            Record::from_rdata(
                zone.clone(),
                3600,
                RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey.clone())),
            )
        })
        .collect()
}

fn run(rrset: &[Record], sigs: &[Record], keys: &[DNSKEY], zone: &Name) -> Result<Verified, Bogus> {
    let mut budget = Budget::new(100);
    verify_rrset(
        rrset,
        sigs,
        keys,
        zone,
        NOW,
        &VerifyOptions::default(),
        &mut budget,
    )
}

fn flip_signature(record: &Record) -> Record {
    let sig = rrsig_of(record).unwrap();
    let mut bytes = sig.sig().to_vec();
    bytes[5] ^= 0x01;
    rrsig_record(&record.name, RRSIG::from_sig(sig.input().clone(), bytes))
}

#[test]
fn good_signatures_verify_for_each_algorithm() {
    let zone = name("example.com.");
    for key in [
        Key::ed25519(256),
        Key::ecdsa(Algorithm::ECDSAP256SHA256, 256),
        Key::ecdsa(Algorithm::ECDSAP384SHA384, 257),
    ] {
        let rrset = a_set("www.example.com.", 300);
        let sig = Sig::by(&zone).sign(&key, &rrset);
        let v = run(&rrset, &[sig], &[key.dnskey.clone()], &zone).unwrap();
        assert_eq!(v.key_tag, key.tag());
        assert_eq!(v.algorithm, u8::from(key.signing.algorithm()));
        assert_eq!(v.wildcard, None);
        assert_eq!(v.ttl, 300);
    }
}

#[test]
fn case_and_order_and_duplicates_do_not_matter() {
    let zone = name("example.com.");
    let key = Key::ed25519(256);
    let rrset = a_set("www.example.com.", 300);
    let sig = Sig::by(&name("EXAMPLE.com.")).sign(&key, &rrset);
    let mut received = a_set("WWW.Example.COM.", 300);
    received.reverse();
    received.push(received[0].clone());
    let sig = rrsig_record(&name("WWW.Example.COM."), rrsig_of(&sig).unwrap().clone());
    assert!(run(&received, &[sig], &[key.dnskey.clone()], &zone).is_ok());
}

#[test]
fn failures_have_their_kinds() {
    let zone = name("example.com.");
    let key = Key::ed25519(256);
    let other = Key::ed25519(256);
    let rrset = a_set("www.example.com.", 300);
    let good = Sig::by(&zone).sign(&key, &rrset);
    let expired = Sig {
        inception: NOW - 7200,
        expiration: NOW - 1,
        ..Sig::by(&zone)
    };
    let future = Sig {
        inception: NOW + 10,
        expiration: NOW + 7200,
        ..Sig::by(&zone)
    };
    let other_zone = name("example.net.");
    let mut changed = rrset.clone();
    changed[0] = Record::from_rdata(
        name("www.example.com."),
        300,
        RData::A(Ipv4Addr::new(198, 51, 100, 1).into()),
    );
    let cases: Vec<(&str, Vec<Record>, Vec<Record>, Vec<DNSKEY>, BogusKind)> = vec![
        (
            "flipped signature byte",
            rrset.clone(),
            vec![flip_signature(&good)],
            vec![key.dnskey.clone()],
            BogusKind::Bogus,
        ),
        (
            "changed data",
            changed,
            vec![good.clone()],
            vec![key.dnskey.clone()],
            BogusKind::Bogus,
        ),
        (
            "expired",
            rrset.clone(),
            vec![expired.sign(&key, &rrset)],
            vec![key.dnskey.clone()],
            BogusKind::SignatureExpired,
        ),
        (
            "not yet valid",
            rrset.clone(),
            vec![future.sign(&key, &rrset)],
            vec![key.dnskey.clone()],
            BogusKind::SignatureNotYetValid,
        ),
        (
            "wrong signer",
            rrset.clone(),
            vec![Sig::by(&other_zone).sign(&key, &rrset)],
            vec![key.dnskey.clone()],
            BogusKind::Bogus,
        ),
        (
            "unknown key tag",
            rrset.clone(),
            vec![good.clone()],
            vec![other.dnskey.clone()],
            BogusKind::DnskeyMissing,
        ),
        (
            "revoked key",
            rrset.clone(),
            vec![good.clone()],
            vec![DNSKEY::with_flags(
                256 | 0x80,
                key.dnskey.public_key().clone(),
            )],
            BogusKind::DnskeyMissing,
        ),
        (
            "not a zone key",
            rrset.clone(),
            vec![good.clone()],
            vec![DNSKEY::with_flags(0, key.dnskey.public_key().clone())],
            BogusKind::DnskeyMissing,
        ),
        (
            "no RRSIG",
            rrset.clone(),
            vec![],
            vec![key.dnskey.clone()],
            BogusKind::RrsigsMissing,
        ),
        (
            "RRSIG for another type",
            a_set("www.example.com.", 300),
            vec![{
                let mut r = good.clone();
                let s = rrsig_of(&good).unwrap();
                let mut input = s.input().clone();
                input.type_covered = RecordType::AAAA;
                r.data =
                    RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, s.sig().to_vec())));
                r
            }],
            vec![key.dnskey.clone()],
            BogusKind::RrsigsMissing,
        ),
        (
            "mixed: expired and bad",
            rrset.clone(),
            vec![expired.sign(&key, &rrset), flip_signature(&good)],
            vec![key.dnskey.clone()],
            BogusKind::Bogus,
        ),
    ];
    for (what, rrset, sigs, keys, kind) in cases {
        let err = run(&rrset, &sigs, &keys, &zone).unwrap_err();
        assert_eq!(err.kind, kind, "{what}: {}", err.text);
        assert!(
            err.text.contains("www.example.com."),
            "{what}: {}",
            err.text
        );
    }
    let err = run(
        &rrset,
        &[flip_signature(&good)],
        &[key.dnskey.clone()],
        &zone,
    )
    .unwrap_err();
    assert_eq!(
        err.text,
        format!(
            "RRSIG for www.example.com. A by example.com. (key {}) does not verify",
            key.tag()
        )
    );
    // One good signature among bad ones is enough.
    let sigs = [
        flip_signature(&good),
        expired.sign(&key, &rrset),
        good.clone(),
    ];
    assert!(run(
        &rrset,
        &sigs,
        &[other.dnskey.clone(), key.dnskey.clone()],
        &zone
    )
    .is_ok());
}

#[test]
fn signature_times_use_serial_arithmetic() {
    let zone = name("example.com.");
    let key = Key::ed25519(256);
    let rrset = a_set("www.example.com.", 300);
    // Inception before the 2^32 wrap, expiration after it, now after it.
    let sig = Sig {
        inception: u32::MAX - 100,
        expiration: 1000,
        ..Sig::by(&zone)
    }
    .sign(&key, &rrset);
    let mut budget = Budget::new(10);
    let v = verify_rrset(
        &rrset,
        &[sig],
        &[key.dnskey.clone()],
        &zone,
        5,
        &VerifyOptions::default(),
        &mut budget,
    )
    .unwrap();
    assert_eq!(v.ttl, 300);
    for (a, b, le) in [
        (1u32, 2u32, true),
        (2, 1, false),
        (u32::MAX, 0, true),
        (0, u32::MAX, false),
        (7, 7, true),
    ] {
        assert_eq!(serial_le(a, b), le, "{a} <= {b}");
    }
}

#[test]
fn wildcard_expansion_names_the_source() {
    let zone = name("example.com.");
    let key = Key::ecdsa(Algorithm::ECDSAP256SHA256, 256);
    let rrset = a_set("a.b.example.com.", 300);
    let sig = Sig {
        labels: Some(3),
        ..Sig::by(&zone)
    }
    .sign(&key, &rrset);
    let v = run(&rrset, &[sig.clone()], &[key.dnskey.clone()], &zone).unwrap();
    assert_eq!(v.wildcard, Some(name("*.b.example.com.")));
    // The wildcard owner itself is not an expansion.
    let star = a_set("*.b.example.com.", 300);
    let sig = Sig::by(&zone).sign(&key, &star);
    assert_eq!(
        run(&star, &[sig], &[key.dnskey.clone()], &zone)
            .unwrap()
            .wildcard,
        None
    );
    // A labels field above the owner's count is bogus.
    let rrset = a_set("www.example.com.", 300);
    let good = rrsig_of(&Sig::by(&zone).sign(&key, &rrset))
        .unwrap()
        .clone();
    let mut input = good.input().clone();
    input.num_labels = 4;
    let sig = rrsig_record(
        &name("www.example.com."),
        RRSIG::from_sig(input, good.sig().to_vec()),
    );
    assert_eq!(
        run(&rrset, &[sig], &[key.dnskey.clone()], &zone)
            .unwrap_err()
            .kind,
        BogusKind::Bogus
    );
}

#[test]
fn ttl_is_capped() {
    let zone = name("example.com.");
    let key = Key::ed25519(256);
    // (record TTL, original TTL, seconds to expiration, expected)
    for (ttl, original, left, want) in [
        (300, 3600, 86400, 300),
        (7200, 3600, 86400, 3600),
        (300, 3600, 100, 100),
        (300, 20, 86400, 20),
    ] {
        let rrset = a_set("www.example.com.", ttl);
        let sig = Sig {
            original_ttl: original,
            expiration: NOW + left,
            ..Sig::by(&zone)
        }
        .sign(&key, &rrset);
        assert_eq!(
            run(&rrset, &[sig], &[key.dnskey.clone()], &zone)
                .unwrap()
                .ttl,
            want
        );
    }
}

/// KeyTrap (CVE-2023-50387): many keys sharing one tag and many RRSIGs
/// naming it. Work stops at the per-RRset limits, or at the budget.
#[test]
fn keytrap_is_bounded() {
    let zone = name("example.com.");
    // Permuting the octets at even offsets keeps the key-tag checksum.
    let base: Vec<u8> = (0u8..32).collect();
    let pairs = (0..16).flat_map(|a| (a + 1..16).map(move |b| (2 * a, 2 * b)));
    let keys: Vec<DNSKEY> = pairs
        .take(20)
        .map(|(a, b)| {
            let mut bytes = base.clone();
            bytes.swap(a, b);
            DNSKEY::with_flags(256, PublicKeyBuf::new(bytes, Algorithm::ED25519))
        })
        .collect();
    let tag = keys[0].calculate_key_tag().unwrap();
    assert!(keys.iter().all(|k| k.calculate_key_tag().unwrap() == tag));
    assert_eq!(
        keys.iter().collect::<std::collections::HashSet<_>>().len(),
        20
    );
    let rrset = a_set("www.example.com.", 300);
    let sigs: Vec<Record> = (0..20u32)
        .map(|i| {
            let input = SigInput {
                type_covered: RecordType::A,
                algorithm: Algorithm::ED25519,
                num_labels: 3,
                original_ttl: 3600,
                sig_expiration: SerialNumber::new(NOW + 1000 + i),
                sig_inception: SerialNumber::new(NOW - 1000),
                key_tag: tag,
                signer_name: zone.clone(),
            };
            rrsig_record(
                &name("www.example.com."),
                RRSIG::from_sig(input, vec![i as u8; 64]),
            )
        })
        .collect();
    let opts = VerifyOptions::default();
    let mut budget = Budget::new(1000);
    let err = verify_rrset(&rrset, &sigs, &keys, &zone, NOW, &opts, &mut budget).unwrap_err();
    assert_eq!(err.kind, BogusKind::Bogus);
    let cap = (MAX_RRSIGS_PER_RRSET * MAX_KEY_TAG_COLLISIONS) as u32;
    assert_eq!(budget.verifications_done, cap);

    let mut budget = Budget::new(5);
    let err = verify_rrset(&rrset, &sigs, &keys, &zone, NOW, &opts, &mut budget).unwrap_err();
    assert_eq!(err.kind, BogusKind::BudgetExhausted);
    assert_eq!(budget.verifications_done, 5);
}

#[test]
fn algorithms_supported() {
    let plain = VerifyOptions::default();
    let legacy = VerifyOptions {
        legacy_dsa: true,
        legacy_small_rsa: true,
    };
    for (alg, normally, with_legacy) in [
        (1u8, false, false),
        (3, false, true),
        (5, true, true),
        (6, false, true),
        (7, true, true),
        (8, true, true),
        (10, true, true),
        (12, false, false),
        (13, true, true),
        (14, true, true),
        (15, true, true),
        (16, false, false),
    ] {
        assert_eq!(algorithm_supported(alg, &plain), normally, "{alg}");
        assert_eq!(algorithm_supported(alg, &legacy), with_legacy, "{alg}");
    }
}

#[path = "verify_keys_tests.rs"]
mod keys;
