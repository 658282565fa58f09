//! What the walk makes of one reply, as a pure function of the reply, the
//! question asked and the configured rules: the reply scrubbed (NS set
//! limits, bailiwick, private addresses, a DS referral's DS set), its
//! classification, and the verdict for the walk (`judge`).

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{judge, Ask, Facts, Verdict};
use crate::config::ResolverConfig;
use crate::engine::classify::{classify, Kind};
use crate::engine::harden::{limit_ns_sets, PrivatePolicy};

/// The rules a reply is read by.
#[derive(Clone, Copy)]
pub(in crate::engine) struct Rules<'a> {
    pub cfg: &'a ResolverConfig,
    /// Validating: signatures stay beside the records they sign.
    pub validate: bool,
}

/// One reply, read.
#[derive(Debug)]
pub(in crate::engine) struct Reading {
    pub kind: Kind,
    pub verdict: Verdict,
    /// Private addresses removed from the answer.
    pub private_removed: usize,
}

/// Reads `msg`, a reply from a server of `zone` to `ask` on the way to
/// `name`, scrubbing it in place.
pub(in crate::engine) fn read(
    msg: &mut Message,
    zone: &Name,
    ask: &Ask,
    name: &Name,
    rules: Rules<'_>,
) -> Reading {
    let cfg = rules.cfg;
    // An upward or sideways referral is lame even as a last resort.
    let carried_ns = msg
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::NS);
    limit_ns_sets(msg, cfg.max_ns_per_set as usize);
    crate::engine::store::scrub_signed(
        msg,
        zone,
        &ask.name,
        ask.qtype,
        cfg.harden_glue,
        rules.validate,
    );
    let private = PrivatePolicy {
        nets: &cfg.private_addresses,
        allowed: &cfg.private_domains,
    };
    let private_removed = private.scrub_answers(msg);
    if ask.qtype == RecordType::DS {
        ds_from_referral(msg, &ask.name);
    }
    let kind = classify(msg, zone, &ask.name, ask.qtype);
    let verdict = judge(kind.clone(), ask, name, Facts::of(msg, carried_ns));
    Reading {
        kind,
        verdict,
        private_removed,
    }
}

/// A parent asked for a DS set may answer with its referral to the child,
/// the DS set (and its RRSIGs) in the authority section: that DS set is
/// the answer (as Unbound reads it), not a delegation to follow to the
/// child, which has no DS to give.
fn ds_from_referral(msg: &mut Message, qname: &Name) {
    if !msg.answers.is_empty() || msg.metadata.response_code != ResponseCode::NoError {
        return;
    }
    let is_ds = |r: &Record| {
        r.name == *qname
            && match &r.data {
                RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) => {
                    sig.input().type_covered == RecordType::DS
                }
                _ => r.record_type() == RecordType::DS,
            }
    };
    if !msg
        .authorities
        .iter()
        .any(|r| r.name == *qname && r.record_type() == RecordType::DS)
    {
        return;
    }
    let (ds, rest): (Vec<Record>, Vec<Record>) = std::mem::take(&mut msg.authorities)
        .into_iter()
        .partition(is_ds);
    msg.answers = ds;
    msg.authorities = rest;
}

#[cfg(test)]
mod tests;
