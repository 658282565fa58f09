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
mod batch;
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
mod service;
pub mod stats;
pub(crate) mod tcp;
pub mod tls;
mod udp;

use std::future::Future;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::upstream::Transport;

pub use bind::{bind, BindError, Sockets};
pub use doh::DNS_MESSAGE;
pub use handler::Handler;
pub use service::{Limits, Service, Via};

/// The handler in service now: a reload puts a new one in place, and
/// queries already running finish with the one they started with.
pub type Current<T, C> = arc_swap::ArcSwap<Handler<T, C>>;

/// What every listener task shares.
pub(crate) struct Shared<S: Service> {
    pub service: Arc<S>,
    /// Permits for client queries in progress (server.max_concurrent_queries).
    pub queries: Arc<Semaphore>,
    /// Their number.
    pub queries_max: usize,
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
/// handler in place at the start. Every socket is served on the caller's
/// runtime (`server.udp_threads` is for `run_with_tls`), so tests keep
/// control of time and tasks.
pub async fn run_current<T: Transport, C: Clock>(
    handler: Arc<Current<T, C>>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    shutdown: impl Future,
) {
    let mut limits = Limits::of(handler.load().resolver().config());
    limits.udp_threads = false;
    serve(handler, limits, udp, tcp, shutdown).await
}

/// `run_current` with DoT and DoH listeners as well (`tls::bind`), and
/// UDP threads as `server.udp_threads` says: how `tern serve` runs.
pub async fn run_with_tls<T: Transport, C: Clock>(
    handler: Arc<Current<T, C>>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    encrypted: Option<tls::Encrypted>,
    shutdown: impl Future,
) {
    let limits = Limits::of(handler.load().resolver().config());
    serve_with(handler, limits, udp, tcp, shutdown, |shared, loops| {
        if let Some(enc) = encrypted {
            tls::spawn_listeners(shared, enc, loops);
        }
    })
    .await
}

/// Serves `service` on the given sockets under `limits` until `shutdown`
/// completes, then drains as `run` does.
pub async fn serve<S: Service>(
    service: Arc<S>,
    limits: Limits,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    shutdown: impl Future,
) {
    serve_with(service, limits, udp, tcp, shutdown, |_, _| {}).await
}

/// `serve`, with `more` adding listeners of its own to the loops.
async fn serve_with<S: Service>(
    service: Arc<S>,
    limits: Limits,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    shutdown: impl Future,
    more: impl FnOnce(&Arc<Shared<S>>, &mut JoinSet<()>),
) {
    let max_queries = limits.max_queries.max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let pool = |(max, per_client, idle), label| tcp::Pool::new(max, per_client, idle, label);
    let shared = Arc::new(Shared {
        service,
        queries: Arc::new(Semaphore::new(max_queries)),
        queries_max: max_queries,
        tcp: pool(limits.tcp, "tcp"),
        tls: pool(limits.tls, "tls"),
        stop: stop_rx,
        ratelimit: limits.ratelimit,
    });
    let mut loops = JoinSet::new();
    for (n, socket) in udp.into_iter().enumerate() {
        if limits.udp_threads {
            loops.spawn(udp::on_own_thread(
                shared.clone(),
                socket,
                n + 1,
                limits.drain,
            ));
        } else {
            loops.spawn(udp::serve(shared.clone(), Arc::new(socket)));
        }
    }
    for listener in tcp {
        loops.spawn(tcp::accept_loop(shared.clone(), listener));
    }
    more(&shared, &mut loops);
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
    if tokio::time::timeout(limits.drain, drain).await.is_err() {
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
