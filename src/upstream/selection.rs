//! Server selection among a zone's replicas: a smoothed RTT and RTT
//! variance per server address (RFC 6298 §2), a retransmission timeout that
//! doubles on every loss up to a cap (RFC 6298 §5.5), and a hold-down for a
//! server that keeps timing out, re-probed at most once per hold-down
//! interval; each failed probe doubles the interval, from
//! `holddown_initial` up to `holddown` (RFC 9520 §3.2: failures remembered
//! at least 1 s, backing off). The idea follows Unbound's `util/rtt.c`
//! and infra cache and PowerDNS's throttle.
//!
//! All functions take `now`; nothing here reads a clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::clock::Mono;
use crate::config::UpstreamConfig;

/// Servers remembered at most; beyond, the table is cleared of the
/// least useful half (a bound on memory, not a cache of value).
const MAX_TRACKED_SERVERS: usize = 100_000;

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
    /// The server answered FORMERR to EDNS: query it without.
    pub no_edns: bool,
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
            no_edns: false,
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

    pub fn on_reply(&self, addr: SocketAddr, rtt: Duration, now: Mono) {
        self.with(addr, now, |s, c| s.on_reply(rtt, c, now));
    }

    pub fn on_timeout(&self, addr: SocketAddr, kind: QueryKind, now: Mono) {
        self.with(addr, now, |s, c| s.on_timeout(kind, c, now));
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

    pub fn set_no_edns(&self, addr: SocketAddr, now: Mono) {
        self.with(addr, now, |s, _| s.no_edns = true);
    }

    pub fn no_edns(&self, addr: SocketAddr) -> bool {
        self.stats(addr).is_some_and(|s| s.no_edns)
    }

    /// Orders candidate servers, best first: servers not held down by
    /// expected RTT (ties in random order, so equal replicas share load),
    /// then held-down servers whose hold-down has ended but which have
    /// not been probed yet. A server still held down is left out; if all
    /// are, the result is empty. Choosing a held-down server for its one
    /// probe restarts its hold-down (see `claim_probe`).
    pub fn order(&self, candidates: &[SocketAddr], now: Mono) -> Vec<SocketAddr> {
        let Ok(map) = self.servers.lock() else {
            return candidates.to_vec();
        };
        let mut live: Vec<(Duration, SocketAddr)> = Vec::with_capacity(candidates.len());
        let mut probes: Vec<SocketAddr> = Vec::new();
        let mut shuffled = candidates.to_vec();
        self.shuffle(&mut shuffled);
        for addr in shuffled {
            match map.get(&addr) {
                None => live.push((self.cfg.initial_rto, addr)),
                Some(s) if s.is_held(now) => {}
                Some(s) if s.held_until.is_some() => probes.push(addr),
                Some(s) => live.push((s.estimate(), addr)),
            }
        }
        live.sort_by_key(|(est, _)| *est);
        let mut out: Vec<SocketAddr> = live.into_iter().map(|(_, a)| a).collect();
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
mod tests {
    use super::*;

    fn cfg() -> UpstreamConfig {
        UpstreamConfig::default()
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_seeded_selection_orders_equal_servers_the_same_way_each_time() {
        let servers: Vec<SocketAddr> = (1..=8)
            .map(|i| SocketAddr::from(([192, 0, 2, i], 53)))
            .collect();
        let orders = |seed: u64| -> Vec<Vec<SocketAddr>> {
            let sel = Selection::new(cfg());
            sel.seed(seed);
            (0..4)
                .map(|_| sel.order(&servers, Duration::ZERO))
                .collect()
        };
        let first = orders(7);
        assert_eq!(first, orders(7));
        // Ties are still broken (the orders differ), only reproducibly.
        assert!(first.iter().any(|o| *o != servers));
        assert!(first.iter().all(|o| o.len() == servers.len()));
    }

    #[test]
    fn rto_doubles_per_loss_up_to_cap() {
        let c = cfg();
        let mut s = ServerStats::new(&c, Duration::ZERO);
        let mut want = c.initial_rto;
        for _ in 0..10 {
            s.on_timeout(QueryKind::A, &c, Duration::ZERO);
            want = (want * 2).min(c.max_rto);
            assert_eq!(s.rto, want);
        }
        assert_eq!(s.rto, c.max_rto);
    }

    #[test]
    fn srtt_follows_rfc6298() {
        let c = cfg();
        let mut s = ServerStats::new(&c, Duration::ZERO);
        s.on_reply(ms(100), &c, Duration::ZERO);
        assert_eq!(s.srtt, Some(ms(100)));
        assert_eq!(s.rttvar, ms(50));
        assert_eq!(s.rto, ms(300));
        s.on_reply(ms(20), &c, Duration::ZERO);
        // srtt = 7/8·100 + 1/8·20 = 90; rttvar = 3/4·50 + 1/4·80 = 57.5
        assert_eq!(s.srtt, Some(ms(90)));
        assert_eq!(s.rttvar, Duration::from_micros(57_500));
    }

    #[test]
    fn held_down_after_repeated_timeouts_then_one_probe() {
        let c = cfg();
        let sel = Selection::new(c.clone());
        let dead: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let live: SocketAddr = "192.0.2.2:53".parse().unwrap();
        sel.on_reply(live, ms(10), Duration::ZERO);
        for _ in 0..c.holddown_after_timeouts {
            sel.on_timeout(dead, QueryKind::A, Duration::ZERO);
        }
        let t1 = c.holddown_initial / 2;
        assert_eq!(sel.order(&[dead, live], t1), vec![live]);
        // After the hold-down the dead server may be probed once.
        let t2 = c.holddown_initial + ms(1);
        assert_eq!(sel.order(&[dead, live], t2), vec![live, dead]);
        assert!(sel.claim_probe(dead, t2));
        assert!(!sel.claim_probe(dead, t2), "one probe at a time");
        assert_eq!(sel.order(&[dead, live], t2 + ms(1)), vec![live]);
        // A reply lifts the hold-down.
        sel.on_reply(dead, ms(5), t2 + ms(2));
        assert_eq!(sel.order(&[dead, live], t2 + ms(3)), vec![dead, live]);
        assert_eq!(sel.stats(dead).unwrap().down_since, None);
    }

    #[test]
    fn each_failed_probe_doubles_the_holddown_up_to_the_cap() {
        let c = UpstreamConfig {
            holddown_initial: Duration::from_secs(1),
            holddown: Duration::from_secs(10),
            ..cfg()
        };
        let sel = Selection::new(c.clone());
        let dead: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let mut now = Duration::from_secs(100);
        sel.mark_down(dead, QueryKind::A, now);
        let mut lengths = Vec::new();
        for _ in 0..6 {
            let s = sel.stats(dead).unwrap();
            let until = s.held_until.unwrap();
            lengths.push((until - now).as_secs());
            assert_eq!(s.down_since, Some(Duration::from_secs(100)));
            assert_eq!(
                sel.all_down(&[dead], QueryKind::A, now),
                Some((Duration::from_secs(100), until))
            );
            now = until;
            assert!(sel.claim_probe(dead, now));
            sel.on_timeout(dead, QueryKind::A, now);
        }
        assert_eq!(lengths, [1, 2, 4, 8, 10, 10]);
        // Down for A questions, not (yet) for AAAA ones.
        let now = now + ms(1);
        assert!(sel.all_down(&[dead], QueryKind::A, now).is_some());
        assert!(sel.all_down(&[dead], QueryKind::Aaaa, now).is_none());
        assert!(sel.is_held(dead, now));
    }

    #[test]
    fn a_server_that_replied_a_moment_ago_is_not_dead() {
        let c = cfg();
        let sel = Selection::new(c.clone());
        let flaky: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let t0 = Duration::from_secs(100);
        sel.on_reply(flaky, ms(5), t0);
        // It drops one name's queries: held down, but not known dead
        // until it has been silent for holddown_initial.
        for _ in 0..c.holddown_after_timeouts {
            sel.on_timeout(flaky, QueryKind::A, t0 + ms(10));
        }
        assert!(sel.is_held(flaky, t0 + ms(20)));
        assert!(sel.all_down(&[flaky], QueryKind::A, t0 + ms(20)).is_none());
        let later = t0 + c.holddown_initial;
        assert!(sel.all_down(&[flaky], QueryKind::A, later).is_some());
    }

    #[test]
    fn fastest_first_unknown_after_measured() {
        let sel = Selection::new(cfg());
        let a: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:53".parse().unwrap();
        let u: SocketAddr = "192.0.2.3:53".parse().unwrap();
        sel.on_reply(a, ms(80), Duration::ZERO);
        sel.on_reply(b, ms(8), Duration::ZERO);
        assert_eq!(sel.order(&[u, a, b], Duration::ZERO), vec![b, a, u]);
    }
}
