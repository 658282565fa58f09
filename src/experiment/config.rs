//! The experiment file (TOML): which lab to start and where, the client
//! population (subnets with weights, names with weights, a query rate and
//! a duration) and a timeline of events. Unknown keys, out-of-range values
//! and dangling references are errors naming the file, line and key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use ipnet::IpNet;
use serde::Deserialize;

use crate::auth::faults::Faults;

/// Longest run accepted, in seconds.
pub const MAX_DURATION_S: f64 = 600.0;
/// Highest total query rate accepted, queries per second.
pub const MAX_RATE: f64 = 500.0;
/// Most queries one run may send (rate × duration).
pub const MAX_QUERIES: usize = 100_000;
/// Most client subnets, names and events in one file.
pub const MAX_CLIENTS: usize = 1000;
pub const MAX_NAMES: usize = 100;
pub const MAX_EVENTS: usize = 200;

/// Why an experiment file is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ExperimentError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    experiment: ExperimentSection,
    #[serde(default)]
    client: Vec<ClientSection>,
    #[serde(default)]
    name: Vec<NameSection>,
    #[serde(default)]
    event: Vec<EventSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentSection {
    #[serde(default)]
    title: Option<String>,
    lab: PathBuf,
    #[serde(default)]
    relocate: BTreeMap<String, String>,
    resolver: String,
    #[serde(default)]
    cdn: BTreeMap<String, PathBuf>,
    duration_s: f64,
    rate: f64,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_bin")]
    bin_s: f64,
}

fn default_seed() -> u64 {
    1
}

fn default_timeout() -> u64 {
    2000
}

fn default_bin() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSection {
    subnet: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default = "default_weight")]
    weight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameSection {
    name: String,
    #[serde(default = "default_weight")]
    weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Close a replica's listener (health checks fail).
    ReplicaDown,
    /// Open it again.
    ReplicaUp,
    /// Replace one server's faults (delay, loss, down...).
    Faults,
    /// Rewrite a load file read by `lowest-load` policies.
    Load,
    /// Serve a server's dynamic names from another CDN policy file (a new
    /// policy, TTL or weights).
    Cdn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSection {
    at_s: f64,
    action: ActionKind,
    #[serde(default)]
    replica: Option<String>,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    faults: Option<Faults>,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    loads: BTreeMap<String, f64>,
}

/// One client network.
#[derive(Debug, Clone)]
pub struct Client {
    pub subnet: IpNet,
    pub region: String,
    pub weight: u32,
}

/// One name the clients ask for (type A).
#[derive(Debug, Clone)]
pub struct QueryName {
    pub name: Name,
    pub weight: u32,
}

/// A validated event.
#[derive(Debug, Clone)]
pub struct Event {
    pub at_s: f64,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    ReplicaDown(String),
    ReplicaUp(String),
    Faults {
        server: String,
        faults: Faults,
    },
    /// `file` is relative to the lab copy.
    Load {
        file: PathBuf,
        loads: BTreeMap<String, f64>,
    },
    /// `file` is relative to the lab copy.
    Cdn {
        server: String,
        file: PathBuf,
    },
}

impl Event {
    /// A short label for the report and the terminal.
    pub fn label(&self) -> String {
        match &self.action {
            Action::ReplicaDown(r) => format!("{r} down"),
            Action::ReplicaUp(r) => format!("{r} up"),
            Action::Faults { server, faults } => {
                format!("{server}: {}", crate::lab::describe_faults(faults))
            }
            Action::Load { loads, .. } => {
                let parts: Vec<String> = loads.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("load {}", parts.join(" "))
            }
            Action::Cdn { server, file } => format!("{server}: policy {}", file.display()),
        }
    }
}

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: PathBuf,
    pub title: String,
    /// The lab directory (or lab file) to start.
    pub lab: PathBuf,
    /// The directory holding the experiment file (its CDN files are
    /// copied beside the lab's).
    pub dir: PathBuf,
    /// Text replacements applied to every copied lab file, so the lab runs
    /// on its own loopback addresses.
    pub relocate: Vec<(String, String)>,
    pub resolver: SocketAddr,
    /// Server name → CDN policy file (a file name in the experiment's dir).
    pub cdn: BTreeMap<String, PathBuf>,
    pub duration_s: f64,
    pub rate: f64,
    pub seed: u64,
    pub timeout_ms: u64,
    pub bin_s: f64,
    pub clients: Vec<Client>,
    pub names: Vec<QueryName>,
    pub events: Vec<Event>,
}

impl Experiment {
    /// How many queries the run sends: one every 1/rate seconds.
    pub fn query_count(&self) -> usize {
        (self.duration_s * self.rate).floor() as usize
    }

    pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
        let text = std::fs::read_to_string(path).map_err(|e| ExperimentError {
            file: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })?;
        parse(path, &text)
    }
}

/// Parses and checks experiment text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Experiment, ExperimentError> {
    let err = |line: usize, message: String| ExperimentError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let f: File = toml::from_str(text).map_err(|e| {
        err(
            crate::config::toml_error_line(text, &e),
            e.message().to_string(),
        )
    })?;
    let line_of = |needle: &str| crate::config::line_mentioning(text, needle);
    // The line of the n-th `[[section]]` header.
    let nth_line = |header: &str, n: usize| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == header)
            .nth(n)
            .map_or(0, |(i, _)| i + 1)
    };
    let e = &f.experiment;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolver = crate::lab::config::parse_addr(&e.resolver, 53)
        .map_err(|m| err(line_of("resolver"), format!("experiment.resolver: {m}")))?;
    if !resolver.ip().is_loopback() {
        return Err(err(
            line_of("resolver"),
            format!("experiment.resolver: {resolver} is not loopback"),
        ));
    }
    if !(e.duration_s > 0.0 && e.duration_s <= MAX_DURATION_S) {
        return Err(err(
            line_of("duration_s"),
            format!(
                "experiment.duration_s: {} is not in (0, {MAX_DURATION_S}]",
                e.duration_s
            ),
        ));
    }
    if !(e.rate > 0.0 && e.rate <= MAX_RATE) {
        return Err(err(
            line_of("rate"),
            format!("experiment.rate: {} is not in (0, {MAX_RATE}]", e.rate),
        ));
    }
    if (e.duration_s * e.rate) as usize > MAX_QUERIES {
        return Err(err(
            line_of("rate"),
            format!("experiment: rate × duration_s is more than {MAX_QUERIES} queries"),
        ));
    }
    if !(100..=30_000).contains(&e.timeout_ms) {
        return Err(err(
            line_of("timeout_ms"),
            "experiment.timeout_ms: not in 100..=30000".to_string(),
        ));
    }
    if !(e.bin_s >= 0.1 && e.bin_s <= e.duration_s) {
        return Err(err(
            line_of("bin_s"),
            "experiment.bin_s: not in [0.1, duration_s]".to_string(),
        ));
    }
    for (from, to) in &e.relocate {
        if from.is_empty() || to.is_empty() {
            return Err(err(
                line_of("relocate"),
                "experiment.relocate: empty text".to_string(),
            ));
        }
    }
    let mut clients = Vec::new();
    if f.client.is_empty() || f.client.len() > MAX_CLIENTS {
        return Err(err(
            0,
            format!("between 1 and {MAX_CLIENTS} [[client]] sections needed"),
        ));
    }
    for (i, c) in f.client.iter().enumerate() {
        let line = nth_line("[[client]]", i);
        let subnet: IpNet = c.subnet.parse().map_err(|x| {
            err(
                line,
                format!("client.subnet: bad network {}: {x}", c.subnet),
            )
        })?;
        if c.weight == 0 {
            return Err(err(line, "client.weight: must be at least 1".to_string()));
        }
        clients.push(Client {
            subnet: subnet.trunc(),
            region: c
                .region
                .clone()
                .unwrap_or_else(|| subnet.trunc().to_string()),
            weight: c.weight,
        });
    }
    if f.name.is_empty() || f.name.len() > MAX_NAMES {
        return Err(err(
            0,
            format!("between 1 and {MAX_NAMES} [[name]] sections needed"),
        ));
    }
    let mut names = Vec::new();
    for (i, n) in f.name.iter().enumerate() {
        let line = nth_line("[[name]]", i);
        let name = Name::from_ascii(&n.name)
            .map_err(|x| err(line, format!("name.name: bad name {}: {x}", n.name)))?;
        let mut name = name;
        name.set_fqdn(true);
        if n.weight == 0 {
            return Err(err(line, "name.weight: must be at least 1".to_string()));
        }
        names.push(QueryName {
            name,
            weight: n.weight,
        });
    }
    if f.event.len() > MAX_EVENTS {
        return Err(err(0, format!("more than {MAX_EVENTS} events")));
    }
    let mut events = Vec::new();
    for (i, ev) in f.event.iter().enumerate() {
        let line = nth_line("[[event]]", i);
        events.push(event(ev, e.duration_s).map_err(|m| err(line, m))?);
    }
    events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    Ok(Experiment {
        file: path.to_path_buf(),
        title: e.title.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        }),
        lab: dir.join(&e.lab),
        dir,
        relocate: e.relocate.clone().into_iter().collect(),
        resolver,
        cdn: e.cdn.clone(),
        duration_s: e.duration_s,
        rate: e.rate,
        seed: e.seed,
        timeout_ms: e.timeout_ms,
        bin_s: e.bin_s,
        clients,
        names,
        events,
    })
}

/// Checks one event: the keys its action needs, and only those.
fn event(ev: &EventSection, duration: f64) -> Result<Event, String> {
    if !(ev.at_s >= 0.0 && ev.at_s <= duration) {
        return Err(format!("event.at_s: {} is not within the run", ev.at_s));
    }
    let need = |v: &Option<String>, key: &str| {
        v.clone()
            .ok_or_else(|| format!("event: action {:?} needs {key}", ev.action))
    };
    let action = match ev.action {
        ActionKind::ReplicaDown => Action::ReplicaDown(need(&ev.replica, "replica")?),
        ActionKind::ReplicaUp => Action::ReplicaUp(need(&ev.replica, "replica")?),
        ActionKind::Faults => {
            let faults = ev
                .faults
                .clone()
                .ok_or_else(|| "event: action faults needs faults".to_string())?;
            faults
                .validate()
                .map_err(|m| format!("event.faults: {m}"))?;
            Action::Faults {
                server: need(&ev.server, "server")?,
                faults,
            }
        }
        ActionKind::Load => {
            let file = ev
                .file
                .clone()
                .ok_or_else(|| "event: action load needs file".to_string())?;
            if ev.loads.is_empty() {
                return Err("event: action load needs loads".to_string());
            }
            if let Some((k, v)) = ev.loads.iter().find(|(_, v)| !v.is_finite()) {
                return Err(format!("event.loads: {k} = {v} is not a number"));
            }
            Action::Load {
                file: plain_file(&file)?,
                loads: ev.loads.clone(),
            }
        }
        ActionKind::Cdn => {
            let file = ev
                .file
                .clone()
                .ok_or_else(|| "event: action cdn needs file".to_string())?;
            Action::Cdn {
                server: need(&ev.server, "server")?,
                file: plain_file(&file)?,
            }
        }
    };
    Ok(Event {
        at_s: ev.at_s,
        action,
    })
}

/// Event files live in the lab copy: a bare file name, no directories.
fn plain_file(p: &Path) -> Result<PathBuf, String> {
    match p.file_name() {
        Some(f) if Path::new(f) == p => Ok(p.to_path_buf()),
        _ => Err(format!(
            "event.file: {} must be a file name in the lab or experiment directory",
            p.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[experiment]
lab = ".."
resolver = "127.190.255.1"
duration_s = 10
rate = 5

[[client]]
subnet = "10.1.0.0/24"
region = "eu"
weight = 2

[[name]]
name = "a.cdn.net"

[[event]]
at_s = 4
action = "replica-down"
replica = "us-1"

[[event]]
at_s = 2
action = "faults"
server = "cdn.net"
faults = { delay_ms = 50 }
"#;

    #[test]
    fn parses_and_sorts_events() {
        let e = parse(Path::new("/x/e.toml"), GOOD).unwrap();
        assert_eq!(e.query_count(), 50);
        assert_eq!(e.resolver.port(), 53);
        assert_eq!(e.lab, Path::new("/x/.."));
        assert_eq!(e.clients[0].region, "eu");
        assert_eq!(e.names[0].name.to_string(), "a.cdn.net.");
        assert_eq!(e.events[0].at_s, 2.0);
        assert_eq!(e.events[1].label(), "us-1 down");
        assert_eq!(e.events[0].label(), "cdn.net: delay 50ms±0ms");
    }

    #[test]
    fn errors_name_line_and_key() {
        let cases = [
            ("rate = 5", "rate = 0", "experiment.rate", 6),
            (
                "duration_s = 10",
                "duration_s = 1000",
                "experiment.duration_s",
                5,
            ),
            (
                "subnet = \"10.1.0.0/24\"",
                "subnet = \"10.1.0\"",
                "client.subnet",
                8,
            ),
            ("replica = \"us-1\"\n", "\n", "needs replica", 16),
            ("at_s = 4", "at_s = 40", "event.at_s", 16),
            (
                "resolver = \"127.190.255.1\"",
                "resolver = \"192.0.2.1\"",
                "not loopback",
                4,
            ),
            ("weight = 2", "weight = 2\ncolour = 1", "unknown field", 12),
        ];
        for (from, to, want, line) in cases {
            let text = GOOD.replacen(from, to, 1);
            let e = parse(Path::new("e.toml"), &text).unwrap_err();
            assert!(e.message.contains(want), "{to}: {e}");
            assert_eq!(e.line, line, "{to}: {e}");
        }
    }

    #[test]
    fn too_many_queries_rejected() {
        let text = GOOD
            .replace("rate = 5", "rate = 500")
            .replace("duration_s = 10", "duration_s = 600");
        let e = parse(Path::new("e.toml"), &text).unwrap_err();
        assert!(e.message.contains("queries"), "{e}");
    }

    #[test]
    fn event_files_are_bare_names() {
        let text = GOOD.replace(
            "action = \"replica-down\"\nreplica = \"us-1\"",
            "action = \"cdn\"\nserver = \"cdn.net\"\nfile = \"../etc/x.toml\"",
        );
        let e = parse(Path::new("e.toml"), &text).unwrap_err();
        assert!(e.message.contains("file name"), "{e}");
    }
}
