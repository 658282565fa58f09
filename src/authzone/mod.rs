//! Auth zones (Unbound's `auth-zone`): zones the resolver holds a copy of,
//! read from a zone file when it starts. A copy may answer clients itself
//! (`for_downstream`: authoritative answers, AA=1, RFC 1034 §4.3.2) and
//! may stand in for the zone's servers when the resolver iterates
//! (`for_upstream`: its replies go through the same scrubbing, validation
//! and caching as a server's). A copy that cannot be used (unreadable, or
//! failing its ZONEMD check, RFC 8976) is not used; with
//! `fallback_enabled` the resolver then asks the zone's servers, without
//! it names in the zone fail.
//!
//! Answers are made by `zone::answer` over the copy, so referrals to
//! delegations inside it, CNAMEs, wildcards and the DNSSEC records of a
//! signed zone come out as an authoritative server would send them.

pub mod zonemd;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::config::AuthZone;
use crate::zone::file::{read_zone_file_with_ttl, SourcedRecord};
use crate::zone::{Zone, ZoneError, ZoneSet};

/// The address a copy's replies are said to come from: `::` with a port
/// of its own per zone, which no real server has (the engine's per-server
/// bookkeeping, such as setting aside a source of bogus data, keys on it).
fn local_address(index: usize) -> SocketAddr {
    let port = u16::try_from(index).map_or(u16::MAX, |i| i.saturating_add(1));
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)
}

/// The TTL of records written without one before any `$TTL`: one hour,
/// the default of Unbound's zone file reader (and of RFC 1035-era tools).
const DEFAULT_TTL: u32 = 3600;

/// Why a copy is not used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unusable {
    #[error("{0}")]
    Load(#[from] ZoneError),
    #[error("{file}: ZONEMD check failed: {why}")]
    Zonemd { file: String, why: String },
}

/// Where the DNSSEC part of a copy's ZONEMD check stands (RFC 8976 §4:
/// in a signed zone the ZONEMD RRset must validate, or its absence be
/// proven). It needs the chain of trust, so the resolver runs it the first
/// time it uses the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnssecCheck {
    /// No check asked for, or the copy is for clients only (its keys are
    /// not the resolver's to fetch).
    NotNeeded,
    /// To be run before the copy is first used.
    Pending,
    /// Running: the lookups of the check itself use the copy.
    Running,
    Passed,
    Failed(String),
}

/// One configured zone and its copy, if usable.
#[derive(Debug, Clone)]
pub struct LocalCopy {
    pub config: AuthZone,
    /// Where its replies are said to come from (see `local_address`).
    pub address: SocketAddr,
    zones: Option<ZoneSet>,
    problem: Option<Unusable>,
    dnssec: Arc<Mutex<DnssecCheck>>,
}

impl LocalCopy {
    /// Reads and checks the zone file (ZONEMD as configured).
    pub fn load(config: &AuthZone) -> LocalCopy {
        match load_zone(config) {
            Ok(zone) => {
                // Unsigned copies too: the parent's DS says whether the
                // zone should be signed (a copy stripped of its keys).
                let check = match config.zonemd_check && config.for_upstream {
                    true => DnssecCheck::Pending,
                    false => DnssecCheck::NotNeeded,
                };
                LocalCopy {
                    config: config.clone(),
                    address: local_address(0),
                    zones: ZoneSet::new(vec![zone]).ok(),
                    problem: None,
                    dnssec: Arc::new(Mutex::new(check)),
                }
            }
            Err(e) => LocalCopy {
                config: config.clone(),
                address: local_address(0),
                zones: None,
                problem: Some(e),
                dnssec: Arc::new(Mutex::new(DnssecCheck::NotNeeded)),
            },
        }
    }

    /// Where the DNSSEC part of the ZONEMD check stands.
    pub fn dnssec_check(&self) -> DnssecCheck {
        self.dnssec
            .lock()
            .map(|s| s.clone())
            .unwrap_or(DnssecCheck::Failed("state lock poisoned".to_string()))
    }

    /// Takes the pending DNSSEC check to run it: true for one caller only.
    pub fn claim_dnssec_check(&self) -> bool {
        match self.dnssec.lock() {
            Ok(mut s) if *s == DnssecCheck::Pending => {
                *s = DnssecCheck::Running;
                true
            }
            _ => false,
        }
    }

    /// Records the DNSSEC check's outcome (a failure in permissive mode
    /// is logged and counts as passed).
    pub fn finish_dnssec_check(&self, outcome: Result<(), String>) {
        let state = match outcome {
            Ok(()) => DnssecCheck::Passed,
            Err(why) if self.config.zonemd_permissive => {
                tracing::warn!(zone = %self.config.name, %why, "auth zone used despite a failed ZONEMD DNSSEC check (permissive)");
                DnssecCheck::Passed
            }
            Err(why) => {
                tracing::error!(zone = %self.config.name, %why, "auth zone not used: ZONEMD DNSSEC check failed");
                DnssecCheck::Failed(why)
            }
        };
        if let Ok(mut s) = self.dnssec.lock() {
            *s = state;
        }
    }

    pub fn name(&self) -> &Name {
        &self.config.name
    }

    /// The loaded zone, when usable.
    pub fn zone(&self) -> Option<&Zone> {
        self.zones.as_ref().and_then(|s| s.zones().first())
    }

    /// Why the copy is not used, when it is not.
    pub fn problem(&self) -> Option<&Unusable> {
        self.problem.as_ref()
    }

    /// The reply the copy gives to `query` (as the zone's authoritative
    /// server would), or None when the copy is unusable.
    pub fn answer(&self, query: &Message) -> Option<Message> {
        let zones = self.zones.as_ref()?;
        Some(crate::zone::answer::answer(
            zones,
            query,
            self.address.ip(),
            None,
        ))
    }

    /// The reply to (name, type) asked the way the resolver asks a
    /// server (RD=0, EDNS with DO=1 so a signed zone's records come along).
    pub fn resolver_answer(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
    ) -> Option<Message> {
        let mut q = Message::new(0, MessageType::Query, OpCode::Query);
        let mut query = Query::query(name.clone(), qtype);
        query.set_query_class(class);
        q.add_query(query);
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true);
        q.edns = Some(edns);
        self.answer(&q)
    }
}

/// Reads the zone file, leaving out (with a warning) records outside the
/// zone as Unbound does, then checks the zone and its ZONEMD.
fn load_zone(config: &AuthZone) -> Result<Zone, Unusable> {
    let path = config.zonefile.as_path();
    let records = read_zone_file_with_ttl(path, Some(config.name.clone()), Some(DEFAULT_TTL))?;
    let records = in_zone(&config.name, records);
    let zone = Zone::from_records_partial(path, config.name.clone(), records)?;
    if config.zonemd_check || config.zonemd_reject_absent {
        if let Err(why) = zonemd::verify(&zone, config.zonemd_reject_absent) {
            let e = Unusable::Zonemd {
                file: path.display().to_string(),
                why: why.to_string(),
            };
            if !config.zonemd_permissive {
                return Err(e);
            }
            tracing::warn!(zone = %config.name, error = %e, "auth zone used despite a failed ZONEMD check (permissive)");
        }
    }
    Ok(zone)
}

fn in_zone(origin: &Name, records: Vec<SourcedRecord>) -> Vec<SourcedRecord> {
    records
        .into_iter()
        .filter(|r| {
            let inside = origin.zone_of(&r.record.name);
            if !inside {
                tracing::warn!(
                    file = %r.file.display(),
                    line = r.line,
                    owner = %r.record.name,
                    zone = %origin,
                    "record outside the auth zone left out"
                );
            }
            inside
        })
        .collect()
}

/// Every configured auth zone.
#[derive(Debug, Clone, Default)]
pub struct AuthZones {
    copies: Vec<LocalCopy>,
}

impl AuthZones {
    /// Loads every configured zone; one that cannot be used is logged and
    /// kept as unusable (it still decides what happens to its names).
    pub fn load(configs: &[AuthZone]) -> AuthZones {
        let copies = configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut copy = LocalCopy::load(c);
                copy.address = local_address(i);
                match copy.problem() {
                    Some(e) => tracing::error!(zone = %c.name, error = %e, "auth zone not used"),
                    None => tracing::info!(zone = %c.name, file = %c.zonefile.display(), "auth zone loaded"),
                }
                copy
            })
            .collect();
        AuthZones { copies }
    }

    /// Reads every zone file and reports the first file that cannot be
    /// read or parsed (file and line), for `tern check` and `tern serve`
    /// to refuse. A zone failing its ZONEMD check is not an error of the
    /// configuration (the zone's data may be fixed meanwhile): it is
    /// logged and left unused.
    pub fn check(configs: &[AuthZone]) -> Result<(), ZoneError> {
        for c in configs {
            if let Some(Unusable::Load(e)) = LocalCopy::load(c).problem {
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    pub fn copies(&self) -> &[LocalCopy] {
        &self.copies
    }

    /// The most specific zone holding `name` that answers clients.
    pub fn for_downstream(&self, name: &Name) -> Option<&LocalCopy> {
        self.closest(name, |c| c.config.for_downstream)
    }

    /// The zone exactly at `zone` that the resolver uses instead of its
    /// servers.
    pub fn for_upstream_at(&self, zone: &Name) -> Option<&LocalCopy> {
        self.copies
            .iter()
            .find(|c| c.config.for_upstream && c.name() == zone)
    }

    /// The most specific zone holding `name` that the resolver uses.
    pub fn for_upstream(&self, name: &Name) -> Option<&LocalCopy> {
        self.closest(name, |c| c.config.for_upstream)
    }

    fn closest(&self, name: &Name, pick: impl Fn(&LocalCopy) -> bool) -> Option<&LocalCopy> {
        self.copies
            .iter()
            .filter(|c| pick(c) && c.name().zone_of(name))
            .max_by_key(|c| c.name().num_labels())
    }
}
