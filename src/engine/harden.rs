//! Optional scrubbing of upstream replies beyond bailiwick (`classify::scrub`):
//! - a cap on the size of an NS set (Unbound's `iter-scrub-ns`), so a
//!   delegation naming hundreds of servers cannot make us chase them all;
//! - DNS-rebinding protection (Unbound's `private-address` /
//!   `private-domain`): addresses in configured private ranges are removed
//!   from answers for names outside the allowed domains, A/AAAA records as
//!   well as SVCB/HTTPS records whose `ipv4hint`/`ipv6hint` name one
//!   (RFC 9460 §7.3). Only records go, never the whole reply: what is left
//!   is answered (an empty answer becomes NODATA), as Unbound does.
//!
//! Pure functions on a `Message`; `iterate` calls them next to `scrub`.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::svcb::{SvcParamValue, SVCB};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

/// Keeps at most `max` records of each NS RRset (by owner) in the answer
/// and authority sections; the first ones listed stay. Glue for the names
/// dropped is then removed by `scrub`, which keeps only glue of NS names
/// still present.
pub fn limit_ns_sets(msg: &mut Message, max: usize) {
    for section in [&mut msg.answers, &mut msg.authorities] {
        let mut seen: HashMap<Name, usize> = HashMap::new();
        section.retain(|r| {
            if r.record_type() != RecordType::NS {
                return true;
            }
            let n = seen.entry(r.name.clone()).or_insert(0);
            *n += 1;
            *n <= max
        });
    }
}

/// The rebinding-protection policy: private networks, and the domains
/// allowed to resolve into them.
#[derive(Debug, Clone, Copy)]
pub struct PrivatePolicy<'a> {
    pub nets: &'a [IpNet],
    pub allowed: &'a [Name],
}

impl PrivatePolicy<'_> {
    fn is_private(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is the IPv4 address in disguise.
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    fn allowed(&self, name: &Name) -> bool {
        self.allowed.iter().any(|d| d.zone_of(name))
    }

    /// Whether `r` carries a private address for a name not allowed one.
    pub fn rejects(&self, r: &Record) -> bool {
        if self.nets.is_empty() || self.allowed(&r.name) {
            return false;
        }
        match &r.data {
            RData::A(a) => self.is_private(IpAddr::V4(a.0)),
            RData::AAAA(a) => self.is_private(IpAddr::V6(a.0)),
            RData::SVCB(s) => self.svcb_private(s),
            RData::HTTPS(h) => self.svcb_private(&h.0),
            _ => false,
        }
    }

    fn svcb_private(&self, s: &SVCB) -> bool {
        s.svc_params.iter().any(|(_, v)| match v {
            SvcParamValue::Ipv4Hint(h) => h.0.iter().any(|a| self.is_private(IpAddr::V4(a.0))),
            SvcParamValue::Ipv6Hint(h) => h.0.iter().any(|a| self.is_private(IpAddr::V6(a.0))),
            _ => false,
        })
    }

    /// Removes from the answer section every record `rejects`; returns
    /// how many went.
    pub fn scrub_answers(&self, msg: &mut Message) -> usize {
        if self.nets.is_empty() {
            return 0;
        }
        let before = msg.answers.len();
        msg.answers.retain(|r| !self.rejects(r));
        before - msg.answers.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, AAAA, NS};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn rec(name: &str, data: RData) -> Record {
        Record::from_rdata(n(name), 300, data)
    }

    fn msg() -> Message {
        Message::new(1, MessageType::Response, OpCode::Query)
    }

    #[test]
    fn ns_sets_are_cut_to_the_limit_per_owner() {
        let mut m = msg();
        for i in 0..5 {
            let ns = RData::NS(NS(n(&format!("ns{i}.example."))));
            m.authorities.push(rec("example.", ns.clone()));
            m.authorities.push(rec("other.", ns));
        }
        m.authorities
            .push(rec("example.", RData::A(A::new(192, 0, 2, 1))));
        limit_ns_sets(&mut m, 2);
        let owners: Vec<String> = m.authorities.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(
            owners,
            ["example.", "other.", "example.", "other.", "example."]
        );
        assert_eq!(m.authorities[2].data, RData::NS(NS(n("ns1.example."))));
    }

    #[test]
    fn private_addresses_are_removed_outside_allowed_domains() {
        let nets: Vec<IpNet> = ["10.0.0.0/8", "fe80::/10"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let allowed = vec![n("example.net.")];
        let p = PrivatePolicy {
            nets: &nets,
            allowed: &allowed,
        };
        let mut m = msg();
        m.answers = vec![
            rec("a.example.com.", RData::A(A::new(10, 1, 2, 3))),
            rec("a.example.com.", RData::A(A::new(192, 0, 2, 1))),
            rec(
                "b.example.com.",
                RData::AAAA(AAAA::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            ),
            rec(
                "m.example.com.",
                RData::AAAA(AAAA(
                    "::ffff:10.0.0.1".parse::<std::net::Ipv6Addr>().unwrap(),
                )),
            ),
            rec("mail.example.net.", RData::A(A::new(10, 9, 9, 9))),
        ];
        assert_eq!(p.scrub_answers(&mut m), 3);
        let kept: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert_eq!(m.answers[0].data, RData::A(A::new(192, 0, 2, 1)));
        assert_eq!(m.answers[1].name, n("mail.example.net."));
    }

    #[test]
    fn svcb_hints_with_a_private_address_remove_the_record() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let p = PrivatePolicy {
            nets: &nets,
            allowed: &[],
        };
        let svcb = |hints: &str| {
            let text = format!("1 foo.example.com. ipv4hint={hints}");
            let rd = RData::try_from_str(RecordType::SVCB, &text).unwrap();
            rec("s.example.com.", rd)
        };
        assert!(p.rejects(&svcb("192.0.2.1,10.0.0.2")));
        assert!(!p.rejects(&svcb("192.0.2.1")));
        let none = PrivatePolicy {
            nets: &[],
            allowed: &[],
        };
        assert!(!none.rejects(&svcb("10.0.0.2")));
    }
}
