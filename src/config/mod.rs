//! tern's configuration: the validated `Config` every part reads.
//!
//! Loading is two stages (see `load`): a serde mirror of the TOML file with
//! `deny_unknown_fields`, then validation into these types with ranges and
//! cross-field rules. Errors name the file, line and key. `config/tern.toml`
//! in the repository lists every key with its default.

pub mod file;
pub mod keys;
pub mod load;
pub mod local;
pub mod rpz;
pub mod tls;

pub use load::{load_file, load_str, ConfigError};
pub use tls::TlsConfig;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// The whole validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub server: ServerConfig,
    pub resolver: ResolverConfig,
    pub cache: CacheConfig,
    pub upstream: UpstreamConfig,
    pub log: LogConfig,
    pub dnssec: DnssecConfig,
    /// Response policy zones, in order of precedence (`[[rpz]]`).
    pub rpz: Vec<rpz::RpzZone>,
    pub control: ControlConfig,
    pub metrics: MetricsConfig,
    /// DNS over TLS and HTTPS for clients (`[tls]`).
    pub tls: TlsConfig,
}

/// The line (from 1) at byte `offset` of `text`; 0 when past its end.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |t| t.matches('\n').count() + 1)
}

/// The line of a TOML parse error in `text` (0 when it has no position).
pub fn toml_error_line(text: &str, e: &toml::de::Error) -> usize {
    e.span().map_or(0, |s| line_at(text, s.start))
}

/// The first line of `text` mentioning `needle`, for errors found after
/// parsing (0 when none does).
pub fn line_mentioning(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

impl ResolverConfig {
    /// Whether EDNS Client Subnet is sent anywhere.
    pub fn client_subnet(&self) -> bool {
        !self.client_subnet_zones.is_empty() || !self.client_subnet_servers.is_empty()
    }
}

impl Config {
    /// The defaults with DNSSEC validation off: for scripted and lab
    /// networks whose zones are not signed by the real root's keys (tests,
    /// benches, fuzzing, `tern dig +trace +engine` against a lab).
    pub fn without_validation() -> Self {
        Self {
            dnssec: DnssecConfig::off(),
            ..Self::default()
        }
    }
}

/// The client-facing side (`[server]`).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to listen on, UDP and TCP each.
    pub listen: Vec<SocketAddr>,
    /// UDP sockets per address (SO_REUSEPORT); 0 = one per core.
    pub udp_sockets: usize,
    /// Each UDP socket served by a thread of its own with its own runtime
    /// (thread per core); false: all on the shared runtime.
    pub udp_threads: bool,
    /// Largest UDP answer we send, whatever the client's EDNS size says.
    pub max_udp_payload: u16,
    /// Idle time after which a client TCP connection is closed.
    pub tcp_idle_timeout: Duration,
    /// Client TCP connections open at once.
    pub tcp_max_connections: usize,
    /// Client TCP connections open at once from one address; 0 = no limit.
    pub tcp_max_connections_per_client: usize,
    /// Client queries being resolved at once (beyond: SERVFAIL/drop).
    pub max_concurrent_queries: usize,
    /// Access control, first match wins; no match = refuse.
    pub access_control: Vec<AclRule>,
    /// Name server identifier sent to clients that ask (RFC 5001); None
    /// sends nothing.
    pub nsid: Option<Vec<u8>>,
    /// A client query answered later than this gets no reply at all (the
    /// resolution still completes); zero = always reply.
    pub discard_timeout: Duration,
    /// A client waits at most this for its answer: then it gets SERVFAIL
    /// (or stale data) while the resolution goes on; zero = no limit.
    pub client_timeout: Duration,
    /// Tell TCP clients that use EDNS the idle timeout (RFC 7828).
    pub edns_tcp_keepalive: bool,
    /// Answer DNS cookies (RFC 7873, server cookies per RFC 9018).
    pub answer_cookie: bool,
    /// The secret server cookies are made with; None = a random one at
    /// start (cookies then do not survive a restart or span servers).
    pub cookie_secret: Option<[u8; 16]>,
    /// Text for `id.server.`/`hostname.bind.` CH TXT (RFC 4892); None
    /// refuses those queries (Unbound's `identity`, `hide-identity`).
    pub identity: Option<String>,
    /// Text for `version.server.`/`version.bind.` CH TXT; None refuses.
    pub version: Option<String>,
    /// The user `tern serve` drops to once its sockets are bound; None =
    /// keep running as the user it was started as.
    pub user: Option<String>,
    /// The group it drops to; None = the user's primary group.
    pub group: Option<String>,
    /// UDP queries per second allowed from one client network; 0 = no
    /// limit.
    pub ratelimit: u32,
    /// Every Nth query over the limit gets an empty TC=1 reply (so that a
    /// real client retries over TCP) instead of none; 0 = never.
    pub ratelimit_slip: u32,
    /// Prefix lengths that make one client network for the limit.
    pub ratelimit_ipv4_prefix: u8,
    pub ratelimit_ipv6_prefix: u8,
}

/// One access-control rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    pub net: IpNet,
    pub action: AclAction,
    /// Tags of the clients this rule matches (Unbound's
    /// access-control-tag): response policy zones with tags apply only to
    /// clients with one of them.
    pub tags: Vec<String>,
}

/// What an access-control rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclAction {
    /// Serve the client.
    Allow,
    /// Answer REFUSED.
    Refuse,
    /// Drop silently.
    Deny,
    /// Serve over TCP, and over UDP only with a valid server cookie
    /// (Unbound's `allow_cookie`).
    AllowCookie,
}

/// The iterative engine (`[resolver]`).
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// Root hints zone file; None = built-in hints.
    pub root_hints: Option<PathBuf>,
    /// Stub zones: send queries for this zone straight to these servers.
    pub stub_zones: Vec<StubZone>,
    /// Forward zones: send queries for names in this zone, RD=1, to these
    /// recursive servers and take their answer as final.
    pub forward_zones: Vec<ForwardZone>,
    /// Zones the resolver holds a copy of, from a zone file (Unbound's
    /// `auth-zone`).
    pub auth_zones: Vec<AuthZone>,
    /// QNAME minimisation, relaxed (RFC 9156).
    pub qname_minimisation: bool,
    /// EDNS UDP payload size advertised upstream (RFC 6891; 1232 per DNS Flag Day 2020).
    pub edns_payload: u16,
    /// Upstream queries one client query may cause.
    pub max_upstream_queries: u32,
    /// CNAME hops followed for one client query.
    pub max_cname_hops: u32,
    /// Referrals followed for one lookup.
    pub max_referrals: u32,
    /// NS names without glue resolved per delegation.
    pub max_ns_lookups_per_delegation: u32,
    /// Nested lookups (NS name resolution inside resolution).
    pub max_depth: u32,
    /// Wall time one client query may take before SERVFAIL.
    pub query_timeout: Duration,
    /// How long a failed question is first remembered (RFC 9520 §3.2).
    pub failure_ttl_initial: Duration,
    /// The longest a failed question is remembered (doubling per failure).
    pub failure_ttl_max: Duration,
    /// Drop glue/NS records that are not in the zone of the server sending them.
    pub harden_glue: bool,
    /// Resolve NS names outside the delegated zone before trusting their
    /// glue (Unbound's `harden-unverified-glue`).
    pub harden_unverified_glue: bool,
    /// Cache the zone's NS set and its servers' addresses that an
    /// authoritative answer carries beside the answer (Unbound's
    /// iter-scrub-promiscuous: no); from a non-authoritative answer, only
    /// the NS set of the zone asked. Off: only referrals and answers to NS
    /// questions change where a zone's servers are.
    pub trust_answer_ns: bool,
    /// Send queries to loopback addresses (the lab and tests need this).
    pub allow_loopback_upstream: bool,
    /// Positive answers carry only the answer section; when false the
    /// zone's NS set and its addresses are added (Unbound's
    /// `minimal-responses: no`).
    pub minimal_responses: bool,
    /// NS records kept per NS set of a reply (Unbound's `iter-scrub-ns`).
    pub max_ns_per_set: u32,
    /// Addresses removed from answers (DNS-rebinding protection; Unbound's
    /// `private-address`).
    pub private_addresses: Vec<IpNet>,
    /// Domains whose answers may hold private addresses (Unbound's
    /// `private-domain`).
    pub private_domains: Vec<hickory_proto::rr::Name>,
    /// EDNS Client Subnet (RFC 7871) is sent to the servers of these zones
    /// and their subzones (Unbound's `client-subnet-zone`)...
    pub client_subnet_zones: Vec<hickory_proto::rr::Name>,
    /// ...and to servers at these addresses (`send-client-subnet`).
    pub client_subnet_servers: Vec<IpNet>,
    /// Longest client prefix sent (`max-client-subnet-ipv4`/`-ipv6`).
    pub client_subnet_ipv4_prefix: u8,
    pub client_subnet_ipv6_prefix: u8,
    /// Answers kept per client subnet, at most (the subnet cache).
    pub client_subnet_cache_entries: usize,
    /// Text sent in an EDNS option to upstream servers in a network (the
    /// most specific network wins; Unbound's `edns-client-string`).
    pub edns_client_strings: Vec<ClientString>,
    /// The EDNS option code carrying those texts (65001, from the local/
    /// experimental range of RFC 6891 §9).
    pub edns_client_string_code: u16,
    /// Reach IPv4 servers through NAT64 (RFC 6052), at their address
    /// embedded in `nat64_prefix` (Unbound's `do-nat64`).
    pub nat64: bool,
    /// The NAT64 prefix: /32, /40, /48, /56, /64 or /96.
    pub nat64_prefix: ipnet::Ipv6Net,
    /// DNS64 (RFC 6147): AAAA answers made from A records, for IPv6-only
    /// clients behind a NAT64 translator (Unbound's `dns64` module).
    pub dns64: bool,
    /// The translator's prefix: /32, /40, /48, /56, /64 or /96.
    pub dns64_prefix: ipnet::Ipv6Net,
    /// Synthesise even for names that have AAAA records.
    pub dns64_synthall: bool,
    /// Zones whose AAAA records are ignored and synthesised over.
    pub dns64_ignore_aaaa: Vec<hickory_proto::rr::Name>,
    /// After a referral, ask the child zone for its own NS set and use
    /// that (Unbound's `harden-referral-path`).
    pub harden_referral_path: bool,
    /// Servers never queried (Unbound's `do-not-query-address`).
    pub do_not_query: Vec<IpNet>,
    /// Zones answered (or blocked) locally (Unbound's `local-zone`).
    pub local_zones: Vec<local::LocalZone>,
    /// Records answered locally (Unbound's `local-data`).
    pub local_data: Vec<hickory_proto::rr::Record>,
}

/// An EDNS client string for servers in `net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientString {
    pub net: IpNet,
    pub text: Vec<u8>,
}

/// A zone whose servers are configured instead of found by iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubZone {
    pub name: hickory_proto::rr::Name,
    pub addrs: Vec<SocketAddr>,
    /// When the stub's servers fail, resolve as if the stub were not
    /// configured (Unbound's `stub-first`).
    pub first: bool,
    /// Ask the stub's servers for the zone's NS set and use that
    /// (Unbound's `stub-prime`).
    pub prime: bool,
}

/// A zone loaded from a zone file (Unbound's `auth-zone`): answered to
/// clients with AA, used by the resolver instead of the zone's servers, or
/// both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthZone {
    pub name: hickory_proto::rr::Name,
    pub zonefile: PathBuf,
    /// Clients asking about names in the zone get authoritative answers
    /// from the copy.
    pub for_downstream: bool,
    /// The resolver answers its own questions about the zone from the
    /// copy instead of asking the zone's servers.
    pub for_upstream: bool,
    /// When the copy cannot be used (not loaded, failed its checks, or its
    /// data failed validation), resolve as if the zone were not configured.
    pub fallback_enabled: bool,
    /// Check the zone's ZONEMD digest (RFC 8976) on load.
    pub zonemd_check: bool,
    /// With `zonemd_check`, a zone without a ZONEMD record is not used.
    pub zonemd_reject_absent: bool,
    /// A failed ZONEMD check is logged, and the zone used anyway.
    pub zonemd_permissive: bool,
}

/// A zone whose queries go to recursive servers (Unbound's forward-zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardZone {
    pub name: hickory_proto::rr::Name,
    pub addrs: Vec<SocketAddr>,
    /// Forwarders named by host name, resolved (port 53) when the zone is
    /// first used (Unbound's `forward-host`).
    pub hosts: Vec<hickory_proto::rr::Name>,
    /// When every forwarder fails, resolve by iteration instead
    /// (Unbound's `forward-first`).
    pub first: bool,
    /// Always TCP to these forwarders (Unbound's `forward-tcp-upstream`).
    pub tcp: bool,
    /// DNS over TLS to these forwarders (Unbound's `forward-tls-upstream`),
    /// with the name their certificate must carry and the roots it must
    /// chain to (None: the system's).
    pub tls: Option<ForwardTls>,
    /// Nothing in this zone is cached (Unbound's `forward-no-cache`).
    pub no_cache: bool,
}

/// How a forward zone's forwarders are reached over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTls {
    /// The name the forwarders' certificates must be valid for.
    pub name: String,
    /// A PEM file of trusted roots; None = the system's root store.
    pub ca_file: Option<PathBuf>,
}

/// The cache (`[cache]`).
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Memory bound for cached records, in bytes (approximate).
    pub max_bytes: u64,
    /// TTLs below this are raised to it.
    pub min_ttl: u32,
    /// TTLs above this are lowered to it.
    pub max_ttl: u32,
    /// Cap on negative-cache TTL (RFC 2308 §5).
    pub max_negative_ttl: u32,
    /// Floor on negative-cache TTL (Unbound's `cache-min-negative-ttl`);
    /// 0 leaves the RFC 2308 TTL alone.
    pub min_negative_ttl: u32,
    /// Serve-stale (RFC 8767): answer from expired data when fresh data
    /// cannot be had (Unbound's `serve-expired`).
    pub serve_expired: bool,
    /// Seconds past expiry during which expired data may be served; 0 = no
    /// limit (`serve-expired-ttl`).
    pub serve_expired_ttl: u32,
    /// A failed refresh restarts the `serve_expired_ttl` window
    /// (`serve-expired-ttl-reset`).
    pub serve_expired_ttl_reset: bool,
    /// TTL of records in a stale answer, or their original TTL when lower
    /// (`serve-expired-reply-ttl`; RFC 8767 §4 suggests 30).
    pub serve_expired_reply_ttl: u32,
    /// How long to try for fresh data before answering stale; zero answers
    /// stale at once and refreshes in the background
    /// (`serve-expired-client-timeout`).
    pub serve_expired_client_timeout: Duration,
    /// Answer with the TTLs as received instead of counting them down
    /// (`serve-original-ttl`); also used for stale answers.
    pub serve_original_ttl: bool,
    /// Attach extended DNS error 3 "Stale Answer" (RFC 8914 §4.4) to stale
    /// answers (`ede-serve-expired`).
    pub ede_serve_expired: bool,
    /// Re-resolve in the background a cached answer hit in the last tenth
    /// of its TTL (Unbound's `prefetch`).
    pub prefetch: bool,
    /// Where `tern serve` writes the cache on a clean shutdown and reads
    /// it back at start; None (the default) = not kept across restarts.
    pub save_file: Option<PathBuf>,
    /// A second-level cache in Redis shared with other resolvers
    /// (`[cache.shared]`, docs/farm.md); None (the default) = off.
    pub shared: Option<SharedCacheConfig>,
}

/// `[cache.shared]`: where the shared cache lives and how long tern waits
/// for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCacheConfig {
    /// The Redis server, `host:port`.
    pub server: String,
    /// Put in front of every key, so that several farms (or other users)
    /// can share one Redis.
    pub key_prefix: String,
    /// The longest a lookup waits for Redis before resolving on its own.
    pub lookup_timeout: Duration,
    /// The longest a connection attempt waits.
    pub connect_timeout: Duration,
    /// Redis ACL user (None: the default user).
    pub username: Option<String>,
    /// Password of that user (None: no AUTH).
    pub password: Option<String>,
    /// Connect with TLS (`rediss://`), checking the server's certificate
    /// against the system roots.
    pub tls: bool,
    /// With `tls`: PEM file of the CAs the server's certificate must chain
    /// to; None = the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Writes waiting for Redis at most; beyond, a write is dropped.
    pub write_queue: usize,
    /// Failures in a row that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips Redis before it tries again.
    pub breaker_retry: Duration,
}

impl SharedCacheConfig {
    /// The defaults for a server address.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            key_prefix: "tern:".to_string(),
            lookup_timeout: Duration::from_millis(20),
            connect_timeout: Duration::from_millis(500),
            username: None,
            password: None,
            tls: false,
            tls_ca_file: None,
            write_queue: 1024,
            breaker_failures: 3,
            breaker_retry: Duration::from_secs(5),
        }
    }
}

/// Upstream exchange timing (`[upstream]`).
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// RTO for a server never measured.
    pub initial_rto: Duration,
    /// Lower bound on the RTO.
    pub min_rto: Duration,
    /// Upper bound on the RTO (the backoff cap).
    pub max_rto: Duration,
    /// Consecutive timeouts before a server is held down.
    pub holddown_after_timeouts: u32,
    /// The first hold-down of a server that stopped answering, doubled
    /// after each failed probe.
    pub holddown_initial: Duration,
    /// The longest hold-down (the cap of that doubling).
    pub holddown: Duration,
    /// Timeout of one TCP exchange.
    pub tcp_timeout: Duration,
    /// Send queries to IPv4 servers (Unbound's `do-ip4`).
    pub ipv4: bool,
    /// Send queries to IPv6 servers (Unbound's `do-ip6`).
    pub ipv6: bool,
    /// Every upstream query over TCP (Unbound's `tcp-upstream`).
    pub tcp: bool,
    /// Timeouts or network errors accepted from a zone's only server
    /// before giving up on it (Unbound's `outbound-msg-retry`).
    pub retries: u32,
    /// How long what a server showed of itself is kept: no EDNS, lame
    /// (or REFUSED, SERVFAIL) for a zone (Unbound's `infra-host-ttl`).
    pub infra_ttl: Duration,
    /// Idle UDP sockets kept per address family for upstream queries
    /// (`upstream::udp_pool`); 0 = a fresh socket per query.
    pub udp_socket_pool: usize,
    /// Upstream queries one pooled UDP socket sends before it is closed.
    pub udp_socket_uses: u32,
}

/// The control channel (`[control]`, `tern ctl`).
#[derive(Debug, Clone, Default)]
pub struct ControlConfig {
    /// Unix socket `tern serve` listens on; None (the default) = off.
    pub socket: Option<PathBuf>,
}

/// The Prometheus metrics endpoint (`[metrics]`).
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// Address `tern serve` serves `/metrics` on over HTTP; None (the
    /// default) = off.
    pub listen: Option<SocketAddr>,
}

/// Logging (`[log]`).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// tracing filter, e.g. "info" or "tern=debug".
    pub level: String,
    /// One info line per client query (target `tern::queries`).
    pub queries: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            udp_sockets: 0,
            udp_threads: true,
            max_udp_payload: 1232,
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_max_connections: 256,
            tcp_max_connections_per_client: 0,
            max_concurrent_queries: 10_000,
            access_control: default_acl(),
            nsid: None,
            discard_timeout: Duration::ZERO,
            client_timeout: Duration::from_millis(4_000),
            edns_tcp_keepalive: false,
            answer_cookie: false,
            cookie_secret: None,
            identity: None,
            version: None,
            user: None,
            group: None,
            ratelimit: 0,
            ratelimit_slip: 2,
            ratelimit_ipv4_prefix: 24,
            ratelimit_ipv6_prefix: 56,
        }
    }
}

/// Loopback and private ranges allowed; everything else refused.
pub fn default_acl() -> Vec<AclRule> {
    [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::ffff:127.0.0.0/104",
    ]
    .iter()
    .filter_map(|s| s.parse::<IpNet>().ok())
    .map(|net| AclRule {
        net,
        action: AclAction::Allow,
        tags: Vec::new(),
    })
    .collect()
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            root_hints: None,
            stub_zones: Vec::new(),
            forward_zones: Vec::new(),
            auth_zones: Vec::new(),
            qname_minimisation: true,
            edns_payload: 1232,
            // Peers agree closely on these bounds: Unbound's MAX_SENT_COUNT
            // is 32 per target and its max-global-quota 200 queries per
            // client query; BIND's max-recursion-queries is 100.
            max_upstream_queries: 200,
            // Unbound restarts a query at most 8 (MAX_RESTART_COUNT, later
            // the max-query-restarts option, 11) times; BIND follows 16.
            max_cname_hops: 12,
            // Unbound's MAX_REFERRAL_COUNT is 130; real trees are under 10
            // deep, so 30 ends loops sooner.
            max_referrals: 30,
            // NXNS attack mitigation (Afek et al., 2020; Unbound's
            // MAX_TARGET_NX / max-sent-count): at most 5 NS names resolved
            // per delegation.
            max_ns_lookups_per_delegation: 5,
            // Nested target lookups (an NS name needing its own NS names
            // resolved…); Unbound caps targets per query at 64
            // (MAX_TARGET_COUNT), the depth keeps each chain short.
            max_depth: 6,
            query_timeout: Duration::from_secs(10),
            failure_ttl_initial: Duration::from_secs(1),
            failure_ttl_max: Duration::from_secs(60),
            harden_glue: true,
            harden_unverified_glue: false,
            trust_answer_ns: false,
            allow_loopback_upstream: true,
            minimal_responses: true,
            // Unbound's iter-scrub-ns default.
            max_ns_per_set: 20,
            private_addresses: Vec::new(),
            private_domains: Vec::new(),
            client_subnet_zones: Vec::new(),
            client_subnet_servers: Vec::new(),
            client_subnet_ipv4_prefix: 24,
            client_subnet_ipv6_prefix: 56,
            client_subnet_cache_entries: 100_000,
            edns_client_strings: Vec::new(),
            edns_client_string_code: 65001,
            nat64: false,
            nat64_prefix: crate::upstream::nat64::well_known_prefix(),
            dns64: false,
            dns64_prefix: crate::upstream::nat64::well_known_prefix(),
            dns64_synthall: false,
            dns64_ignore_aaaa: Vec::new(),
            harden_referral_path: false,
            do_not_query: Vec::new(),
            local_zones: Vec::new(),
            local_data: Vec::new(),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            min_ttl: 0,
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
            min_negative_ttl: 0,
            serve_expired: false,
            serve_expired_ttl: 86_400,
            serve_expired_ttl_reset: false,
            serve_expired_reply_ttl: 30,
            serve_expired_client_timeout: Duration::from_millis(1_800),
            serve_original_ttl: false,
            ede_serve_expired: true,
            prefetch: false,
            save_file: None,
            shared: None,
        }
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_millis(376),
            min_rto: Duration::from_millis(50),
            max_rto: Duration::from_secs(3),
            holddown_after_timeouts: 5,
            holddown_initial: Duration::from_secs(1),
            holddown: Duration::from_secs(60),
            tcp_timeout: Duration::from_secs(5),
            ipv4: true,
            ipv6: true,
            tcp: false,
            retries: 5,
            infra_ttl: Duration::from_secs(900),
            udp_socket_pool: 256,
            udp_socket_uses: 16,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            queries: false,
        }
    }
}

/// DNSSEC validation (`[dnssec]`, RFC 4033-4035).
#[derive(Debug, Clone)]
pub struct DnssecConfig {
    /// Validate answers (on by default, as in Unbound and Knot Resolver).
    pub validate: bool,
    /// Use the built-in root KSKs (KSK-2017 and KSK-2024) as the root's
    /// trust anchor unless an anchor file or inline anchor names the root.
    pub builtin_root_anchors: bool,
    /// Files of DS or DNSKEY records (zone-file syntax) that are trust anchors.
    pub trust_anchor_files: Vec<PathBuf>,
    /// RFC 5011 state files (Unbound's auto-trust-anchor-file): each holds
    /// one zone's keys, kept up to date and rewritten by `tern serve`.
    pub auto_trust_anchor_files: Vec<PathBuf>,
    /// Trust anchors given inline, one record each in zone-file syntax.
    pub trust_anchors: Vec<String>,
    /// Negative trust anchors (RFC 7646): at and below these names nothing
    /// is validated (Unbound's `domain-insecure`).
    pub negative_trust_anchors: Vec<hickory_proto::rr::Name>,
    /// How long a bogus result is remembered (Unbound's val-bogus-ttl).
    pub bogus_ttl: Duration,
    /// NSEC3 iteration counts above this make a zone insecure (RFC 9276).
    pub max_nsec3_iterations: u16,
    /// Synthesise NXDOMAIN/NODATA from cached validated NSEC/NSEC3 ranges
    /// (RFC 8198).
    pub aggressive_nsec: bool,
    /// Validate DSA (algorithms 3 and 6) and RSA keys under 1024 bits.
    /// RFC 8624 says a validator must not; off by default, on only for
    /// Unbound's old test vectors.
    pub legacy_dsa: bool,
    /// Signature verifications allowed per client query (KeyTrap,
    /// CVE-2023-50387); beyond it the answer is bogus.
    pub max_verifications: u32,
    /// Times a query is resolved again, from other servers, after a bogus
    /// result (Unbound's val-max-restart).
    pub max_restarts: u32,
}

impl Default for DnssecConfig {
    fn default() -> Self {
        Self {
            validate: true,
            builtin_root_anchors: true,
            trust_anchor_files: Vec::new(),
            auto_trust_anchor_files: Vec::new(),
            trust_anchors: Vec::new(),
            negative_trust_anchors: Vec::new(),
            bogus_ttl: Duration::from_secs(60),
            max_nsec3_iterations: 150,
            aggressive_nsec: true,
            legacy_dsa: false,
            max_verifications: 64,
            max_restarts: 5,
        }
    }
}

impl DnssecConfig {
    /// No validation at all (scripted networks without signatures).
    pub fn off() -> Self {
        Self {
            validate: false,
            ..Self::default()
        }
    }
}
