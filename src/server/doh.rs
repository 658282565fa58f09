//! DNS over HTTPS for clients (RFC 8484) over HTTP/2 or HTTP/1.1 (ALPN,
//! or the HTTP/2 preface): `GET PATH?dns=BASE64URL` and `POST PATH` with
//! an `application/dns-message` body (§4.1), answered `200` with the DNS
//! reply and a `cache-control: max-age` of its smallest TTL (§5.1). The
//! query goes through the same handler as UDP and TCP (access control,
//! packet cache, counters) and the reply is padded like DoT's.
//!
//! HTTP-level failures: another path `404`, another method `405`, a
//! missing or undecodable `dns` parameter or an unreadable body `400`, a
//! POST of another media type `415`, a body over 65535 bytes `413`, a
//! client access control drops `403`.
//!
//! Idle connections (no request in progress) are closed after
//! `tls.idle_timeout_ms` (HTTP/2 with a GOAWAY); a request body that
//! takes longer than that to arrive is answered `408`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use super::{query_span, Current, Shared};
use crate::clock::Clock;
use crate::config::AclAction;
use crate::upstream::{Protocol, Transport};

/// The media type of a DNS message (RFC 8484 §6).
pub const DNS_MESSAGE: &str = "application/dns-message";

/// The largest DNS message (RFC 8484 §6: as over TCP).
const MAX_MESSAGE: usize = 65_535;

/// How long a connection told to close may take to finish its replies.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// HTTP/2 streams (queries) one connection may have open at once, as
/// many as a DoT or TCP connection may have pipelined.
const MAX_STREAMS: u32 = 32;

/// What the idle watchdog of one connection sees.
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn touch(&self) {
        if let Ok(mut l) = self.last.lock() {
            *l = Instant::now();
        }
    }

    fn last(&self) -> Instant {
        self.last.lock().map_or_else(|_| Instant::now(), |l| *l)
    }
}

/// Serves HTTP on one TLS connection until the client closes it, it has
/// been idle too long, its slot is wanted, or the server stops.
pub(crate) async fn serve<T: Transport, C: Clock, S>(
    shared: &Arc<Shared<Current<T, C>>>,
    stream: S,
    client: SocketAddr,
    id: u64,
    close: &Notify,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    });
    let service = {
        let shared = shared.clone();
        let activity = activity.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let shared = shared.clone();
            let activity = activity.clone();
            async move {
                if activity.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
                    shared.tls.table.set_idle(id, false);
                }
                let reply = request(&shared, req, client)
                    .instrument(query_span(client, "https"))
                    .await;
                activity.touch();
                if activity.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                    shared.tls.table.set_idle(id, true);
                }
                Ok::<_, Infallible>(reply)
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http2().max_concurrent_streams(MAX_STREAMS);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stop = shared.stop.clone();
    loop {
        let idle = shared.tls.idle_timeout();
        let deadline = activity.last() + idle;
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%client, error = %e, "https connection ended");
                }
                return;
            }
            _ = tokio::time::sleep_until(deadline) => {
                let quiet = activity.in_flight.load(Ordering::SeqCst) == 0;
                if quiet && activity.last() + idle <= Instant::now() {
                    tracing::debug!(%client, "https connection idle; closed");
                    break;
                }
                if !quiet {
                    // A request in progress counts as activity.
                    activity.touch();
                }
            }
            _ = close.notified() => {
                tracing::debug!(%client, "https connection closed for a new one");
                break;
            }
            _ = super::stopped(&mut stop) => break,
        }
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// The `dns` parameter of a GET query string, decoded (base64url without
/// padding, RFC 8484 §4.1; padding is tolerated).
pub fn dns_param(query: &str) -> Option<Vec<u8>> {
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("dns="))?
        .trim_end_matches('=');
    data_encoding::BASE64URL_NOPAD.decode(value.as_bytes()).ok()
}

/// One HTTP request: the DNS query out of it, the reply into the response.
async fn request<T: Transport, C: Clock>(
    shared: &Shared<Current<T, C>>,
    req: Request<Incoming>,
    client: SocketAddr,
) -> Response<Full<Bytes>> {
    let handler = shared.service.load_full();
    let config = handler.resolver().config().clone();
    if req.uri().path() != config.tls.https_path {
        return status(StatusCode::NOT_FOUND);
    }
    let query = match *req.method() {
        Method::GET => match req.uri().query().and_then(dns_param) {
            Some(q) => q,
            None => return status(StatusCode::BAD_REQUEST),
        },
        Method::POST => {
            let media = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                });
            if media.as_deref() != Some(DNS_MESSAGE) {
                return status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            }
            let body = Limited::new(req.into_body(), MAX_MESSAGE);
            match tokio::time::timeout(config.tls.idle_timeout, body.collect()).await {
                Ok(Ok(b)) => b.to_bytes().to_vec(),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return status(StatusCode::PAYLOAD_TOO_LARGE)
                }
                Ok(Err(_)) => return status(StatusCode::BAD_REQUEST),
                Err(_) => return status(StatusCode::REQUEST_TIMEOUT),
            }
        }
        _ => {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, POST"));
            return r;
        }
    };
    // The same bound on queries in progress as every other listener.
    let Ok(_permit) = shared.queries.clone().acquire_owned().await else {
        return status(StatusCode::SERVICE_UNAVAILABLE);
    };
    let Some(reply) = handler.handle(&query, client, Protocol::Tcp).await else {
        return match handler.acl().check(client.ip()) {
            AclAction::Deny => status(StatusCode::FORBIDDEN),
            _ => status(StatusCode::BAD_REQUEST),
        };
    };
    let reply = super::padding::pad_reply(&handler, &query, reply, true);
    handler.stats().encrypted(true);
    let max_age = min_ttl(&reply);
    let mut r = Response::new(Full::new(Bytes::from(reply)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
    if let Some(ttl) = max_age {
        if let Ok(v) = HeaderValue::from_str(&format!("max-age={ttl}")) {
            r.headers_mut().insert(CACHE_CONTROL, v);
        }
    }
    r
}

/// The smallest TTL of the reply's answer and authority records (RFC 8484
/// §5.1: the HTTP freshness lifetime must not outlast them).
fn min_ttl(reply: &[u8]) -> Option<u32> {
    let m = crate::wire::parse(reply).ok()?;
    m.answers
        .iter()
        .chain(m.authorities.iter())
        .map(|r| r.ttl)
        .min()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_dns_parameter_is_base64url() {
        // RFC 8484 §4.1.1's example query for www.example.com A.
        let q = "dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
        let bytes = dns_param(q).unwrap();
        assert_eq!(bytes.len(), 33);
        assert_eq!(bytes.get(12), Some(&3));
        assert_eq!(dns_param(&format!("ct=x&{q}")).unwrap(), bytes);
        assert_eq!(dns_param("dns=AAAB==").unwrap(), vec![0, 0, 1]);
        assert!(dns_param("name=x").is_none());
        assert!(dns_param("dns=!!!").is_none());
        // Standard base64's characters are not base64url.
        assert!(dns_param("dns=ab+/").is_none());
    }
}
