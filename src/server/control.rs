//! The control channel of `tern serve` (`tern ctl`): a Unix socket, mode
//! 0600, taking one command line per connection and answering with "ok"
//! or "error: why" on the first line, then the output, then closing.
//!
//! Commands: `status`, `stats [--json]`, `flush NAME [TYPE]`,
//! `flush-zone NAME`, `flush-negative`, `flush-servers`, `lookup NAME`,
//! `trace NAME [TYPE]`, `dump-cache [FILE]`, `load-cache FILE` and
//! `reload`. The reload itself is given by the caller (`cli::serve`), which
//! knows the config file and the command-line overrides.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::cache::admin::{key_name, key_type, Listed};
use crate::cache::{Cached, Key};
use crate::clock::Clock;
use crate::engine::Request;
use crate::server::{cache_file, Handler};
use crate::upstream::counting::UpstreamCounters;
use crate::upstream::selection::{Edns, ServerStats};
use crate::upstream::Transport;

/// Longest command line read.
const MAX_LINE: u64 = 4096;

/// How long a client may take to send its command.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Re-reads the configuration: Ok(what was done) or Err(why refused).
pub type ReloadFn = dyn Fn() -> Result<String, String> + Send + Sync;

/// What the control channel reads and acts on.
pub struct Control<T: Transport, C: Clock> {
    pub handler: Arc<crate::server::Current<T, C>>,
    pub upstream: Arc<UpstreamCounters>,
    pub config_file: Option<PathBuf>,
    pub listen: Vec<SocketAddr>,
    pub reload: Arc<ReloadFn>,
    started: Instant,
}

/// The control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {0}: another tern is listening on it")]
    InUse(PathBuf),
    #[error("control socket {0}: exists and is not a socket")]
    NotSocket(PathBuf),
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Listens on `path`, created mode 0600. A socket file nobody listens on
/// (left by a process that died) is replaced; a live one is an error.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let io_err = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ControlError::NotSocket(path.to_path_buf()));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_err)?;
    }
    // Bound under a temporary name and renamed once private, so that the
    // socket is never reachable with looser permissions.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(io_err)?;
    let private = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = private {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(listener)
}

impl<T: Transport, C: Clock> Control<T, C> {
    pub fn new(
        handler: Arc<crate::server::Current<T, C>>,
        upstream: Arc<UpstreamCounters>,
        config_file: Option<PathBuf>,
        listen: Vec<SocketAddr>,
        reload: Arc<ReloadFn>,
    ) -> Self {
        Self {
            handler,
            upstream,
            config_file,
            listen,
            reload,
            started: Instant::now(),
        }
    }

    /// Accepts control connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = me.connection(stream).await {
                            tracing::debug!(error = %e, "control connection");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn connection(&self, stream: UnixStream) -> io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_LINE));
        tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let reply = match self.command(line.trim()).await {
            Ok(body) => format!("ok\n{body}"),
            Err(why) => format!("error: {why}\n"),
        };
        write.write_all(reply.as_bytes()).await?;
        write.shutdown().await
    }

    /// Runs one command line; Ok(output) or Err(why).
    pub async fn command(&self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        tracing::debug!(command = line, "control command");
        match words.as_slice() {
            ["status"] => Ok(self.status()),
            ["stats"] => Ok(text(&self.stats())),
            ["stats", "--json"] => serde_json::to_string_pretty(&self.stats())
                .map(|j| j + "\n")
                .map_err(|e| e.to_string()),
            ["flush", name] => {
                let n = self.cache().flush_name(&parse_name(name)?, None) + self.flush_subnets();
                Ok(format!("removed {n} entries\n"))
            }
            ["flush", name, qtype] => {
                let qtype = parse_type(qtype)?;
                let n =
                    self.cache().flush_name(&parse_name(name)?, Some(qtype)) + self.flush_subnets();
                Ok(format!("removed {n} entries\n"))
            }
            ["flush-zone", name] => {
                let n = self.cache().flush_zone(&parse_name(name)?) + self.flush_subnets();
                // Denial ranges are kept per zone; all go, as a range in
                // a parent can cover names of the zone.
                let m = self.handler().resolver().aggressive.clear();
                Ok(format!("removed {n} entries, {m} NSEC/NSEC3 records\n"))
            }
            ["flush-negative"] => {
                let n = self.cache().flush_negative();
                let m = self.handler().resolver().aggressive.clear();
                Ok(format!("removed {n} entries, {m} NSEC/NSEC3 records\n"))
            }
            ["flush-servers"] => {
                let n = self.handler().resolver().selection().clear();
                Ok(format!("forgot {n} servers\n"))
            }
            ["lookup", name] => Ok(self.lookup(&parse_name(name)?)),
            ["reload"] => {
                // Reads files (zone files too): off the async workers.
                let reload = self.reload.clone();
                match tokio::task::spawn_blocking(move || reload()).await {
                    Ok(r) => r.map(|s| s + "\n"),
                    Err(e) => Err(format!("reload failed: {e}")),
                }
            }
            ["dump-cache"] => {
                let now = self.handler().resolver().clock().now();
                Ok(cache_file::dump(&self.cache(), now, cache_file::unix_now()))
            }
            ["dump-cache", file] => {
                let path = absolute(file)?;
                let now = self.handler().resolver().clock().now();
                let n = cache_file::save(&self.cache(), now, &path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(format!("wrote {n} records to {}\n", path.display()))
            }
            ["load-cache", file] => {
                let path = absolute(file)?;
                let now = self.handler().resolver().clock().now();
                let n = cache_file::restore(&self.cache(), now, &path)?;
                Ok(format!("loaded {n} RRsets from {}\n", path.display()))
            }
            ["trace", name] => Ok(self.trace(parse_name(name)?, RecordType::A).await),
            ["trace", name, qtype] => {
                let qtype = parse_type(qtype)?;
                Ok(self.trace(parse_name(name)?, qtype).await)
            }
            [] => Err("empty command".to_string()),
            [cmd, ..] => Err(format!(
                "unknown command or arguments: {cmd:?} (status, stats [--json], flush NAME [TYPE], \
                 flush-zone NAME, flush-negative, flush-servers, lookup NAME, reload, \
                 trace NAME [TYPE], dump-cache [FILE], load-cache FILE)"
            )),
        }
    }

    /// The handler in service now (a reload replaces it).
    fn handler(&self) -> Arc<Handler<T, C>> {
        self.handler.load_full()
    }

    /// Empties the subnet cache (answers for single client subnets), which
    /// every flush of names does whole.
    fn flush_subnets(&self) -> usize {
        self.handler().resolver().subnet_cache.clear()
    }

    fn cache(&self) -> Arc<crate::cache::Cache> {
        self.handler().resolver().shared_cache()
    }

    fn status(&self) -> String {
        let mut out = String::new();
        let config = self
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(built-in defaults)".to_string());
        let listen: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
        out.push_str(&format!("version: {}\n", env!("CARGO_PKG_VERSION")));
        out.push_str(&format!("uptime: {}s\n", self.started.elapsed().as_secs()));
        out.push_str(&format!("config: {config}\n"));
        out.push_str(&format!("listen: {}\n", listen.join(" ")));
        out.push_str(&format!("cache entries: {}\n", self.cache().len()));
        out.push_str(&format!("cache bytes: {}\n", self.cache().bytes()));
        out
    }

    fn stats(&self) -> BTreeMap<String, u64> {
        counters(&self.handler(), &self.upstream, self.started)
    }

    /// Resolves (name, qtype) now, past the cache, and tells what the
    /// engine did and why, then the outcome. The answer is cached as any
    /// other.
    async fn trace(&self, name: Name, qtype: RecordType) -> String {
        let request = Request {
            full_trace: true,
            ..Request::new(name, qtype)
        };
        let res = self.handler().resolver().resolve(&request).await;
        let mut out = String::new();
        for ev in &res.trace {
            out.push_str(&ev.to_string());
            out.push('\n');
        }
        match &res.failure {
            Some(f) => out.push_str(&format!("failed: {f} (SERVFAIL)\n")),
            None => out.push_str(&format!(
                "rcode {}\n",
                crate::server::stats::rcode_name(u16::from(res.rcode))
            )),
        }
        out.push_str(&format!("security: {}\n", res.security));
        for r in res.answers.iter().chain(&res.authorities) {
            out.push_str(&format!("  {r}\n"));
        }
        out
    }

    /// What the cache holds at `name`, and the servers of the closest
    /// zone cut it knows, with what is known of them.
    fn lookup(&self, name: &Name) -> String {
        let handler = self.handler();
        let resolver = handler.resolver();
        let now = resolver.clock().now();
        let entries = self.cache().entries_at(name, now);
        let mut out = String::new();
        if entries.is_empty() {
            out.push_str(&format!("{name}: nothing cached\n"));
        }
        for e in &entries {
            describe(&mut out, e);
        }
        let mut zone = name.clone();
        loop {
            let key = Key::Delegation(zone.clone(), DNSClass::IN);
            let ns_key = Key::RRset(zone.clone(), RecordType::NS, DNSClass::IN);
            let found = resolver
                .cache()
                .get(&key, now)
                .or_else(|| resolver.cache().get(&ns_key, now));
            if let Some(value) = found {
                out.push_str(&format!("servers of {zone}:\n"));
                self.servers(&mut out, &value, now);
                break;
            }
            if zone.is_root() {
                out.push_str("no zone cut cached: the root servers would be asked\n");
                break;
            }
            zone = zone.base_name();
        }
        out
    }

    fn servers(&self, out: &mut String, value: &Cached, now: crate::clock::Mono) {
        let records = records_of(value);
        let handler = self.handler();
        let selection = handler.resolver().selection();
        for r in &records {
            let ip: IpAddr = match &r.data {
                RData::NS(ns) => {
                    out.push_str(&format!("  NS {}\n", ns.0));
                    continue;
                }
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => continue,
            };
            let addr = SocketAddr::new(ip, 53);
            let state = match selection.stats(addr) {
                None => "not asked yet".to_string(),
                Some(s) => server_state(&s, now),
            };
            out.push_str(&format!("  {} {ip}: {state}\n", r.name));
        }
    }
}

/// What selection knows of one server: timing, hold-down, EDNS, and the
/// zones it failed lately (`tern ctl lookup`).
fn server_state(s: &ServerStats, now: crate::clock::Mono) -> String {
    let secs = |t: crate::clock::Mono| (t - now).as_secs_f64();
    let srtt = s
        .srtt
        .map(|d| format!("{:.1}ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".to_string());
    let mut out = format!(
        "srtt={srtt} rto={:.1}ms timeouts_in_row={}",
        s.rto.as_secs_f64() * 1000.0,
        s.timeouts_in_row
    );
    match s.edns {
        Edns::Supported => out.push_str(" edns"),
        Edns::Unsupported { until } if until > now => {
            out.push_str(&format!(" no-edns for {:.0}s", secs(until)))
        }
        _ => {}
    }
    if let Some(t) = s.held_until.filter(|t| *t > now) {
        out.push_str(&format!(" held down for {:.1}s", secs(t)));
    }
    for l in s.lame.iter().filter(|l| l.until > now) {
        out.push_str(&format!(
            " {} for {} ({:.0}s)",
            l.why.text(),
            l.zone,
            secs(l.until)
        ));
    }
    out
}

/// A file named to the server: absolute, as the server's working
/// directory is not the client's (`tern ctl` makes paths absolute).
fn absolute(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(format!("{text:?}: the path must be absolute"))
    }
}

/// A record type as given on the command line.
fn parse_type(text: &str) -> Result<RecordType, String> {
    RecordType::from_str(&text.to_ascii_uppercase())
        .map_err(|_| format!("unknown record type {text:?}"))
}

/// A name as given on the command line, made absolute.
fn parse_name(text: &str) -> Result<Name, String> {
    let mut name = Name::from_str(text).map_err(|e| format!("bad name {text:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// `name=value` lines.
/// Every counter tern keeps, by dotted name (`tern ctl stats`; `/metrics`
/// serves the same, named for Prometheus).
pub fn counters<T: Transport, C: Clock>(
    handler: &Handler<T, C>,
    upstream: &UpstreamCounters,
    started: Instant,
) -> BTreeMap<String, u64> {
    let mut out = handler.stats().read();
    out.extend(upstream.read());
    let resolver = handler.resolver();
    let work = resolver.dnssec_work();
    out.insert("dnssec.validations".to_string(), work.validations);
    out.insert("dnssec.verifications".to_string(), work.verifications);
    out.insert("dnssec.nsec3_hashes".to_string(), work.nsec3_hashes);
    let cache = resolver.cache();
    out.insert("cache.entries".to_string(), cache.len() as u64);
    out.insert("cache.bytes".to_string(), cache.bytes() as u64);
    out.insert("cache.evictions".to_string(), cache.evictions());
    out.insert(
        "cache.subnet_entries".to_string(),
        resolver.subnet_entries() as u64,
    );
    out.insert("inflight".to_string(), resolver.inflight_count() as u64);
    if let Some(shared) = handler.shared_cache() {
        out.extend(shared.read());
    }
    out.insert("uptime_seconds".to_string(), started.elapsed().as_secs());
    out
}

fn text(stats: &BTreeMap<String, u64>) -> String {
    stats.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn records_of(value: &Cached) -> Vec<Record> {
    match value {
        Cached::RRset(rs) | Cached::NoData(rs) | Cached::NxDomain(rs) => rs.clone(),
        Cached::Sections(a, b) => a.iter().chain(b).cloned().collect(),
        Cached::Failure | Cached::Status(_) | Cached::ZoneKeys(_) => Vec::new(),
    }
}

/// One cache entry for `lookup`: a heading line, then its records.
fn describe(out: &mut String, e: &Listed) {
    let kind = match &e.key {
        Key::RRset(..) => match &e.value {
            Cached::NoData(_) => "NODATA",
            _ => "RRset",
        },
        Key::NxDomain(..) => "NXDOMAIN",
        Key::Sections(..) => "sections",
        Key::Delegation(..) => "delegation",
        Key::Failure(..) => "failure",
        Key::Sigs(..) => "RRSIGs",
        Key::Status(..) => "validation",
        Key::ZoneKeys(_) => "zone keys",
        Key::Proof(..) => "proof",
    };
    let qtype = key_type(&e.key)
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let ttl = if e.ttl_left >= 0 {
        format!("ttl={}s", e.ttl_left)
    } else {
        format!("expired {}s ago", -e.ttl_left)
    };
    out.push_str(&format!(
        "{} {kind}{qtype} {ttl} trust: {}",
        key_name(&e.key),
        e.rank
    ));
    match &e.value {
        Cached::Failure => out.push_str(": SERVFAIL\n"),
        Cached::Status(s) => out.push_str(&format!(": {s}\n")),
        Cached::ZoneKeys(k) => out.push_str(&format!(": {}\n", zone_keys(k))),
        other => {
            out.push('\n');
            for r in records_of(other) {
                out.push_str(&format!("  {r}\n"));
            }
        }
    }
}

fn zone_keys(k: &crate::dnssec::ZoneKeys) -> String {
    match k {
        crate::dnssec::ZoneKeys::Secure(keys) => format!("secure, {} DNSKEYs", keys.len()),
        crate::dnssec::ZoneKeys::Insecure(why) => format!("insecure: {why}"),
        crate::dnssec::ZoneKeys::Bogus(b) => format!("bogus: {}", b.text),
        crate::dnssec::ZoneKeys::Unsupported(b) => format!("insecure (unsupported): {}", b.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::selection::{Outcome, QueryKind, Selection};
    use std::time::Duration;

    #[test]
    fn a_server_line_shows_edns_and_the_zones_it_failed() {
        let sel = Selection::new(crate::config::UpstreamConfig::default());
        let addr: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let zone = Name::from_ascii("example.").unwrap();
        let now = Duration::from_secs(10);
        let replied = Outcome::Replied {
            rtt: Duration::from_millis(12),
            edns: true,
        };
        sel.note(addr, &zone, QueryKind::A, replied, now);
        let line = server_state(&sel.stats(addr).unwrap(), now);
        assert_eq!(line, "srtt=12.0ms rto=50.0ms timeouts_in_row=0 edns");
        sel.note(addr, &zone, QueryKind::A, Outcome::NoEdns, now);
        sel.note(addr, &zone, QueryKind::A, Outcome::Refused, now);
        let later = now + Duration::from_secs(60);
        let line = server_state(&sel.stats(addr).unwrap(), later);
        assert!(
            line.ends_with(" no-edns for 840s REFUSED for example. (840s)"),
            "{line}"
        );
        // Expired facts are not shown.
        let line = server_state(&sel.stats(addr).unwrap(), now + Duration::from_secs(900));
        assert!(
            !line.contains("edns") && !line.contains("REFUSED"),
            "{line}"
        );
    }
}
