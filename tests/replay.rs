//! Replay conformance run: plays `.rpl` scenarios (tern's own in
//! `tests/scenarios/`, and Unbound's corpus when present) against the
//! resolver in-process, prints one line per family and
//! `replay: N passed, N failed, N skipped`, writes
//! `target/replay-outcomes.txt`, and fails only when a scenario listed in
//! `tests/replay/expected-pass.txt` does not pass. It also proves a run can
//! fail: an expected-pass scenario of ours is replayed with negative caching
//! broken (RFC 2308 §5) and must then fail.
//!
//! `TERN_REPLAY=name` runs only scenarios whose name contains `name`, and
//! prints every step, upstream query and answer (plus the engine's tracing
//! output at `TERN_LOG`, default `tern=debug`).
//!
//! A plain `main` (Cargo.toml: `harness = false`) so the summary lines show
//! in `cargo test` output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "replay/autotrust.rs"]
mod autotrust;
#[path = "replay/config_map.rs"]
mod config_map;
#[path = "replay/dnssec_config.rs"]
mod dnssec_config;
#[path = "replay/dnssec_text.rs"]
mod dnssec_text;
#[path = "replay/matcher.rs"]
mod matcher;
#[path = "replay/parser.rs"]
mod parser;
#[path = "replay/records.rs"]
mod records;
#[path = "replay/runner.rs"]
mod runner;
#[path = "replay/tempfiles.rs"]
mod tempfiles;
#[path = "replay/transport.rs"]
mod transport;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use runner::{Options, Outcome};

/// Wall-clock limit for one scenario; beyond it the scenario is reported as
/// hung (its thread is abandoned).
const SCENARIO_WALL_LIMIT: Duration = Duration::from_secs(30);

/// Our scenario that must fail once negative caching is broken.
const MUST_FAIL_SCENARIO: &str = "tern_negcache_expiry";

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn take_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

struct Found {
    name: String,
    path: PathBuf,
    ours: bool,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Unbound corpus: `$TERN_CONFORMANCE_DIR`, `../shared/conformance`
/// beside the crate, or `/work/shared/conformance`.
fn corpus_dir() -> Option<PathBuf> {
    // An explicit directory is the only one tried (so pointing it at an
    // empty place runs tern's own scenarios alone).
    let candidates = match std::env::var_os("TERN_CONFORMANCE_DIR") {
        Some(d) => vec![PathBuf::from(d)],
        None => vec![
            manifest_dir().join("../shared/conformance"),
            PathBuf::from("/work/shared/conformance"),
        ],
    };
    candidates.into_iter().find_map(|d| {
        let t = d.join("unbound-testdata");
        if t.is_dir() {
            Some(t)
        } else if d.is_dir() && has_rpl(&d) {
            Some(d)
        } else {
            None
        }
    })
}

fn has_rpl(d: &Path) -> bool {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "rpl"))
        })
        .unwrap_or(false)
}

fn rpl_files(dir: &Path, ours: bool) -> Vec<Found> {
    let mut v: Vec<Found> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rpl"))
                .filter_map(|p| {
                    let name = p.file_stem()?.to_str()?.to_string();
                    Some(Found {
                        name,
                        path: p,
                        ours,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Runs one file on its own thread, with panics and hangs contained.
fn run_contained(name: &str, path: &Path, opts: &Options) -> Outcome {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Outcome::Fail(format!("cannot read {}: {e}", path.display())),
    };
    let (tx, rx) = mpsc::channel();
    let opts = opts.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("replay-{name}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner::run(&text, &opts)
            }));
            let panicked = take_panic();
            let outcome = match (result, panicked) {
                (Ok(Outcome::Fail(r)), Some(p)) => Outcome::Fail(format!("{r} (panic: {p})")),
                (Ok(o), _) => o,
                (Err(_), p) => Outcome::Fail(format!(
                    "panicked: {}",
                    p.unwrap_or_else(|| "unknown".to_string())
                )),
            };
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Outcome::Fail(format!("cannot spawn thread: {e}"));
    }
    match rx.recv_timeout(SCENARIO_WALL_LIMIT) {
        Ok(o) => o,
        Err(mpsc::RecvTimeoutError::Timeout) => Outcome::Fail(format!(
            "hung: no result within {}s of wall time",
            SCENARIO_WALL_LIMIT.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Outcome::Fail("scenario thread died".to_string())
        }
    }
}

fn family(name: &str) -> &str {
    name.split('_').next().unwrap_or(name)
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\t'], " ")
}

fn expected_pass() -> Vec<String> {
    let path = manifest_dir().join("tests/replay/expected-pass.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn install_panic_hook(verbose: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let msg = match info.payload().downcast_ref::<&str>() {
            Some(s) => (*s).to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("{msg}{at}");
        if verbose {
            eprintln!("panic: {text}");
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
    }));
}

/// Proves the run can fail: our negative-cache scenario with negative
/// caching broken (max negative TTL 0) must not pass.
fn must_fail_check(ours: &[Found]) -> Result<String, String> {
    let Some(f) = ours.iter().find(|f| f.name == MUST_FAIL_SCENARIO) else {
        return Err(format!("{MUST_FAIL_SCENARIO}.rpl is missing"));
    };
    let broken = Options {
        verbose: false,
        tweak: Some(|c| c.cache.max_negative_ttl = 0),
    };
    match run_contained(&f.name, &f.path, &broken) {
        Outcome::Fail(r) => Ok(format!(
            "{MUST_FAIL_SCENARIO} fails with cache max negative TTL 0, as it must: {}",
            r.chars().take(120).collect::<String>()
        )),
        other => Err(format!(
            "{MUST_FAIL_SCENARIO} did not fail with negative caching broken: {other:?}"
        )),
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let filter = std::env::var("TERN_REPLAY").ok().filter(|f| !f.is_empty());
    let verbose = filter.is_some();
    install_panic_hook(verbose);
    if verbose {
        let level = std::env::var("TERN_LOG").unwrap_or_else(|_| "tern=debug".to_string());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .try_init();
    }

    if let Err(e) = matcher::self_check() {
        println!("replay REGRESSION matcher self-check: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = autotrust::self_check() {
        println!("replay REGRESSION autotrust macro self-check: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = tempfiles::self_check() {
        println!("replay REGRESSION temp file self-check: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = dnssec_text::self_check() {
        println!("replay REGRESSION DNSSEC record self-check: {e}");
        return ExitCode::FAILURE;
    }
    let ours = rpl_files(&manifest_dir().join("tests/scenarios"), true);
    let corpus = corpus_dir();
    let mut all: Vec<&Found> = ours.iter().collect();
    let theirs = corpus
        .as_ref()
        .map(|d| rpl_files(d, false))
        .unwrap_or_default();
    all.extend(theirs.iter());
    if let Some(f) = &filter {
        all.retain(|s| s.name.contains(f.as_str()));
    }

    let opts = Options {
        verbose,
        tweak: None,
    };
    let mut outcomes: BTreeMap<String, (bool, Outcome)> = BTreeMap::new();
    for s in &all {
        if verbose {
            println!("== {} ({})", s.name, s.path.display());
        }
        let o = run_contained(&s.name, &s.path, &opts);
        if verbose {
            println!("== {}: {:?}", s.name, o);
        }
        outcomes.insert(s.name.clone(), (s.ours, o));
    }

    // Per-family lines and the total.
    let mut fam: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for (name, (_, o)) in &outcomes {
        let slot = match o {
            Outcome::Pass => 0,
            Outcome::Fail(_) => 1,
            Outcome::Skip(_) => 2,
        };
        fam.entry(family(name).to_string()).or_default()[slot] += 1;
    }
    let mut total = [0usize; 3];
    for (f, c) in &fam {
        println!(
            "replay family {f}: {} passed, {} failed, {} skipped",
            c[0], c[1], c[2]
        );
        for i in 0..3 {
            total[i] += c[i];
        }
    }
    if corpus.is_none() {
        println!(
            "replay note: Unbound corpus not found (set TERN_CONFORMANCE_DIR); ran tern's own scenarios only"
        );
    }
    println!(
        "replay: {} passed, {} failed, {} skipped",
        total[0], total[1], total[2]
    );

    // The outcome file.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"));
    let mut text = String::new();
    for (name, (_, o)) in &outcomes {
        let (word, reason) = match o {
            Outcome::Pass => ("pass", String::new()),
            Outcome::Fail(r) => ("fail", one_line(r)),
            Outcome::Skip(r) => ("skip", one_line(r)),
        };
        text.push_str(&format!("{name}\t{word}\t{reason}\n"));
    }
    let file = if filter.is_some() {
        "replay-outcomes-filtered.txt"
    } else {
        "replay-outcomes.txt"
    };
    let _ = std::fs::create_dir_all(&target);
    if let Err(e) = std::fs::write(target.join(file), text) {
        println!("replay: cannot write {}: {e}", target.join(file).display());
    }

    // Expected passes must pass.
    let mut bad = Vec::new();
    for name in expected_pass() {
        match outcomes.get(&name) {
            Some((_, Outcome::Pass)) => {}
            Some((_, o)) => bad.push(format!("{name}: {o:?}")),
            None if filter.is_some() => {}
            None if ours.iter().any(|f| f.name == name) => bad.push(format!("{name}: not run")),
            None if name.starts_with("tern_") => bad.push(format!("{name}: file missing")),
            None if corpus.is_some() => bad.push(format!("{name}: not in the corpus")),
            None => {}
        }
    }
    if filter.is_none() {
        match must_fail_check(&ours) {
            Ok(msg) => println!("replay self-check: {msg}"),
            Err(msg) => bad.push(format!("self-check: {msg}")),
        }
    }
    if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        for b in &bad {
            println!("replay REGRESSION {b}");
        }
        ExitCode::FAILURE
    }
}
