//! Talking to authoritative servers: the `Transport` trait the engine uses,
//! the typed failures it reports, the real UDP/TCP transport (`net`) and
//! server selection by smoothed RTT (`selection`).
//!
//! A transport carries bytes: it sends an encoded query to that server over
//! this protocol and returns the bytes of the reply that came from the
//! server's address and port, or a typed failure. The engine picks the
//! query's ID, encodes it, and parses and checks the reply (ID and
//! question, RFC 5452 §9.1); a transport may drop datagrams whose header
//! does not carry our ID with QR=1 (`answers_header`) and keep waiting, as
//! a spoofed or late reply must not end the wait. Retrying another server,
//! TCP after TC=1 and EDNS fallback are the engine's decisions, so they
//! behave the same over real sockets and scripted networks.

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
    /// The encoded query, its ID chosen by the engine.
    pub bytes: Vec<u8>,
    /// How long to wait for a matching reply.
    pub timeout: Duration,
}

impl UpstreamQuery {
    /// The query's ID (0 for a query too short to carry one).
    pub fn id(&self) -> u16 {
        header_id(&self.bytes).unwrap_or(0)
    }
}

/// The ID in a message's header, if it has one.
pub fn header_id(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Whether `reply`'s header carries our query's ID and QR=1: the cheap
/// test a transport drops stray datagrams by (the engine checks the rest).
pub fn answers_header(query: &[u8], reply: &[u8]) -> bool {
    matches!(reply, [_, _, flags, ..] if flags & 0x80 != 0)
        && header_id(reply).is_some()
        && header_id(reply) == header_id(query)
}

/// Whether a reply's header has TC=1.
pub fn truncated_header(reply: &[u8]) -> bool {
    matches!(reply, [_, _, flags, ..] if flags & 0x02 != 0)
}

/// The bytes of a reply, or why there are none.
pub type ReplyBytes = Result<Vec<u8>, UpstreamFailure>;

/// Why an exchange gave no usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    #[error("no matching reply within the timeout")]
    Timeout,
    #[error("network error: {0}")]
    Network(std::io::ErrorKind),
    #[error("reply could not be parsed")]
    Malformed,
    /// A reply from the server that does not answer our query (another
    /// question, or none where one is needed): the server is broken for
    /// this query, so it is not waited on.
    #[error("reply carried another question")]
    WrongQuestion,
    #[error("connection closed before a full reply")]
    Closed,
}

/// Bytes out, the bytes of the server's reply or a typed failure back.
pub trait Transport: Send + Sync + 'static {
    fn exchange(&self, query: UpstreamQuery) -> impl Future<Output = ReplyBytes> + Send;
}

impl<T: Transport> Transport for std::sync::Arc<T> {
    fn exchange(&self, query: UpstreamQuery) -> impl Future<Output = ReplyBytes> + Send {
        (**self).exchange(query)
    }
}
