//! The real transport: UDP from a random source port (`udp_pool`), TCP
//! with RFC 1035 §4.2.2 length framing. It sends the engine's encoded
//! query and returns the first reply from the server's address and port
//! whose header carries the query's ID with QR=1; a datagram from another
//! source or with another ID is dropped and the wait goes on (a spoofed or
//! late reply does not end it), and so is a datagram too short to hold a
//! header (if nothing better comes, the exchange ends as `Malformed`).
//! Parsing the reply and checking its question (RFC 5452 §9.1) is the
//! engine's.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant as TokioInstant};
use tracing::Instrument;

use super::udp_pool::{PoolLimits, UdpPool};
use super::{answers_header, Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

/// Largest UDP reply we read: we advertise at most 4096 bytes of EDNS
/// payload (config range), and a server that sends more than it was
/// offered gets a truncated, unparseable datagram (the next server is
/// tried). Zeroing 64 KiB per exchange was 5 % of a cold resolution.
const UDP_BUFFER: usize = 4096;

/// A DNS header's length (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;

/// Sockets for `tern serve`: UDP from a pool of randomly bound sockets,
/// a fresh TCP connection per exchange.
#[derive(Debug, Clone, Default)]
pub struct NetTransport {
    udp: Arc<UdpPool>,
}

impl NetTransport {
    /// With the default pool (`PoolLimits::default()`).
    pub fn new() -> Self {
        Self::with_pool(PoolLimits::default())
    }

    pub fn with_pool(limits: PoolLimits) -> Self {
        Self {
            udp: Arc::new(UdpPool::new(limits)),
        }
    }

    /// The UDP socket pool (tests and metrics).
    pub fn pool(&self) -> &UdpPool {
        &self.udp
    }
}

impl Transport for NetTransport {
    fn exchange(
        &self,
        query: UpstreamQuery,
    ) -> impl std::future::Future<Output = ReplyBytes> + Send {
        let span = tracing::debug_span!(
            "upstream",
            server = %query.server,
            proto = ?query.protocol,
            rtt_ms = tracing::field::Empty
        );
        async move {
            let started = Instant::now();
            let result = match query.protocol {
                Protocol::Udp => udp_exchange(&self.udp, query).await,
                Protocol::Tcp => tcp_exchange(query).await,
            };
            let span = tracing::Span::current();
            span.record("rtt_ms", crate::clock::tenths_ms(started.elapsed()));
            if let Err(e) = &result {
                tracing::debug!(error = %e, "upstream exchange failed");
            }
            result
        }
        .instrument(span)
    }
}

fn io_failure(e: &std::io::Error) -> UpstreamFailure {
    UpstreamFailure::Network(e.kind())
}

async fn udp_exchange(pool: &UdpPool, query: UpstreamQuery) -> ReplyBytes {
    let deadline = TokioInstant::now() + query.timeout;
    let pooled = pool.take(query.server).await.map_err(|e| io_failure(&e))?;
    let result = udp_send_and_wait(pooled.socket(), &query, deadline).await;
    pool.give_back(pooled, query.server, result.is_ok());
    result
}

/// Send on a socket connected to the server and wait for a reply to it;
/// the source is checked as well, whatever the socket filters.
async fn udp_send_and_wait(
    socket: &tokio::net::UdpSocket,
    query: &UpstreamQuery,
    deadline: TokioInstant,
) -> ReplyBytes {
    socket
        .send(&query.bytes)
        .await
        .map_err(|e| io_failure(&e))?;
    let mut buf = vec![0u8; UDP_BUFFER];
    let mut saw_garbage = false;
    loop {
        let received = match timeout_at(deadline, socket.recv_from(&mut buf)).await {
            Err(_) if saw_garbage => return Err(UpstreamFailure::Malformed),
            Err(_) => return Err(UpstreamFailure::Timeout),
            Ok(Err(e)) => return Err(io_failure(&e)),
            Ok(Ok(r)) => r,
        };
        let (len, from) = received;
        if from != query.server {
            tracing::debug!(%from, "dropped reply from the wrong source");
            continue;
        }
        let data = buf.get(..len).unwrap_or(&[]);
        if !answers_header(&query.bytes, data) {
            tracing::debug!("dropped reply with the wrong ID");
        } else if len < HEADER_LEN {
            // Ours by its first bytes, but not even a header.
            saw_garbage = true;
        } else {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

async fn tcp_exchange(query: UpstreamQuery) -> ReplyBytes {
    let deadline = TokioInstant::now() + query.timeout;
    let len = u16::try_from(query.bytes.len())
        .map_err(|_| UpstreamFailure::Network(ErrorKind::InvalidInput))?;
    let work = async {
        let mut stream = TcpStream::connect(query.server)
            .await
            .map_err(|e| io_failure(&e))?;
        let _ = stream.set_nodelay(true);
        let mut framed = Vec::with_capacity(query.bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&query.bytes);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| io_failure(&e))?;
        loop {
            let data = read_frame(&mut stream).await?;
            if answers_header(&query.bytes, &data) {
                return Ok(data);
            }
            tracing::debug!("dropped TCP reply with the wrong ID");
        }
    };
    timeout_at(deadline, work)
        .await
        .unwrap_or(Err(UpstreamFailure::Timeout))
}

/// One RFC 1035 §4.2.2 frame: a two-byte length, then that many bytes.
async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, UpstreamFailure> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(closed_or_io)?;
    let mut data = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut data).await.map_err(closed_or_io)?;
    Ok(data)
}

fn closed_or_io(e: std::io::Error) -> UpstreamFailure {
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => UpstreamFailure::Closed,
        k => UpstreamFailure::Network(k),
    }
}
