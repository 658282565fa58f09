//! Stage one of config loading: a serde mirror of `tern.toml`, every table
//! `deny_unknown_fields` and every value `toml::Spanned`, so stage two
//! (`load`) can name the line of any key it rejects. Nothing is checked
//! here beyond TOML types; integers are read as `i64` so that range errors
//! come from our validation with our wording, not from serde.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: Option<FileServer>,
    #[serde(default)]
    pub resolver: Option<FileResolver>,
    #[serde(default)]
    pub cache: Option<FileCache>,
    #[serde(default)]
    pub upstream: Option<FileUpstream>,
    #[serde(default)]
    pub log: Option<FileLog>,
    #[serde(default)]
    pub dnssec: Option<FileDnssec>,
    #[serde(default)]
    pub rpz: Option<Vec<FileRpz>>,
    #[serde(default)]
    pub control: Option<FileControl>,
    #[serde(default)]
    pub metrics: Option<FileMetrics>,
    #[serde(default)]
    pub tls: Option<FileTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    #[serde(default)]
    pub cert_file: S<String>,
    #[serde(default)]
    pub key_file: S<String>,
    #[serde(default)]
    pub listen: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub https_listen: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub https_path: S<String>,
    #[serde(default)]
    pub max_connections: S<i64>,
    #[serde(default)]
    pub max_connections_per_client: S<i64>,
    #[serde(default)]
    pub idle_timeout_ms: S<i64>,
    #[serde(default)]
    pub handshake_timeout_ms: S<i64>,
    #[serde(default)]
    pub padding: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRpz {
    pub name: Spanned<String>,
    pub zonefile: Spanned<String>,
    #[serde(default)]
    pub action_override: S<String>,
    #[serde(default)]
    pub cname_override: S<String>,
    #[serde(default)]
    pub log: S<bool>,
    #[serde(default)]
    pub log_name: S<String>,
    #[serde(default)]
    pub signal_nxdomain_ra: S<bool>,
    #[serde(default)]
    pub tags: S<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    #[serde(default)]
    pub listen: S<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileControl {
    #[serde(default)]
    pub socket: S<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServer {
    #[serde(default)]
    pub listen: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub udp_sockets: S<i64>,
    #[serde(default)]
    pub udp_threads: S<bool>,
    #[serde(default)]
    pub max_udp_payload: S<i64>,
    #[serde(default)]
    pub tcp_idle_timeout_ms: S<i64>,
    #[serde(default)]
    pub tcp_max_connections: S<i64>,
    #[serde(default)]
    pub tcp_max_connections_per_client: S<i64>,
    #[serde(default)]
    pub max_concurrent_queries: S<i64>,
    #[serde(default)]
    pub access_control: S<Vec<Spanned<FileAclRule>>>,
    #[serde(default)]
    pub nsid: S<String>,
    #[serde(default)]
    pub discard_timeout_ms: S<i64>,
    #[serde(default)]
    pub client_timeout_ms: S<i64>,
    #[serde(default)]
    pub edns_tcp_keepalive: S<bool>,
    #[serde(default)]
    pub answer_cookie: S<bool>,
    #[serde(default)]
    pub cookie_secret: S<String>,
    #[serde(default)]
    pub identity: S<String>,
    #[serde(default)]
    pub version: S<String>,
    #[serde(default)]
    pub user: S<String>,
    #[serde(default)]
    pub group: S<String>,
    #[serde(default)]
    pub ratelimit: S<i64>,
    #[serde(default)]
    pub ratelimit_slip: S<i64>,
    #[serde(default)]
    pub ratelimit_ipv4_prefix: S<i64>,
    #[serde(default)]
    pub ratelimit_ipv6_prefix: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAclRule {
    pub net: Spanned<String>,
    pub action: Spanned<String>,
    #[serde(default)]
    pub tags: S<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileResolver {
    #[serde(default)]
    pub root_hints: S<String>,
    #[serde(default)]
    pub stub_zone: Option<Vec<FileStubZone>>,
    #[serde(default)]
    pub forward_zone: Option<Vec<FileForwardZone>>,
    #[serde(default)]
    pub auth_zone: Option<Vec<FileAuthZone>>,
    #[serde(default, alias = "qname_minimization")]
    pub qname_minimisation: S<bool>,
    #[serde(default)]
    pub edns_payload: S<i64>,
    #[serde(default)]
    pub max_upstream_queries: S<i64>,
    #[serde(default)]
    pub max_cname_hops: S<i64>,
    #[serde(default)]
    pub max_referrals: S<i64>,
    #[serde(default)]
    pub max_ns_lookups_per_delegation: S<i64>,
    #[serde(default)]
    pub max_depth: S<i64>,
    #[serde(default)]
    pub query_timeout_ms: S<i64>,
    #[serde(default)]
    pub failure_ttl_initial_ms: S<i64>,
    #[serde(default)]
    pub failure_ttl_max_ms: S<i64>,
    #[serde(default)]
    pub harden_glue: S<bool>,
    #[serde(default)]
    pub harden_unverified_glue: S<bool>,
    pub trust_answer_ns: S<bool>,
    #[serde(default)]
    pub allow_loopback_upstream: S<bool>,
    #[serde(default)]
    pub minimal_responses: S<bool>,
    #[serde(default)]
    pub max_ns_per_set: S<i64>,
    #[serde(default)]
    pub private_addresses: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub private_domains: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub client_subnet_zones: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub client_subnet_servers: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub client_subnet_ipv4_prefix: S<i64>,
    #[serde(default)]
    pub client_subnet_ipv6_prefix: S<i64>,
    #[serde(default)]
    pub client_subnet_cache_entries: S<i64>,
    #[serde(default)]
    pub edns_client_strings: S<Vec<Spanned<FileClientString>>>,
    #[serde(default)]
    pub edns_client_string_code: S<i64>,
    #[serde(default)]
    pub nat64: S<bool>,
    #[serde(default)]
    pub nat64_prefix: S<String>,
    #[serde(default)]
    pub dns64: S<bool>,
    #[serde(default)]
    pub dns64_prefix: S<String>,
    #[serde(default)]
    pub dns64_synthall: S<bool>,
    #[serde(default)]
    pub dns64_ignore_aaaa: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub harden_referral_path: S<bool>,
    #[serde(default)]
    pub do_not_query: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub local_zone: Option<Vec<FileLocalZone>>,
    #[serde(default)]
    pub local_data: S<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLocalZone {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub class: S<String>,
    #[serde(default)]
    pub overrides: S<Vec<Spanned<FileLocalOverride>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLocalOverride {
    pub net: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClientString {
    pub net: Spanned<String>,
    pub text: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStubZone {
    pub name: Spanned<String>,
    pub addrs: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub first: S<bool>,
    #[serde(default)]
    pub prime: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAuthZone {
    pub name: Spanned<String>,
    pub zonefile: Spanned<String>,
    #[serde(default)]
    pub for_downstream: S<bool>,
    #[serde(default)]
    pub for_upstream: S<bool>,
    #[serde(default)]
    pub fallback_enabled: S<bool>,
    #[serde(default)]
    pub zonemd_check: S<bool>,
    #[serde(default)]
    pub zonemd_reject_absent: S<bool>,
    #[serde(default)]
    pub zonemd_permissive: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileForwardZone {
    pub name: Spanned<String>,
    #[serde(default)]
    pub addrs: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub hosts: S<Vec<Spanned<String>>>,
    #[serde(default)]
    pub first: S<bool>,
    #[serde(default)]
    pub tcp: S<bool>,
    #[serde(default)]
    pub no_cache: S<bool>,
    #[serde(default)]
    pub tls: S<bool>,
    #[serde(default)]
    pub tls_name: S<String>,
    #[serde(default)]
    pub tls_ca_file: S<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCache {
    #[serde(default)]
    pub max_bytes: S<i64>,
    #[serde(default)]
    pub min_ttl: S<i64>,
    #[serde(default)]
    pub max_ttl: S<i64>,
    #[serde(default)]
    pub max_negative_ttl: S<i64>,
    #[serde(default)]
    pub min_negative_ttl: S<i64>,
    #[serde(default)]
    pub serve_expired: S<bool>,
    #[serde(default)]
    pub serve_expired_ttl: S<i64>,
    #[serde(default)]
    pub serve_expired_ttl_reset: S<bool>,
    #[serde(default)]
    pub serve_expired_reply_ttl: S<i64>,
    #[serde(default)]
    pub serve_expired_client_timeout_ms: S<i64>,
    #[serde(default)]
    pub serve_original_ttl: S<bool>,
    #[serde(default)]
    pub ede_serve_expired: S<bool>,
    #[serde(default)]
    pub prefetch: S<bool>,
    #[serde(default)]
    pub save_file: S<String>,
    #[serde(default)]
    pub shared: Option<FileSharedCache>,
}

/// `[cache.shared]`: a Redis server shared by several resolvers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSharedCache {
    #[serde(default)]
    pub server: S<String>,
    #[serde(default)]
    pub key_prefix: S<String>,
    #[serde(default)]
    pub lookup_timeout_ms: S<i64>,
    #[serde(default)]
    pub connect_timeout_ms: S<i64>,
    #[serde(default)]
    pub username: S<String>,
    #[serde(default)]
    pub password: S<String>,
    #[serde(default)]
    pub tls: S<bool>,
    #[serde(default)]
    pub tls_ca_file: S<String>,
    #[serde(default)]
    pub write_queue: S<i64>,
    #[serde(default)]
    pub breaker_failures: S<i64>,
    #[serde(default)]
    pub breaker_retry_ms: S<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstream {
    #[serde(default)]
    pub initial_rto_ms: S<i64>,
    #[serde(default)]
    pub min_rto_ms: S<i64>,
    #[serde(default)]
    pub max_rto_ms: S<i64>,
    #[serde(default)]
    pub holddown_after_timeouts: S<i64>,
    #[serde(default)]
    pub holddown_initial_ms: S<i64>,
    #[serde(default)]
    pub holddown_ms: S<i64>,
    #[serde(default)]
    pub tcp_timeout_ms: S<i64>,
    #[serde(default)]
    pub ipv4: S<bool>,
    #[serde(default)]
    pub ipv6: S<bool>,
    #[serde(default)]
    pub tcp: S<bool>,
    #[serde(default)]
    pub retries: S<i64>,
    #[serde(default)]
    pub infra_ttl: S<i64>,
    #[serde(default)]
    pub udp_socket_pool: S<i64>,
    #[serde(default)]
    pub udp_socket_uses: S<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    #[serde(default)]
    pub level: S<String>,
    #[serde(default)]
    pub queries: S<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDnssec {
    #[serde(default)]
    pub validate: S<bool>,
    #[serde(default)]
    pub builtin_root_anchors: S<bool>,
    #[serde(default)]
    pub trust_anchor_files: S<Vec<String>>,
    #[serde(default)]
    pub auto_trust_anchor_files: S<Vec<String>>,
    #[serde(default)]
    pub trust_anchors: S<Vec<String>>,
    #[serde(default)]
    pub negative_trust_anchors: S<Vec<String>>,
    #[serde(default)]
    pub bogus_ttl_ms: S<i64>,
    #[serde(default)]
    pub max_nsec3_iterations: S<i64>,
    #[serde(default)]
    pub aggressive_nsec: S<bool>,
    #[serde(default)]
    pub legacy_dsa: S<bool>,
    #[serde(default)]
    pub max_verifications: S<i64>,
    #[serde(default)]
    pub max_restarts: S<i64>,
}
