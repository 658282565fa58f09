//! `tern lab`: a miniature internet on loopback. Reads a lab file (see
//! `config.rs`), loads every zone first (a bad zone stops the lab before
//! anything binds), starts each authoritative server on its 127.x.y.z
//! addresses, writes root hints (RFC 1034 §5.3.2 "SBELT" in zone-file form)
//! and a resolver configuration to a run directory, starts `tern serve`
//! against them, and applies fault changes when the lab file changes.

pub mod certs;
pub mod config;
pub mod dnssec;
pub mod farm;
pub mod replica;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::task::JoinHandle;

pub use config::{LabError, LabSpec, ServerSpec};

use crate::auth::server::{bind, AuthServer, Serving};
use crate::zone::ZoneSet;

/// TTL written on root hints (the customary 3600000 of named.root).
const HINTS_TTL: u32 = 3_600_000;

/// The lab resolver's DNS over TLS port (on its listen address).
pub const LAB_DOT_PORT: u16 = 5853;
/// The lab resolver's DNS over HTTPS port (path /dns-query).
pub const LAB_DOH_PORT: u16 = 5443;

/// How to start a lab.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The `tern` binary to run as `tern serve`; None starts no resolver.
    pub resolver_exe: Option<PathBuf>,
    /// Where hints, the resolver config and its log go (default: a fresh
    /// directory under the system temp dir).
    pub run_dir: Option<PathBuf>,
    /// Sign every zone and make the resolver validate (`dnssec.rs`).
    pub dnssec: bool,
    /// Start Redis and this many resolvers sharing it (`farm.rs`); 0 = the
    /// one resolver, no Redis.
    pub farm: usize,
}

struct RunningServer {
    spec: ServerSpec,
    server: Arc<AuthServer>,
    zones: Arc<ZoneSet>,
    handles: Vec<Serving>,
}

/// A started lab. Dropping it stops the servers and kills the resolver.
pub struct RunningLab {
    spec: LabSpec,
    servers: Vec<RunningServer>,
    replicas: HashMap<String, Option<JoinHandle<()>>>,
    run_dir: PathBuf,
    hints: PathBuf,
    resolver_config: PathBuf,
    /// The root trust anchor file (`--dnssec` only).
    anchor: Option<PathBuf>,
    /// The CA and server certificate of the resolver's DoT and DoH.
    certs: certs::LabCerts,
    resolver: Option<Child>,
    /// The farm's Redis and its address (`--farm`).
    redis: Option<(Child, SocketAddr)>,
    /// The farm's resolvers after the first.
    farm: Vec<farm::Member>,
}

impl RunningLab {
    /// Loads all zones, then binds and starts everything.
    pub async fn start(spec: LabSpec, opts: StartOptions) -> Result<RunningLab, LabError> {
        let mut loaded = Vec::new();
        for s in &spec.servers {
            let zones = Arc::new(ZoneSet::load_paths(&s.zones)?);
            loaded.push((s.clone(), zones));
        }
        let signed = match opts.dnssec {
            true => Some(sign_loaded(&mut loaded)?),
            false => None,
        };
        let roots = root_records(&loaded)?;
        let hints_text = root_hints(&roots);
        let run_dir = match opts.run_dir {
            Some(d) => d,
            None => std::env::temp_dir().join(format!("tern-lab-{}", std::process::id())),
        };
        let io = |e: std::io::Error| LabError::Other(format!("{}: {e}", run_dir.display()));
        std::fs::create_dir_all(&run_dir).map_err(io)?;
        let hints = run_dir.join("root.hints");
        std::fs::write(&hints, hints_text).map_err(io)?;
        let anchor = match &signed {
            Some(text) => Some(dnssec::write_anchor(&run_dir, text)?),
            None => None,
        };
        let names = vec![
            certs::LAB_SERVER_NAME.to_string(),
            spec.resolver_listen.ip().to_string(),
        ];
        let certs = certs::generate(&run_dir, &names).map_err(LabError::Other)?;
        let resolver_config = run_dir.join("tern.toml");
        let redis_addr = SocketAddr::new(spec.resolver_listen.ip(), farm::LAB_REDIS_PORT);
        let mut config_text = resolver_toml(&spec, &hints, anchor.as_deref(), &certs);
        if opts.farm > 0 {
            config_text.push_str(&farm::resolver_tables(redis_addr, &run_dir, 1));
        }
        std::fs::write(&resolver_config, config_text).map_err(io)?;

        let mut lab = RunningLab {
            spec: spec.clone(),
            servers: Vec::new(),
            replicas: HashMap::new(),
            run_dir,
            hints,
            resolver_config,
            anchor,
            certs,
            resolver: None,
            redis: None,
            farm: Vec::new(),
        };
        for (i, (s, zones)) in loaded.into_iter().enumerate() {
            let dynamic = crate::auth::load_dynamic(s.cdn.as_deref()).map_err(LabError::Other)?;
            let server = Arc::new(AuthServer::new(&s.name, zones.clone(), dynamic));
            server.seed(spec.seed.wrapping_add(i as u64));
            server.set_faults(s.faults.clone());
            server.set_allow_transfer(s.allow_transfer.clone());
            server.set_upward_referral(roots.clone());
            let (udp, tcp) = bind(&s.addresses).await.map_err(|e| LabError::Bind {
                server: s.name.clone(),
                addr: s.addresses.first().copied().unwrap_or(spec.resolver_listen),
                error: e.to_string(),
            })?;
            let handles = vec![server.spawn(udp, tcp)];
            lab.servers.push(RunningServer {
                spec: s,
                server,
                zones,
                handles,
            });
        }
        lab.apply_replicas(&spec).await?;
        if opts.farm > 0 {
            let dir = lab.run_dir.clone();
            let redis = tokio::task::spawn_blocking(move || farm::start_redis(redis_addr, &dir))
                .await
                .map_err(|e| LabError::Other(format!("starting redis-server: {e}")))??;
            lab.redis = Some((redis, redis_addr));
        }
        if let Some(exe) = opts.resolver_exe {
            lab.start_resolver(&exe)?;
            for n in 2..=opts.farm {
                lab.start_member(&exe, n, &certs_free_toml(&lab, redis_addr, n))?;
            }
        }
        Ok(lab)
    }

    /// Starts the farm's resolver `n` (2 and up) with `config_text`.
    fn start_member(&mut self, exe: &Path, n: usize, config_text: &str) -> Result<(), LabError> {
        let config = self.run_dir.join(format!("tern-{n}.toml"));
        let log = self.run_dir.join(format!("resolver-{n}.log"));
        std::fs::write(&config, config_text)
            .map_err(|e| LabError::Other(format!("{}: {e}", config.display())))?;
        let child = farm::start_serve(exe, &config, &log)?;
        let _ = std::fs::write(
            self.run_dir.join(format!("resolver-{n}.pid")),
            child.id().to_string(),
        );
        self.farm.push(farm::Member {
            addr: farm::member_addr(self.spec.resolver_listen, n),
            config,
            log,
            child,
        });
        Ok(())
    }

    fn start_resolver(&mut self, exe: &Path) -> Result<(), LabError> {
        let log = self.run_dir.join("resolver.log");
        let out = std::fs::File::create(&log)
            .map_err(|e| LabError::Other(format!("{}: {e}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(|e| LabError::Other(format!("{}: {e}", log.display())))?;
        let child = Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(&self.resolver_config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::Other(format!("starting {} serve: {e}", exe.display())))?;
        // Lets scripts and tests clean up even if the lab itself is killed.
        let _ = std::fs::write(self.run_dir.join("resolver.pid"), child.id().to_string());
        self.resolver = Some(child);
        Ok(())
    }

    /// Starts or stops replica listeners to match `spec`.
    async fn apply_replicas(&mut self, spec: &LabSpec) -> Result<(), LabError> {
        for r in &spec.replicas {
            let running = self.replicas.entry(r.name.clone()).or_insert(None);
            match (r.down, running.is_some()) {
                (true, true) => {
                    if let Some(h) = running.take() {
                        h.abort();
                        let _ = h.await;
                    }
                    tracing::info!(replica = %r.name, "replica down");
                }
                (false, false) => {
                    let h = replica::start(&r.name, r.address).await.map_err(|e| {
                        LabError::Other(format!("replica {}: bind {}: {e}", r.name, r.address))
                    })?;
                    *running = Some(h);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies a changed lab file: faults per server, replicas up/down.
    /// Servers, addresses and zones are fixed while the lab runs.
    pub async fn apply(&mut self, spec: &LabSpec) -> Result<Vec<String>, LabError> {
        let mut changes = Vec::new();
        for new in &spec.servers {
            if let Some(s) = self.servers.iter_mut().find(|s| s.spec.name == new.name) {
                if s.spec.faults != new.faults {
                    s.server.set_faults(new.faults.clone());
                    s.spec.faults = new.faults.clone();
                    changes.push(format!(
                        "{}: faults {}",
                        new.name,
                        describe_faults(&new.faults)
                    ));
                }
            }
        }
        for r in &spec.replicas {
            let was = self.spec.replicas.iter().find(|x| x.name == r.name);
            if was.is_some_and(|w| w.down != r.down) {
                changes.push(format!(
                    "replica {}: {}",
                    r.name,
                    if r.down { "down" } else { "up" }
                ));
            }
        }
        self.apply_replicas(spec).await?;
        self.spec.replicas = spec.replicas.clone();
        Ok(changes)
    }

    /// Answers `server`'s dynamic names from the CDN policy file `cdn`
    /// from now on (a new policy, TTL or weights); its health checks
    /// start afresh.
    pub fn replace_cdn(&mut self, server: &str, cdn: &Path) -> Result<(), LabError> {
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.spec.name == server)
            .ok_or_else(|| LabError::Other(format!("no server {server} in the lab")))?;
        let dynamic = crate::auth::load_dynamic(Some(cdn)).map_err(LabError::Other)?;
        s.server.replace_dynamic(dynamic);
        s.spec.cdn = Some(cdn.to_path_buf());
        Ok(())
    }

    pub fn hints_path(&self) -> &Path {
        &self.hints
    }

    /// The root trust anchor file, with `--dnssec`.
    pub fn anchor_path(&self) -> Option<&Path> {
        self.anchor.as_deref()
    }

    pub fn resolver_config_path(&self) -> &Path {
        &self.resolver_config
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn resolver_addr(&self) -> SocketAddr {
        self.spec.resolver_listen
    }

    /// Where the resolver serves DNS over TLS.
    pub fn dot_addr(&self) -> SocketAddr {
        SocketAddr::new(self.spec.resolver_listen.ip(), LAB_DOT_PORT)
    }

    /// Where the resolver serves DNS over HTTPS (path /dns-query).
    pub fn doh_addr(&self) -> SocketAddr {
        SocketAddr::new(self.spec.resolver_listen.ip(), LAB_DOH_PORT)
    }

    /// The CA file that the resolver's certificate chains to.
    pub fn tls_ca_path(&self) -> &Path {
        &self.certs.ca
    }

    /// The child resolver's exit status, if it has exited.
    pub fn resolver_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.resolver
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// A human-readable map of the lab.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "tern lab: {}", self.spec.file.display());
        for s in &self.servers {
            let addrs: Vec<String> = s.spec.addresses.iter().map(|a| a.to_string()).collect();
            let zones: Vec<String> = s
                .zones
                .zones()
                .iter()
                .map(|z| z.origin().to_string())
                .collect();
            let _ = write!(
                out,
                "  {:<14} {:<32} {}",
                s.spec.name,
                addrs.join(" "),
                zones.join(" ")
            );
            if !s.spec.faults.is_clear() {
                let _ = write!(out, "   [faults: {}]", describe_faults(&s.spec.faults));
            }
            out.push('\n');
        }
        for r in &self.spec.replicas {
            let state = if r.down { "down" } else { "up" };
            let _ = writeln!(out, "  replica {:<6} {} ({state})", r.name, r.address);
        }
        let _ = writeln!(out, "  root hints: {}", self.hints.display());
        if let Some(a) = &self.anchor {
            let _ = writeln!(out, "  trust anchor: {}", a.display());
            let _ = writeln!(
                out,
                "  dnssec:     signed; {} is bogus, {} is unsigned (insecure)",
                dnssec::BOGUS_NAME,
                dnssec::UNSIGNED_ZONE
            );
        }
        let a = self.spec.resolver_listen;
        match self.resolver {
            Some(_) => {
                let _ = writeln!(
                    out,
                    "  resolver:   tern serve on {a} (config {}, log {})",
                    self.resolver_config.display(),
                    self.run_dir.join("resolver.log").display()
                );
                let _ = writeln!(
                    out,
                    "  encrypted:  dns over tls on {}, https://{}/dns-query",
                    self.dot_addr(),
                    self.doh_addr()
                );
                let _ = writeln!(out, "  tls ca: {}", self.certs.ca.display());
            }
            None => {
                let _ = writeln!(out, "  resolver:   not started");
            }
        }
        if let Some((_, addr)) = &self.redis {
            let _ = writeln!(
                out,
                "  redis:      redis-server on {addr} (dir {}, log {})",
                self.run_dir.join("redis").display(),
                self.run_dir.join("redis.log").display()
            );
            let _ = writeln!(
                out,
                "  farm:       resolver 1 on {a}, control {}",
                self.run_dir.join("control-1.socket").display()
            );
        }
        for (i, m) in self.farm.iter().enumerate() {
            let _ = writeln!(
                out,
                "  resolver {}: tern serve on {} (config {}, log {}, control {})",
                i + 2,
                m.addr,
                m.config.display(),
                m.log.display(),
                self.run_dir
                    .join(format!("control-{}.socket", i + 2))
                    .display()
            );
        }
        let _ = writeln!(out, "try:");
        if self.resolver.is_some() {
            let _ = writeln!(
                out,
                "  tern dig @{} -p {} www.example.lab",
                a.ip(),
                a.port()
            );
            for m in &self.farm {
                let _ = writeln!(
                    out,
                    "  tern dig @{} -p {} www.example.lab",
                    m.addr.ip(),
                    m.addr.port()
                );
            }
            let ca = self.certs.ca.display();
            let (dot, doh) = (self.dot_addr(), self.doh_addr());
            let _ = writeln!(
                out,
                "  tern dig @{} -p {} +tls +tls-ca={ca} www.example.lab",
                dot.ip(),
                dot.port()
            );
            let _ = writeln!(
                out,
                "  kdig @{} -p {} +https +tls-ca={ca} www.example.lab",
                doh.ip(),
                doh.port()
            );
        }
        // Ask authoritative servers directly too (the CDN one with ECS).
        for s in &self.servers {
            let (Some(addr), Some(cdn)) = (s.spec.addresses.first(), s.spec.cdn.as_deref()) else {
                continue;
            };
            let first = crate::auth::cdn::CdnConfig::load(cdn)
                .ok()
                .and_then(|c| c.names.first().map(|n| n.name.to_string()));
            if let Some(name) = first {
                let _ = writeln!(
                    out,
                    "  dig @{} -p {} {name} +norec +subnet=10.2.0.0/24",
                    addr.ip(),
                    addr.port()
                );
            }
        }
        out
    }

    /// Stops every task and the resolver; the servers' addresses are free
    /// again when it returns.
    pub async fn stop(mut self) {
        for s in &mut self.servers {
            for h in s.handles.drain(..) {
                h.stop().await;
            }
        }
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for s in &self.servers {
            for h in &s.handles {
                h.abort();
            }
        }
        for h in self.replicas.values().flatten() {
            h.abort();
        }
        if let Some(mut c) = self.resolver.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for mut m in self.farm.drain(..) {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
        if let Some((mut c, _)) = self.redis.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RunningLab {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Compact `key=value` text of the faults that are on.
pub fn describe_faults(f: &crate::auth::faults::Faults) -> String {
    let mut parts = Vec::new();
    if f.delay_ms > 0 || f.jitter_ms > 0 {
        parts.push(format!("delay {}ms±{}ms", f.delay_ms, f.jitter_ms));
    }
    if f.loss_percent > 0.0 {
        parts.push(format!("loss {}%", f.loss_percent));
    }
    for (on, name) in [
        (f.down, "down"),
        (f.refuse, "refuse"),
        (f.servfail, "servfail"),
        (f.lame, "lame"),
        (f.lame_upward, "lame_upward"),
        (f.truncate, "truncate"),
        (f.garbage, "garbage"),
    ] {
        if on {
            parts.push(name.to_string());
        }
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The root zone's apex NS records and their addresses in it.
fn root_records(loaded: &[(ServerSpec, Arc<ZoneSet>)]) -> Result<Vec<Record>, LabError> {
    let root = Name::root();
    let zone = loaded
        .iter()
        .flat_map(|(_, z)| z.zones().iter())
        .find(|z| z.origin() == &root)
        .ok_or_else(|| LabError::Other("no server serves the root zone \".\"".to_string()))?;
    let mut out = Vec::new();
    for ns in zone.rrset(&root, RecordType::NS).into_iter().flatten() {
        out.push(ns.clone());
        let RData::NS(target) = &ns.data else {
            continue;
        };
        for t in [RecordType::A, RecordType::AAAA] {
            out.extend(zone.rrset(&target.0, t).into_iter().flatten().cloned());
        }
    }
    Ok(out)
}

/// Root hints text (zone-file syntax) from the root records.
fn root_hints(records: &[Record]) -> String {
    let mut out = String::from("; root hints written by tern lab\n");
    for r in records {
        let _ = writeln!(
            out,
            "{} {HINTS_TTL} IN {} {}",
            r.name,
            r.record_type(),
            r.data
        );
    }
    out
}

/// Signs each zone once (servers share zones by origin) and gives every
/// server the signed copies; returns the trust anchor text.
fn sign_loaded(loaded: &mut [(ServerSpec, Arc<ZoneSet>)]) -> Result<String, LabError> {
    let mut unique: Vec<crate::zone::Zone> = Vec::new();
    for z in loaded.iter().flat_map(|(_, set)| set.zones()) {
        if !unique.iter().any(|u| u.origin() == z.origin()) {
            unique.push(z.clone());
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signed = dnssec::sign_lab(&unique, u32::try_from(now).unwrap_or(u32::MAX))?;
    for (_, set) in loaded.iter_mut() {
        let zones = set
            .zones()
            .iter()
            .map(|z| {
                signed
                    .zones
                    .get(z.origin())
                    .cloned()
                    .unwrap_or_else(|| z.clone())
            })
            .collect();
        *set = Arc::new(ZoneSet::new(zones)?);
    }
    Ok(signed.anchor)
}

/// The configuration of the farm's resolver `n` (2 and up): the first's,
/// on its own address, without DNS over TLS and HTTPS.
fn certs_free_toml(lab: &RunningLab, redis: SocketAddr, n: usize) -> String {
    let spec = LabSpec {
        resolver_listen: farm::member_addr(lab.spec.resolver_listen, n),
        ..lab.spec.clone()
    };
    let full = resolver_toml(&spec, &lab.hints, lab.anchor.as_deref(), &lab.certs);
    let plain = match full.find("[tls]") {
        Some(i) => full.get(..i).unwrap_or(&full).to_string(),
        None => full,
    };
    plain + &farm::resolver_tables(redis, &lab.run_dir, n)
}

fn toml_string(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

/// The resolver configuration for the lab (keys of config/tern.toml).
/// The built-in root keys can never validate the lab's own root, so
/// without an anchor validation is off.
fn resolver_toml(
    spec: &LabSpec,
    hints: &Path,
    anchor: Option<&Path>,
    certs: &certs::LabCerts,
) -> String {
    let listen = spec.resolver_listen;
    let tls = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nlisten = [\"{}\"]\nhttps_listen = [\"{}\"]\n",
        toml_string(&certs.cert),
        toml_string(&certs.key),
        SocketAddr::new(listen.ip(), LAB_DOT_PORT),
        SocketAddr::new(listen.ip(), LAB_DOH_PORT),
    );
    let hints = toml_string(hints);
    let dnssec = match anchor {
        Some(a) => format!(
            "[dnssec]\nvalidate = true\nbuiltin_root_anchors = false\ntrust_anchor_files = [\"{}\"]\n",
            toml_string(a)
        ),
        None => "[dnssec]\nvalidate = false\n".to_string(),
    };
    let ecs = if spec.client_subnet_zones.is_empty() {
        String::new()
    } else {
        let zones: Vec<String> = spec
            .client_subnet_zones
            .iter()
            .map(|z| format!("\"{z}\""))
            .collect();
        format!("client_subnet_zones = [{}]\n", zones.join(", "))
    };
    format!(
        "# written by tern lab\n[server]\nlisten = [\"{listen}\"]\n\n[resolver]\nroot_hints = \"{hints}\"\n{ecs}\n{dnssec}\n{tls}"
    )
}
