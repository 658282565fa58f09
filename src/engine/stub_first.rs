//! `stub-first` stub zones: when the configured servers of a stub zone
//! fail, the name is resolved as if the stub were not there, by ordinary
//! iteration from the zone cut above it (Unbound's `stub-first`).

use hickory_proto::rr::{DNSClass, Name, RecordType};

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
