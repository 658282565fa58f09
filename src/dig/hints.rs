//! Root hints for `+trace`: the built-in addresses of the 13 root servers
//! (IANA's root hints file) or a hints file in master-file syntax
//! (`. NS name` and `name A/AAAA addr`, TTL and class optional).

use std::net::IpAddr;

/// IPv4 addresses of the 13 root servers (IANA root hints, a..m).
const ROOT_SERVERS: [(&str, &str); 13] = [
    ("a.root-servers.net.", "198.41.0.4"),
    ("b.root-servers.net.", "170.247.170.2"),
    ("c.root-servers.net.", "192.33.4.12"),
    ("d.root-servers.net.", "199.7.91.13"),
    ("e.root-servers.net.", "192.203.230.10"),
    ("f.root-servers.net.", "192.5.5.241"),
    ("g.root-servers.net.", "192.112.36.4"),
    ("h.root-servers.net.", "198.97.190.53"),
    ("i.root-servers.net.", "192.36.148.17"),
    ("j.root-servers.net.", "192.58.128.30"),
    ("k.root-servers.net.", "193.0.14.129"),
    ("l.root-servers.net.", "199.7.83.42"),
    ("m.root-servers.net.", "202.12.27.33"),
];

/// A server of a zone: its NS name and known addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsServer {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// Parses a root hints file (master-file lines: `. NS name` and
/// `name A addr` / `name AAAA addr`; TTL and class optional).
pub fn parse_hints(text: &str) -> Vec<NsServer> {
    let mut servers: Vec<NsServer> = Vec::new();
    let mut addrs: Vec<(String, IpAddr)> = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        if line.trim_start().starts_with('$') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(pos) = words
            .iter()
            .position(|w| matches!(w.to_ascii_uppercase().as_str(), "NS" | "A" | "AAAA"))
        else {
            continue;
        };
        let (Some(owner), Some(kind), Some(data)) =
            (words.first(), words.get(pos), words.get(pos + 1))
        else {
            continue;
        };
        let owner = absolute(owner);
        match kind.to_ascii_uppercase().as_str() {
            "NS" if owner == "." => servers.push(NsServer {
                name: absolute(data),
                addrs: Vec::new(),
            }),
            "A" | "AAAA" => {
                if let Ok(ip) = data.parse() {
                    addrs.push((owner, ip));
                }
            }
            _ => {}
        }
    }
    for s in &mut servers {
        s.addrs = addrs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&s.name))
            .map(|(_, a)| *a)
            .collect();
    }
    servers
}

pub(crate) fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_ascii_lowercase()
    } else {
        format!("{}.", name.to_ascii_lowercase())
    }
}

/// The built-in root servers.
pub fn builtin_roots() -> Vec<NsServer> {
    ROOT_SERVERS
        .iter()
        .filter_map(|(n, a)| {
            Some(NsServer {
                name: (*n).to_string(),
                addrs: vec![a.parse().ok()?],
            })
        })
        .collect()
}
