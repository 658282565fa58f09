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
