//! Client TCP (RFC 7766): two-byte length framing (RFC 1035 §4.2.2),
//! several queries per connection answered as they complete (§6.2.1.1
//! pipelining, out of order), an idle timeout once nothing is pending
//! (§6.2.3), and a connection cap. At the cap a new connection closes the
//! longest-idle one to take its place (RFC 7766 §6.2.3: servers may close
//! idle connections under resource pressure), and is refused only when
//! every connection has a query pending; above half the cap the idle
//! timeout shrinks, as Unbound's and Knot's TCP handling do, so that
//! clients holding connections open cannot lock others out. An optional
//! per-address cap stops one client from taking every slot.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout, Instant};
use tracing::Instrument;

use super::{query_span, Service, Shared, Via};

/// Queries of one connection being resolved at once; further frames wait
/// in the socket buffer (backpressure instead of memory growth).
const MAX_PIPELINED: usize = 32;

/// Bytes read from the socket per read call.
const READ_CHUNK: usize = 4096;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// The idle timeout when more than half the connection slots are in use
/// (if the configured one is longer).
const PRESSURE_IDLE: Duration = Duration::from_secs(1);

/// How long a new connection waits for the slot of the idle connection
/// it closed.
const EVICT_WAIT: Duration = Duration::from_millis(500);

/// One open connection, as the table sees it.
struct ConnInfo {
    client: IpAddr,
    /// Since when nothing is pending on it; None while a query is.
    idle_since: Option<Instant>,
    /// Wakes the connection to close it.
    close: Arc<Notify>,
}

/// The open client TCP connections: which address holds how many, and
/// which has been idle longest.
#[derive(Default)]
pub(crate) struct ConnTable {
    conns: Mutex<HashMap<u64, ConnInfo>>,
    next: AtomicU64,
}

impl ConnTable {
    /// Adds a connection (idle until its first query); its id and the
    /// signal that asks it to close.
    pub(crate) fn register(&self, client: IpAddr) -> (u64, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        if let Ok(mut m) = self.conns.lock() {
            m.insert(
                id,
                ConnInfo {
                    client,
                    idle_since: Some(Instant::now()),
                    close: close.clone(),
                },
            );
        }
        (id, close)
    }

    pub(crate) fn remove(&self, id: u64) {
        if let Ok(mut m) = self.conns.lock() {
            m.remove(&id);
        }
    }

    /// Marks a connection busy (a query pending) or idle from now.
    pub(crate) fn set_idle(&self, id: u64, idle: bool) {
        if let Ok(mut m) = self.conns.lock() {
            if let Some(c) = m.get_mut(&id) {
                c.idle_since = idle.then(Instant::now);
            }
        }
    }

    /// Open connections in all.
    pub(crate) fn len(&self) -> usize {
        self.conns.lock().map_or(0, |m| m.len())
    }

    /// Open connections from `client`.
    pub(crate) fn count_for(&self, client: IpAddr) -> usize {
        self.conns
            .lock()
            .map_or(0, |m| m.values().filter(|c| c.client == client).count())
    }

    /// Asks the longest-idle connection to close; false when every
    /// connection has a query pending.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        let Ok(mut m) = self.conns.lock() else {
            return false;
        };
        let oldest = m
            .iter()
            .filter_map(|(id, c)| c.idle_since.map(|t| (t, *id)))
            .min();
        let Some((_, id)) = oldest else {
            return false;
        };
        if let Some(c) = m.get_mut(&id) {
            // Not chosen twice while it closes.
            c.idle_since = None;
            c.close.notify_one();
        }
        true
    }
}

/// The limits of one kind of client connection (plain TCP, or DoT and
/// DoH together) and the connections open under them.
pub(crate) struct Pool {
    /// One permit per open connection.
    pub permits: Arc<Semaphore>,
    /// The open connections, to close the longest idle under pressure.
    pub table: ConnTable,
    pub max: usize,
    /// Connections allowed per client address; 0 = no limit.
    pub per_client: usize,
    pub idle: Duration,
    /// "tcp" or "tls", for logs.
    pub label: &'static str,
}

impl Pool {
    pub(crate) fn new(max: usize, per_client: usize, idle: Duration, label: &'static str) -> Self {
        let max = max.max(1);
        Pool {
            permits: Arc::new(Semaphore::new(max)),
            table: ConnTable::default(),
            max,
            per_client,
            idle,
            label,
        }
    }

    /// A slot for a new connection from `client`: None when the client
    /// holds its share already, or every slot is busy.
    pub(crate) async fn admit(&self, client: SocketAddr) -> Option<OwnedSemaphorePermit> {
        let label = self.label;
        if self.per_client > 0 && self.table.count_for(client.ip()) >= self.per_client {
            tracing::debug!(%client, label, "connections per client reached; closed");
            return None;
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) if self.table.evict_longest_idle() => {
                tracing::debug!(%client, label, "connection cap reached; longest-idle closed");
                match timeout(EVICT_WAIT, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => Some(p),
                    _ => None,
                }
            }
            Err(_) => {
                tracing::debug!(%client, label, "connection cap reached, all busy; closed");
                None
            }
        }
    }

    /// The idle timeout now: the configured one, or at most
    /// `PRESSURE_IDLE` while more than half the slots are in use.
    pub(crate) fn idle_timeout(&self) -> Duration {
        if self.table.len() * 2 > self.max {
            self.idle.min(PRESSURE_IDLE)
        } else {
            self.idle
        }
    }
}

/// Which front end a stream connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Plain TCP (RFC 7766).
    Tcp,
    /// DNS over TLS (RFC 7858): same framing, its own pool, replies padded.
    Tls,
}

impl Stream {
    pub(crate) fn pool<S: Service>(self, shared: &Shared<S>) -> &Pool {
        match self {
            Stream::Tcp => &shared.tcp,
            Stream::Tls => &shared.tls,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Stream::Tcp => "tcp",
            Stream::Tls => "tls",
        }
    }

    fn via(self) -> Via {
        match self {
            Stream::Tcp => Via::Tcp,
            Stream::Tls => Via::Tls,
        }
    }
}

/// The next connection `pool` admits, with Nagle off; None once the
/// server stops. Failed accepts (out of descriptors, …) are retried after a
/// pause; a client over its limits is closed at once.
pub(crate) async fn admitted(
    listener: &TcpListener,
    pool: &Pool,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = super::stopped(stop) => return None,
        };
        let (stream, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(permit) = pool.admit(client).await else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        return Some((stream, client, permit));
    }
}

pub(crate) async fn accept_loop<S: Service>(shared: Arc<Shared<S>>, listener: TcpListener) {
    let mut stop = shared.stop.clone();
    while let Some((stream, client, permit)) = admitted(&listener, &shared.tcp, &mut stop).await {
        tokio::spawn(connection(
            shared.clone(),
            Stream::Tcp,
            stream,
            client,
            permit,
        ));
    }
}

/// Takes one complete frame off the front of `buf`, if there is one.
pub(crate) fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = match buf.as_slice() {
        [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => return None,
    };
    let frame = buf.get(2..2 + len)?.to_vec();
    buf.drain(..2 + len);
    Some(frame)
}

/// Serves one connection (plain, or TLS after its handshake) until it
/// closes, holding its slot in the pool.
pub(crate) async fn connection<V: Service, S>(
    shared: Arc<Shared<V>>,
    kind: Stream,
    stream: S,
    client: SocketAddr,
    _permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let pool = kind.pool(&shared);
    let (id, close) = pool.table.register(client.ip());
    serve_connection(&shared, kind, stream, client, id, &close).await;
    kind.pool(&shared).table.remove(id);
}

/// Serves an open connection registered in its pool as `id`.
pub(crate) async fn serve_connection<V: Service, S>(
    shared: &Arc<Shared<V>>,
    kind: Stream,
    stream: S,
    client: SocketAddr,
    id: u64,
    close: &Notify,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let pool = kind.pool(shared);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<Vec<u8>>>(MAX_PIPELINED);
    let mut inbuf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut outstanding = 0usize;
    let mut reading = true;
    let mut stop = shared.stop.clone();
    let idle_for = pool.idle;
    let idle = sleep(pool.idle_timeout());
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
            idle.as_mut().reset(Instant::now() + pool.idle_timeout());
            if outstanding == 0 {
                pool.table.set_idle(id, false);
            }
            outstanding += 1;
            let answer = shared.service.answer(msg, client, kind.via());
            let tx = tx.clone();
            tokio::spawn(
                async move {
                    let _ = tx.send(answer.await).await;
                    drop(permit);
                }
                .instrument(query_span(client, kind.label())),
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
            Some(replies) = rx.recv() => {
                outstanding = outstanding.saturating_sub(1);
                // Idle from before the last reply is written: a client that
                // reads it and opens another connection at the cap must find
                // this one's slot free to take (a close asked for meanwhile
                // is kept by the Notify and acted on once the write is done).
                if outstanding == 0 {
                    pool.table.set_idle(id, true);
                }
                let mut written = true;
                for bytes in &replies {
                    written = written && write_frame(&mut wr, bytes, idle_for).await;
                }
                if !written {
                    break;
                }
                idle.as_mut().reset(Instant::now() + pool.idle_timeout());
            },
            _ = &mut idle, if outstanding == 0 => {
                tracing::debug!(%client, proto = kind.label(), "connection idle; closed");
                break;
            },
            _ = close.notified(), if outstanding == 0 => {
                tracing::debug!(%client, proto = kind.label(), "connection closed for a new one");
                break;
            },
            _ = super::stopped(&mut stop), if reading => reading = false,
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes one length-prefixed message; false when the client is gone or
/// too slow to take it within `limit`.
async fn write_frame<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8], limit: Duration) -> bool {
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
