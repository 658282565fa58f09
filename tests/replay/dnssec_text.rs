//! DNSSEC rdata text for replay scenarios, read by the library's
//! `tern::zone::dnssec_text` (DNSKEY, CDNSKEY, KEY, RRSIG, SIG, NSEC, DS,
//! CDS, NSEC3, NSEC3PARAM; RFC 4034, RFC 5155). This file only strips
//! parentheses, reads names as the harness does (`records::name_in`:
//! `@`, escapes, case kept) and checks the reader against hickory.
//!
//! hickory's zone parser reads only DS of these, so the harness gets the
//! wire form here and lets hickory's binary decoder make the typed value
//! (`records::parse_record`).

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tern::zone::dnssec_text as lib;

use super::records::name_in;

pub use lib::handles;

/// The wire rdata of a DNSSEC record written as text.
pub fn rdata_wire(t: RecordType, text: &str, origin: &Name) -> Result<Vec<u8>, String> {
    let cleaned = text.replace(['(', ')'], " ");
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let name = |s: &str| name_in(s, origin);
    lib::rdata_wire(t, &words, &name).map_err(|e| format!("{t} rdata {text:?}: {e}"))
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
    if lib::base32hex_decode("0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM")? != hash.as_ref()
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
    let t = lib::parse_time("20070916134226")?;
    if t != 1_189_950_146 {
        return Err(format!("20070916134226 read as {t}, not 1189950146"));
    }
    Ok(())
}
