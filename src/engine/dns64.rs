//! DNS64 (RFC 6147): for a network whose hosts have only IPv6 and reach
//! IPv4 through a NAT64 translator, an AAAA question whose name has no
//! AAAA data is answered with AAAA records made from its A records, each
//! IPv4 address embedded in the translator's prefix (RFC 6052 §2.2), as
//! Unbound's `dns64` module does. PTR questions for addresses in the
//! prefix are answered with the PTR of the IPv4 address they embed.
//!
//! It sits on top of resolution and validation: the A question is asked
//! like any other (cache, merging, validation), and nothing here reads the
//! clock or opens a socket. A synthesised answer is secure only when the
//! missing AAAA and the A records were both proven secure.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ipnet::Ipv6Net;

use crate::clock::Clock;
use crate::dnssec::Security;
use crate::engine::validate::chain_end;
use crate::engine::{Request, Resolution, Resolver};
use crate::upstream::nat64;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Whether a resolution of `request` is one DNS64 may change: an AAAA
    /// (or PTR) question of class IN, not asked with DO=1 and CD=1 (a
    /// validating client must see the real answer, RFC 6147 §5.5).
    fn dns64_question(&self, request: &Request) -> bool {
        let cfg = &self.config.resolver;
        cfg.dns64
            && request.qclass == DNSClass::IN
            && matches!(request.qtype, RecordType::AAAA | RecordType::PTR)
            && !(request.dnssec_ok && request.checking_disabled)
    }

    /// `res` with DNS64 applied: synthesised AAAA records when the name
    /// has none to use, a CNAME for a PTR in the prefix, or `res` as it is.
    /// `peek`: from the cache only; None when the A records are not there
    /// (the caller then resolves in full).
    pub(super) async fn dns64(
        &self,
        request: &Request,
        res: Resolution,
        peek: bool,
    ) -> Option<Resolution> {
        let Some(end) = self.synthesis_target(request, &res) else {
            return Some(res);
        };
        let a_request = Request {
            name: end.clone(),
            qtype: RecordType::A,
            ..request.clone()
        };
        let a_res = if peek {
            Box::pin(self.resolve_cached(&a_request)).await?
        } else {
            Box::pin(self.resolve(&a_request)).await
        };
        if a_res.failure.is_some() || a_res.rcode != ResponseCode::NoError {
            // No A either: the AAAA answer (NODATA) stands.
            return Some(res);
        }
        let synthesised = self.synthesised(&a_res, &end, &request.name, negative_ttl(&res));
        if !synthesised
            .iter()
            .any(|r| r.record_type() == RecordType::AAAA)
        {
            return Some(res);
        }
        let mut answers: Vec<Record> = res
            .answers
            .into_iter()
            .filter(|r| !(r.name == end && r.record_type() == RecordType::AAAA))
            .filter(|r| r.record_type() != RecordType::RRSIG || request.dnssec_ok)
            .collect();
        answers.extend(synthesised);
        // Secure only when both the missing AAAA and the A records it is
        // made from were proven (RFC 6147 §5.5 lets a validating DNS64 say
        // so, as Unbound does).
        let security = match (&res.security, &a_res.security) {
            (Security::Secure, Security::Secure) => Security::Secure,
            (Security::Unchecked, _) | (_, Security::Unchecked) => Security::Unchecked,
            _ => Security::Insecure,
        };
        Some(Resolution {
            rcode: ResponseCode::NoError,
            answers,
            // The A answer's other sections (its zone's NS set) go along.
            authorities: a_res.authorities,
            additionals: a_res.additionals,
            from_cache: res.from_cache && a_res.from_cache,
            stale: res.stale || a_res.stale,
            refresh: res.refresh,
            security,
            ..res
        })
    }

    /// Where the AAAA answer to `request` ends, when DNS64 must make AAAA
    /// records for it there (RFC 6147 §5.1): a DNS64 question answered
    /// without an AAAA record it may use (one outside the excluded ranges,
    /// not in a zone whose AAAA records are ignored), or with synthall.
    fn synthesis_target(&self, request: &Request, res: &Resolution) -> Option<Name> {
        if !self.dns64_question(request) || request.qtype == RecordType::PTR {
            return None;
        }
        if res.failure.is_some() || res.rcode != ResponseCode::NoError {
            return None;
        }
        let end = chain_end(&res.answers, &request.name);
        let usable_aaaa = res
            .answers
            .iter()
            .any(|r| r.name == end && matches!(&r.data, RData::AAAA(a) if !excluded(a.0)));
        let ignored = self
            .config
            .resolver
            .dns64_ignore_aaaa
            .iter()
            .any(|z| z.zone_of(&end));
        if usable_aaaa && !ignored && !self.config.resolver.dns64_synthall {
            return None;
        }
        Some(end)
    }

    /// AAAA records made from the A records at the end of `a_res`'s chain
    /// from `end`, no longer lived than the AAAA denial (`negative_ttl`);
    /// a CNAME chain met on the way to them goes along.
    fn synthesised(
        &self,
        a_res: &Resolution,
        end: &Name,
        qname: &Name,
        negative_ttl: u32,
    ) -> Vec<Record> {
        let prefix = self.config.resolver.dns64_prefix;
        let a_end = chain_end(&a_res.answers, end);
        let mut synthesised: Vec<Record> = Vec::new();
        for r in &a_res.answers {
            match &r.data {
                RData::CNAME(_) if r.name != *qname => synthesised.push(r.clone()),
                RData::A(a) if r.name == a_end => {
                    let Some(v6) = nat64::synthesize(prefix, a.0) else {
                        continue;
                    };
                    let mut rec = Record::from_rdata(
                        r.name.clone(),
                        r.ttl.min(negative_ttl),
                        RData::AAAA(AAAA(v6)),
                    );
                    rec.dns_class = DNSClass::IN;
                    synthesised.push(rec);
                }
                _ => {}
            }
        }
        synthesised
    }

    /// A PTR question for an address in the prefix is answered with the
    /// PTR of the IPv4 address it embeds, under the question's name,
    /// without asking for the IPv6 name (RFC 6147 §5.3.1; as Unbound).
    /// None when DNS64 has nothing to do with the question; Some(None)
    /// for a cache peek that missed.
    pub(super) async fn dns64_ptr(
        &self,
        request: &Request,
        peek: bool,
    ) -> Option<Option<Resolution>> {
        if !self.dns64_question(request) || request.qtype != RecordType::PTR {
            return None;
        }
        let prefix = self.config.resolver.dns64_prefix;
        let v4 = reverse_v6(&request.name).and_then(|v6| nat64::extract(prefix, v6))?;
        let target = reverse_v4(v4)?;
        let v4_request = Request {
            name: target.clone(),
            ..request.clone()
        };
        let v4_res = if peek {
            match Box::pin(self.resolve_cached(&v4_request)).await {
                Some(r) => r,
                None => return Some(None),
            }
        } else {
            Box::pin(self.resolve(&v4_request)).await
        };
        let end = chain_end(&v4_res.answers, &target);
        let answers: Vec<Record> = v4_res
            .answers
            .iter()
            .filter(|r| r.name == end && r.record_type() == RecordType::PTR)
            .map(|r| {
                let mut r = r.clone();
                r.name = request.name.clone();
                r
            })
            .collect();
        Some(Some(Resolution {
            answers,
            authorities: v4_res
                .authorities
                .iter()
                .filter(|r| r.record_type() != RecordType::RRSIG)
                .cloned()
                .collect(),
            additionals: Vec::new(),
            // Renamed: no signature covers it.
            security: match v4_res.security {
                Security::Unchecked => Security::Unchecked,
                _ => Security::Insecure,
            },
            ..v4_res
        }))
    }
}

/// RFC 6147 §5.1.4: AAAA records in ::ffff:0:0/96 (IPv4-mapped) are not
/// real IPv6 addresses; a name with only those gets synthesised ones.
fn excluded(v6: Ipv6Addr) -> bool {
    let mapped = Ipv6Net::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96).ok();
    mapped.is_some_and(|n| n.contains(&v6))
}

/// The IPv6 address an `ip6.arpa` name stands for (32 nibble labels).
fn reverse_v6(name: &Name) -> Option<Ipv6Addr> {
    let labels: Vec<String> = name
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let (nibbles, suffix) = labels.split_at_checked(32)?;
    if suffix != ["ip6", "arpa"] {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, label) in nibbles.iter().enumerate() {
        let nibble = u8::from_str_radix(label, 16)
            .ok()
            .filter(|_| label.len() == 1)?;
        // Label 0 is the lowest nibble of the last byte.
        let pos = 31 - i;
        let byte = bytes.get_mut(pos / 2)?;
        if pos % 2 == 0 {
            *byte |= nibble << 4;
        } else {
            *byte |= nibble;
        }
    }
    Some(Ipv6Addr::from(bytes))
}

/// `d.c.b.a.in-addr.arpa.` for `a.b.c.d`.
fn reverse_v4(v4: Ipv4Addr) -> Option<Name> {
    let [a, b, c, d] = v4.octets();
    Name::from_ascii(format!("{d}.{c}.{b}.{a}.in-addr.arpa.")).ok()
}

/// The TTL of the AAAA denial: its SOA's TTL capped by MINIMUM (RFC 2308
/// §5), or no limit without one.
fn negative_ttl(res: &Resolution) -> u32 {
    res.authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_round_trip() {
        let v6: Ipv6Addr = "64:ff9b::c000:221".parse().unwrap();
        let nibbles: Vec<String> = v6
            .octets()
            .iter()
            .rev()
            .flat_map(|b| [format!("{:x}", b & 0xf), format!("{:x}", b >> 4)])
            .collect();
        let name = Name::from_ascii(format!("{}.ip6.arpa.", nibbles.join("."))).unwrap();
        assert_eq!(reverse_v6(&name), Some(v6));
        let prefix = nat64::well_known_prefix();
        let v4 = nat64::extract(prefix, v6).unwrap();
        assert_eq!(v4, Ipv4Addr::new(192, 0, 2, 33));
        assert_eq!(
            reverse_v4(v4),
            Some(Name::from_ascii("33.2.0.192.in-addr.arpa.").unwrap())
        );
        assert_eq!(nat64::synthesize(prefix, v4), Some(v6));
        // Not an ip6.arpa name, or a short one.
        assert_eq!(
            reverse_v6(&Name::from_ascii("1.0.ip6.arpa.").unwrap()),
            None
        );
        assert_eq!(reverse_v6(&Name::from_ascii("www.example.").unwrap()), None);
    }

    #[test]
    fn mapped_addresses_are_excluded() {
        assert!(excluded("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!excluded("2001:db8::1".parse().unwrap()));
    }
}
