//! What the front end serves. A `Service` turns one client message into
//! the messages sent back; the UDP and TCP loops, their limits and the
//! drain on shutdown (`server::serve`) are the same whatever answers. The
//! resolver (its handler, replaceable on reload: `Current`) and an
//! authoritative server (`auth::server::AuthServer`) are both services.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::ratelimit::RateLimit;
use super::{padding, Current};
use crate::clock::{Clock, Mono};
use crate::config::Config;
use crate::upstream::{Protocol, Transport};

/// How a message reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Udp,
    /// Plain TCP (RFC 7766).
    Tcp,
    /// DNS over TLS (RFC 7858): TCP framing, replies padded.
    Tls,
}

impl Via {
    /// The transport's size rules: UDP, or a stream.
    pub fn protocol(self) -> Protocol {
        match self {
            Via::Udp => Protocol::Udp,
            Via::Tcp | Via::Tls => Protocol::Tcp,
        }
    }
}

/// Something the front end serves.
pub trait Service: Send + Sync + 'static {
    /// A reply made at once from what is at hand (a packet cache hit),
    /// written into `reply`: the UDP loop sends it without a task or a
    /// query permit. False means "use `answer`".
    fn answer_now(&self, _query: &[u8], _client: SocketAddr, _reply: &mut Vec<u8>) -> bool {
        false
    }

    /// The messages to send back for one query: none (dropped), one, or
    /// several (a zone transfer over a stream), in order.
    fn answer(
        self: &Arc<Self>,
        query: Vec<u8>,
        client: SocketAddr,
        via: Via,
    ) -> impl Future<Output = Vec<Vec<u8>>> + Send + 'static;

    /// Now, for the rate limit's buckets.
    fn now(&self) -> Mono;

    /// Counts a query the rate limit dropped or slipped.
    fn ratelimited(&self, _slipped: bool) {}
}

/// The bounds the front end keeps, whatever it serves.
pub struct Limits {
    /// Client queries being worked on at once; a UDP query beyond is
    /// dropped, a stream waits.
    pub max_queries: usize,
    /// Plain TCP connections: cap, per client address (0: none), idle time.
    pub tcp: (usize, usize, Duration),
    /// DoT and DoH connections together, likewise.
    pub tls: (usize, usize, Duration),
    /// The per-client UDP rate limit, if any.
    pub ratelimit: Option<RateLimit>,
    /// How long shutdown waits for queries and connections in flight.
    pub drain: Duration,
    /// Each UDP socket on a thread of its own with a single-threaded
    /// runtime, which also runs the queries it receives (`server.udp_threads`).
    pub udp_threads: bool,
}

/// Extra time granted to in-flight queries on shutdown beyond the query
/// timeout (which already bounds every resolution).
const DRAIN_SLACK: Duration = Duration::from_secs(1);

impl Limits {
    /// The resolver's limits, from its `[server]` and `[tls]` sections.
    pub fn of(config: &Config) -> Self {
        let s = &config.server;
        let t = &config.tls;
        Limits {
            max_queries: s.max_concurrent_queries,
            tcp: (
                s.tcp_max_connections,
                s.tcp_max_connections_per_client,
                s.tcp_idle_timeout,
            ),
            tls: (
                t.max_connections,
                t.max_connections_per_client,
                t.idle_timeout,
            ),
            ratelimit: RateLimit::from_config(s),
            drain: config.resolver.query_timeout + DRAIN_SLACK,
            udp_threads: config.server.udp_threads,
        }
    }
}

impl<T: Transport, C: Clock> Service for Current<T, C> {
    fn answer_now(&self, query: &[u8], client: SocketAddr, reply: &mut Vec<u8>) -> bool {
        self.load()
            .try_cached_into(query, client, Protocol::Udp, reply)
    }

    fn answer(
        self: &Arc<Self>,
        query: Vec<u8>,
        client: SocketAddr,
        via: Via,
    ) -> impl Future<Output = Vec<Vec<u8>>> + Send + 'static {
        let handler = self.load_full();
        async move {
            let reply = match via {
                // The UDP loop has looked in the packet cache already.
                Via::Udp => handler.handle_uncached(&query, client, Protocol::Udp).await,
                Via::Tcp => handler.handle(&query, client, Protocol::Tcp).await,
                Via::Tls => {
                    let r = handler.handle(&query, client, Protocol::Tcp).await;
                    r.map(|r| {
                        handler.stats().encrypted(false);
                        padding::pad_reply(&handler, &query, r, false)
                    })
                }
            };
            reply.into_iter().collect()
        }
    }

    fn now(&self) -> Mono {
        self.load().resolver().clock().now()
    }

    fn ratelimited(&self, slipped: bool) {
        self.load().stats().ratelimited(slipped);
    }
}
