//! One zone step's tries of the zone's servers, as pure decisions: which
//! server next (or first find addresses for NS names without glue), when
//! to stop (a handful of tries), how a timeout or an unusable reply counts
//! a server out, and why the step failed when no server is left.
//! `exchange.rs` does the exchanges, the lookups and the selection calls
//! these decisions call for.

use std::collections::HashSet;
use std::net::SocketAddr;

use hickory_proto::rr::Name;

use crate::engine::attempt::ExchangeError;
use crate::engine::step::ZoneServers;
use crate::engine::Failure;

/// Tries of one zone step before giving up on the zone (timeouts, lame and
/// failing servers all count). Unbound allows a similar handful of
/// retries per target (`outbound-msg-retry`, default 5).
pub(super) const MAX_TRIES_PER_STEP: usize = 8;

/// What the zone step does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// Ask this server.
    Ask(SocketAddr),
    /// Find addresses for the zone's NS names without glue first (once
    /// per step), then pick again.
    ResolveNames,
    /// No server left to ask (`out_of_servers` says why).
    OutOfServers,
    /// Enough tries: the zone is given up.
    TooManyTries,
}

/// What the step knows of the server an exchange ended with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    pub addr: SocketAddr,
    /// The exchange probed a server held down.
    pub probe: bool,
    /// Timeouts the zone's only server is allowed.
    pub retries: usize,
    /// The query's upstream budget (for the failure's text).
    pub budget: u32,
}

/// How a zone step ends with no reply to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GiveUp {
    pub failure: Failure,
    /// The zone is given up: the servers that timed out are held down
    /// (`to_hold_down`) and the zone's problem is noted.
    pub zone_down: bool,
}

/// What one zone step has tried so far.
#[derive(Debug, Default)]
pub(super) struct Tries {
    tries: usize,
    timeouts: usize,
    /// Servers that gave no reply in this step, and whether any did.
    timed_out: HashSet<SocketAddr>,
    replied: bool,
    /// Glueless NS names have been looked up.
    resolved_names: bool,
}

impl Tries {
    /// The next move, given the best server not failed this step (if
    /// any) and whether it is set aside for bogus data lately: then the
    /// zone's glueless servers may serve good data, so their addresses
    /// are found first (Unbound looks for another target), as they are
    /// when no server with an address is left.
    pub fn pick(&mut self, best: Option<SocketAddr>, set_aside: bool) -> Pick {
        if !self.resolved_names && (best.is_none() || set_aside) {
            self.resolved_names = true;
            return Pick::ResolveNames;
        }
        let Some(addr) = best else {
            return Pick::OutOfServers;
        };
        if self.tries >= MAX_TRIES_PER_STEP {
            return Pick::TooManyTries;
        }
        self.tries += 1;
        Pick::Ask(addr)
    }

    /// After `addr`, one of `total` servers, timed out: whether it is
    /// asked again this step. A failed probe is held down longer and not
    /// retried. The zone's only server is retried (backed off) until
    /// `retries` timeouts (Unbound's outbound-msg-retry); the query
    /// deadline still bounds the wait. Otherwise the others are tried
    /// first, and when all have timed out another round starts.
    pub fn timed_out(
        &mut self,
        addr: SocketAddr,
        total: usize,
        probe: bool,
        retries: usize,
        failed: &mut HashSet<SocketAddr>,
    ) {
        self.timeouts += 1;
        self.timed_out.insert(addr);
        if probe {
            failed.insert(addr);
        } else if total <= 1 {
            if self.timeouts >= retries {
                failed.insert(addr);
            }
        } else {
            failed.insert(addr);
            if failed.len() >= total {
                failed.clear();
            }
        }
    }

    /// An exchange with `asked.addr`, one of `total()` servers of the
    /// zone, ended without a reply to use: the step goes on with the next
    /// pick (None), or ends (out of time or budget).
    pub fn ended(
        &mut self,
        asked: Asked,
        how: ExchangeError,
        total: impl FnOnce() -> usize,
        failed: &mut HashSet<SocketAddr>,
    ) -> Option<Failure> {
        match how {
            ExchangeError::Budget => return Some(Failure::QueryBudget(asked.budget)),
            ExchangeError::Deadline => return Some(Failure::Timeout),
            ExchangeError::Timeout => {
                let a = asked;
                self.timed_out(a.addr, total(), a.probe, a.retries, failed);
            }
            ExchangeError::Other => self.unusable(asked.addr, failed),
        }
        None
    }

    /// How the step ends after `pick` said no server is left (or enough
    /// tries), of `all` the zone's servers.
    pub fn give_up(&self, pick: Pick, all: &[SocketAddr], failed: &HashSet<SocketAddr>) -> GiveUp {
        let failure = match pick {
            Pick::TooManyTries => Failure::NoReachableAuthority,
            _ => self.out_of_servers(all, failed),
        };
        GiveUp {
            zone_down: failure == Failure::NoReachableAuthority,
            failure,
        }
    }

    /// `addr` replied, but with nothing usable: it is not asked again
    /// this step.
    pub fn unusable(&mut self, addr: SocketAddr, failed: &mut HashSet<SocketAddr>) {
        self.replied = true;
        failed.insert(addr);
    }

    /// Why the step ends with no server left, of `all` the zone's
    /// servers: none has an address; every one answered, none usefully
    /// (all lame); or some gave no reply (the zone is given up).
    pub fn out_of_servers(&self, all: &[SocketAddr], failed: &HashSet<SocketAddr>) -> Failure {
        if all.is_empty() {
            Failure::NoNsAddress
        } else if self.timeouts == 0 && all.iter().all(|a| failed.contains(a)) {
            Failure::AllLame
        } else {
            Failure::NoReachableAuthority
        }
    }

    /// When the zone is given up: the servers to hold down (RFC 9520
    /// §3.2), so that the next queries for the zone fail at once instead
    /// of waiting again. Those that timed out, unless some server replied.
    pub fn to_hold_down(&self) -> impl Iterator<Item = &SocketAddr> {
        self.timed_out.iter().filter(|_| !self.replied)
    }
}

/// How an NS name without glue is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NsLookup {
    /// Resolved as any name.
    Resolve(Name),
    /// Inside the zone it serves and without glue: only the parent can
    /// tell (Unbound's "fetch glue").
    FromParent(Name),
}

impl NsLookup {
    pub fn name(&self) -> &Name {
        match self {
            NsLookup::Resolve(n) | NsLookup::FromParent(n) => n,
        }
    }
}

/// The NS names of `zs` without addresses to look up, at most `limit`
/// (the NXNS bound), skipping those `on_path` says are being looked up on
/// the way here (a loop), and how each is looked up.
pub(super) fn glueless(
    zs: &ZoneServers,
    limit: usize,
    on_path: impl Fn(&Name) -> bool,
) -> Vec<NsLookup> {
    zs.ns
        .iter()
        .filter(|(_, ips)| ips.is_empty())
        .filter_map(|(n, _)| n.as_ref())
        .filter(|n| !on_path(n))
        .take(limit)
        .map(|n| {
            if zs.zone.zone_of(n) && !zs.zone.is_root() {
                NsLookup::FromParent(n.clone())
            } else {
                NsLookup::Resolve(n.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
