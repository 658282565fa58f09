//! Merging identical upstream queries in flight. Resolutions of different
//! client questions often need the same step at the same moment: on a cold
//! cache, a burst of names under one domain each wants that domain's
//! delegation from its TLD, or the address of the same name server. While
//! one exchange of a query is running, an identical one (same server,
//! protocol and message but for the ID) waits for its reply instead of
//! sending its own, as Unbound's mesh shares one sub-query among the states
//! that need it.
//!
//! A merged wait keeps the waiter's own timeout. If the exchange it waits
//! on is abandoned (its resolution was cancelled), the waiter sends its own
//! query. Entries live only while their exchange runs, so the table is
//! bounded by the exchanges in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

type Outcome = ReplyBytes;
type Key = (SocketAddr, Protocol, Vec<u8>);
type Table = Mutex<HashMap<Key, watch::Receiver<Option<Outcome>>>>;

/// A transport that merges identical queries in flight over `inner`.
pub struct Merging<T> {
    inner: T,
    running: Arc<Table>,
    merged: Arc<AtomicU64>,
}

/// A copy (a reload's new resolver) merges with the original.
impl<T: Clone> Clone for Merging<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            running: self.running.clone(),
            merged: self.merged.clone(),
        }
    }
}

impl<T> Merging<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            running: Arc::new(Mutex::new(HashMap::new())),
            merged: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Queries answered by another one's exchange instead of their own.
    pub fn merged(&self) -> u64 {
        self.merged.load(Ordering::Relaxed)
    }
}

/// The query as sent, but for its ID (its first two bytes): what makes
/// two queries the same.
fn key_of(query: &UpstreamQuery) -> Option<Key> {
    let rest = query.bytes.get(2..)?;
    Some((query.server, query.protocol, rest.to_vec()))
}

/// Removes a leader's entry when its exchange ends or is abandoned.
struct Leading {
    key: Option<Key>,
    running: Arc<Table>,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if let (Some(key), Ok(mut map)) = (self.key.take(), self.running.lock()) {
            map.remove(&key);
        }
    }
}

enum Role {
    Lead(watch::Sender<Option<Outcome>>, Leading),
    Follow(watch::Receiver<Option<Outcome>>),
    Alone,
}

impl<T> Merging<T> {
    fn role(&self, key: Option<Key>) -> Role {
        let (Some(key), Ok(mut map)) = (key, self.running.lock()) else {
            return Role::Alone;
        };
        if let Some(rx) = map.get(&key) {
            return Role::Follow(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.clone(), rx);
        Role::Lead(
            tx,
            Leading {
                key: Some(key),
                running: self.running.clone(),
            },
        )
    }
}

impl<T: Transport> Transport for Merging<T> {
    async fn exchange(&self, query: UpstreamQuery) -> Outcome {
        match self.role(key_of(&query)) {
            Role::Alone => self.inner.exchange(query).await,
            Role::Lead(tx, leading) => {
                let outcome = self.inner.exchange(query).await;
                // Out of the table first, so nobody joins after the count:
                // the reply is copied only for those already waiting.
                drop(leading);
                if tx.receiver_count() > 0 {
                    let _ = tx.send(Some(outcome.clone()));
                }
                outcome
            }
            Role::Follow(mut rx) => {
                let id = query.id().to_be_bytes();
                let waited = tokio::time::timeout(query.timeout, rx.wait_for(Option::is_some))
                    .await
                    .map(|r| r.ok().and_then(|outcome| outcome.clone()));
                match waited {
                    Err(_) => Err(UpstreamFailure::Timeout),
                    Ok(Some(mut outcome)) => {
                        self.merged.fetch_add(1, Ordering::Relaxed);
                        // The reply as if to our own query: our ID.
                        if let Ok([hi, lo, ..]) = outcome.as_deref_mut() {
                            [*hi, *lo] = id;
                        }
                        outcome
                    }
                    // The exchange was abandoned: ask for ourselves.
                    Ok(None) => self.inner.exchange(query).await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{Name, RecordType};
    use std::future::Future;
    use std::time::Duration;

    /// Counts exchanges; each replies after `delay` with the query echoed.
    struct Slow {
        sent: AtomicU64,
        delay: Duration,
    }

    impl Transport for Slow {
        fn exchange(&self, query: UpstreamQuery) -> impl Future<Output = Outcome> + Send {
            self.sent.fetch_add(1, Ordering::Relaxed);
            let delay = self.delay;
            async move {
                tokio::time::sleep(delay).await;
                let mut m = hickory_proto::op::Message::from_vec(&query.bytes)
                    .map_err(|_| UpstreamFailure::Malformed)?;
                m.metadata.message_type = hickory_proto::op::MessageType::Response;
                crate::wire::encode(&m).ok_or(UpstreamFailure::Malformed)
            }
        }
    }

    fn id_of(reply: ReplyBytes) -> u16 {
        crate::upstream::header_id(&reply.unwrap()).unwrap()
    }

    fn query(id: u16, name: &str, server: &str) -> UpstreamQuery {
        let mut m = crate::zone::answer::make_query(
            id,
            Name::from_ascii(name).unwrap(),
            RecordType::A,
            false,
        );
        m.metadata.id = id;
        UpstreamQuery {
            server: server.parse().unwrap(),
            protocol: Protocol::Udp,
            bytes: crate::wire::encode(&m).unwrap(),
            timeout: Duration::from_secs(5),
        }
    }

    fn merging(delay_ms: u64) -> Merging<Slow> {
        Merging::new(Slow {
            sent: AtomicU64::new(0),
            delay: Duration::from_millis(delay_ms),
        })
    }

    #[tokio::test]
    async fn identical_queries_in_flight_share_one_exchange_and_keep_their_ids() {
        let t = merging(100);
        let (a, b) = tokio::join!(
            t.exchange(query(1, "d1.com.", "127.0.0.1:53")),
            t.exchange(query(2, "d1.com.", "127.0.0.1:53"))
        );
        assert_eq!(t.inner().sent.load(Ordering::Relaxed), 1);
        assert_eq!(t.merged(), 1);
        assert_eq!(id_of(a), 1);
        assert_eq!(id_of(b), 2);
        // Once it is over, the same query goes out again.
        t.exchange(query(3, "d1.com.", "127.0.0.1:53"))
            .await
            .unwrap();
        assert_eq!(t.inner().sent.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn other_names_or_servers_are_not_merged() {
        let t = merging(100);
        let _ = tokio::join!(
            t.exchange(query(1, "d1.com.", "127.0.0.1:53")),
            t.exchange(query(2, "d2.com.", "127.0.0.1:53")),
            t.exchange(query(3, "d1.com.", "127.0.0.2:53"))
        );
        assert_eq!(t.inner().sent.load(Ordering::Relaxed), 3);
        assert_eq!(t.merged(), 0);
    }

    #[tokio::test]
    async fn a_waiter_keeps_its_own_timeout() {
        let t = merging(1_000);
        let mut short = query(2, "d1.com.", "127.0.0.1:53");
        short.timeout = Duration::from_millis(50);
        let (lead, follow) = tokio::join!(
            t.exchange(query(1, "d1.com.", "127.0.0.1:53")),
            t.exchange(short)
        );
        assert!(lead.is_ok());
        assert_eq!(follow.unwrap_err(), UpstreamFailure::Timeout);
        assert_eq!(t.inner().sent.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_waiter_asks_for_itself_when_the_exchange_is_abandoned() {
        let t = merging(2_000);
        let lead = tokio::time::timeout(
            Duration::from_millis(20),
            t.exchange(query(1, "d1.com.", "127.0.0.1:53")),
        );
        let (lead, follow) = tokio::join!(lead, t.exchange(query(2, "d1.com.", "127.0.0.1:53")));
        assert!(lead.is_err(), "the leader was cancelled");
        assert_eq!(id_of(follow), 2);
        assert_eq!(t.inner().sent.load(Ordering::Relaxed), 2);
        assert_eq!(t.merged(), 0);
    }
}
