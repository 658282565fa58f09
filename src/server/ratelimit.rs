//! Per-client rate limit for UDP (`server.ratelimit`): a token bucket per
//! client network (an IPv4 /24 or IPv6 /56 by default), refilled at the
//! configured queries per second and holding at most one second's worth.
//! A query over the limit is dropped, except every `slip`-th, which gets an
//! empty TC=1 reply: a real client then asks over TCP, which is not
//! limited, while a forged source gains no amplification. The table is
//! bounded: past `MAX_NETWORKS`, networks idle for a second are forgotten,
//! and if that is not enough, all are.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use ipnet::IpNet;

use crate::clock::Mono;
use crate::config::ServerConfig;

/// Client networks tracked at most.
const MAX_NETWORKS: usize = 100_000;

/// What to do with one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Drop,
    /// Reply empty with TC=1.
    Slip,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Mono,
    /// Queries over the limit so far, for the slip count.
    limited: u64,
}

#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    slip: u64,
    v4_prefix: u8,
    v6_prefix: u8,
    buckets: Mutex<HashMap<IpNet, Bucket>>,
}

impl RateLimit {
    /// None when the config sets no limit.
    pub fn from_config(cfg: &ServerConfig) -> Option<Self> {
        (cfg.ratelimit > 0).then(|| Self {
            rate: f64::from(cfg.ratelimit),
            slip: u64::from(cfg.ratelimit_slip),
            v4_prefix: cfg.ratelimit_ipv4_prefix,
            v6_prefix: cfg.ratelimit_ipv6_prefix,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn network(&self, ip: IpAddr) -> IpNet {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let prefix = if ip.is_ipv4() {
            self.v4_prefix
        } else {
            self.v6_prefix
        };
        IpNet::new(ip, prefix)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(ip))
    }

    /// Counts a query from `ip` at `now`.
    pub fn check(&self, ip: IpAddr, now: Mono) -> Verdict {
        let net = self.network(ip);
        let Ok(mut map) = self.buckets.lock() else {
            return Verdict::Allow;
        };
        if map.len() >= MAX_NETWORKS && !map.contains_key(&net) {
            map.retain(|_, b| now.saturating_sub(b.last) < Duration::from_secs(1));
            if map.len() >= MAX_NETWORKS {
                map.clear();
            }
        }
        let rate = self.rate;
        let b = map.entry(net).or_insert(Bucket {
            tokens: rate,
            last: now,
            limited: 0,
        });
        let elapsed = now.saturating_sub(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Verdict::Allow;
        }
        b.limited += 1;
        if self.slip > 0 && b.limited % self.slip == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The empty TC=1 reply to a query (None if it is not a readable query).
pub fn slip_reply(query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    if q.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.truncation = true;
    m.queries = q.queries;
    m.to_vec().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn limiter(rate: u32, slip: u32) -> RateLimit {
        let cfg = ServerConfig {
            ratelimit: rate,
            ratelimit_slip: slip,
            ..ServerConfig::default()
        };
        RateLimit::from_config(&cfg).unwrap()
    }

    fn ms(n: u64) -> Mono {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_past_the_rate_is_dropped_with_every_second_slipped() {
        let rl = limiter(3, 2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let got: Vec<Verdict> = (0..7).map(|_| rl.check(ip, ms(0))).collect();
        use Verdict::*;
        assert_eq!(got, [Allow, Allow, Allow, Drop, Slip, Drop, Slip]);
        // Same /24: the same bucket; another network: its own.
        assert_eq!(rl.check("192.0.2.200".parse().unwrap(), ms(0)), Drop);
        assert_eq!(rl.check("192.0.3.1".parse().unwrap(), ms(0)), Allow);
        // A third of a second refills one token.
        assert_eq!(rl.check(ip, ms(340)), Allow);
        assert_eq!(rl.check(ip, ms(340)), Slip);
    }

    #[test]
    fn no_limit_when_zero_and_no_slip_when_zero() {
        assert!(RateLimit::from_config(&ServerConfig::default()).is_none());
        let rl = limiter(1, 0);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(rl.check(ip, ms(0)), Verdict::Allow);
        for _ in 0..5 {
            assert_eq!(rl.check(ip, ms(0)), Verdict::Drop);
        }
    }
}
