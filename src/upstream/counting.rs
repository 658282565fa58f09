//! A `Transport` that counts what passes through another one: upstream
//! queries by protocol, timeouts and other failures (`tern ctl stats`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hickory_proto::op::Message;

use super::{Protocol, Transport, UpstreamFailure, UpstreamQuery};

/// The counts, shared between the transport and whoever reads them.
#[derive(Debug, Default)]
pub struct UpstreamCounters {
    udp: AtomicU64,
    tcp: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
}

impl UpstreamCounters {
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
        ])
    }
}

/// Wraps a transport, counting into shared `UpstreamCounters`.
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
    fn exchange(
        &self,
        query: UpstreamQuery,
    ) -> impl Future<Output = Result<Message, UpstreamFailure>> + Send {
        let counters = self.counters.clone();
        let sent = match query.protocol {
            Protocol::Udp => &counters.udp,
            Protocol::Tcp => &counters.tcp,
        };
        sent.fetch_add(1, Ordering::Relaxed);
        let reply = self.inner.exchange(query);
        async move {
            let reply = reply.await;
            match &reply {
                Err(UpstreamFailure::Timeout) => {
                    counters.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
            }
            reply
        }
    }
}
