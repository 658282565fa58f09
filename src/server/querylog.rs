//! `log.queries`: one info line per client query (target
//! `tern::queries`), with the client, protocol, question, RCODE, time
//! taken, whether the answer came from the cache, and the extended DNS
//! error if the reply carries one. Whether the cache answered is noted by
//! the handler inside the query's task (`note_cached`), read back here.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::upstream::Protocol;

tokio::task_local! {
    static CACHED: Cell<bool>;
}

/// Marks the query being answered in this task as answered from the
/// cache (nothing happens outside `scope`).
pub fn note_cached() {
    let _ = CACHED.try_with(|c| c.set(true));
}

/// Runs `f`, returning its output and whether `note_cached` was called.
pub async fn scope<F: Future>(f: F) -> (F::Output, bool) {
    CACHED
        .scope(Cell::new(false), async {
            let out = f.await;
            let cached = CACHED.try_with(Cell::get).unwrap_or(false);
            (out, cached)
        })
        .await
}

/// Logs one reply.
pub fn log(client: SocketAddr, protocol: Protocol, reply: &[u8], took: Duration, cached: bool) {
    let proto = match protocol {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
    };
    let ms = format!("{:.1}", took.as_secs_f64() * 1000.0);
    let Ok(m) = hickory_proto::op::Message::from_vec(reply) else {
        tracing::info!(target: "tern::queries", %client, %proto, %ms, "reply not readable");
        return;
    };
    let (qname, qtype) = m
        .queries
        .first()
        .map(|q| (q.name().to_string(), q.query_type().to_string()))
        .unwrap_or_else(|| ("-".to_string(), "-".to_string()));
    let rcode = super::stats::rcode_name(u16::from(m.metadata.response_code));
    let ede = crate::wire::ede(&m)
        .map(|(code, _)| code.to_string())
        .unwrap_or_else(|| "-".to_string());
    tracing::info!(
        target: "tern::queries",
        %client,
        %proto,
        %qname,
        %qtype,
        %rcode,
        %ms,
        cached,
        %ede,
        "query"
    );
}
