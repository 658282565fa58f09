//! Mnemonics of RR types and classes as dig prints and parses them
//! (IANA "DNS Parameters" registry; RFC 3597 §5 `TYPEnnn`/`CLASSnnn` for
//! the rest). Pure tables, shared by argument parsing and output.

/// (code, mnemonic) for every type dig 9.18 knows by name.
const TYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (40, "SINK"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (100, "UINFO"),
    (101, "UID"),
    (102, "GID"),
    (103, "UNSPEC"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
    (258, "AVC"),
    (259, "DOA"),
    (260, "AMTRELAY"),
    (32768, "TA"),
    (32769, "DLV"),
];

const CLASSES: &[(u16, &str)] = &[(1, "IN"), (3, "CH"), (4, "HS"), (254, "NONE"), (255, "ANY")];

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_DS: u16 = 43;
pub const TYPE_RRSIG: u16 = 46;
pub const CLASS_IN: u16 = 1;

/// The mnemonic of a type, or `TYPEnnn`.
pub fn type_name(code: u16) -> String {
    match TYPES.iter().find(|(c, _)| *c == code) {
        Some((_, n)) => (*n).to_string(),
        None => format!("TYPE{code}"),
    }
}

/// The mnemonic of a class, or `CLASSnnn`.
pub fn class_name(code: u16) -> String {
    match CLASSES.iter().find(|(c, _)| *c == code) {
        Some((_, n)) => (*n).to_string(),
        None => format!("CLASS{code}"),
    }
}

/// Parses a type mnemonic or `TYPEnnn`, case-insensitively.
pub fn parse_type(text: &str) -> Option<u16> {
    let upper = text.to_ascii_uppercase();
    if let Some((c, _)) = TYPES.iter().find(|(_, n)| *n == upper) {
        return Some(*c);
    }
    upper.strip_prefix("TYPE").and_then(parse_number)
}

/// Parses a class mnemonic (dig also accepts CHAOS and HESIOD) or
/// `CLASSnnn`, case-insensitively.
pub fn parse_class(text: &str) -> Option<u16> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "CHAOS" => return Some(3),
        "HESIOD" => return Some(4),
        _ => {}
    }
    if let Some((c, _)) = CLASSES.iter().find(|(_, n)| *n == upper) {
        return Some(*c);
    }
    upper.strip_prefix("CLASS").and_then(parse_number)
}

fn parse_number(digits: &str) -> Option<u16> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (text, code) in [("a", 1), ("Mx", 15), ("TYPE65534", 65534), ("nsap-ptr", 23)] {
            assert_eq!(parse_type(text), Some(code), "{text}");
        }
        assert_eq!(type_name(65534), "TYPE65534");
        assert_eq!(type_name(28), "AAAA");
        assert_eq!(parse_type("TYPE"), None);
        assert_eq!(parse_type("TYPE70000"), None);
        assert_eq!(parse_type("example"), None);
        assert_eq!(parse_class("chaos"), Some(3));
        assert_eq!(parse_class("CLASS9"), Some(9));
        assert_eq!(class_name(9), "CLASS9");
        assert_eq!(parse_class("www"), None);
    }
}
