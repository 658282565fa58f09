//! The real transport: UDP from a random source port (`udp_pool`), TCP
//! with RFC 1035 §4.2.2 length framing, a random ID from the OS CSPRNG, and
//! a reply accepted only when its source, ID and question match (RFC 5452
//! §9.1). A reply from another source or with another ID is dropped and
//! the wait goes on; one from the server with our ID but another question
//! (or none) ends the exchange at once as `WrongQuestion`: forging it
//! takes the same guess of port and ID as forging a good answer would, and
//! waiting out the timeout for a server that answers so helps nobody.
//!
//! A reply with a matching ID and source but no question section is accepted
//! only when its RCODE is FORMERR, NOTIMP or REFUSED, or when it has TC=1:
//! servers that reject EDNS or the opcode often answer with a bare header,
//! and NSD with `refuse-any` answers a UDP ANY query with a bare TC=1
//! header (RFC 8482 §4.4: retry over TCP); the engine needs to see those
//! to fall back.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::Name;
use rand::TryRngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant as TokioInstant};
use tracing::Instrument;

use super::udp_pool::{PoolLimits, UdpPool};
use super::{Protocol, Transport, UpstreamFailure, UpstreamQuery};
use crate::wire;

/// Largest UDP reply we read: we advertise at most 4096 bytes of EDNS
/// payload (config range), and a server that sends more than it was
/// offered gets a truncated, unparseable datagram (the next server is
/// tried). Zeroing 64 KiB per exchange was 5 % of a cold resolution.
const UDP_BUFFER: usize = 4096;

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
    ) -> impl std::future::Future<Output = Result<Message, UpstreamFailure>> + Send {
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

/// A fresh 16-bit query ID from the OS CSPRNG (RFC 5452 §9.2).
fn random_id() -> Result<u16, UpstreamFailure> {
    let mut buf = [0u8; 2];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|_| UpstreamFailure::Network(ErrorKind::Other))?;
    Ok(u16::from_be_bytes(buf))
}

/// Our query with a fresh ID, encoded.
fn prepare(query: &UpstreamQuery) -> Result<(Message, Vec<u8>), UpstreamFailure> {
    let mut message = query.message.clone();
    message.metadata.id = random_id()?;
    message.metadata.message_type = MessageType::Query;
    let bytes = wire::encode(&message).ok_or(UpstreamFailure::Network(ErrorKind::InvalidInput))?;
    Ok((message, bytes))
}

fn same_name(a: &Name, b: &Name) -> bool {
    a.num_labels() == b.num_labels()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Does `reply` answer `sent` (ID, QR=1, question; RFC 5452 §9.1)?
pub fn reply_matches(sent: &Message, reply: &Message) -> bool {
    if reply.metadata.id != sent.metadata.id || reply.metadata.message_type != MessageType::Response
    {
        return false;
    }
    if reply.queries.is_empty() {
        return reply.metadata.truncation
            || matches!(
                reply.metadata.response_code,
                ResponseCode::FormErr | ResponseCode::NotImp | ResponseCode::Refused
            );
    }
    reply.queries.len() == sent.queries.len()
        && reply.queries.iter().zip(&sent.queries).all(|(r, s)| {
            r.query_type() == s.query_type()
                && r.query_class() == s.query_class()
                && same_name(r.name(), s.name())
        })
}

/// A response with our ID (that `reply_matches` refused: its question is
/// not ours).
fn ours(sent: &Message, reply: &Message) -> bool {
    reply.metadata.id == sent.metadata.id && reply.metadata.message_type == MessageType::Response
}

/// A datagram that carries our ID and QR=1 but would not parse.
fn looks_like_ours(bytes: &[u8], id: u16) -> bool {
    matches!(bytes, [a, b, c, ..] if u16::from_be_bytes([*a, *b]) == id && c & 0x80 != 0)
}

fn io_failure(e: &std::io::Error) -> UpstreamFailure {
    UpstreamFailure::Network(e.kind())
}

async fn udp_exchange(pool: &UdpPool, query: UpstreamQuery) -> Result<Message, UpstreamFailure> {
    let deadline = TokioInstant::now() + query.timeout;
    let (sent, bytes) = prepare(&query)?;
    let pooled = pool.take(query.server).await.map_err(|e| io_failure(&e))?;
    let result = udp_send_and_wait(pooled.socket(), &query, &sent, &bytes, deadline).await;
    pool.give_back(pooled, query.server, result.is_ok());
    result
}

/// Send on a socket connected to the server and wait for the reply that
/// matches; the source is checked as well, whatever the socket filters.
async fn udp_send_and_wait(
    socket: &tokio::net::UdpSocket,
    query: &UpstreamQuery,
    sent: &Message,
    bytes: &[u8],
    deadline: TokioInstant,
) -> Result<Message, UpstreamFailure> {
    socket.send(bytes).await.map_err(|e| io_failure(&e))?;
    let mut buf = vec![0u8; UDP_BUFFER];
    let mut saw_malformed = false;
    loop {
        let received = match timeout_at(deadline, socket.recv_from(&mut buf)).await {
            Err(_) if saw_malformed => return Err(UpstreamFailure::Malformed),
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
        match wire::parse_reply(data).map(|r| r.message) {
            Ok(reply) if reply_matches(sent, &reply) => return Ok(reply),
            Ok(reply) if ours(sent, &reply) => return Err(UpstreamFailure::WrongQuestion),
            Ok(_) => tracing::debug!("dropped reply with the wrong ID"),
            Err(_) => saw_malformed |= looks_like_ours(data, sent.metadata.id),
        }
    }
}

async fn tcp_exchange(query: UpstreamQuery) -> Result<Message, UpstreamFailure> {
    let deadline = TokioInstant::now() + query.timeout;
    let (sent, bytes) = prepare(&query)?;
    let len = u16::try_from(bytes.len())
        .map_err(|_| UpstreamFailure::Network(ErrorKind::InvalidInput))?;
    let work = async {
        let mut stream = TcpStream::connect(query.server)
            .await
            .map_err(|e| io_failure(&e))?;
        let _ = stream.set_nodelay(true);
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| io_failure(&e))?;
        loop {
            let data = read_frame(&mut stream).await?;
            match wire::parse_reply(&data).map(|r| r.message) {
                Ok(reply) if reply_matches(&sent, &reply) => return Ok(reply),
                Ok(reply) if ours(&sent, &reply) => return Err(UpstreamFailure::WrongQuestion),
                Ok(_) => tracing::debug!("dropped TCP reply with the wrong ID"),
                Err(_) if looks_like_ours(&data, sent.metadata.id) => {
                    return Err(UpstreamFailure::Malformed)
                }
                Err(_) => {}
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::RecordType;

    fn q(name: &str, t: RecordType) -> Message {
        let mut m = Message::new(42, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m
    }

    fn reply_to(m: &Message) -> Message {
        let mut r = m.clone();
        r.metadata.message_type = MessageType::Response;
        r
    }

    #[test]
    fn matching_rules() {
        let sent = q("www.Example.com.", RecordType::A);
        let ok = reply_to(&q("WWW.example.COM.", RecordType::A));
        assert!(reply_matches(&sent, &ok));
        let mut wrong_id = ok.clone();
        wrong_id.metadata.id = 43;
        assert!(!reply_matches(&sent, &wrong_id));
        assert!(!reply_matches(
            &sent,
            &reply_to(&q("www.example.org.", RecordType::A))
        ));
        assert!(!reply_matches(
            &sent,
            &reply_to(&q("www.example.com.", RecordType::AAAA))
        ));
        assert!(!reply_matches(&sent, &sent), "QR=0 is not a reply");
        let mut bare = ok.clone();
        bare.queries.clear();
        assert!(!reply_matches(&sent, &bare));
        bare.metadata.response_code = ResponseCode::FormErr;
        assert!(reply_matches(&sent, &bare));
        // A bare TC=1 header: "ask again over TCP" (NSD's refuse-any).
        bare.metadata.response_code = ResponseCode::NoError;
        bare.metadata.truncation = true;
        assert!(reply_matches(&sent, &bare));
    }

    #[test]
    fn ids_vary() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id().unwrap()).collect();
        assert!(ids.len() > 50);
    }
}
