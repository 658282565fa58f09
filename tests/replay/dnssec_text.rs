//! Text forms of DNSSEC rdata to wire bytes, for replay scenarios: DNSKEY,
//! CDNSKEY and KEY (RFC 4034 §2.2), RRSIG and SIG (§3.2), NSEC (§4.2), DS
//! and CDS (§5.3), NSEC3 (RFC 5155 §3.3) and NSEC3PARAM (§4.3).
//!
//! hickory's zone parser reads only DS of these, so the harness writes the
//! wire form itself and lets hickory's binary decoder make the typed value
//! (`records::parse_record`). Parentheses are ignored, base64 and hex may be
//! split by spaces, algorithms may be mnemonics, RRSIG times may be
//! `YYYYMMDDHHmmSS` (UTC) or seconds, an NSEC3 salt of `-` is empty and the
//! hashed owner is base32hex in either case.

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::records::{hex_bytes, name_in, parse_type};

/// The DNSSEC types whose text this module reads.
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
    )
}

/// The wire rdata of a DNSSEC record written as text.
pub fn rdata_wire(t: RecordType, text: &str, origin: &Name) -> Result<Vec<u8>, String> {
    let cleaned = text.replace(['(', ')'], " ");
    let mut tok = cleaned.split_whitespace();
    let mut next = |what: &str| {
        tok.next()
            .ok_or_else(|| format!("{t} rdata without its {what}: {text:?}"))
    };
    let mut out = Vec::new();
    match t {
        RecordType::DNSKEY | RecordType::CDNSKEY | RecordType::KEY => {
            out.extend(int::<u16>(next("flags")?)?.to_be_bytes());
            out.push(int::<u8>(next("protocol")?)?);
            out.push(algorithm(next("algorithm")?)?);
            out.extend(base64(&rest(tok))?);
        }
        RecordType::DS | RecordType::CDS => {
            out.extend(int::<u16>(next("key tag")?)?.to_be_bytes());
            out.push(algorithm(next("algorithm")?)?);
            out.push(int::<u8>(next("digest type")?)?);
            out.extend(hex_bytes(&rest(tok))?);
        }
        RecordType::RRSIG | RecordType::SIG => {
            let covered = next("type covered")?;
            let covered = parse_type(covered).ok_or_else(|| format!("bad type {covered:?}"))?;
            out.extend(u16::from(covered).to_be_bytes());
            out.push(algorithm(next("algorithm")?)?);
            out.push(int::<u8>(next("labels")?)?);
            out.extend(int::<u32>(next("original TTL")?)?.to_be_bytes());
            out.extend(sig_time(next("expiration")?)?.to_be_bytes());
            out.extend(sig_time(next("inception")?)?.to_be_bytes());
            out.extend(int::<u16>(next("key tag")?)?.to_be_bytes());
            out.extend(name_wire(next("signer")?, origin)?);
            out.extend(base64(&rest(tok))?);
        }
        RecordType::NSEC => {
            out.extend(name_wire(next("next name")?, origin)?);
            out.extend(type_bitmap(tok)?);
        }
        RecordType::NSEC3 | RecordType::NSEC3PARAM => {
            out.push(int::<u8>(next("hash algorithm")?)?);
            out.push(int::<u8>(next("flags")?)?);
            out.extend(int::<u16>(next("iterations")?)?.to_be_bytes());
            let salt = match next("salt")? {
                "-" => Vec::new(),
                hex => hex_bytes(hex)?,
            };
            out.push(u8::try_from(salt.len()).map_err(|_| "salt too long".to_string())?);
            out.extend(salt);
            if t == RecordType::NSEC3 {
                let hash = base32hex(next("next hashed owner")?)?;
                out.push(u8::try_from(hash.len()).map_err(|_| "hash too long".to_string())?);
                out.extend(hash);
                out.extend(type_bitmap(tok)?);
            } else if let Some(extra) = tok.next() {
                return Err(format!("NSEC3PARAM with extra {extra:?}"));
            }
        }
        other => return Err(format!("{other} is not a DNSSEC type read here")),
    }
    Ok(out)
}

fn int<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number {s:?}"))
}

fn rest<'a>(tok: impl Iterator<Item = &'a str>) -> String {
    tok.collect()
}

fn name_wire(s: &str, origin: &Name) -> Result<Vec<u8>, String> {
    name_in(s, origin)?
        .to_bytes()
        .map_err(|e| format!("bad name {s:?}: {e}"))
}

/// DNSSEC algorithm numbers by mnemonic (IANA registry) or number.
fn algorithm(s: &str) -> Result<u8, String> {
    let n = match s.to_ascii_uppercase().as_str() {
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
        _ => return int(s),
    };
    Ok(n)
}

/// An RRSIG time: `YYYYMMDDHHmmSS` in UTC, or seconds (RFC 4034 §3.2),
/// as the 32-bit serial the wire carries.
pub fn sig_time(s: &str) -> Result<u32, String> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return int::<u32>(s);
    }
    let part = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let secs = unix_time(
        part(0, 4),
        part(4, 6),
        part(6, 8),
        part(8, 10),
        part(10, 12),
        part(12, 14),
    );
    // RFC 4034 §3.1.5: serial number arithmetic modulo 2^32.
    Ok((secs.rem_euclid(1 << 32)) as u32)
}

/// Seconds since the Unix epoch of a UTC calendar time (proleptic
/// Gregorian; days-from-civil).
pub fn unix_time(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60 + s
}

/// The NSEC/NSEC3 type bitmap (RFC 4034 §4.1.2).
fn type_bitmap<'a>(tok: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut types: Vec<u16> = Vec::new();
    for t in tok {
        let rt = parse_type(t).ok_or_else(|| format!("bad type {t:?} in a type bitmap"))?;
        types.push(u16::from(rt));
    }
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&first) = types.get(i) {
        let window = first >> 8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while let Some(&t) = types.get(i).filter(|&&t| t >> 8 == window) {
            let low = usize::from(t & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window as u8);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    Ok(out)
}

/// Base64 (RFC 4648 §4), padding optional.
fn base64(s: &str) -> Result<Vec<u8>, String> {
    decode_bits(s.trim_end_matches('='), 6, |c| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    })
}

/// Base32 with the extended hex alphabet (RFC 4648 §7), either case.
fn base32hex(s: &str) -> Result<Vec<u8>, String> {
    decode_bits(s.trim_end_matches('='), 5, |c| {
        match c.to_ascii_uppercase() {
            c @ b'0'..=b'9' => Some(c - b'0'),
            c @ b'A'..=b'V' => Some(c - b'A' + 10),
            _ => None,
        }
    })
}

fn decode_bits(s: &str, width: u32, value: impl Fn(u8) -> Option<u8>) -> Result<Vec<u8>, String> {
    let (mut acc, mut nbits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = value(c).ok_or_else(|| format!("bad character {:?} in {s:?}", c as char))?;
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

/// Checks of the text reader (run by `main` before any scenario): every
/// type comes out typed as hickory decodes it off the wire, bitmaps agree
/// with hickory's own, base32hex gives RFC 5155 Appendix A's hash, and
/// RRSIG dates are UTC.
pub fn self_check() -> Result<(), String> {
    use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
    use hickory_proto::dnssec::Nsec3HashAlgorithm;
    use hickory_proto::rr::RData;

    use super::records::{parse_record, TextState};

    let st = TextState::default();
    let lines = [
        "example.com. 3600 IN DNSKEY 257 3 RSASHA1 AwEAAc3Z5DQDJpH4oPdNtC4BUQHk50XMD+dH r4r8psHmivIa83hxR5CRgCtd9sENCW9Ae8OIO19xw9t/RPaEAqQa+OE=",
        "example.com. 3600 IN DS 2854 3 1 46e4ffc6e9a4793b 488954bd3f0cc6af0dfb201b",
        "example.com. RRSIG NSEC3 7 2 3600 20150420235959 20051021000000 ( 40430 example. g6jPUUpduAJKRljUsN8gB4UagAX0NxY9shwQ Aynzo8EUWH+z6hEIBlUTPGj15eZll6VhQqgZ XtAIR3chwgW+SA== )",
        "example.com. 3600 IN NSEC b.example.com. A RRSIG NSEC TYPE65534",
        "0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM.example. NSEC3 1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )",
        "example. 3600 IN NSEC3PARAM 1 0 1 -",
    ];
    for line in lines {
        let r = parse_record(line, &st)?;
        if !matches!(r.data, RData::DNSSEC(_)) {
            return Err(format!("{line:?} did not decode as a DNSSEC type: {r}"));
        }
    }
    let nsec = parse_record(lines[3], &st)?;
    let types = [
        RecordType::A,
        RecordType::RRSIG,
        RecordType::NSEC,
        RecordType::Unknown(65534),
    ];
    let next = Name::from_ascii("b.example.com.").map_err(|e| e.to_string())?;
    let want = RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(next, types)));
    if nsec.data.to_bytes().ok() != want.to_bytes().ok() {
        return Err(format!("NSEC bitmap differs from hickory's: {nsec}"));
    }
    let RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) = parse_record(lines[4], &st)?.data else {
        return Err("NSEC3 did not decode".to_string());
    };
    let example = Name::from_ascii("example.").map_err(|e| e.to_string())?;
    let hash = Nsec3HashAlgorithm::SHA1
        .hash(&[0xaa, 0xbb, 0xcc, 0xdd], &example, 12)
        .map_err(|e| e.to_string())?;
    if base32hex("0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM")? != hash.as_ref()
        || nsec3.next_hashed_owner_name().len() != 20
    {
        return Err("base32hex does not give RFC 5155's hash of example.".to_string());
    }
    let mut more = [
        (0, "  Aynzo8EUWH+z6hEIBlUTPGj15eZll6VhQqgZ ; comment"),
        (1, " XtAIR3chwgW+SA== )"),
    ]
    .into_iter();
    let first = "example.com. RRSIG NSEC3 7 2 3600 20150420235959 20051021000000 ( 40430 example. g6jPUUpduAJKRljUsN8gB4UagAX0NxY9shwQ";
    let joined = super::records::join_parentheses(first, &mut more);
    if parse_record(&joined, &st)?.data != parse_record(lines[2], &st)?.data {
        return Err(format!(
            "a record over three lines read differently: {joined:?}"
        ));
    }
    let t = sig_time("20070916134226")?;
    if t != 1_189_950_146 {
        return Err(format!("20070916134226 read as {t}, not 1189950146"));
    }
    Ok(())
}
