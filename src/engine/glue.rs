//! Which addresses of an NS name a delegation may use. With
//! `harden_unverified_glue` (Unbound's `harden-unverified-glue`), glue for
//! a name outside the delegated zone (a sibling or unrelated zone's name,
//! which the parent is not authoritative for; RFC 9471 §2.2-2.3) is not
//! trusted at first: the name is resolved instead, and the glue serves
//! only if that lookup fails (the fallback in `resolve_ns_names`). Also the
//! cached addresses of an NS set, for referrals answered from the cache.

use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Whether glue for `ns` in a delegation of `zone` must be verified
    /// before use.
    pub(super) fn unverified_glue(&self, zone: &Name, ns: &Name) -> bool {
        self.config.resolver.harden_unverified_glue && !zone.zone_of(ns)
    }

    /// Addresses for NS name `ns` of `zone`: `glue` from the reply, else
    /// cached ones; for unverified glue only addresses learned from an
    /// answer count.
    pub(super) fn delegation_addrs(
        &self,
        zone: &Name,
        ns: &Name,
        class: DNSClass,
        glue: Vec<IpAddr>,
    ) -> Vec<IpAddr> {
        if !self.unverified_glue(zone, ns) {
            if !glue.is_empty() {
                return glue;
            }
            return self.cached_addrs(ns, class);
        }
        let now = self.clock.now();
        let mut out = Vec::new();
        for t in [RecordType::A, RecordType::AAAA] {
            let key = Key::RRset(ns.clone(), t, class);
            if let Some((Cached::RRset(rs), rank)) = self.cache.get_ranked(&key, now) {
                if rank >= Rank::AnswerNonAuth {
                    out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
                }
            }
        }
        out
    }

    /// The cached addresses (any rank) of the names an NS set points to.
    pub(super) fn glue_of(&self, ns: &[Record]) -> Vec<Record> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for r in ns {
            if let RData::NS(target) = &r.data {
                for t in [RecordType::A, RecordType::AAAA] {
                    let key = Key::RRset(target.0.clone(), t, r.dns_class);
                    if let Some(Cached::RRset(rs)) = self.cache.get(&key, now) {
                        out.extend(rs);
                    }
                }
            }
        }
        out
    }
}

/// What a parent's reply to a question for the address of `target`, an
/// NS name inside a child zone, gives.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ParentGlue {
    /// Its A records (from the answer or the additional section) inside
    /// the parent's zone.
    Glue(Vec<Record>),
    /// No address, but a CNAME to another name inside the parent's zone:
    /// asked next.
    Alias(Name),
    Nothing,
}

/// Reads a reply of the servers of `parent` to an A question for `target`.
pub(super) fn parent_glue(msg: &Message, target: &Name, parent: &Name) -> ParentGlue {
    let glue: Vec<Record> = msg
        .answers
        .iter()
        .chain(msg.additionals.iter())
        .filter(|r| r.name == *target && r.record_type() == RecordType::A)
        .filter(|r| parent.zone_of(&r.name))
        .cloned()
        .collect();
    if !glue.is_empty() {
        return ParentGlue::Glue(glue);
    }
    let next = msg.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name == *target && parent.zone_of(&c.0) => Some(&c.0),
        _ => None,
    });
    match next {
        Some(n) if n != target => ParentGlue::Alias(n.clone()),
        _ => ParentGlue::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::CNAME;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(name: &str) -> Record {
        Record::from_rdata(n(name), 60, RData::A("192.0.2.1".parse().unwrap()))
    }

    fn cname(name: &str, to: &str) -> Record {
        Record::from_rdata(n(name), 60, RData::CNAME(CNAME(n(to))))
    }

    #[test]
    fn a_parents_reply_gives_glue_an_alias_or_nothing() {
        let target = "ns.child.example.";
        // (what, answers, additionals, what the reply gives)
        let rows: Vec<(&str, Vec<Record>, Vec<Record>, ParentGlue)> = vec![
            (
                "an answer",
                vec![a(target)],
                vec![],
                ParentGlue::Glue(vec![a(target)]),
            ),
            (
                "glue beside a referral",
                vec![],
                vec![a(target)],
                ParentGlue::Glue(vec![a(target)]),
            ),
            (
                "another name's address",
                vec![a("other.example.")],
                vec![],
                ParentGlue::Nothing,
            ),
            (
                "a CNAME inside the parent's zone",
                vec![cname(target, "host.example.")],
                vec![],
                ParentGlue::Alias(n("host.example.")),
            ),
            (
                "a CNAME out of the parent's zone",
                vec![cname(target, "host.example.net.")],
                vec![],
                ParentGlue::Nothing,
            ),
            (
                "a CNAME to itself",
                vec![cname(target, target)],
                vec![],
                ParentGlue::Nothing,
            ),
        ];
        for (what, answers, additionals, want) in rows {
            let mut m = Message::new(0, MessageType::Response, OpCode::Query);
            m.answers = answers;
            m.additionals = additionals;
            assert_eq!(parent_glue(&m, &n(target), &n("example.")), want, "{what}");
        }
    }
}
