//! Pure decisions about one upstream reply: what it is (answer, CNAME,
//! referral, NXDOMAIN, NODATA, lame, error rcode) and which of its records
//! may be believed (bailiwick scrubbing). Unbound keeps the same two jobs
//! apart from I/O (`iter_resptype.c`, `iter_scrub.c`); so do we.
//!
//! RFC 1034 §5.3.3 (referrals), RFC 2308 §2 (negative answers), RFC 2181
//! §5.4.1 (what to trust), RFC 5452 §6 (bailiwick).

use hashbrown::HashSet;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// CNAME links followed inside one reply; longer chains end there and count
/// against the client query's CNAME limit (so hostile replies with
/// thousands of records cost bounded work).
const MAX_CHAIN_IN_REPLY: usize = 32;

/// What a (scrubbed) reply says about the question we asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The answer section holds data for the name (possibly a CNAME chain).
    Answer,
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no data of the type.
    NoData,
    /// A delegation to `child`, a zone below the one we asked.
    Referral { child: Name },
    /// A reply that does not help: upward or sideways referral, or a
    /// non-authoritative empty answer.
    Lame,
    /// A DNAME substitution that would make the name too long (RFC 6672
    /// §2.2): YXDOMAIN with the DNAME, passed on to the client.
    YxDomain,
    /// An error rcode (SERVFAIL, REFUSED, FORMERR, NOTIMP, …).
    Rcode(ResponseCode),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Answer => f.write_str("an answer"),
            Kind::NxDomain => f.write_str("NXDOMAIN (the name does not exist)"),
            Kind::NoData => f.write_str("NODATA (the name has no data of that type)"),
            Kind::Referral { child } => write!(f, "a referral to {child}"),
            Kind::Lame => f.write_str(
                "a lame reply (a referral up or sideways, an empty non-authoritative answer, \
                 or an answer without AA from a server offering recursion)",
            ),
            Kind::YxDomain => f.write_str("YXDOMAIN (a DNAME makes the name too long)"),
            Kind::Rcode(rcode) => match crate::wire::rcode_mnemonic(u16::from(*rcode)) {
                Some(name) => write!(f, "rcode {name}"),
                None => write!(f, "rcode {}", u16::from(*rcode)),
            },
        }
    }
}

/// Classifies a scrubbed reply from a server of `zone` to (`qname`, `qtype`).
pub fn classify(msg: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Kind {
    let rcode = msg.metadata.response_code;
    if rcode == ResponseCode::YXDomain
        && msg
            .answers
            .iter()
            .any(|r| r.record_type() == RecordType::DNAME && r.name.zone_of(qname))
    {
        return Kind::YxDomain;
    }
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Kind::Rcode(rcode);
    }
    // A recursive server answering from its cache (RA set, AA clear) is
    // not an authority for the zone: lame (Unbound's "ranoaa").
    if msg.metadata.recursion_available && !msg.metadata.authoritative && !msg.answers.is_empty() {
        return Kind::Lame;
    }
    if msg.answers.iter().any(|r| {
        &r.name == qname
            && (qtype == RecordType::ANY
                || r.record_type() == qtype
                || r.record_type() == RecordType::CNAME)
    }) || msg
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::DNAME && r.name.zone_of(qname))
    {
        return Kind::Answer;
    }
    if rcode == ResponseCode::NXDomain {
        return Kind::NxDomain;
    }
    let has_soa = msg
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA);
    let referral = msg
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
        .map(|r| &r.name)
        .find(|owner| owner.zone_of(qname));
    match referral {
        // AA set on a referral is a server's mistake, not a reason to read
        // it otherwise (NSD's old behaviour, RFC 5155 B.3's example): a
        // child's NS set without an SOA still delegates.
        Some(child) if zone.zone_of(child) && child != zone && !has_soa => Kind::Referral {
            child: child.clone(),
        },
        Some(_) if !has_soa && !msg.metadata.authoritative => Kind::Lame,
        // NODATA needs its SOA (RFC 2308 §2.2); an empty reply without one,
        // even with AA set, is ignored and another server asked.
        _ if has_soa => Kind::NoData,
        // A signed NODATA that lost its SOA still carries its NSEC/NSEC3
        // proof: NODATA as Unbound types it, for the validator to judge
        // (not cached without an SOA to give its negative TTL).
        None if msg
            .authorities
            .iter()
            .any(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3)) =>
        {
            Kind::NoData
        }
        // AA with the zone's own NS set and nothing else: NODATA too.
        Some(_) if msg.metadata.authoritative => Kind::NoData,
        _ => Kind::Lame,
    }
}

/// Removes from `msg` every record a server for `zone` may not speak for,
/// and every record that does not bear on the question (RFC 5452 §6):
/// - answer: the chain from `qname` (CNAME/DNAME and records of `qtype`),
///   only while its owners are inside `zone`;
/// - authority: NS and SOA records at or above `qname` and inside `zone`
///   (plus DNSSEC records inside the zone);
/// - additional: addresses of NS names kept above, and only inside `zone`
///   when `harden_glue` is set.
pub fn scrub(msg: &mut Message, zone: &Name, qname: &Name, qtype: RecordType, harden_glue: bool) {
    // Records of another class than the question's (tern resolves only IN)
    // say nothing about this question: a CH NS in an IN referral is not a
    // server of the zone.
    for section in [&mut msg.answers, &mut msg.authorities, &mut msg.additionals] {
        section.retain(|r| r.dns_class == DNSClass::IN);
    }
    // An NSEC whose next name lies outside the zone overreaches: no
    // server of the zone may speak for that span (as Unbound's scrubber).
    for section in [&mut msg.answers, &mut msg.authorities, &mut msg.additionals] {
        section.retain(|r| match &r.data {
            RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC(n)) => {
                zone.zone_of(n.next_domain_name())
            }
            _ => true,
        });
    }
    let answers = std::mem::take(&mut msg.answers);
    msg.answers = chain_records(answers, zone, qname, qtype);

    msg.authorities.retain(|r| {
        zone.zone_of(&r.name)
            && match r.record_type() {
                RecordType::NS | RecordType::SOA => r.name.zone_of(qname),
                RecordType::DS | RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3 => true,
                _ => false,
            }
    });

    let ns_names: HashSet<Name> = msg
        .authorities
        .iter()
        .chain(msg.answers.iter())
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect();
    msg.additionals.retain(|r| {
        matches!(r.record_type(), RecordType::A | RecordType::AAAA)
            && ns_names.contains(&r.name)
            && (!harden_glue || zone.zone_of(&r.name))
    });
}

/// The records of `answers` that form the chain from `qname`: CNAMEs (and
/// DNAMEs above the current name) followed, then the `qtype` data at its
/// end. Owners outside `zone` end the chain. A loop ends it too.
fn chain_records(
    answers: Vec<Record>,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
) -> Vec<Record> {
    let mut keep: Vec<Record> = Vec::new();
    let mut cur = qname.clone();
    let mut seen = Seen::default();
    let mut pool = answers;
    while zone.zone_of(&cur) && seen.first_visit(&cur) {
        let (here, rest): (Vec<Record>, Vec<Record>) = pool.into_iter().partition(|r| {
            (r.name == cur
                && (qtype == RecordType::ANY
                    || r.record_type() == qtype
                    || r.record_type() == RecordType::CNAME
                    || (r.record_type() == RecordType::RRSIG)))
                || (r.record_type() == RecordType::DNAME
                    && r.name.zone_of(&cur)
                    && r.name != cur
                    && zone.zone_of(&r.name))
        });
        pool = rest;
        let next = here.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if qtype != RecordType::CNAME && r.name == cur => Some(c.0.clone()),
            _ => None,
        });
        keep.extend(here);
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    keep
}

/// Where an answer's chain ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEnd {
    /// The chain reached records of the asked type: resolution is done.
    Complete,
    /// The chain ends in a CNAME to `target` whose data is not here.
    Alias(Name),
}

/// The owners a chain in one reply has passed: a few names, so kept in a
/// list (no hashing, no table for the usual chain of one or two).
#[derive(Default)]
struct Seen(Vec<Name>);

impl Seen {
    /// Notes `name`; false when it was seen already (a loop) or the chain
    /// is longer than any reply may hold.
    fn first_visit(&mut self, name: &Name) -> bool {
        if self.0.len() >= MAX_CHAIN_IN_REPLY || self.0.contains(name) {
            return false;
        }
        self.0.push(name.clone());
        true
    }
}

/// Follows the (scrubbed) answer records from `qname`; returns the records
/// in chain order and where the chain ends.
pub fn follow_chain(
    answers: &[Record],
    qname: &Name,
    qtype: RecordType,
) -> (Vec<Record>, ChainEnd) {
    let mut out = Vec::new();
    let mut cur = qname.clone();
    let mut seen = Seen::default();
    loop {
        if !seen.first_visit(&cur) {
            // A loop (or an absurd chain): report where it stops; the caller
            // sees a repeat or runs out of CNAME hops.
            return (out, ChainEnd::Alias(cur));
        }
        let data: Vec<&Record> = answers
            .iter()
            .filter(|r| r.name == cur && (qtype == RecordType::ANY || r.record_type() == qtype))
            .collect();
        // A DNAME above the name (RFC 6672 §2.2) comes before the CNAME
        // synthesised from it (the answer itself when CNAME was asked).
        let dname = answers.iter().find(|r| {
            r.record_type() == RecordType::DNAME && r.name != cur && r.name.zone_of(&cur)
        });
        if !data.is_empty() {
            if let Some(d) = dname.filter(|_| qtype == RecordType::CNAME) {
                if !out.contains(d) {
                    out.push(d.clone());
                }
            }
            out.extend(data.into_iter().cloned());
            return (out, ChainEnd::Complete);
        }
        if let Some(d) = dname {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        let cname = answers
            .iter()
            .find(|r| r.name == cur && r.record_type() == RecordType::CNAME);
        match cname {
            Some(r) => {
                out.push(r.clone());
                match &r.data {
                    RData::CNAME(c) => cur = c.0.clone(),
                    _ => return (out, ChainEnd::Complete),
                }
            }
            None if cur == *qname => return (out, ChainEnd::Complete),
            None => return (out, ChainEnd::Alias(cur)),
        }
    }
}

/// A DNAME's target (hickory keeps DNAME rdata as opaque bytes: an
/// uncompressed name, RFC 6672 §2.1).
pub(crate) fn dname_target(r: &Record) -> Option<Name> {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    match &r.data {
        RData::Unknown { rdata, .. } => {
            let mut d = BinDecoder::new(&rdata.anything);
            Name::read(&mut d).ok()
        }
        _ => None,
    }
}

/// `name` with its suffix `owner` replaced by `target` (RFC 6672 §2.2);
/// None when `owner` is not a proper ancestor or the result is too long.
pub(crate) fn dname_substitute(name: &Name, owner: &Name, target: &Name) -> Option<Name> {
    if !owner.zone_of(name) || owner.num_labels() >= name.num_labels() {
        return None;
    }
    let keep = usize::from(name.num_labels() - owner.num_labels());
    Name::from_labels(name.iter().take(keep))
        .ok()?
        .append_domain(target)
        .ok()
}

#[cfg(test)]
mod tests;
