//! Response policy zones as configured (`[[rpz]]`, Unbound's `rpz:`
//! clause; the RPZ format is draft-vixie-dnsop-dns-rpz). What the policies
//! *do* is decided in `crate::rpz`.

use std::path::PathBuf;

use hickory_proto::rr::Name;

/// One response policy zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpzZone {
    /// The policy zone's name: its records' owners are policy names below it.
    pub name: Name,
    /// The zone file holding the policy (master-file syntax).
    pub zonefile: PathBuf,
    /// An action used for every trigger of this zone instead of the
    /// zone's own (Unbound's `rpz-action-override`).
    pub action_override: Option<RpzOverride>,
    /// Log each policy applied, at info level (Unbound's `rpz-log`).
    pub log: bool,
    /// The zone's name in those log lines (`rpz-log-name`).
    pub log_name: Option<String>,
    /// NXDOMAIN made by this zone is sent with RA=0, telling it from a
    /// real NXDOMAIN (Unbound's `rpz-signal-nxdomain-ra`).
    pub signal_nxdomain_ra: bool,
    /// Applies only to clients with one of these tags (from
    /// `server.access_control`); empty: to every client.
    pub tags: Vec<String>,
}

/// `action_override`: what every trigger of a zone does instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpzOverride {
    NxDomain,
    NoData,
    Passthru,
    Drop,
    /// Triggers are matched (and logged) but do nothing; later zones are
    /// still consulted.
    Disabled,
    /// Answer a CNAME to this name (`cname_override`), then resolve it.
    Cname(Name),
}
