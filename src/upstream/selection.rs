//! Server selection among a zone's replicas: a smoothed RTT and RTT
//! variance per server address (RFC 6298 §2), a retransmission timeout that
//! doubles on every loss up to a cap (RFC 6298 §5.5), and a hold-down for a
//! server that keeps timing out, re-probed at most once per hold-down
//! interval; each failed probe doubles the interval, from
//! `holddown_initial` up to `holddown` (RFC 9520 §3.2: failures remembered
//! at least 1 s, backing off). The idea follows Unbound's `util/rtt.c`
//! and infra cache and PowerDNS's throttle.
//!
//! The engine tells what became of each query in one call, `note`, with a
//! typed `Outcome`. Besides the timing, a server's entry keeps, for
//! `upstream.infra_ttl` (as Unbound's `infra-host-ttl`), whether it does
//! EDNS and the zones it was lately lame for or answered REFUSED, SERVFAIL
//! or another error for (at most `MAX_LAME_ZONES` a server): such a server
//! goes after the others of that zone until the fact expires or it serves
//! the zone well again.
//!
//! All functions take `now`; nothing here reads a clock.

use hashbrown::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::Name;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::clock::Mono;
use crate::config::UpstreamConfig;

/// Servers remembered at most; beyond, the table is cleared of the
/// least useful half (a bound on memory, not a cache of value).
const MAX_TRACKED_SERVERS: usize = 100_000;

/// Zones a server is remembered failing at most; a new one pushes out the
/// fact that would expire first (Unbound bounds the same facts by its
/// whole infra cache, `infra-cache-numhosts`).
pub const MAX_LAME_ZONES: usize = 8;

/// What became of one query to a server, as the engine judged it: the one
/// thing selection learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A reply came back after `rtt`, of whatever use; `edns` when it
    /// carried an OPT record.
    Replied {
        rtt: Duration,
        edns: bool,
    },
    /// The reply served the zone (an answer, a referral down, NODATA,
    /// NXDOMAIN): whatever the server was held to for the zone is cleared.
    Served,
    /// No reply within the timeout.
    Timeout,
    /// The network said no (unreachable, connection closed): retried like
    /// a timeout, not held against the server.
    Unreachable,
    /// A reply that could not be used (malformed, for another question):
    /// not held against the server, as anyone on the path can send one.
    Garbage,
    /// FORMERR without OPT to a query with EDNS: the server does not do
    /// EDNS (RFC 6891 §7), and is asked without it.
    NoEdns,
    /// Lame for the zone: a referral upward or sideways, or no
    /// authoritative answer for a zone it should serve.
    Lame,
    Refused,
    ServFail,
    /// Another error rcode (NOTIMP, FORMERR to a query without EDNS).
    Error,
}

impl Outcome {
    /// A few words for reports (`tern ctl lookup`).
    pub fn text(self) -> &'static str {
        match self {
            Self::Replied { .. } => "replied",
            Self::Served => "served",
            Self::Timeout => "timed out",
            Self::Unreachable => "unreachable",
            Self::Garbage => "unusable reply",
            Self::NoEdns => "no EDNS",
            Self::Lame => "lame",
            Self::Refused => "REFUSED",
            Self::ServFail => "SERVFAIL",
            Self::Error => "error rcode",
        }
    }
}

/// A zone a server failed lately: how, and until when that is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct LameZone {
    pub zone: Name,
    pub why: Outcome,
    pub until: Mono,
}

/// What is known of a server's EDNS support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edns {
    Unknown,
    /// A reply carried OPT.
    Supported,
    /// It answered FORMERR to EDNS: asked without it until then.
    Unsupported {
        until: Mono,
    },
}

/// Which kind of question went unanswered: servers that drop AAAA
/// queries but answer A exist, so the kinds are held down apart (as
/// Unbound's infra cache counts A, AAAA and other timeouts apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    A,
    Aaaa,
    Other,
}

impl QueryKind {
    pub fn of(t: hickory_proto::rr::RecordType) -> Self {
        match t {
            hickory_proto::rr::RecordType::A => Self::A,
            hickory_proto::rr::RecordType::AAAA => Self::Aaaa,
            _ => Self::Other,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::A => 1,
            Self::Aaaa => 2,
            Self::Other => 4,
        }
    }
}

/// What we know about one server address.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStats {
    /// Smoothed RTT, None until the first measurement.
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
    /// Current retransmission timeout (backed off after losses).
    pub rto: Duration,
    /// Timeouts in a row since the last reply.
    pub timeouts_in_row: u32,
    /// Held down until this time.
    pub held_until: Option<Mono>,
    /// Since when the server has given no reply (held down), for reports.
    pub down_since: Option<Mono>,
    /// Probes that failed since it was held down: the hold-down doubles
    /// with each.
    pub failed_probes: u32,
    /// The kinds of question it left unanswered while held down (bits of
    /// `QueryKind`).
    down_kinds: u8,
    /// When it last replied to anything.
    pub last_reply: Option<Mono>,
    /// Whether it does EDNS.
    pub edns: Edns,
    /// Zones it failed lately, each until its fact expires (at most
    /// `MAX_LAME_ZONES`).
    pub lame: Vec<LameZone>,
    /// Last time the entry was used, for trimming.
    pub last_used: Mono,
}

impl ServerStats {
    fn new(cfg: &UpstreamConfig, now: Mono) -> Self {
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: cfg.initial_rto,
            timeouts_in_row: 0,
            held_until: None,
            down_since: None,
            failed_probes: 0,
            down_kinds: 0,
            last_reply: None,
            edns: Edns::Unknown,
            lame: Vec::new(),
            last_used: now,
        }
    }

    /// How long the server is held down after `failed_probes` failed
    /// probes: `holddown_initial` doubled each time, at most `holddown`.
    pub fn holddown_for(failed_probes: u32, cfg: &UpstreamConfig) -> Duration {
        let factor = 1u32.checked_shl(failed_probes.min(31)).unwrap_or(u32::MAX);
        cfg.holddown_initial
            .saturating_mul(factor)
            .min(cfg.holddown)
    }

    /// Holds the server down (it gave no reply): the first time for
    /// `holddown_initial`, after a failed probe for twice the last time.
    pub fn hold_down(&mut self, kind: QueryKind, cfg: &UpstreamConfig, now: Mono) {
        self.down_kinds |= kind.bit();
        if self.down_since.is_some() {
            self.failed_probes = self.failed_probes.saturating_add(1);
        } else {
            self.down_since = Some(now);
        }
        self.held_until = Some(now + Self::holddown_for(self.failed_probes, cfg));
    }

    /// RFC 6298 §2.2/§2.3: update SRTT and RTTVAR from a measurement, then
    /// RTO = SRTT + 4·RTTVAR within [min_rto, max_rto].
    pub fn on_reply(&mut self, rtt: Duration, cfg: &UpstreamConfig, now: Mono) {
        let (srtt, rttvar) = match self.srtt {
            None => (rtt, rtt / 2),
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                (srtt * 7 / 8 + rtt / 8, self.rttvar * 3 / 4 + diff / 4)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        self.rto = (srtt + rttvar * 4).clamp(cfg.min_rto, cfg.max_rto);
        self.timeouts_in_row = 0;
        self.held_until = None;
        self.down_since = None;
        self.failed_probes = 0;
        self.down_kinds = 0;
        self.last_reply = Some(now);
        self.last_used = now;
    }

    /// RFC 6298 §5.5: back off the timer (double, capped). After enough
    /// losses in a row the server is held down; a server already held
    /// down (this was its probe) is held down twice as long again.
    pub fn on_timeout(&mut self, kind: QueryKind, cfg: &UpstreamConfig, now: Mono) {
        self.rto = (self.rto * 2).min(cfg.max_rto);
        self.timeouts_in_row = self.timeouts_in_row.saturating_add(1);
        if self.down_since.is_some() || self.timeouts_in_row >= cfg.holddown_after_timeouts {
            self.hold_down(kind, cfg, now);
        }
        self.last_used = now;
    }

    /// Takes in what became of a query for `zone` (a question of `kind`).
    pub fn note(
        &mut self,
        zone: &Name,
        kind: QueryKind,
        outcome: Outcome,
        cfg: &UpstreamConfig,
        now: Mono,
    ) {
        match outcome {
            Outcome::Replied { rtt, edns } => {
                self.on_reply(rtt, cfg, now);
                if edns {
                    self.edns = Edns::Supported;
                }
            }
            Outcome::Served => self.lame.retain(|l| l.zone != *zone),
            Outcome::Timeout => self.on_timeout(kind, cfg, now),
            Outcome::Unreachable | Outcome::Garbage => {}
            Outcome::NoEdns => {
                self.edns = Edns::Unsupported {
                    until: now + cfg.infra_ttl,
                }
            }
            Outcome::Lame | Outcome::Refused | Outcome::ServFail | Outcome::Error => {
                self.set_lame(zone, outcome, now + cfg.infra_ttl, now)
            }
        }
        self.last_used = now;
    }

    /// Remembers that the server failed `zone` until `until`; expired
    /// facts go first, then, when `MAX_LAME_ZONES` are kept, the one that
    /// would expire first.
    fn set_lame(&mut self, zone: &Name, why: Outcome, until: Mono, now: Mono) {
        self.lame.retain(|l| l.until > now && l.zone != *zone);
        if self.lame.len() >= MAX_LAME_ZONES {
            let first = self
                .lame
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| l.until)
                .map(|(i, _)| i);
            if let Some(i) = first {
                self.lame.swap_remove(i);
            }
        }
        self.lame.push(LameZone {
            zone: zone.clone(),
            why,
            until,
        });
    }

    /// How the server failed `zone` lately, if it did and that is still
    /// remembered at `now`.
    pub fn lame_for(&self, zone: &Name, now: Mono) -> Option<Outcome> {
        self.lame
            .iter()
            .find(|l| l.until > now && l.zone == *zone)
            .map(|l| l.why)
    }

    /// Whether the server is to be asked without EDNS at `now`.
    pub fn no_edns(&self, now: Mono) -> bool {
        matches!(self.edns, Edns::Unsupported { until } if until > now)
    }

    /// Whether the server is held down at `now`.
    pub fn is_held(&self, now: Mono) -> bool {
        self.held_until.is_some_and(|t| t > now)
    }

    /// The time we expect a query to take: the SRTT once measured, else the
    /// RTO (so unmeasured servers rank after measured fast ones).
    pub fn estimate(&self) -> Duration {
        match self.srtt {
            Some(s) if self.timeouts_in_row == 0 => s,
            _ => self.rto,
        }
    }
}

/// The table of server statistics shared by all resolutions.
pub struct Selection {
    cfg: UpstreamConfig,
    servers: Mutex<HashMap<SocketAddr, ServerStats>>,
    /// Breaks ties between equally good servers: the thread's random
    /// generator unless seeded (tests seed it, so that one run shows the
    /// one server order a scenario gets).
    rng: Mutex<Option<StdRng>>,
}

impl Selection {
    pub fn new(cfg: UpstreamConfig) -> Self {
        Self {
            cfg,
            servers: Mutex::new(HashMap::new()),
            rng: Mutex::new(None),
        }
    }

    /// Makes server order reproducible: ties are broken by a generator
    /// seeded with `seed` from now on.
    pub fn seed(&self, seed: u64) {
        if let Ok(mut rng) = self.rng.lock() {
            *rng = Some(StdRng::seed_from_u64(seed));
        }
    }

    /// Shuffles `items` with the seeded generator, if any, else at random.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        match self.rng.lock().as_deref_mut() {
            Ok(Some(rng)) => items.shuffle(rng),
            _ => items.shuffle(&mut rand::rng()),
        }
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.cfg
    }

    fn with<R>(
        &self,
        addr: SocketAddr,
        now: Mono,
        f: impl FnOnce(&mut ServerStats, &UpstreamConfig) -> R,
    ) -> Option<R> {
        let mut map = self.servers.lock().ok()?;
        if map.len() >= MAX_TRACKED_SERVERS && !map.contains_key(&addr) {
            trim(&mut map);
        }
        let s = map
            .entry(addr)
            .or_insert_with(|| ServerStats::new(&self.cfg, now));
        Some(f(s, &self.cfg))
    }

    /// A copy of what we know of `addr`.
    pub fn stats(&self, addr: SocketAddr) -> Option<ServerStats> {
        self.servers.lock().ok()?.get(&addr).cloned()
    }

    /// Forgets every server's RTT, EDNS and hold-down state; returns how
    /// many servers were known (`tern ctl flush-servers`).
    pub fn clear(&self) -> usize {
        let Ok(mut map) = self.servers.lock() else {
            return 0;
        };
        let n = map.len();
        map.clear();
        n
    }

    /// The timeout to use for the next query to `addr`.
    pub fn rto(&self, addr: SocketAddr, now: Mono) -> Duration {
        self.with(addr, now, |s, _| s.rto)
            .unwrap_or(self.cfg.initial_rto)
    }

    /// What became of a query to `addr` for `zone` (a question of
    /// `kind`): the one way the engine tells what it saw.
    pub fn note(
        &self,
        addr: SocketAddr,
        zone: &Name,
        kind: QueryKind,
        outcome: Outcome,
        now: Mono,
    ) {
        if outcome == Outcome::Served {
            // Nothing to clear on a server never noted (a zone's local
            // copy, say): no entry is made for it.
            if let Ok(mut map) = self.servers.lock() {
                if let Some(s) = map.get_mut(&addr) {
                    s.note(zone, kind, outcome, &self.cfg, now);
                }
            }
            return;
        }
        self.with(addr, now, |s, c| s.note(zone, kind, outcome, c, now));
    }

    /// Holds `addr` down now (a zone step found none of its servers
    /// answering), unless it already is.
    pub fn mark_down(&self, addr: SocketAddr, kind: QueryKind, now: Mono) {
        self.with(addr, now, |s, c| {
            if !s.is_held(now) {
                s.hold_down(kind, c, now);
            } else {
                s.down_kinds |= kind.bit();
            }
        });
    }

    /// When every one of `addrs` is known dead: held down, having left
    /// questions of this kind unanswered (its hold-down may have ended:
    /// then a probe is due), and silent for at least `holddown_initial`
    /// (a server that answered other questions a moment ago only drops
    /// some: it is still asked). Since when the first of them went down
    /// and when the first hold-down ends.
    pub fn all_down(
        &self,
        addrs: &[SocketAddr],
        kind: QueryKind,
        now: Mono,
    ) -> Option<(Mono, Mono)> {
        let map = self.servers.lock().ok()?;
        let mut since: Option<Mono> = None;
        let mut until: Option<Mono> = None;
        let silent = |s: &ServerStats| {
            s.last_reply
                .is_none_or(|r| now.saturating_sub(r) >= self.cfg.holddown_initial)
        };
        for a in addrs {
            let s = map
                .get(a)
                .filter(|s| s.down_kinds & kind.bit() != 0 && silent(s))?;
            let held = s.held_until?;
            let down = s.down_since?;
            since = Some(since.map_or(down, |x| x.min(down)));
            until = Some(until.map_or(held, |x| x.min(held)));
        }
        since.zip(until)
    }

    /// Whether `addr` is held down at `now`.
    pub fn is_held(&self, addr: SocketAddr, now: Mono) -> bool {
        self.stats(addr).is_some_and(|s| s.is_held(now))
    }

    /// Whether `addr` is to be asked without EDNS at `now`.
    pub fn no_edns(&self, addr: SocketAddr, now: Mono) -> bool {
        self.servers
            .lock()
            .ok()
            .and_then(|m| m.get(&addr).map(|s| s.no_edns(now)))
            .unwrap_or(false)
    }

    /// Orders candidate servers of `zone`, best first: servers not held
    /// down by expected RTT (ties in random order, so equal replicas share
    /// load), then those that failed the zone lately (lame, REFUSED,
    /// SERVFAIL), then held-down servers whose hold-down has ended but
    /// which have not been probed yet. A server still held down is left
    /// out; if all are, the result is empty. Choosing a held-down server
    /// for its one probe restarts its hold-down (see `claim_probe`).
    pub fn order(&self, candidates: &[SocketAddr], zone: &Name, now: Mono) -> Vec<SocketAddr> {
        let Ok(map) = self.servers.lock() else {
            return candidates.to_vec();
        };
        let mut live: Vec<(Duration, SocketAddr)> = Vec::with_capacity(candidates.len());
        let mut lame: Vec<(Duration, SocketAddr)> = Vec::new();
        let mut probes: Vec<SocketAddr> = Vec::new();
        let mut shuffled = candidates.to_vec();
        self.shuffle(&mut shuffled);
        for addr in shuffled {
            match map.get(&addr) {
                None => live.push((self.cfg.initial_rto, addr)),
                Some(s) if s.is_held(now) => {}
                Some(s) if s.held_until.is_some() => probes.push(addr),
                Some(s) if s.lame_for(zone, now).is_some() => lame.push((s.estimate(), addr)),
                Some(s) => live.push((s.estimate(), addr)),
            }
        }
        live.sort_by_key(|(est, _)| *est);
        lame.sort_by_key(|(est, _)| *est);
        let mut out: Vec<SocketAddr> = live.into_iter().chain(lame).map(|(_, a)| a).collect();
        out.dedup();
        out.extend(probes);
        out
    }

    /// Called before sending to a server whose hold-down has passed: it gets
    /// one probe, and stays held down (for the length of its next
    /// hold-down) until that probe is answered; true when this caller won
    /// the probe.
    pub fn claim_probe(&self, addr: SocketAddr, now: Mono) -> bool {
        self.with(addr, now, |s, c| {
            if s.held_until.is_some_and(|t| t <= now) {
                // Held at least as long as the probe may take, so that no
                // second probe starts while it is out.
                let next = s.failed_probes.saturating_add(1);
                let hold = ServerStats::holddown_for(next, c)
                    .max(c.max_rto)
                    .max(c.tcp_timeout);
                s.held_until = Some(now + hold);
                true
            } else {
                false
            }
        })
        .unwrap_or(false)
    }
}

/// Drops the least recently used half of the table.
fn trim(map: &mut HashMap<SocketAddr, ServerStats>) {
    let mut ages: Vec<Mono> = map.values().map(|s| s.last_used).collect();
    ages.sort();
    if let Some(cut) = ages.get(ages.len() / 2).copied() {
        map.retain(|_, s| s.last_used > cut);
    }
}

#[cfg(test)]
mod tests;
