//! The encrypted front end (`[tls]`): DNS over TLS (RFC 7858) and DNS over
//! HTTPS (RFC 8484) listeners, the certificate they present and their
//! connection limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[tls]`: off while both listen lists are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain (PEM), leaf first.
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS #8, PKCS #1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// DNS over TLS addresses (port 853 when none is given).
    pub listen: Vec<SocketAddr>,
    /// DNS over HTTPS addresses (port 443 when none is given).
    pub https_listen: Vec<SocketAddr>,
    /// The HTTP path DoH queries are taken at.
    pub https_path: String,
    /// Encrypted connections (DoT and DoH together) open at once.
    pub max_connections: usize,
    /// Encrypted connections from one address; 0 = no limit.
    pub max_connections_per_client: usize,
    /// A connection with nothing pending for this long is closed.
    pub idle_timeout: Duration,
    /// A TLS handshake (from accept to the first byte it may carry a
    /// query) must complete within this, or the connection is closed.
    pub handshake_timeout: Duration,
    /// Pad replies to queries that carry the padding option (RFC 7830,
    /// 468-byte blocks per RFC 8467).
    pub padding: bool,
}

impl TlsConfig {
    /// Whether any encrypted listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || !self.https_listen.is_empty()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            listen: Vec::new(),
            https_listen: Vec::new(),
            https_path: "/dns-query".to_string(),
            max_connections: 256,
            max_connections_per_client: 0,
            idle_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(5),
            padding: true,
        }
    }
}
