//! Authoritative answering as a pure function: zones + query -> reply.
//! RFC 1034 §4.3.2 (the lookup algorithm: referrals at cuts, CNAME
//! chasing, AA), RFC 4592 (wildcards, closest encloser, empty
//! non-terminals), RFC 2308 §3 and §5 (NXDOMAIN/NODATA with the SOA, TTL =
//! min(SOA TTL, MINIMUM)), RFC 6891 (EDNS: echo OPT, payload 1232, BADVERS),
//! RFC 7871 §7.2 (ECS echoed with a scope), RFC 5936 (AXFR); with DO=1
//! the DNSSEC records of signed zones (RFC 4035 §3.1, in `signed.rs`).

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::loaded::{label_count, Node, Zone, ZoneSet};
use super::signed;

/// Our advertised EDNS UDP payload (DNS Flag Day 2020 recommendation).
pub const EDNS_PAYLOAD: u16 = 1232;

/// Longest CNAME chain followed inside our own zones (as resolvers do,
/// e.g. Unbound's limit of 11 restarts).
const MAX_CNAME_HOPS: usize = 12;

/// Records per AXFR message: small enough to stay far below 64 KiB.
const AXFR_RECORDS_PER_MESSAGE: usize = 100;

/// Who asked: the packet's source and the ECS option (RFC 7871) if any.
#[derive(Debug, Clone)]
pub struct ClientView {
    pub source: IpAddr,
    pub ecs: Option<ClientSubnet>,
}

impl ClientView {
    /// The address a policy should steer by: the ECS address when present.
    pub fn steering_address(&self) -> IpAddr {
        self.ecs.as_ref().map_or(self.source, |e| e.addr())
    }
}

/// A synthesized answer from a dynamic source (a CDN policy).
#[derive(Debug, Clone)]
pub struct DynamicAnswer {
    pub records: Vec<Record>,
    /// ECS scope prefix the answer is valid for (RFC 7871 §7.2.1).
    pub scope_prefix: u8,
}

/// Names whose answers are computed per query rather than read from a zone.
pub trait DynamicSource: Send + Sync {
    fn answer(&self, qname: &Name, qtype: RecordType, client: &ClientView)
        -> Option<DynamicAnswer>;
}

/// What a lookup in one zone found.
enum Found {
    Answer(Vec<Record>),
    Cname(Box<Record>, Name),
    NoData,
    NxDomain,
}

/// Builds the reply to one query (never AXFR; see [`axfr`]).
pub fn answer(
    zones: &ZoneSet,
    query: &Message,
    source: IpAddr,
    dynamic: Option<&dyn DynamicSource>,
) -> Message {
    let mut reply = reply_skeleton(query);
    if query.metadata.op_code != OpCode::Query {
        reply.metadata.response_code = ResponseCode::NotImp;
        return reply;
    }
    if let Some(e) = &query.edns {
        if e.version() > 0 {
            reply.metadata.response_code = ResponseCode::BADVERS;
            return reply;
        }
    }
    let [q] = query.queries.as_slice() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY) {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply;
    }
    if matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR) {
        // Transfers only over TCP, through `axfr`.
        reply.metadata.response_code = ResponseCode::Refused;
        return reply;
    }
    let client = ClientView {
        source,
        ecs: query.edns.as_ref().and_then(ecs_of),
    };
    let dnssec_ok = query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let scope = lookup(
        zones,
        q.name(),
        q.query_type(),
        &client,
        dynamic,
        dnssec_ok,
        &mut reply,
    );
    if let (Some(edns), Some(ecs)) = (reply.edns.as_mut(), client.ecs.as_ref()) {
        let echoed = ClientSubnet::new(ecs.addr(), ecs.source_prefix(), scope.unwrap_or(0));
        edns.options_mut().insert(EdnsOption::Subnet(echoed));
    }
    reply
}

/// A response header echoing the query, with our OPT when the query had one.
pub(crate) fn reply_skeleton(query: &Message) -> Message {
    crate::wire::reply_skeleton(query, EDNS_PAYLOAD)
}

fn ecs_of(edns: &Edns) -> Option<ClientSubnet> {
    match edns.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(s)) => Some(*s),
        _ => None,
    }
}

/// RFC 1034 §4.3.2 steps 2-6 with CNAME chasing across our zones. Returns
/// the ECS scope when a dynamic source decided the answer. `dnssec_ok`
/// adds RRSIGs and proofs of signed zones (RFC 4035 §3.1).
fn lookup(
    zones: &ZoneSet,
    qname: &Name,
    qtype: RecordType,
    client: &ClientView,
    dynamic: Option<&dyn DynamicSource>,
    dnssec_ok: bool,
    reply: &mut Message,
) -> Option<u8> {
    let mut name = qname.clone();
    let mut first = true;
    let mut seen: HashSet<Name> = HashSet::new();
    loop {
        let Some(zone) = zones.find(&name) else {
            if first {
                reply.metadata.response_code = ResponseCode::Refused;
            }
            return None;
        };
        if let Some(cut) = zone.cut_above_or_at(&name) {
            if !(cut == name && qtype == RecordType::DS) {
                // After a CNAME, the resolver follows the target itself.
                if first {
                    add_referral(zone, &cut, reply);
                    if dnssec_ok {
                        signed::referral_proof(zone, &cut, &mut reply.authorities);
                    }
                }
                return None;
            }
        }
        if first {
            reply.metadata.authoritative = true;
        }
        if let Some(d) = dynamic.and_then(|d| d.answer(&name, qtype, client)) {
            if d.records.is_empty() {
                reply.authorities.extend(negative_soa(zone));
            }
            reply.answers.extend(d.records);
            return Some(d.scope_prefix);
        }
        let (found, wild) = find_in_zone(zone, &name, qtype);
        let wild = wild.as_ref();
        match found {
            Found::Answer(records) => {
                reply.answers.extend(records.iter().cloned());
                add_target_addresses(zone, &records, dnssec_ok, &mut reply.additionals);
                if dnssec_ok {
                    signed::answer_rrsigs(zone, &name, wild, &records, &mut reply.answers);
                    if let Some(w) = wild {
                        signed::wildcard_proof(zone, &name, w, &mut reply.authorities);
                    }
                }
                return None;
            }
            Found::Cname(record, target) => {
                if dnssec_ok {
                    let set = [(*record).clone()];
                    reply.answers.push(*record);
                    signed::answer_rrsigs(zone, &name, wild, &set, &mut reply.answers);
                    if let Some(w) = wild {
                        signed::wildcard_proof(zone, &name, w, &mut reply.authorities);
                    }
                } else {
                    reply.answers.push(*record);
                }
                seen.insert(name.clone());
                if seen.contains(&target) || seen.len() >= MAX_CNAME_HOPS {
                    return None;
                }
                name = target;
                first = false;
            }
            Found::NoData | Found::NxDomain => {
                let nx = matches!(found, Found::NxDomain);
                if nx {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                }
                reply.authorities.extend(negative_soa(zone));
                if dnssec_ok {
                    signed::negative_proof(zone, &name, wild, nx, &mut reply.authorities);
                }
                return None;
            }
        }
    }
}

/// The lookup inside one zone, below no cut: exact match, empty
/// non-terminal, then the wildcard at the closest encloser (RFC 4592 §3.3).
/// Also returns the wildcard's owner when one matched.
fn find_in_zone(zone: &Zone, name: &Name, qtype: RecordType) -> (Found, Option<Name>) {
    if let Some(node) = zone.node(name) {
        return (from_node(node, None, qtype), None);
    }
    if zone.exists(name) {
        // An empty non-terminal exists: NODATA, never the wildcard.
        return (Found::NoData, None);
    }
    let apex = label_count(zone.origin());
    let mut encloser = name.base_name();
    while !zone.exists(&encloser) && label_count(&encloser) > apex {
        encloser = encloser.base_name();
    }
    let Ok(wild) = encloser.prepend_label("*") else {
        return (Found::NxDomain, None);
    };
    match zone.node(&wild) {
        Some(node) => (from_node(node, Some(name), qtype), Some(wild)),
        None => (Found::NxDomain, None),
    }
}

/// Picks from one node's record sets; `synth` is the owner to give the
/// records when synthesizing from a wildcard (RFC 4592 §3.3.1).
fn from_node(node: &Node, synth: Option<&Name>, qtype: RecordType) -> Found {
    let rename = |r: &Record| {
        let mut r = r.clone();
        if let Some(owner) = synth {
            r.name = owner.clone();
        }
        r
    };
    if qtype == RecordType::ANY {
        let all: Vec<Record> = node.values().flatten().map(rename).collect();
        return Found::Answer(all);
    }
    if let Some(set) = node.get(&qtype) {
        return Found::Answer(set.iter().map(rename).collect());
    }
    if let Some(cname) = node.get(&RecordType::CNAME).and_then(|s| s.first()) {
        if let RData::CNAME(target) = &cname.data {
            return Found::Cname(Box::new(rename(cname)), target.0.clone());
        }
    }
    Found::NoData
}

/// NS of the cut in authority, in-zone addresses of its servers as glue.
fn add_referral(zone: &Zone, cut: &Name, reply: &mut Message) {
    reply.metadata.authoritative = false;
    let Some(ns) = zone.rrset(cut, RecordType::NS) else {
        return;
    };
    reply.authorities.extend(ns.iter().cloned());
    for r in ns {
        if let RData::NS(target) = &r.data {
            for t in [RecordType::A, RecordType::AAAA] {
                if let Some(glue) = zone.rrset(&target.0, t) {
                    reply.additionals.extend(glue.iter().cloned());
                }
            }
        }
    }
}

/// Additional section processing (RFC 1034 §4.3.2 step 6, RFC 2782 for
/// SRV): the addresses this zone holds for the targets of NS, MX and SRV
/// answers, in-zone data or glue below a cut, as NSD includes them. A
/// priming reply (`. NS`) so carries the root servers' addresses (RFC
/// 8109 §4). In-zone addresses bring their RRSIGs when `dnssec_ok`; glue
/// has none.
fn add_target_addresses(zone: &Zone, records: &[Record], dnssec_ok: bool, out: &mut Vec<Record>) {
    for r in records {
        let target = match &r.data {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        if !zone.origin().zone_of(target) {
            continue;
        }
        let glue = zone.cut_above_or_at(target).is_some();
        for t in [RecordType::A, RecordType::AAAA] {
            let Some(set) = zone.rrset(target, t) else {
                continue;
            };
            for a in set {
                if !out.contains(a) {
                    out.push(a.clone());
                }
            }
            if dnssec_ok && !glue {
                for sig in zone.rrsigs(target, t) {
                    if !out.contains(&sig) {
                        out.push(sig);
                    }
                }
            }
        }
    }
}

/// The SOA for a negative answer, its TTL lowered per RFC 2308 §5 (none
/// from a partial zone without one).
fn negative_soa(zone: &Zone) -> Option<Record> {
    let mut soa = zone.soa()?.clone();
    soa.ttl = zone.negative_ttl()?;
    Some(soa)
}

/// A zone transfer (RFC 5936 §2.2): SOA, every record, SOA, split across
/// messages. Err is the single reply to send instead (REFUSED / NOTAUTH).
pub fn axfr(zones: &ZoneSet, query: &Message) -> Result<Vec<Message>, Box<Message>> {
    let mut refuse = reply_skeleton(query);
    let Some(q) = query.queries.first() else {
        refuse.metadata.response_code = ResponseCode::FormErr;
        return Err(Box::new(refuse));
    };
    let Some(zone) = zones.find(q.name()).filter(|z| z.origin() == q.name()) else {
        refuse.metadata.response_code = ResponseCode::NotAuth;
        return Err(Box::new(refuse));
    };
    let Some(soa) = zone.soa() else {
        refuse.metadata.response_code = ResponseCode::NotAuth;
        return Err(Box::new(refuse));
    };
    let mut records = zone.all_records();
    records.push(soa.clone());
    let mut out = Vec::new();
    for chunk in records.chunks(AXFR_RECORDS_PER_MESSAGE) {
        let mut m = reply_skeleton(query);
        m.metadata.authoritative = true;
        m.answers = chunk.to_vec();
        out.push(m);
    }
    Ok(out)
}

/// A query message (used by tests, the lab and health checks).
pub fn make_query(id: u16, name: Name, rtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name, rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(EDNS_PAYLOAD);
        m.edns = Some(e);
    }
    m
}
