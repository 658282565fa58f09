//! The UDP receive loop of one socket (RFC 1035 §4.2.1): datagrams are
//! read in batches (`batch`); a query the packet cache answers is answered
//! inline (no task, no permit: the work is small and bounded), the batch's
//! replies sent together; any other datagram is answered in its own task while
//! a query permit is free; without one the datagram is dropped (the client
//! retries), so a flood cannot grow memory. With `server.ratelimit`, a
//! client network over its rate is dropped or slipped first (`ratelimit`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tracing::Instrument;

use super::batch::{Received, Replies};
use super::ratelimit::{slip_reply, Verdict};
use super::{query_span, Service, Shared, Via};

/// Serves `socket` from a thread of its own running a single-threaded
/// runtime: the queries it receives are resolved there too, so a packet
/// cache miss wakes no other thread, and the upstream sockets they use
/// are this thread's (`udp_pool::set_home(n)`). Completes once the thread
/// has stopped (after shutdown, with its queries drained for at most
/// `drain`). If the thread or its runtime cannot be started, the socket
/// is served here instead.
pub(crate) async fn on_own_thread<S: Service>(
    shared: Arc<Shared<S>>,
    socket: UdpSocket,
    n: usize,
    drain: Duration,
) {
    let std_socket = match socket.into_std() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "udp socket cannot move to its thread");
            return;
        }
    };
    let spare = std_socket.try_clone();
    // The thread hands the socket back when it cannot serve it.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Option<std::net::UdpSocket>>();
    let thread_shared = shared.clone();
    let started = std::thread::Builder::new()
        .name(format!("tern-udp-{n}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let unserved = match runtime {
                Ok(rt) => {
                    crate::upstream::udp_pool::set_home(n);
                    rt.block_on(own_thread_loop(thread_shared, std_socket, drain));
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "udp thread runtime not started");
                    Some(std_socket)
                }
            };
            let _ = done_tx.send(unserved);
        });
    let unserved = match started {
        Ok(_) => {
            drop(spare);
            done_rx.await.ok().flatten()
        }
        Err(e) => {
            tracing::error!(error = %e, "udp thread not started");
            spare.ok()
        }
    };
    if let Some(s) = unserved.map(UdpSocket::from_std) {
        match s {
            Ok(s) => serve(shared, Arc::new(s)).await,
            Err(e) => tracing::error!(error = %e, "udp socket not served"),
        }
    }
}

async fn own_thread_loop<S: Service>(
    shared: Arc<Shared<S>>,
    socket: std::net::UdpSocket,
    drain: Duration,
) {
    let socket = match UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "udp socket not registered on its thread");
            return;
        }
    };
    serve(shared.clone(), Arc::new(socket)).await;
    // Queries this thread is still resolving finish before its runtime
    // goes (every permit back, bounded as the front end's drain is).
    let all = u32::try_from(shared.queries_max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, shared.queries.acquire_many(all)).await;
}

pub(crate) async fn serve<S: Service>(shared: Arc<Shared<S>>, socket: Arc<UdpSocket>) {
    let mut stop = shared.stop.clone();
    let mut rx = Received::new();
    let mut tx = Replies::new();
    loop {
        let received = tokio::select! {
            r = rx.recv(&socket) => r,
            _ = super::stopped(&mut stop) => return,
        };
        let n = match received {
            Ok(n) => n,
            Err(e) => {
                // ICMP errors from earlier replies and the like: keep going.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        for i in 0..n {
            if let Some((datagram, client)) = rx.datagram(i) {
                take(&shared, &socket, datagram, client, &mut tx);
            }
        }
        // The replies made at once go out together.
        tx.send(&socket).await;
    }
}

/// One datagram: dropped or slipped by the rate limit, answered at once
/// (the reply queued in `tx`), or answered in a task of its own while a
/// query permit is free; without one it is dropped (the client retries).
fn take<S: Service>(
    shared: &Arc<Shared<S>>,
    socket: &Arc<UdpSocket>,
    datagram: &[u8],
    client: SocketAddr,
    tx: &mut Replies,
) {
    if let Some(limit) = &shared.ratelimit {
        match limit.check(client.ip(), shared.service.now()) {
            Verdict::Allow => {}
            Verdict::Drop => {
                shared.service.ratelimited(false);
                return;
            }
            Verdict::Slip => {
                shared.service.ratelimited(true);
                if let Some(reply) = slip_reply(datagram) {
                    let _ = socket.try_send_to(&reply, client);
                }
                return;
            }
        }
    }
    if let Some(reply) = tx.reply_buffer() {
        if shared.service.answer_now(datagram, client, reply) {
            tx.reply_ready(client);
            return;
        }
    }
    let Ok(permit) = shared.queries.clone().try_acquire_owned() else {
        tracing::debug!(%client, "too many queries in flight; dropped");
        return;
    };
    let answer = shared.service.answer(datagram.to_vec(), client, Via::Udp);
    let socket = socket.clone();
    tokio::spawn(
        async move {
            for reply in answer.await {
                if let Err(e) = socket.send_to(&reply, client).await {
                    tracing::debug!(error = %e, "udp send failed");
                }
            }
            drop(permit);
        }
        .instrument(query_span(client, "udp")),
    );
}
