//! The `lab.toml` file that lays out a miniature internet: the resolver's
//! listen address, each authoritative server (name, loopback addresses,
//! zone files, optional CDN policy file, faults) and the replica listeners
//! the CDN health checks probe. Unknown keys are errors; errors name the
//! file and line.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::faults::Faults;

/// Why a lab file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{}: cannot read: {error}", file.display())]
    Read { file: PathBuf, error: String },
    #[error("{}:{line}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Zone(#[from] crate::zone::ZoneError),
    #[error("server {server}: cannot bind {addr}: {error}")]
    Bind {
        server: String,
        addr: SocketAddr,
        error: String,
    },
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    #[serde(default)]
    pub lab: LabSection,
    #[serde(default)]
    pub resolver: ResolverSection,
    #[serde(default)]
    pub server: Vec<ServerSection>,
    #[serde(default)]
    pub replica: Vec<ReplicaSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabSection {
    /// Seed for every random choice in the lab (faults), so runs repeat.
    pub seed: u64,
}

impl Default for LabSection {
    fn default() -> Self {
        Self { seed: 1 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverSection {
    /// Where the lab's `tern serve` listens (UDP and TCP).
    pub listen: String,
    /// Zones the resolver sends EDNS Client Subnet to (its
    /// `resolver.client_subnet_zones`).
    pub client_subnet_zones: Vec<String>,
}

impl Default for ResolverSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5300".to_string(),
            client_subnet_zones: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub name: String,
    /// Loopback addresses, port 53 unless given.
    pub addresses: Vec<String>,
    /// Zone files, relative to the lab directory.
    pub zones: Vec<PathBuf>,
    /// CDN policy file, relative to the lab directory.
    #[serde(default)]
    pub cdn: Option<PathBuf>,
    #[serde(default)]
    pub faults: Faults,
    /// Networks allowed to transfer this server's zones (AXFR); none by default.
    #[serde(default)]
    pub allow_transfer: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSection {
    pub name: String,
    /// A TCP address the lab listens on for this replica (health checks).
    pub address: SocketAddr,
    /// When true the listener is closed (the replica is "dead").
    #[serde(default)]
    pub down: bool,
}

/// A validated lab: paths resolved against the lab directory.
#[derive(Debug, Clone)]
pub struct LabSpec {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub seed: u64,
    pub resolver_listen: SocketAddr,
    /// Zones the lab's resolver sends EDNS Client Subnet to.
    pub client_subnet_zones: Vec<hickory_proto::rr::Name>,
    pub servers: Vec<ServerSpec>,
    pub replicas: Vec<ReplicaSection>,
}

#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub name: String,
    pub addresses: Vec<SocketAddr>,
    pub zones: Vec<PathBuf>,
    pub cdn: Option<PathBuf>,
    pub faults: Faults,
    pub allow_transfer: Vec<ipnet::IpNet>,
}

/// The name of the lab file inside a lab directory.
pub const LAB_FILE: &str = "lab.toml";

impl LabSpec {
    /// Reads `DIR/lab.toml` (or a file path given directly).
    pub fn load(path: &Path) -> Result<LabSpec, LabError> {
        let (dir, file) = match path.is_dir() {
            true => (path.to_path_buf(), path.join(LAB_FILE)),
            false => (
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                path.to_path_buf(),
            ),
        };
        let text = std::fs::read_to_string(&file).map_err(|e| LabError::Read {
            file: file.clone(),
            error: e.to_string(),
        })?;
        let parsed: LabFile = toml::from_str(&text).map_err(|e| LabError::Invalid {
            file: file.clone(),
            line: crate::config::toml_error_line(&text, &e),
            message: e.message().to_string(),
        })?;
        let invalid = |key: &str, message: String| LabError::Invalid {
            file: file.clone(),
            line: find_line(&text, key),
            message,
        };
        let resolver_listen = parse_addr(&parsed.resolver.listen, 5300)
            .map_err(|m| invalid("listen", format!("resolver.listen: {m}")))?;
        let mut client_subnet_zones = Vec::new();
        for z in &parsed.resolver.client_subnet_zones {
            let name = hickory_proto::rr::Name::from_ascii(z)
                .map(|mut n| {
                    n.set_fqdn(true);
                    n
                })
                .map_err(|e| {
                    invalid(
                        "client_subnet_zones",
                        format!("resolver.client_subnet_zones: {z:?}: {e}"),
                    )
                })?;
            client_subnet_zones.push(name);
        }
        let mut names = HashSet::new();
        let mut servers = Vec::new();
        for s in parsed.server {
            if !names.insert(s.name.clone()) {
                return Err(invalid(
                    &s.name,
                    format!("server {} is listed twice", s.name),
                ));
            }
            s.faults
                .validate()
                .map_err(|m| invalid(&s.name, format!("server {}: faults: {m}", s.name)))?;
            let mut addresses = Vec::new();
            for a in &s.addresses {
                let addr =
                    parse_addr(a, 53).map_err(|m| invalid(a, format!("server {}: {m}", s.name)))?;
                if !addr.ip().is_loopback() {
                    return Err(invalid(
                        a,
                        format!("server {}: {a} is not loopback", s.name),
                    ));
                }
                addresses.push(addr);
            }
            let mut allow_transfer = Vec::new();
            for n in &s.allow_transfer {
                let net = crate::auth::server::parse_net(n)
                    .map_err(|m| invalid(n, format!("server {}: allow_transfer: {m}", s.name)))?;
                allow_transfer.push(net);
            }
            if addresses.is_empty() || s.zones.is_empty() {
                return Err(invalid(
                    &s.name,
                    format!("server {} needs addresses and zones", s.name),
                ));
            }
            servers.push(ServerSpec {
                name: s.name,
                addresses,
                zones: s.zones.iter().map(|z| dir.join(z)).collect(),
                cdn: s.cdn.map(|c| dir.join(c)),
                faults: s.faults,
                allow_transfer,
            });
        }
        Ok(LabSpec {
            dir,
            file,
            seed: parsed.lab.seed,
            resolver_listen,
            client_subnet_zones,
            servers,
            replicas: parsed.replica,
        })
    }
}

/// `127.0.0.5` (default port) or `127.0.0.5:5353`.
pub fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| format!("{s} is not an address"))
}

/// The first line mentioning `needle` (for semantic errors after parsing).
fn find_line(text: &str, needle: &str) -> usize {
    crate::config::line_mentioning(text, needle)
}
