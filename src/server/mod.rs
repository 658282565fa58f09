//! The client-facing front end: UDP and TCP listeners (RFC 7766 framing,
//! idle timeout, connection cap), access control, graceful drain.
//!
//! `run` takes already-bound sockets (see `bind`) and a shutdown future, so
//! tests run it on `127.0.0.1:0` and `tern serve` on the configured
//! addresses. One semaphore bounds the client queries being worked on at
//! once, a second the open TCP connections; draining on shutdown is waiting
//! until every permit is back, bounded in time.

pub mod acl;
pub mod bind;
pub mod cache_file;
pub mod chaos;
pub mod control;
pub mod cookie;
pub mod handler;
pub mod keepalive;
pub mod local;
pub mod metrics;
pub mod packet_cache;
pub mod privileges;
pub mod querylog;
pub mod ratelimit;
pub mod stats;
pub(crate) mod tcp;
mod udp;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::upstream::Transport;

pub use bind::{bind, BindError, Sockets};
pub use handler::Handler;

/// Extra time granted to in-flight queries on shutdown beyond the query
/// timeout (which already bounds every resolution).
const DRAIN_SLACK: Duration = Duration::from_secs(1);

/// The handler in service now: a reload puts a new one in place, and
/// queries already running finish with the one they started with.
pub type Current<T, C> = arc_swap::ArcSwap<Handler<T, C>>;

/// What every listener task shares.
pub(crate) struct Shared<T: Transport, C: Clock> {
    pub handler: Arc<Current<T, C>>,
    /// Permits for client queries in progress (server.max_concurrent_queries).
    pub queries: Arc<Semaphore>,
    /// Permits for open TCP connections (server.tcp_max_connections).
    pub connections: Arc<Semaphore>,
    /// The open TCP connections, to close the longest idle under pressure.
    pub conns: tcp::ConnTable,
    pub tcp_max: usize,
    /// Connections allowed per client address; 0 = no limit.
    pub tcp_per_client: usize,
    pub tcp_idle: Duration,
    /// Flips to true once shutdown starts.
    pub stop: watch::Receiver<bool>,
    /// The per-client UDP rate limit (server.ratelimit), if set.
    pub ratelimit: Option<ratelimit::RateLimit>,
}

/// Serves clients on the given sockets until `shutdown` completes, then
/// stops accepting, waits (bounded) for queries and connections in flight
/// to finish, and returns.
pub async fn run<T: Transport, C: Clock>(
    handler: Arc<Handler<T, C>>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    shutdown: impl Future,
) {
    run_current(Arc::new(Current::new(handler)), udp, tcp, shutdown).await
}

/// `run` with a handler that may be replaced while serving (a reload).
/// The listener settings (`[server]` limits, rate limit) are those of the
/// handler in place at the start.
pub async fn run_current<T: Transport, C: Clock>(
    handler: Arc<Current<T, C>>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    shutdown: impl Future,
) {
    let config = handler.load().resolver().config().clone();
    let max_queries = config.server.max_concurrent_queries.max(1);
    let max_conns = config.server.tcp_max_connections.max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        handler,
        queries: Arc::new(Semaphore::new(max_queries)),
        connections: Arc::new(Semaphore::new(max_conns)),
        conns: tcp::ConnTable::default(),
        tcp_max: max_conns,
        tcp_per_client: config.server.tcp_max_connections_per_client,
        tcp_idle: config.server.tcp_idle_timeout,
        stop: stop_rx,
        ratelimit: ratelimit::RateLimit::from_config(&config.server),
    });
    let mut loops = JoinSet::new();
    for socket in udp {
        loops.spawn(udp::serve(shared.clone(), Arc::new(socket)));
    }
    for listener in tcp {
        loops.spawn(tcp::accept_loop(shared.clone(), listener));
    }
    shutdown.await;
    tracing::info!("shutting down: draining queries in flight");
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    let drain = async {
        let q = u32::try_from(max_queries).unwrap_or(u32::MAX);
        let c = u32::try_from(max_conns).unwrap_or(u32::MAX);
        let _queries = shared.queries.acquire_many(q).await;
        let _conns = shared.connections.acquire_many(c).await;
    };
    let limit = config.resolver.query_timeout + DRAIN_SLACK;
    if tokio::time::timeout(limit, drain).await.is_err() {
        tracing::warn!("drain timed out; abandoning queries still in flight");
    }
}

/// Completes once shutdown has started (at once if it already has).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One span per client query; the handler fills in qname and qtype.
pub(crate) fn query_span(client: std::net::SocketAddr, proto: &'static str) -> tracing::Span {
    tracing::debug_span!(
        "query",
        %client,
        proto,
        qname = tracing::field::Empty,
        qtype = tracing::field::Empty
    )
}
