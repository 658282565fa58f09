//! What each upstream reply teaches the cache: answers at their trust rank
//! (RFC 2181 §5.4.1), negative answers for the RFC 2308 negative TTL (and
//! RFC 8020 for NXDOMAIN), referrals with their glue, and the delegation
//! as the parent gave it; plus the cache reads iteration needs. Data that
//! comes again unchanged while the cache holds it at the same or a higher
//! trust is not renewed (its TTL keeps counting down, as in Unbound's RRset
//! cache), except within a prefetch's leeway.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{follow_chain, ChainEnd};
use crate::engine::step::Step;
use crate::engine::Resolver;
use crate::upstream::Transport;

mod kept;
mod records;

pub(crate) use records::{denial_proof, group_rrsets, scrub_signed, soa_of};

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Caches an answer to the question `t` and says where its chain ends.
    pub(super) fn take_answer(&self, msg: &Message, t: Taking<'_>) -> Step {
        let now = self.clock.now();
        if !msg.answers.is_empty() {
            // The name answers: an NXDOMAIN kept for it (expired, or it
            // would have answered) must not be served stale any more.
            self.cache.remove(&Key::NxDomain(t.name.clone(), t.class));
        }
        let (chain, end) = follow_chain(&msg.answers, t.name, t.qtype);
        let retarget = retarget(&end, chain.last(), &t);
        self.cache_answer_rrsets(msg, retarget.as_ref(), &t, now);
        let (chain, end) = match retarget {
            Some(target) => (
                chain.into_iter().filter(|r| r.name != target).collect(),
                ChainEnd::Alias(target),
            ),
            None => (chain, end),
        };
        self.cache_answer_extras(msg, &t, now);
        let chain: Vec<Record> = chain.into_iter().map(|r| self.clamped(r)).collect();
        match end {
            ChainEnd::Complete => Step::Answer(chain),
            ChainEnd::Alias(target) => self.alias_end(msg, chain, target, &t),
        }
    }

    /// Caches the answer section's RRsets, by the cache's update rule (not
    /// renewing what is unchanged) except within a prefetch's leeway; not
    /// the data at a `retarget`ed alias's end, nor an answer for one client
    /// subnet.
    fn cache_answer_rrsets(
        &self,
        msg: &Message,
        retarget: Option<&Name>,
        t: &Taking<'_>,
        now: crate::clock::Mono,
    ) {
        if t.from.is_some_and(|f| f.scoped) {
            return;
        }
        let aa = msg.metadata.authoritative;
        let within = u32::try_from(t.leeway.as_secs()).unwrap_or(u32::MAX);
        for rrset in group_rrsets(&msg.answers) {
            let terminal = rrset
                .first()
                .is_some_and(|r| Some(&r.name) == retarget && r.record_type() == t.qtype);
            if !terminal {
                self.cache
                    .update_rrset(rrset, Rank::of(Section::Answer, aa), now, within);
            }
        }
    }

    /// What rides along with an answer. NS sets in its authority section
    /// are not cached: a server could otherwise repoint a zone it is only
    /// answering for (Unbound's default, iter-scrub-promiscuous: no).
    /// Delegations come from referrals and from answers to NS queries, so
    /// only those bring addresses (glue) into the cache too.
    fn cache_answer_extras(&self, msg: &Message, t: &Taking<'_>, now: crate::clock::Mono) {
        if t.qtype == RecordType::NS {
            for rrset in group_rrsets(&msg.additionals) {
                self.insert_unrenewed(rrset, Rank::Additional, now);
            }
        } else if self.config.resolver.trust_answer_ns {
            self.cache_answer_ns(msg, now, t.from);
        }
        if !self.config.resolver.minimal_responses || t.qtype == RecordType::NS {
            self.keep_sections(msg, t.name, t.qtype, t.class, t.leeway);
        }
    }

    /// A chain ending in an alias to `target`, which the same reply may
    /// answer negatively.
    fn alias_end(&self, msg: &Message, chain: Vec<Record>, target: Name, t: &Taking<'_>) -> Step {
        let scoped = t.from.is_some_and(|f| f.scoped);
        if msg.metadata.response_code == ResponseCode::NXDomain {
            if !scoped {
                self.cache_negative(msg, &target, t.qtype, t.class, true);
            }
            return Step::NxDomain(chain, self.negative_soa(msg));
        }
        let soa_covers_target = msg
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA && r.name.zone_of(&target));
        if soa_covers_target {
            if !scoped {
                self.cache_negative(msg, &target, t.qtype, t.class, false);
            }
            return Step::NoData(chain, self.negative_soa(msg));
        }
        Step::Alias(chain, target)
    }

    /// With `trust_answer_ns`: the (scrubbed, so in-zone) NS set in an
    /// answer's authority section (an authoritative one's, or for the zone
    /// asked of a non-authoritative one's), and the addresses of those NS
    /// names from its additional section, at authority and additional rank
    /// (Unbound with iter-scrub-promiscuous: no).
    fn cache_answer_ns(
        &self,
        msg: &Message,
        now: crate::clock::Mono,
        from: Option<AnswerFrom<'_>>,
    ) {
        let aa = msg.metadata.authoritative;
        let zone = from.map(|f| f.zone);
        let started = from.map_or(now, |f| f.started);
        // A non-authoritative answer vouches at most for the NS set of the
        // zone it was asked of (Unbound caches it at its lower trust), never
        // for a zone cut of its own below it.
        let ns: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS)
            .filter(|r| aa || zone == Some(&r.name))
            .cloned()
            .collect();
        let targets: Vec<&Name> = ns
            .iter()
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::NS(n) => Some(&n.0),
                _ => None,
            })
            .collect();
        let addrs: Vec<Record> = msg
            .additionals
            .iter()
            .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
            .filter(|r| targets.contains(&&r.name))
            .cloned()
            .collect();
        for rrset in group_rrsets(&ns) {
            let rank = Rank::of(Section::Authority, aa);
            self.cache.update_rrset_since(rrset, rank, now, started, 0);
        }
        for rrset in group_rrsets(&addrs) {
            self.cache
                .update_rrset_since(rrset, Rank::Additional, now, started, 0);
        }
    }

    /// Stores an RRset that rides along with answers without letting it
    /// renew itself (the cache's update rule: the same data at no better
    /// trust leaves the cached TTL counting down, and a changed NS set
    /// keeps the old expiry, against "ghost domains").
    fn insert_unrenewed(&self, rrset: Vec<Record>, rank: Rank, now: crate::clock::Mono) {
        self.cache.update_rrset(rrset, rank, now, 0);
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
        // The SOA as an RRset of its own, which cached negative answers
        // show as it is now (Unbound's message cache refers to it).
        // Below answer rank whatever the reply's AA bit: it carries the
        // negative TTL, so it must not answer SOA questions itself.
        let soa_only: Vec<Record> = soa
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .cloned()
            .collect();
        for rrset in group_rrsets(&soa_only) {
            self.insert_unrenewed(rrset, Rank::AuthorityNonAuth, now);
        }
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
        // An unchanged delegation still live in the cache is not renewed:
        // its TTL keeps counting down (as Unbound's RRset cache), so a
        // prefetch that passes through the parent does not extend it.
        let key = Key::RRset(child.clone(), RecordType::NS, DNSClass::IN);
        let unchanged = match self.cache.get_ranked(&key, now) {
            Some((Cached::RRset(have), rank)) if rank >= Rank::AuthorityNonAuth => {
                have.len() == ns.len() && ns.iter().all(|r| have.iter().any(|h| h.data == r.data))
            }
            _ => false,
        };
        if !unchanged {
            self.cache.insert_rrset(ns, Rank::AuthorityNonAuth, now);
        }
        if self.config.dnssec.validate {
            self.cache_referral_ds(msg, child, now);
        }
        // Glue likewise: unchanged, it keeps its TTL (the replies whose
        // sections show it show it counting down, as in Unbound).
        for rrset in group_rrsets(&msg.additionals) {
            self.insert_unrenewed(rrset, Rank::Additional, now);
        }
    }
    /// A referral from a signed parent carries the child's DS set (RFC
    /// 4035 §3.1.4): the parent is its authority, so it is kept as the
    /// parent's answer to a DS question and the validator need not ask.
    fn cache_referral_ds(&self, msg: &Message, child: &Name, now: crate::clock::Mono) {
        let ds: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::DS && r.name == *child)
            .cloned()
            .collect();
        if !ds.is_empty() {
            self.cache.update_rrset(ds, Rank::AnswerNonAuth, now, 0);
            return;
        }
        // A proof of no DS by an NSEC at the child's name is kept with the
        // other authority NSEC records (`stash_sigs`), where the validator
        // finds it, and a client asking for the DS gets the parent's own
        // NODATA with its SOA. An NSEC3 proof (hashed owners: nothing to
        // find by name) is kept as the parent's answer to the DS question.
        let proof = denial_proof(msg);
        if proof.iter().any(|r| r.record_type() == RecordType::NSEC3) {
            let ttl = proof.iter().map(|r| r.ttl).min().unwrap_or(0);
            self.cache.insert(
                Key::RRset(child.clone(), RecordType::DS, DNSClass::IN),
                Cached::NoData(proof),
                ttl,
                Rank::AnswerNonAuth,
                now,
            );
        }
    }

    /// Addresses of a name from the cache (any rank: glue will do here).
    pub(crate) fn cached_addrs(&self, name: &Name, class: DNSClass) -> Vec<IpAddr> {
        let now = self.clock.now();
        let mut out = Vec::new();
        let mut key = Key::RRset(name.clone(), RecordType::A, class);
        for t in [RecordType::A, RecordType::AAAA] {
            if let Key::RRset(_, kt, _) = &mut key {
                *kt = t;
            }
            self.cache.read(&key, now, |v| {
                if let Cached::RRset(rs) = v {
                    out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
                }
            });
        }
        out
    }

    /// Whether upstream queries may go to this address family (do-ip4,
    /// do-ip6).
    pub(super) fn family_allowed(&self, ip: &IpAddr) -> bool {
        let u = &self.config.upstream;
        if ip.is_ipv4() {
            // With NAT64 an IPv4 server is reached over IPv6.
            u.ipv4 || (self.config.resolver.nat64 && u.ipv6)
        } else {
            u.ipv6
        }
    }

    /// Drops addresses we must not query.
    pub(super) fn usable(&self, ips: Vec<IpAddr>) -> Vec<IpAddr> {
        let allow_lo = self.config.resolver.allow_loopback_upstream;
        ips.into_iter()
            .filter(|ip| {
                !ip.is_unspecified()
                    && !ip.is_multicast()
                    && (allow_lo || !ip.is_loopback())
                    && self.family_allowed(ip)
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

/// What an answer is taken for: the question, the prefetch leeway, and
/// where the reply came from.
#[derive(Clone, Copy)]
pub(super) struct Taking<'a> {
    pub name: &'a Name,
    pub qtype: RecordType,
    pub class: DNSClass,
    pub leeway: Duration,
    /// A forwarder's reply (to RD=1): its whole chain is the answer, as it
    /// resolved the aliases itself.
    pub recursive: bool,
    /// An answer from a server of `from.zone`: a non-authoritative answer's
    /// NS set for that zone itself may then refresh the cached one (with
    /// `trust_answer_ns`), and what rides along cannot renew an RRset that
    /// was live when the resolution began.
    pub from: Option<AnswerFrom<'a>>,
}

impl<'a> Taking<'a> {
    /// An answer to (`name`, `qtype`, `class`) from an authoritative server.
    pub fn of(name: &'a Name, qtype: RecordType, class: DNSClass, leeway: Duration) -> Self {
        Self {
            name,
            qtype,
            class,
            leeway,
            recursive: false,
            from: None,
        }
    }
}

/// After an alias, the data at its target is not taken from this reply but
/// asked of the target's own servers, as Unbound does: the aliases are the
/// answer to the question asked, the target's data is not (the server may
/// not even be authoritative for it).
fn retarget(end: &ChainEnd, last: Option<&Record>, t: &Taking<'_>) -> Option<Name> {
    match (end, last) {
        (ChainEnd::Complete, Some(last))
            if !t.recursive && last.name != *t.name && t.qtype != RecordType::ANY =>
        {
            Some(last.name.clone())
        }
        _ => None,
    }
}

/// Where an answer came from: the zone whose server was asked, and when
/// the resolution asking began.
#[derive(Clone, Copy)]
pub(super) struct AnswerFrom<'a> {
    pub zone: &'a Name,
    pub started: crate::clock::Mono,
    /// The answer holds for one client subnet only (an ECS scope above
    /// 0): its records stay out of the shared cache.
    pub scoped: bool,
}
