//! The CDN policy file (`cdn.toml`, beside the zones): replicas (name,
//! addresses, site, optional coordinates, health-check address), per-name
//! policies with their TTL and parameters, and health-check timing.
//! Unknown keys and dangling references are errors naming file and line.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;
use ipnet::IpNet;
use serde::Deserialize;

use super::probe::{parse_url, HttpUrl};

/// Why a CDN policy file is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct CdnError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CdnFile {
    #[serde(default)]
    health: HealthConfig,
    #[serde(default)]
    replica: Vec<ReplicaConfig>,
    #[serde(default)]
    name: Vec<NameFile>,
}

/// Active health checks: a TCP connect to each replica's health address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failures before a replica is dead.
    pub fail: u32,
    /// Consecutive successes before a dead replica is alive again.
    pub rise: u32,
    /// Port probed when a replica gives no `health` address.
    pub port: u16,
    /// When set, a check is an HTTP GET of this path that must answer 2xx;
    /// otherwise a TCP connect.
    pub http_path: Option<String>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval_ms: 1000,
            timeout_ms: 500,
            fail: 3,
            rise: 2,
            port: 8080,
            http_path: None,
        }
    }
}

impl HealthConfig {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaConfig {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub site: String,
    /// Latitude, longitude in degrees.
    #[serde(default)]
    pub coordinates: Option<[f64; 2]>,
    /// Address probed by health checks (default: first address, health port).
    #[serde(default)]
    pub health: Option<SocketAddr>,
}

/// One client network in a `closest`/`subnet`/`geo` map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetEntry {
    #[serde(deserialize_with = "de_net")]
    pub net: IpNet,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub coordinates: Option<[f64; 2]>,
}

fn de_net<'de, D: serde::Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|e| serde::de::Error::custom(format!("bad network {s}: {e}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Closest,
    Subnet,
    Geo,
    LowestLoad,
    Live,
    Fastest,
    Weighted,
    RoundRobin,
    Failover,
    Reflect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameFile {
    name: String,
    policy: PolicyKind,
    #[serde(default)]
    replicas: Vec<String>,
    #[serde(default = "default_ttl")]
    ttl: u32,
    #[serde(default)]
    subnets: Vec<SubnetEntry>,
    #[serde(default)]
    default_site: Option<String>,
    #[serde(default)]
    weights: BTreeMap<String, u32>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    load_file: Option<PathBuf>,
    #[serde(default)]
    load_url: Option<String>,
    /// Answer with this many replicas at most (live, closest...).
    #[serde(default = "default_count")]
    count: usize,
}

fn default_ttl() -> u32 {
    20
}

fn default_count() -> usize {
    1
}

/// A validated per-name policy.
impl PolicyKind {
    /// The name used in cdn.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closest => "closest",
            Self::Subnet => "subnet",
            Self::Geo => "geo",
            Self::LowestLoad => "lowest-load",
            Self::Live => "live",
            Self::Fastest => "fastest",
            Self::Weighted => "weighted",
            Self::RoundRobin => "round-robin",
            Self::Failover => "failover",
            Self::Reflect => "reflect",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NamePolicy {
    pub name: Name,
    pub kind: PolicyKind,
    /// Replica names, in the configured (failover) order.
    pub replicas: Vec<String>,
    pub ttl: u32,
    pub subnets: Vec<SubnetEntry>,
    pub default_site: Option<String>,
    pub weights: BTreeMap<String, u32>,
    pub seed: u64,
    pub load_file: Option<PathBuf>,
    /// `http://IP:PORT/path` returning the same `"name" = load` lines.
    pub load_url: Option<HttpUrl>,
    pub count: usize,
}

#[derive(Debug, Clone)]
pub struct CdnConfig {
    pub health: HealthConfig,
    pub replicas: Vec<ReplicaConfig>,
    pub names: Vec<NamePolicy>,
}

impl CdnConfig {
    pub fn load(path: &Path) -> Result<CdnConfig, CdnError> {
        let err = |line: usize, message: String| CdnError {
            file: path.to_path_buf(),
            line,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(0, e.to_string()))?;
        let file: CdnFile = toml::from_str(&text).map_err(|e| {
            err(
                crate::config::toml_error_line(&text, &e),
                e.message().to_string(),
            )
        })?;
        let line_of = |needle: &str| crate::config::line_mentioning(&text, needle);
        let h = &file.health;
        if h.http_path.as_ref().is_some_and(|p| !p.starts_with('/')) {
            return Err(err(
                line_of("http_path"),
                "health.http_path must start with /".into(),
            ));
        }
        if h.interval_ms == 0 || h.timeout_ms == 0 || h.fail == 0 || h.rise == 0 {
            return Err(err(
                line_of("[health]"),
                "health: interval_ms, timeout_ms, fail and rise must be > 0".into(),
            ));
        }
        let mut known = HashSet::new();
        for r in &file.replica {
            if !known.insert(r.name.clone()) {
                return Err(err(
                    line_of(&r.name),
                    format!("replica {} listed twice", r.name),
                ));
            }
            if r.addresses.is_empty() {
                return Err(err(
                    line_of(&r.name),
                    format!("replica {} has no addresses", r.name),
                ));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut names = Vec::new();
        for n in file.name {
            let at = line_of(&n.name);
            let name = Name::from_ascii(&n.name)
                .map_err(|e| err(at, format!("bad name {}: {e}", n.name)))?;
            let name = if name.is_fqdn() {
                name
            } else {
                Name::from_ascii(format!("{}.", n.name)).map_err(|e| err(at, e.to_string()))?
            };
            for r in n.replicas.iter().chain(n.weights.keys()) {
                if !known.contains(r) {
                    return Err(err(at, format!("{}: unknown replica {r}", n.name)));
                }
            }
            if n.policy != PolicyKind::Reflect && n.replicas.is_empty() {
                return Err(err(at, format!("{}: policy needs replicas", n.name)));
            }
            if n.policy == PolicyKind::Weighted && n.weights.values().all(|w| *w == 0) {
                return Err(err(
                    at,
                    format!("{}: weighted policy needs weights", n.name),
                ));
            }
            if n.policy == PolicyKind::LowestLoad && n.load_file.is_none() == n.load_url.is_none() {
                return Err(err(
                    at,
                    format!("{}: lowest-load needs one of load_file, load_url", n.name),
                ));
            }
            let load_url = match &n.load_url {
                Some(u) => Some(parse_url(u).map_err(|m| err(line_of(u), m))?),
                None => None,
            };
            if n.count == 0 {
                return Err(err(at, format!("{}: count must be at least 1", n.name)));
            }
            names.push(NamePolicy {
                name,
                kind: n.policy,
                replicas: n.replicas,
                ttl: n.ttl,
                subnets: n.subnets,
                default_site: n.default_site,
                weights: n.weights,
                seed: n.seed,
                load_file: n.load_file.map(|f| dir.join(f)),
                load_url,
                count: n.count,
            });
        }
        Ok(CdnConfig {
            health: file.health,
            replicas: file.replica,
            names,
        })
    }

    pub fn health_target(&self, r: &ReplicaConfig) -> Option<SocketAddr> {
        r.health.or_else(|| {
            r.addresses
                .first()
                .map(|a| SocketAddr::new(*a, self.health.port))
        })
    }
}
