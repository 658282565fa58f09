//! Merging identical in-flight client queries: while one resolution of
//! (name, type, class, flags) runs, later identical questions wait for its
//! result instead of sending their own upstream queries. If the first
//! resolution is abandoned (its client went away), waiters resolve anew.

use hashbrown::hash_map::Entry;
use hashbrown::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::Name;

use tokio::sync::watch;

use crate::engine::{Request, Resolution};

/// What identifies "the same question".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InflightKey {
    pub request: Request,
    /// Bounded by a client's serve-stale deadline: such a resolution may
    /// end in a timeout that is no failure, so it is shared only with
    /// others that are bounded too.
    pub bounded: bool,
}

type Slot = watch::Receiver<Option<Arc<Resolution>>>;

/// The server a running resolution is waiting on now, and the zone it
/// serves: what a client cut off by its deadline is told.
pub type Asking = Arc<Mutex<Option<(SocketAddr, Name)>>>;

struct Running {
    slot: Slot,
    asking: Asking,
}

#[derive(Default)]
pub struct Inflight {
    map: Mutex<HashMap<InflightKey, Running>>,
}

/// Either lead a resolution or follow one already running.
pub enum Role {
    Leader(LeaderGuard),
    Follower(Slot),
}

/// Held by the resolution that does the work; publishing (or dropping)
/// removes the entry so later questions start afresh.
pub struct LeaderGuard {
    key: InflightKey,
    tx: watch::Sender<Option<Arc<Resolution>>>,
    owner: Arc<Inflight>,
    asking: Asking,
    /// Published: its entry is gone already.
    published: bool,
}

impl Inflight {
    pub fn join(self: &Arc<Self>, key: InflightKey) -> Role {
        let Ok(mut map) = self.map.lock() else {
            // A poisoned lock only loses merging, never the query.
            let (tx, _) = watch::channel(None);
            return Role::Leader(LeaderGuard {
                key,
                tx,
                owner: self.clone(),
                asking: Asking::default(),
                published: false,
            });
        };
        // One hash of the key, whether it is found or added.
        let vacant = match map.entry(key) {
            Entry::Occupied(e) => return Role::Follower(e.get().slot.clone()),
            Entry::Vacant(v) => v,
        };
        let key = vacant.key().clone();
        let (tx, rx) = watch::channel(None);
        let asking = Asking::default();
        vacant.insert(Running {
            slot: rx,
            asking: asking.clone(),
        });
        Role::Leader(LeaderGuard {
            key,
            tx,
            owner: self.clone(),
            asking,
            published: false,
        })
    }

    /// The server the resolution of `key` waits on now, if one runs and
    /// has sent a query.
    pub fn asking(&self, key: &InflightKey) -> Option<(SocketAddr, Name)> {
        let map = self.map.lock().ok()?;
        let e = map.get(key)?;
        let now = e.asking.lock().ok()?;
        now.clone()
    }

    /// Whether a resolution of `key` is running now.
    pub fn contains(&self, key: &InflightKey) -> bool {
        self.map.lock().is_ok_and(|m| m.contains_key(key))
    }

    /// Resolutions running now.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LeaderGuard {
    /// Where the leading resolution records the server it asks.
    pub fn asking(&self) -> Asking {
        self.asking.clone()
    }

    pub fn publish(mut self, result: Arc<Resolution>) {
        // Remove first so a question arriving after this point starts anew
        // (and is answered from the cache).
        if let Ok(mut map) = self.owner.map.lock() {
            map.remove(&self.key);
        }
        self.published = true;
        let _ = self.tx.send(Some(result));
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        if let Ok(mut map) = self.owner.map.lock() {
            if map
                .get(&self.key)
                .is_some_and(|e| e.slot.same_channel(&self.tx.subscribe()))
            {
                map.remove(&self.key);
            }
        }
    }
}

/// Waits for the leader's result; None if the leader was abandoned.
pub async fn follow(mut rx: Slot) -> Option<Arc<Resolution>> {
    loop {
        if let Some(r) = rx.borrow_and_update().clone() {
            return Some(r);
        }
        if rx.changed().await.is_err() {
            return rx.borrow().clone();
        }
    }
}
