//! Stage two of config loading: the serde mirror (`file`) is validated into
//! `Config`. Every value is checked against a range and the cross-field
//! rules (min <= max); an out-of-range value is an error, never clamped.
//! Every error names the file, the line and the dotted key.
//!
//! Durations are integers in milliseconds with `_ms` in the key name.
//! Addresses without a port (`"127.0.0.1"`, `"::1"`) mean port 53.

use std::net::{IpAddr, SocketAddr};
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::file::{FileAclRule, FileConfig, FileResolver, FileServer, S};
mod zones;

use super::{
    AclAction, AclRule, CacheConfig, Config, LogConfig, ResolverConfig, ServerConfig,
    UpstreamConfig,
};
use toml::Spanned;

mod lists;
mod local;
mod rpz;
pub mod tls;

/// Why a configuration was rejected. `Parse` and `Invalid` carry the file,
/// the 1-based line and the dotted key (`server.max_udp_payload`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key.
    #[error("{file}:{line}: {key}: {message}")]
    Parse {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    /// Out of range or inconsistent with another key.
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line of the offending key, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { line, .. } | Self::Invalid { line, .. } => Some(*line),
        }
    }

    /// The dotted key the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { key, .. } | Self::Invalid { key, .. } => Some(key),
        }
    }
}

/// Reads and validates a config file. A relative `resolver.root_hints`
/// (or auth zone file, or trust anchor file) is taken relative to the
/// file's directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: label.clone(),
        source,
    })?;
    let mut config = load_str(&text, &label)?;
    if let (Some(hints), Some(dir)) = (&config.resolver.root_hints, path.parent()) {
        if hints.is_relative() {
            config.resolver.root_hints = Some(dir.join(hints));
        }
    }
    if let Some(dir) = path.parent() {
        if let Some(file) = &mut config.cache.save_file {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
        if let Some(ca) = config
            .cache
            .shared
            .as_mut()
            .and_then(|s| s.tls_ca_file.as_mut())
        {
            if ca.is_relative() {
                *ca = dir.join(&*ca);
            }
        }
        if let Some(socket) = &mut config.control.socket {
            if socket.is_relative() {
                *socket = dir.join(&*socket);
            }
        }
        for zone in &mut config.resolver.auth_zones {
            if zone.zonefile.is_relative() {
                zone.zonefile = dir.join(&zone.zonefile);
            }
        }
        for zone in &mut config.rpz {
            if zone.zonefile.is_relative() {
                zone.zonefile = dir.join(&zone.zonefile);
            }
        }
        let forward_cas = config
            .resolver
            .forward_zones
            .iter_mut()
            .filter_map(|z| z.tls.as_mut().and_then(|t| t.ca_file.as_mut()));
        let tls = &mut config.tls;
        for file in forward_cas
            .chain(tls.cert_file.as_mut())
            .chain(tls.key_file.as_mut())
        {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
        let dnssec = &mut config.dnssec;
        for file in dnssec
            .trust_anchor_files
            .iter_mut()
            .chain(dnssec.auto_trust_anchor_files.iter_mut())
        {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
    }
    Ok(config)
}

/// Validates config text; `file_label` names it in errors.
pub fn load_str(text: &str, file_label: &str) -> Result<Config, ConfigError> {
    let ctx = Ctx {
        file: file_label,
        text,
    };
    let file: FileConfig = toml::from_str(text).map_err(|e| ctx.parse_error(&e))?;
    Ok(Config {
        server: ctx.server(file.server.as_ref())?,
        resolver: ctx.resolver(file.resolver.as_ref())?,
        cache: ctx.cache(file.cache.as_ref())?,
        upstream: ctx.upstream(file.upstream.as_ref())?,
        log: ctx.log(file.log.as_ref())?,
        dnssec: ctx.dnssec(file.dnssec.as_ref())?,
        rpz: ctx.rpz(file.rpz.as_deref().unwrap_or(&[]))?,
        control: super::ControlConfig {
            socket: file
                .control
                .as_ref()
                .and_then(|c| c.socket.as_ref())
                .map(|s| s.get_ref().trim())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        },
        metrics: ctx.metrics(file.metrics.as_ref())?,
        tls: ctx.tls(file.tls.as_ref())?,
    })
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

type R<T> = Result<T, ConfigError>;

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let before = self.text.get(..offset).unwrap_or(self.text);
        before.bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn invalid(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A toml/serde error, located by its span and given the dotted key of
    /// the line it points into.
    fn parse_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        // serde words it "unknown field `name`, expected ...".
        let unknown = e
            .message()
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            .map(str::to_string);
        ConfigError::Parse {
            file: self.file.to_string(),
            line: self.line_of(offset),
            key: key_at(self.text, offset, unknown.as_deref()),
            message: e.message().trim().to_string(),
        }
    }

    fn int<T: TryFrom<i64>>(
        &self,
        v: &S<i64>,
        key: &str,
        range: RangeInclusive<i64>,
        default: T,
    ) -> R<T> {
        let Some(v) = v else { return Ok(default) };
        let n = *v.get_ref();
        if !range.contains(&n) {
            return Err(self.invalid(
                v.span(),
                key,
                format!("{n} is out of range {}..={}", range.start(), range.end()),
            ));
        }
        T::try_from(n).map_err(|_| self.invalid(v.span(), key, format!("{n} does not fit")))
    }

    fn ms(
        &self,
        v: &S<i64>,
        key: &str,
        range: RangeInclusive<i64>,
        default: Duration,
    ) -> R<Duration> {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.int(v, key, range, default_ms)
            .map(Duration::from_millis)
    }

    fn server(&self, f: Option<&FileServer>) -> R<ServerConfig> {
        let d = ServerConfig::default();
        let Some(f) = f else { return Ok(d) };
        let listen = match &f.listen {
            None => d.listen,
            Some(list) => self.listen(list)?,
        };
        let answer_cookie = flag(&f.answer_cookie, d.answer_cookie);
        let access_control = match &f.access_control {
            None => d.access_control,
            Some(rules) => self.access_control(rules, answer_cookie)?,
        };
        Ok(ServerConfig {
            listen,
            udp_sockets: self.int(&f.udp_sockets, "server.udp_sockets", 0..=256, d.udp_sockets)?,
            udp_threads: flag(&f.udp_threads, d.udp_threads),
            max_udp_payload: self.int(
                &f.max_udp_payload,
                "server.max_udp_payload",
                512..=4096,
                d.max_udp_payload,
            )?,
            tcp_idle_timeout: self.ms(
                &f.tcp_idle_timeout_ms,
                "server.tcp_idle_timeout_ms",
                10..=3_600_000,
                d.tcp_idle_timeout,
            )?,
            tcp_max_connections: self.int(
                &f.tcp_max_connections,
                "server.tcp_max_connections",
                1..=1_000_000,
                d.tcp_max_connections,
            )?,
            tcp_max_connections_per_client: self.int(
                &f.tcp_max_connections_per_client,
                "server.tcp_max_connections_per_client",
                0..=1_000_000,
                d.tcp_max_connections_per_client,
            )?,
            max_concurrent_queries: self.int(
                &f.max_concurrent_queries,
                "server.max_concurrent_queries",
                1..=1_000_000,
                d.max_concurrent_queries,
            )?,
            access_control,
            nsid: self.nsid(&f.nsid)?,
            discard_timeout: self.ms(
                &f.discard_timeout_ms,
                "server.discard_timeout_ms",
                0..=3_600_000,
                d.discard_timeout,
            )?,
            client_timeout: self.ms(
                &f.client_timeout_ms,
                "server.client_timeout_ms",
                0..=3_600_000,
                d.client_timeout,
            )?,
            edns_tcp_keepalive: flag(&f.edns_tcp_keepalive, d.edns_tcp_keepalive),
            answer_cookie,
            cookie_secret: match &f.cookie_secret {
                Some(v) if !v.get_ref().is_empty() => Some(
                    crate::server::cookie::parse_secret(v.get_ref()).ok_or_else(|| {
                        self.invalid(v.span(), "server.cookie_secret", "need 32 hex digits")
                    })?,
                ),
                _ => None,
            },
            identity: self.chaos_text(&f.identity, "server.identity")?,
            version: self.chaos_text(&f.version, "server.version")?,
            user: nonempty(&f.user),
            group: nonempty(&f.group),
            ratelimit: self.int(
                &f.ratelimit,
                "server.ratelimit",
                0..=10_000_000,
                d.ratelimit,
            )?,
            ratelimit_slip: self.int(
                &f.ratelimit_slip,
                "server.ratelimit_slip",
                0..=1000,
                d.ratelimit_slip,
            )?,
            ratelimit_ipv4_prefix: self.int(
                &f.ratelimit_ipv4_prefix,
                "server.ratelimit_ipv4_prefix",
                8..=32,
                d.ratelimit_ipv4_prefix,
            )?,
            ratelimit_ipv6_prefix: self.int(
                &f.ratelimit_ipv6_prefix,
                "server.ratelimit_ipv6_prefix",
                16..=128,
                d.ratelimit_ipv6_prefix,
            )?,
        })
    }

    /// A CHAOS TXT text: "" for none, else at most 255 bytes (one string).
    fn chaos_text(&self, v: &S<String>, key: &str) -> R<Option<String>> {
        match v {
            Some(t) if t.get_ref().len() > 255 => {
                Err(self.invalid(t.span(), key, "at most 255 bytes"))
            }
            Some(t) if !t.get_ref().is_empty() => Ok(Some(t.get_ref().clone())),
            _ => Ok(None),
        }
    }

    /// `server.nsid`: `""` for none, `"ascii_TEXT"` for text, else hex
    /// digits (Unbound's syntax); at most 128 bytes.
    fn nsid(&self, v: &S<String>) -> R<Option<Vec<u8>>> {
        let Some(v) = v else { return Ok(None) };
        let text = v.get_ref();
        let bad = |m: &str| self.invalid(v.span(), "server.nsid", m.to_string());
        let bytes = if text.is_empty() {
            return Ok(None);
        } else if let Some(ascii) = text.strip_prefix("ascii_") {
            ascii.as_bytes().to_vec()
        } else {
            if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("need \"ascii_TEXT\" or an even number of hex digits"));
            }
            (0..text.len())
                .step_by(2)
                .filter_map(|i| {
                    text.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect()
        };
        if bytes.len() > 128 {
            return Err(bad("at most 128 bytes"));
        }
        Ok(Some(bytes))
    }

    fn metrics(&self, f: Option<&super::file::FileMetrics>) -> R<super::MetricsConfig> {
        let Some(v) = f.and_then(|f| f.listen.as_ref()) else {
            return Ok(super::MetricsConfig::default());
        };
        let text = v.get_ref().trim();
        if text.is_empty() {
            return Ok(super::MetricsConfig::default());
        }
        // No default port: a metrics address is always written in full.
        let addr = text.parse::<SocketAddr>().map_err(|_| {
            self.invalid(
                v.span(),
                "metrics.listen",
                format!("bad address {text:?}: want ADDRESS:PORT, e.g. \"127.0.0.1:9153\""),
            )
        })?;
        Ok(super::MetricsConfig { listen: Some(addr) })
    }

    fn listen(&self, list: &Spanned<Vec<Spanned<String>>>) -> R<Vec<SocketAddr>> {
        let mut out = Vec::new();
        for a in list.get_ref() {
            let addr = socket_addr(a.get_ref()).ok_or_else(|| {
                self.invalid(
                    a.span(),
                    "server.listen",
                    format!("bad address {:?}", a.get_ref()),
                )
            })?;
            if out.contains(&addr) {
                return Err(self.invalid(
                    a.span(),
                    "server.listen",
                    format!("{addr} listed twice"),
                ));
            }
            out.push(addr);
        }
        if out.is_empty() {
            return Err(self.invalid(
                list.span(),
                "server.listen",
                "must list at least one address",
            ));
        }
        Ok(out)
    }

    fn access_control(
        &self,
        rules: &Spanned<Vec<Spanned<FileAclRule>>>,
        answer_cookie: bool,
    ) -> R<Vec<AclRule>> {
        let mut out = Vec::new();
        for r in rules.get_ref() {
            let r = r.get_ref();
            let key = "server.access_control";
            let net = parse_net(r.net.get_ref()).ok_or_else(|| {
                self.invalid(
                    r.net.span(),
                    key,
                    format!("bad network {:?}", r.net.get_ref()),
                )
            })?;
            let action = match r.action.get_ref().as_str() {
                "allow" => AclAction::Allow,
                "refuse" => AclAction::Refuse,
                "deny" => AclAction::Deny,
                "allow_cookie" if !answer_cookie => return Err(self.invalid(
                    r.action.span(),
                    key,
                    "allow_cookie needs server.answer_cookie = true (no cookie could be checked)",
                )),
                "allow_cookie" => AclAction::AllowCookie,
                other => {
                    return Err(self.invalid(
                        r.action.span(),
                        key,
                        format!("action {other:?} is not one of allow, refuse, deny, allow_cookie"),
                    ))
                }
            };
            let tags = self.tags(&r.tags, "server.access_control.tags")?;
            out.push(AclRule { net, action, tags });
        }
        if out.is_empty() {
            return Err(self.invalid(
                rules.span(),
                "server.access_control",
                "an empty list would refuse every client",
            ));
        }
        Ok(out)
    }

    /// A list of tags: each a plain word (letters, digits, `-`, `_`).
    pub(super) fn tags(&self, v: &S<Vec<Spanned<String>>>, key: &str) -> R<Vec<String>> {
        let mut out = Vec::new();
        for t in v.as_ref().map(|v| v.get_ref().as_slice()).unwrap_or(&[]) {
            let text = t.get_ref();
            let plain = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plain {
                return Err(self.invalid(t.span(), key, format!("bad tag {text:?}")));
            }
            if !out.contains(text) {
                out.push(text.clone());
            }
        }
        Ok(out)
    }

    fn resolver(&self, f: Option<&FileResolver>) -> R<ResolverConfig> {
        let d = ResolverConfig::default();
        let Some(f) = f else { return Ok(d) };
        let root_hints = match &f.root_hints {
            Some(p) if !p.get_ref().is_empty() => Some(PathBuf::from(p.get_ref())),
            _ => None,
        };
        let stub_zones = self.stub_zones(f.stub_zone.as_deref().unwrap_or(&[]))?;
        let forward_zones = self.forward_zones(f.forward_zone.as_deref().unwrap_or(&[]))?;
        let auth_zones = self.auth_zones(f.auth_zone.as_deref().unwrap_or(&[]))?;
        let r = ResolverConfig {
            root_hints,
            stub_zones,
            forward_zones,
            auth_zones,
            qname_minimisation: flag(&f.qname_minimisation, d.qname_minimisation),
            edns_payload: self.int(
                &f.edns_payload,
                "resolver.edns_payload",
                512..=4096,
                d.edns_payload,
            )?,
            max_upstream_queries: self.int(
                &f.max_upstream_queries,
                "resolver.max_upstream_queries",
                1..=10_000,
                d.max_upstream_queries,
            )?,
            max_cname_hops: self.int(
                &f.max_cname_hops,
                "resolver.max_cname_hops",
                1..=64,
                d.max_cname_hops,
            )?,
            max_referrals: self.int(
                &f.max_referrals,
                "resolver.max_referrals",
                1..=128,
                d.max_referrals,
            )?,
            max_ns_lookups_per_delegation: self.int(
                &f.max_ns_lookups_per_delegation,
                "resolver.max_ns_lookups_per_delegation",
                1..=64,
                d.max_ns_lookups_per_delegation,
            )?,
            max_depth: self.int(&f.max_depth, "resolver.max_depth", 1..=32, d.max_depth)?,
            query_timeout: self.ms(
                &f.query_timeout_ms,
                "resolver.query_timeout_ms",
                100..=120_000,
                d.query_timeout,
            )?,
            failure_ttl_initial: self.ms(
                &f.failure_ttl_initial_ms,
                "resolver.failure_ttl_initial_ms",
                1_000..=3_600_000,
                d.failure_ttl_initial,
            )?,
            failure_ttl_max: self.ms(
                &f.failure_ttl_max_ms,
                "resolver.failure_ttl_max_ms",
                1_000..=3_600_000,
                d.failure_ttl_max,
            )?,
            harden_glue: flag(&f.harden_glue, d.harden_glue),
            harden_unverified_glue: flag(&f.harden_unverified_glue, d.harden_unverified_glue),
            trust_answer_ns: flag(&f.trust_answer_ns, d.trust_answer_ns),
            allow_loopback_upstream: flag(&f.allow_loopback_upstream, d.allow_loopback_upstream),
            minimal_responses: flag(&f.minimal_responses, d.minimal_responses),
            max_ns_per_set: self.int(
                &f.max_ns_per_set,
                "resolver.max_ns_per_set",
                1..=1_000,
                d.max_ns_per_set,
            )?,
            private_addresses: self.nets(&f.private_addresses, "resolver.private_addresses")?,
            private_domains: self.names(&f.private_domains, "resolver.private_domains")?,
            client_subnet_zones: self
                .names(&f.client_subnet_zones, "resolver.client_subnet_zones")?,
            client_subnet_servers: self
                .nets(&f.client_subnet_servers, "resolver.client_subnet_servers")?,
            client_subnet_ipv4_prefix: self.int(
                &f.client_subnet_ipv4_prefix,
                "resolver.client_subnet_ipv4_prefix",
                0..=32,
                d.client_subnet_ipv4_prefix,
            )?,
            client_subnet_ipv6_prefix: self.int(
                &f.client_subnet_ipv6_prefix,
                "resolver.client_subnet_ipv6_prefix",
                0..=128,
                d.client_subnet_ipv6_prefix,
            )?,
            client_subnet_cache_entries: self.int(
                &f.client_subnet_cache_entries,
                "resolver.client_subnet_cache_entries",
                1..=10_000_000,
                d.client_subnet_cache_entries,
            )?,
            edns_client_strings: self.client_strings(&f.edns_client_strings)?,
            edns_client_string_code: self.int(
                &f.edns_client_string_code,
                "resolver.edns_client_string_code",
                1..=65_535,
                d.edns_client_string_code,
            )?,
            nat64: flag(&f.nat64, d.nat64),
            nat64_prefix: self.nat64_prefix(
                &f.nat64_prefix,
                "resolver.nat64_prefix",
                d.nat64_prefix,
            )?,
            dns64: flag(&f.dns64, d.dns64),
            dns64_prefix: self.nat64_prefix(
                &f.dns64_prefix,
                "resolver.dns64_prefix",
                d.dns64_prefix,
            )?,
            dns64_synthall: flag(&f.dns64_synthall, d.dns64_synthall),
            dns64_ignore_aaaa: self.names(&f.dns64_ignore_aaaa, "resolver.dns64_ignore_aaaa")?,
            harden_referral_path: flag(&f.harden_referral_path, d.harden_referral_path),
            do_not_query: self.nets(&f.do_not_query, "resolver.do_not_query")?,
            local_zones: self.local_zones(f.local_zone.as_deref().unwrap_or(&[]))?,
            local_data: self.local_data(&f.local_data)?,
        };
        if r.failure_ttl_initial > r.failure_ttl_max {
            let (span, key) = first_span(&[
                (&f.failure_ttl_initial_ms, "resolver.failure_ttl_initial_ms"),
                (&f.failure_ttl_max_ms, "resolver.failure_ttl_max_ms"),
            ]);
            return Err(self.invalid(
                span,
                key,
                format!(
                    "need failure_ttl_initial_ms <= failure_ttl_max_ms, have {} / {}",
                    r.failure_ttl_initial.as_millis(),
                    r.failure_ttl_max.as_millis()
                ),
            ));
        }
        Ok(r)
    }

    fn cache(&self, f: Option<&super::file::FileCache>) -> R<CacheConfig> {
        let d = CacheConfig::default();
        let Some(f) = f else { return Ok(d) };
        // RFC 2181 §8: a TTL is at most 2^31 - 1.
        let c = CacheConfig {
            max_bytes: self.int(
                &f.max_bytes,
                "cache.max_bytes",
                65_536..=(1 << 40),
                d.max_bytes,
            )?,
            min_ttl: self.int(&f.min_ttl, "cache.min_ttl", 0..=86_400, d.min_ttl)?,
            max_ttl: self.int(&f.max_ttl, "cache.max_ttl", 1..=2_147_483_647, d.max_ttl)?,
            max_negative_ttl: self.int(
                &f.max_negative_ttl,
                "cache.max_negative_ttl",
                0..=604_800,
                d.max_negative_ttl,
            )?,
            min_negative_ttl: self.int(
                &f.min_negative_ttl,
                "cache.min_negative_ttl",
                0..=86_400,
                d.min_negative_ttl,
            )?,
            serve_expired: flag(&f.serve_expired, d.serve_expired),
            serve_expired_ttl: self.int(
                &f.serve_expired_ttl,
                "cache.serve_expired_ttl",
                0..=2_147_483_647,
                d.serve_expired_ttl,
            )?,
            serve_expired_ttl_reset: flag(&f.serve_expired_ttl_reset, d.serve_expired_ttl_reset),
            serve_expired_reply_ttl: self.int(
                &f.serve_expired_reply_ttl,
                "cache.serve_expired_reply_ttl",
                0..=2_147_483_647,
                d.serve_expired_reply_ttl,
            )?,
            serve_expired_client_timeout: self.ms(
                &f.serve_expired_client_timeout_ms,
                "cache.serve_expired_client_timeout_ms",
                0..=120_000,
                d.serve_expired_client_timeout,
            )?,
            serve_original_ttl: flag(&f.serve_original_ttl, d.serve_original_ttl),
            ede_serve_expired: flag(&f.ede_serve_expired, d.ede_serve_expired),
            prefetch: flag(&f.prefetch, d.prefetch),
            save_file: f
                .save_file
                .as_ref()
                .map(|s| s.get_ref().trim())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            shared: f
                .shared
                .as_ref()
                .map(|s| self.shared_cache(s))
                .transpose()?,
        };
        if c.max_negative_ttl < c.min_negative_ttl {
            let (span, key) = first_span(&[
                (&f.min_negative_ttl, "cache.min_negative_ttl"),
                (&f.max_negative_ttl, "cache.max_negative_ttl"),
            ]);
            return Err(self.invalid(
                span,
                key,
                format!(
                    "min_negative_ttl {} is above max_negative_ttl {}",
                    c.min_negative_ttl, c.max_negative_ttl
                ),
            ));
        }
        if c.max_ttl < c.min_ttl {
            let (span, key) =
                first_span(&[(&f.max_ttl, "cache.max_ttl"), (&f.min_ttl, "cache.min_ttl")]);
            return Err(self.invalid(
                span,
                key,
                format!("max_ttl {} is below min_ttl {}", c.max_ttl, c.min_ttl),
            ));
        }
        Ok(c)
    }

    /// `cache.shared.server`: required, `host:port`.
    fn shared_server(&self, f: &super::file::FileSharedCache) -> R<String> {
        match &f.server {
            Some(s) if !s.get_ref().trim().is_empty() => {
                let addr = s.get_ref().trim();
                let ok = addr
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                if !ok {
                    return Err(self.invalid(
                        s.span(),
                        "cache.shared.server",
                        format!("{addr:?} is not host:port"),
                    ));
                }
                Ok(addr.to_string())
            }
            _ => {
                let at = self.text.find("[cache.shared]").unwrap_or(0);
                Err(self.invalid(
                    at..at,
                    "cache.shared.server",
                    "[cache.shared] needs a server (host:port)",
                ))
            }
        }
    }

    /// `[cache.shared]` (docs/farm.md).
    fn shared_cache(&self, f: &super::file::FileSharedCache) -> R<super::SharedCacheConfig> {
        let text = |v: &S<String>| {
            v.as_ref()
                .map(|s| s.get_ref().clone())
                .filter(|s| !s.is_empty())
        };
        let server = self.shared_server(f)?;
        let d = super::SharedCacheConfig::new(server);
        let password = text(&f.password);
        let username = text(&f.username);
        if let (Some(u), None) = (&f.username, &password) {
            return Err(self.invalid(
                u.span(),
                "cache.shared.username",
                "a username needs a password",
            ));
        }
        Ok(super::SharedCacheConfig {
            key_prefix: f
                .key_prefix
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or(d.key_prefix.clone()),
            lookup_timeout: self.ms(
                &f.lookup_timeout_ms,
                "cache.shared.lookup_timeout_ms",
                1..=10_000,
                d.lookup_timeout,
            )?,
            connect_timeout: self.ms(
                &f.connect_timeout_ms,
                "cache.shared.connect_timeout_ms",
                1..=60_000,
                d.connect_timeout,
            )?,
            username,
            password,
            tls: flag(&f.tls, d.tls),
            tls_ca_file: text(&f.tls_ca_file).map(PathBuf::from),
            write_queue: self.int(
                &f.write_queue,
                "cache.shared.write_queue",
                1..=1_000_000,
                d.write_queue,
            )?,
            breaker_failures: self.int(
                &f.breaker_failures,
                "cache.shared.breaker_failures",
                1..=1000,
                d.breaker_failures,
            )?,
            breaker_retry: self.ms(
                &f.breaker_retry_ms,
                "cache.shared.breaker_retry_ms",
                10..=3_600_000,
                d.breaker_retry,
            )?,
            ..d
        })
    }

    fn upstream(&self, f: Option<&super::file::FileUpstream>) -> R<UpstreamConfig> {
        let d = UpstreamConfig::default();
        let Some(f) = f else { return Ok(d) };
        let u = UpstreamConfig {
            initial_rto: self.ms(
                &f.initial_rto_ms,
                "upstream.initial_rto_ms",
                1..=60_000,
                d.initial_rto,
            )?,
            min_rto: self.ms(&f.min_rto_ms, "upstream.min_rto_ms", 1..=60_000, d.min_rto)?,
            max_rto: self.ms(&f.max_rto_ms, "upstream.max_rto_ms", 1..=120_000, d.max_rto)?,
            holddown_after_timeouts: self.int(
                &f.holddown_after_timeouts,
                "upstream.holddown_after_timeouts",
                1..=1_000,
                d.holddown_after_timeouts,
            )?,
            holddown_initial: self.ms(
                &f.holddown_initial_ms,
                "upstream.holddown_initial_ms",
                1_000..=86_400_000,
                d.holddown_initial,
            )?,
            holddown: self.ms(
                &f.holddown_ms,
                "upstream.holddown_ms",
                1_000..=86_400_000,
                d.holddown,
            )?,
            tcp_timeout: self.ms(
                &f.tcp_timeout_ms,
                "upstream.tcp_timeout_ms",
                100..=60_000,
                d.tcp_timeout,
            )?,
            ipv4: flag(&f.ipv4, d.ipv4),
            ipv6: flag(&f.ipv6, d.ipv6),
            tcp: flag(&f.tcp, d.tcp),
            retries: self.int(&f.retries, "upstream.retries", 1..=20, d.retries)?,
            infra_ttl: Duration::from_secs(self.int(
                &f.infra_ttl,
                "upstream.infra_ttl",
                1..=86_400,
                d.infra_ttl.as_secs(),
            )?),
            udp_socket_pool: self.int(
                &f.udp_socket_pool,
                "upstream.udp_socket_pool",
                0..=65_536,
                d.udp_socket_pool,
            )?,
            udp_socket_uses: self.int(
                &f.udp_socket_uses,
                "upstream.udp_socket_uses",
                1..=1_000,
                d.udp_socket_uses,
            )?,
        };
        if !u.ipv4 && !u.ipv6 {
            let span = f.ipv4.as_ref().map(|v| v.span()).unwrap_or(0..0);
            return Err(self.invalid(span, "upstream.ipv4", "ipv4 and ipv6 cannot both be false"));
        }
        if !(u.min_rto <= u.initial_rto && u.initial_rto <= u.max_rto) {
            let (span, key) = first_span(&[
                (&f.initial_rto_ms, "upstream.initial_rto_ms"),
                (&f.min_rto_ms, "upstream.min_rto_ms"),
                (&f.max_rto_ms, "upstream.max_rto_ms"),
            ]);
            return Err(self.invalid(
                span,
                key,
                format!(
                    "need min_rto_ms <= initial_rto_ms <= max_rto_ms, have {} / {} / {}",
                    u.min_rto.as_millis(),
                    u.initial_rto.as_millis(),
                    u.max_rto.as_millis()
                ),
            ));
        }
        if u.holddown_initial > u.holddown {
            let (span, key) = first_span(&[
                (&f.holddown_initial_ms, "upstream.holddown_initial_ms"),
                (&f.holddown_ms, "upstream.holddown_ms"),
            ]);
            return Err(self.invalid(
                span,
                key,
                format!(
                    "need holddown_initial_ms <= holddown_ms, have {} / {}",
                    u.holddown_initial.as_millis(),
                    u.holddown.as_millis()
                ),
            ));
        }
        Ok(u)
    }

    fn dnssec(&self, f: Option<&super::file::FileDnssec>) -> R<super::DnssecConfig> {
        let d = super::DnssecConfig::default();
        let Some(f) = f else { return Ok(d) };
        let strings = |v: &S<Vec<String>>| v.as_ref().map(|v| v.get_ref().clone());
        let mut ntas = Vec::new();
        if let Some(list) = &f.negative_trust_anchors {
            for text in list.get_ref() {
                let name = super::local::parse_zone_name(text).ok_or_else(|| {
                    self.invalid(
                        list.span(),
                        "dnssec.negative_trust_anchors",
                        format!("not a domain name: {text:?}"),
                    )
                })?;
                ntas.push(name);
            }
        }
        Ok(super::DnssecConfig {
            validate: flag(&f.validate, d.validate),
            builtin_root_anchors: flag(&f.builtin_root_anchors, d.builtin_root_anchors),
            trust_anchor_files: strings(&f.trust_anchor_files)
                .map(|v| v.into_iter().map(PathBuf::from).collect())
                .unwrap_or_default(),
            auto_trust_anchor_files: strings(&f.auto_trust_anchor_files)
                .map(|v| v.into_iter().map(PathBuf::from).collect())
                .unwrap_or_default(),
            trust_anchors: strings(&f.trust_anchors).unwrap_or_default(),
            negative_trust_anchors: ntas,
            bogus_ttl: self.ms(
                &f.bogus_ttl_ms,
                "dnssec.bogus_ttl_ms",
                0..=86_400_000,
                d.bogus_ttl,
            )?,
            max_nsec3_iterations: self.int(
                &f.max_nsec3_iterations,
                "dnssec.max_nsec3_iterations",
                0..=65_535,
                d.max_nsec3_iterations,
            )?,
            aggressive_nsec: flag(&f.aggressive_nsec, d.aggressive_nsec),
            legacy_dsa: flag(&f.legacy_dsa, d.legacy_dsa),
            max_verifications: self.int(
                &f.max_verifications,
                "dnssec.max_verifications",
                1..=100_000,
                d.max_verifications,
            )?,
            max_restarts: self.int(
                &f.max_restarts,
                "dnssec.max_restarts",
                0..=10,
                d.max_restarts,
            )?,
        })
    }

    fn log(&self, f: Option<&super::file::FileLog>) -> R<LogConfig> {
        let d = LogConfig::default();
        let queries = f.map_or(d.queries, |f| flag(&f.queries, d.queries));
        let Some(level) = f.and_then(|f| f.level.as_ref()) else {
            return Ok(LogConfig { queries, ..d });
        };
        if let Some(word) = unknown_level(level.get_ref()) {
            return Err(self.invalid(
                level.span(),
                "log.level",
                format!(
                    "unknown level {word:?}: use off, error, warn, info, debug or trace, \
                     or TARGET=LEVEL (e.g. \"tern=debug,warn\")"
                ),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(level.get_ref())
            .map_err(|e| self.invalid(level.span(), "log.level", format!("bad filter: {e}")))?;
        Ok(LogConfig {
            level: level.get_ref().clone(),
            queries,
        })
    }
}

/// The first directive of a log filter that is a bare word but not a level
/// (`"verbose"`): the filter syntax would take it for a target name and
/// log everything of that target, surely not what was meant.
pub fn unknown_level(filter: &str) -> Option<String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains('=') && !d.contains('['))
        .find(|d| !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(d)))
        .map(str::to_string)
}

/// A text value, None when absent or empty.
fn nonempty(v: &S<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.get_ref().trim().to_string())
        .filter(|s| !s.is_empty())
}

fn flag(v: &S<bool>, default: bool) -> bool {
    v.as_ref().map(|b| *b.get_ref()).unwrap_or(default)
}

/// The span and key of the first present value (for cross-field errors).
fn first_span<'k>(candidates: &[(&S<i64>, &'k str)]) -> (Range<usize>, &'k str) {
    candidates
        .iter()
        .find_map(|(v, k)| v.as_ref().map(|v| (v.span(), *k)))
        .unwrap_or((0..0, candidates.first().map(|c| c.1).unwrap_or("")))
}

/// `ip:port`, `[v6]:port`, or a bare address meaning port 53.
pub fn socket_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// A network, or a bare address meaning just that host.
fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The dotted key at `offset`: the nearest `[table]` header above, then the
/// key of the line (or of the nearest line above that has one), then the
/// spanned word when it is a different bare key (an unknown key inside an
/// inline table).
fn key_at(text: &str, offset: usize, spanned: Option<&str>) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text
        .get(offset..)
        .and_then(|t| t.find('\n'))
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let this_line = text.get(line_start..line_end).unwrap_or("");
    let above = text.get(..line_start).unwrap_or("");
    let mut section = String::new();
    let mut line_key: Option<String> = None;
    for line in std::iter::once(this_line).chain(above.lines().rev()) {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            break;
        }
        if line_key.is_none() && !t.starts_with('#') {
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"');
                if is_bare_key(k) {
                    line_key = Some(k.to_string());
                }
            }
        }
    }
    let mut key = section;
    for part in [line_key.as_deref(), spanned] {
        let Some(part) = part else { continue };
        if is_bare_key(part) && !key.ends_with(part) {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    if key.is_empty() {
        "(top level)".to_string()
    } else {
        key
    }
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_at_finds_section_and_key() {
        let t = "[server]\nlisten = [\"x\"]\nfoo = 1\n";
        let off = t.find("foo").unwrap();
        assert_eq!(key_at(t, off, Some("foo")), "server.foo");
        let t = "[server]\naccess_control = [{ net = \"1.2.3.4\", acton = \"allow\" }]\n";
        let off = t.find("acton").unwrap();
        assert_eq!(key_at(t, off, Some("acton")), "server.access_control.acton");
    }

    #[test]
    fn bare_addresses_mean_port_53() {
        assert_eq!(socket_addr("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(
            socket_addr("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(socket_addr("nope"), None);
    }
}
