//! A `Transport` that counts what passes through another one: upstream
//! queries by protocol, timeouts and other failures, truncated replies,
//! and the time replies took (`tern ctl stats`, `/metrics`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{truncated_header, Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

/// Upper bounds (seconds) of the reply-time histogram's buckets.
pub const RTT_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The counts, shared between the transport and whoever reads them.
#[derive(Debug, Default)]
pub struct UpstreamCounters {
    udp: AtomicU64,
    tcp: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    /// UDP replies with TC=1 (each is asked again over TCP).
    truncated: AtomicU64,
    /// Replies per `RTT_BUCKETS` bucket (not cumulative), then beyond.
    rtt: [AtomicU64; RTT_BUCKETS.len() + 1],
    /// Sum of reply times, in microseconds.
    rtt_sum_us: AtomicU64,
}

/// The reply-time histogram: cumulative counts per bucket bound, the
/// count and the sum in seconds (Prometheus' histogram shape).
#[derive(Debug, Clone, PartialEq)]
pub struct RttHistogram {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl UpstreamCounters {
    /// Records one reply's time.
    pub fn observe(&self, seconds: f64) {
        let i = RTT_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(RTT_BUCKETS.len());
        if let Some(c) = self.rtt.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let us = (seconds * 1e6).clamp(0.0, u64::MAX as f64) as u64;
        self.rtt_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The reply times seen so far.
    pub fn rtt(&self) -> RttHistogram {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(RTT_BUCKETS.len() + 1);
        for (bound, c) in RTT_BUCKETS.iter().chain([&f64::INFINITY]).zip(&self.rtt) {
            total += c.load(Ordering::Relaxed);
            buckets.push((*bound, total));
        }
        RttHistogram {
            buckets,
            count: total,
            sum_seconds: self.rtt_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Every counter as (name, value).
    pub fn read(&self) -> BTreeMap<String, u64> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (udp, tcp) = (get(&self.udp), get(&self.tcp));
        BTreeMap::from([
            ("upstream.queries".to_string(), udp + tcp),
            ("upstream.udp".to_string(), udp),
            ("upstream.tcp".to_string(), tcp),
            ("upstream.timeouts".to_string(), get(&self.timeouts)),
            ("upstream.errors".to_string(), get(&self.errors)),
            ("upstream.truncated".to_string(), get(&self.truncated)),
        ])
    }
}

/// Wraps a transport, counting into shared `UpstreamCounters`.
#[derive(Clone)]
pub struct Counting<T> {
    inner: T,
    counters: Arc<UpstreamCounters>,
}

impl<T> Counting<T> {
    pub fn new(inner: T, counters: Arc<UpstreamCounters>) -> Self {
        Self { inner, counters }
    }
}

impl<T: Transport> Transport for Counting<T> {
    fn exchange(&self, query: UpstreamQuery) -> impl Future<Output = ReplyBytes> + Send {
        let counters = self.counters.clone();
        let sent = match query.protocol {
            Protocol::Udp => &counters.udp,
            Protocol::Tcp => &counters.tcp,
        };
        sent.fetch_add(1, Ordering::Relaxed);
        let udp = query.protocol == Protocol::Udp;
        let reply = self.inner.exchange(query);
        async move {
            let start = Instant::now();
            let reply = reply.await;
            match &reply {
                Ok(m) => {
                    counters.observe(start.elapsed().as_secs_f64());
                    if udp && truncated_header(m) {
                        counters.truncated.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(UpstreamFailure::Timeout) => {
                    counters.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            reply
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_times_fill_cumulative_buckets() {
        let c = UpstreamCounters::default();
        for s in [0.0005, 0.003, 0.003, 0.2, 9.0] {
            c.observe(s);
        }
        let h = c.rtt();
        assert_eq!(h.count, 5);
        assert_eq!(h.buckets.first(), Some(&(0.001, 1)));
        assert!(h.buckets.contains(&(0.005, 3)));
        assert!(h.buckets.contains(&(0.25, 4)));
        assert!(h.buckets.contains(&(5.0, 4)));
        assert_eq!(h.buckets.last(), Some(&(f64::INFINITY, 5)));
        assert!((h.sum_seconds - 9.2065).abs() < 1e-3, "{}", h.sum_seconds);
    }
}
