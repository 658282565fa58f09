//! Merging identical in-flight client queries: while one resolution of
//! (name, type, class, flags) runs, later identical questions wait for its
//! result instead of sending their own upstream queries. If the first
//! resolution is abandoned (its client went away), waiters resolve anew.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[derive(Default)]
pub struct Inflight {
    map: Mutex<HashMap<InflightKey, Slot>>,
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
            });
        };
        if let Some(rx) = map.get(&key) {
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.clone(), rx);
        Role::Leader(LeaderGuard {
            key,
            tx,
            owner: self.clone(),
        })
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
    pub fn publish(self, result: Arc<Resolution>) {
        // Remove first so a question arriving after this point starts anew
        // (and is answered from the cache).
        if let Ok(mut map) = self.owner.map.lock() {
            map.remove(&self.key);
        }
        let _ = self.tx.send(Some(result));
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.owner.map.lock() {
            if map
                .get(&self.key)
                .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
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
