//! `tern experiment`: a scripted client population against a lab. Copies
//! the lab named in the experiment file (moving its loopback addresses
//! with `relocate`, so it runs beside `tern lab` and other experiments),
//! starts it with its resolver, sends A queries at a fixed rate from
//! weighted client subnets (each query carries an EDNS Client Subnet
//! option for its subnet, RFC 7871 §6), applies a timeline of events
//! (replicas down and up, faults, load values, CDN policy files) and
//! records every answer: `answers.csv`, `report.svg` and a summary.

pub mod config;
pub mod plot;
pub mod query;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

pub use config::{Action, Event, Experiment, ExperimentError};
use stats::Answer;

use crate::auth::cdn::CdnConfig;
use crate::lab::{LabError, LabSpec, RunningLab, StartOptions};

/// Queries in flight at once; more wait for a free slot.
const MAX_IN_FLIGHT: usize = 256;
/// How long the lab's resolver has to start answering.
const STARTUP: Duration = Duration::from_secs(30);
/// Largest lab file copied (zone files and policies are small).
const MAX_COPY_BYTES: u64 = 16 * 1024 * 1024;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ExperimentError),
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: String },
    #[error("{0}")]
    Other(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_path_buf(),
        error: e.to_string(),
    }
}

/// What a finished run leaves.
pub struct Outcome {
    pub answers: Vec<Answer>,
    pub summary: String,
    pub csv: PathBuf,
    pub svg: PathBuf,
}

/// The lab as the experiment runs it: a relocated copy and its spec.
struct Prepared {
    copy: PathBuf,
    spec: LabSpec,
    /// Replica addresses → replica names, from every CDN file in play.
    replicas: HashMap<IpAddr, String>,
    /// Query name → "policy, ttl N" from the first CDN file naming it.
    policies: BTreeMap<String, String>,
}

/// Copies the regular files of `from` into `to`, applying `relocate`.
fn copy_dir(from: &Path, to: &Path, relocate: &[(String, String)]) -> Result<(), RunError> {
    for e in std::fs::read_dir(from).map_err(io(from))? {
        let p = e.map_err(io(from))?.path();
        let meta = std::fs::metadata(&p).map_err(io(&p))?;
        if !meta.is_file() || meta.len() > MAX_COPY_BYTES {
            continue;
        }
        let Some(name) = p.file_name() else {
            continue;
        };
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        let out = match String::from_utf8(bytes) {
            Ok(mut text) => {
                for (a, b) in relocate {
                    text = text.replace(a.as_str(), b);
                }
                text.into_bytes()
            }
            Err(e) => e.into_bytes(),
        };
        let dest = to.join(name);
        std::fs::write(&dest, out).map_err(io(&dest))?;
    }
    Ok(())
}

/// Builds the lab copy under `out/lab` and its spec.
fn prepare(exp: &Experiment, out: &Path) -> Result<Prepared, RunError> {
    let (lab_dir, lab_file) = match exp.lab.is_dir() {
        true => (exp.lab.clone(), PathBuf::from(crate::lab::config::LAB_FILE)),
        false => (
            exp.lab.parent().unwrap_or(Path::new(".")).to_path_buf(),
            PathBuf::from(exp.lab.file_name().unwrap_or_default()),
        ),
    };
    let copy = out.join("lab");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).map_err(io(&copy))?;
    copy_dir(&lab_dir, &copy, &exp.relocate)?;
    copy_dir(&exp.dir, &copy, &exp.relocate)?;
    let mut spec = LabSpec::load(&copy.join(lab_file))?;
    spec.resolver_listen = exp.resolver;
    let bad = |m: String| {
        RunError::Config(ExperimentError {
            file: exp.file.clone(),
            line: 0,
            message: m,
        })
    };
    for (server, file) in &exp.cdn {
        let s = spec
            .servers
            .iter_mut()
            .find(|s| &s.name == server)
            .ok_or_else(|| bad(format!("experiment.cdn: no server {server} in the lab")))?;
        s.cdn = Some(copy.join(file.file_name().unwrap_or_default()));
    }
    let mut cdn_files: Vec<PathBuf> = spec.servers.iter().filter_map(|s| s.cdn.clone()).collect();
    for ev in &exp.events {
        match &ev.action {
            Action::ReplicaDown(r) | Action::ReplicaUp(r) => {
                if !spec.replicas.iter().any(|x| &x.name == r) {
                    return Err(bad(format!("event: no replica {r} in the lab")));
                }
            }
            Action::Faults { server, .. } | Action::Cdn { server, .. } => {
                if !spec.servers.iter().any(|x| &x.name == server) {
                    return Err(bad(format!("event: no server {server} in the lab")));
                }
            }
            Action::Load { .. } => {}
        }
        if let Action::Cdn { file, .. } = &ev.action {
            cdn_files.push(copy.join(file));
        }
    }
    let mut replicas = HashMap::new();
    let mut policies = BTreeMap::new();
    for f in cdn_files {
        let c = CdnConfig::load(&f).map_err(|e| RunError::Other(e.to_string()))?;
        for r in &c.replicas {
            for a in &r.addresses {
                replicas.entry(*a).or_insert_with(|| r.name.clone());
            }
        }
        for n in &c.names {
            policies
                .entry(n.name.to_lowercase().to_string())
                .or_insert_with(|| format!("{}, ttl {}", n.kind.as_str(), n.ttl));
        }
    }
    Ok(Prepared {
        copy,
        spec,
        replicas,
        policies,
    })
}

/// Runs the experiment: lab up, clients and events, lab down, files out.
/// `progress` gets a line now and then (and one per event).
pub async fn run(
    exp: &Experiment,
    out: &Path,
    resolver_exe: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Outcome, RunError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut prep = prepare(exp, out)?;
    let opts = StartOptions {
        resolver_exe: Some(resolver_exe.to_path_buf()),
        run_dir: Some(out.join("run")),
        dnssec: false,
        farm: 0,
    };
    progress(&format!(
        "starting the lab from {} (resolver {})",
        exp.lab.display(),
        exp.resolver
    ));
    let mut lab = RunningLab::start(prep.spec.clone(), opts).await?;
    let ready = wait_ready(exp, &mut lab).await;
    let result = match ready {
        Ok(()) => drive(exp, &mut prep, &mut lab, progress).await,
        Err(e) => Err(e),
    };
    lab.stop().await;
    let answers = result?;
    let csv = out.join("answers.csv");
    std::fs::write(&csv, stats::csv(&answers)).map_err(io(&csv))?;
    let svg = out.join("report.svg");
    let chart = plot::report(exp, &answers, &prep.policies)
        .map_err(|e| RunError::Other(format!("drawing {}: {e}", svg.display())))?;
    std::fs::write(&svg, chart).map_err(io(&svg))?;
    let summary = summary(exp, &answers, &prep.policies);
    Ok(Outcome {
        answers,
        summary,
        csv,
        svg,
    })
}

/// Waits until the resolver answers every name (which also fills its
/// cache, as clients of a warm resolver would find it).
async fn wait_ready(exp: &Experiment, lab: &mut RunningLab) -> Result<(), RunError> {
    let deadline = Instant::now() + STARTUP;
    let subnet = exp.clients.first().map(|c| c.subnet);
    for n in &exp.names {
        loop {
            let r = query::ask(exp.resolver, &n.name, subnet, Duration::from_secs(2)).await;
            if r.rcode == "NOERROR" && !r.addresses.is_empty() {
                break;
            }
            if let Some(status) = lab.resolver_exited() {
                return Err(RunError::Other(format!(
                    "the lab's resolver exited ({status}); see {}",
                    lab.run_dir().join("resolver.log").display()
                )));
            }
            if Instant::now() > deadline {
                return Err(RunError::Other(format!(
                    "{} never answered {} (last: {}); see {}",
                    exp.resolver,
                    n.name,
                    r.rcode,
                    lab.run_dir().join("resolver.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Index drawn in proportion to `weights`.
fn pick(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        let w = u64::from(*w);
        if x < w {
            return i;
        }
        x -= w;
    }
    0
}

async fn drive(
    exp: &Experiment,
    prep: &mut Prepared,
    lab: &mut RunningLab,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Answer>, RunError> {
    let count = exp.query_count();
    let mut rng = StdRng::seed_from_u64(exp.seed);
    let client_w: Vec<u32> = exp.clients.iter().map(|c| c.weight).collect();
    let name_w: Vec<u32> = exp.names.iter().map(|n| n.weight).collect();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let timeout = Duration::from_millis(exp.timeout_ms);
    let replicas = Arc::new(prep.replicas.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let mut events = exp.events.iter().peekable();
    let start = Instant::now();
    let mut next_report = 0.0;
    progress(&format!(
        "running {:.0} s: {count} queries at {}/s from {} client subnets, {} events",
        exp.duration_s,
        exp.rate,
        exp.clients.len(),
        exp.events.len()
    ));
    for i in 0..count {
        let t = i as f64 / exp.rate;
        while let Some(ev) = events.next_if(|e| e.at_s <= t) {
            tokio::time::sleep_until(start + Duration::from_secs_f64(ev.at_s)).await;
            apply(ev, prep, lab).await?;
            progress(&format!("[{:>5.1} s] event: {}", ev.at_s, ev.label()));
        }
        tokio::time::sleep_until(start + Duration::from_secs_f64(t)).await;
        if t >= next_report {
            progress(&format!(
                "[{t:>5.1} s] {i}/{count} queries sent, {} in flight",
                MAX_IN_FLIGHT - slots.available_permits()
            ));
            next_report += 5.0;
        }
        let (Some(c), Some(n)) = (
            exp.clients.get(pick(&mut rng, &client_w)),
            exp.names.get(pick(&mut rng, &name_w)),
        ) else {
            continue;
        };
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RunError::Other(e.to_string()))?;
        let (c, name, replicas, resolver) =
            (c.clone(), n.name.clone(), replicas.clone(), exp.resolver);
        tasks.spawn(async move {
            let _permit = permit;
            let r = query::ask(resolver, &name, Some(c.subnet), timeout).await;
            let mut names: Vec<String> = r
                .addresses
                .iter()
                .filter_map(|a| replicas.get(a).cloned())
                .collect();
            names.dedup();
            Answer {
                time_s: t,
                region: c.region,
                subnet: c.subnet,
                name: name.to_string(),
                addresses: r.addresses,
                replicas: names,
                latency_ms: r.latency.map(|l| l.as_secs_f64() * 1000.0),
                rcode: r.rcode,
            }
        });
    }
    for ev in events {
        tokio::time::sleep_until(start + Duration::from_secs_f64(ev.at_s)).await;
        apply(ev, prep, lab).await?;
        progress(&format!("[{:>5.1} s] event: {}", ev.at_s, ev.label()));
    }
    let mut answers = Vec::with_capacity(count);
    while let Some(r) = tasks.join_next().await {
        if let Ok(a) = r {
            answers.push(a);
        }
    }
    answers.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    progress(&format!("done: {} answers recorded", answers.len()));
    Ok(answers)
}

/// Carries out one event on the running lab.
async fn apply(ev: &Event, prep: &mut Prepared, lab: &mut RunningLab) -> Result<(), RunError> {
    match &ev.action {
        Action::ReplicaDown(r) | Action::ReplicaUp(r) => {
            let down = matches!(ev.action, Action::ReplicaDown(_));
            for x in prep.spec.replicas.iter_mut().filter(|x| &x.name == r) {
                x.down = down;
            }
            lab.apply(&prep.spec).await?;
        }
        Action::Faults { server, faults } => {
            for s in prep.spec.servers.iter_mut().filter(|s| &s.name == server) {
                s.faults = faults.clone();
            }
            lab.apply(&prep.spec).await?;
        }
        Action::Load { file, loads } => {
            let path = prep.copy.join(file);
            let mut text = String::from("# written by tern experiment\n");
            for (k, v) in loads {
                let _ = writeln!(text, "\"{}\" = {v:?}", k.replace('"', ""));
            }
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Action::Cdn { server, file } => lab.replace_cdn(server, &prep.copy.join(file))?,
    }
    Ok(())
}

/// A label for a query name: "name (policy, ttl N)" when a CDN file has it.
pub fn name_label(name: &str, policies: &BTreeMap<String, String>) -> String {
    match policies.get(&name.to_lowercase()) {
        Some(p) => format!("{name} ({p})"),
        None => name.to_string(),
    }
}

/// The printed summary.
pub fn summary(
    exp: &Experiment,
    answers: &[Answer],
    policies: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let mut rcodes: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *rcodes.entry(a.rcode.as_str()).or_default() += 1;
    }
    let rc: Vec<String> = rcodes.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        out,
        "experiment {}: {} queries over {:.0} s ({})",
        exp.title,
        answers.len(),
        exp.duration_s,
        rc.join(", ")
    );
    let _ = writeln!(out, "share of answers per replica:");
    let mut last_name = String::new();
    for ((name, region), counts) in stats::shares(answers) {
        if name != last_name {
            let _ = writeln!(out, "  {}", name_label(&name, policies));
            last_name = name.clone();
        }
        let total: usize = counts.values().sum();
        let parts: Vec<String> = counts
            .iter()
            .map(|(r, n)| format!("{r} {:.0}%", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        let _ = writeln!(out, "    {region:<12} {}", parts.join("  "));
    }
    let (downs, ups) = down_up(&exp.events);
    let leaves = stats::leaves(answers, &downs, &ups, exp.duration_s);
    if !downs.is_empty() && leaves.is_empty() {
        let _ = writeln!(
            out,
            "no client was being sent to a replica when it went down"
        );
    }
    if !leaves.is_empty() {
        let _ = writeln!(
            out,
            "time from a replica going down until no client is sent to it:"
        );
    }
    for l in &leaves {
        let what = match l.seconds() {
            Some(s) => format!("{s:.1} s"),
            None => format!(
                "still sent there at {:.1} s (more than {:.1} s)",
                l.last_sent.unwrap_or(l.until),
                l.until - l.down_at
            ),
        };
        let _ = writeln!(
            out,
            "  {} down at {:.1} s, {}, {}: {what}",
            l.replica,
            l.down_at,
            name_label(&l.name, policies),
            l.region
        );
    }
    let _ = writeln!(out, "answer latency (ms):");
    for (name, l) in stats::latencies(answers) {
        let _ = writeln!(
            out,
            "  {:<40} p50 {:>7.2}  p99 {:>7.2}  ({} answered)",
            name_label(&name, policies),
            l.p50,
            l.p99,
            l.answered
        );
    }
    out
}

/// (time, replica) of each replica-down or replica-up event.
pub type Moments = Vec<(f64, String)>;

/// The replica-down and the replica-up events.
pub fn down_up(events: &[Event]) -> (Moments, Moments) {
    let mut downs = Vec::new();
    let mut ups = Vec::new();
    for e in events {
        match &e.action {
            Action::ReplicaDown(r) => downs.push((e.at_s, r.clone())),
            Action::ReplicaUp(r) => ups.push((e.at_s, r.clone())),
            _ => {}
        }
    }
    (downs, ups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_weights_and_repeat_with_the_seed() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..10_000)
                .map(|_| pick(&mut rng, &[1, 0, 3]))
                .collect::<Vec<usize>>()
        };
        let a = draw(5);
        assert_eq!(a, draw(5));
        assert_ne!(a, draw(6));
        let count = |i| a.iter().filter(|x| **x == i).count();
        assert_eq!(count(1), 0, "weight 0 is never drawn");
        assert!((2_200..2_800).contains(&count(0)), "{}", count(0));
        assert_eq!(count(0) + count(2), 10_000);
    }

    #[test]
    fn lab_copy_is_relocated() {
        let base = std::env::temp_dir().join(format!("tern-exp-copy-{}", std::process::id()));
        let (from, to) = (base.join("from"), base.join("to"));
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("a.zone"), "ns A 127.153.0.1\nx A 127.154.1.1\n").unwrap();
        std::fs::write(from.join("sub/skip.zone"), "not copied").unwrap();
        let moves = vec![
            ("127.153.".to_string(), "127.191.".to_string()),
            ("127.154.".to_string(), "127.192.".to_string()),
        ];
        copy_dir(&from, &to, &moves).unwrap();
        let text = std::fs::read_to_string(to.join("a.zone")).unwrap();
        assert_eq!(text, "ns A 127.191.0.1\nx A 127.192.1.1\n");
        assert!(!to.join("sub").exists() && !to.join("skip.zone").exists());
        let _ = std::fs::remove_dir_all(&base);
    }
}
