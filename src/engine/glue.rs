//! Which addresses of an NS name a delegation may use. With
//! `harden_unverified_glue` (Unbound's `harden-unverified-glue`), glue for
//! a name outside the delegated zone (a sibling or unrelated zone's name,
//! which the parent is not authoritative for; RFC 9471 §2.2-2.3) is not
//! trusted at first: the name is resolved instead, and the glue serves
//! only if that lookup fails (the fallback in `resolve_ns_names`). Also the
//! cached addresses of an NS set, for referrals answered from the cache.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Whether glue for `ns` in a delegation of `zone` must be verified
    /// before use.
    pub(super) fn unverified_glue(&self, zone: &Name, ns: &Name) -> bool {
        self.config.resolver.harden_unverified_glue && !zone.zone_of(ns)
    }

    /// Addresses for NS name `ns` of `zone`: `glue` from the reply, else
    /// cached ones; for unverified glue only addresses learned from an
    /// answer count.
    pub(super) fn delegation_addrs(
        &self,
        zone: &Name,
        ns: &Name,
        class: DNSClass,
        glue: Vec<IpAddr>,
    ) -> Vec<IpAddr> {
        if !self.unverified_glue(zone, ns) {
            if !glue.is_empty() {
                return glue;
            }
            return self.cached_addrs(ns, class);
        }
        let now = self.clock.now();
        let mut out = Vec::new();
        for t in [RecordType::A, RecordType::AAAA] {
            let key = Key::RRset(ns.clone(), t, class);
            if let Some((Cached::RRset(rs), rank)) = self.cache.get_ranked(&key, now) {
                if rank >= Rank::AnswerNonAuth {
                    out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
                }
            }
        }
        out
    }

    /// The cached addresses (any rank) of the names an NS set points to.
    pub(super) fn glue_of(&self, ns: &[Record]) -> Vec<Record> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for r in ns {
            if let RData::NS(target) = &r.data {
                for t in [RecordType::A, RecordType::AAAA] {
                    let key = Key::RRset(target.0.clone(), t, r.dns_class);
                    if let Some(Cached::RRset(rs)) = self.cache.get(&key, now) {
                        out.extend(rs);
                    }
                }
            }
        }
        out
    }
}
