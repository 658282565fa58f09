//! Root hints for `+trace`: the engine's (`RootHints`: the built-in 13 root
//! servers, or a hints file read with the zone-file reader, whose errors
//! name the file and line), as the list of servers the walk asks.

use std::net::IpAddr;
use std::path::Path;

use crate::engine::hints::HintsError;
use crate::engine::RootHints;

/// A server of a zone: its NS name (lower case, ending in '.') and known
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsServer {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// The root servers of `hints`, in their order.
pub fn servers_of(hints: &RootHints) -> Vec<NsServer> {
    hints
        .servers
        .iter()
        .map(|(name, addrs)| NsServer {
            name: name.to_lowercase().to_ascii(),
            addrs: addrs.clone(),
        })
        .collect()
}

/// The root servers named in the hints file at `path`.
pub fn from_file(path: &str) -> Result<Vec<NsServer>, HintsError> {
    Ok(servers_of(&RootHints::from_file(Path::new(path))?))
}

/// The built-in root servers (IANA's root hints, IPv4 and IPv6).
pub fn built_in() -> Vec<NsServer> {
    servers_of(&RootHints::built_in())
}
