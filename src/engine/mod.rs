//! The iterative resolution engine: `Resolver<T: Transport, C: Clock>`.
//!
//! Sans-IO at its edges: the network is reached only through `Transport` and
//! time only through `Clock`, so the same engine runs under `tern serve`, the
//! replay harness, fault tests, fuzzing and benches.

pub mod trace;

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::clock::Clock;
use crate::config::Config;
use crate::upstream::Transport;

pub use trace::TraceEvent;

/// One client question, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    pub name: Name,
    pub qtype: RecordType,
    pub qclass: DNSClass,
    /// RD=0: answer from cache only.
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub dnssec_ok: bool,
    /// Record full upstream replies in the trace (for `tern dig +trace`).
    pub full_trace: bool,
}

impl Request {
    /// An ordinary recursive question.
    pub fn new(name: Name, qtype: RecordType) -> Self {
        Self {
            name,
            qtype,
            qclass: DNSClass::IN,
            recursion_desired: true,
            checking_disabled: false,
            dnssec_ok: false,
            full_trace: false,
        }
    }
}

/// Why a resolution failed; mapped to SERVFAIL + an extended DNS error
/// (RFC 8914) by `server::handler`, the only place that does that mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("no authoritative server answered")]
    NoReachableAuthority,
    #[error("all authoritative servers were lame or refused")]
    AllLame,
    #[error("upstream query budget of {0} exhausted")]
    QueryBudget(u32),
    #[error("CNAME chain longer than {0}")]
    CnameChain(u32),
    #[error("CNAME loop")]
    CnameLoop,
    #[error("delegation depth or referral limit reached")]
    Depth,
    #[error("no NS address could be found for the zone")]
    NoNsAddress,
    #[error("not in cache and recursion not desired")]
    NotCached,
    #[error("resolution took longer than the query timeout")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// What a resolution produced: an answer, NODATA or NXDOMAIN are values
/// (rcode + sections); `failure` is set only for real failures (SERVFAIL).
#[derive(Debug, Clone)]
pub struct Resolution {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The answer data was authoritative for us (unused by a resolver: AA=0).
    pub failure: Option<Failure>,
    /// Answered entirely from cache (no upstream query).
    pub from_cache: bool,
    /// What the engine did and why.
    pub trace: Vec<TraceEvent>,
}

impl Resolution {
    /// A SERVFAIL carrying its reason.
    pub fn failed(failure: Failure, trace: Vec<TraceEvent>) -> Self {
        Self {
            rcode: ResponseCode::ServFail,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            failure: Some(failure),
            from_cache: false,
            trace,
        }
    }
}

/// The resolver: cache + iteration over a `Transport`, timed by a `Clock`.
pub struct Resolver<T: Transport, C: Clock> {
    config: Arc<Config>,
    transport: T,
    clock: C,
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    pub fn new(config: Arc<Config>, transport: T, clock: C) -> Self {
        Self {
            config,
            transport,
            clock,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Resolves one client question.
    pub async fn resolve(&self, _request: &Request) -> Resolution {
        Resolution::failed(Failure::Internal("engine not built yet"), Vec::new())
    }
}
