//! Pure reads and rewrites of a reply's records: its SOA and denial
//! proof, scrubbing with the signatures kept beside their RRsets, and
//! grouping records into RRsets.

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// The SOA records of a reply's authority section.
pub(crate) fn soa_of(msg: &Message) -> Vec<Record> {
    msg.authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect()
}

/// The NSEC/NSEC3 records of a reply's authority section and the RRSIGs
/// over them and over its SOA: what proves a denial (RFC 4035 §3.1.3).
pub(crate) fn denial_proof(msg: &Message) -> Vec<Record> {
    msg.authorities
        .iter()
        .filter(|r| match &r.data {
            RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) => matches!(
                sig.input().type_covered,
                RecordType::SOA | RecordType::NSEC | RecordType::NSEC3
            ),
            _ => matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3),
        })
        .cloned()
        .collect()
}

/// Scrubs a reply (see `classify::scrub`); when validating, RRSIGs go
/// with their RRsets whatever section they came in (as Unbound's message
/// parser files them): scrubbing judges the RRsets, then their signatures
/// are put back beside them.
pub(crate) fn scrub_signed(
    msg: &mut Message,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
    harden_glue: bool,
    validating: bool,
) {
    let sigs = validating.then(|| take_sigs(msg));
    crate::engine::classify::scrub(msg, zone, qname, qtype, harden_glue);
    if let Some(sigs) = sigs {
        reattach_sigs(msg, sigs);
    }
}

/// Takes every RRSIG out of a reply's sections.
fn take_sigs(msg: &mut Message) -> Vec<Record> {
    let mut sigs = Vec::new();
    for section in [&mut msg.answers, &mut msg.authorities, &mut msg.additionals] {
        let (s, rest): (Vec<Record>, Vec<Record>) = std::mem::take(section)
            .into_iter()
            .partition(|r| r.record_type() == RecordType::RRSIG);
        sigs.extend(s);
        *section = rest;
    }
    sigs
}

/// Puts each RRSIG back after the RRset it covers, in that RRset's
/// section; RRSIGs covering nothing that is left are dropped.
fn reattach_sigs(msg: &mut Message, sigs: Vec<Record>) {
    let covers = |sig: &Record, r: &Record| match &sig.data {
        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) => {
            s.input().type_covered == r.record_type() && sig.name == r.name
        }
        _ => false,
    };
    let mut left = sigs;
    for section in [&mut msg.answers, &mut msg.authorities, &mut msg.additionals] {
        let mut add = Vec::new();
        for r in section.iter() {
            let (mine, rest): (Vec<Record>, Vec<Record>) =
                left.into_iter().partition(|s| covers(s, r));
            add.extend(mine);
            left = rest;
        }
        section.extend(add);
    }
}

/// Groups records into RRsets by (name, type, class), keeping order.
pub(crate) fn group_rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    // Indexed, so a hostile reply with thousands of records costs linear time.
    let mut index: hashbrown::HashMap<(&Name, RecordType, DNSClass), usize> =
        hashbrown::HashMap::new();
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records {
        if matches!(r.record_type(), RecordType::OPT | RecordType::RRSIG) {
            continue;
        }
        let key = (&r.name, r.record_type(), r.dns_class);
        match index.get(&key).and_then(|&i| sets.get_mut(i)) {
            Some(set) => set.push(r.clone()),
            None => {
                index.insert(key, sets.len());
                sets.push(vec![r.clone()]);
            }
        }
    }
    sets
}
