//! Local zones and local data as configured (Unbound's `local-zone` and
//! `local-data`): the zone types and the parsing of one record written in
//! zone-file syntax (RFC 1035 §5.1). What the types *do* is decided in
//! `server::local`.

use std::str::FromStr;

use hickory_proto::rr::{DNSClass, Name, Record};
use hickory_proto::serialize::txt::Parser;

/// TTL of a local-data record written without one (Unbound's default).
pub const DEFAULT_LOCAL_TTL: u32 = 3600;

/// How a local zone answers (Unbound's local-zone types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalZoneType {
    /// Local data answers; anything else is dropped.
    Deny,
    /// Local data answers; anything else is REFUSED.
    Refuse,
    /// Local data answers; anything else is NXDOMAIN or NODATA.
    Static,
    /// Local data answers; a name with local data but not of the type asked
    /// is NODATA; other names are resolved.
    Transparent,
    /// Local data answers; everything else is resolved.
    TypeTransparent,
    /// The apex data answers for every name in the zone.
    Redirect,
    /// Transparent, and the query is logged.
    Inform,
    /// Deny, and the query is logged.
    InformDeny,
    /// Resolved as if the zone did not exist (local data ignored).
    AlwaysTransparent,
    /// REFUSED, local data ignored.
    AlwaysRefuse,
    /// NXDOMAIN, local data ignored.
    AlwaysNxdomain,
    /// NODATA, local data ignored.
    AlwaysNodata,
    /// A 0.0.0.0 / AAAA :: for address questions, else NODATA.
    AlwaysNull,
    /// Without views, the same as static.
    Noview,
    /// Removes the built-in (default) zone of this name.
    Nodefault,
    /// NODATA for A questions, everything else resolved (local data ignored).
    BlockA,
    /// NODATA for AAAA questions, everything else resolved (local data ignored).
    BlockAaaa,
    /// As block_a, but local data answers first.
    BlockAWdata,
    /// As block_aaaa, but local data answers first.
    BlockAaaaWdata,
}

impl FromStr for LocalZoneType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "deny" => Self::Deny,
            "refuse" => Self::Refuse,
            "static" => Self::Static,
            "transparent" => Self::Transparent,
            "typetransparent" => Self::TypeTransparent,
            "redirect" => Self::Redirect,
            "inform" => Self::Inform,
            "inform_deny" => Self::InformDeny,
            "always_transparent" => Self::AlwaysTransparent,
            "always_refuse" => Self::AlwaysRefuse,
            "always_nxdomain" => Self::AlwaysNxdomain,
            "always_nodata" => Self::AlwaysNodata,
            "always_null" => Self::AlwaysNull,
            "noview" => Self::Noview,
            "nodefault" => Self::Nodefault,
            "block_a" => Self::BlockA,
            "block_aaaa" => Self::BlockAaaa,
            "block_a_wdata" => Self::BlockAWdata,
            "block_aaaa_wdata" => Self::BlockAaaaWdata,
            other => return Err(format!("unknown local zone type {other:?}")),
        })
    }
}

/// One configured local zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalZone {
    pub name: Name,
    pub class: DNSClass,
    pub kind: LocalZoneType,
    /// Another type for clients in a network, the most specific network
    /// winning (Unbound's `local-zone-override`).
    pub overrides: Vec<(ipnet::IpNet, LocalZoneType)>,
}

/// Parses one record in zone-file syntax: owner, optional TTL (default
/// 3600), optional class (default IN), type and data. Relative names are
/// taken as absolute.
pub fn parse_record(text: &str) -> Result<Record, String> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('$') || text.contains('\n') {
        return Err("a local-data record is one line of owner, type and data".to_string());
    }
    let input = format!("$TTL {DEFAULT_LOCAL_TTL}\n{text}\n");
    let parser = Parser::new(input, None, Some(Name::root()));
    let (_, sets) = parser.parse().map_err(|e| e.to_string())?;
    let mut records = sets
        .into_values()
        .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>());
    match (records.next(), records.next()) {
        (Some(r), None) => Ok(r),
        _ => Err("expected exactly one record".to_string()),
    }
}

/// Parses a zone name (made absolute).
pub fn parse_zone_name(text: &str) -> Option<Name> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut n = Name::from_ascii(text).ok()?;
    n.set_fqdn(true);
    Some(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hickory_proto::rr::RecordType;

    #[test]
    fn parses_records_with_defaults() {
        let r = parse_record("mail.example.com. IN A 10.20.30.40").unwrap();
        assert_eq!(r.ttl, 3600);
        assert_eq!(r.record_type(), RecordType::A);
        let r = parse_record("local SOA nobody nobody 1 2 3 4 5").unwrap();
        assert_eq!(r.name.to_ascii(), "local.");
        let r = parse_record("mydata.server. CH A 10.11.12.13").unwrap();
        assert_eq!(r.dns_class, DNSClass::CH);
        let r = parse_record("x.lan. 60 AAAA ::1").unwrap();
        assert_eq!(r.ttl, 60);
    }

    #[test]
    fn rejects_bad_records() {
        assert!(parse_record("").is_err());
        assert!(parse_record("x.lan. A 999.1.1.1").is_err());
        assert!(parse_record("x.lan. A 1.1.1.1\ny.lan. A 1.1.1.2").is_err());
        assert!("bogus".parse::<LocalZoneType>().is_err());
        assert_eq!("static".parse(), Ok(LocalZoneType::Static));
    }
}
