//! Validation of `[tls]` (the encrypted listeners) and of the TLS keys of
//! a forward zone. Only the shape is checked here; the certificate and
//! key files are read when `tern serve` starts or reloads, and an error
//! there names the file and the key too.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use toml::Spanned;

use super::{flag, nonempty, Ctx, R};
use crate::config::file::{FileForwardZone, FileTls};
use crate::config::{ForwardTls, TlsConfig};

/// DNS over TLS (RFC 7858 §3.1).
pub const DOT_PORT: u16 = 853;
/// DNS over HTTPS (HTTPS's port).
pub const DOH_PORT: u16 = 443;

/// An address, with `port` when it names none.
pub fn addr_with_port(s: &str, port: u16) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)))
}

impl Ctx<'_> {
    pub(super) fn tls(&self, f: Option<&FileTls>) -> R<TlsConfig> {
        let d = TlsConfig::default();
        let Some(f) = f else { return Ok(d) };
        let listen = self.tls_addrs(&f.listen, "tls.listen", DOT_PORT)?;
        let https_listen = self.tls_addrs(&f.https_listen, "tls.https_listen", DOH_PORT)?;
        if let Some(dup) = listen.iter().find(|a| https_listen.contains(a)) {
            let span = f.https_listen.as_ref().map_or(0..0, |v| v.span());
            return Err(self.invalid(
                span,
                "tls.https_listen",
                format!("{dup} is also in tls.listen"),
            ));
        }
        let cert_file = nonempty(&f.cert_file).map(PathBuf::from);
        let key_file = nonempty(&f.key_file).map(PathBuf::from);
        let out = TlsConfig {
            cert_file,
            key_file,
            listen,
            https_listen,
            https_path: match &f.https_path {
                None => d.https_path,
                Some(p) => {
                    let text = p.get_ref();
                    let ok = text.starts_with('/')
                        && !text.contains(['?', '#'])
                        && text.bytes().all(|b| b.is_ascii_graphic());
                    if !ok {
                        return Err(self.invalid(
                            p.span(),
                            "tls.https_path",
                            format!("bad path {text:?}: want an absolute path such as \"/dns-query\", without a query"),
                        ));
                    }
                    text.clone()
                }
            },
            max_connections: self.int(
                &f.max_connections,
                "tls.max_connections",
                1..=1_000_000,
                d.max_connections,
            )?,
            max_connections_per_client: self.int(
                &f.max_connections_per_client,
                "tls.max_connections_per_client",
                0..=1_000_000,
                d.max_connections_per_client,
            )?,
            idle_timeout: self.ms(
                &f.idle_timeout_ms,
                "tls.idle_timeout_ms",
                10..=3_600_000,
                d.idle_timeout,
            )?,
            handshake_timeout: self.ms(
                &f.handshake_timeout_ms,
                "tls.handshake_timeout_ms",
                10..=60_000,
                d.handshake_timeout,
            )?,
            padding: flag(&f.padding, d.padding),
        };
        if out.enabled() {
            for (file, key, v) in [
                (&out.cert_file, "tls.cert_file", &f.cert_file),
                (&out.key_file, "tls.key_file", &f.key_file),
            ] {
                if file.is_none() {
                    let span = v
                        .as_ref()
                        .map(|v| v.span())
                        .or_else(|| f.listen.as_ref().map(|l| l.span()))
                        .or_else(|| f.https_listen.as_ref().map(|l| l.span()))
                        .unwrap_or(0..0);
                    return Err(self.invalid(
                        span,
                        key,
                        "needed by tls.listen and tls.https_listen: a PEM file",
                    ));
                }
            }
        }
        Ok(out)
    }

    fn tls_addrs(
        &self,
        v: &Option<Spanned<Vec<Spanned<String>>>>,
        key: &str,
        port: u16,
    ) -> R<Vec<SocketAddr>> {
        let mut out = Vec::new();
        for a in v.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or(&[]) {
            let addr = addr_with_port(a.get_ref(), port).ok_or_else(|| {
                self.invalid(a.span(), key, format!("bad address {:?}", a.get_ref()))
            })?;
            if out.contains(&addr) {
                return Err(self.invalid(a.span(), key, format!("{addr} listed twice")));
            }
            out.push(addr);
        }
        Ok(out)
    }

    /// A forward zone's `tls`, `tls_name` and `tls_ca_file`.
    pub(super) fn forward_tls(&self, z: &FileForwardZone) -> R<Option<ForwardTls>> {
        let key = "resolver.forward_zone";
        let on = flag(&z.tls, false);
        let name = nonempty(&z.tls_name);
        let ca_file = nonempty(&z.tls_ca_file).map(PathBuf::from);
        if !on {
            if let Some(v) = z.tls_name.as_ref().or(z.tls_ca_file.as_ref()) {
                if name.is_some() || ca_file.is_some() {
                    return Err(self.invalid(
                        v.span(),
                        key,
                        "tls_name and tls_ca_file need tls = true",
                    ));
                }
            }
            return Ok(None);
        }
        let span = z.tls.as_ref().map_or_else(|| z.name.span(), |v| v.span());
        let Some(name) = name else {
            return Err(self.invalid(
                span,
                key,
                "tls = true needs tls_name: the name the forwarders' certificates must carry",
            ));
        };
        if rustls_pki_types::ServerName::try_from(name.clone()).is_err() {
            let span = z.tls_name.as_ref().map_or(span, |v| v.span());
            return Err(self.invalid(span, key, format!("bad tls_name {name:?}")));
        }
        if z.hosts.as_ref().is_some_and(|h| !h.get_ref().is_empty()) {
            return Err(self.invalid(
                span,
                key,
                "tls = true takes forwarders by address (addrs), not hosts",
            ));
        }
        Ok(Some(ForwardTls { name, ca_file }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use crate::config::{load_str, ConfigError};

    fn err(text: &str) -> ConfigError {
        load_str(text, "t.toml").unwrap_err()
    }

    #[test]
    fn listeners_take_default_ports_and_need_a_certificate() {
        let c = load_str(
            "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\nlisten = [\"127.0.0.1\", \"[::1]:8853\"]\n\
             https_listen = [\"127.0.0.1\"]\nhttps_path = \"/q\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            c.tls.listen,
            vec![
                "127.0.0.1:853".parse().unwrap(),
                "[::1]:8853".parse().unwrap()
            ]
        );
        assert_eq!(c.tls.https_listen, vec!["127.0.0.1:443".parse().unwrap()]);
        assert_eq!(c.tls.https_path, "/q");
        assert!(c.tls.enabled());
        let e = err("[tls]\nlisten = [\"127.0.0.1\"]\nkey_file = \"k.pem\"\n");
        assert_eq!(e.key(), Some("tls.cert_file"));
        assert_eq!(e.line(), Some(2));
        assert!(e.to_string().starts_with("t.toml:2: tls.cert_file:"), "{e}");
        let e = err("[tls]\ncert_file = \"c.pem\"\nhttps_listen = [\"127.0.0.1\"]\n");
        assert_eq!(e.key(), Some("tls.key_file"));
        // Without listeners the files are not needed.
        assert!(!load_str("[tls]\npadding = false\n", "t.toml")
            .unwrap()
            .tls
            .enabled());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[tls]\nlisten = [\"nope\"]\n", "tls.listen"),
            ("[tls]\nhttps_path = \"dns-query\"\n", "tls.https_path"),
            ("[tls]\nhttps_path = \"/q?x=1\"\n", "tls.https_path"),
            ("[tls]\nidle_timeout_ms = 0\n", "tls.idle_timeout_ms"),
            (
                "[tls]\nhandshake_timeout_ms = 600000\n",
                "tls.handshake_timeout_ms",
            ),
            ("[tls]\nmax_connections = 0\n", "tls.max_connections"),
            (
                "[tls]\nlisten = [\"127.0.0.1:1\"]\nhttps_listen = [\"127.0.0.1:1\"]\n",
                "tls.https_listen",
            ),
        ] {
            assert_eq!(err(text).key(), Some(key), "{text}");
        }
    }

    #[test]
    fn forward_zones_over_tls_need_a_name_and_use_port_853() {
        let c = load_str(
            "[[resolver.forward_zone]]\nname = \".\"\naddrs = [\"192.0.2.1\", \"192.0.2.2:8853\"]\n\
             tls = true\ntls_name = \"dns.example\"\n",
            "t.toml",
        )
        .unwrap();
        let z = &c.resolver.forward_zones[0];
        assert_eq!(
            z.addrs,
            vec![
                "192.0.2.1:853".parse().unwrap(),
                "192.0.2.2:8853".parse().unwrap()
            ]
        );
        let tls = z.tls.as_ref().unwrap();
        assert_eq!(tls.name, "dns.example");
        assert_eq!(tls.ca_file, None);
        // Without tls the port stays 53.
        let c = load_str(
            "[[resolver.forward_zone]]\nname = \".\"\naddrs = [\"192.0.2.1\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            c.resolver.forward_zones[0].addrs,
            vec!["192.0.2.1:53".parse().unwrap()]
        );
        assert!(c.resolver.forward_zones[0].tls.is_none());
        for text in [
            "[[resolver.forward_zone]]\nname = \".\"\naddrs = [\"192.0.2.1\"]\ntls = true\n",
            "[[resolver.forward_zone]]\nname = \".\"\naddrs = [\"192.0.2.1\"]\ntls_name = \"x.example\"\n",
            "[[resolver.forward_zone]]\nname = \".\"\nhosts = [\"ns.example\"]\ntls = true\ntls_name = \"x.example\"\n",
        ] {
            let e = err(text);
            assert_eq!(e.key(), Some("resolver.forward_zone"), "{text}");
        }
    }
}
