//! Prometheus metrics over HTTP (`[metrics] listen`): `GET /metrics`
//! answers the counters of `tern ctl stats` in the Prometheus text format
//! (version 0.0.4), read at scrape time, plus the upstream reply-time
//! histogram. The format is written by `prometheus-client`; HTTP is
//! `hyper`'s. Label sets are bounded: they come from the fixed lists in
//! `stats.rs` (query types, RCODEs, EDE codes) or from protocol and status
//! names.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::server::control::counters;
use crate::server::Current;
use crate::upstream::counting::UpstreamCounters;
use crate::upstream::Transport;

/// Scrapes served at once; more wait for a slot.
const MAX_CONNECTIONS: usize = 16;
/// A connection (request read, answer written) gets this long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a family's samples come from in the dotted counters.
enum Source {
    /// One counter, no labels.
    Key(&'static str),
    /// Counters under a prefix; the rest of the name is the label value.
    Prefix(&'static str),
    /// Counters named one by one, each with its label value.
    Keys(&'static [(&'static str, &'static str)]),
}

/// One metric family: name (counters get `_total` from the encoder),
/// help, type, label name (for `Prefix` and `Keys`), source.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    label: &'static str,
    source: Source,
}

const fn counter(
    name: &'static str,
    help: &'static str,
    label: &'static str,
    source: Source,
) -> Family {
    Family {
        name,
        help,
        kind: MetricType::Counter,
        label,
        source,
    }
}

const fn gauge(name: &'static str, help: &'static str, key: &'static str) -> Family {
    Family {
        name,
        help,
        kind: MetricType::Gauge,
        label: "",
        source: Source::Key(key),
    }
}

const FAMILIES: &[Family] = &[
    counter(
        "tern_queries",
        "Client queries answered, by transport",
        "protocol",
        Source::Keys(&[("queries.udp", "udp"), ("queries.tcp", "tcp")]),
    ),
    counter(
        "tern_encrypted_queries",
        "Client queries answered over DNS over TLS or HTTPS (also counted in tern_queries_total{protocol=\"tcp\"})",
        "transport",
        Source::Keys(&[("queries.tcp.tls", "tls"), ("queries.tcp.https", "https")]),
    ),
    counter(
        "tern_queries_by_type",
        "Client queries answered, by query type",
        "qtype",
        Source::Prefix("queries.type."),
    ),
    counter(
        "tern_responses_by_rcode",
        "Replies sent to clients, by RCODE",
        "rcode",
        Source::Prefix("queries.rcode."),
    ),
    counter(
        "tern_servfail_by_ede",
        "SERVFAIL replies, by the extended DNS error code that says why",
        "ede",
        Source::Prefix("servfail.ede."),
    ),
    counter(
        "tern_cache_hits",
        "Answers taken from the cache",
        "",
        Source::Key("cache.hits"),
    ),
    counter(
        "tern_cache_misses",
        "Questions the cache could not answer",
        "",
        Source::Key("cache.misses"),
    ),
    counter(
        "tern_cache_evictions",
        "Cache entries dropped to stay within cache.max_bytes",
        "",
        Source::Key("cache.evictions"),
    ),
    gauge(
        "tern_cache_entries",
        "Entries in the cache",
        "cache.entries",
    ),
    gauge(
        "tern_cache_subnet_entries",
        "Answers held for one client subnet (EDNS Client Subnet)",
        "cache.subnet_entries",
    ),
    gauge(
        "tern_cache_bytes",
        "Bytes the cache accounts for its entries",
        "cache.bytes",
    ),
    counter(
        "tern_stale_answers",
        "Answers served from expired data (serve-stale)",
        "",
        Source::Key("answers.stale"),
    ),
    counter(
        "tern_ratelimited",
        "Client queries over server.ratelimit, dropped or answered TC=1",
        "action",
        Source::Keys(&[("ratelimit.dropped", "drop"), ("ratelimit.slipped", "slip")]),
    ),
    counter(
        "tern_upstream_queries",
        "Queries sent to authoritative servers and forwarders, by transport",
        "protocol",
        Source::Keys(&[("upstream.udp", "udp"), ("upstream.tcp", "tcp")]),
    ),
    counter(
        "tern_upstream_timeouts",
        "Upstream queries that got no reply in time",
        "",
        Source::Key("upstream.timeouts"),
    ),
    counter(
        "tern_upstream_errors",
        "Upstream queries that failed otherwise (unreadable reply, network error)",
        "",
        Source::Key("upstream.errors"),
    ),
    counter(
        "tern_upstream_truncated",
        "UDP replies with TC=1, asked again over TCP",
        "",
        Source::Key("upstream.truncated"),
    ),
    gauge(
        "tern_inflight_resolutions",
        "Resolutions running now",
        "inflight",
    ),
    counter(
        "tern_dnssec_answers",
        "Answers given, by DNSSEC validation status",
        "status",
        Source::Keys(&[
            ("dnssec.secure", "secure"),
            ("dnssec.insecure", "insecure"),
            ("dnssec.bogus", "bogus"),
        ]),
    ),
    counter(
        "tern_dnssec_verifications",
        "DNSSEC signature verifications",
        "",
        Source::Key("dnssec.verifications"),
    ),
    counter(
        "tern_dnssec_nsec3_hashes",
        "NSEC3 hashes computed",
        "",
        Source::Key("dnssec.nsec3_hashes"),
    ),
    counter(
        "tern_shared_cache_events",
        "Shared cache (Redis) lookups and writes, by outcome",
        "event",
        Source::Keys(&[
            ("shared_cache.hits", "hit"),
            ("shared_cache.misses", "miss"),
            ("shared_cache.skips", "skip"),
            ("shared_cache.errors", "error"),
            ("shared_cache.dropped_writes", "dropped_write"),
            ("shared_cache.writes", "write"),
        ]),
    ),
    gauge(
        "tern_shared_cache_breaker_open",
        "1 while the shared cache's circuit breaker skips Redis",
        "shared_cache.breaker_open",
    ),
    gauge(
        "tern_uptime_seconds",
        "Seconds since tern serve started",
        "uptime_seconds",
    ),
];

/// Reads tern's counters at each scrape.
struct TernCollector<T: Transport, C: Clock> {
    handler: Arc<Current<T, C>>,
    upstream: Arc<UpstreamCounters>,
    started: Instant,
}

impl<T: Transport, C: Clock> std::fmt::Debug for TernCollector<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TernCollector")
    }
}

impl<T: Transport + 'static, C: Clock + 'static> Collector for TernCollector<T, C> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let values = counters(&self.handler.load(), &self.upstream, self.started);
        encode_families(&mut encoder, &values)?;
        let h = self.upstream.rtt();
        // The encoder takes each bucket's own count (it sums them) and
        // writes the +Inf line from the total itself.
        let mut below = 0;
        let mut finite: Vec<(f64, u64)> = Vec::new();
        for (bound, cumulative) in h.buckets.iter().filter(|(b, _)| b.is_finite()) {
            finite.push((*bound, cumulative.saturating_sub(below)));
            below = *cumulative;
        }
        let mut m = encoder.encode_descriptor(
            "tern_upstream_rtt_seconds",
            "Time upstream replies took",
            None,
            MetricType::Histogram,
        )?;
        m.encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &finite, None)
    }
}

/// Writes every family of `FAMILIES` from the dotted counters.
fn encode_families(
    encoder: &mut DescriptorEncoder,
    values: &BTreeMap<String, u64>,
) -> Result<(), std::fmt::Error> {
    for f in FAMILIES {
        let mut m = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
        let mut labelled: Vec<(&str, u64)> = Vec::new();
        match &f.source {
            Source::Key(key) => {
                let v = values.get(*key).copied().unwrap_or(0);
                write_value(&mut m, f.kind, v)?;
                continue;
            }
            Source::Prefix(prefix) => {
                for (k, v) in values.range(prefix.to_string()..) {
                    let Some(rest) = k.strip_prefix(prefix) else {
                        break;
                    };
                    labelled.push((rest, *v));
                }
            }
            Source::Keys(keys) => {
                for (key, label) in *keys {
                    labelled.push((label, values.get(*key).copied().unwrap_or(0)));
                }
            }
        }
        for (label, v) in labelled {
            let labels = [(f.label, label)];
            let mut sample = m.encode_family(&labels)?;
            write_value(&mut sample, f.kind, v)?;
        }
    }
    Ok(())
}

fn write_value(
    m: &mut prometheus_client::encoding::MetricEncoder,
    kind: MetricType,
    v: u64,
) -> Result<(), std::fmt::Error> {
    match kind {
        MetricType::Gauge => m.encode_gauge(&i64::try_from(v).unwrap_or(i64::MAX)),
        _ => m.encode_counter::<NoLabelSet, _, u64>(&v, None),
    }
}

/// The registry `/metrics` encodes.
pub fn registry<T: Transport + 'static, C: Clock + 'static>(
    handler: Arc<Current<T, C>>,
    upstream: Arc<UpstreamCounters>,
) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(TernCollector {
        handler,
        upstream,
        started: Instant::now(),
    }));
    registry
}

/// The text a scrape gets.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "metrics not encoded");
    }
    out
}

/// Binds the metrics address; a failure names it.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics.listen {addr}: {e}"))
}

/// Serves `GET /metrics` until the task is dropped.
pub async fn serve(listener: TcpListener, registry: Arc<Registry>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| {
                let registry = registry.clone();
                async move { Ok::<_, Infallible>(respond(&registry, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
        });
    }
}

fn respond(registry: &Registry, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    let text = "text/plain; charset=utf-8";
    if req.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            text,
            "not found: try /metrics\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            "only GET /metrics\n".into(),
        );
    }
    reply(
        StatusCode::OK,
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        render(registry),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A registry holding only `encode_families` over fixed counters.
    #[derive(Debug)]
    struct Fixed(BTreeMap<String, u64>);

    impl Collector for Fixed {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            encode_families(&mut encoder, &self.0)
        }
    }

    #[test]
    fn dotted_counters_become_labelled_families() {
        let values: BTreeMap<String, u64> = [
            ("queries.udp", 7),
            ("queries.tcp", 2),
            ("queries.type.AAAA", 4),
            ("queries.type.A", 5),
            ("queries.rcode.NOERROR", 9),
            ("servfail.ede.22", 3),
            ("cache.entries", 11),
            ("shared_cache.hits", 6),
            ("shared_cache.skips", 8),
            ("shared_cache.breaker_open", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut r = Registry::default();
        r.register_collector(Box::new(Fixed(values)));
        let text = render(&r);
        for line in [
            "# TYPE tern_queries_total counter",
            "tern_queries_total{protocol=\"udp\"} 7",
            "tern_queries_total{protocol=\"tcp\"} 2",
            "tern_queries_by_type_total{qtype=\"A\"} 5",
            "tern_queries_by_type_total{qtype=\"AAAA\"} 4",
            "tern_responses_by_rcode_total{rcode=\"NOERROR\"} 9",
            "tern_servfail_by_ede_total{ede=\"22\"} 3",
            "# TYPE tern_cache_entries gauge",
            "tern_cache_entries 11",
            "tern_cache_hits_total 0",
            "tern_shared_cache_events_total{event=\"hit\"} 6",
            "tern_shared_cache_events_total{event=\"skip\"} 8",
            "tern_shared_cache_events_total{event=\"dropped_write\"} 0",
            "tern_shared_cache_breaker_open 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
        // The prefix scan stops at its own names.
        assert!(!text.contains("qtype=\"NOERROR\""), "{text}");
    }
}
