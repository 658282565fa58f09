//! The client-facing front end: UDP and TCP listeners (RFC 7766 framing,
//! idle timeout, connection cap), DNS over TLS and HTTPS (`tls`, `doh`),
//! access control, graceful drain.
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
mod doh;
pub mod handler;
pub mod keepalive;
pub mod local;
pub mod metrics;
pub mod packet_cache;
pub mod padding;
pub mod privileges;
pub mod querylog;
pub mod ratelimit;
pub mod stats;
pub(crate) mod tcp;
pub mod tls;
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
pub use doh::DNS_MESSAGE;
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
    /// Client TCP connections (server.tcp_max_connections and friends).
    pub tcp: tcp::Pool,
    /// DoT and DoH connections (tls.max_connections and friends).
    pub tls: tcp::Pool,
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
    run_with_tls(handler, udp, tcp, None, shutdown).await
}

/// `run_current` with DoT and DoH listeners as well (`tls::bind`).
pub async fn run_with_tls<T: Transport, C: Clock>(
    handler: Arc<Current<T, C>>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    encrypted: Option<tls::Encrypted>,
    shutdown: impl Future,
) {
    let config = handler.load().resolver().config().clone();
    let max_queries = config.server.max_concurrent_queries.max(1);
    let s = &config.server;
    let t = &config.tls;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        handler,
        queries: Arc::new(Semaphore::new(max_queries)),
        tcp: tcp::Pool::new(
            s.tcp_max_connections,
            s.tcp_max_connections_per_client,
            s.tcp_idle_timeout,
            "tcp",
        ),
        tls: tcp::Pool::new(
            t.max_connections,
            t.max_connections_per_client,
            t.idle_timeout,
            "tls",
        ),
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
    if let Some(enc) = encrypted {
        tls::spawn_listeners(&shared, enc, &mut loops);
    }
    shutdown.await;
    tracing::info!("shutting down: draining queries in flight");
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    let drain = async {
        let q = u32::try_from(max_queries).unwrap_or(u32::MAX);
        let _queries = shared.queries.acquire_many(q).await;
        for pool in [&shared.tcp, &shared.tls] {
            let c = u32::try_from(pool.max).unwrap_or(u32::MAX);
            let _conns = pool.permits.acquire_many(c).await;
        }
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
