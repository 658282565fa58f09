//! One client message in, one reply out (or nothing). Sans-IO: the UDP and
//! TCP loops call this; so do the replay harness and fuzz targets. This is
//! the only place that maps a resolution failure to an RCODE and an
//! extended DNS error (RFC 8914). Replies made entirely from the cache are
//! kept in the packet cache (`packet_cache`) and served from there while
//! nothing they came from has changed. Stale answers (RFC 8767) get EDE 3;
//! the background refreshes that prefetch and serve-stale ask for are
//! spawned here, as the engine spawns nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, RecordType};

use crate::cache::PACKET_CACHE_SHARE;
use crate::clock::{Clock, Mono};
use crate::config::local::LocalZoneType;
use crate::config::AclAction;
use crate::engine::ecs::ClientNet;
use crate::engine::trace::explain;
use crate::engine::{Failure, Request, Resolution, Resolver};
use crate::rpz::{After, Before, Rpz, Synth};
use crate::server::acl::Acl;
use crate::server::chaos;
use crate::server::cookie::{self, ClientCookie};
use crate::server::keepalive;
use crate::server::local::{LocalAnswer, LocalZones};
use crate::server::packet_cache::{PacketCache, QueryKey};
use crate::server::querylog;
use crate::upstream::{Protocol, Transport};
use crate::wire;
use futures_util::FutureExt;

/// Size of a DNS header (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;

/// Extended DNS error "Prohibited" (RFC 8914 §4.19).
const EDE_PROHIBITED: u16 = 18;

/// Extended DNS error "Stale Answer" (RFC 8914 §4.4).
const EDE_STALE_ANSWER: u16 = 3;

/// Extended DNS error "Stale NXDOMAIN Answer" (RFC 8914 §4.20).
const EDE_STALE_NXDOMAIN: u16 = 19;

/// Largest TCP message (RFC 1035 §4.2.2 two-byte length).
const TCP_MAX: usize = 65_535;

pub struct Handler<T: Transport, C: Clock> {
    resolver: Arc<Resolver<T, C>>,
    /// Replaced whole on reload (`replace_acl`).
    acl: std::sync::RwLock<Arc<Acl>>,
    /// Encoded replies; None when non-minimal responses are configured
    /// (their extra sections keep TTLs that do not simply count down), and
    /// with prefetch or serve-original-ttl.
    packets: Option<PacketCache>,
    /// The secret server cookies are made with (configured or random).
    cookie_secret: [u8; 16],
    /// Local zones and local data, answered before the cache.
    local: LocalZones,
    /// Response policy zones, applied after local zones and to answers.
    rpz: Arc<Rpz>,
    /// Background refreshes (prefetch, stale refresh) running at once are
    /// bounded like client queries; beyond, a refresh is skipped.
    refreshes: Arc<tokio::sync::Semaphore>,
    /// The longest a client waits for a resolution (zero: no limit). Off
    /// unless set with `with_client_deadline`: it needs a runtime with
    /// timers, which a caller driving the handler by hand may not have.
    client_deadline: std::time::Duration,
    /// Resolutions running in their own task (so that they may outlive
    /// their client's deadline) are bounded like client queries; beyond,
    /// a resolution runs in the client's task, without a deadline.
    detached: Arc<tokio::sync::Semaphore>,
    /// Counters for `tern ctl stats` (kept across reloads).
    stats: Arc<crate::server::stats::Stats>,
    /// `log.queries`, which a reload may turn on or off.
    log_queries: std::sync::atomic::AtomicBool,
    /// The cache shared with other resolvers (`[cache.shared]`), asked
    /// after a local miss; kept across reloads.
    shared: Option<Arc<crate::shared_cache::SharedCache>>,
}

impl<T: Transport, C: Clock> Handler<T, C> {
    pub fn new(resolver: Arc<Resolver<T, C>>) -> Self {
        let config = resolver.config();
        let acl = Acl::new(config.server.access_control.clone());
        // Off with prefetch (a packet hit would skip the prefetch check)
        // and with serve-original-ttl (packets count TTLs down).
        let use_packets = config.resolver.minimal_responses
            && !config.cache.prefetch
            && !config.cache.serve_original_ttl
            // A packet made for one client must not reach another whose
            // local-zone override answers differently.
            && config.resolver.local_zones.iter().all(|z| z.overrides.is_empty())
            // Inform zones log every query, which a packet hit would skip.
            && !config.resolver.local_zones.iter().any(|z| {
                matches!(z.kind, LocalZoneType::Inform | LocalZoneType::InformDeny)
            })
            // Policies depend on the client and rewrite answers.
            && config.rpz.is_empty()
            // Answers may hold for one client subnet only.
            && !config.resolver.client_subnet();
        let packets = use_packets.then(|| {
            let budget = config.cache.max_bytes / PACKET_CACHE_SHARE;
            PacketCache::new(usize::try_from(budget).unwrap_or(usize::MAX))
        });
        let cookie_secret = config.server.cookie_secret.unwrap_or_else(rand::random);
        let local = LocalZones::new(&config.resolver);
        // `tern serve` loads the zones first and stops on an error; a
        // caller that did not gets the error logged and no policy.
        let rpz = Rpz::load(&config.rpz).unwrap_or_else(|e| {
            tracing::error!("{e}: response policy zones not used");
            Rpz::default()
        });
        let rpz = Arc::new(rpz);
        if !rpz.is_empty() {
            // The engine stops at CNAME targets with a trigger.
            resolver.set_alias_policy(rpz.clone());
        }
        let log_queries = config.log.queries.into();
        let refreshes = Arc::new(tokio::sync::Semaphore::new(
            config.server.max_concurrent_queries.max(1),
        ));
        let detached = Arc::new(tokio::sync::Semaphore::new(
            config.server.max_concurrent_queries.max(1),
        ));
        Self {
            resolver,
            acl: std::sync::RwLock::new(Arc::new(acl)),
            packets,
            cookie_secret,
            local,
            rpz,
            refreshes,
            client_deadline: std::time::Duration::ZERO,
            detached,
            stats: Default::default(),
            log_queries,
            shared: None,
        }
    }

    /// The handler that takes over on a reload: everything from the new
    /// resolver's configuration (access control, local zones, policies,
    /// client deadline), with this one's counters and, unless the new
    /// configuration sets one, its cookie secret (so clients' server
    /// cookies stay valid).
    pub fn successor(&self, resolver: Arc<Resolver<T, C>>) -> Self {
        let configured = resolver.config().server.cookie_secret.is_some();
        let deadline = resolver.config().server.client_timeout;
        let mut next = Self::new(resolver).with_client_deadline(deadline);
        next.stats = self.stats.clone();
        next.shared = self.shared.clone();
        if !configured {
            next.cookie_secret = self.cookie_secret;
        }
        next
    }

    /// Answers a client by `limit` at the latest (SERVFAIL while the
    /// resolution goes on; `server.client_timeout`). The handler must then
    /// run on a tokio runtime with timers enabled, as `server::run` does.
    pub fn with_client_deadline(mut self, limit: std::time::Duration) -> Self {
        self.client_deadline = limit;
        self
    }

    /// Asks `shared` after each local cache miss, and offers it what was
    /// resolved (docs/farm.md).
    pub fn with_shared_cache(mut self, shared: Arc<crate::shared_cache::SharedCache>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The shared cache, if one is configured.
    pub fn shared_cache(&self) -> Option<&Arc<crate::shared_cache::SharedCache>> {
        self.shared.as_ref()
    }

    /// A local miss: the shared cache's answer, else a resolution (which is
    /// then offered to the shared cache) and whether the reply may be a
    /// packet cache entry.
    async fn resolve_miss(&self, request: &Request) -> (Resolution, bool) {
        let Some(shared) = &self.shared else {
            return (self.resolve_bounded(request).await, false);
        };
        let validating = self.resolver.config().dnssec.validate;
        // Boxed like the engine's futures (see resolve_bounded): the
        // handler's own future stays small when no shared cache is set.
        let lookup = Box::pin(shared.lookup(request, validating));
        if let Some(hit) = lookup.await {
            let ok = packet_cacheable(&hit, request.qtype);
            return (hit, ok);
        }
        let res = self.resolve_bounded(request).await;
        if !res.from_cache {
            shared.offer(request, &res);
        }
        (res, false)
    }

    /// Turns the per-query log line on or off.
    pub fn set_log_queries(&self, on: bool) {
        self.log_queries
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn logging_queries(&self) -> bool {
        self.log_queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The access control rules (replaced on reload).
    pub fn acl(&self) -> Arc<Acl> {
        match self.acl.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new access control rules in place (on reload).
    pub fn replace_acl(&self, rules: Vec<crate::config::AclRule>) {
        let acl = Arc::new(Acl::new(rules));
        match self.acl.write() {
            Ok(mut g) => *g = acl,
            Err(p) => *p.into_inner() = acl,
        }
    }

    /// Client-side counters.
    pub fn stats(&self) -> &crate::server::stats::Stats {
        &self.stats
    }

    /// The packet cache, if enabled.
    pub fn packet_cache(&self) -> Option<&PacketCache> {
        self.packets.as_ref()
    }

    /// The reply from the packet cache, if there is one for this query:
    /// the fast path, synchronous so that socket loops can answer a hit
    /// without spawning. None means "use `handle`".
    pub fn try_cached(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.try_cached_into(bytes, client, protocol, &mut out)
            .then_some(out)
    }

    /// `try_cached` into a buffer the caller reuses; returns whether `out`
    /// now holds the reply.
    pub fn try_cached_into(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(packets) = &self.packets else {
            return false;
        };
        if protocol == Protocol::Tcp && self.resolver.config().server.edns_tcp_keepalive {
            // TCP replies carry the keepalive option: made fresh each time.
            return false;
        }
        let Some(key) = QueryKey::of(bytes) else {
            return false;
        };
        if self.acl().check(client.ip()) != AclAction::Allow {
            return false;
        }
        let limit = self.limit(key.payload(), protocol);
        let hit = packets.get_into(
            &key,
            limit,
            self.resolver.clock().now(),
            self.resolver.cache().generation(),
            out,
        );
        if hit {
            self.stats.cache(true);
            self.stats.reply(protocol, out);
            if self.logging_queries() {
                querylog::log(client, protocol, out, std::time::Duration::ZERO, true);
            }
        }
        hit
    }

    /// The largest reply the client takes (RFC 6891 §6.2.3, §6.2.5).
    fn limit(&self, payload: Option<u16>, protocol: Protocol) -> usize {
        match protocol {
            Protocol::Udp => {
                let ours = self.resolver.config().server.max_udp_payload;
                match payload {
                    Some(p) => usize::from(p.clamp(512, ours.max(512))),
                    None => wire::CLASSIC_UDP_SIZE,
                }
            }
            Protocol::Tcp => TCP_MAX,
        }
    }

    pub fn resolver(&self) -> &Arc<Resolver<T, C>> {
        &self.resolver
    }

    /// Answers one query from `client` received over `protocol`; None means
    /// send nothing (unreadable header, a response, or a denied client).
    pub async fn handle(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        if let Some(reply) = self.try_cached(bytes, client, protocol) {
            return Some(reply);
        }
        self.handle_uncached(bytes, client, protocol).await
    }

    /// `handle` without looking in the packet cache first (for callers that
    /// already did, with `try_cached`).
    pub async fn handle_uncached(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        if self.logging_queries() {
            let started = self.resolver.clock().now();
            let (reply, cached) =
                querylog::scope(self.reply_uncached(bytes, client, protocol)).await;
            if let Some(r) = &reply {
                self.stats.reply(protocol, r);
                let took = self.resolver.clock().now().saturating_sub(started);
                querylog::log(client, protocol, r, took, cached);
            }
            return reply;
        }
        let reply = self.reply_uncached(bytes, client, protocol).await;
        if let Some(r) = &reply {
            self.stats.reply(protocol, r);
        }
        reply
    }

    async fn reply_uncached(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        // Without a whole header there is no safe reply to build
        // (RFC 1035 §4.1.1: the header is 12 bytes).
        if bytes.len() < HEADER_LEN {
            return None;
        }
        let acl = self.acl();
        let action = acl.check(client.ip());
        let query = match wire::parse(bytes) {
            Ok(q) => q,
            Err(wire::ParseError::NoHeader) => return None,
            Err(wire::ParseError::Malformed {
                id,
                opcode,
                recursion_desired,
            }) => {
                // A response is never answered, even a malformed one.
                if bytes.get(2).is_some_and(|b| b & 0x80 != 0) || action == AclAction::Deny {
                    return None;
                }
                let reply = wire::error_reply(id, opcode, recursion_desired, ResponseCode::FormErr);
                return wire::encode(&reply);
            }
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            if let Some(q) = query.queries.first() {
                let span = tracing::Span::current();
                span.record("qname", tracing::field::display(q.name()));
                span.record("qtype", tracing::field::display(q.query_type()));
            }
        }
        if query.metadata.message_type == MessageType::Response || action == AclAction::Deny {
            return None;
        }
        let limit = match protocol {
            Protocol::Udp => {
                wire::client_udp_limit(&query, self.resolver.config().server.max_udp_payload)
            }
            Protocol::Tcp => TCP_MAX,
        };
        let mut cacheable = None;
        let keepalive = self.resolver.config().server.edns_tcp_keepalive;
        // RFC 7828 §3.2.1: the option means nothing over UDP.
        if keepalive
            && protocol == Protocol::Tcp
            && action != AclAction::Refuse
            && keepalive::malformed(&query)
        {
            return wire::encode(&self.reply_skeleton(&query, ResponseCode::FormErr));
        }
        let cookie = match action {
            AclAction::Allow | AclAction::AllowCookie
                if self.resolver.config().server.answer_cookie =>
            {
                cookie::client_cookie(&query)
            }
            _ => ClientCookie::None,
        };
        if cookie == ClientCookie::Malformed {
            // RFC 7873 §5.2.2.
            return wire::encode(&self.reply_skeleton(&query, ResponseCode::FormErr));
        }
        if action == AclAction::AllowCookie && protocol == Protocol::Udp {
            if let Some(reply) = self.cookie_required(&query, &cookie, client) {
                return wire::encode_limited(&reply, limit);
            }
        }
        let mut reply = if action == AclAction::Refuse {
            let mut m = self.reply_skeleton(&query, ResponseCode::Refused);
            if m.edns.is_some() {
                // RFC 8914 §4.19: Prohibited.
                wire::add_ede(
                    &mut m,
                    EDE_PROHIBITED,
                    "client not allowed by access control",
                );
            } else {
                // Nothing to attach the reason to: the header alone, as
                // Unbound sends.
                m.queries.clear();
            }
            m
        } else {
            let started = self.resolver.clock().now();
            // None: a local zone drops the question (deny).
            // The client's tags go along for the policies the engine asks.
            let tags = acl.tags(client.ip());
            // Boxed: the answer's future is large (resolution, policies,
            // local data), and the front end moves this one whole when it
            // spawns it; on the heap it is moved once.
            let answer = Box::pin(self.answer(&query, client, protocol));
            let (m, stamp) = if self.rpz.is_empty() || tags.is_empty() {
                answer.await?
            } else {
                crate::rpz::with_client_tags(tags, answer).await?
            };
            let discard = self.resolver.config().server.discard_timeout;
            let waited = self.resolver.clock().now().saturating_sub(started);
            if !discard.is_zero() && waited > discard {
                // The client has long given up (Unbound's discard-timeout);
                // the resolution still filled the cache for its retry.
                tracing::debug!(waited_ms = waited.as_millis() as u64, "reply discarded");
                return None;
            }
            cacheable = stamp;
            m
        };
        if let ClientCookie::Client(c) = cookie {
            self.add_cookie(&mut reply, &c, client);
            // Made for this client: never a packet cache entry.
            cacheable = None;
        }
        if keepalive && protocol == Protocol::Tcp && reply.edns.is_some() {
            keepalive::add(&mut reply, self.resolver.config().server.tcp_idle_timeout);
            // A packet cache entry could be served over UDP (RFC 7828 §3.3.2).
            cacheable = None;
        }
        if let (Some((generation, made_at)), Some(packets)) = (cacheable, &self.packets) {
            let full = wire::encode(&reply)?;
            if full.len() <= limit {
                if let Some(key) = QueryKey::of(bytes) {
                    packets.put(&key, &full, made_at, generation);
                }
                return Some(full);
            }
        }
        wire::encode_limited(&reply, limit)
    }

    /// For an `allow_cookie` client over UDP: None when the query shows a
    /// valid server cookie, else the reply it gets instead of an answer:
    /// BADCOOKIE with a fresh cookie (RFC 7873 §5.2.3, §5.2.4), or without
    /// any cookie REFUSED with TC set, which sends the client to TCP.
    fn cookie_required(
        &self,
        query: &Message,
        cookie: &ClientCookie,
        client: SocketAddr,
    ) -> Option<Message> {
        let now = self.resolver.clock().unix_secs();
        let ClientCookie::Client(c) = cookie else {
            let mut m = self.reply_skeleton(query, ResponseCode::Refused);
            m.metadata.truncation = true;
            m.metadata.recursion_available = true;
            return Some(m);
        };
        if cookie::server_cookie_valid(query, &self.cookie_secret, client.ip(), now) {
            return None;
        }
        let mut m = self.reply_skeleton(query, ResponseCode::BADCOOKIE);
        m.metadata.recursion_available = true;
        self.add_cookie(&mut m, c, client);
        Some(m)
    }

    /// A reply header for `query` with the question copied.
    fn reply_skeleton(&self, query: &Message, rcode: ResponseCode) -> Message {
        let mut m = wire::reply_skeleton(query, self.resolver.config().server.max_udp_payload);
        // Refusals and format errors answer nothing, so (as Unbound does)
        // they do not advertise recursion.
        m.metadata.recursion_available =
            !matches!(rcode, ResponseCode::Refused | ResponseCode::FormErr);
        m.metadata.response_code = rcode;
        // RFC 5001 §2.1: the identifier goes only to clients that ask.
        if let (Some(id), Some(e), Some(edns)) = (
            &self.resolver.config().server.nsid,
            &query.edns,
            m.edns.as_mut(),
        ) {
            if e.option(EdnsCode::NSID).is_some() {
                if let Ok(payload) = NSIDPayload::new(id.clone()) {
                    edns.options_mut().insert(EdnsOption::NSID(payload));
                }
            }
        }
        m
    }

    /// The reply, and when it may go into the packet cache, the record
    /// cache generation it was made from and the time just before (so that
    /// TTLs counted from then never exceed what the cache would say later).
    async fn answer(
        &self,
        query: &Message,
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<(Message, Option<(u64, Mono)>)> {
        if query.metadata.op_code != OpCode::Query {
            return Some((self.reply_skeleton(query, ResponseCode::NotImp), None));
        }
        if query.edns.as_ref().is_some_and(|e| e.version() > 0) {
            // RFC 6891 §6.1.3: unknown EDNS version → BADVERS.
            let mut m = self.reply_skeleton(query, ResponseCode::BADVERS);
            m.queries.clear();
            return Some((m, None));
        }
        let [q] = query.queries.as_slice() else {
            return Some((self.reply_skeleton(query, ResponseCode::FormErr), None));
        };
        if !query.answers.is_empty() || !query.authorities.is_empty() {
            // A query carries no answer or authority records (RFC 1035
            // §4.1; an IXFR's SOA is for a primary, not a resolver): FORMERR,
            // without echoing any of it, as Unbound answers.
            let mut m = self.reply_skeleton(query, ResponseCode::FormErr);
            m.queries.clear();
            return Some((m, None));
        }
        if let Some(a) = chaos::answer(query, &self.resolver.config().server) {
            let mut m = self.reply_skeleton(query, chaos::rcode(&a));
            // Refused because hidden, not because recursion is refused.
            m.metadata.recursion_available = true;
            if let chaos::ChaosAnswer::Text(r) = a {
                m.answers.push(*r);
            }
            return Some((m, None));
        }
        let request = Request {
            name: q.name().clone(),
            qtype: q.query_type(),
            qclass: q.query_class(),
            recursion_desired: query.metadata.recursion_desired,
            checking_disabled: query.metadata.checking_disabled,
            dnssec_ok: query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            full_trace: false,
            subnet: self.client_subnet(query, client),
        };
        let acl = self.acl();
        let rpz_query = crate::rpz::Query {
            name: q.name(),
            qtype: q.query_type(),
            client: client.ip(),
            udp: protocol == Protocol::Udp,
            minimal: self.resolver.config().resolver.minimal_responses,
            tags: acl.tags(client.ip()),
        };
        if !self.local.is_empty() {
            if self
                .local
                .informs(q.name(), q.query_class(), Some(client.ip()))
            {
                tracing::info!(client = %client, qname = %q.name(), qtype = %q.query_type(), "query in an inform local zone");
            }
            if let Some(local) =
                self.local
                    .answer(q.name(), q.query_type(), q.query_class(), Some(client.ip()))
            {
                return Box::pin(self.local_reply(query, local, request)).await;
            }
        }
        if let Some(m) = self.auth_zone_reply(query, q) {
            return Some((m, None));
        }
        // Policies come after local zones, as in Unbound.
        let mut passthru = self.rpz.is_empty();
        if !passthru {
            match self.rpz.before(&rpz_query) {
                Before::Resolve => {}
                Before::Passthru => passthru = true,
                Before::Drop => return None,
                Before::Answer(s) => {
                    return Box::pin(self.rpz_reply(query, s, request, &rpz_query)).await
                }
            }
        }
        let (res, cacheable) = match self.resolve_policed(&request, &rpz_query, passthru).await {
            Policed::Resolved(res, cacheable) => (res, cacheable),
            Policed::Drop => return None,
            Policed::Answer(s) => {
                return Box::pin(self.rpz_reply(query, s, request, &rpz_query)).await
            }
        };
        self.stats.security(&res.security);
        if res.stale {
            self.stats.stale();
        }
        if res.rcode == ResponseCode::ServFail {
            self.stats
                .servfail(res.failure.as_ref().map(|f| ede_for(f).0).unwrap_or(0));
        }
        // AD=1 for validated data, to clients that show they understand it
        // with DO=1 or AD=1 (RFC 6840 §5.7, RFC 4035 §3.2.3).
        let ad = (request.dnssec_ok || query.metadata.authentic_data)
            && res.security == crate::dnssec::Security::Secure;
        if res.refresh {
            self.spawn_refresh(request);
        }
        let mut m = self.reply_skeleton(query, res.rcode);
        m.metadata.authentic_data = ad;
        if res.failure == Some(Failure::NotCached) {
            // Refused only because RD=0 found nothing: recursion is available.
            m.metadata.recursion_available = true;
        }
        self.add_resolution_edes(&mut m, &res);
        echo_client_subnet(query, &mut m, res.ecs_scope);
        m.answers = res.answers;
        m.authorities = res.authorities;
        m.additionals = res.additionals;
        Some((m, cacheable))
    }

    /// The authoritative reply (AA=1) of an auth zone that answers
    /// clients, for names in it (Unbound's `for-downstream`). A zone whose
    /// copy is unusable fails the query, or with fallback leaves it to
    /// the resolver. Never a packet cache entry.
    fn auth_zone_reply(&self, query: &Message, q: &Query) -> Option<Message> {
        let zones = self.resolver.auth_zones();
        if zones.is_empty() || q.query_class() != DNSClass::IN {
            return None;
        }
        let copy = zones.for_downstream(q.name())?;
        let Some(auth) = copy.answer(query) else {
            if copy.config.fallback_enabled {
                return None;
            }
            let mut m = self.reply_skeleton(query, ResponseCode::ServFail);
            let (code, text) = ede_for(&Failure::LocalCopyUnusable(copy.name().clone()));
            if m.edns.is_some() {
                wire::add_ede(&mut m, code, &text);
            }
            return Some(m);
        };
        let mut m = self.reply_skeleton(query, auth.metadata.response_code);
        m.metadata.authoritative = auth.metadata.authoritative;
        m.answers = auth.answers;
        m.authorities = auth.authorities;
        m.additionals = auth.additionals;
        Some(m)
    }

    /// The client network sent upstream as EDNS Client Subnet, when ECS is
    /// configured: the client's own option (cut to the configured prefix),
    /// else its address. A client option with SOURCE PREFIX-LENGTH 0 asks
    /// that none be sent (RFC 7871 §7.1.2).
    fn client_subnet(&self, query: &Message, client: SocketAddr) -> Option<ClientNet> {
        let cfg = &self.resolver.config().resolver;
        if !cfg.client_subnet() {
            return None;
        }
        // ClientNet::new cuts either to the configured longest prefix.
        let net = match client_ecs(query) {
            Some(o) if o.source_prefix() == 0 => return None,
            Some(o) => ClientNet::new(o.addr(), o.source_prefix(), cfg),
            None => ClientNet::new(client.ip(), u8::MAX, cfg),
        };
        (net.prefix > 0).then_some(net)
    }

    /// Resolves a cache miss, but answers the client by its deadline
    /// (`with_client_deadline`): then SERVFAIL, while the resolution goes
    /// on in its own task and fills the cache for the client's retry.
    /// Without a tokio runtime or without a deadline, the resolution is
    /// simply awaited.
    async fn resolve_bounded(&self, request: &Request) -> Resolution {
        let limit = self.client_deadline;
        let rt = tokio::runtime::Handle::try_current();
        // The engine's future is tens of kilobytes: boxed here, so the
        // handler's own future (spawned and moved per query) stays small.
        let (false, Ok(rt)) = (limit.is_zero(), rt) else {
            return Box::pin(self.resolver.resolve_after_miss(request)).await;
        };
        let Ok(permit) = self.detached.clone().try_acquire_owned() else {
            return Box::pin(self.resolver.resolve_after_miss(request)).await;
        };
        // Run in this task; only a resolution that outlives the client's
        // deadline is handed to a task of its own, to finish and fill the
        // cache (a spawn per miss cost a task and a wake-up per query).
        let resolver = self.resolver.clone();
        let req = request.clone();
        let mut work = Box::pin(async move {
            let _permit = permit;
            resolver.resolve_after_miss(&req).await
        });
        // A panic in the engine (there should be none) is a SERVFAIL for
        // this client, as it was when every resolution had its own task.
        let guarded = std::panic::AssertUnwindSafe(&mut work).catch_unwind();
        match tokio::time::timeout(limit, guarded).await {
            Ok(Ok(res)) => res,
            Ok(Err(_)) => {
                Resolution::failed(Failure::Internal("resolution task failed"), Vec::new())
            }
            Err(_) => {
                drop(rt.spawn(work));
                let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
                tracing::debug!(qname = %request.name, qtype = %request.qtype, ms, "client deadline: SERVFAIL, resolution goes on");
                let waiting = self.resolver.waiting_on(request);
                Resolution::failed(Failure::ClientDeadline { ms, waiting }, Vec::new())
            }
        }
    }

    /// The extended DNS errors (RFC 8914) a resolution's reply carries: why
    /// it failed, that it is stale (§4.4, §4.20), or that it is insecure
    /// for an unsupported algorithm or digest (§4.2, §4.3).
    fn add_resolution_edes(&self, m: &mut Message, res: &Resolution) {
        if m.edns.is_none() {
            return;
        }
        if let Some(f) = &res.failure {
            let (code, text) = ede_for(f);
            wire::add_ede(m, code, &explain(&text, &res.causes));
        }
        // Insecure for want of an algorithm or digest: said, as Unbound does.
        if let crate::dnssec::Security::Unsupported(b) = &res.security {
            wire::add_ede(m, b.kind.ede_code(), &format!("DNSSEC: {}", b.text));
        }
        if res.stale && self.resolver.config().cache.ede_serve_expired {
            if res.rcode == ResponseCode::NXDomain {
                wire::add_ede(m, EDE_STALE_NXDOMAIN, "Stale NXDOMAIN Answer");
            } else {
                wire::add_ede(m, EDE_STALE_ANSWER, "Stale Answer");
            }
        }
    }

    /// The reply a local zone gives (AA=1, never a packet cache entry); a
    /// local CNAME's target is resolved (as Unbound does) and the reply is
    /// then the resolver's, with the CNAME in front.
    async fn local_reply(
        &self,
        query: &Message,
        local: LocalAnswer,
        request: Request,
    ) -> Option<(Message, Option<(u64, Mono)>)> {
        let LocalAnswer::Reply {
            rcode,
            answers,
            authorities,
            follow,
            ede,
        } = local
        else {
            return None;
        };
        let mut m = self.reply_skeleton(query, rcode);
        m.metadata.authoritative = true;
        m.metadata.recursion_available = true;
        m.answers = answers;
        m.authorities = authorities;
        if let (Some((code, text)), true) = (ede, m.edns.is_some()) {
            wire::add_ede(&mut m, code, text);
        }
        if let Some(target) = follow {
            let next = Request {
                name: target,
                ..request
            };
            let res = if next.recursion_desired {
                Box::pin(self.resolver.resolve(&next)).await
            } else {
                // RD=0: the target from the cache if it is there, else the
                // local CNAME alone (no referral after an answer).
                match self.resolver.resolve_cached(&next).await {
                    Some(hit) if hit.failure.is_none() => hit,
                    _ => return Some((m, None)),
                }
            };
            m.metadata.authoritative = false;
            m.metadata.response_code = res.rcode;
            self.add_resolution_edes(&mut m, &res);
            m.answers.extend(res.answers);
            m.authorities = res.authorities;
            m.additionals = res.additionals;
        }
        Some((m, None))
    }

    /// Resolves `request` (from the cache when it can), with the response
    /// policies applied on the way and to the answer: the resolution and
    /// whether it may be a packet cache entry, or what a policy says
    /// instead. `passthru`: a policy already let the query through.
    async fn resolve_policed(
        &self,
        request: &Request,
        q: &crate::rpz::Query<'_>,
        mut passthru: bool,
    ) -> Policed {
        // Read before resolving: an insert meanwhile makes the entry stale.
        let generation = self.resolver.cache().generation();
        let before = self.resolver.clock().now();
        // The cache-only attempt is made here (and skipped by the resolver
        // after a miss), which tells a reply made from the cache alone from
        // one that merely joined another client's resolution.
        let lookup = async {
            match self.resolver.resolve_cached(request).await {
                Some(hit) => {
                    self.stats.cache(true);
                    querylog::note_cached();
                    // A hit due for a prefetch is not kept as a packet: the
                    // next hit must come this way again until refreshed.
                    let ok = packet_cacheable(&hit, request.qtype) && !hit.refresh;
                    (hit, ok.then_some((generation, before)))
                }
                None => {
                    self.stats.cache(false);
                    let (res, ok) = self.resolve_miss(request).await;
                    (res, ok.then_some((generation, before)))
                }
            }
        };
        let policy = !self.rpz.is_empty();
        let (mut res, mut cacheable) = if passthru && policy {
            // A policy let this query through: none applies on the way.
            crate::engine::without_policy(lookup).await
        } else {
            lookup.await
        };
        if !policy {
            return Policed::Resolved(res, cacheable);
        }
        let mut handled: Vec<hickory_proto::rr::Name> = Vec::new();
        let hops = self.resolver.config().resolver.max_cname_hops as usize;
        // Resolving on without the engine consulting the policy (whose
        // stops were for another client's resolution this one joined).
        let mut engine_off = false;
        loop {
            let mut stopped_at = None;
            if let Some(Failure::PolicyAlias(target)) = &res.failure {
                // The chain up to a CNAME target with a trigger: `after`
                // walks it.
                stopped_at = Some(target.to_lowercase());
                res.failure = None;
                res.rcode = ResponseCode::NoError;
                res.security = crate::dnssec::Security::Unchecked;
            }
            // Where to resolve on from, if anywhere.
            let from = if let Some(Failure::Policy(cut)) = &res.failure {
                // The engine stopped at servers a policy has a trigger for.
                let verdict = if passthru {
                    None
                } else {
                    self.rpz
                        .at_zone_cut(q, &res.answers, &cut.ns_names, &cut.addrs)
                };
                match verdict {
                    Some(After::Answer(s)) => return Policed::Answer(s),
                    Some(After::Drop) => return Policed::Drop,
                    passed => {
                        // Passthru: the rest without any policy, from the
                        // name the engine stopped at. None: no trigger for
                        // this client (the stop was for another's): on
                        // without the engine's stops.
                        if passed.is_some() {
                            passthru = true;
                        }
                        engine_off = true;
                        let chain = std::mem::take(&mut res.answers);
                        let last = crate::rpz::chain_end(q.name, &chain);
                        res.answers = chain;
                        res.failure = None;
                        last
                    }
                }
            } else if res.failure.is_some() {
                break;
            } else {
                match self
                    .rpz
                    .after(q, res.rcode, &res.answers, &handled, passthru)
                {
                    After::Keep => match stopped_at {
                        // Stopped for another client's policy: on from there.
                        Some(t)
                            if !handled.contains(&t)
                                && crate::rpz::chain_end(q.name, &res.answers).to_lowercase()
                                    == t =>
                        {
                            engine_off = true;
                            t
                        }
                        _ => break,
                    },
                    After::Drop => return Policed::Drop,
                    After::Answer(s) => return Policed::Answer(s),
                    After::Continue { from, passthru: p } => {
                        // The engine stopped at a CNAME target the policy
                        // lets through: resolve on from there.
                        passthru |= p;
                        from
                    }
                }
            };
            cacheable = None;
            if handled.len() > hops {
                break;
            }
            let next = Request {
                name: from,
                ..request.clone()
            };
            let more = if passthru || engine_off {
                Box::pin(crate::engine::without_policy(self.resolver.resolve(&next))).await
            } else {
                Box::pin(self.resolver.resolve(&next)).await
            };
            // Each stop is counted, so that this ends.
            handled.push(next.name.clone());
            res.rcode = more.rcode;
            res.answers.extend(more.answers);
            res.authorities = more.authorities;
            res.additionals = more.additionals;
            res.failure = more.failure;
            res.stale |= more.stale;
            res.security = crate::dnssec::Security::Unchecked;
        }
        Policed::Resolved(res, cacheable)
    }

    /// The reply a response policy makes; a CNAME it answers whose target
    /// is to be resolved is followed (the policies applied to the target
    /// as to any CNAME target), the flags of the policy's answer kept.
    async fn rpz_reply(
        &self,
        query: &Message,
        s: Synth,
        request: Request,
        q: &crate::rpz::Query<'_>,
    ) -> Option<(Message, Option<(u64, Mono)>)> {
        let mut m = self.reply_skeleton(query, s.rcode);
        m.metadata.authoritative = s.authoritative;
        m.metadata.truncation = s.truncated;
        m.metadata.recursion_available = !s.clear_ra;
        m.answers = s.answers;
        m.additionals = s.additionals;
        let mut follow = s.follow;
        let mut follow_aa = s.follow_aa;
        let mut hops = 0;
        while let Some(target) = follow.take() {
            hops += 1;
            if hops > self.resolver.config().resolver.max_cname_hops {
                m.metadata.response_code = ResponseCode::ServFail;
                break;
            }
            let tq = crate::rpz::Query {
                name: &target,
                ..*q
            };
            let next = Request {
                name: target.clone(),
                ..request.clone()
            };
            let step = match self.rpz.at_target(&tq) {
                Some(After::Answer(s)) => Policed::Answer(s),
                Some(After::Drop) => return None,
                passed if next.recursion_desired => {
                    let passthru = matches!(passed, Some(After::Keep));
                    self.resolve_policed(&next, &tq, passthru).await
                }
                // RD=0: the target from the cache if it is there, else the
                // CNAME alone (no referral after an answer).
                _ => match self.resolver.resolve_cached(&next).await {
                    Some(hit) if hit.failure.is_none() => Policed::Resolved(hit, None),
                    _ => break,
                },
            };
            match step {
                Policed::Drop => return None,
                Policed::Answer(s) => {
                    m.metadata.response_code = s.rcode;
                    m.metadata.authoritative &= s.authoritative;
                    m.metadata.truncation |= s.truncated;
                    m.metadata.recursion_available &= !s.clear_ra;
                    m.answers.extend(s.answers);
                    m.additionals = s.additionals;
                    follow = s.follow;
                    follow_aa &= s.follow_aa;
                }
                Policed::Resolved(res, _) => {
                    m.metadata.authoritative &= follow_aa;
                    m.metadata.response_code = res.rcode;
                    self.add_resolution_edes(&mut m, &res);
                    m.answers.extend(res.answers);
                    m.authorities = res.authorities;
                    m.additionals = res.additionals;
                }
            }
        }
        Some((m, None))
    }

    /// Answers the client's cookie with a fresh server cookie (RFC 9018).
    fn add_cookie(&self, m: &mut Message, client_cookie: &[u8; 8], client: SocketAddr) {
        let now = self.resolver.clock().unix_secs();
        let server = cookie::server_cookie(&self.cookie_secret, client_cookie, client.ip(), now);
        cookie::answer(m, client_cookie, &server);
    }

    /// Re-resolves `request` in the background (prefetch, or the refresh
    /// behind a stale answer); the engine merges it with an identical
    /// resolution in flight. Without a tokio runtime (a caller driving the
    /// handler by hand) there is no background, and no refresh.
    fn spawn_refresh(&self, request: Request) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.resolver.refresh_running(&request) {
            return;
        }
        let Ok(permit) = self.refreshes.clone().try_acquire_owned() else {
            tracing::debug!(qname = %request.name, "too many background refreshes: skipped");
            return;
        };
        let resolver = self.resolver.clone();
        rt.spawn(async move {
            let _permit = permit;
            let res = resolver.resolve_refresh(&request).await;
            tracing::debug!(
                qname = %request.name,
                qtype = %request.qtype,
                rcode = %res.rcode,
                "background refresh done"
            );
        });
    }
}

/// A resolution with the response policies applied.
enum Policed {
    /// The resolver's answer, and when it may be a packet cache entry.
    Resolved(Resolution, Option<(u64, Mono)>),
    /// What a policy answers instead.
    Answer(Synth),
    /// No reply.
    Drop,
}

/// Whether a resolution from the cache alone may be kept as a packet:
/// NOERROR or NXDOMAIN without failure, and with a record (hence a TTL) from
/// every cache entry it came from: a positive answer ends in a record of
/// the type asked; a negative one carries its SOA.
fn packet_cacheable(res: &Resolution, qtype: RecordType) -> bool {
    if res.failure.is_some() {
        return false;
    }
    match res.rcode {
        ResponseCode::NXDomain => !res.authorities.is_empty(),
        ResponseCode::NoError => {
            !res.authorities.is_empty()
                || res.answers.last().is_some_and(|r| r.record_type() == qtype)
        }
        _ => false,
    }
}

/// RFC 7871 §7.2.2: a client that sent ECS gets its option back, with
/// the scope the answer holds for (0: every client).
fn echo_client_subnet(query: &Message, reply: &mut Message, scope: u8) {
    let (Some(o), Some(e)) = (client_ecs(query), reply.edns.as_mut()) else {
        return;
    };
    let scope = if o.source_prefix() == 0 { 0 } else { scope };
    let echoed = ClientSubnet::new(o.addr(), o.source_prefix(), scope);
    e.options_mut().insert(EdnsOption::Subnet(echoed));
}

/// The EDNS Client Subnet option a client sent, if any.
fn client_ecs(query: &Message) -> Option<ClientSubnet> {
    match query.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(*s),
        _ => None,
    }
}

/// The extended DNS error (RFC 8914 §4) that explains a failure.
pub fn ede_for(failure: &Failure) -> (u16, String) {
    let code = match failure {
        Failure::NoReachableAuthority | Failure::AllLame | Failure::NoNsAddress => 22,
        // RFC 8914 §4.21 Not Authoritative: what Unbound sends for RD=0 misses.
        Failure::NotCached => 20,
        Failure::QueryBudget(_) | Failure::CnameChain(_) | Failure::CnameLoop | Failure::Depth => 0,
        Failure::Timeout => 22,
        Failure::ServersDown { .. } => 22,
        // RFC 8914 §4.14: Cached Error.
        Failure::Remembered { .. } => 13,
        Failure::ClientDeadline { .. } => 22,
        Failure::Internal(_) => 0,
        // RFC 8914 §4.23 Network Error would mislead: nothing was asked.
        Failure::LocalCopyUnusable(_) => 0,
        // RFC 8914 §4.14: Cached Error.
        Failure::RecentlyFailed => 13,
        Failure::Dnssec(b) => b.kind.ede_code(),
        // Only seen when no policy handled it.
        Failure::Policy(_) | Failure::PolicyAlias(_) => 0,
    };
    (code, failure.to_string())
}
