//! Root hints: the built-in list of the 13 root servers (IANA's
//! `named.root`, IPv4 and IPv6) or a hints file in zone-file syntax, and
//! the priming query that replaces them with the root's own NS set
//! (RFC 8109).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

/// The root servers' names and addresses (IANA root hints).
const BUILT_IN: &[(&str, &str, &str)] = &[
    ("a", "198.41.0.4", "2001:503:ba3e::2:30"),
    ("b", "170.247.170.2", "2801:1b8:10::b"),
    ("c", "192.33.4.12", "2001:500:2::c"),
    ("d", "199.7.91.13", "2001:500:2d::d"),
    ("e", "192.203.230.10", "2001:500:a8::e"),
    ("f", "192.5.5.241", "2001:500:2f::f"),
    ("g", "192.112.36.4", "2001:500:12::d0d"),
    ("h", "198.97.190.53", "2001:500:1::53"),
    ("i", "192.36.148.17", "2001:7fe::53"),
    ("j", "192.58.128.30", "2001:503:c27::2:30"),
    ("k", "193.0.14.129", "2001:7fd::1"),
    ("l", "199.7.83.42", "2001:500:9f::42"),
    ("m", "202.12.27.33", "2001:dc3::35"),
];

/// Root server names with their addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootHints {
    pub servers: Vec<(Name, Vec<IpAddr>)>,
}

/// Why a hints file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HintsError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: no root NS record with an address")]
    Empty { file: String },
    /// A syntax error, naming the file and line.
    #[error(transparent)]
    Zone(#[from] crate::zone::ZoneError),
}

impl RootHints {
    /// The built-in hints.
    pub fn built_in() -> Self {
        let servers = BUILT_IN
            .iter()
            .filter_map(|(letter, v4, v6)| {
                let name = Name::from_ascii(format!("{letter}.root-servers.net.")).ok()?;
                let addrs = [v4, v6].iter().filter_map(|a| a.parse().ok()).collect();
                Some((name, addrs))
            })
            .collect();
        Self { servers }
    }

    /// Reads a hints file in zone-file syntax (NS records at `.` and the
    /// A/AAAA records of those names).
    pub fn from_file(path: &Path) -> Result<Self, HintsError> {
        let records = crate::zone::file::read_zone_file(path, Some(Name::root()))?;
        Self::from_records(
            records.into_iter().map(|s| s.record),
            &path.display().to_string(),
        )
    }

    /// Parses hints text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, HintsError> {
        let parser = Parser::new(text, None, Some(Name::root()));
        let (_, sets) = parser.parse().map_err(|e| HintsError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let records: Vec<Record> = sets
            .values()
            .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
            .collect();
        Self::from_records(records, file)
    }

    /// Root NS names and their addresses from hints records.
    fn from_records(
        records: impl IntoIterator<Item = Record>,
        file: &str,
    ) -> Result<Self, HintsError> {
        let mut ns_names = Vec::new();
        let mut addrs: BTreeMap<Name, Vec<IpAddr>> = BTreeMap::new();
        for r in records {
            match (&r.data, r.record_type()) {
                (RData::NS(ns), RecordType::NS) if r.name.is_root() => ns_names.push(ns.0.clone()),
                (data, RecordType::A | RecordType::AAAA) => {
                    if let Some(ip) = data.ip_addr() {
                        addrs.entry(r.name.clone()).or_default().push(ip);
                    }
                }
                _ => {}
            }
        }
        let servers: Vec<(Name, Vec<IpAddr>)> = ns_names
            .into_iter()
            .filter_map(|n| addrs.get(&n).map(|a| (n, a.clone())))
            .collect();
        if servers.is_empty() {
            return Err(HintsError::Empty {
                file: file.to_string(),
            });
        }
        Ok(Self { servers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_has_13_servers_v4_and_v6() {
        let h = RootHints::built_in();
        assert_eq!(h.servers.len(), 13);
        for (_, addrs) in &h.servers {
            assert!(addrs.iter().any(IpAddr::is_ipv4));
            assert!(addrs.iter().any(IpAddr::is_ipv6));
        }
    }

    #[test]
    fn parses_hints_file() {
        let text = ".  3600000 NS a.root.lab.\n.  3600000 NS b.root.lab.\n\
                    a.root.lab. 3600000 A 127.53.0.1\nb.root.lab. 3600000 A 127.53.0.2\n\
                    b.root.lab. 3600000 AAAA ::1\n";
        let h = RootHints::parse(text, "hints.zone").unwrap();
        assert_eq!(h.servers.len(), 2);
        let b = h
            .servers
            .iter()
            .find(|(n, _)| n.to_ascii() == "b.root.lab.")
            .unwrap();
        assert_eq!(b.1.len(), 2);
    }

    #[test]
    fn hints_file_errors_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("tern-hints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.hints");
        std::fs::write(
            &path,
            ". 3600 NS a.root.\n; comment\na.root. 3600 A 999.1.1.1\n",
        )
        .unwrap();
        let e = RootHints::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("bad.hints:3"), "{e}");
        std::fs::write(&path, ". 3600 NS a.root.\na.root. 3600 A 192.0.2.1\n").unwrap();
        assert_eq!(RootHints::from_file(&path).unwrap().servers.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_or_broken_hints_are_errors() {
        assert!(matches!(
            RootHints::parse("; nothing\n", "h"),
            Err(HintsError::Empty { .. })
        ));
        let e = RootHints::parse(". 3600 NS\n", "hints.zone").unwrap_err();
        assert!(e.to_string().starts_with("hints.zone"), "{e}");
    }
}
