//! What each upstream reply teaches the cache: answers at their trust rank
//! (RFC 2181 §5.4.1), negative answers for the RFC 2308 negative TTL (and
//! RFC 8020 for NXDOMAIN), referrals with their glue, and the delegation
//! as the parent gave it; plus the cache reads iteration needs.

use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{follow_chain, ChainEnd};
use crate::engine::iterate::Step;
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Caches an answer and says where its chain ends.
    pub(super) fn take_answer(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
    ) -> Step {
        let now = self.clock.now();
        let aa = msg.metadata.authoritative;
        let (chain, mut end) = follow_chain(&msg.answers, name, qtype);
        // After an alias, the data at its target is not taken from this
        // reply but asked of the target's own servers, as Unbound does: the
        // aliases are the answer to the question asked, the target's data
        // is not (the server may not even be authoritative for it).
        let retarget = match (&end, chain.last()) {
            (ChainEnd::Complete, Some(last)) if last.name != *name && qtype != RecordType::ANY => {
                Some(last.name.clone())
            }
            _ => None,
        };
        for rrset in group_rrsets(&msg.answers) {
            let terminal = rrset
                .first()
                .is_some_and(|r| Some(&r.name) == retarget.as_ref() && r.record_type() == qtype);
            if !terminal {
                self.cache
                    .insert_rrset(rrset, Rank::of(Section::Answer, aa), now);
            }
        }
        let chain = match retarget {
            Some(target) => {
                end = ChainEnd::Alias(target.clone());
                chain.into_iter().filter(|r| r.name != target).collect()
            }
            None => chain,
        };
        // NS sets that ride along in the authority section of an answer are
        // not cached: a server could otherwise repoint a zone it is only
        // answering for (Unbound's default, iter-scrub-promiscuous: no).
        // Delegations come from referrals and from answers to NS queries,
        // so only those bring addresses (glue) into the cache too.
        if qtype == RecordType::NS {
            for rrset in group_rrsets(&msg.additionals) {
                self.cache.insert_rrset(rrset, Rank::Additional, now);
            }
        }
        if !self.config.resolver.minimal_responses || qtype == RecordType::NS {
            self.keep_sections(msg, name, qtype, class);
        }
        let chain: Vec<Record> = chain.into_iter().map(|r| self.clamped(r)).collect();
        match end {
            ChainEnd::Complete => Step::Answer(chain),
            ChainEnd::Alias(target) => {
                // The chain's end may be answered negatively in the same reply.
                let rcode = msg.metadata.response_code;
                if rcode == ResponseCode::NXDomain {
                    self.cache_negative(msg, &target, qtype, class, true);
                    return Step::NxDomain(chain, self.negative_soa(msg));
                }
                let soa_covers_target = msg
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::SOA && r.name.zone_of(&target));
                if soa_covers_target {
                    self.cache_negative(msg, &target, qtype, class, false);
                    return Step::NoData(chain, self.negative_soa(msg));
                }
                Step::Alias(chain, target)
            }
        }
    }

    /// Keeps the (scrubbed) authority NS and additional addresses of an
    /// answer, as Unbound's message cache does, for non-minimal responses.
    pub(super) fn keep_sections(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
    ) {
        let authority: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS)
            .map(|r| self.clamped(r.clone()))
            .collect();
        let additional: Vec<Record> = msg
            .additionals
            .iter()
            .map(|r| self.clamped(r.clone()))
            .collect();
        // As long as the answer lasts; a NODATA's sections as long as they do.
        let ttl = msg
            .answers
            .iter()
            .map(|r| r.ttl)
            .min()
            .or_else(|| authority.iter().chain(&additional).map(|r| r.ttl).min())
            .unwrap_or(0);
        // Keyed by where the answer ends, which is what the reply to the
        // client is built around.
        let (owner, rtype) = msg
            .answers
            .last()
            .map(|r| (r.name.clone(), r.record_type()))
            .unwrap_or((name.clone(), qtype));
        self.cache.insert(
            Key::Sections(owner, rtype, class),
            Cached::Sections(authority, additional),
            ttl,
            Rank::of(Section::Answer, msg.metadata.authoritative),
            self.clock.now(),
        );
    }

    pub(super) fn clamped(&self, mut r: Record) -> Record {
        r.ttl = self.cache.clamp_ttl(r.ttl);
        r
    }

    /// The SOA of a negative reply with its TTL set to the negative TTL
    /// (RFC 2308 §3: min of SOA TTL and MINIMUM, capped by config).
    pub(super) fn negative_soa(&self, msg: &Message) -> Vec<Record> {
        let soa = soa_of(msg);
        match self.cache.negative_ttl(&soa) {
            Some(ttl) => soa
                .into_iter()
                .map(|mut r| {
                    r.ttl = ttl;
                    r
                })
                .collect(),
            None => soa,
        }
    }

    /// Caches NXDOMAIN (for the name and, RFC 8020, below) or NODATA for
    /// the negative TTL of RFC 2308 §5; without an SOA nothing is cached.
    pub(super) fn cache_negative(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        nx: bool,
    ) {
        let soa = self.negative_soa(msg);
        let Some(ttl) = self.cache.negative_ttl(&soa) else {
            return;
        };
        let now = self.clock.now();
        if nx {
            self.cache.insert(
                Key::NxDomain(name.clone(), class),
                Cached::NxDomain(soa),
                ttl,
                Rank::AnswerAuth,
                now,
            );
        } else {
            self.cache.insert(
                Key::RRset(name.clone(), qtype, class),
                Cached::NoData(soa),
                ttl,
                Rank::AnswerAuth,
                now,
            );
        }
    }

    /// Caches a referral's NS set and glue at their (low) ranks.
    pub(super) fn cache_referral(&self, msg: &Message, child: &Name) {
        let now = self.clock.now();
        let ns: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && &r.name == child)
            .cloned()
            .collect();
        let ttl = ns.iter().map(|r| r.ttl).min().unwrap_or(0);
        self.cache.insert(
            Key::Delegation(child.clone(), DNSClass::IN),
            Cached::Sections(ns.clone(), msg.additionals.clone()),
            ttl,
            Rank::AuthorityNonAuth,
            now,
        );
        self.cache.insert_rrset(ns, Rank::AuthorityNonAuth, now);
        for rrset in group_rrsets(&msg.additionals) {
            self.cache.insert_rrset(rrset, Rank::Additional, now);
        }
    }
    /// Addresses of a name from the cache (any rank: glue will do here).
    pub(crate) fn cached_addrs(&self, name: &Name, class: DNSClass) -> Vec<IpAddr> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for t in [RecordType::A, RecordType::AAAA] {
            if let Some(Cached::RRset(rs)) =
                self.cache.get(&Key::RRset(name.clone(), t, class), now)
            {
                out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
            }
        }
        out
    }

    /// Drops addresses we must not query.
    pub(super) fn usable(&self, ips: Vec<IpAddr>) -> Vec<IpAddr> {
        let allow_lo = self.config.resolver.allow_loopback_upstream;
        ips.into_iter()
            .filter(|ip| {
                !ip.is_unspecified() && !ip.is_multicast() && (allow_lo || !ip.is_loopback())
            })
            .filter(|ip| !self.do_not_query(*ip))
            .collect()
    }

    /// Whether `ip` is in `resolver.do_not_query`. With NAT64 on, an
    /// address in the NAT64 prefix stands for the IPv4 server it embeds,
    /// and that address is what is checked.
    fn do_not_query(&self, ip: IpAddr) -> bool {
        let cfg = &self.config.resolver;
        if cfg.do_not_query.is_empty() {
            return false;
        }
        let ip = match ip {
            IpAddr::V6(v6) if cfg.nat64 => crate::upstream::nat64::extract(cfg.nat64_prefix, v6)
                .map(IpAddr::V4)
                .unwrap_or(ip),
            _ => ip,
        };
        cfg.do_not_query.iter().any(|n| n.contains(&ip))
    }
}

/// The SOA records of a reply's authority section.
pub(super) fn soa_of(msg: &Message) -> Vec<Record> {
    msg.authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect()
}

/// Groups records into RRsets by (name, type, class), keeping order.
pub(crate) fn group_rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    // Indexed, so a hostile reply with thousands of records costs linear time.
    let mut index: std::collections::HashMap<(&Name, RecordType, DNSClass), usize> =
        std::collections::HashMap::new();
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
