//! `tern dig +tls` (DNS over TLS, RFC 7858) and `+https` (DNS over HTTPS,
//! RFC 8484), with dig's spellings: `+tls`, `+https[=PATH]` (POST),
//! `+https-get[=PATH]`, `+https-post[=PATH]`, `+tls-ca[=FILE]`,
//! `+tls-hostname=NAME`. The default port becomes 853 or 443 unless `-p`
//! was given; the default path is `/dns-query`.
//!
//! As in dig and kdig, `+tls` alone encrypts without checking who
//! answers (RFC 8310's opportunistic profile); `+tls-ca` (the system's
//! roots, or those of FILE) or `+tls-hostname` makes the certificate
//! checked (the strict profile), against the host name given, else the
//! server's address, and a certificate that fails ends the lookup.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use super::query::{takes, Reply, TryFailure};
use crate::server::tls::{ALPN_DOT, ALPN_H2, ALPN_HTTP1};
use crate::upstream::tls::{checking_config, opportunistic_config, roots};

/// The default DoH path (RFC 8484 §4.1 leaves it to the server; this is
/// the common one).
pub const DEFAULT_PATH: &str = "/dns-query";

/// Which encrypted transport a lookup uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Tls,
    Https { path: String, get: bool },
}

/// `+tls`, `+https` and their settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encryption {
    /// None: plain UDP/TCP.
    pub mode: Option<Mode>,
    /// Check the certificate (`+tls-ca` or `+tls-hostname` given).
    pub verify: bool,
    /// `+tls-ca=FILE`: the roots; None = the system's.
    pub ca_file: Option<String>,
    /// `+tls-hostname=NAME`: the name the certificate must carry.
    pub hostname: Option<String>,
}

impl Encryption {
    /// The port used when `-p` was not given.
    pub fn default_port(&self) -> Option<u16> {
        match self.mode {
            Some(Mode::Tls) => Some(853),
            Some(Mode::Https { .. }) => Some(443),
            None => None,
        }
    }

    /// What dig prints for the protocol in its SERVER line.
    pub fn label(&self) -> &'static str {
        match self.mode {
            Some(Mode::Https { .. }) => "HTTPS",
            _ => "TLS",
        }
    }
}

/// Applies one of the options this module owns; None when `word` is not
/// one of them. `word` is lower case without `+`, `value` what followed
/// `=`.
pub fn option(e: &mut Encryption, word: &str, value: Option<&str>) -> Option<Result<(), String>> {
    let (on, bare) = match word.strip_prefix("no") {
        Some(rest) if is_ours(rest) => (false, rest),
        _ => (true, word),
    };
    if !is_ours(bare) {
        return None;
    }
    let r = match (bare, on, value) {
        ("tls", true, None) => {
            e.mode = Some(Mode::Tls);
            Ok(())
        }
        ("tls" | "https" | "https-get" | "https-post", false, None) => {
            e.mode = None;
            Ok(())
        }
        ("https" | "https-post" | "https-get", true, v) => match v.unwrap_or(DEFAULT_PATH) {
            p if p.starts_with('/') => {
                e.mode = Some(Mode::Https {
                    path: p.to_string(),
                    get: bare == "https-get",
                });
                Ok(())
            }
            p => Err(format!("+{bare}={p}: the path must start with /")),
        },
        ("tls-ca", true, v) => {
            e.verify = true;
            e.ca_file = v.filter(|f| !f.is_empty()).map(str::to_string);
            Ok(())
        }
        ("tls-ca", false, None) => {
            e.verify = e.hostname.is_some();
            e.ca_file = None;
            Ok(())
        }
        ("tls-hostname", true, Some(name)) if !name.is_empty() => {
            e.verify = true;
            e.hostname = Some(name.to_string());
            Ok(())
        }
        ("tls-hostname", false, None) => {
            e.hostname = None;
            e.verify = e.ca_file.is_some();
            Ok(())
        }
        _ => Err(format!("+{word}: bad value")),
    };
    Some(r)
}

fn is_ours(word: &str) -> bool {
    matches!(
        word,
        "tls" | "https" | "https-get" | "https-post" | "tls-ca" | "tls-hostname"
    )
}

/// The rustls client settings for `e`, offering `alpn`.
fn client_config(e: &Encryption, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, TryFailure> {
    let c = if e.verify {
        let store = roots(e.ca_file.as_deref().map(Path::new)).map_err(TryFailure::Other)?;
        checking_config(store, alpn)
    } else {
        opportunistic_config(alpn)
    };
    c.map(Arc::new).map_err(TryFailure::Other)
}

/// The name the certificate is checked against: `+tls-hostname`, else
/// the server's address.
fn server_name(e: &Encryption, server: SocketAddr) -> Result<ServerName<'static>, TryFailure> {
    match &e.hostname {
        Some(h) => ServerName::try_from(h.clone())
            .map_err(|_| TryFailure::Other(format!("bad TLS host name {h:?}"))),
        None => Ok(ServerName::IpAddress(server.ip().into())),
    }
}

fn io_failure(e: &std::io::Error) -> TryFailure {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => TryFailure::TimedOut,
        ErrorKind::ConnectionRefused => TryFailure::Refused,
        ErrorKind::UnexpectedEof => TryFailure::Other("end of file".into()),
        // rustls reports a refused certificate as InvalidData.
        ErrorKind::InvalidData => TryFailure::Other(format!("TLS error: {e}")),
        _ => TryFailure::Other(e.to_string()),
    }
}

/// One DNS over TLS try: a TLS connection, then RFC 7766 framing.
pub fn tls_try(
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
    e: &Encryption,
    warn: &mut dyn FnMut(String),
) -> Result<Reply, TryFailure> {
    let start = Instant::now();
    let left = || {
        let l = timeout.saturating_sub(start.elapsed());
        if l.is_zero() {
            Err(TryFailure::TimedOut)
        } else {
            Ok(l)
        }
    };
    let config = client_config(e, &[ALPN_DOT])?;
    let conn = rustls::ClientConnection::new(config, server_name(e, server)?)
        .map_err(|err| TryFailure::Other(format!("TLS error: {err}")))?;
    let tcp = TcpStream::connect_timeout(&server, timeout).map_err(|err| io_failure(&err))?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(left()?))
        .map_err(|err| io_failure(&err))?;
    tcp.set_write_timeout(Some(left()?))
        .map_err(|err| io_failure(&err))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let len = u16::try_from(query.len()).map_err(|_| TryFailure::Other("query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).map_err(|err| io_failure(&err))?;
    s.flush().map_err(|err| io_failure(&err))?;
    loop {
        s.sock
            .set_read_timeout(Some(left()?))
            .map_err(|err| io_failure(&err))?;
        let mut lenbuf = [0u8; 2];
        s.read_exact(&mut lenbuf).map_err(|err| io_failure(&err))?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(lenbuf))];
        s.read_exact(&mut body).map_err(|err| io_failure(&err))?;
        if takes(query, &body, warn) {
            return Ok(Reply {
                bytes: body,
                rtt: start.elapsed(),
                tcp: true,
                proto: "TLS",
            });
        }
    }
}

/// One DNS over HTTPS try: HTTP/2 when the server offers it (ALPN), else
/// HTTP/1.1; GET with `?dns=` or POST.
pub fn https_try(
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
    e: &Encryption,
) -> Result<Reply, TryFailure> {
    let Some(Mode::Https { path, get }) = &e.mode else {
        return Err(TryFailure::Other("not an https lookup".into()));
    };
    let config = client_config(e, &[ALPN_H2, ALPN_HTTP1])?;
    let name = server_name(e, server)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| TryFailure::Other(err.to_string()))?;
    let start = Instant::now();
    let host = e.hostname.clone().unwrap_or_else(|| match server {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => a.to_string(),
    });
    let work = doh_exchange(server, name, config, host, path, *get, query);
    let bytes = rt
        .block_on(async { tokio::time::timeout(timeout, work).await })
        .map_err(|_| TryFailure::TimedOut)??;
    Ok(Reply {
        bytes,
        rtt: start.elapsed(),
        tcp: true,
        proto: "HTTPS",
    })
}

async fn doh_exchange(
    server: SocketAddr,
    name: ServerName<'static>,
    config: Arc<rustls::ClientConfig>,
    host: String,
    path: &str,
    get: bool,
    query: &[u8],
) -> Result<Vec<u8>, TryFailure> {
    use http_body_util::{BodyExt, Full, Limited};
    use hyper::body::Bytes;
    use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};

    let tcp = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|err| io_failure(&err))?;
    let _ = tcp.set_nodelay(true);
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|err| io_failure(&err))?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(ALPN_H2);
    let io = hyper_util::rt::TokioIo::new(tls);
    let uri = if get {
        format!(
            "{path}?dns={}",
            data_encoding::BASE64URL_NOPAD.encode(query)
        )
    } else {
        path.to_string()
    };
    let mut req = hyper::Request::builder()
        .method(if get { "GET" } else { "POST" })
        .header(ACCEPT, crate::server::DNS_MESSAGE);
    req = if h2 {
        req.uri(format!("https://{host}{uri}"))
    } else {
        req.uri(uri).header(HOST, host)
    };
    if !get {
        req = req.header(CONTENT_TYPE, crate::server::DNS_MESSAGE);
    }
    let body = if get {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(query)
    };
    let req = req
        .body(Full::new(body))
        .map_err(|err| TryFailure::Other(err.to_string()))?;
    let http = |err: hyper::Error| TryFailure::Other(format!("HTTP error: {err}"));
    let resp = if h2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .map_err(http)?;
        tokio::spawn(conn);
        send.send_request(req).await.map_err(http)?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(http)?;
        tokio::spawn(conn);
        send.send_request(req).await.map_err(http)?
    };
    if resp.status() != hyper::StatusCode::OK {
        return Err(TryFailure::Other(format!("HTTP status {}", resp.status())));
    }
    let body = Limited::new(resp.into_body(), 65_535)
        .collect()
        .await
        .map_err(|err| TryFailure::Other(format!("HTTP body: {err}")))?;
    Ok(body.to_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn apply(words: &[(&str, Option<&str>)]) -> Encryption {
        let mut e = Encryption::default();
        for (w, v) in words {
            option(&mut e, w, *v).unwrap().unwrap();
        }
        e
    }

    #[test]
    fn options_set_mode_port_and_checking() {
        let e = apply(&[("tls", None)]);
        assert_eq!(e.mode, Some(Mode::Tls));
        assert_eq!(e.default_port(), Some(853));
        assert!(!e.verify);
        let e = apply(&[("https", None)]);
        assert_eq!(
            e.mode,
            Some(Mode::Https {
                path: "/dns-query".into(),
                get: false
            })
        );
        assert_eq!(e.default_port(), Some(443));
        let e = apply(&[("https-get", Some("/q")), ("tls-ca", Some("/ca.pem"))]);
        assert_eq!(
            e.mode,
            Some(Mode::Https {
                path: "/q".into(),
                get: true
            })
        );
        assert!(e.verify);
        assert_eq!(e.ca_file.as_deref(), Some("/ca.pem"));
        let e = apply(&[("tls", None), ("tls-hostname", Some("dns.example"))]);
        assert!(e.verify);
        let e = apply(&[("tls", None), ("notls", None)]);
        assert_eq!(e.mode, None);
        assert_eq!(e.default_port(), None);
    }

    #[test]
    fn bad_values_are_errors_and_others_not_ours() {
        let mut e = Encryption::default();
        assert!(option(&mut e, "https", Some("dns-query")).unwrap().is_err());
        assert!(option(&mut e, "tls-hostname", None).unwrap().is_err());
        assert!(option(&mut e, "tls", Some("x")).unwrap().is_err());
        assert!(option(&mut e, "tcp", None).is_none());
        assert!(option(&mut e, "nsid", None).is_none());
    }
}
