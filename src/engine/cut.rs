//! Zone cuts and their servers: the closest known cut for a name (a
//! configured zone, a cached delegation, else the root after priming, RFC
//! 8109), the servers a referral names (RFC 1034 §5.3.3), and the
//! parent's delegation when the child's own servers all fail.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::store::Taking;
use crate::cache::{Cached, Key};
use crate::clock::Clock;
use crate::engine::classify::{classify, scrub, Kind};
use crate::engine::harden::limit_ns_sets;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, ZoneServers};
use crate::engine::{Failure, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// When a zone's servers (from its own NS set) all failed, the
    /// delegation its parent gave, if it names other servers (Unbound's
    /// parent-side fallback for parent/child NS differences).
    pub(super) fn parent_side(&self, zs: &ZoneServers) -> Option<ZoneServers> {
        let key = Key::Delegation(zs.zone.clone(), DNSClass::IN);
        let mut parent = match self.cache.get(&key, self.clock.now()) {
            Some(Cached::Sections(ns, glue)) => {
                let mut m = Message::new(0, MessageType::Response, OpCode::Query);
                m.authorities = ns;
                m.additionals = glue;
                self.servers_from_referral(&m, &zs.zone, DNSClass::IN)
            }
            _ if zs.configured.is_empty() => zs.clone(),
            _ => return None,
        };
        // The child's own NS names stay candidates (one may only need its
        // parent-side address), after the parent's.
        if zs.configured.is_empty() {
            for entry in &zs.ns {
                if !parent.ns.iter().any(|(n, _)| n == &entry.0) {
                    parent.ns.push(entry.clone());
                }
            }
        }
        // Each NS name's own parent-side address too: the glue the
        // delegation of the name's zone carried, which the child's answer
        // for the name replaced in the cache.
        for (name, ips) in parent.ns.iter_mut() {
            if let Some(name) = name {
                for ip in self.usable(self.parent_side_addrs(name)) {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
        let same = parent.addrs() == zs.addrs()
            && parent
                .ns
                .iter()
                .map(|(n, _)| n)
                .eq(zs.ns.iter().map(|(n, _)| n));
        (!same).then_some(parent)
    }

    /// Addresses of `name` as glue in a cached delegation of a zone above
    /// it (closest first), whatever the child later said.
    fn parent_side_addrs(&self, name: &Name) -> Vec<IpAddr> {
        let now = self.clock.now();
        let mut cur = name.clone();
        while !cur.is_root() {
            cur = crate::names::parent(&cur);
            let key = Key::Delegation(cur.clone(), DNSClass::IN);
            if let Some(Cached::Sections(_, glue)) = self.cache.get(&key, now) {
                let ips: Vec<IpAddr> = glue
                    .iter()
                    .filter(|r| r.name == *name)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                if !ips.is_empty() {
                    return ips;
                }
            }
        }
        Vec::new()
    }

    pub(super) fn servers_from_referral(
        &self,
        msg: &Message,
        child: &Name,
        class: DNSClass,
    ) -> ZoneServers {
        let names: Vec<Name> = msg
            .authorities
            .iter()
            .filter(|r| &r.name == child)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        let ns = names
            .into_iter()
            .map(|n| {
                let glue: Vec<IpAddr> = msg
                    .additionals
                    .iter()
                    .filter(|r| r.name == n)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                let ips = self.delegation_addrs(child, &n, class, glue);
                (Some(n), self.usable(ips))
            })
            .collect();
        ZoneServers {
            zone: child.clone(),
            ns,
            ..ZoneServers::default()
        }
    }

    /// The closest zone cut for `name`: a configured stub zone or a cached
    /// NS set, whichever is deeper; else the root (primed once from hints).
    pub(super) async fn find_cut(
        &self,
        name: &Name,
        st: &QueryState,
        path: &LookupPath,
    ) -> Result<ZoneServers, Failure> {
        let class = DNSClass::IN;
        let now = self.clock.now() + st.leeway;
        let mut cur = name.clone();
        loop {
            if let Some(zs) = self.local_copy_at(&cur, path).await? {
                st.note(|| format!("{name} is in auth zone {cur}: answering from its copy"));
                return Ok(zs);
            }
            if let Some(stub) = self.stub_at(&cur, path) {
                return Ok(self.stub_servers(stub, st, path).await);
            }
            let ns_names =
                self.cache
                    .read(&Key::RRset(cur.clone(), RecordType::NS, class), now, |v| {
                        let Cached::RRset(rs) = v else {
                            return None;
                        };
                        let names = rs.iter().filter_map(|r| match &r.data {
                            RData::NS(n) => Some(n.0.clone()),
                            _ => None,
                        });
                        Some(names.collect::<Vec<_>>())
                    });
            if let Some(names) = ns_names.flatten() {
                let ns = names
                    .into_iter()
                    .map(|n| {
                        let ips = self.usable(self.delegation_addrs(&cur, &n, class, Vec::new()));
                        (Some(n), ips)
                    })
                    .collect();
                let mut zs = ZoneServers {
                    zone: cur,
                    ns,
                    ..ZoneServers::default()
                };
                self.fill_from_hints(&mut zs);
                if zs.zone.is_root() && zs.addrs().is_empty() {
                    // A root NS set none of whose servers has an address
                    // (not even from the hints): prime again.
                    break;
                }
                return Ok(zs);
            }
            if cur.is_root() {
                break;
            }
            cur = crate::names::parent(&cur);
        }
        self.prime(st, path).await
    }

    /// Priming (RFC 8109): asks a hints server for the root NS set and
    /// caches it; on failure the hints themselves are used.
    pub(super) async fn prime(
        &self,
        st: &QueryState,
        path: &LookupPath,
    ) -> Result<ZoneServers, Failure> {
        let mut zs = ZoneServers {
            zone: Name::root(),
            ns: self
                .hints
                .servers
                .iter()
                .map(|(n, ips)| (Some(n.clone()), self.usable(ips.clone())))
                .collect(),
            ..ZoneServers::default()
        };
        if zs.addrs().is_empty() {
            return Err(Failure::NoNsAddress);
        }
        st.note(|| "priming the root NS set from the hints");
        let mut failed = HashSet::new();
        let root = Name::root();
        if let Ok((mut msg, _)) = self
            .query_zone(
                &mut zs,
                Question::new(&root, RecordType::NS, DNSClass::IN),
                st,
                path,
                &mut failed,
            )
            .await
        {
            limit_ns_sets(&mut msg, self.config.resolver.max_ns_per_set as usize);
            scrub(&mut msg, &root, &root, RecordType::NS, true);
            if classify(&msg, &root, &root, RecordType::NS) == Kind::Answer {
                let _ = self.take_answer(
                    &msg,
                    Taking::of(&root, RecordType::NS, DNSClass::IN, st.leeway),
                );
                let mut primed = self.servers_from_referral_answer(&msg);
                self.fill_from_hints(&mut primed);
                if !primed.addrs().is_empty() {
                    return Ok(primed);
                }
            }
        }
        st.note(|| "priming failed: using the hints as they are");
        Ok(zs)
    }

    /// Root servers named in the hints keep their hint addresses when
    /// nothing cached gives them one (a priming reply without addresses):
    /// RFC 8109 §3, priming must not leave the resolver without roots.
    fn fill_from_hints(&self, zs: &mut ZoneServers) {
        if !zs.zone.is_root() {
            return;
        }
        for (name, ips) in zs.ns.iter_mut() {
            if ips.is_empty() {
                if let Some((_, hint)) = self
                    .hints
                    .servers
                    .iter()
                    .find(|(h, _)| Some(h) == name.as_ref())
                {
                    *ips = self.usable(hint.clone());
                }
            }
        }
    }

    pub(super) fn servers_from_referral_answer(&self, msg: &Message) -> ZoneServers {
        let mut m = msg.clone();
        m.authorities = m.answers.clone();
        self.servers_from_referral(&m, &Name::root(), DNSClass::IN)
    }
}
