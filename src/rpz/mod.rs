//! Response policy zones (RPZ, draft-vixie-dnsop-dns-rpz; the behaviour
//! follows Unbound's `rpz:` where the draft leaves room). A policy zone is
//! an ordinary zone file whose owner names, below the zone's name, are
//! triggers and whose records are actions:
//!
//! - triggers: a query name (`name` or wildcard `*.name`), the client's
//!   address (`PREFIX.REVERSED-ADDRESS.rpz-client-ip`), an address in the
//!   answer (`….rpz-ip`), a name server name of the zone the answer came
//!   from (`name.rpz-nsdname`) or a name server address (`….rpz-nsip`);
//!   addresses are written like `24.0.2.0.192` (IPv4) or
//!   `64.zz.db8.2001` (IPv6, `zz` for the run of zeros);
//! - actions: `CNAME .` NXDOMAIN, `CNAME *.` NODATA, `CNAME rpz-passthru.`
//!   answer as usual, `CNAME rpz-drop.` no reply, `CNAME rpz-tcp-only.`
//!   truncated over UDP, any other records: local data answered instead
//!   (a CNAME to a name beginning `*.` gets the query name in its place).
//!
//! Zones are consulted in the order configured; the first zone with a
//! matching trigger decides (a zone whose override is `disabled` only logs).
//! Within a zone the client address comes before the query name, the most
//! specific network and the exact name before a wildcard win. Query name
//! triggers also apply to each CNAME target met while resolving; address
//! triggers to the A and AAAA records of the answer.
//!
//! Only matching and the making of answers live here: the server's handler
//! calls in before and after resolution. No socket, no clock.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

use crate::config::rpz::{RpzOverride, RpzZone};
use crate::zone::file::read_zone_file_with_ttl;
use crate::zone::{ZoneError, ZoneErrorKind};

/// TTL of policy records written without one (Unbound's default).
const DEFAULT_TTL: u32 = 3600;

/// What a trigger does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NxDomain,
    NoData,
    Passthru,
    Drop,
    TcpOnly,
    /// Answer with the trigger's records.
    LocalData,
    /// The zone's `cname_override`.
    Cname,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::NxDomain => "nxdomain",
            Self::NoData => "nodata",
            Self::Passthru => "passthru",
            Self::Drop => "drop",
            Self::TcpOnly => "tcp-only",
            Self::LocalData => "local-data",
            Self::Cname => "cname-override",
        }
    }
}

/// What kind of trigger matched (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    Qname,
    ClientIp,
    ResponseIp,
    NsDname,
    NsIp,
}

impl TriggerKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Qname => "qname",
            Self::ClientIp => "clientip",
            Self::ResponseIp => "rpz-ip",
            Self::NsDname => "nsdname",
            Self::NsIp => "nsip",
        }
    }
}

/// One trigger's action and, for local data, its records (owner names
/// are replaced by the name answered).
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub action: Action,
    pub data: Vec<Record>,
}

impl Trigger {
    /// The local data of type `qtype` (all of it for ANY), else a CNAME
    /// when `alias_ok`.
    fn pick(&self, qtype: RecordType, alias_ok: bool) -> Vec<&Record> {
        let exact: Vec<&Record> = self
            .data
            .iter()
            .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
            .collect();
        if !exact.is_empty() || !alias_ok {
            return exact;
        }
        self.data
            .iter()
            .filter(|r| r.record_type() == RecordType::CNAME)
            .take(1)
            .collect()
    }
}

/// Triggers by (lower-cased) name: exact names and `*.` wildcards.
#[derive(Debug, Clone, Default)]
struct NameTriggers {
    map: HashMap<Name, Trigger>,
}

impl NameTriggers {
    /// The trigger for `name`: its own, else the wildcard of the closest
    /// enclosing name, looking up until a name holding a trigger of its
    /// own (which hides the wildcards above it).
    fn find(&self, name: &Name) -> Option<(&Name, &Trigger)> {
        if self.map.is_empty() {
            return None;
        }
        let lower = name.to_lowercase();
        if let Some((k, t)) = self.map.get_key_value(&lower) {
            return Some((k, t));
        }
        let mut cur = lower;
        while !cur.is_root() {
            cur = cur.base_name();
            let wild = Name::from_ascii("*").ok()?.append_name(&cur).ok()?;
            if let Some((k, t)) = self.map.get_key_value(&wild) {
                return Some((k, t));
            }
            if self.map.contains_key(&cur) {
                return None;
            }
        }
        None
    }

    fn insert(&mut self, name: Name, action: Action, record: Record) -> Result<(), String> {
        let what = name.to_string();
        insert_trigger(self.map.entry(name), action, record, &what)
    }
}

/// Triggers by network; the most specific network holding an address
/// wins. Kept by prefix length, longest first, so a lookup is one hash
/// probe per length in use.
#[derive(Debug, Clone, Default)]
struct IpTriggers {
    by_len: std::collections::BTreeMap<std::cmp::Reverse<u8>, HashMap<IpNet, Trigger>>,
}

impl IpTriggers {
    fn is_empty(&self) -> bool {
        self.by_len.is_empty()
    }

    fn find(&self, ip: IpAddr) -> Option<(&IpNet, &Trigger)> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.by_len.iter().find_map(|(len, nets)| {
            let net = IpNet::new(ip, len.0).ok()?.trunc();
            nets.get_key_value(&net)
        })
    }

    fn insert(&mut self, net: IpNet, action: Action, record: Record) -> Result<(), String> {
        let what = net.to_string();
        let nets = self
            .by_len
            .entry(std::cmp::Reverse(net.prefix_len()))
            .or_default();
        insert_trigger(nets.entry(net), action, record, &what)
    }
}

fn insert_trigger<K>(
    entry: std::collections::hash_map::Entry<'_, K, Trigger>,
    action: Action,
    record: Record,
    what: &str,
) -> Result<(), String> {
    use std::collections::hash_map::Entry;
    match entry {
        Entry::Occupied(mut e) => add_to(e.get_mut(), action, record, what),
        Entry::Vacant(e) => {
            let data = if action == Action::LocalData {
                vec![record]
            } else {
                Vec::new()
            };
            e.insert(Trigger { action, data });
            Ok(())
        }
    }
}

/// A second record for a trigger: more local data joins the first; any
/// other combination keeps the first action (as Unbound does) and is
/// reported.
fn add_to(t: &mut Trigger, action: Action, record: Record, what: &str) -> Result<(), String> {
    if t.action == Action::LocalData && action == Action::LocalData {
        if !t.data.contains(&record) {
            t.data.push(record);
        }
        return Ok(());
    }
    Err(format!(
        "trigger {what} already has action {}; {} ignored",
        t.action.as_str(),
        action.as_str()
    ))
}

/// One loaded policy zone.
#[derive(Debug, Clone)]
pub struct PolicyZone {
    pub config: RpzZone,
    /// The zone's SOA, sent in the additional section of some answers.
    soa: Option<Record>,
    qname: NameTriggers,
    client_ip: IpTriggers,
    response_ip: IpTriggers,
    nsdname: NameTriggers,
    nsip: IpTriggers,
}

/// Why a policy zone could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpzError {
    #[error("rpz {zone}: {source}")]
    Zone {
        zone: String,
        #[source]
        source: ZoneError,
    },
}

/// Record types that are no policy: the zone's own SOA and NS, and DNSSEC
/// records (the draft: ignored).
fn ignored(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::SOA
            | RecordType::NS
            | RecordType::DNSKEY
            | RecordType::DS
            | RecordType::RRSIG
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
    ) || matches!(u16::from(t), 39 | 63) // DNAME, ZONEMD
}

/// The action a policy record stands for; None: not a valid action.
fn action_of(r: &Record) -> Option<Action> {
    let RData::CNAME(CNAME(target)) = &r.data else {
        return Some(Action::LocalData);
    };
    let labels: Vec<String> = target
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    match labels.as_slice() {
        [] => return Some(Action::NxDomain),
        [one] if one == "*" => return Some(Action::NoData),
        [one] if one == "rpz-passthru" => return Some(Action::Passthru),
        [one] if one == "rpz-drop" => return Some(Action::Drop),
        [one] if one == "rpz-tcp-only" => return Some(Action::TcpOnly),
        _ => {}
    }
    // Other top-level labels starting "rpz-" are reserved.
    match labels.last() {
        Some(tld) if tld.starts_with("rpz-") => None,
        _ => Some(Action::LocalData),
    }
}

/// The network a trigger name's labels (below the `rpz-…` label) give:
/// prefix length first, then the address backwards.
fn parse_net(labels: &[String]) -> Option<IpNet> {
    let (prefix, rest) = labels.split_first()?;
    let prefix: u8 = prefix.parse().ok()?;
    let parts: Vec<&str> = rest.iter().rev().map(String::as_str).collect();
    let v4 = parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok());
    let ip = if v4 {
        let b: Vec<u8> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        let b: [u8; 4] = b.try_into().ok()?;
        IpAddr::V4(Ipv4Addr::from(b))
    } else {
        let zz = parts.iter().filter(|p| **p == "zz").count();
        if zz > 1 || parts.len() > 8 || (zz == 0 && parts.len() != 8) {
            return None;
        }
        let mut words = Vec::with_capacity(8);
        for p in &parts {
            if *p == "zz" {
                words.extend(std::iter::repeat_n(0u16, 9 - parts.len()));
            } else {
                words.push(u16::from_str_radix(p, 16).ok()?);
            }
        }
        let w: [u16; 8] = words.try_into().ok()?;
        IpAddr::V6(Ipv6Addr::new(
            w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
        ))
    };
    IpNet::new(ip, prefix).ok().map(|n| n.trunc())
}

impl PolicyZone {
    /// Reads the zone file; a policy record the draft does not allow is
    /// skipped with a warning, a file that does not parse is an error.
    pub fn load(config: &RpzZone) -> Result<Self, RpzError> {
        let err = |source| RpzError::Zone {
            zone: config.name.to_string(),
            source,
        };
        let records = read_zone_file_with_ttl(
            &config.zonefile,
            Some(config.name.clone()),
            Some(DEFAULT_TTL),
        )
        .map_err(err)?;
        let mut zone = Self::empty(config.clone());
        for sr in records {
            let at = |kind| {
                err(ZoneError::new(
                    &sr.file,
                    sr.line,
                    ZoneErrorKind::Syntax(kind),
                ))
            };
            if let Err(e) = zone.insert(sr.record.clone()) {
                match e {
                    Insert::Outside => {
                        return Err(at(format!(
                            "{} is outside the policy zone {}",
                            sr.record.name, config.name
                        )))
                    }
                    Insert::Skipped(why) => tracing::warn!(
                        file = %sr.file.display(),
                        line = sr.line,
                        "rpz {}: {why}",
                        config.name
                    ),
                }
            }
        }
        Ok(zone)
    }

    fn empty(config: RpzZone) -> Self {
        Self {
            config,
            soa: None,
            qname: NameTriggers::default(),
            client_ip: IpTriggers::default(),
            response_ip: IpTriggers::default(),
            nsdname: NameTriggers::default(),
            nsip: IpTriggers::default(),
        }
    }

    /// Builds a zone from records already read (tests, tools).
    pub fn from_records(config: RpzZone, records: Vec<Record>) -> Result<Self, String> {
        let mut zone = Self::empty(config);
        for r in records {
            match zone.insert(r) {
                Ok(()) | Err(Insert::Skipped(_)) => {}
                Err(Insert::Outside) => return Err("record outside the policy zone".into()),
            }
        }
        Ok(zone)
    }

    fn insert(&mut self, r: Record) -> Result<(), Insert> {
        let apex = self.config.name.to_lowercase();
        let owner = r.name.to_lowercase();
        if !apex.zone_of(&owner) {
            return Err(Insert::Outside);
        }
        if r.record_type() == RecordType::SOA && owner == apex {
            self.soa = Some(r);
            return Ok(());
        }
        if ignored(r.record_type()) {
            return Ok(());
        }
        // Counted by hand: `num_labels` leaves out a leading `*`.
        let keep = owner.iter().count() - apex.iter().count();
        if keep == 0 {
            return Err(Insert::Skipped(format!(
                "{} {} at the zone apex is no trigger",
                r.name,
                r.record_type()
            )));
        }
        let labels: Vec<String> = owner
            .iter()
            .take(keep)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let Some(action) = action_of(&r) else {
            return Err(Insert::Skipped(format!(
                "{} {}: not a valid action",
                r.name, r.data
            )));
        };
        let skipped = Insert::Skipped;
        let tld = labels.last().map(String::as_str).unwrap_or("");
        let below = labels.get(..labels.len() - 1).unwrap_or_default();
        let bad_net = || Insert::Skipped(format!("{}: not an address trigger", r.name));
        match tld {
            "rpz-client-ip" => {
                let net = parse_net(below).ok_or_else(bad_net)?;
                self.client_ip.insert(net, action, r).map_err(skipped)
            }
            "rpz-ip" => {
                let net = parse_net(below).ok_or_else(bad_net)?;
                self.response_ip.insert(net, action, r).map_err(skipped)
            }
            "rpz-nsip" => {
                let net = parse_net(below).ok_or_else(bad_net)?;
                self.nsip.insert(net, action, r).map_err(skipped)
            }
            "rpz-nsdname" => {
                let name = name_of(below).ok_or_else(bad_net)?;
                self.nsdname.insert(name, action, r).map_err(skipped)
            }
            _ => {
                let name = name_of(&labels).ok_or_else(bad_net)?;
                self.qname.insert(name, action, r).map_err(skipped)
            }
        }
    }

    /// The action a trigger has here, with the zone's override.
    fn action(&self, t: &Trigger) -> Action {
        match &self.config.action_override {
            None => t.action,
            Some(RpzOverride::NxDomain) => Action::NxDomain,
            Some(RpzOverride::NoData) => Action::NoData,
            Some(RpzOverride::Passthru) => Action::Passthru,
            Some(RpzOverride::Drop) => Action::Drop,
            Some(RpzOverride::Cname(_)) => Action::Cname,
            Some(RpzOverride::Disabled) => t.action,
        }
    }

    /// Whether the zone applies to a client with these tags (None: no
    /// client, a lookup of the resolver's own).
    fn applies(&self, tags: Option<&[String]>) -> bool {
        self.config.tags.is_empty()
            || tags.is_some_and(|t| t.iter().any(|x| self.config.tags.contains(x)))
    }

    fn disabled(&self) -> bool {
        self.config.action_override == Some(RpzOverride::Disabled)
    }

    /// The CNAME record the `cname` override answers for `owner`.
    fn cname_override(&self, owner: &Name) -> Option<(Record, Name)> {
        let Some(RpzOverride::Cname(target)) = &self.config.action_override else {
            return None;
        };
        let r = Record::from_rdata(owner.clone(), 3600, RData::CNAME(CNAME(target.clone())));
        Some((r, target.clone()))
    }

    fn log(
        &self,
        kind: TriggerKind,
        trigger: &dyn std::fmt::Display,
        action: Action,
        qname: &Name,
        client: IpAddr,
    ) {
        if !self.config.log {
            return;
        }
        let name = self.config.log_name.as_deref().unwrap_or("");
        tracing::info!(
            "rpz: applied [{name}] {} {trigger} {} {client} {qname}",
            kind.as_str(),
            action.as_str()
        );
    }
}

enum Insert {
    Outside,
    Skipped(String),
}

fn name_of(labels: &[String]) -> Option<Name> {
    if labels.is_empty() {
        return None;
    }
    let mut n = Name::from_labels(labels.iter().map(|l| l.as_bytes())).ok()?;
    n.set_fqdn(true);
    Some(n.to_lowercase())
}

/// All policy zones, in order of precedence.
#[derive(Debug, Clone, Default)]
pub struct Rpz {
    zones: Vec<PolicyZone>,
}

/// An answer a policy makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Synth {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// AA=1 (policy data is local data).
    pub authoritative: bool,
    /// TC=1 (tcp-only over UDP).
    pub truncated: bool,
    /// RA=0 (`signal_nxdomain_ra`).
    pub clear_ra: bool,
    /// A CNAME among the answers whose target is to be resolved and its
    /// answer appended.
    pub follow: Option<Name>,
    /// AA stays set when that target's answer comes from resolution (a
    /// policy answer to the question itself); else the resolver's flags
    /// win (a policy met on the way, as Unbound's iterator does).
    pub follow_aa: bool,
}

impl Synth {
    fn new(rcode: ResponseCode, answers: Vec<Record>) -> Self {
        Self {
            rcode,
            answers,
            additionals: Vec::new(),
            authoritative: true,
            truncated: false,
            clear_ra: false,
            follow: None,
            follow_aa: true,
        }
    }
}

/// What a policy says of a client's query before resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Before {
    /// No policy applies: resolve, then check the answer (`after`).
    Resolve,
    /// Resolve and answer as usual; no later trigger applies.
    Passthru,
    /// Send no reply.
    Drop,
    Answer(Synth),
}

/// What a policy says of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// Leave it as it is.
    Keep,
    Drop,
    /// Replace it (`Synth::authoritative` false keeps the resolver's flags).
    Answer(Synth),
    /// Resolve on from this CNAME target, append that answer and ask
    /// again; with `passthru`, no policy applies any more.
    Continue {
        from: Name,
        passthru: bool,
    },
}

/// A query as the policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub name: &'a Name,
    pub qtype: RecordType,
    pub client: IpAddr,
    /// Came over UDP (tcp-only applies).
    pub udp: bool,
    /// The server sends minimal responses (no SOA in the additional
    /// section of answers made after resolution).
    pub minimal: bool,
    /// The client's tags (zones with tags apply to clients with one).
    pub tags: &'a [String],
}

tokio::task_local! {
    /// The tags of the client a resolution runs for, as the engine's
    /// calls (`AliasPolicy`) see them.
    static CLIENT_TAGS: Vec<String>;
}

/// Runs `f` (a client's resolution) with the client's tags known to the
/// policy the engine consults.
pub async fn with_client_tags<F: std::future::Future>(tags: &[String], f: F) -> F::Output {
    CLIENT_TAGS.scope(tags.to_vec(), f).await
}

impl Rpz {
    pub fn new(zones: Vec<PolicyZone>) -> Self {
        Self { zones }
    }

    /// Loads every configured policy zone.
    pub fn load(configs: &[RpzZone]) -> Result<Self, RpzError> {
        let zones = configs
            .iter()
            .map(PolicyZone::load)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { zones })
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The client address and query name triggers, before resolution.
    pub fn before(&self, q: &Query<'_>) -> Before {
        for zone in &self.zones {
            if !zone.applies(Some(q.tags)) {
                continue;
            }
            let by_ip = zone.client_ip.find(q.client);
            let by_name = zone.qname.find(q.name);
            if by_ip.is_none() && by_name.is_none() {
                continue;
            }
            if zone.disabled() {
                let (kind, what) = match (by_ip, by_name) {
                    (Some((n, _)), _) => (TriggerKind::ClientIp, n.to_string()),
                    (None, Some((n, _))) => (TriggerKind::Qname, n.to_string()),
                    (None, None) => continue,
                };
                if zone.config.log {
                    let name = zone.config.log_name.as_deref().unwrap_or("");
                    tracing::info!(
                        "rpz: applied [{name}] {} {what} disabled {} {}",
                        kind.as_str(),
                        q.client,
                        q.name
                    );
                }
                continue;
            }
            if let Some((net, t)) = by_ip {
                let action = zone.action(t);
                zone.log(TriggerKind::ClientIp, net, action, q.name, q.client);
                return self.client_ip_answer(zone, t, action, q);
            }
            if let Some((name, t)) = by_name {
                let action = zone.action(t);
                zone.log(TriggerKind::Qname, name, action, q.name, q.client);
                return qname_answer(zone, t, action, q);
            }
        }
        Before::Resolve
    }

    fn client_ip_answer(
        &self,
        zone: &PolicyZone,
        t: &Trigger,
        action: Action,
        q: &Query<'_>,
    ) -> Before {
        match action {
            Action::Passthru => Before::Passthru,
            Action::TcpOnly if !q.udp => Before::Resolve,
            Action::LocalData => {
                let picked = t.pick(q.qtype, true);
                let answers = renamed(&picked, q.name);
                let follow = cname_target(&answers, q.qtype);
                let mut s = Synth::new(ResponseCode::NoError, answers);
                s.follow = follow;
                s.additionals.extend(zone.soa.clone());
                Before::Answer(s)
            }
            _ => qname_answer(zone, t, action, q),
        }
    }

    /// Query name triggers on the CNAME targets of an answer, then the
    /// response address triggers on its addresses. `answers` is the
    /// resolver's answer section for `q`.
    ///
    /// The engine stops at a CNAME target with a trigger (`AliasPolicy`);
    /// where the policy lets resolution go on (passthru, tcp-only), the
    /// answer is `After::Continue` from that target, and the caller calls
    /// again with the longer answer and the target in `handled`. With
    /// `passthru` (a policy already said so) no policy applies and only
    /// those continuations are asked for.
    pub fn after(
        &self,
        q: &Query<'_>,
        rcode: ResponseCode,
        answers: &[Record],
        handled: &[Name],
        passthru: bool,
    ) -> After {
        // The CNAME chain, in order.
        let mut cur = q.name.to_lowercase();
        let mut chain = vec![cur.clone()];
        for _ in 0..answers.len() {
            let next = answers.iter().find_map(|r| match &r.data {
                RData::CNAME(CNAME(t)) if r.name.to_lowercase() == cur => Some(t.to_lowercase()),
                _ => None,
            });
            let Some(target) = next else { break };
            if chain.contains(&target) {
                break;
            }
            // Resolution stopped before this target (nothing owned by it).
            let stopped = !answers.iter().any(|r| r.name.to_lowercase() == target);
            let trigger = if handled.contains(&target) {
                None
            } else {
                self.find_qname(&target, q)
            };
            if passthru {
                if trigger.is_some() && stopped {
                    return After::Continue {
                        from: target,
                        passthru: true,
                    };
                }
            } else if let Some((zone, name, t)) = trigger {
                let action = match zone.action(t) {
                    // The override's CNAME is for the query name only.
                    Action::Cname => Action::LocalData,
                    a => a,
                };
                zone.log(TriggerKind::Qname, name, action, &target, q.client);
                let kept: Vec<Record> = answers
                    .iter()
                    .filter(|r| chain.contains(&r.name.to_lowercase()))
                    .cloned()
                    .collect();
                let mut s = match action {
                    Action::Passthru if stopped => {
                        return After::Continue {
                            from: target,
                            passthru: true,
                        }
                    }
                    Action::Passthru => return After::Keep,
                    Action::TcpOnly if stopped => {
                        return After::Continue {
                            from: target,
                            passthru: false,
                        }
                    }
                    Action::TcpOnly => {
                        chain.push(target.clone());
                        cur = target;
                        continue;
                    }
                    Action::Drop => return After::Drop,
                    Action::NxDomain => {
                        let mut s = Synth::new(ResponseCode::NXDomain, kept);
                        s.clear_ra = zone.config.signal_nxdomain_ra;
                        s
                    }
                    Action::NoData => Synth::new(ResponseCode::NoError, kept),
                    Action::LocalData | Action::Cname => {
                        let picked = t.pick(q.qtype, true);
                        let data = renamed(&picked, &target);
                        // A CNAME in the policy is followed like any other
                        // in the chain, and the answer is the resolver's.
                        let follow = cname_target(&data, q.qtype);
                        let mut answers = kept;
                        answers.extend(data);
                        let mut s = Synth::new(ResponseCode::NoError, answers);
                        s.follow = follow;
                        s.follow_aa = false;
                        s
                    }
                };
                if !q.minimal {
                    s.additionals.extend(zone.soa.clone());
                }
                return After::Answer(s);
            }
            chain.push(target.clone());
            cur = target;
        }
        if rcode != ResponseCode::NoError || passthru {
            return After::Keep;
        }
        self.response_ip(q, answers)
    }

    fn find_qname<'z>(
        &'z self,
        name: &Name,
        q: &Query<'_>,
    ) -> Option<(&'z PolicyZone, &'z Name, &'z Trigger)> {
        for zone in self.zones.iter().filter(|z| z.applies(Some(q.tags))) {
            if let Some((n, t)) = zone.qname.find(name) {
                if zone.disabled() {
                    zone.log(TriggerKind::Qname, n, t.action, q.name, q.client);
                    continue;
                }
                return Some((zone, n, t));
            }
        }
        None
    }

    /// The query name triggers for a CNAME target a policy answered with,
    /// as for a CNAME target met while resolving: None (or `After::Keep`
    /// for passthru) to resolve it.
    pub fn at_target(&self, q: &Query<'_>) -> Option<After> {
        let (zone, name, t) = self.find_qname(q.name, q)?;
        let action = match zone.action(t) {
            Action::Cname => Action::LocalData,
            a => a,
        };
        zone.log(TriggerKind::Qname, name, action, q.name, q.client);
        let mut s = match action {
            Action::Passthru => return Some(After::Keep),
            Action::TcpOnly => return None,
            Action::Drop => return Some(After::Drop),
            Action::NxDomain => {
                let mut s = Synth::new(ResponseCode::NXDomain, Vec::new());
                s.clear_ra = zone.config.signal_nxdomain_ra;
                s
            }
            Action::NoData => Synth::new(ResponseCode::NoError, Vec::new()),
            Action::LocalData | Action::Cname => {
                let picked = t.pick(q.qtype, true);
                let data = renamed(&picked, q.name);
                let mut s = Synth::new(ResponseCode::NoError, Vec::new());
                s.follow = cname_target(&data, q.qtype);
                s.answers = data;
                s
            }
        };
        if !q.minimal {
            s.additionals.extend(zone.soa.clone());
        }
        Some(After::Answer(s))
    }

    /// The response address triggers: the first zone with a trigger for
    /// an address of the answer decides, for the first such record.
    fn response_ip(&self, q: &Query<'_>, answers: &[Record]) -> After {
        for zone in self.zones.iter().filter(|z| z.applies(Some(q.tags))) {
            if zone.response_ip.is_empty() {
                continue;
            }
            let hit = answers.iter().find_map(|r| {
                let ip = match &r.data {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(a) => IpAddr::V6(a.0),
                    _ => return None,
                };
                zone.response_ip.find(ip).map(|(n, t)| (r, n, t))
            });
            let Some((matched, net, t)) = hit else {
                continue;
            };
            if zone.disabled() {
                zone.log(TriggerKind::ResponseIp, net, t.action, q.name, q.client);
                continue;
            }
            let action = zone.action(t);
            zone.log(TriggerKind::ResponseIp, net, action, q.name, q.client);
            // The records before the matched RRset stay (a CNAME chain).
            let owner = matched.name.to_lowercase();
            let rtype = matched.record_type();
            let before: Vec<Record> = if q.qtype == RecordType::ANY {
                Vec::new()
            } else {
                answers
                    .iter()
                    .take_while(|r| !(r.name.to_lowercase() == owner && r.record_type() == rtype))
                    .cloned()
                    .collect()
            };
            let plain = |rcode, answers| {
                let mut s = Synth::new(rcode, answers);
                s.authoritative = false;
                s
            };
            return match action {
                Action::Passthru => After::Keep,
                Action::Drop => After::Drop,
                Action::TcpOnly if !q.udp => After::Keep,
                Action::TcpOnly => {
                    let mut s = plain(ResponseCode::NoError, Vec::new());
                    s.truncated = true;
                    After::Answer(s)
                }
                Action::NxDomain => {
                    let mut s = plain(ResponseCode::NXDomain, before);
                    s.clear_ra = zone.config.signal_nxdomain_ra;
                    After::Answer(s)
                }
                Action::NoData => After::Answer(plain(ResponseCode::NoError, before)),
                Action::Cname => {
                    let Some((r, target)) = zone.cname_override(&matched.name) else {
                        return After::Keep;
                    };
                    let mut answers = before;
                    answers.push(r);
                    let mut s = plain(ResponseCode::NoError, answers);
                    s.follow = (q.qtype != RecordType::ANY).then_some(target);
                    After::Answer(s)
                }
                Action::LocalData => {
                    let mut picked = t.pick(rtype, true);
                    if picked.is_empty() {
                        picked = t.data.iter().collect();
                    }
                    let data = renamed(&picked, &matched.name);
                    let follow = cname_target(&data, q.qtype);
                    let mut answers = before;
                    answers.extend(data);
                    let mut s = plain(ResponseCode::NoError, answers);
                    s.follow = follow;
                    After::Answer(s)
                }
            };
        }
        After::Keep
    }

    /// The first zone with a name server trigger for these servers: by
    /// NS name (`nsdname`) first, then by address (`nsip`). Disabled
    /// zones are passed over (and logged when `q` is given).
    fn ns_hit(
        &self,
        ns_names: &[Name],
        ns_addrs: &[IpAddr],
        tags: Option<&[String]>,
        q: Option<&Query<'_>>,
    ) -> Option<(&PolicyZone, String, &Trigger, TriggerKind)> {
        for zone in self.zones.iter().filter(|z| z.applies(tags)) {
            let by_name = ns_names.iter().find_map(|n| {
                zone.nsdname
                    .find(n)
                    .map(|(k, t)| (k.to_string(), t, TriggerKind::NsDname))
            });
            let hit = by_name.or_else(|| {
                ns_addrs.iter().find_map(|a| {
                    zone.nsip
                        .find(*a)
                        .map(|(k, t)| (k.to_string(), t, TriggerKind::NsIp))
                })
            });
            let Some((what, t, kind)) = hit else { continue };
            if zone.disabled() {
                if let Some(q) = q {
                    zone.log(kind, &what, t.action, q.name, q.client);
                }
                continue;
            }
            return Some((zone, what, t, kind));
        }
        None
    }

    /// The name server triggers for a zone cut the engine stopped at
    /// (`AliasPolicy::stops_at_cut`) while resolving the last name of
    /// `chain` (the CNAME chain so far from `q.name`): the answer, with the
    /// chain in front; `After::Keep` for passthru (resolve on without any
    /// policy); None when no trigger applies.
    pub fn at_zone_cut(
        &self,
        q: &Query<'_>,
        chain: &[Record],
        ns_names: &[Name],
        ns_addrs: &[IpAddr],
    ) -> Option<After> {
        let (zone, what, t, kind) = self.ns_hit(ns_names, ns_addrs, Some(q.tags), Some(q))?;
        // The name being resolved: the end of the chain.
        let qchase = chain_end(q.name, chain);
        let action = zone.action(t);
        zone.log(kind, &what, action, &qchase, q.client);
        let with_chain = |rs: Vec<Record>| {
            let mut all = chain.to_vec();
            all.extend(rs);
            all
        };
        let mut s = match action {
            Action::Passthru => return Some(After::Keep),
            // Over UDP the client is sent to TCP; over TCP resolution goes on.
            Action::TcpOnly if !q.udp => return Some(After::Keep),
            Action::TcpOnly => {
                let mut s = Synth::new(ResponseCode::NoError, Vec::new());
                s.truncated = true;
                s.authoritative = false;
                return Some(After::Answer(s));
            }
            Action::Drop => return Some(After::Drop),
            Action::NxDomain => {
                let mut s = Synth::new(ResponseCode::NXDomain, with_chain(Vec::new()));
                s.clear_ra = zone.config.signal_nxdomain_ra;
                s
            }
            Action::NoData => Synth::new(ResponseCode::NoError, with_chain(Vec::new())),
            Action::LocalData => {
                let picked = t.pick(q.qtype, true);
                let data = renamed(&picked, &qchase);
                // A CNAME is followed, and the answer is the resolver's.
                let follow = cname_target(&data, q.qtype);
                let mut s = Synth::new(ResponseCode::NoError, with_chain(data));
                s.follow = follow;
                s.follow_aa = false;
                s
            }
            Action::Cname => {
                let (r, target) = zone.cname_override(&qchase)?;
                let mut s = Synth::new(ResponseCode::NoError, with_chain(vec![r]));
                s.follow = (q.qtype != RecordType::CNAME).then_some(target);
                s.follow_aa = false;
                s
            }
        };
        if !q.minimal {
            s.additionals.extend(zone.soa.clone());
        }
        Some(After::Answer(s))
    }

    /// Whether any zone has name server triggers (the engine then reports
    /// the zone cuts it meets).
    pub fn has_ns_triggers(&self) -> bool {
        self.zones
            .iter()
            .any(|z| !z.nsdname.map.is_empty() || !z.nsip.is_empty())
    }
}

/// The last name of a CNAME chain from `name` in `answers`.
pub fn chain_end(name: &Name, answers: &[Record]) -> Name {
    let mut cur = name.clone();
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(CNAME(t)) if r.name.to_lowercase() == cur.to_lowercase() => {
                Some(t.clone())
            }
            _ => None,
        });
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur
}

impl crate::engine::AliasPolicy for Rpz {
    fn stops_at(&self, target: &Name) -> bool {
        let stops = |tags: Option<&[String]>| {
            self.zones
                .iter()
                .any(|z| z.applies(tags) && !z.disabled() && z.qname.find(target).is_some())
        };
        CLIENT_TAGS
            .try_with(|t| stops(Some(t)))
            .unwrap_or_else(|_| stops(None))
    }

    fn stops_at_cut(&self, ns_names: &[Name], addrs: &[IpAddr]) -> bool {
        let stops = |tags: Option<&[String]>| self.ns_hit(ns_names, addrs, tags, None).is_some();
        CLIENT_TAGS
            .try_with(|t| stops(Some(t)))
            .unwrap_or_else(|_| stops(None))
    }
}

/// The answer a query name trigger (or a client address trigger without
/// local data) gives.
fn qname_answer(zone: &PolicyZone, t: &Trigger, action: Action, q: &Query<'_>) -> Before {
    match action {
        Action::Passthru => Before::Passthru,
        Action::Drop => Before::Drop,
        Action::TcpOnly if q.udp => {
            let mut s = Synth::new(ResponseCode::NoError, Vec::new());
            s.truncated = true;
            Before::Answer(s)
        }
        Action::TcpOnly => Before::Resolve,
        Action::NxDomain => {
            let mut s = Synth::new(ResponseCode::NXDomain, Vec::new());
            s.clear_ra = zone.config.signal_nxdomain_ra;
            Before::Answer(s)
        }
        Action::NoData => Before::Answer(Synth::new(ResponseCode::NoError, Vec::new())),
        Action::Cname => match zone.cname_override(q.name) {
            Some((r, target)) => {
                let mut s = Synth::new(ResponseCode::NoError, vec![r]);
                s.follow = Some(target);
                Before::Answer(s)
            }
            None => Before::Resolve,
        },
        Action::LocalData => {
            let picked = t.pick(q.qtype, q.qtype != RecordType::CNAME);
            let answers = renamed(&picked, q.name);
            let follow = cname_target(&answers, q.qtype);
            let mut s = Synth::new(ResponseCode::NoError, answers);
            s.follow = follow;
            Before::Answer(s)
        }
    }
}

/// Records renamed to `owner`; a CNAME target `*.rest` becomes
/// `owner.rest` (the draft's wildcard CNAME). A target that would be too
/// long is dropped.
fn renamed(records: &[&Record], owner: &Name) -> Vec<Record> {
    records
        .iter()
        .filter_map(|r| {
            let mut r = (*r).clone();
            r.name = owner.clone();
            if let RData::CNAME(CNAME(target)) = &r.data {
                if target.is_wildcard() {
                    let t = owner.clone().append_name(&target.base_name()).ok()?;
                    r.data = RData::CNAME(CNAME(t));
                }
            }
            Some(r)
        })
        .collect()
}

/// The target of the CNAME answered when the question was for another
/// type: it is to be resolved.
fn cname_target(answers: &[Record], qtype: RecordType) -> Option<Name> {
    if qtype == RecordType::CNAME || qtype == RecordType::ANY {
        return None;
    }
    match answers {
        [r] => match &r.data {
            RData::CNAME(CNAME(t)) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests;
