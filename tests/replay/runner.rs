//! Plays one scenario against tern's engine, in-process: the real
//! `server::Handler` and `engine::Resolver` on a `ScriptedTransport` and a
//! `ManualClock`, on a current-thread tokio runtime. Client queries run as
//! local tasks; the runner lets them run until nothing moves ("settle"),
//! then plays the next step, the way Unbound's testbound interleaves its
//! event loop with the scenario's moments. No socket, no sleep: a scenario
//! runs in microseconds of virtual time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::Name;
use tern::clock::{Clock, ManualClock};
use tern::config::Config;
use tern::dnssec::autotrust::file::FileSink;
use tern::engine::{Resolver, RootHints};
use tern::server::handler::Handler;
use tern::upstream::selection::{self, QueryKind};
use tern::upstream::{Protocol, UpstreamFailure};

use super::autotrust;
use super::config_map;
use super::matcher;
use super::parser::{self, Entry, Kind, Moment, Unsupported};
use super::tempfiles;
use super::transport::{self, lock, Script, ScriptedTransport};

/// Seed of the generator that orders equally good servers.
const SERVER_ORDER_SEED: u64 = 0x7465_726e;

/// What became of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// How to run.
#[derive(Clone, Default)]
pub struct Options {
    /// Print every step, upstream query and answer.
    pub verbose: bool,
    /// Change the config after mapping (used to prove a run can fail).
    pub tweak: Option<fn(&mut Config)>,
}

/// Scheduling rounds before a scenario is declared looping (testbound: 5000).
const MAX_ROUNDS: usize = 5_000;
/// Yields without progress after which the engine is considered idle.
const QUIET_YIELDS: usize = 3;
/// Upper bound on yields in one settle.
const SETTLE_LIMIT: usize = 100_000;
/// Wall-clock seconds of the manual clock's origin: 0, as in testbound,
/// whose scenarios write server cookies (RFC 9018 timestamps) made at time 0.
const UNIX_BASE: u64 = 0;

/// The scenario's clock: testbound's, which `TIME_PASSES` moves, except
/// that with `val-override-date` the wall clock signatures are checked
/// against stays at that date, as Unbound's validator reads it.
pub struct ReplayClock {
    inner: ManualClock,
    fixed_wall: Option<u64>,
}

impl Clock for ReplayClock {
    fn now(&self) -> tern::clock::Mono {
        self.inner.now()
    }
    fn unix_secs(&self) -> u64 {
        self.fixed_wall.unwrap_or_else(|| self.inner.unix_secs())
    }
}

/// One reply the handler gave a client.
struct ClientAnswer {
    bytes: Vec<u8>,
    protocol: Protocol,
    step: u64,
}

/// Parses, maps the config and plays `text`.
pub fn run(text: &str, opts: &Options) -> Outcome {
    let mut block = match parser::config_of(text) {
        Ok(b) => b,
        Err(Unsupported(r)) => return Outcome::Skip(r),
    };
    // Kept until the run ends: the resolver reads the files as it starts.
    let _files = match tempfiles::materialize(
        &mut block,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    ) {
        Ok(d) => d,
        Err(e) => return Outcome::Fail(format!("temp files: {e}")),
    };
    let config_map::Mapped {
        mut config,
        root_hints,
        dnssec,
    } = match config_map::build(&block.lines) {
        Ok(m) => m,
        Err(Unsupported(r)) => return Outcome::Skip(r),
    };
    let scenario = match parser::parse(text) {
        Ok(s) => s,
        Err(Unsupported(r)) => return Outcome::Skip(r),
    };
    // The resolver would log an anchor it cannot read and run without it;
    // here that is a failure of tern's, not a scenario that validates
    // nothing.
    if config.dnssec.validate {
        if let Err(e) = tern::dnssec::anchors::TrustAnchors::from_config(&config.dnssec) {
            return Outcome::Fail(format!("tern rejects the scenario's trust anchors: {e}"));
        }
    }
    let fixed_wall = match dnssec.fixed_wall_clock(&scenario) {
        Ok(w) => w,
        Err(Unsupported(r)) => return Outcome::Skip(r),
    };
    if let Some(tweak) = opts.tweak {
        tweak(&mut config);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Outcome::Fail(format!("no runtime: {e}")),
    };
    let local = tokio::task::LocalSet::new();
    let clock = Arc::new(ReplayClock {
        inner: ManualClock::new(UNIX_BASE),
        fixed_wall,
    });
    let autotrust = dnssec.autotrust.clone();
    let played = play(scenario, config, root_hints, clock, autotrust, opts.verbose);
    match local.block_on(&rt, played) {
        Ok(()) => Outcome::Pass,
        Err(reason) => Outcome::Fail(reason),
    }
}

/// What `${time}` and `${timeout}` read: the scenario's clock and the
/// seconds to the next RFC 5011 probe.
fn macro_env<'a>(
    vars: &'a HashMap<String, String>,
    clock: &ReplayClock,
    resolver: &Resolver<ScriptedTransport, Arc<ReplayClock>>,
) -> autotrust::Env<'a> {
    let time = clock.inner.unix_secs();
    let timeout = resolver
        .autotrust_next_probe()
        .map_or(0, |t| t.saturating_sub(time));
    autotrust::Env {
        vars,
        time,
        timeout,
    }
}

fn activity(script: &Mutex<Script>) -> u64 {
    lock(script).activity
}

/// Lets every runnable task run until nothing changes for a few yields.
async fn settle(script: &Mutex<Script>) {
    let mut last = activity(script);
    let mut quiet = 0;
    for _ in 0..SETTLE_LIMIT {
        tokio::task::yield_now().await;
        let now = activity(script);
        if now == last {
            quiet += 1;
            if quiet >= QUIET_YIELDS {
                return;
            }
        } else {
            quiet = 0;
            last = now;
        }
    }
}

fn client_bytes(e: &Entry) -> Result<Vec<u8>, String> {
    match &e.raw {
        Some(raw) => Ok(raw.clone()),
        None => e
            .msg
            .to_vec()
            .map_err(|err| format!("entry line {}: cannot encode query: {err}", e.line)),
    }
}

fn check_answer(m: &Moment, answers: &mut Vec<ClientAnswer>) -> Result<(), String> {
    let Some(entry) = &m.entry else {
        return Err(format!("STEP {} has no entry", m.step));
    };
    let mut reasons = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        match tern::wire::parse_reply(&a.bytes).map(|r| r.message) {
            Ok(msg) => match matcher::check(entry, &msg, a.protocol) {
                Ok(()) => {
                    answers.remove(i);
                    return Ok(());
                }
                Err(r) => reasons.push(format!("{r}; got {}", matcher::summary(&msg))),
            },
            Err(e) => reasons.push(format!("answer does not parse: {e}")),
        }
    }
    Err(format!(
        "STEP {} CHECK_ANSWER (entry line {}): {}",
        m.step,
        entry.line,
        reasons.join(" || ")
    ))
}

fn show_answers(answers: &[ClientAnswer]) -> String {
    answers
        .iter()
        .map(
            |a| match tern::wire::parse_reply(&a.bytes).map(|r| r.message) {
                Ok(m) => format!("(query at step {}) {}", a.step, matcher::summary(&m)),
                Err(_) => format!("(query at step {}) unparsable", a.step),
            },
        )
        .collect::<Vec<_>>()
        .join(" || ")
}

async fn play(
    sc: parser::Scenario,
    config: Config,
    root_hints: Option<Vec<IpAddr>>,
    clock: Arc<ReplayClock>,
    autotrust_files: Vec<(String, std::path::PathBuf)>,
    verbose: bool,
) -> Result<(), String> {
    let sc = Arc::new(sc);
    let script = Arc::new(Mutex::new(Script::new(sc.clone(), verbose)));
    let transport = ScriptedTransport {
        script: script.clone(),
    };
    let config = Arc::new(config);
    let resolver = match root_hints {
        Some(addrs) => {
            let name = Name::from_ascii("stub-root.replay.invalid.")
                .map_err(|e| format!("hint name: {e}"))?;
            let hints = RootHints {
                servers: vec![(name, addrs)],
            };
            Resolver::with_hints(config, hints, transport, clock.clone())
        }
        None => Resolver::new(config, transport, clock.clone()),
    };
    // One server order per scenario: ties between equally good servers
    // are broken by a seeded generator, so a scenario passes or fails the
    // same way on every run; query IDs likewise.
    resolver.selection().seed(SERVER_ORDER_SEED);
    resolver.seed_query_ids(SERVER_ORDER_SEED);
    let resolver = Arc::new(resolver.with_autotrust_sink(Arc::new(FileSink)));
    let handler = Rc::new(Handler::new(resolver.clone()));
    let mut vars: HashMap<String, String> = HashMap::new();
    let answers: Rc<RefCell<Vec<ClientAnswer>>> = Rc::new(RefCell::new(Vec::new()));
    if verbose {
        println!("  scenario: {}", sc.title);
    }
    let mut rounds = 0;
    loop {
        settle(&script).await;
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return Err(format!("more than {MAX_ROUNDS} rounds: the scenario loops"));
        }
        let mut s = lock(&script);
        let Some(m) = s.current().cloned() else {
            break;
        };
        if s.parked_matches_current() {
            continue;
        }
        if m.kind == Kind::CheckAnswer && !answers.borrow().is_empty() {
            check_answer(&m, &mut answers.borrow_mut())?;
            s.now += 1;
            if verbose {
                println!("  STEP {} CHECK_ANSWER ok", m.step);
            }
            continue;
        }
        if s.parked_from_ranges() {
            continue;
        }
        if verbose {
            println!("  STEP {} {:?} (line {})", m.step, m.kind, m.line);
        }
        match m.kind {
            Kind::Query => {
                s.now += 1;
                drop(s);
                let Some(entry) = &m.entry else {
                    return Err(format!("STEP {} QUERY without entry", m.step));
                };
                let bytes = client_bytes(entry)?;
                let protocol = transport::client_protocol(entry);
                let ip = m.address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                let client = SocketAddr::new(ip, 40_000 + (m.step % 20_000) as u16);
                if verbose {
                    if let Ok(q) = Message::from_vec(&bytes) {
                        println!("    client {protocol:?} {client}: {}", matcher::summary(&q));
                    }
                }
                let (h, ans, sc2, step) =
                    (handler.clone(), answers.clone(), script.clone(), m.step);
                tokio::task::spawn_local(async move {
                    let reply = h.handle(&bytes, client, protocol).await;
                    match reply {
                        Some(bytes) => {
                            if verbose {
                                if let Ok(r) = tern::wire::parse_reply(&bytes).map(|r| r.message) {
                                    println!(
                                        "    answer to query of step {step}: {}",
                                        matcher::summary(&r)
                                    );
                                }
                            }
                            ans.borrow_mut().push(ClientAnswer {
                                bytes,
                                protocol,
                                step,
                            });
                        }
                        None if verbose => println!("    no reply to query of step {step}"),
                        None => {}
                    }
                    lock(&sc2).activity += 1;
                });
            }
            Kind::CheckAnswer => {
                let n = s.time_out_all();
                if n == 0 {
                    return Err(format!(
                        "STEP {} CHECK_ANSWER: no answer (upstream queries so far: {})",
                        m.step, s.queries_sent
                    ));
                }
                s.note(format!("timed out {n} waiting queries nothing will answer"));
            }
            Kind::CheckOutQuery => {
                let want = m
                    .entry
                    .as_ref()
                    .and_then(|e| e.msg.queries.first())
                    .map(|q| format!("{} {}", q.name(), q.query_type()))
                    .unwrap_or_default();
                return Err(format!(
                    "STEP {} CHECK_OUT_QUERY: no upstream query {want} sent",
                    m.step
                ));
            }
            Kind::Reply | Kind::Timeout | Kind::Error => {
                s.now += 1;
                let failure = if m.kind == Kind::Error {
                    UpstreamFailure::Closed
                } else {
                    UpstreamFailure::Timeout
                };
                let entry = if m.kind == Kind::Reply {
                    m.entry.as_ref()
                } else {
                    None
                };
                if !s.finish_newest(entry, failure) {
                    return Err(format!(
                        "STEP {} {:?}: no upstream query waiting",
                        m.step, m.kind
                    ));
                }
            }
            Kind::TimePasses | Kind::Traffic => {
                s.now += 1;
                let mut ms = m.elapse_ms;
                if !m.text.is_empty() {
                    let env = macro_env(&vars, &clock, &resolver);
                    let secs = autotrust::expand(&m.text, &env)
                        .map_err(|e| format!("STEP {} EVAL: {e}", m.step))?;
                    ms =
                        secs.trim().parse::<u64>().map_err(|_| {
                            format!("STEP {} EVAL: {secs:?} is not a number", m.step)
                        })? * 1000;
                }
                clock.inner.advance(Duration::from_millis(ms));
                // Trust points whose probe time has come are probed, as
                // Unbound's probe timer fires when time passes.
                let (r, sc2) = (resolver.clone(), script.clone());
                tokio::task::spawn_local(async move {
                    r.autotrust_probe_due().await;
                    lock(&sc2).activity += 1;
                });
            }
            Kind::Assign => {
                s.now += 1;
                let env = macro_env(&vars, &clock, &resolver);
                let (var, expr) = m.text.split_once('=').unwrap_or((&m.text, ""));
                let value = autotrust::expand(expr.trim(), &env)
                    .map_err(|e| format!("STEP {} ASSIGN: {e}", m.step))?;
                vars.insert(var.trim().to_string(), value);
            }
            Kind::CheckAutotrust => {
                s.now += 1;
                let zone = m.text.trim_end_matches('.');
                let Some((_, path)) = autotrust_files
                    .iter()
                    .find(|(z, _)| z.trim_end_matches('.').eq_ignore_ascii_case(zone))
                else {
                    return Err(format!(
                        "STEP {} CHECK_AUTOTRUST: no file for {zone}",
                        m.step
                    ));
                };
                let env = macro_env(&vars, &clock, &resolver);
                autotrust::check(path, &m.file, &env)
                    .map_err(|e| format!("STEP {} CHECK_AUTOTRUST {zone}: {e}", m.step))?;
            }
            Kind::InfraRtt => {
                s.now += 1;
                if let Some(ip) = m.address {
                    let rtt = Duration::from_millis(m.elapse_ms);
                    handler.resolver().selection().note(
                        SocketAddr::new(ip, 53),
                        &Name::root(),
                        QueryKind::A,
                        selection::Outcome::Replied { rtt, edns: false },
                        clock.now(),
                    );
                }
            }
            Kind::Nothing => s.now += 1,
        }
    }
    // Let whatever is still running finish; nothing will answer it now.
    settle(&script).await;
    let waiting = lock(&script).time_out_all();
    if waiting > 0 {
        lock(&script).note(format!(
            "{waiting} upstream queries still waiting at the end"
        ));
        settle(&script).await;
    }
    let left = answers.borrow();
    if !left.is_empty() {
        return Err(format!(
            "{} answer(s) left unchecked: {}",
            left.len(),
            show_answers(&left)
        ));
    }
    Ok(())
}
