//! `TraceEvent`: what the engine did for one client query and why. Read by
//! `tern dig +trace`, debug logs and tests, so "why this answer / why
//! SERVFAIL" has one answer everywhere.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::upstream::{Protocol, UpstreamFailure};

#[derive(Debug, Clone)]
pub enum TraceEvent {
    /// Answered (fully or partly) from the cache.
    CacheHit { name: Name, qtype: RecordType },
    /// Resolution of (name, type) starts at this zone cut.
    StartAt { zone: Name, servers: Vec<Name> },
    /// A query is sent upstream.
    Query {
        zone: Name,
        server: SocketAddr,
        server_name: Option<Name>,
        qname: Name,
        qtype: RecordType,
        protocol: Protocol,
        reason: String,
    },
    /// A reply came back.
    Reply {
        server: SocketAddr,
        rtt: Duration,
        rcode: ResponseCode,
        kind: String,
        /// The full reply, only when the request asked for a full trace.
        message: Option<Box<Message>>,
    },
    /// An exchange failed.
    Failed {
        server: SocketAddr,
        failure: UpstreamFailure,
        rto: Duration,
    },
    /// Any other decision worth showing.
    Note(String),
}

/// One line of plain text per event, as the control channel's `trace`
/// prints it.
impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        match self {
            TraceEvent::CacheHit { name, qtype } => write!(f, "cache hit: {name} {qtype}"),
            TraceEvent::StartAt { zone, servers } => {
                write!(f, "start at zone {zone} (")?;
                for (i, s) in servers.iter().enumerate() {
                    write!(f, "{}{s}", if i == 0 { "" } else { " " })?;
                }
                f.write_str(")")
            }
            TraceEvent::Query {
                zone,
                server,
                server_name,
                qname,
                qtype,
                protocol,
                reason,
            } => {
                f.write_str("asking ")?;
                if let Some(n) = server_name {
                    write!(f, "{n} ")?;
                }
                let proto = match protocol {
                    Protocol::Udp => "udp",
                    Protocol::Tcp => "tcp",
                };
                write!(
                    f,
                    "{server} for {qname} {qtype} in zone {zone} over {proto}: {reason}"
                )
            }
            TraceEvent::Reply {
                server, rtt, kind, ..
            } => write!(f, "reply from {server} in {:.1} ms: {kind}", ms(rtt)),
            TraceEvent::Failed {
                server,
                failure,
                rto,
            } => write!(f, "{failure} from {server}; next timeout {:.1} ms", ms(rto)),
            TraceEvent::Note(n) => f.write_str(n),
        }
    }
}
