//! DNSSEC RDATA as dig prints it on one line: DS/CDS and SSHFP/TLSA
//! digests, DNSKEY/CDNSKEY keys (RFC 4034 §2.2, §5.3), RRSIG with its
//! times (§3.2), NSEC type bitmaps (§4.1.2), NSEC3 and NSEC3PARAM
//! (RFC 5155 §3.3, §4.3) with base32hex hashes.

use super::msg::{u16_at, u32_at};
use super::rdata::{base64, chunked, hex_upper, name_at};

/// The one-line form of a DNSSEC-family record, or None when malformed.
pub fn dnssec_text(msg: &[u8], rtype: u16, offset: usize, end: usize) -> Option<String> {
    let data = msg.get(offset..end)?;
    Some(match rtype {
        // DS, CDS
        43 | 59 => {
            let tag = u16_at(data, 0)?;
            let alg = data.get(2)?;
            let dt = data.get(3)?;
            format!(
                "{tag} {alg} {dt} {}",
                chunked(&hex_upper(data.get(4..)?), 56)
            )
        }
        // DNSKEY, CDNSKEY
        48 | 60 => {
            let flags = u16_at(data, 0)?;
            let proto = data.get(2)?;
            let alg = data.get(3)?;
            let key = chunked(&base64(data.get(4..)?), 56);
            format!("{flags} {proto} {alg} {key}")
        }
        // SSHFP
        44 => {
            let alg = data.first()?;
            let t = data.get(1)?;
            format!("{alg} {t} {}", chunked(&hex_upper(data.get(2..)?), 56))
        }
        // TLSA, SMIMEA
        52 | 53 => {
            let (u, s, m) = (data.first()?, data.get(1)?, data.get(2)?);
            format!("{u} {s} {m} {}", chunked(&hex_upper(data.get(3..)?), 56))
        }
        46 => {
            let head = rrsig_head(msg, offset, end)?;
            format!(
                "{} {} {} {}",
                head.0,
                head.1,
                head.2,
                chunked(&base64(msg.get(head.3..end)?), 56)
            )
        }
        47 => {
            let (next, at) = name_at(msg, offset, end)?;
            let types = type_bitmap(msg.get(at..end)?)?;
            if types.is_empty() {
                next
            } else {
                format!("{next} {types}")
            }
        }
        50 => {
            let (alg, flags) = (data.first()?, data.get(1)?);
            let iter = u16_at(data, 2)?;
            let salt_len = usize::from(*data.get(4)?);
            let salt = data.get(5..5 + salt_len)?;
            let salt = if salt.is_empty() {
                "-".to_string()
            } else {
                hex_upper(salt)
            };
            let hash_len = usize::from(*data.get(5 + salt_len)?);
            let hash = data.get(6 + salt_len..6 + salt_len + hash_len)?;
            let types = type_bitmap(data.get(6 + salt_len + hash_len..)?)?;
            let mut s = format!("{alg} {flags} {iter} {salt} {}", base32hex(hash));
            if !types.is_empty() {
                s.push(' ');
                s.push_str(&types);
            }
            s
        }
        // NSEC3PARAM (RFC 5155 §4.3)
        51 => {
            let (alg, flags) = (data.first()?, data.get(1)?);
            let iter = u16_at(data, 2)?;
            let salt_len = usize::from(*data.get(4)?);
            let salt = data.get(5..5 + salt_len)?;
            if 5 + salt_len != data.len() {
                return None;
            }
            let salt = if salt.is_empty() {
                "-".to_string()
            } else {
                hex_upper(salt)
            };
            format!("{alg} {flags} {iter} {salt}")
        }
        _ => return None,
    })
}

/// The fixed part of RRSIG RDATA (RFC 4034 §3.2): "TYPE alg labels ttl",
/// "expiration inception tag signer", and where the signature starts.
pub fn rrsig_head(
    msg: &[u8],
    offset: usize,
    end: usize,
) -> Option<(String, String, String, usize)> {
    let covered = super::types::type_name(u16_at(msg, offset)?);
    let alg = msg.get(offset + 2)?;
    let labels = msg.get(offset + 3)?;
    let ttl = u32_at(msg, offset + 4)?;
    let expire = super::format::sig_time(u32_at(msg, offset + 8)?);
    let incept = super::format::sig_time(u32_at(msg, offset + 12)?);
    let tag = u16_at(msg, offset + 16)?;
    let (signer, at) = name_at(msg, offset + 18, end)?;
    Some((
        format!("{covered} {alg} {labels} {ttl}"),
        format!("{expire} {incept} {tag}"),
        signer,
        at,
    ))
}

/// NSEC/NSEC3 type bitmaps (RFC 4034 §4.1.2) as type mnemonics.
pub fn type_bitmap(data: &[u8]) -> Option<String> {
    let mut types = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let window = u16::from(*data.get(at)?);
        let len = usize::from(*data.get(at + 1)?);
        if len == 0 || len > 32 {
            return None;
        }
        let bits = data.get(at + 2..at + 2 + len)?;
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    let t = window * 256 + (i as u16) * 8 + bit;
                    types.push(super::types::type_name(t));
                }
            }
        }
        at += 2 + len;
    }
    Some(types.join(" "))
}

/// Base32 with the extended hex alphabet, no padding (RFC 4648 §7), as
/// NSEC3 writes hashed names.
pub fn base32hex(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let mut out = String::new();
    let mut bits: u32 = 0;
    let mut n = 0;
    for b in data {
        bits = (bits << 8) | u32::from(*b);
        n += 8;
        while n >= 5 {
            n -= 5;
            let idx = ((bits >> n) & 0x1f) as usize;
            out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'0')));
        }
    }
    if n > 0 {
        let idx = ((bits << (5 - n)) & 0x1f) as usize;
        out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base32hex(b"f"), "CO");
        assert_eq!(base32hex(b"foobar"), "CPNMUOJ1E8");
        assert_eq!(
            type_bitmap(&[0, 6, 0x40, 1, 0, 0, 0, 3]).unwrap(),
            "A MX RRSIG NSEC"
        );
        assert_eq!(type_bitmap(&[0, 0]), None);
    }
}
