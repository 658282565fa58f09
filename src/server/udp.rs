//! The UDP receive loop of one socket (RFC 1035 §4.2.1): a query the
//! packet cache answers is answered inline (no task, no permit: the work is
//! small and bounded); any other datagram is answered in its own task while
//! a query permit is free; without one the datagram is dropped (the client
//! retries), so a flood cannot grow memory. With `server.ratelimit`, a
//! client network over its rate is dropped or slipped first (`ratelimit`).

use std::sync::Arc;

use tokio::net::UdpSocket;
use tracing::Instrument;

use super::packet_cache::MAX_REPLY;
use super::ratelimit::{slip_reply, Verdict};
use super::{query_span, Service, Shared, Via};

/// Largest datagram read; anything longer is cut and then fails to parse.
const RECV_BUFFER: usize = 65_535;

pub(crate) async fn serve<S: Service>(shared: Arc<Shared<S>>, socket: Arc<UdpSocket>) {
    let mut stop = shared.stop.clone();
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut reply = Vec::with_capacity(MAX_REPLY);
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = super::stopped(&mut stop) => return,
        };
        let (len, client) = match received {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier replies and the like: keep going.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        let datagram = buf.get(..len).unwrap_or(&[]);
        if let Some(limit) = &shared.ratelimit {
            match limit.check(client.ip(), shared.service.now()) {
                Verdict::Allow => {}
                Verdict::Drop => {
                    shared.service.ratelimited(false);
                    continue;
                }
                Verdict::Slip => {
                    shared.service.ratelimited(true);
                    if let Some(reply) = slip_reply(datagram) {
                        let _ = socket.try_send_to(&reply, client);
                    }
                    continue;
                }
            }
        }
        if shared.service.answer_now(datagram, client, &mut reply) {
            match socket.try_send_to(&reply, client) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Socket buffer full: wait for room, as a task would.
                    if let Err(e) = socket.send_to(&reply, client).await {
                        tracing::debug!(error = %e, "udp send failed");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "udp send failed"),
            }
            continue;
        }
        let Ok(permit) = shared.queries.clone().try_acquire_owned() else {
            tracing::debug!(%client, "too many queries in flight; dropped");
            continue;
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
}
