//! `QueryState`: everything one client query's resolution knows and limits
//! (upstream budget, start time, trace). Nested lookups (NS names without
//! glue) share it, so their queries count against the same budget.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

use hickory_proto::rr::{Name, RecordType};

use crate::clock::Mono;
use crate::engine::trace::Causes;
use crate::engine::TraceEvent;

/// Upper bound on trace events kept per query, so a pathological
/// resolution cannot grow memory through its trace.
const MAX_TRACE_EVENTS: usize = 2_000;

pub struct QueryState {
    /// Upstream queries still allowed.
    budget: AtomicU32,
    /// Upstream queries sent.
    sent: AtomicU32,
    /// When the client query arrived.
    pub start: Mono,
    /// Keep full replies in the trace.
    pub full_trace: bool,
    /// Record trace events at all: for a full trace, or when debug logs
    /// are on. Otherwise building them is skipped (it costs a fifth of a
    /// cold resolution's CPU).
    tracing: bool,
    trace: Mutex<Vec<TraceEvent>>,
    /// The last few failure events, kept whether traced or not: what a
    /// SERVFAIL's extended error says.
    causes: Mutex<Causes>,
    /// Cache reads may return expired data (serve-stale, RFC 8767).
    pub allow_stale: bool,
    /// Re-resolving the client's question: its own cache entries are
    /// bypassed (prefetch and stale refresh).
    pub refresh: bool,
    /// No upstream exchange runs past this (serve-stale client timeout).
    pub deadline: Option<Mono>,
    /// Zone cuts expiring within this are taken as expired (a prefetch:
    /// what is about to expire is fetched again from the parent, as
    /// Unbound's prefetch leeway).
    pub leeway: std::time::Duration,
    /// Some cache read returned expired data.
    stale: AtomicBool,
    /// Some cache read hit an entry due for a prefetch.
    prefetch: AtomicBool,
    /// A server held down as unreachable is due for its probe, which a
    /// client's resolution leaves to a background one (RFC 9520 §3.2).
    probe_due: AtomicBool,
    /// The server asked last and its zone, shared with the in-flight
    /// table (a client cut off by its deadline is told whom we wait on).
    pub asking: crate::engine::inflight::Asking,
    /// The client's network, sent as EDNS Client Subnet where configured.
    pub subnet: Option<crate::engine::ecs::ClientNet>,
    /// The longest ECS scope an authority gave in this resolution: above
    /// 0, the answer holds only for the client's network of that length.
    scope: AtomicU8,
}

impl QueryState {
    pub fn new(budget: u32, start: Mono, full_trace: bool) -> Self {
        Self {
            budget: AtomicU32::new(budget),
            sent: AtomicU32::new(0),
            start,
            full_trace,
            tracing: full_trace || tracing::enabled!(tracing::Level::DEBUG),
            trace: Mutex::new(Vec::new()),
            causes: Mutex::new(Causes::default()),
            allow_stale: false,
            refresh: false,
            deadline: None,
            leeway: std::time::Duration::ZERO,
            stale: AtomicBool::new(false),
            prefetch: AtomicBool::new(false),
            probe_due: AtomicBool::new(false),
            asking: Default::default(),
            subnet: None,
            scope: AtomicU8::new(0),
        }
    }

    /// Notes the ECS scope of a reply used.
    pub fn note_scope(&self, scope: u8) {
        self.scope.fetch_max(scope, Ordering::Relaxed);
    }

    /// The longest ECS scope noted (0: the answer is for everyone).
    pub fn scope(&self) -> u8 {
        self.scope.load(Ordering::Relaxed)
    }

    /// Records the server about to be asked.
    pub fn asking(&self, server: std::net::SocketAddr, zone: &Name) {
        if let Ok(mut g) = self.asking.lock() {
            *g = Some((server, zone.clone()));
        }
    }

    /// Notes what a cache read found (stale data, prefetch due).
    pub fn saw(&self, stale: bool, prefetch: bool) {
        if stale {
            self.stale.store(true, Ordering::Relaxed);
        }
        if prefetch {
            self.prefetch.store(true, Ordering::Relaxed);
        }
    }

    /// Some cache read returned expired data.
    pub fn used_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Some cache read hit an entry due for a prefetch.
    pub fn prefetch_due(&self) -> bool {
        self.prefetch.load(Ordering::Relaxed)
    }

    /// Notes that a held-down server is due for its probe.
    pub fn want_probe(&self) {
        self.probe_due.store(true, Ordering::Relaxed);
    }

    /// Whether some held-down server is due for a probe that this
    /// (client's) resolution did not send.
    pub fn probe_due(&self) -> bool {
        self.probe_due.load(Ordering::Relaxed)
    }

    /// Takes one upstream query from the budget; false when none is left.
    pub fn spend(&self) -> bool {
        let ok = self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_ok();
        if ok {
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }

    /// Upstream queries sent so far.
    pub fn sent(&self) -> u32 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Records the event `event` builds, if this query is traced.
    pub fn record(&self, event: impl FnOnce() -> TraceEvent) {
        if self.tracing {
            self.trace_event(event());
        }
    }

    /// Records a built event in the trace, and in the debug log as the
    /// same line.
    fn trace_event(&self, event: TraceEvent) {
        tracing::debug!(target: "tern::trace", "{event}");
        if let Ok(mut t) = self.trace.lock() {
            if t.len() < MAX_TRACE_EVENTS {
                t.push(event);
            }
        }
    }

    /// Records a note, if this query is traced.
    pub fn note<S: Into<String>>(&self, text: impl FnOnce() -> S) {
        self.record(|| TraceEvent::Note(text().into()));
    }

    /// Records a failure event (a server that gave no usable reply, a
    /// zone whose servers all failed): kept among the causes a SERVFAIL
    /// names, and in the trace if this query is traced. Built every time,
    /// so only failure paths call it.
    pub fn cause(&self, event: impl FnOnce() -> TraceEvent) {
        let event = event();
        if let Ok(mut c) = self.causes.lock() {
            c.push(&event);
        }
        if self.tracing {
            self.trace_event(event);
        }
    }

    /// Records the event as a cause when `cause` (a reply judged of no
    /// use), else as any event.
    pub fn record_as(&self, cause: bool, event: impl FnOnce() -> TraceEvent) {
        if cause {
            self.cause(event);
        } else {
            self.record(event);
        }
    }

    /// Records a failure note (see `cause`).
    pub fn cause_note<S: Into<String>>(&self, text: impl FnOnce() -> S) {
        self.cause(|| TraceEvent::Note(text().into()));
    }

    /// The lines of the failure events kept, oldest first.
    pub fn causes(&self) -> Vec<String> {
        self.causes.lock().map(|c| c.lines()).unwrap_or_default()
    }

    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.trace
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_kept_untraced_and_bounded_while_other_events_are_not() {
        let st = QueryState::new(10, Mono::ZERO, false);
        let traced = std::cell::Cell::new(false);
        // Not traced (no full trace, no debug subscriber): an ordinary
        // event is not even built.
        st.record(|| {
            traced.set(true);
            TraceEvent::Note("asked".into())
        });
        assert!(!traced.get());
        for i in 0..6 {
            st.cause_note(|| format!("server {i} answered REFUSED"));
        }
        assert_eq!(
            st.causes(),
            (2..6)
                .map(|i| format!("server {i} answered REFUSED"))
                .collect::<Vec<_>>()
        );
        assert!(st.take_trace().is_empty());
        // Traced: a cause is in the trace too, once.
        let st = QueryState::new(10, Mono::ZERO, true);
        st.note(|| "asking");
        st.cause_note(|| "timed out");
        let lines: Vec<String> = st.take_trace().iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["asking", "timed out"]);
        assert_eq!(st.causes(), ["timed out"]);
    }
}

/// The chain of lookups that led to the current one (the client's question,
/// then NS names being resolved for it), to stop cycles such as a zone whose
/// only NS name lies inside itself without glue.
#[derive(Debug, Clone, Default)]
pub struct LookupPath {
    items: Vec<(Name, RecordType)>,
    /// Configured (stub or forward) zones whose servers failed and that
    /// allow falling back to iteration (`first`): ignored from here on.
    skip: Vec<Name>,
}

impl LookupPath {
    pub fn contains(&self, name: &Name, qtype: RecordType) -> bool {
        self.items.iter().any(|(n, t)| n == name && *t == qtype)
    }

    pub fn with(&self, name: &Name, qtype: RecordType) -> Self {
        let mut items = self.items.clone();
        items.push((name.clone(), qtype));
        Self {
            items,
            skip: self.skip.clone(),
        }
    }

    /// This path, with the configured zone `zone` ignored.
    pub fn skipping(&self, zone: &Name) -> Self {
        let mut p = self.clone();
        p.skip.push(zone.clone());
        p
    }

    /// Whether the configured zone `zone` is to be ignored.
    pub fn skips(&self, zone: &Name) -> bool {
        self.skip.contains(zone)
    }

    pub fn depth(&self) -> usize {
        self.items.len()
    }
}
