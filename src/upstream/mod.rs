//! Talking to authoritative servers: the `Transport` trait the engine uses,
//! the typed failures it reports, the real UDP/TCP transport (`net`) and
//! server selection by smoothed RTT (`selection`).
//!
//! A transport does one exchange: send this query to that server over this
//! protocol and return the reply that matches it (RFC 5452 §9.1: source
//! address and port, ID and question), or a typed failure. Retrying another
//! server, TCP after TC=1 and EDNS fallback are the engine's decisions, so
//! they behave the same over real sockets and scripted networks.

pub mod counting;
pub mod merge;
pub mod nat64;
pub mod net;
pub mod selection;
pub mod tls;
pub mod udp_pool;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;

/// Which protocol an exchange uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
}

/// One query to one server.
#[derive(Debug, Clone)]
pub struct UpstreamQuery {
    pub server: SocketAddr,
    pub protocol: Protocol,
    /// The query; the transport picks a fresh random ID for real sockets.
    pub message: Message,
    /// How long to wait for a matching reply.
    pub timeout: Duration,
}

/// Why an exchange gave no usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    #[error("no matching reply within the timeout")]
    Timeout,
    #[error("network error: {0:?}")]
    Network(std::io::ErrorKind),
    #[error("reply could not be parsed")]
    Malformed,
    /// A reply from the server, with our ID, to another question (or with
    /// none): the server is broken for this query, so it is not waited on.
    #[error("reply carried another question")]
    WrongQuestion,
    #[error("connection closed before a full reply")]
    Closed,
}

/// Bytes out, a matching reply or a typed failure back.
pub trait Transport: Send + Sync + 'static {
    fn exchange(
        &self,
        query: UpstreamQuery,
    ) -> impl Future<Output = Result<Message, UpstreamFailure>> + Send;
}

impl<T: Transport> Transport for std::sync::Arc<T> {
    fn exchange(
        &self,
        query: UpstreamQuery,
    ) -> impl Future<Output = Result<Message, UpstreamFailure>> + Send {
        (**self).exchange(query)
    }
}
