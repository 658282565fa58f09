//! What the engine is asked and what it answers: a client's `Request`,
//! the `Resolution` (answers, NODATA and NXDOMAIN are values), and the
//! typed `Failure` that the front end alone maps to SERVFAIL and an
//! extended DNS error (RFC 8914).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::engine::{ecs, TraceEvent};

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
    /// The client's network, sent as EDNS Client Subnet to the servers
    /// configured for it (None: ECS off, or the client opted out).
    pub subnet: Option<ecs::ClientNet>,
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
            subnet: None,
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
    #[error("resolving this question failed moments ago")]
    RecentlyFailed,
    /// The zone is an auth zone whose copy cannot be used, without
    /// fallback to its servers.
    #[error("auth zone {0} is not usable and has no fallback")]
    LocalCopyUnusable(Name),
    /// Every server of a zone gave no reply lately and is held down
    /// (RFC 9520): failed without asking.
    #[error("all {servers} servers of {zone} unreachable for {down_secs} s; next probe in {retry_secs} s")]
    ServersDown {
        zone: Name,
        servers: usize,
        down_secs: u64,
        retry_secs: u64,
    },
    /// The same question failed moments ago and is not asked again
    /// before the remembered failure expires (RFC 9520 §3).
    #[error("{failure} (failed {age_secs} s ago; tried again in {retry_secs} s)")]
    Remembered {
        failure: Box<Failure>,
        age_secs: u64,
        retry_secs: u64,
    },
    /// The client's deadline came before the resolution ended; it goes
    /// on in the background and fills the cache.
    #[error("still resolving after {ms} ms{}: the answer will be cached",
        .waiting.as_ref().map(|(a, z)| format!(", waiting for {a} (a server of {z})")).unwrap_or_default())]
    ClientDeadline {
        ms: u64,
        /// The server the resolution was waiting on, and its zone.
        waiting: Option<(std::net::SocketAddr, Name)>,
    },
    /// DNSSEC validation found the answer bogus (RFC 4035 §5.5).
    #[error("DNSSEC: {0}")]
    Dnssec(crate::dnssec::Bogus),
    /// A response policy has a trigger for the servers of this zone cut
    /// (`AliasPolicy::stops_at_cut`): the server decides the answer.
    #[error("response policy applies at the servers of {}", .0.zone)]
    Policy(Box<ZoneCut>),
    /// A response policy has a trigger for a CNAME target
    /// (`AliasPolicy::stops_at`): the resolution's answers hold the chain
    /// up to it, unvalidated, and the server decides the rest.
    #[error("response policy applies at the CNAME target {0}")]
    PolicyAlias(Name),
}

/// A zone cut's name server names and known addresses, as met while
/// resolving a client's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneCut {
    pub zone: Name,
    pub ns_names: Vec<Name>,
    pub addrs: Vec<std::net::IpAddr>,
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
    /// Made (partly) from expired data (RFC 8767): EDE 3 "Stale Answer".
    pub stale: bool,
    /// The question should be re-resolved in the background
    /// (`Resolver::resolve_refresh`): a prefetch or a stale answer's refresh.
    pub refresh: bool,
    /// What the engine did and why.
    pub trace: Vec<TraceEvent>,
    /// For a failure: the lines of the last failure events (servers that
    /// gave no usable reply, and how), which its extended error names.
    pub causes: Vec<String>,
    /// What validation found (RFC 4035 §4.3); Secure earns AD=1.
    pub security: crate::dnssec::Security,
    /// The EDNS Client Subnet scope of the answer (RFC 7871): 0 when it
    /// holds for every client.
    pub ecs_scope: u8,
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
            stale: false,
            refresh: false,
            trace,
            causes: Vec::new(),
            security: crate::dnssec::Security::Unchecked,
            ecs_scope: 0,
        }
    }
}
