//! The resolver's side of auth zones used for upstream (`authzone`): where
//! the zone cut search meets such a zone, its copy stands in for the
//! zone's servers. Its reply is scrubbed, classified, validated and cached
//! like a server's, so a referral out of the copy is followed on the
//! network and signed data from it must validate. A copy that is unusable,
//! or whose data turned out bogus, is passed over when the zone allows
//! fallback to its servers; otherwise names in the zone fail.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::authzone::zonemd::ZONEMD;
use crate::authzone::{DnssecCheck, LocalCopy};
use crate::cache::{Key, Rank};
use crate::clock::Clock;
use crate::dnssec::Security;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::ZoneServers;
use crate::engine::{Failure, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The auth zone used for upstream exactly at `zone`, as the servers
    /// to ask: Ok(None) when there is none or its copy is passed over for
    /// fallback, Err when its copy is unusable and fallback is off.
    pub(super) async fn local_copy_at(
        &self,
        zone: &Name,
        path: &LookupPath,
    ) -> Result<Option<ZoneServers>, Failure> {
        let Some(copy) = self.auth_zones.for_upstream_at(zone) else {
            return Ok(None);
        };
        if path.skips(zone) {
            return Ok(None);
        }
        self.run_dnssec_check(copy).await;
        match (self.copy_in_use(copy), copy.config.fallback_enabled) {
            (true, _) => Ok(Some(ZoneServers {
                zone: zone.clone(),
                local: true,
                ..ZoneServers::default()
            })),
            (false, true) => {
                tracing::debug!(%zone, "auth zone copy passed over: asking its servers");
                Ok(None)
            }
            (false, false) => Err(Failure::LocalCopyUnusable(zone.clone())),
        }
    }

    /// Whether the copy stands in for its zone's servers now: loaded, not
    /// failed its ZONEMD DNSSEC check, and (with fallback) not set aside
    /// for having served bogus data.
    pub(super) fn copy_in_use(&self, copy: &LocalCopy) -> bool {
        let usable =
            copy.zone().is_some() && !matches!(copy.dnssec_check(), DnssecCheck::Failed(_));
        let set_aside = copy.config.fallback_enabled
            && self.config.dnssec.validate
            && self.suspects.is_set_aside(&copy.address, self.clock.now());
        usable && !set_aside
    }

    /// Runs the copy's pending ZONEMD DNSSEC check, once.
    async fn run_dnssec_check(&self, copy: &LocalCopy) {
        if copy.zone().is_some() && copy.claim_dnssec_check() {
            let outcome = self.zonemd_dnssec_check(copy.name()).await;
            copy.finish_dnssec_check(outcome);
        }
    }

    /// Before a lookup picks its configured zone: the pending check of
    /// the copy holding `name`, so that whether the copy is in use is
    /// known.
    pub(super) async fn settle_copy(&self, name: &Name) {
        if let Some(copy) = self.auth_zones.for_upstream(name) {
            self.run_dnssec_check(copy).await;
        }
    }

    /// The DNSSEC part of a signed copy's ZONEMD check (RFC 8976 §4): the
    /// apex ZONEMD RRset must validate, or its absence be proven, through
    /// the zone's chain of trust. Asked like any question; its lookups in
    /// the zone are answered by the copy itself (the check is running).
    async fn zonemd_dnssec_check(&self, zone: &Name) -> Result<(), String> {
        if !self.config.dnssec.validate {
            return Ok(());
        }
        let request = crate::engine::Request::new(zone.clone(), ZONEMD);
        let res = Box::pin(self.resolve(&request)).await;
        match (res.security, res.failure) {
            (Security::Bogus(b), _) => Err(format!("ZONEMD of {zone} is bogus: {b}")),
            (_, Some(f)) => Err(format!("ZONEMD of {zone} could not be validated: {f}")),
            (
                Security::Secure
                | Security::Insecure
                | Security::Unsupported(_)
                | Security::Unchecked,
                None,
            ) => Ok(()),
        }
    }

    /// The auth zone used for upstream below `zone` holding `name`, the
    /// deepest: where a walk down from `zone` turns to a copy (a referral
    /// toward the zone's servers is not followed past it).
    pub(super) async fn local_copy_below(
        &self,
        zone: &Name,
        name: &Name,
        qtype: RecordType,
        path: &LookupPath,
    ) -> Result<Option<ZoneServers>, Failure> {
        // A DS set is the parent's (RFC 4035 §3.1.4.1): the DS of the
        // copy's own apex is not the copy's to answer.
        let holder = match qtype == RecordType::DS && !name.is_root() {
            true => name.base_name(),
            false => name.clone(),
        };
        let Some(copy) = self.auth_zones.for_upstream(&holder) else {
            return Ok(None);
        };
        if copy.name() == zone || !zone.zone_of(copy.name()) {
            return Ok(None);
        }
        let below = copy.name().clone();
        self.local_copy_at(&below, path).await
    }

    /// Caches the copy's apex NS set, unless one is cached: the cut a
    /// walk down would have learnt from the parent's referral, which the
    /// validator reads to tell which zone unsigned data belongs to.
    fn note_copy_cut(&self, zone: Option<&crate::zone::Zone>, apex: &Name, class: DNSClass) {
        let now = self.clock.now();
        let key = Key::RRset(apex.clone(), RecordType::NS, class);
        if self.cache.get(&key, now).is_some() {
            return;
        }
        if let Some(ns) = zone.and_then(|z| z.rrset(apex, RecordType::NS)) {
            self.cache
                .insert_rrset(ns.clone(), Rank::AuthorityNonAuth, now);
        }
    }

    /// The copy's reply to (name, type), as a server's would come back.
    /// Once the copy's reply was found wanting (`failed`), it has nothing
    /// more to say.
    pub(super) fn local_copy_reply(
        &self,
        zs: &ZoneServers,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        let Some(copy) = self.auth_zones.for_upstream_at(&zs.zone) else {
            return Err(Failure::LocalCopyUnusable(zs.zone.clone()));
        };
        if failed.contains(&copy.address) {
            return Err(Failure::AllLame);
        }
        let Some(msg) = copy.resolver_answer(qname, qtype, class) else {
            return Err(Failure::LocalCopyUnusable(zs.zone.clone()));
        };
        self.note_copy_cut(copy.zone(), &zs.zone, class);
        tracing::debug!(zone = %zs.zone, %qname, %qtype, rcode = %msg.metadata.response_code, "answered from the auth zone's copy");
        st.note(|| {
            format!(
                "auth zone {} answers {qname} {qtype} from its copy",
                zs.zone
            )
        });
        if self.config.dnssec.validate {
            self.suspects.answered(qname, qtype, copy.address);
        }
        Ok((msg, copy.address))
    }
}
