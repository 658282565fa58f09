//! DNS over TLS to forwarders (RFC 7858; Unbound's forward-tls-upstream)
//! and the TLS client settings tern's dig shares.
//!
//! `TlsForwarders` wraps another `Transport`: an exchange with a server
//! that a forward zone with `tls = true` lists goes over TLS to that
//! address (whatever protocol the engine picked: over TLS there is no
//! truncation), checking that the certificate chains to the zone's roots
//! and is valid for its `tls_name` (RFC 8310 §8's strict profile: a
//! certificate that fails is never used unauthenticated). Every other
//! exchange goes to the inner transport unchanged. Connections are kept
//! open for the next query (RFC 7858 §3.4), a few per server, and a kept
//! connection the server has closed meanwhile is replaced at once.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{answers_header, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};
use crate::config::{Config, ForwardTls};
use crate::server::tls::provider;

/// Idle connections kept per forwarder.
const KEEP_PER_SERVER: usize = 4;

/// The trusted roots: those of `ca_file` (PEM), or the system's store.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: cannot read certificates: {e:?}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("{}: no usable CERTIFICATE in it", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err("no certificates in the system's root store".to_string());
            }
        }
    }
    Ok(store)
}

/// A client config that checks the server's certificate against `roots`.
pub fn checking_config(roots: RootCertStore, alpn: &[&[u8]]) -> Result<ClientConfig, String> {
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(c)
}

/// A client config that encrypts but accepts any certificate (dig's and
/// kdig's `+tls` without `+tls-ca`: RFC 8310's opportunistic profile).
/// The handshake signatures are still verified, by rustls.
pub fn opportunistic_config(alpn: &[&[u8]]) -> Result<ClientConfig, String> {
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
        .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(c)
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How one forwarder is reached over TLS (its certificate name, the
/// client settings and the connections kept open).
pub struct Route {
    name: ServerName<'static>,
    connector: TlsConnector,
    idle: Mutex<Vec<TlsStream<TcpStream>>>,
}

/// The forwarders spoken to over TLS, by address.
pub type Routes = HashMap<SocketAddr, Arc<Route>>;

/// Builds the routes of every `tls = true` forward zone of `config`.
pub fn routes(config: &Config) -> Result<Routes, String> {
    let mut out = Routes::new();
    let mut configs: HashMap<Option<std::path::PathBuf>, Arc<ClientConfig>> = HashMap::new();
    for zone in &config.resolver.forward_zones {
        let Some(ForwardTls { name, ca_file }) = &zone.tls else {
            continue;
        };
        let client = match configs.get(ca_file) {
            Some(c) => c.clone(),
            None => {
                let roots = roots(ca_file.as_deref()).map_err(|e| {
                    format!("resolver.forward_zone {}: tls_ca_file: {e}", zone.name)
                })?;
                let c = Arc::new(checking_config(roots, &[crate::server::tls::ALPN_DOT])?);
                configs.insert(ca_file.clone(), c.clone());
                c
            }
        };
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| format!("resolver.forward_zone {}: bad tls_name {name:?}", zone.name))?;
        for addr in &zone.addrs {
            out.insert(
                *addr,
                Arc::new(Route {
                    name: server_name.clone(),
                    connector: TlsConnector::from(client.clone()),
                    idle: Mutex::new(Vec::new()),
                }),
            );
        }
    }
    Ok(out)
}

/// A transport that speaks DNS over TLS to the forwarders of `routes` and
/// leaves every other exchange to `inner`. Clones share the routes, so a
/// reload's new table reaches every resolver built on this transport.
#[derive(Clone)]
pub struct TlsForwarders<T> {
    inner: T,
    routes: Arc<ArcSwap<Routes>>,
}

impl<T: Transport> TlsForwarders<T> {
    pub fn new(inner: T, routes: Routes) -> Self {
        TlsForwarders {
            inner,
            routes: Arc::new(ArcSwap::from_pointee(routes)),
        }
    }

    /// The table a reload replaces (`routes` of the new config).
    pub fn routes_handle(&self) -> Arc<ArcSwap<Routes>> {
        self.routes.clone()
    }
}

impl<T: Transport> Transport for TlsForwarders<T> {
    fn exchange(
        &self,
        query: UpstreamQuery,
    ) -> impl std::future::Future<Output = ReplyBytes> + Send {
        let route = self.routes.load().get(&query.server).cloned();
        async move {
            match route {
                None => self.inner.exchange(query).await,
                Some(route) => {
                    let span =
                        tracing::debug_span!("upstream", server = %query.server, proto = "tls");
                    let r = tracing::Instrument::instrument(route.exchange(&query), span).await;
                    if let Err(e) = &r {
                        tracing::debug!(server = %query.server, error = %e, "dns over tls exchange failed");
                    }
                    r
                }
            }
        }
    }
}

impl Route {
    async fn exchange(&self, query: &UpstreamQuery) -> ReplyBytes {
        let deadline = Instant::now() + query.timeout;
        let bytes = &query.bytes;
        let len = u16::try_from(bytes.len())
            .map_err(|_| UpstreamFailure::Network(ErrorKind::InvalidInput))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(bytes);
        // A kept connection may have been closed by the server meanwhile:
        // then once more on a fresh one.
        if let Some(stream) = self.take_idle() {
            match timeout_at(deadline, self.on(stream, bytes, &framed)).await {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(UpstreamFailure::Closed | UpstreamFailure::Network(_))) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(UpstreamFailure::Timeout),
            }
        }
        let work = async {
            let tcp = TcpStream::connect(query.server)
                .await
                .map_err(|e| UpstreamFailure::Network(e.kind()))?;
            let _ = tcp.set_nodelay(true);
            let stream = self
                .connector
                .connect(self.name.clone(), tcp)
                .await
                .map_err(|e| {
                    tracing::warn!(server = %query.server, error = %e, "dns over tls handshake failed");
                    UpstreamFailure::Network(e.kind())
                })?;
            self.on(stream, bytes, &framed).await
        };
        timeout_at(deadline, work)
            .await
            .unwrap_or(Err(UpstreamFailure::Timeout))
    }

    fn take_idle(&self) -> Option<TlsStream<TcpStream>> {
        self.idle.lock().ok()?.pop()
    }

    /// One query and its reply on `stream`, which is kept for the next
    /// query when all went well.
    async fn on(&self, mut stream: TlsStream<TcpStream>, sent: &[u8], framed: &[u8]) -> ReplyBytes {
        stream.write_all(framed).await.map_err(closed_or_io)?;
        loop {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.map_err(closed_or_io)?;
            let mut data = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut data).await.map_err(closed_or_io)?;
            if answers_header(sent, &data) {
                if let Ok(mut idle) = self.idle.lock() {
                    if idle.len() < KEEP_PER_SERVER {
                        idle.push(stream);
                    }
                }
                return Ok(data);
            }
            tracing::debug!("dropped a dns over tls reply with another ID");
        }
    }
}

fn closed_or_io(e: std::io::Error) -> UpstreamFailure {
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            UpstreamFailure::Closed
        }
        k => UpstreamFailure::Network(k),
    }
}
