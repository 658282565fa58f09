//! DS records against DNSKEYs: which DS records a validator may use and
//! whether one names a given key (RFC 4034 §5.1.4 and §5.2, RFC 4509 §3
//! for SHA-256 over SHA-1, RFC 6605 §2 for SHA-384, RFC 8624 §3.3).

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{DigestType, PublicKey};
use hickory_proto::rr::Name;

use super::verify::{algorithm_supported, key_tag, usable_zone_key, VerifyOptions};

/// DS digest types we can compute: SHA-1 (1), SHA-256 (2), SHA-384 (4).
/// GOST R 34.11-94 (3) is not supported (RFC 8624 §3.3).
pub fn digest_supported(t: u8) -> bool {
    matches!(t, 1 | 2 | 4)
}

/// True when `ds` names `key` as the DNSKEY of `zone`: same key tag and
/// algorithm, a supported digest type, and the digest of owner | RDATA
/// (RFC 4034 §5.1.4) equal. Keys that are not zone keys or carry the
/// REVOKE bit (RFC 5011 §2.1) never match.
pub fn ds_matches(zone: &Name, ds: &DS, key: &DNSKEY) -> bool {
    let digest_type = u8::from(ds.digest_type());
    if !digest_supported(digest_type) || !usable_zone_key(key) {
        return false;
    }
    if u8::from(ds.algorithm()) != u8::from(key.public_key().algorithm()) {
        return false;
    }
    if key_tag(key) != Some(ds.key_tag()) {
        return false;
    }
    match key.to_digest(zone, DigestType::from(digest_type)) {
        Ok(digest) => digest.as_ref() == ds.digest(),
        Err(_) => false,
    }
}

/// The DS records a validator should use: supported digest type and
/// algorithm, and, per RFC 4509 §3, no SHA-1 record for a key (tag and
/// algorithm) that also has a SHA-256 or SHA-384 record. Empty means the
/// delegation is to be treated as insecure (RFC 4035 §5.2).
pub fn usable_ds<'a>(ds: &'a [DS], opts: &VerifyOptions) -> Vec<&'a DS> {
    let supported: Vec<&DS> = ds
        .iter()
        .filter(|d| digest_supported(u8::from(d.digest_type())))
        .filter(|d| algorithm_supported(u8::from(d.algorithm()), opts))
        .collect();
    let stronger_for = |tag: u16, alg: u8| {
        supported.iter().any(|d| {
            d.key_tag() == tag && u8::from(d.algorithm()) == alg && u8::from(d.digest_type()) != 1
        })
    };
    supported
        .iter()
        .copied()
        .filter(|d| {
            u8::from(d.digest_type()) != 1 || !stronger_for(d.key_tag(), u8::from(d.algorithm()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};

    fn key(flags: u16, alg: Algorithm) -> DNSKEY {
        DNSKEY::with_flags(flags, PublicKeyBuf::new(vec![7; 32], alg))
    }

    fn ds_for(zone: &Name, key: &DNSKEY, digest: u8) -> DS {
        let d = key.to_digest(zone, DigestType::from(digest)).unwrap();
        DS::new(
            key.calculate_key_tag().unwrap(),
            key.public_key().algorithm(),
            DigestType::from(digest),
            d.as_ref().to_vec(),
        )
    }

    #[test]
    fn digests_match_for_each_supported_type() {
        let zone = Name::from_ascii("Example.COM.").unwrap();
        let k = key(257, Algorithm::ED25519);
        for (digest, len) in [(1u8, 20usize), (2, 32), (4, 48)] {
            let ds = ds_for(&zone, &k, digest);
            assert_eq!(ds.digest().len(), len);
            assert!(ds_matches(&zone, &ds, &k), "digest type {digest}");
            // Owner case does not matter (canonical form is lowercase).
            let lower = Name::from_ascii("example.com.").unwrap();
            assert!(ds_matches(&lower, &ds, &k));
            let other = Name::from_ascii("example.net.").unwrap();
            assert!(!ds_matches(&other, &ds, &k));
        }
    }

    #[test]
    fn mismatches() {
        let zone = Name::from_ascii("example.com.").unwrap();
        let k = key(257, Algorithm::ED25519);
        let good = ds_for(&zone, &k, 2);
        let cases = [
            (
                "flipped digest",
                DS::new(good.key_tag(), good.algorithm(), good.digest_type(), {
                    let mut d = good.digest().to_vec();
                    d[0] ^= 1;
                    d
                }),
                k.clone(),
            ),
            (
                "wrong tag",
                DS::new(
                    good.key_tag().wrapping_add(1),
                    good.algorithm(),
                    good.digest_type(),
                    good.digest().to_vec(),
                ),
                k.clone(),
            ),
            (
                "wrong algorithm",
                DS::new(
                    good.key_tag(),
                    Algorithm::ECDSAP256SHA256,
                    good.digest_type(),
                    good.digest().to_vec(),
                ),
                k.clone(),
            ),
            (
                "GOST digest",
                DS::new(
                    good.key_tag(),
                    good.algorithm(),
                    DigestType::Unknown(3),
                    good.digest().to_vec(),
                ),
                k.clone(),
            ),
        ];
        for (what, ds, key) in cases {
            assert!(!ds_matches(&zone, &ds, &key), "{what}");
        }
        // Not a zone key, or revoked: never matches even with its own DS.
        for flags in [1u16, 257 | 0x80] {
            let k = key(flags, Algorithm::ED25519);
            assert!(!ds_matches(&zone, &ds_for(&zone, &k, 2), &k), "{flags}");
        }
    }

    #[test]
    fn usable_ds_prefers_sha256_and_drops_unsupported() {
        let zone = Name::from_ascii("example.com.").unwrap();
        let opts = VerifyOptions::default();
        let a = key(257, Algorithm::ED25519);
        let b = key(257, Algorithm::ECDSAP256SHA256);
        let set = vec![
            ds_for(&zone, &a, 1),
            ds_for(&zone, &a, 2),
            ds_for(&zone, &b, 1),
            DS::new(1, Algorithm::ED25519, DigestType::Unknown(3), vec![0; 32]),
            DS::new(2, Algorithm::Unknown(16), DigestType::SHA256, vec![0; 32]),
            DS::new(3, Algorithm::from_u8(3), DigestType::SHA1, vec![0; 20]),
        ];
        let usable: Vec<(u16, u8)> = usable_ds(&set, &opts)
            .iter()
            .map(|d| (d.key_tag(), u8::from(d.digest_type())))
            .collect();
        let tag = |k: &DNSKEY| k.calculate_key_tag().unwrap();
        assert_eq!(usable, vec![(tag(&a), 2), (tag(&b), 1)]);
        let legacy = VerifyOptions {
            legacy_dsa: true,
            ..VerifyOptions::default()
        };
        assert_eq!(usable_ds(&set, &legacy).len(), 3);
        assert!(digest_supported(4) && !digest_supported(3) && !digest_supported(0));
    }
}
