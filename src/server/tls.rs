//! DNS over TLS for clients (RFC 7858) and the TLS side of DNS over HTTPS
//! (RFC 8484, served by `doh`): the certificate from PEM files, the
//! listeners, the handshake under a time limit, then the same framing,
//! limits and handler as plain TCP (`tcp::serve_connection`).
//!
//! Encrypted connections have their own pool (`[tls]` max_connections,
//! per-client cap, idle timeout): a connection counts from accept, so a
//! client still in its handshake holds a slot, and the longest-idle
//! connection (one still handshaking included) gives its slot up to a new
//! one at the cap. A handshake that does not finish within
//! `tls.handshake_timeout_ms` is dropped. A reload re-reads the
//! certificate files; connections made from then on present the new
//! certificate.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::bind::{tcp_listener, BindError};
use super::tcp::{self, Stream};
use super::{Current, Shared};
use crate::clock::Clock;
use crate::config::TlsConfig;
use crate::upstream::Transport;

/// The ALPN protocol of DNS over TLS (RFC 7858 §3.1 as registered).
pub const ALPN_DOT: &[u8] = b"dot";
/// HTTP/2 and HTTP/1.1, which DoH is spoken over (RFC 8484 §5.2).
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why the certificate or key could not be used: names the key and file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {}: {message}", file.display())]
pub struct CertError {
    /// The config key that names the file (`tls.cert_file`).
    pub key: &'static str,
    pub file: PathBuf,
    pub message: String,
}

/// The rustls crypto provider tern uses everywhere: ring, which
/// hickory-proto's DNSSEC already builds on. rustls marks it deprecated
/// because ring has no post-quantum key exchange; its other provider
/// (aws-lc-rs) would add a large C build to every build of tern.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its key (PEM), checking that they belong
/// together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, CertError> {
    let cert_err = |message: String| CertError {
        key: "tls.cert_file",
        file: cert.to_path_buf(),
        message,
    };
    let key_err = |message: String| CertError {
        key: "tls.key_file",
        file: key.to_path_buf(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(pem_message(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(pem_message(&e)))?;
    if chain.is_empty() {
        return Err(cert_err("no CERTIFICATE block in it".to_string()));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| key_err(pem_message(&e)))?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| key_err(format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(e) => Err(key_err(format!(
            "does not match the certificate in {}: {e}",
            cert.display()
        ))),
    }
}

fn pem_message(e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => format!("cannot read: {io}"),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM block of the right kind in it".into(),
        other => format!("bad PEM: {other:?}"),
    }
}

/// The certificate in service; `reload` replaces it.
pub struct Certs {
    current: ArcSwap<CertifiedKey>,
}

impl fmt::Debug for Certs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Certs")
    }
}

impl Certs {
    /// The certificate `[tls]` names; None when no encrypted listener is
    /// configured.
    pub fn load(config: &TlsConfig) -> Result<Option<Arc<Certs>>, CertError> {
        let (Some(cert), Some(key)) = (&config.cert_file, &config.key_file) else {
            return Ok(None);
        };
        if !config.enabled() {
            return Ok(None);
        }
        let ck = load_certified_key(cert, key)?;
        Ok(Some(Arc::new(Certs {
            current: ArcSwap::from_pointee(ck),
        })))
    }

    /// Reads the files again; on error the certificate in service stays.
    pub fn reload(&self, config: &TlsConfig) -> Result<(), CertError> {
        let (Some(cert), Some(key)) = (&config.cert_file, &config.key_file) else {
            return Ok(());
        };
        let ck = load_certified_key(cert, key)?;
        self.current.store(Arc::new(ck));
        Ok(())
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// A rustls server config presenting `certs` and offering `alpn`.
fn server_config(certs: Arc<Certs>, alpn: &[&[u8]]) -> Option<Arc<rustls::ServerConfig>> {
    let mut c = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Some(Arc::new(c))
}

/// The bound DoT and DoH listeners and the certificate they present.
pub struct Encrypted {
    pub dot: Vec<TcpListener>,
    pub doh: Vec<TcpListener>,
    pub certs: Arc<Certs>,
}

impl Encrypted {
    /// The addresses bound, DoT then DoH.
    pub fn local_addrs(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let addrs = |l: &[TcpListener]| l.iter().filter_map(|l| l.local_addr().ok()).collect();
        (addrs(&self.dot), addrs(&self.doh))
    }
}

/// Opens the `[tls]` listen addresses (inside a Tokio runtime).
pub fn bind(config: &TlsConfig, certs: Arc<Certs>) -> Result<Encrypted, BindError> {
    let open = |addrs: &[SocketAddr], proto: &'static str| {
        addrs
            .iter()
            .map(|&addr| {
                tcp_listener(addr).map_err(|source| BindError {
                    addr,
                    proto,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Encrypted {
        dot: open(&config.listen, "tls")?,
        doh: open(&config.https_listen, "https")?,
        certs,
    })
}

pub(crate) fn spawn_listeners<T: Transport, C: Clock>(
    shared: &Arc<Shared<Current<T, C>>>,
    enc: Encrypted,
    loops: &mut JoinSet<()>,
) {
    let dot = server_config(enc.certs.clone(), &[ALPN_DOT]);
    let doh = server_config(enc.certs.clone(), &[ALPN_H2, ALPN_HTTP1]);
    let (Some(dot), Some(doh)) = (dot, doh) else {
        tracing::error!("no TLS protocol version available; encrypted listeners not started");
        return;
    };
    for l in enc.dot {
        loops.spawn(accept_loop(
            shared.clone(),
            l,
            TlsAcceptor::from(dot.clone()),
            Kind::Dot,
        ));
    }
    for l in enc.doh {
        loops.spawn(accept_loop(
            shared.clone(),
            l,
            TlsAcceptor::from(doh.clone()),
            Kind::Doh,
        ));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dot,
    Doh,
}

async fn accept_loop<T: Transport, C: Clock>(
    shared: Arc<Shared<Current<T, C>>>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    kind: Kind,
) {
    let mut stop = shared.stop.clone();
    while let Some((stream, client, permit)) =
        super::tcp::admitted(&listener, &shared.tls, &mut stop).await
    {
        tokio::spawn(connection(
            shared.clone(),
            acceptor.clone(),
            kind,
            stream,
            client,
            permit,
        ));
    }
}

/// One encrypted connection: the handshake under its time limit (given up
/// early if the slot is wanted for a new connection), then DoT framing or
/// HTTP.
async fn connection<T: Transport, C: Clock>(
    shared: Arc<Shared<Current<T, C>>>,
    acceptor: TlsAcceptor,
    kind: Kind,
    stream: TcpStream,
    client: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let (id, close) = shared.tls.table.register(client.ip());
    let limit = shared
        .service
        .load()
        .resolver()
        .config()
        .tls
        .handshake_timeout;
    let tls: Option<TlsStream<TcpStream>> = tokio::select! {
        r = tokio::time::timeout(limit, acceptor.accept(stream)) => match r {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!(%client, error = %e, "tls handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%client, "tls handshake timed out; closed");
                None
            }
        },
        _ = close.notified() => {
            tracing::debug!(%client, "tls handshake abandoned for a new connection");
            None
        }
    };
    if let Some(tls) = tls {
        match kind {
            Kind::Dot => tcp::serve_connection(&shared, Stream::Tls, tls, client, id, &close).await,
            Kind::Doh => super::doh::serve(&shared, tls, client, id, &close).await,
        }
    }
    shared.tls.table.remove(id);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tern-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn unusable_files_name_the_key_and_the_file() {
        let d = dir("errors");
        let missing = d.join("missing.pem");
        let e = load_certified_key(&missing, &missing).unwrap_err();
        assert_eq!(e.key, "tls.cert_file");
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let certs = crate::lab::certs::generate(&d, &["a.example".to_string()]).unwrap();
        // A certificate file given as the key: no private key in it.
        let e = load_certified_key(&certs.cert, &certs.cert).unwrap_err();
        assert_eq!(e.key, "tls.key_file");
        // Another pair's key does not match.
        let other =
            crate::lab::certs::generate(&dir("errors-other"), &["b.example".to_string()]).unwrap();
        let e = load_certified_key(&certs.cert, &other.key).unwrap_err();
        assert_eq!(e.key, "tls.key_file");
        assert!(e.to_string().contains("does not match"), "{e}");
        let e = load_certified_key(&certs.key, &certs.key).unwrap_err();
        assert_eq!(e.key, "tls.cert_file");
        assert!(load_certified_key(&certs.cert, &certs.key).is_ok());
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(dir("errors-other"));
    }

    #[test]
    fn a_reload_that_fails_keeps_the_certificate() {
        let d = dir("reload");
        let c = crate::lab::certs::generate(&d, &["a.example".to_string()]).unwrap();
        let config = TlsConfig {
            cert_file: Some(c.cert.clone()),
            key_file: Some(c.key.clone()),
            listen: vec!["127.0.0.1:853".parse().unwrap()],
            ..TlsConfig::default()
        };
        let certs = Certs::load(&config).unwrap().unwrap();
        let before = certs.current.load_full();
        let broken = TlsConfig {
            key_file: Some(d.join("nothing.pem")),
            ..config.clone()
        };
        assert!(certs.reload(&broken).is_err());
        assert!(Arc::ptr_eq(&before, &certs.current.load_full()));
        assert!(certs.reload(&config).is_ok());
        assert!(!Arc::ptr_eq(&before, &certs.current.load_full()));
        // No listener: nothing is loaded.
        let off = TlsConfig {
            listen: Vec::new(),
            ..config
        };
        assert!(Certs::load(&off).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&d);
    }
}
