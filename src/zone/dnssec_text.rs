//! Presentation format of the DNSSEC records a signed zone file or a test
//! scenario holds (hickory's text parser refuses most of them): DNSKEY,
//! CDNSKEY and KEY (RFC 4034 §2.2, RFC 7344 §3.2, RFC 2535 §3), RRSIG and
//! SIG (§3.2, times as YYYYMMDDHHmmSS or seconds), NSEC (§4.2), DS and CDS
//! (§5.3, RFC 7344 §3.1), NSEC3 and NSEC3PARAM (RFC 5155 §3.3, §4.3, a salt
//! of `-` is empty), turned into wire RDATA and decoded by hickory.
//! Algorithms may be numbers or mnemonics (RFC 4034 Appendix A.1). ZONEMD
//! (RFC 8976 §2.3), just as unknown to hickory, is read here too. Also the
//! base64 (RFC 4648 §4), base32hex (§7) and hex codecs they need, the type
//! bitmap encoding (RFC 4034 §4.1.2) and the UTC calendar arithmetic.

use std::str::FromStr;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

/// The record types this module parses.
pub fn handles(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::DNSKEY
            | RecordType::CDNSKEY
            | RecordType::KEY
            | RecordType::RRSIG
            | RecordType::SIG
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
            | RecordType::DS
            | RecordType::CDS
            | ZONEMD
    )
}

/// ZONEMD (RFC 8976), which hickory knows by number only.
const ZONEMD: RecordType = RecordType::Unknown(63);

/// The type named by `word` if this module parses it.
pub fn is_dnssec_type(word: &str) -> Option<RecordType> {
    let upper = word.to_ascii_uppercase();
    let t = match upper.as_str() {
        "ZONEMD" => ZONEMD,
        _ => RecordType::from_str(&upper).ok()?,
    };
    handles(t).then_some(t)
}

/// Parses the RDATA words of `rtype`; names are relative to `origin` and
/// written in lower case (as the zone loader has always stored them).
pub fn parse_rdata(
    rtype: RecordType,
    words: &[&str],
    origin: Option<&Name>,
) -> Result<RData, String> {
    let name = |w: &str| -> Result<Name, String> {
        match (w, origin) {
            ("@", Some(o)) => Ok(o.to_lowercase()),
            _ => Name::parse(w, origin)
                .map(|n| n.to_lowercase())
                .map_err(|e| format!("bad name {w}: {e}")),
        }
    };
    let out = rdata_wire(rtype, words, &name)?;
    let len = u16::try_from(out.len()).map_err(|_| "RDATA too long".to_string())?;
    let mut dec = BinDecoder::new(&out);
    RData::read(&mut dec, rtype, Restrict::new(len)).map_err(|e| format!("bad {rtype}: {e}"))
}

/// The wire RDATA of `rtype` written as `words` (parentheses already
/// removed). `name` reads the names inside it, so the caller decides the
/// origin, `@`, escapes and case; they are written as it returns them.
pub fn rdata_wire(
    rtype: RecordType,
    words: &[&str],
    name: &dyn Fn(&str) -> Result<Name, String>,
) -> Result<Vec<u8>, String> {
    let mut w = Words { words, at: 0 };
    let mut out = Vec::new();
    match rtype {
        RecordType::DNSKEY | RecordType::CDNSKEY | RecordType::KEY => {
            out.extend(w.int::<u16>("flags")?.to_be_bytes());
            out.push(w.int::<u8>("protocol")?);
            out.push(algorithm(w.next("algorithm")?)?);
            out.extend(base64_decode(&w.rest())?);
        }
        RecordType::DS | RecordType::CDS => {
            out.extend(w.int::<u16>("key tag")?.to_be_bytes());
            out.push(algorithm(w.next("algorithm")?)?);
            out.push(w.int::<u8>("digest type")?);
            out.extend(hex_decode(&w.rest())?);
        }
        RecordType::RRSIG | RecordType::SIG => {
            out.extend(u16::from(parse_type(w.next("type covered")?)?).to_be_bytes());
            out.push(algorithm(w.next("algorithm")?)?);
            out.push(w.int::<u8>("labels")?);
            out.extend(w.int::<u32>("original TTL")?.to_be_bytes());
            out.extend(parse_time(w.next("expiration")?)?.to_be_bytes());
            out.extend(parse_time(w.next("inception")?)?.to_be_bytes());
            out.extend(w.int::<u16>("key tag")?.to_be_bytes());
            push_name(&mut out, &name(w.next("signer")?)?)?;
            out.extend(base64_decode(&w.rest())?);
        }
        RecordType::NSEC => {
            push_name(&mut out, &name(w.next("next name")?)?)?;
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
            } else if let Some(extra) = w.words.get(w.at) {
                return Err(format!("NSEC3PARAM with extra {extra:?}"));
            }
        }
        ZONEMD => {
            // RFC 8976 §2.3: serial, scheme, hash algorithm, hex digest.
            out.extend(w.int::<u32>("serial")?.to_be_bytes());
            out.push(w.int::<u8>("scheme")?);
            out.push(w.int::<u8>("hash algorithm")?);
            let digest = hex_decode(&w.rest())?;
            if digest.is_empty() {
                return Err("ZONEMD without a digest".to_string());
            }
            out.extend(digest);
        }
        other => return Err(format!("{other} is not a DNSSEC type")),
    }
    Ok(out)
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

/// DNSSEC algorithm numbers by mnemonic (IANA registry) or number.
pub fn algorithm(word: &str) -> Result<u8, String> {
    let n = match word.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DH" => 2,
        "DSA" => 3,
        "ECC" => 4,
        "RSASHA1" => 5,
        "DSA-NSEC3-SHA1" => 6,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECC-GOST" => 12,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        "INDIRECT" => 252,
        "PRIVATEDNS" => 253,
        "PRIVATEOID" => 254,
        _ => return word.parse().map_err(|_| format!("bad algorithm {word}")),
    };
    Ok(n)
}

/// A type mnemonic or `TYPEnnn` (RFC 3597 §5), including the registered
/// types hickory has no name for (they appear in NSEC bitmaps).
pub fn parse_type(word: &str) -> Result<RecordType, String> {
    let upper = word.to_ascii_uppercase();
    let bad = || format!("unknown type {word}");
    if let Some(n) = upper.strip_prefix("TYPE") {
        return n.parse::<u16>().map(RecordType::from).map_err(|_| bad());
    }
    match upper.as_str() {
        "IXFR" => Ok(RecordType::IXFR),
        "OPT" => Ok(RecordType::OPT),
        _ => RecordType::from_str(&upper)
            .ok()
            .or_else(|| unnamed_type(&upper).map(RecordType::from))
            .ok_or_else(bad),
    }
}

/// Numbers of the registered types hickory has no name for (IANA DNS
/// parameters).
fn unnamed_type(upper: &str) -> Option<u16> {
    let n = match upper {
        "MD" => 3,
        "MF" => 4,
        "MB" => 7,
        "MG" => 8,
        "MR" => 9,
        "WKS" => 11,
        "MINFO" => 14,
        "RP" => 17,
        "AFSDB" => 18,
        "X25" => 19,
        "ISDN" => 20,
        "RT" => 21,
        "NSAP" => 22,
        "NSAP-PTR" => 23,
        "PX" => 26,
        "GPOS" => 27,
        "LOC" => 29,
        "NXT" => 30,
        "EID" => 31,
        "NIMLOC" => 32,
        "ATMA" => 34,
        "KX" => 36,
        "A6" => 38,
        "SINK" => 40,
        "APL" => 42,
        "IPSECKEY" => 45,
        "DHCID" => 49,
        "HIP" => 55,
        "NINFO" => 56,
        "RKEY" => 57,
        "TALINK" => 58,
        "ZONEMD" => 63,
        "SPF" => 99,
        "EUI48" => 108,
        "EUI64" => 109,
        "URI" => 256,
        "TA" => 32768,
        "DLV" => 32769,
        _ => return None,
    };
    Some(n)
}

/// A name in uncompressed wire form, its labels as `name` holds them.
fn push_name(out: &mut Vec<u8>, name: &Name) -> Result<(), String> {
    for label in name.iter() {
        out.push(u8::try_from(label.len()).map_err(|_| "label too long")?);
        out.extend(label);
    }
    out.push(0);
    Ok(())
}

/// RRSIG time: YYYYMMDDHHmmSS (UTC) or plain seconds (RFC 4034 §3.2).
pub fn parse_time(word: &str) -> Result<u32, String> {
    let bad = || format!("bad signature time {word}");
    if word.len() != 14 || !word.bytes().all(|b| b.is_ascii_digit()) {
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
    let secs = unix_time(y, m, d, hh, mm, ss);
    // Serial-number arithmetic (RFC 1982): times wrap modulo 2^32.
    Ok(secs.rem_euclid(1 << 32) as u32)
}

/// Seconds since 1970-01-01 of a UTC calendar time in the proleptic
/// Gregorian calendar (days-from-civil); months count from 1.
pub fn unix_time(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60 + s
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

/// Decodes bits of `width` per character through `value`; bits left over
/// at the end (padding) are dropped.
fn decode_bits(
    text: &str,
    width: u32,
    value: impl Fn(u8) -> Option<u8>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let (mut acc, mut nbits) = (0u32, 0u32);
    for c in text.bytes() {
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

/// Base64 (RFC 4648 §4), the trailing `=` padding optional.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    decode_bits(text.trim_end_matches('='), 6, |c| {
        BASE64.iter().position(|x| *x == c).map(|p| p as u8)
    })
}

/// Base32 with the extended hex alphabet (RFC 4648 §7), either case.
pub fn base32hex_decode(text: &str) -> Result<Vec<u8>, String> {
    decode_bits(text.trim_end_matches('='), 5, |c| {
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

/// Hex digits of either case, whole octets only.
pub fn hex_decode(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text}"));
    }
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

    #[test]
    fn reads_the_types_and_forms_test_scenarios_use() {
        let o = Name::from_ascii("example.").unwrap();
        let cases: &[(&str, &str)] = &[
            (
                "CDNSKEY",
                "257 3 ECDSAP256SHA256 mdsswUyr3DPW132mOi8V9xESWE8jTo0d",
            ),
            ("KEY", "256 3 RSASHA1 AwEAAc3Z5DQDJpH4oPdNtC4BUQHk50XMD+dH"),
            (
                "CDS",
                "60485 ED25519 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B83",
            ),
            (
                "SIG",
                "A 8 2 3600 1767225600 1764547200 12345 @ mdsswUyr3DPW132mOi8V9xESWE8jTo0d",
            ),
            ("NSEC", "a.example. A WKS LOC SPF NSEC"),
            (
                "NSEC3",
                "1 1 12 aabbccdd 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR MX NSEC3PARAM",
            ),
            ("NSEC3PARAM", "1 0 1 -"),
        ];
        for (t, text) in cases {
            let words: Vec<&str> = text.split_whitespace().collect();
            let rt = is_dnssec_type(t).unwrap();
            assert!(handles(rt));
            let rd = parse_rdata(rt, &words, Some(&o)).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(rd.record_type(), rt);
        }
        assert_eq!(is_dnssec_type("cds"), Some(RecordType::CDS));
        assert_eq!(is_dnssec_type("A"), None);
    }

    #[test]
    fn algorithms_by_mnemonic_or_number() {
        for (word, n) in [
            ("RSASHA1", 5),
            ("rsasha1-nsec3-sha1", 7),
            ("ECDSAP384SHA384", 14),
            ("ED448", 16),
            ("PRIVATEOID", 254),
            ("8", 8),
        ] {
            assert_eq!(algorithm(word), Ok(n), "{word}");
        }
        assert!(algorithm("RSASHA3").is_err());
        assert!(algorithm("256").is_err());
    }

    #[test]
    fn times_and_calendar() {
        // Both RRSIG forms (RFC 4034 §3.2); the date is UTC.
        assert_eq!(parse_time("20070916134226").unwrap(), 1_189_950_146);
        assert_eq!(parse_time("1189950146").unwrap(), 1_189_950_146);
        assert!(parse_time("2007091613422x").is_err());
        assert!(parse_time("4294967296").is_err());
        // Past 2106 the serial wraps (RFC 1982).
        assert_eq!(parse_time("21060207062816").unwrap(), 0);
        assert_eq!(unix_time(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(unix_time(2000, 2, 29, 12, 0, 0), 951_825_600);
        assert_eq!(unix_time(1969, 12, 31, 23, 59, 59), -1);
    }

    #[test]
    fn names_keep_the_case_the_reader_gives() {
        let upper = |w: &str| Name::from_ascii(w).map_err(|e| e.to_string());
        let words = ["Next.Example.", "A"];
        let wire = rdata_wire(RecordType::NSEC, &words, &upper).unwrap();
        assert_eq!(wire.get(..5), Some(&b"\x04Next"[..]));
        let o = Name::from_ascii("Example.").unwrap();
        let rd = parse_rdata(RecordType::NSEC, &words, Some(&o)).unwrap();
        let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC(nsec)) = rd else {
            panic!("not NSEC: {rd:?}");
        };
        assert_eq!(nsec.next_domain_name().to_string(), "next.example.");
    }

    #[test]
    fn malformed_text_is_refused() {
        let o = Name::from_ascii("example.").unwrap();
        let bad: &[(RecordType, &str)] = &[
            (RecordType::NSEC3PARAM, "1 0 1 - extra"),
            (RecordType::DS, "1 8 2 abc"),
            (RecordType::DNSKEY, "257 3 8 AAAA=AAAA"),
            (RecordType::NSEC, "a.example. A NOSUCHTYPE"),
            (RecordType::NSEC, "a.example. TYPEX"),
            (
                RecordType::RRSIG,
                "A 8 2 3600 20261301000000 1 1 example. AAAA",
            ),
            (RecordType::DNSKEY, "257 3"),
            (RecordType::A, "192.0.2.1"),
        ];
        for (t, text) in bad {
            let words: Vec<&str> = text.split_whitespace().collect();
            assert!(parse_rdata(*t, &words, Some(&o)).is_err(), "{t} {text}");
        }
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert_eq!(
            base32hex_decode("CPNG====").unwrap(),
            b"foo".get(..2).unwrap()
        );
        assert_eq!(parse_type("md").unwrap(), RecordType::Unknown(3));
        assert_eq!(parse_type("TYPE65534").unwrap(), RecordType::Unknown(65534));
    }
}
