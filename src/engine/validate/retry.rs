//! Bogus data from one server is not the zone's last word: as Unbound
//! does (its validator "blacklists" the servers that gave bogus data and
//! restarts the query, up to `val-max-restart` times), tern remembers which
//! server answered each question, sets those that served the failed
//! resolution aside for a while, forgets what they taught the cache, and
//! resolves again from the others. A zone whose every server is set aside
//! is still asked (the set-aside servers are only ordered last), so one
//! bad zone never becomes unreachable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::cache::lru::{Bound, Sharded};
use crate::cache::Key;
use crate::clock::{Clock, Mono};
use crate::engine::{Request, Resolution, Resolver};
use crate::upstream::Transport;

/// How long a server that served bogus data is set aside.
const SET_ASIDE: Duration = Duration::from_secs(60);

/// Questions whose answering server is remembered (bounded memory).
const ANSWERED_BY: usize = 4096;

/// Which server answered which question lately, and which servers are set
/// aside for having served bogus data.
pub(crate) struct Suspects {
    answered_by: Sharded<(Name, RecordType), SocketAddr>,
    set_aside: Mutex<HashMap<SocketAddr, Mono>>,
}

impl Default for Suspects {
    fn default() -> Self {
        Self {
            answered_by: Sharded::new(4, Bound::Entries(ANSWERED_BY)),
            set_aside: Mutex::new(HashMap::new()),
        }
    }
}

impl Suspects {
    /// Notes that `server` answered (name, type).
    pub(crate) fn answered(&self, name: &Name, qtype: RecordType, server: SocketAddr) {
        let key = (name.to_lowercase(), qtype);
        let hash = self.answered_by.hash(&key);
        if let Some(mut m) = self.answered_by.lock(hash) {
            m.insert(hash, key, server, 0);
        }
    }

    /// Whether `server` is set aside at `now`.
    pub(crate) fn is_set_aside(&self, server: &SocketAddr, now: Mono) -> bool {
        self.set_aside
            .lock()
            .ok()
            .and_then(|m| m.get(server).copied())
            .is_some_and(|until| until > now)
    }

    fn set_aside(&self, servers: &[SocketAddr], now: Mono) {
        if let Ok(mut m) = self.set_aside.lock() {
            m.retain(|_, until| *until > now);
            for s in servers {
                m.insert(*s, now + SET_ASIDE);
            }
        }
    }

    fn answerer(&self, name: &Name, qtype: RecordType) -> Option<SocketAddr> {
        let key = (name.to_lowercase(), qtype);
        let hash = self.answered_by.hash(&key);
        self.answered_by
            .lock(hash)
            .and_then(|mut m| m.get(hash, &key).copied())
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// After a bogus result: sets aside the servers that answered the
    /// question and the DS/DNSKEY questions of the zones above it, forgets
    /// what the cache holds of them, and says whether anything was set
    /// aside (so that resolving again may find other servers).
    pub(super) fn set_aside_for(&self, request: &Request, res: &Resolution) -> bool {
        let mut names: Vec<(Name, RecordType)> = vec![(request.name.clone(), request.qtype)];
        for r in &res.answers {
            names.push((r.name.clone(), r.record_type()));
        }
        let mut zone = request.name.clone();
        loop {
            names.push((zone.clone(), RecordType::DNSKEY));
            names.push((zone.clone(), RecordType::DS));
            if zone.is_root() {
                break;
            }
            zone = zone.base_name();
        }
        // Suspects: whoever answered the data itself, and for the zones
        // whose chain of trust broke, whoever answered their DNSKEY and DS
        // questions (a good server of a sound zone is not blamed).
        let now = self.clock.now();
        let broken = |zone: &Name| {
            matches!(
                self.cache.get(&Key::ZoneKeys(zone.to_lowercase()), now),
                Some(crate::cache::Cached::ZoneKeys(
                    crate::dnssec::ZoneKeys::Bogus(_)
                ))
            )
        };
        let mut servers = Vec::new();
        for (name, t) in &names {
            let chain = matches!(t, RecordType::DNSKEY | RecordType::DS);
            if chain && !broken(name) {
                continue;
            }
            if let Some(s) = self.suspects.answerer(name, *t) {
                if !servers.contains(&s) {
                    servers.push(s);
                }
            }
        }
        if servers.is_empty() {
            return false;
        }
        self.suspects.set_aside(&servers, self.clock.now());
        for (name, t) in &names {
            let name = name.to_lowercase();
            for key in [
                Key::RRset(name.clone(), *t, DNSClass::IN),
                Key::Sigs(name.clone(), *t, DNSClass::IN),
                Key::Status(name.clone(), *t, DNSClass::IN),
                Key::Proof(name.clone(), *t, DNSClass::IN),
                Key::Sections(name.clone(), *t, DNSClass::IN),
                // What answered the question may have been a CNAME (a DS
                // question answered by a wildcard CNAME): forgotten too.
                Key::RRset(name.clone(), RecordType::CNAME, DNSClass::IN),
                Key::Sigs(name.clone(), RecordType::CNAME, DNSClass::IN),
            ] {
                self.cache.remove(&key);
            }
            if *t == RecordType::DNSKEY {
                self.cache.remove(&Key::ZoneKeys(name));
            }
        }
        true
    }
}
