//! Pure reads of the records a validation works on: the RRSIGs covering
//! an RRset and who signed them, wildcard expansion (RFC 4034 §3.1.3),
//! CNAMEs synthesised from a DNAME (RFC 6672 §2.2), where an alias chain
//! ends, and whether the answer holds what was asked.

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dnssec::{nsec3, Bogus, Security};
use crate::engine::classify::{dname_substitute, dname_target};
use crate::engine::Request;

pub(super) fn nsec3_security(r: Result<nsec3::Nsec3Result, Bogus>) -> Security {
    match r {
        Ok(nsec3::Nsec3Result::Secure) => Security::Secure,
        Ok(nsec3::Nsec3Result::Insecure(_)) => Security::Insecure,
        Err(b) => Security::Bogus(b),
    }
}

/// The type an RRSIG record covers.
pub(super) fn covered(r: &Record) -> Option<RecordType> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().type_covered),
        _ => None,
    }
}

/// The RRSIGs in `records` covering (name, type); None when there are none.
pub(super) fn sigs_in(records: &[Record], name: &Name, t: RecordType) -> Option<Vec<Record>> {
    let sigs: Vec<Record> = records
        .iter()
        .filter(|r| covered(r) == Some(t) && r.name == *name)
        .cloned()
        .collect();
    (!sigs.is_empty()).then_some(sigs)
}

/// The signer named by RRSIGs (the first one's).
pub(super) fn signer(sigs: &[Record]) -> Option<Name> {
    sigs.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().signer_name.clone()),
        _ => None,
    })
}

/// The smallest labels field among RRSIGs: below the owner's label count
/// it says the RRset was expanded from a wildcard (RFC 4034 §3.1.3).
pub(super) fn sig_labels(sigs: &[Record]) -> u8 {
    sigs.iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().num_labels),
            _ => None,
        })
        .min()
        .unwrap_or(u8::MAX)
}

pub(super) fn is_proper_ancestor(parent: &Name, child: &Name) -> bool {
    parent.num_labels() < child.num_labels() && parent.zone_of(child)
}

/// Whether the CNAME at `name` in `answers` is exactly what a DNAME above
/// it synthesises (RFC 6672 §2.2: the owner's suffix replaced by the
/// DNAME's target); only such a CNAME may come unsigned.
pub(super) fn synthesised_by_dname(answers: &[Record], name: &Name) -> bool {
    let target = answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name == *name => Some(&c.0),
        _ => None,
    });
    let Some(target) = target else {
        return false;
    };
    answers.iter().any(|r| {
        if r.record_type() != RecordType::DNAME || !is_proper_ancestor(&r.name, name) {
            return false;
        }
        dname_target(r)
            .and_then(|to| dname_substitute(name, &r.name, &to))
            .is_some_and(|synth| synth == *target)
    })
}

/// Where a chain of CNAMEs starting at `name` ends.
pub(crate) fn chain_end(answers: &[Record], name: &Name) -> Name {
    let mut cur = name.clone();
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == cur => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur
}

/// Whether the answer holds data of the type asked at the chain's end.
pub(super) fn ends_in(answers: &[Record], request: &Request) -> bool {
    // ANY is answered by whatever the name holds, a CNAME included.
    if request.qtype == RecordType::ANY && answers.iter().any(|r| r.name == request.name) {
        return true;
    }
    let end = chain_end(answers, &request.name);
    answers.iter().any(|r| {
        r.name == end && (r.record_type() == request.qtype || request.qtype == RecordType::ANY)
    }) || (request.qtype == RecordType::CNAME && !answers.is_empty())
}
