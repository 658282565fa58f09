//! Local zones and local data (Unbound's local-zone / local-data): answers
//! made from configured records, or a block, before the cache and before
//! iteration. Also the locally served zones every resolver should answer
//! itself (RFC 6303 §4, RFC 6761 §6.3 localhost, RFC 8375 home.arpa),
//! unless configured away (`nodefault`) or covered by a stub or forward
//! zone. Negative answers carry the zone's SOA, its TTL capped by the SOA
//! minimum (RFC 2308 §3).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::local::{parse_record, LocalZoneType};
use crate::config::ResolverConfig;

/// What the zone type says for a question its local data does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Resolve as if there were no local zone.
    Resolve,
    /// Send no reply.
    Drop,
    Refuse,
    NxDomain,
    NoData,
}

/// The decision table of zone types for a question of type `qtype` that
/// local data does not answer. `has_data`: the name holds local data (of
/// other types); `exists`: it holds data or names below it do (not an
/// NXDOMAIN).
pub fn miss_action(kind: LocalZoneType, qtype: RecordType, has_data: bool, exists: bool) -> Miss {
    use LocalZoneType as T;
    match kind {
        T::BlockA | T::BlockAWdata | T::BlockAaaa | T::BlockAaaaWdata => {
            let blocked = if matches!(kind, T::BlockA | T::BlockAWdata) {
                RecordType::A
            } else {
                RecordType::AAAA
            };
            if qtype == blocked {
                Miss::NoData
            } else {
                Miss::Resolve
            }
        }
        T::Deny | T::InformDeny => Miss::Drop,
        T::Refuse | T::AlwaysRefuse => Miss::Refuse,
        T::Static | T::Noview => {
            if exists {
                Miss::NoData
            } else {
                Miss::NxDomain
            }
        }
        T::Redirect | T::AlwaysNodata | T::AlwaysNull => Miss::NoData,
        T::AlwaysNxdomain => Miss::NxDomain,
        T::Transparent | T::Inform => {
            if has_data {
                Miss::NoData
            } else {
                Miss::Resolve
            }
        }
        T::TypeTransparent | T::AlwaysTransparent | T::Nodefault => Miss::Resolve,
    }
}

/// Whether local data is consulted at all in a zone of this type.
fn uses_data(kind: LocalZoneType) -> bool {
    use LocalZoneType as T;
    !matches!(
        kind,
        T::AlwaysTransparent
            | T::AlwaysRefuse
            | T::AlwaysNxdomain
            | T::AlwaysNodata
            | T::AlwaysNull
    )
}

/// A local answer.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalAnswer {
    /// A reply made here (AA=1).
    Reply {
        rcode: ResponseCode,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        /// A CNAME answered here whose target the resolver must follow.
        follow: Option<Name>,
        /// An extended DNS error to attach (RFC 8914).
        ede: Option<(u16, &'static str)>,
    },
    /// No reply at all.
    Drop,
}

/// One local zone and its data, by lower-cased owner name.
#[derive(Debug, Clone)]
struct Zone {
    name: Name,
    kind: LocalZoneType,
    /// Per-client types (local-zone-override).
    overrides: Vec<(IpNet, LocalZoneType)>,
    data: HashMap<Name, Vec<Record>>,
    /// Every owner name of the data and each name between it and the apex
    /// (empty non-terminals exist: NODATA, not NXDOMAIN).
    nodes: std::collections::HashSet<Name>,
}

impl Zone {
    /// The zone's type for a client: the most specific override holding
    /// its address, else the zone's own.
    fn kind_for(&self, client: Option<IpAddr>) -> LocalZoneType {
        let Some(ip) = client else { return self.kind };
        self.overrides
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .map_or(self.kind, |(_, k)| *k)
    }
}

/// All local zones, by (lower-cased name, class).
#[derive(Debug, Clone, Default)]
pub struct LocalZones {
    zones: BTreeMap<(Name, u16), Zone>,
    /// The last label of every zone's name but the root's (lower-cased),
    /// and whether the root is a zone: a name whose last label is none of
    /// these is in no zone, found without looking its ancestors up.
    tops: Vec<Box<[u8]>>,
    root: bool,
}

/// SOA and NS of the RFC 6303 zones (RFC 6303 §3).
const DEFAULT_SOA: &str = "10800 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10800";

/// The zones answered locally unless `nodefault` (RFC 6303 §4, RFC 6761,
/// RFC 8375, RFC 6598), with their extra records.
fn default_zones() -> Vec<(String, Vec<String>)> {
    let mut out = vec![
        (
            "localhost.".to_string(),
            vec![
                "localhost. 10800 IN A 127.0.0.1".to_string(),
                "localhost. 10800 IN AAAA ::1".to_string(),
            ],
        ),
        (
            "127.in-addr.arpa.".to_string(),
            vec!["1.0.0.127.in-addr.arpa. 10800 IN PTR localhost.".to_string()],
        ),
        (
            format!("1.{}ip6.arpa.", "0.".repeat(31)),
            vec![format!(
                "1.{}ip6.arpa. 10800 IN PTR localhost.",
                "0.".repeat(31)
            )],
        ),
        ("home.arpa.".to_string(), Vec::new()),
    ];
    let mut plain: Vec<String> = [
        "10.in-addr.arpa.",
        "168.192.in-addr.arpa.",
        "0.in-addr.arpa.",
        "254.169.in-addr.arpa.",
        "2.0.192.in-addr.arpa.",
        "100.51.198.in-addr.arpa.",
        "113.0.203.in-addr.arpa.",
        "255.255.255.255.in-addr.arpa.",
        "d.f.ip6.arpa.",
        "8.e.f.ip6.arpa.",
        "9.e.f.ip6.arpa.",
        "a.e.f.ip6.arpa.",
        "b.e.f.ip6.arpa.",
        "8.b.d.0.1.0.0.2.ip6.arpa.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    plain.push(format!("{}ip6.arpa.", "0.".repeat(32)));
    plain.extend((16..=31).map(|n| format!("{n}.172.in-addr.arpa.")));
    plain.extend((64..=127).map(|n| format!("{n}.100.in-addr.arpa.")));
    out.extend(plain.into_iter().map(|n| (n, Vec::new())));
    out
}

impl LocalZones {
    /// The local zones of a resolver config: configured zones, default
    /// zones not turned off, and local data (a record outside every zone
    /// makes a transparent zone at its own name, as in Unbound).
    pub fn new(cfg: &ResolverConfig) -> Self {
        let mut me = Self::default();
        for z in &cfg.local_zones {
            if z.kind != LocalZoneType::Nodefault {
                me.insert_zone(&z.name, u16::from(z.class), z.kind);
                if let Some(zone) = me
                    .zones
                    .get_mut(&(z.name.to_lowercase(), u16::from(z.class)))
                {
                    zone.overrides = z.overrides.clone();
                }
            }
        }
        for (name, extra) in default_zones() {
            let Ok(name) = Name::from_ascii(&name) else {
                continue;
            };
            let configured = cfg
                .local_zones
                .iter()
                .any(|z| z.name == name && z.class == DNSClass::IN);
            let delegated = cfg
                .stub_zones
                .iter()
                .map(|s| &s.name)
                .chain(cfg.forward_zones.iter().map(|f| &f.name))
                .any(|n| name.zone_of(n));
            if configured || delegated {
                continue;
            }
            me.insert_zone(&name, u16::from(DNSClass::IN), LocalZoneType::Static);
            let apex = name.to_ascii();
            let records = [
                format!("{apex} {DEFAULT_SOA}"),
                format!("{apex} 10800 IN NS localhost."),
            ];
            for text in records.iter().chain(extra.iter()) {
                if let Ok(r) = parse_record(text) {
                    me.insert_data(r);
                }
            }
        }
        for r in &cfg.local_data {
            me.insert_data(r.clone());
        }
        me
    }

    /// Whether no zone is configured (nothing to look at).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    fn insert_zone(&mut self, name: &Name, class: u16, kind: LocalZoneType) {
        let key = (name.to_lowercase(), class);
        match key.0.iter().next_back() {
            None => self.root = true,
            Some(top) => {
                if !self.tops.iter().any(|t| **t == *top) {
                    self.tops.push(top.into());
                }
            }
        }
        self.zones.entry(key).or_insert_with(|| Zone {
            name: name.clone(),
            kind,
            overrides: Vec::new(),
            data: HashMap::new(),
            nodes: std::collections::HashSet::new(),
        });
    }

    fn insert_data(&mut self, r: Record) {
        let class = r.dns_class;
        let key = match self.find_key(&r.name, class) {
            Some(k) => k,
            None => {
                self.insert_zone(&r.name, u16::from(class), LocalZoneType::Transparent);
                (r.name.to_lowercase(), u16::from(class))
            }
        };
        if let Some(z) = self.zones.get_mut(&key) {
            let owner = r.name.to_lowercase();
            let mut node = owner.clone();
            while z.nodes.insert(node.clone()) && node.num_labels() > key.0.num_labels() {
                node = node.base_name();
            }
            let set = z.data.entry(owner).or_default();
            if !set.contains(&r) {
                set.push(r);
            }
        }
    }

    /// The key of the closest zone holding `name` in `class` (class ANY:
    /// in any class).
    fn find_key(&self, name: &Name, class: DNSClass) -> Option<(Name, u16)> {
        let under_a_top = match name.iter().next_back() {
            None => false,
            Some(top) => self.tops.iter().any(|t| t.eq_ignore_ascii_case(top)),
        };
        if !(self.root || under_a_top) {
            return None;
        }
        let mut cur = name.to_lowercase();
        loop {
            if class == DNSClass::ANY {
                let found = self
                    .zones
                    .range((cur.clone(), 0)..=(cur.clone(), u16::MAX))
                    .next()
                    .map(|(k, _)| k.clone());
                if found.is_some() {
                    return found;
                }
            } else {
                let key = (cur.clone(), u16::from(class));
                if self.zones.contains_key(&key) {
                    return Some(key);
                }
            }
            if cur.is_root() {
                return None;
            }
            cur = crate::names::parent(&cur);
        }
    }

    /// Whether questions for `qname` from `client` are logged (inform zones).
    pub fn informs(&self, qname: &Name, qclass: DNSClass, client: Option<IpAddr>) -> bool {
        self.find_key(qname, qclass)
            .and_then(|k| self.zones.get(&k))
            .is_some_and(|z| {
                matches!(
                    z.kind_for(client),
                    LocalZoneType::Inform | LocalZoneType::InformDeny
                )
            })
    }

    /// The local answer to a question from `client` (None: no client
    /// address, no override applies), or None to resolve it normally.
    pub fn answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        qclass: DNSClass,
        client: Option<IpAddr>,
    ) -> Option<LocalAnswer> {
        let key = self.find_key(qname, qclass)?;
        let zone = self.zones.get(&key)?;
        let kind = zone.kind_for(client);
        let lower = qname.to_lowercase();
        if uses_data(kind) {
            if let Some(a) = zone.data_answer(qname, &lower, qtype, kind) {
                return Some(a);
            }
        }
        if kind == LocalZoneType::AlwaysNull {
            let data = match qtype {
                RecordType::A => Some(RData::A(std::net::Ipv4Addr::UNSPECIFIED.into())),
                RecordType::AAAA => Some(RData::AAAA(std::net::Ipv6Addr::UNSPECIFIED.into())),
                _ => None,
            };
            if let Some(data) = data {
                let mut r = Record::from_rdata(
                    qname.clone(),
                    crate::config::local::DEFAULT_LOCAL_TTL,
                    data,
                );
                r.dns_class = DNSClass::IN;
                return Some(reply(ResponseCode::NoError, vec![r], Vec::new()));
            }
        }
        let has_data = zone.data.contains_key(&lower);
        let exists = zone.nodes.contains(&lower);
        let soa = || zone.negative_soa();
        Some(match miss_action(kind, qtype, has_data, exists) {
            Miss::Resolve => return None,
            Miss::Drop => LocalAnswer::Drop,
            Miss::Refuse => reply(ResponseCode::Refused, Vec::new(), Vec::new()),
            Miss::NxDomain => reply(ResponseCode::NXDomain, Vec::new(), soa()),
            Miss::NoData => reply(ResponseCode::NoError, Vec::new(), soa()),
        })
    }
}

/// A plain reply.
fn reply(rcode: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> LocalAnswer {
    LocalAnswer::Reply {
        rcode,
        answers,
        authorities,
        follow: None,
        ede: None,
    }
}

impl Zone {
    /// The answer local data gives, if it has one: the records of the type
    /// asked (all of them for ANY), else a CNAME to follow. A redirect zone
    /// answers with its apex data under the name asked.
    fn data_answer(
        &self,
        qname: &Name,
        lower: &Name,
        qtype: RecordType,
        kind: LocalZoneType,
    ) -> Option<LocalAnswer> {
        let redirect = kind == LocalZoneType::Redirect;
        let owner = if redirect {
            self.name.to_lowercase()
        } else {
            lower.clone()
        };
        let set = self.data.get(&owner)?;
        let pick = |t: Option<RecordType>| -> Vec<Record> {
            set.iter()
                .filter(|r| t.is_none_or(|t| r.record_type() == t))
                .map(|r| {
                    let mut r = r.clone();
                    r.name = qname.clone();
                    r
                })
                .collect()
        };
        let exact = pick((qtype != RecordType::ANY).then_some(qtype));
        if !exact.is_empty() {
            return Some(reply(ResponseCode::NoError, exact, Vec::new()));
        }
        let cname = pick(Some(RecordType::CNAME));
        let first = cname.first()?;
        let RData::CNAME(target) = &first.data else {
            return None;
        };
        let mut target = target.0.clone();
        if redirect && target.is_wildcard() {
            // A wildcard target in a redirect zone takes the labels the
            // question has below the zone (Unbound's redirect expansion).
            let keep = qname.num_labels().saturating_sub(self.name.num_labels());
            let prefix = Name::from_labels(qname.iter().take(usize::from(keep))).ok();
            match prefix.and_then(|p| p.append_name(&target.base_name()).ok()) {
                Some(t) => target = t,
                None => {
                    return Some(LocalAnswer::Reply {
                        rcode: ResponseCode::YXDomain,
                        answers: Vec::new(),
                        authorities: Vec::new(),
                        follow: None,
                        ede: Some((0, "DNAME expansion has yielded too long a domain name")),
                    })
                }
            }
            let mut r = first.clone();
            r.data = RData::CNAME(hickory_proto::rr::rdata::CNAME(target.clone()));
            return Some(LocalAnswer::Reply {
                rcode: ResponseCode::NoError,
                answers: vec![r],
                authorities: Vec::new(),
                follow: Some(target),
                ede: None,
            });
        }
        Some(LocalAnswer::Reply {
            rcode: ResponseCode::NoError,
            answers: vec![first.clone()],
            authorities: Vec::new(),
            follow: Some(target),
            ede: None,
        })
    }

    /// The apex SOA for a negative answer, its TTL capped by its minimum
    /// (RFC 2308 §3); empty without one.
    fn negative_soa(&self) -> Vec<Record> {
        let Some(set) = self.data.get(&self.name.to_lowercase()) else {
            return Vec::new();
        };
        set.iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => {
                    let mut r = r.clone();
                    r.ttl = r.ttl.min(soa.minimum);
                    Some(r)
                }
                _ => None,
            })
            .take(1)
            .collect()
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
