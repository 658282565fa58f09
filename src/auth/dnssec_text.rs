//! Presentation format of the DNSSEC records a signed zone file holds
//! (hickory's text parser refuses them): DNSKEY (RFC 4034 §2.2), RRSIG
//! (§3.2, times as YYYYMMDDHHmmSS or seconds), NSEC (§4.2), DS (§5.3),
//! NSEC3 and NSEC3PARAM (RFC 5155 §3.3, §4.3), turned into wire RDATA and
//! decoded by hickory. Also the base64 (RFC 4648 §4), base32hex (§7) and
//! hex codecs they need, and the type bitmap encoding (RFC 4034 §4.1.2).

use std::str::FromStr;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

/// The record types this module parses.
pub fn is_dnssec_type(word: &str) -> Option<RecordType> {
    let t = match word.to_ascii_uppercase().as_str() {
        "DNSKEY" => RecordType::DNSKEY,
        "RRSIG" => RecordType::RRSIG,
        "NSEC" => RecordType::NSEC,
        "NSEC3" => RecordType::NSEC3,
        "NSEC3PARAM" => RecordType::NSEC3PARAM,
        "DS" => RecordType::DS,
        _ => return None,
    };
    Some(t)
}

/// Parses the RDATA words of `rtype`; names are relative to `origin`.
pub fn parse_rdata(
    rtype: RecordType,
    words: &[&str],
    origin: Option<&Name>,
) -> Result<RData, String> {
    let mut w = Words { words, at: 0 };
    let mut out = Vec::new();
    match rtype {
        RecordType::DNSKEY => {
            out.extend(w.int::<u16>("flags")?.to_be_bytes());
            out.push(w.int::<u8>("protocol")?);
            out.push(w.int::<u8>("algorithm")?);
            out.extend(base64_decode(&w.rest())?);
        }
        RecordType::DS => {
            out.extend(w.int::<u16>("key tag")?.to_be_bytes());
            out.push(w.int::<u8>("algorithm")?);
            out.push(w.int::<u8>("digest type")?);
            out.extend(hex_decode(&w.rest())?);
        }
        RecordType::RRSIG => {
            out.extend(u16::from(parse_type(w.next("type covered")?)?).to_be_bytes());
            out.push(w.int::<u8>("algorithm")?);
            out.push(w.int::<u8>("labels")?);
            out.extend(w.int::<u32>("original TTL")?.to_be_bytes());
            out.extend(parse_time(w.next("expiration")?)?.to_be_bytes());
            out.extend(parse_time(w.next("inception")?)?.to_be_bytes());
            out.extend(w.int::<u16>("key tag")?.to_be_bytes());
            push_name(&mut out, w.next("signer")?, origin)?;
            out.extend(base64_decode(&w.rest())?);
        }
        RecordType::NSEC => {
            push_name(&mut out, w.next("next name")?, origin)?;
            out.extend(type_bitmap(&w.types()?));
        }
        RecordType::NSEC3 | RecordType::NSEC3PARAM => {
            out.push(w.int::<u8>("hash algorithm")?);
            out.push(w.int::<u8>("flags")?);
            out.extend(w.int::<u16>("iterations")?.to_be_bytes());
            let salt = match w.next("salt")? {
                "-" => Vec::new(),
                s => hex_decode(s)?,
            };
            out.push(u8::try_from(salt.len()).map_err(|_| "salt too long")?);
            out.extend(salt);
            if rtype == RecordType::NSEC3 {
                let next = base32hex_decode(w.next("next hashed owner")?)?;
                out.push(u8::try_from(next.len()).map_err(|_| "hash too long")?);
                out.extend(next);
                out.extend(type_bitmap(&w.types()?));
            }
        }
        other => return Err(format!("{other} is not a DNSSEC type")),
    }
    let len = u16::try_from(out.len()).map_err(|_| "RDATA too long".to_string())?;
    let mut dec = BinDecoder::new(&out);
    RData::read(&mut dec, rtype, Restrict::new(len)).map_err(|e| format!("bad {rtype}: {e}"))
}

struct Words<'a> {
    words: &'a [&'a str],
    at: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self, what: &str) -> Result<&'a str, String> {
        let w = self.words.get(self.at).ok_or(format!("missing {what}"))?;
        self.at += 1;
        Ok(w)
    }

    fn int<T: FromStr>(&mut self, what: &str) -> Result<T, String> {
        let w = self.next(what)?;
        w.parse().map_err(|_| format!("bad {what}: {w}"))
    }

    /// The remaining words joined (base64 and hex may be split by spaces).
    fn rest(&mut self) -> String {
        let s = self.words.get(self.at..).unwrap_or_default().concat();
        self.at = self.words.len();
        s
    }

    fn types(&mut self) -> Result<Vec<RecordType>, String> {
        let rest = self.words.get(self.at..).unwrap_or_default();
        self.at = self.words.len();
        rest.iter().map(|w| parse_type(w)).collect()
    }
}

/// A type mnemonic or `TYPEnnn` (RFC 3597 §5).
pub fn parse_type(word: &str) -> Result<RecordType, String> {
    let upper = word.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix("TYPE") {
        if let Ok(v) = n.parse::<u16>() {
            return Ok(RecordType::from(v));
        }
    }
    RecordType::from_str(&upper).map_err(|_| format!("unknown type {word}"))
}

fn push_name(out: &mut Vec<u8>, word: &str, origin: Option<&Name>) -> Result<(), String> {
    let name = Name::parse(word, origin).map_err(|e| format!("bad name {word}: {e}"))?;
    for label in name.iter() {
        out.push(u8::try_from(label.len()).map_err(|_| "label too long")?);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    Ok(())
}

/// RRSIG time: YYYYMMDDHHmmSS (UTC) or plain seconds (RFC 4034 §3.2).
pub fn parse_time(word: &str) -> Result<u32, String> {
    let bad = || format!("bad signature time {word}");
    if word.len() != 14 {
        return word.parse().map_err(|_| bad());
    }
    let part = |a: usize, b: usize| -> Result<i64, String> {
        word.get(a..b).and_then(|s| s.parse().ok()).ok_or_else(bad)
    };
    let (y, m, d) = (part(0, 4)?, part(4, 6)?, part(6, 8)?);
    let (hh, mm, ss) = (part(8, 10)?, part(10, 12)?, part(12, 14)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days since 1970-01-01 in the proleptic Gregorian calendar.
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    // Serial-number arithmetic (RFC 1982): times wrap modulo 2^32.
    Ok(secs.rem_euclid(1 << 32) as u32)
}

/// The NSEC/NSEC3 type bitmap: per 256-type window, its number, length and
/// bits (RFC 4034 §4.1.2).
pub fn type_bitmap(types: &[RecordType]) -> Vec<u8> {
    let mut codes: Vec<u16> = types.iter().map(|t| u16::from(*t)).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(first) = codes.get(i) {
        let window = (first >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0usize;
        while let Some(c) = codes.get(i).filter(|c| (*c >> 8) as u8 == window) {
            let low = usize::from(*c & 0xff);
            if let Some(b) = bits.get_mut(low / 8) {
                *b |= 0x80 >> (low % 8);
            }
            used = used.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend(bits.iter().take(used));
    }
    out
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Decodes bits of `width` per character through `value`, dropping `=`.
fn decode_bits(
    text: &str,
    width: u32,
    value: impl Fn(u8) -> Option<u8>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let (mut acc, mut nbits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = value(c).ok_or_else(|| format!("bad character {:?} in {text}", c as char))?;
        acc = (acc << width) | u32::from(v);
        nbits += width;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    Ok(out)
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    decode_bits(text, 6, |c| {
        BASE64.iter().position(|x| *x == c).map(|p| p as u8)
    })
}

pub fn base32hex_decode(text: &str) -> Result<Vec<u8>, String> {
    decode_bits(text, 5, |c| {
        BASE32HEX
            .iter()
            .position(|x| *x == c.to_ascii_lowercase())
            .map(|p| p as u8)
    })
}

/// Lower-case base32hex without padding (NSEC3 owner labels).
pub fn base32hex_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut nbits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            let i = ((acc >> nbits) & 31) as usize;
            out.extend(BASE32HEX.get(i).map(|c| *c as char));
        }
        acc &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        let i = ((acc << (5 - nbits)) & 31) as usize;
        out.extend(BASE32HEX.get(i).map(|c| *c as char));
    }
    out
}

pub fn hex_decode(text: &str) -> Result<Vec<u8>, String> {
    decode_bits(text, 4, |c| (c as char).to_digit(16).map(|d| d as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_round_trip_known_values() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(hex_decode("00fF10").unwrap(), [0, 255, 16]);
        let h = base32hex_decode("2vptu5timamqttgl4luu9kg21e0aor3s").unwrap();
        assert_eq!(h.len(), 20);
        assert_eq!(base32hex_encode(&h), "2vptu5timamqttgl4luu9kg21e0aor3s");
        assert_eq!(parse_time("20260101000000").unwrap(), 1_767_225_600);
        assert_eq!(parse_time("1767225600").unwrap(), 1_767_225_600);
        assert!(parse_time("20261301000000").is_err());
    }

    #[test]
    fn bitmap_matches_rfc_4034_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let types = ["A", "MX", "RRSIG", "NSEC", "TYPE1234"].map(|t| parse_type(t).unwrap());
        let want = hex_decode(
            "0006400100000003041b000000000000000000000000000000000000000000000000000020",
        )
        .unwrap();
        assert_eq!(type_bitmap(&types), want);
    }

    #[test]
    fn parses_each_dnssec_type() {
        let o = Name::from_ascii("example.").unwrap();
        let cases: &[(&str, &str)] = &[
            ("DNSKEY", "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0d xCjjnopKl+GqJxpVXckHAeF+KkxLbxIL fDLUT0rAK9iUzy1L53eKGQ=="),
            ("DS", "60485 13 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B83 83F6A1E4469DA50A"),
            ("RRSIG", "A 13 2 3600 20260101000000 20251201000000 12345 example. mdsswUyr3DPW132mOi8V9xESWE8jTo0d"),
            ("NSEC", "www A RRSIG NSEC"),
            ("NSEC3", "1 1 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
            ("NSEC3PARAM", "1 0 0 aabb"),
        ];
        for (t, text) in cases {
            let words: Vec<&str> = text.split_whitespace().collect();
            let rt = is_dnssec_type(t).unwrap();
            let rd = parse_rdata(rt, &words, Some(&o)).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(rd.record_type(), rt);
        }
    }
}
