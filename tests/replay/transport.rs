//! The scripted network: a `tern::upstream::Transport` that answers the
//! engine's upstream queries from the scenario, and the script state it
//! shares with the runner (which `STEP` is current, parked exchanges, the
//! log of every query sent).
//!
//! An upstream query is answered, in this order, (1) by the current
//! `CHECK_OUT_QUERY` step when it matches (the step is then done; with
//! `ADJUST copy_id` its entry is the reply, otherwise the query waits);
//! (2) by the first matching entry of the ranges active at the current step
//! whose `ADDRESS` is the server; (3) if the current step is one that
//! answers queries itself (`REPLY`, `TIMEOUT`, `ERROR`, `CHECK_OUT_QUERY`)
//! the query is parked for it, as it is when such a step comes next after
//! clock moves and answer checks; (4) otherwise it times out at once
//! (`UpstreamFailure::Timeout`), as a server that never answers would.
//! The transport carries bytes: it reads the engine's query to match it
//! against the script, and returns the entry's reply encoded, with the
//! query's ID (`copy_id` is implied: the ID is picked per query); the
//! engine parses and checks it. `copy_query` copies the question as the
//! format says. A reply the real transport would drop (without our ID and
//! QR=1, `upstream::answers_header`) makes the exchange time out, as it
//! would on the wire.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::op::Message;
use tokio::sync::oneshot;

use super::matcher;
use super::parser::{Entry, Kind, Moment, Scenario};
use tern::upstream::{
    answers_header, Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery,
};

type Reply = ReplyBytes;

/// An upstream query as sent, and as the script's matcher reads it.
pub struct Asked {
    pub query: UpstreamQuery,
    pub message: Message,
}

/// An exchange waiting for a scripted step.
pub struct Parked {
    pub query: Asked,
    pub tx: oneshot::Sender<Reply>,
}

/// What the runner and the transport both see.
pub struct Script {
    pub scenario: Arc<Scenario>,
    /// Index of the current (next to play) moment.
    pub now: usize,
    /// Newest last.
    pub parked: Vec<Parked>,
    /// Bumped on every exchange and every finished client query.
    pub activity: u64,
    pub verbose: bool,
    /// Every upstream query and what happened to it.
    pub log: Vec<String>,
    pub queries_sent: usize,
}

impl Script {
    pub fn new(scenario: Arc<Scenario>, verbose: bool) -> Self {
        Self {
            scenario,
            now: 0,
            parked: Vec::new(),
            activity: 0,
            verbose,
            log: Vec::new(),
            queries_sent: 0,
        }
    }

    pub fn current(&self) -> Option<&Moment> {
        self.scenario.moments.get(self.now)
    }

    /// The step number ranges are matched against.
    pub fn step(&self) -> u64 {
        self.current()
            .or(self.scenario.moments.last())
            .map_or(0, |m| m.step)
    }

    pub fn note(&mut self, line: String) {
        if self.verbose {
            println!("    {line}");
        }
        self.log.push(line);
    }

    fn range_entry(&self, q: &Asked) -> Option<Entry> {
        let step = self.step();
        self.scenario
            .ranges
            .iter()
            .filter(|r| r.start <= step && step <= r.end)
            .filter(|r| r.addresses.is_empty() || r.addresses.contains(&q.query.server.ip()))
            .flat_map(|r| r.entries.iter())
            .find(|e| matcher::check(e, &q.message, q.query.protocol).is_ok())
            .cloned()
    }

    /// The current CHECK_OUT_QUERY step's entry, if `q` satisfies it.
    fn current_check(&self, q: &Asked) -> Option<Entry> {
        let m = self.current()?;
        if m.kind != Kind::CheckOutQuery || m.address.is_some_and(|a| a != q.query.server.ip()) {
            return None;
        }
        let e = m.entry.as_ref()?;
        matcher::check(e, &q.message, q.query.protocol).ok()?;
        Some(e.clone())
    }

    /// A parked exchange the current CHECK_OUT_QUERY step names: the step is
    /// done; with `copy_id` its entry answers. True if one was found.
    pub fn parked_matches_current(&mut self) -> bool {
        let Some(i) = (0..self.parked.len())
            .rev()
            .find(|&i| self.current_check(&self.parked[i].query).is_some())
        else {
            return false;
        };
        let entry = self.current_check(&self.parked[i].query);
        let step = self.step();
        self.now += 1;
        self.note(format!(
            "CHECK_OUT_QUERY step {step} matched a waiting query"
        ));
        if let Some(e) = entry.filter(|e| e.copy_id) {
            let p = self.parked.remove(i);
            let reply = build_reply(&e, &p.query);
            let _ = p.tx.send(reply);
        }
        true
    }

    /// Answers a parked exchange from the ranges now active. True if one was.
    pub fn parked_from_ranges(&mut self) -> bool {
        for i in (0..self.parked.len()).rev() {
            if let Some(e) = self.range_entry(&self.parked[i].query) {
                let p = self.parked.remove(i);
                self.note(format!(
                    "waiting query to {} answered by entry at line {}",
                    p.query.query.server, e.line
                ));
                let reply = build_reply(&e, &p.query);
                let _ = p.tx.send(reply);
                return true;
            }
        }
        false
    }

    /// Completes the newest parked exchange (REPLY / TIMEOUT / ERROR steps).
    pub fn finish_newest(&mut self, entry: Option<&Entry>, failure: UpstreamFailure) -> bool {
        let Some(p) = self.parked.pop() else {
            return false;
        };
        let reply = match entry {
            Some(e) => build_reply(e, &p.query),
            None => Err(failure),
        };
        let _ = p.tx.send(reply);
        true
    }

    /// Whether the script will still answer a waiting query: the current
    /// step does, or the first step after the clock and answer checks that
    /// come next does (Unbound's testbound keeps such a query pending).
    fn will_answer(&self) -> bool {
        self.scenario
            .moments
            .iter()
            .skip(self.now)
            .find(|m| !matches!(m.kind, Kind::TimePasses | Kind::CheckAnswer))
            .is_some_and(|m| {
                matches!(
                    m.kind,
                    Kind::Reply | Kind::Timeout | Kind::Error | Kind::CheckOutQuery
                )
            })
    }

    /// Times out every parked exchange (nothing in the script will answer).
    pub fn time_out_all(&mut self) -> usize {
        let n = self.parked.len();
        for p in self.parked.drain(..) {
            let _ = p.tx.send(Err(UpstreamFailure::Timeout));
        }
        n
    }
}

/// The reply an entry gives to a query (ID copied, question if asked).
pub fn build_reply(entry: &Entry, q: &Asked) -> Reply {
    let id = q.message.metadata.id;
    let bytes = match &entry.raw {
        Some(raw) => {
            let mut b = raw.clone();
            for (i, x) in id.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = b.get_mut(i) {
                    *slot = x;
                }
            }
            b
        }
        None => {
            let mut m = entry.msg.clone();
            m.metadata.id = id;
            if entry.copy_query {
                m.queries = q.message.queries.clone();
            }
            m.to_vec().map_err(|_| UpstreamFailure::Malformed)?
        }
    };
    // A reply the real transport would drop (QR=0) is never seen, so the
    // exchange times out.
    if !answers_header(&q.query.bytes, &bytes) {
        return Err(UpstreamFailure::Timeout);
    }
    Ok(bytes)
}

fn describe(q: &Asked) -> String {
    let question = q
        .message
        .queries
        .first()
        .map(|x| format!("{} {}", x.name(), x.query_type()))
        .unwrap_or_default();
    let edns = match &q.message.edns {
        None => "noedns".to_string(),
        Some(e) if e.flags().dnssec_ok => "edns DO".to_string(),
        Some(_) => "edns".to_string(),
    };
    format!(
        "upstream {:?} {} {question} rd={} {edns}",
        q.query.protocol, q.query.server, q.message.metadata.recursion_desired
    )
}

/// The `Transport` the resolver under test is given.
#[derive(Clone)]
pub struct ScriptedTransport {
    pub script: Arc<Mutex<Script>>,
}

pub fn lock(s: &Mutex<Script>) -> MutexGuard<'_, Script> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

enum Decision {
    Now(Reply),
    Wait(oneshot::Receiver<Reply>),
}

impl ScriptedTransport {
    fn decide(&self, query: UpstreamQuery) -> Decision {
        // The engine's query as a server would read it; one that does not
        // parse goes unanswered.
        let Ok(message) = Message::from_vec(&query.bytes) else {
            return Decision::Now(Err(UpstreamFailure::Timeout));
        };
        let q = Asked { query, message };
        let mut s = lock(&self.script);
        s.activity += 1;
        s.queries_sent += 1;
        let step = s.step();
        let what = describe(&q);
        if let Some(e) = s.current_check(&q) {
            s.now += 1;
            if e.copy_id {
                s.note(format!(
                    "{what} -> CHECK_OUT_QUERY step {step} ok, answered by its entry"
                ));
                return Decision::Now(build_reply(&e, &q));
            }
            s.note(format!("{what} -> CHECK_OUT_QUERY step {step} ok, waiting"));
            return park(&mut s, q);
        }
        if let Some(e) = s.range_entry(&q) {
            let reply = build_reply(&e, &q);
            let shown = match &reply {
                Ok(b) => match tern::wire::parse_reply(b) {
                    Ok(r) => matcher::summary(&r.message),
                    Err(e) => format!("unparseable reply: {e}"),
                },
                Err(f) => format!("{f:?}"),
            };
            s.note(format!(
                "{what} -> entry line {} (step {step}): {shown}",
                e.line
            ));
            return Decision::Now(reply);
        }
        if s.will_answer() {
            s.note(format!(
                "{what} -> no entry (step {step}), waiting for the script"
            ));
            return park(&mut s, q);
        }
        s.note(format!("{what} -> no entry (step {step}): timeout"));
        Decision::Now(Err(UpstreamFailure::Timeout))
    }
}

fn park(s: &mut Script, query: Asked) -> Decision {
    let (tx, rx) = oneshot::channel();
    s.parked.push(Parked { query, tx });
    Decision::Wait(rx)
}

impl Transport for ScriptedTransport {
    fn exchange(&self, query: UpstreamQuery) -> impl Future<Output = Reply> + Send {
        let decision = self.decide(query);
        async move {
            match decision {
                Decision::Now(r) => r,
                Decision::Wait(rx) => rx.await.unwrap_or(Err(UpstreamFailure::Timeout)),
            }
        }
    }
}

/// The protocol a client entry asks for (`MATCH TCP` on a QUERY).
pub fn client_protocol(e: &Entry) -> Protocol {
    e.spec.transport.unwrap_or(Protocol::Udp)
}
