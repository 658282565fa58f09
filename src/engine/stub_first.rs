//! Stub zone options. `first`: when the configured servers of a stub zone
//! fail, the name is resolved as if the stub were not there, by ordinary
//! iteration from the zone cut above it (Unbound's `stub-first`). `prime`:
//! the configured servers are asked for the zone's NS set and the servers
//! it names are used, as root priming does (RFC 8109 §3 for the root;
//! Unbound's `stub-prime`).

use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::cache::{Cached, Key, Rank};

use crate::clock::Clock;
use crate::engine::iterate::{Step, ZoneServers};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::{Failure, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The stub zone `zs` stands for, if it is one configured `first`.
    pub(super) fn stub_first(&self, zs: &ZoneServers) -> Option<Name> {
        let is_stub = zs.ns.iter().all(|(n, _)| n.is_none());
        self.config
            .resolver
            .stub_zones
            .iter()
            .find(|s| s.first && is_stub && s.name == zs.zone && !s.name.is_root())
            .map(|s| s.name.clone())
    }

    /// For a stub zone configured `prime`: the servers its own NS set
    /// names (cached, or asked of the configured servers now); None keeps
    /// the configured servers.
    pub(super) async fn prime_stub(
        &self,
        zs: &mut ZoneServers,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Option<ZoneServers> {
        let is_stub = zs.ns.iter().all(|(n, _)| n.is_none());
        let prime = self
            .config
            .resolver
            .stub_zones
            .iter()
            .any(|s| s.prime && is_stub && s.name == zs.zone);
        if !prime {
            return None;
        }
        let key = Key::RRset(zs.zone.clone(), RecordType::NS, class);
        if let Some((Cached::RRset(rs), rank)) = self.cache.get_ranked(&key, self.clock.now()) {
            if rank >= Rank::AnswerNonAuth {
                let ns = rs
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::NS(n) => Some(n.0.clone()),
                        _ => None,
                    })
                    .map(|n| {
                        let ips = self.usable(self.cached_addrs(&n, class));
                        (Some(n), ips)
                    })
                    .collect();
                let primed = ZoneServers {
                    zone: zs.zone.clone(),
                    ns,
                };
                return (!primed.addrs().is_empty()).then_some(primed);
            }
        }
        self.child_ns_set(zs, class, st, path).await
    }

    /// Iterates for (name, type) from the cut above `stub`, whose servers
    /// failed with `failure`; that failure stands if this fails too.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn after_stub_failed(
        &self,
        stub: &Name,
        failure: Failure,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Step {
        if matches!(failure, Failure::QueryBudget(_) | Failure::Timeout) {
            return Step::Fail(failure);
        }
        st.note(|| format!("stub zone {stub} failed ({failure}): iterating without it"));
        let parent = match self.find_cut(&stub.base_name(), st, path).await {
            Ok(p) => p,
            Err(_) => return Step::Fail(failure),
        };
        match self
            .iterate_from(parent, name, qtype, class, st, path)
            .await
        {
            Step::Fail(_) => Step::Fail(failure),
            step => step,
        }
    }
}
