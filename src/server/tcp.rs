//! Client TCP (RFC 7766): two-byte length framing (RFC 1035 §4.2.2),
//! several queries per connection answered as they complete (§6.2.1.1
//! pipelining, out of order), an idle timeout once nothing is pending
//! (§6.2.3), and a connection cap: a connection beyond it is closed at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::{sleep, timeout, Instant};
use tracing::Instrument;

use super::{query_span, Shared};
use crate::clock::Clock;
use crate::upstream::{Protocol, Transport};

/// Queries of one connection being resolved at once; further frames wait
/// in the socket buffer (backpressure instead of memory growth).
const MAX_PIPELINED: usize = 32;

/// Bytes read from the socket per read call.
const READ_CHUNK: usize = 4096;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

pub(crate) async fn accept_loop<T: Transport, C: Clock>(
    shared: Arc<Shared<T, C>>,
    listener: TcpListener,
) {
    let mut stop = shared.stop.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = super::stopped(&mut stop) => return,
        };
        let (stream, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "tcp accept failed");
                sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            tracing::debug!(%client, "tcp connection cap reached; closed");
            drop(stream);
            continue;
        };
        tokio::spawn(connection(shared.clone(), stream, client, permit));
    }
}

/// Takes one complete frame off the front of `buf`, if there is one.
fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = match buf.as_slice() {
        [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => return None,
    };
    let frame = buf.get(2..2 + len)?.to_vec();
    buf.drain(..2 + len);
    Some(frame)
}

async fn connection<T: Transport, C: Clock>(
    shared: Arc<Shared<T, C>>,
    stream: TcpStream,
    client: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Option<Vec<u8>>>(MAX_PIPELINED);
    let mut inbuf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut outstanding = 0usize;
    let mut reading = true;
    let mut stop = shared.stop.clone();
    let idle_for = shared.tcp_idle;
    let idle = sleep(idle_for);
    tokio::pin!(idle);
    loop {
        while reading && outstanding < MAX_PIPELINED {
            let Some(msg) = take_frame(&mut inbuf) else {
                break;
            };
            let Ok(permit) = shared.queries.clone().acquire_owned().await else {
                return;
            };
            // Only whole messages count as activity, so a client dripping
            // bytes cannot hold the connection open forever.
            idle.as_mut().reset(Instant::now() + idle_for);
            outstanding += 1;
            let handler = shared.handler.clone();
            let tx = tx.clone();
            tokio::spawn(
                async move {
                    let reply = handler.handle(&msg, client, Protocol::Tcp).await;
                    let _ = tx.send(reply).await;
                    drop(permit);
                }
                .instrument(query_span(client, "tcp")),
            );
        }
        if !reading && outstanding == 0 {
            break;
        }
        tokio::select! {
            r = rd.read(&mut chunk), if reading && outstanding < MAX_PIPELINED => match r {
                Ok(0) | Err(_) => reading = false,
                Ok(n) => inbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            },
            Some(reply) = rx.recv() => {
                outstanding = outstanding.saturating_sub(1);
                if let Some(bytes) = reply {
                    if !write_frame(&mut wr, &bytes, idle_for).await {
                        break;
                    }
                }
                idle.as_mut().reset(Instant::now() + idle_for);
            },
            _ = &mut idle, if outstanding == 0 => {
                tracing::debug!(%client, "tcp connection idle; closed");
                break;
            },
            _ = super::stopped(&mut stop), if reading => reading = false,
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes one length-prefixed message; false when the client is gone or
/// too slow to take it within `limit`.
async fn write_frame(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: &[u8],
    limit: Duration,
) -> bool {
    let Ok(len) = u16::try_from(bytes.len()) else {
        return true;
    };
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    matches!(timeout(limit, wr.write_all(&framed)).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_only_when_complete() {
        let mut buf = vec![0, 3, 1, 2];
        assert_eq!(take_frame(&mut buf), None);
        buf.extend_from_slice(&[3, 0, 0, 0, 1]);
        assert_eq!(take_frame(&mut buf), Some(vec![1, 2, 3]));
        assert_eq!(take_frame(&mut buf), Some(vec![]));
        assert_eq!(take_frame(&mut buf), None);
        assert_eq!(buf, vec![0, 1]);
    }
}
