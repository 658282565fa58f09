//! Talking to a zone's servers: choosing the next server (SRTT order,
//! hold-down), retrying others after timeouts (the exchange itself is
//! `attempt.rs`, driven by `send.rs`), and finding addresses for NS names
//! that came without glue (in parallel, a few at a time; from the parent
//! when the name lies inside the zone).

use std::collections::HashSet;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::cache::Rank;
use crate::clock::{Clock, Mono};
use crate::engine::glue::{parent_glue, ParentGlue};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{BoxStep, Question, Step, ZoneServers};
use crate::engine::tries::{glueless, NsLookup, Tries};
use crate::engine::{Failure, Resolver};
use crate::upstream::selection::QueryKind;
use crate::upstream::Transport;

/// Glueless NS names resolved at once for one delegation ("in parallel
/// where there are several", without multiplying fan-out).
const PARALLEL_NS_LOOKUPS: usize = 2;

/// CNAME links followed when asking a parent for glue.
const MAX_GLUE_CNAMES: usize = 4;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The zone's servers not failed this step, best first. Fails at once
    /// when every server of the zone gave no reply lately (to this kind of
    /// question) and is held down, rather than wait for them (RFC 9520
    /// §3.2). A probe that is due is sent by a background resolution (a
    /// client's asks for one), never while a client waits.
    pub(super) fn server_order(
        &self,
        zs: &ZoneServers,
        failed: &HashSet<SocketAddr>,
        qtype: RecordType,
        st: &QueryState,
        now: Mono,
    ) -> Result<Vec<SocketAddr>, Failure> {
        let candidates: Vec<SocketAddr> = zs
            .addrs()
            .into_iter()
            .filter(|a| !failed.contains(a))
            .collect();
        let mut order = self.selection.order(&candidates, &zs.zone, now);
        // Servers that served bogus data lately go last (validate/retry.rs).
        if self.config.dnssec.validate {
            order.sort_by_key(|a| self.suspects.is_set_aside(a, now));
        }
        let due = order.first().is_some_and(|a| {
            self.selection
                .stats(*a)
                .is_some_and(|s| s.held_until.is_some())
        });
        if (due && !st.refresh) || (order.is_empty() && !candidates.is_empty()) {
            let all = zs.addrs();
            if let Some((since, until)) = self.selection.all_down(&all, QueryKind::of(qtype), now) {
                if due {
                    st.want_probe();
                }
                st.note(|| format!("every server of {} is held down", zs.zone));
                return Err(Failure::ServersDown {
                    zone: zs.zone.clone(),
                    servers: all.len(),
                    down_secs: now.saturating_sub(since).as_secs(),
                    retry_secs: until.saturating_sub(now).as_secs().max(1),
                });
            }
        }
        if order.is_empty() && !candidates.is_empty() {
            // Some servers failed this step and the rest are held down:
            // try those anyway, in random order, rather than fail (the try
            // limit and the query deadline bound it).
            order = candidates;
            self.selection.shuffle(&mut order);
        }
        Ok(order)
    }

    /// Whether the exchange with `addr` is the probe of a server held down
    /// as unreachable (claimed, so only one query probes it).
    pub(super) fn probe(&self, addr: SocketAddr, now: Mono, st: &QueryState) -> bool {
        let probe = self
            .selection
            .stats(addr)
            .is_some_and(|s| s.held_until.is_some())
            && self.selection.claim_probe(addr, now);
        if probe {
            st.note(|| format!("probing {addr}, held down as unreachable"));
        }
        probe
    }

    /// A zone step that ends with no reply from any server it tried: each
    /// of them that timed out is held down (RFC 9520 §3.2), so that the
    /// next queries for the zone fail at once instead of waiting again;
    /// the zone's problem is noted.
    pub(super) fn give_up_zone(&self, zs: &ZoneServers, t: &Tries, qtype: RecordType, now: Mono) {
        for addr in t.to_hold_down() {
            self.selection.mark_down(*addr, QueryKind::of(qtype), now);
        }
        self.problems.zone(&zs.zone, zs.addrs().len(), now);
    }

    /// Asks the servers of the zone above `zone` for the address of `name`
    /// (an NS name inside `zone` that came without glue).
    pub(super) fn parent_side_glue<'a>(
        &'a self,
        name: &'a Name,
        zone: &'a Name,
        st: &'a QueryState,
        path: LookupPath,
    ) -> BoxStep<'a> {
        Box::pin(async move {
            if path.depth() > self.config.resolver.max_depth as usize {
                return Step::Fail(Failure::Depth);
            }
            let mut parent = match self.find_cut(&zone.base_name(), st, &path).await {
                Ok(p) => p,
                Err(f) => return Step::Fail(f),
            };
            st.note(|| format!("asking the servers of {} for glue of {name}", parent.zone));
            // The parent may answer with a CNAME inside its zone: follow it
            // there, a few links at most.
            let mut target = name.clone();
            for _ in 0..MAX_GLUE_CNAMES {
                let mut failed = HashSet::new();
                let msg = match self
                    .query_zone(
                        &mut parent,
                        Question::new(&target, RecordType::A, DNSClass::IN),
                        st,
                        &path,
                        &mut failed,
                    )
                    .await
                {
                    Ok((msg, _)) => msg,
                    Err(f) => return Step::Fail(f),
                };
                match parent_glue(&msg, &target, &parent.zone) {
                    ParentGlue::Glue(glue) => {
                        self.cache
                            .insert_rrset(glue.clone(), Rank::Additional, self.clock.now());
                        return Step::Answer(glue);
                    }
                    ParentGlue::Alias(n) => target = n,
                    ParentGlue::Nothing => break,
                }
            }
            Step::Fail(Failure::NoNsAddress)
        })
    }

    /// Resolves addresses for NS names that came without glue, a few at a
    /// time; true if any address was found.
    pub(super) async fn resolve_ns_names(
        &self,
        zs: &mut ZoneServers,
        st: &QueryState,
        path: &LookupPath,
    ) -> bool {
        let limit = self.config.resolver.max_ns_lookups_per_delegation as usize;
        let todo = glueless(zs, limit, |n| path.contains(n, RecordType::A));
        let mut found = false;
        for batch in todo.chunks(PARALLEL_NS_LOOKUPS) {
            st.note(|| {
                format!(
                    "resolving NS names without glue for {}: {}",
                    zs.zone,
                    batch
                        .iter()
                        .map(|l| l.name().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            let lookups = batch.iter().map(|l| match l {
                NsLookup::FromParent(n) => {
                    self.parent_side_glue(n, &zs.zone, st, path.with(n, RecordType::A))
                }
                NsLookup::Resolve(n) => {
                    self.lookup(n, RecordType::A, DNSClass::IN, st, path.clone())
                }
            });
            let results = futures_join(lookups).await;
            for (l, step) in batch.iter().zip(results) {
                let n = l.name();
                let ips: Vec<IpAddr> = match step {
                    Step::Answer(rs) => rs.iter().filter_map(|r| r.data.ip_addr()).collect(),
                    // The child's own answer failed (lame, bogus referral):
                    // glue its parent gave for the name still serves.
                    _ => self.cached_addrs(n, DNSClass::IN),
                };
                let ips = self.usable(ips);
                if !ips.is_empty() {
                    found = true;
                    for entry in zs
                        .ns
                        .iter_mut()
                        .filter(|(name, _)| name.as_ref() == Some(n))
                    {
                        entry.1 = ips.clone();
                    }
                }
            }
            if found {
                break;
            }
        }
        found
    }
}

/// Awaits all futures concurrently, results in order.
pub(super) async fn futures_join<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<F> = futs.into_iter().collect();
    futures_util::future::join_all(futs).await
}
