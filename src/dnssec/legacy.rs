//! Signature checks ring will not do, for old test vectors only: DSA
//! (algorithms 3 and 6, RFC 2536, RFC 5155 §2) and RSA keys with moduli
//! under 1024 bits (RFC 3110 key format). Both are off unless
//! `VerifyOptions` asks for them; RFC 8624 §3.1 says a validator must not
//! validate DSA, and ring refuses small RSA moduli. Unbound's `val_*`
//! scenarios (written in 2007) sign with 512-bit DSA and RSA keys, which
//! is why these exist at all. The mathematics is RustCrypto's (`dsa`,
//! `rsa`); this file only unpacks the DNS encodings.

use dsa::signature::hazmat::PrehashVerifier;
use dsa::{BigUint, Components, Signature, VerifyingKey};
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

/// Checks a DSA signature (RFC 2536): the key is T|Q|P|G|Y, the
/// signature T|R|S, over the SHA-1 of `data`. A signature that is not 41
/// octets is read as DER, as Unbound does: its test vectors carry
/// DER-encoded DSA signatures made by an old signer.
pub fn dsa_verify(key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let Some(verifying_key) = dsa_key(key) else {
        return false;
    };
    let signature = if sig.len() == 41 {
        let (Some(r), Some(s)) = (sig.get(1..21), sig.get(21..41)) else {
            return false;
        };
        Signature::from_components(BigUint::from_bytes_be(r), BigUint::from_bytes_be(s))
    } else {
        Signature::try_from(sig)
    };
    let Ok(signature) = signature else {
        return false;
    };
    let hash = Sha1::digest(data);
    verifying_key.verify_prehash(&hash, &signature).is_ok()
}

/// Unpacks an RFC 2536 §2 public key: T (0..=8), then Q (20 octets) and
/// P, G, Y (64 + 8T octets each).
fn dsa_key(key: &[u8]) -> Option<VerifyingKey> {
    let (&t, rest) = key.split_first()?;
    if t > 8 {
        return None;
    }
    let len = 64 + usize::from(t) * 8;
    if rest.len() != 20 + 3 * len {
        return None;
    }
    let (q, rest) = rest.split_at(20);
    let (p, rest) = rest.split_at(len);
    let (g, y) = rest.split_at(len);
    let int = BigUint::from_bytes_be;
    let components = Components::from_components(int(p), int(q), int(g)).ok()?;
    VerifyingKey::from_components(components, int(y)).ok()
}

/// Splits an RFC 3110 §2 RSA key into exponent and modulus.
pub fn rsa_parts(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = key.split_first()?;
    let (exp_len, rest) = if first == 0 {
        let (len, rest) = rest.split_at_checked(2)?;
        let (hi, lo) = (len.first()?, len.get(1)?);
        (usize::from(*hi) << 8 | usize::from(*lo), rest)
    } else {
        (usize::from(first), rest)
    };
    let (e, n) = rest.split_at_checked(exp_len)?;
    if e.is_empty() || n.is_empty() {
        return None;
    }
    Some((e, n))
}

/// Bits in an RSA key's modulus (leading zero octets not counted).
pub fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let (_, n) = rsa_parts(key)?;
    Some(BigUint::from_bytes_be(n).bits())
}

/// Checks an RSA PKCS#1 v1.5 signature (RFC 3110, RFC 5702) with a key of
/// any size; `alg` picks the hash (5 and 7 SHA-1, 8 SHA-256, 10 SHA-512).
pub fn rsa_verify(alg: u8, key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let Some((e, n)) = rsa_parts(key) else {
        return false;
    };
    let int = rsa::BigUint::from_bytes_be;
    let Ok(public) = RsaPublicKey::new(int(n), int(e)) else {
        return false;
    };
    let result = match alg {
        5 | 7 => public.verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(data), sig),
        8 => public.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data), sig),
        10 => public.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(data), sig),
        _ => return false,
    };
    result.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_key_layouts() {
        // One-octet exponent length: e = 3, n = 0x0101.
        assert_eq!(rsa_parts(&[1, 3, 1, 1]), Some((&[3u8][..], &[1u8, 1][..])));
        // Three-octet form: 0, then a two-octet length.
        assert_eq!(
            rsa_parts(&[0, 0, 1, 3, 0x80, 0]),
            Some((&[3u8][..], &[0x80u8, 0][..]))
        );
        assert_eq!(rsa_modulus_bits(&[0, 0, 1, 3, 0x80, 0]), Some(16));
        for bad in [&[][..], &[0, 0], &[2, 3], &[1, 3]] {
            assert_eq!(rsa_parts(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dsa_rejects_malformed_keys_and_signatures() {
        assert!(!dsa_verify(&[9], b"data", &[0; 41]));
        assert!(!dsa_verify(&[0; 10], b"data", &[0; 41]));
        assert!(!rsa_verify(5, &[1, 3], b"data", &[0; 64]));
    }
}
