//! The authoritative server: each message passes through the server's
//! fault settings before the pure answer function, served by the same
//! front end as the resolver (`server::serve`: UDP, TCP with pipelining,
//! RFC 7766). Garbage in gives FORMERR or silence, never a panic. Work is
//! bounded: replies in flight and TCP connections are capped, idle TCP
//! connections time out, shutdown drains. Zone transfers (AXFR, TCP only) go only
//! to clients in `allow_transfer` (none by default), as NSD's
//! `provide-xfr` and BIND's `allow-transfer` gate them; others get REFUSED.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use rand::rngs::StdRng;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::faults::{rng, Faults, Verdict};
use crate::clock::{Clock, Mono, SystemClock};
use crate::server::{Limits, Service, Via};
use crate::wire;
use crate::zone::answer::{answer, axfr, reply_skeleton, DynamicSource, EDNS_PAYLOAD};
use crate::zone::ZoneSet;

/// Replies being prepared at once (delayed ones included); more UDP
/// queries are dropped, TCP ones wait.
const MAX_IN_FLIGHT: usize = 4096;
/// Open TCP connections (RFC 7766 §6.2.2 asks for a limit).
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP connection with no new query for this long is closed (RFC 7766 §6.2.3).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Largest DNS message over TCP (two-byte length).
const TCP_MAX: usize = 65_535;
/// How long shutdown waits for replies still being made.
const DRAIN: Duration = Duration::from_secs(2);

/// One authoritative server: its zones, optional dynamic names, faults.
pub struct AuthServer {
    name: String,
    /// Replaced whole when the zone files are read again (`tern auth` on
    /// SIGHUP or a changed file).
    zones: RwLock<Arc<ZoneSet>>,
    /// Replaced whole when the lab swaps a CDN policy file.
    dynamic: RwLock<Option<Arc<dyn DynamicSource>>>,
    faults: Arc<RwLock<Faults>>,
    rng: Mutex<StdRng>,
    /// Root NS + address records, for the `lame_upward` fault.
    upward: RwLock<Vec<Record>>,
    /// Networks allowed to transfer zones (AXFR); empty: nobody.
    allow_transfer: RwLock<Vec<ipnet::IpNet>>,
    clock: SystemClock,
}

impl AuthServer {
    pub fn new(name: &str, zones: Arc<ZoneSet>, dynamic: Option<Arc<dyn DynamicSource>>) -> Self {
        Self {
            name: name.to_string(),
            zones: RwLock::new(zones),
            dynamic: RwLock::new(dynamic),
            faults: Arc::new(RwLock::new(Faults::default())),
            rng: Mutex::new(rng(0x7e57)),
            upward: RwLock::new(Vec::new()),
            allow_transfer: RwLock::new(Vec::new()),
            clock: SystemClock::new(),
        }
    }

    /// Lets clients in `nets` transfer zones (AXFR); empty refuses all.
    pub fn set_allow_transfer(&self, nets: Vec<ipnet::IpNet>) {
        match self.allow_transfer.write() {
            Ok(mut g) => *g = nets,
            Err(p) => *p.into_inner() = nets,
        }
    }

    fn transfer_allowed(&self, client: std::net::IpAddr) -> bool {
        let check = |nets: &Vec<ipnet::IpNet>| nets.iter().any(|n| n.contains(&client));
        match self.allow_transfer.read() {
            Ok(g) => check(&g),
            Err(p) => check(&p.into_inner()),
        }
    }

    /// The zones served now.
    pub fn zones(&self) -> Arc<ZoneSet> {
        match self.zones.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Serves `zones` from now on (queries being answered finish with the
    /// old set).
    pub fn replace_zones(&self, zones: Arc<ZoneSet>) {
        match self.zones.write() {
            Ok(mut g) => *g = zones,
            Err(p) => *p.into_inner() = zones,
        }
    }

    /// Answers dynamic names from `dynamic` from now on.
    pub fn replace_dynamic(&self, dynamic: Option<Arc<dyn DynamicSource>>) {
        match self.dynamic.write() {
            Ok(mut g) => *g = dynamic,
            Err(p) => *p.into_inner() = dynamic,
        }
    }

    fn current_dynamic(&self) -> Option<Arc<dyn DynamicSource>> {
        match self.dynamic.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// A handle to change this server's faults while it runs.
    pub fn faults(&self) -> Arc<RwLock<Faults>> {
        self.faults.clone()
    }

    pub fn set_faults(&self, f: Faults) {
        match self.faults.write() {
            Ok(mut g) => *g = f,
            Err(p) => *p.into_inner() = f,
        }
    }

    /// The referral a `lame_upward` server gives (the lab passes the root's).
    pub fn set_upward_referral(&self, records: Vec<Record>) {
        match self.upward.write() {
            Ok(mut g) => *g = records,
            Err(p) => *p.into_inner() = records,
        }
    }

    pub fn seed(&self, seed: u64) {
        match self.rng.lock() {
            Ok(mut g) => *g = rng(seed),
            Err(p) => *p.into_inner() = rng(seed),
        }
    }

    fn current_faults(&self) -> Faults {
        match self.faults.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn with_rng<R>(&self, f: impl FnOnce(&mut StdRng) -> R) -> R {
        match self.rng.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// One message in, the messages to send back (none, one, or an AXFR
    /// stream over TCP). Faults apply here; delay is left to the caller.
    pub fn respond(&self, bytes: &[u8], client: SocketAddr, udp: bool) -> Vec<Vec<u8>> {
        let faults = self.current_faults();
        match self.with_rng(|r| faults.verdict(r)) {
            Verdict::Drop => return Vec::new(),
            Verdict::Garbage(g) => return vec![g],
            Verdict::Answer => {}
        }
        let query = match wire::parse(bytes) {
            Ok(q) => q,
            Err(wire::ParseError::NoHeader) => return Vec::new(),
            Err(wire::ParseError::Malformed {
                id,
                opcode,
                recursion_desired,
            }) => {
                if bytes.get(2).is_some_and(|b| b & 0x80 != 0) {
                    return Vec::new();
                }
                let mut r = wire::error_reply(id, opcode, recursion_desired, ResponseCode::FormErr);
                r.metadata.recursion_available = false;
                return wire::encode(&r).into_iter().collect();
            }
        };
        if query.metadata.message_type == MessageType::Response {
            return Vec::new();
        }
        let zones = self.zones();
        let is_axfr = query
            .queries
            .first()
            .is_some_and(|q| q.query_type() == RecordType::AXFR);
        if is_axfr && !udp && faults.is_clear() {
            if !self.transfer_allowed(client.ip()) {
                tracing::info!(server = %self.name, client = %client, "AXFR refused: client not in allow_transfer");
                let mut r = reply_skeleton(&query);
                r.metadata.response_code = ResponseCode::Refused;
                return wire::encode(&r).into_iter().collect();
            }
            return match axfr(&zones, &query) {
                Ok(msgs) => msgs
                    .iter()
                    .filter_map(|m| wire::encode_limited(m, TCP_MAX))
                    .collect(),
                Err(r) => wire::encode(&r).into_iter().collect(),
            };
        }
        let dynamic = self.current_dynamic();
        let mut reply = answer(&zones, &query, client.ip(), dynamic.as_deref());
        if faults.lame_upward {
            let upward = match self.upward.read() {
                Ok(g) => g.clone(),
                Err(p) => p.into_inner().clone(),
            };
            faults.mangle(&mut reply, &zones, &upward, udp);
        } else {
            faults.mangle(&mut reply, &zones, &[], udp);
        }
        tracing::debug!(
            server = %self.name,
            client = %client,
            qname = %query.queries.first().map(|q| q.name().to_string()).unwrap_or_default(),
            rcode = %reply.metadata.response_code,
            answers = reply.answers.len(),
            "auth reply"
        );
        let limit = match udp {
            true => wire::client_udp_limit(&query, EDNS_PAYLOAD),
            false => TCP_MAX,
        };
        wire::encode_limited(&reply, limit).into_iter().collect()
    }

    fn delay(&self) -> Duration {
        let faults = self.current_faults();
        self.with_rng(|r| faults.delay(r))
    }

    /// Serves on the sockets until `shutdown` completes, with the front
    /// end every tern server has (`server::serve`): bounded queries in
    /// flight, TCP pipelining, connection caps and idle timeouts, and a
    /// bounded drain at the end.
    pub async fn serve(
        self: &Arc<Self>,
        udp: Vec<UdpSocket>,
        tcp: Vec<TcpListener>,
        shutdown: impl Future,
    ) {
        crate::server::serve(self.clone(), limits(), udp, tcp, shutdown).await
    }

    /// `serve` in a task of its own, until `Serving::stop`.
    pub fn spawn(self: &Arc<Self>, udp: Vec<UdpSocket>, tcp: Vec<TcpListener>) -> Serving {
        let server = self.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(udp, tcp, async {
                    let _ = stopped.await;
                })
                .await
        });
        Serving {
            stop: Some(stop),
            task,
        }
    }
}

/// A server running in its own task.
pub struct Serving {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Stops serving and waits until the sockets are closed (queries in
    /// flight drained, bounded), so their addresses can be bound again.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Stops at once, without waiting (the sockets close soon after).
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// The authoritative server's limits: many replies at once (delayed ones
/// included), a cap on TCP connections with an idle timeout (RFC 7766
/// §6.2.2, §6.2.3); no rate limit and no encrypted listeners.
fn limits() -> Limits {
    Limits {
        max_queries: MAX_IN_FLIGHT,
        tcp: (MAX_TCP_CONNECTIONS, 0, TCP_IDLE),
        tls: (1, 0, TCP_IDLE),
        ratelimit: None,
        drain: DRAIN,
        udp_threads: false,
    }
}

impl Service for AuthServer {
    fn answer(
        self: &Arc<Self>,
        query: Vec<u8>,
        client: SocketAddr,
        via: Via,
    ) -> impl Future<Output = Vec<Vec<u8>>> + Send + 'static {
        let server = self.clone();
        async move {
            let delay = server.delay();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            server.respond(&query, client, via == Via::Udp)
        }
    }

    fn now(&self) -> Mono {
        self.clock.now()
    }
}

/// `10.0.0.0/8`, or one address (`192.0.2.1` is `192.0.2.1/32`).
pub fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("{s} is not a network (ADDR/LEN) or an address"))
}

/// Binds UDP and TCP on each address (port 0 picks one; TCP then reuses
/// the UDP port so both share an address).
pub async fn bind(addrs: &[SocketAddr]) -> std::io::Result<(Vec<UdpSocket>, Vec<TcpListener>)> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for a in addrs {
        let u = UdpSocket::bind(a).await?;
        let bound = u.local_addr()?;
        let t = TcpListener::bind(bound).await?;
        udp.push(u);
        tcp.push(t);
    }
    Ok((udp, tcp))
}
