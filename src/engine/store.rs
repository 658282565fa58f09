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
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::rank::Section;
use crate::cache::{Cached, Hit, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{follow_chain, ChainEnd};
use crate::engine::step::Step;
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Caches an authoritative server's answer and says where its chain
    /// ends.
    pub(super) fn take_answer(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        leeway: Duration,
    ) -> Step {
        self.take_answer_from(msg, name, qtype, class, leeway, false)
    }

    /// `take_answer` for an answer from a server of `from.zone`: a
    /// non-authoritative answer's NS set for that zone itself may then
    /// refresh the cached one (with `trust_answer_ns`), and what rides
    /// along cannot renew an RRset that was live when the resolution began.
    pub(super) fn take_answer_at(
        &self,
        msg: &Message,
        from: AnswerFrom<'_>,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        leeway: Duration,
    ) -> Step {
        self.take_answer_in(msg, name, qtype, class, leeway, false, Some(from))
    }

    /// `take_answer`; `recursive` for a forwarder's reply (to RD=1), whose
    /// whole chain is the answer: it resolved the aliases itself.
    pub(super) fn take_answer_from(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        leeway: Duration,
        recursive: bool,
    ) -> Step {
        self.take_answer_in(msg, name, qtype, class, leeway, recursive, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn take_answer_in(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        leeway: Duration,
        recursive: bool,
        from: Option<AnswerFrom<'_>>,
    ) -> Step {
        let now = self.clock.now();
        let aa = msg.metadata.authoritative;
        if !msg.answers.is_empty() {
            // The name answers: an NXDOMAIN kept for it (expired, or it
            // would have answered) must not be served stale any more.
            self.cache.remove(&Key::NxDomain(name.clone(), class));
        }
        let (chain, mut end) = follow_chain(&msg.answers, name, qtype);
        // After an alias, the data at its target is not taken from this
        // reply but asked of the target's own servers, as Unbound does: the
        // aliases are the answer to the question asked, the target's data
        // is not (the server may not even be authoritative for it).
        let retarget = match (&end, chain.last()) {
            (ChainEnd::Complete, Some(last))
                if !recursive && last.name != *name && qtype != RecordType::ANY =>
            {
                Some(last.name.clone())
            }
            _ => None,
        };
        let scoped = from.is_some_and(|f| f.scoped);
        for rrset in group_rrsets(&msg.answers).into_iter().filter(|_| !scoped) {
            let terminal = rrset
                .first()
                .is_some_and(|r| Some(&r.name) == retarget.as_ref() && r.record_type() == qtype);
            if !terminal {
                // By the cache's update rule (not renewing what is
                // unchanged), except within a prefetch's leeway.
                let within = u32::try_from(leeway.as_secs()).unwrap_or(u32::MAX);
                self.cache
                    .update_rrset(rrset, Rank::of(Section::Answer, aa), now, within);
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
                self.insert_unrenewed(rrset, Rank::Additional, now);
            }
        } else if self.config.resolver.trust_answer_ns {
            self.cache_answer_ns(msg, now, from);
        }
        if !self.config.resolver.minimal_responses || qtype == RecordType::NS {
            self.keep_sections(msg, name, qtype, class, leeway);
        }
        let chain: Vec<Record> = chain.into_iter().map(|r| self.clamped(r)).collect();
        match end {
            ChainEnd::Complete => Step::Answer(chain),
            ChainEnd::Alias(target) => {
                // The chain's end may be answered negatively in the same reply.
                let rcode = msg.metadata.response_code;
                if rcode == ResponseCode::NXDomain {
                    if !scoped {
                        self.cache_negative(msg, &target, qtype, class, true);
                    }
                    return Step::NxDomain(chain, self.negative_soa(msg));
                }
                let soa_covers_target = msg
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::SOA && r.name.zone_of(&target));
                if soa_covers_target {
                    if !scoped {
                        self.cache_negative(msg, &target, qtype, class, false);
                    }
                    return Step::NoData(chain, self.negative_soa(msg));
                }
                Step::Alias(chain, target)
            }
        }
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

    /// The extra records of a cached reply as the cache holds their RRsets
    /// now, as Unbound's message cache refers to its RRset cache: an RRset
    /// is replaced by the live one at its name and type when that is
    /// trusted more than `kept`, the rank of the copy kept with the answer,
    /// or as much and stored after the copy (whose store serial is `since`;
    /// None: the copy is as old as anything cached of its rank). A newer
    /// one is an update, which in Unbound would replace the referenced set.
    /// Lower-ranked data, such as a parent's referral NS set, never stands
    /// in for the kept copy; nor does older data of the same rank, which
    /// the kept copy (not cached on its own by tern) would have replaced.
    pub(super) fn live_records(
        &self,
        records: Vec<Record>,
        kept: Rank,
        since: Option<u64>,
    ) -> Vec<Record> {
        if records.is_empty() {
            return records;
        }
        let now = self.clock.now();
        // (name, type) -> the live RRset, or None to keep the copy; few
        // RRsets per reply, so a list is enough.
        let mut live: Vec<(Name, RecordType, Option<Vec<Record>>)> = Vec::new();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let rtype = r.record_type();
            if rtype == RecordType::RRSIG {
                out.push(r);
                continue;
            }
            let i = match live
                .iter()
                .position(|(n, t, _)| *t == rtype && *n == r.name)
            {
                Some(i) => i,
                None => {
                    let key = Key::RRset(r.name.clone(), rtype, r.dns_class);
                    let found = match self.cache.lookup(&key, now, false) {
                        Some(Hit {
                            value: Cached::RRset(rs),
                            rank,
                            serial,
                            ..
                        }) if !rs.is_empty()
                            && (rank > kept
                                || (rank == kept && since.is_none_or(|t| serial > t))) =>
                        {
                            Some(rs)
                        }
                        _ => None,
                    };
                    live.push((r.name.clone(), rtype, found));
                    live.len() - 1
                }
            };
            match live.get_mut(i) {
                // The live RRset goes in whole at its first record's place.
                Some((_, _, found @ Some(_))) => {
                    if let Some(rs) = found.take() {
                        out.extend(rs);
                    }
                    // Later records of the set are in already: mark done.
                    *found = Some(Vec::new());
                }
                _ => out.push(r),
            }
        }
        out
    }

    /// A negative answer's SOA as the cache holds it now: a later negative
    /// answer from the zone may have brought a new one. Its TTL is capped
    /// by its MINIMUM (RFC 2308 §3) even when an answer to an SOA question
    /// has put it in the cache for longer. Records other than an SOA (a
    /// referral's NS set) are returned as they are.
    pub(super) fn live_soa(&self, authorities: Vec<Record>) -> Vec<Record> {
        if !authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA)
        {
            return authorities;
        }
        // The negative answer stored its SOA when it was stored, so
        // whatever the cache holds at that rank is as new or newer.
        self.live_records(authorities, Rank::AuthorityNonAuth, None)
            .into_iter()
            .map(|mut r| {
                if let RData::SOA(soa) = &r.data {
                    r.ttl = r.ttl.min(self.cache.clamp_negative_ttl(soa.minimum));
                }
                r
            })
            .collect()
    }

    /// Keeps the (scrubbed) authority NS and additional addresses of an
    /// answer, as Unbound's message cache does, for non-minimal responses.
    pub(super) fn keep_sections(
        &self,
        msg: &Message,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        leeway: Duration,
    ) {
        let aa = msg.metadata.authoritative;
        // Keyed by where the answer ends, which is what the reply to the
        // client is built around.
        let (owner, rtype) = msg
            .answers
            .iter()
            .rfind(|r| r.record_type() != RecordType::RRSIG)
            .map(|r| (r.name.clone(), r.record_type()))
            .unwrap_or((name.clone(), qtype));
        let key = Key::Sections(owner, rtype, class);
        let rank = Rank::of(Section::Answer, aa);
        // What the previous copy of these sections holds: records tern
        // keeps only here (an answer's NS and addresses) are not renewed
        // either while unchanged and not about to expire.
        let old: Vec<Record> = match self.cache.sections_records(&key, self.clock.now()) {
            Some((records, have)) if have >= rank => records,
            _ => Vec::new(),
        };
        let keep_old = |mut r: Record| {
            let same = old.iter().find(|o| {
                o.name == r.name && o.record_type() == r.record_type() && o.data == r.data
            });
            if let Some(o) = same {
                if u64::from(o.ttl) > leeway.as_secs() {
                    r.ttl = r.ttl.min(o.ttl);
                }
            }
            r
        };
        // When validating, the authority's DNSSEC records too (a wildcard
        // answer's NSEC/NSEC3 proof and the signatures over the NS set and
        // the proof), which DO=1 clients get as the server sent them.
        let dnssec = self.config.dnssec.validate;
        let authority: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| {
                r.record_type() == RecordType::NS
                    || (dnssec
                        && matches!(
                            r.record_type(),
                            RecordType::NSEC | RecordType::NSEC3 | RecordType::RRSIG
                        ))
            })
            .map(|r| {
                keep_old(self.as_cached(
                    self.clamped(r.clone()),
                    Rank::of(Section::Authority, aa),
                    leeway,
                ))
            })
            .collect();
        let additional: Vec<Record> = msg
            .additionals
            .iter()
            .map(|r| keep_old(self.as_cached(self.clamped(r.clone()), Rank::Additional, leeway)))
            .collect();
        // At least a second even for a zero-TTL answer: the reply being
        // built reads them back from here (no answer can be made from them
        // alone, and each record keeps its own TTL).
        // A NODATA's sections (no answer records) last as long as they do.
        let ttl = msg
            .answers
            .iter()
            .map(|r| r.ttl)
            .min()
            .or_else(|| authority.iter().chain(&additional).map(|r| r.ttl).min())
            .unwrap_or(0)
            .max(1);
        self.cache.insert(
            key,
            Cached::Sections(authority, additional),
            ttl,
            rank,
            self.clock.now(),
        );
    }

    /// A record of an answer's extra sections with the TTL its RRset has
    /// in the cache, when the cache holds the same data at a trust at least
    /// as high: that copy is not replaced, so its TTL keeps counting down
    /// (as Unbound's RRset cache, which the sections of its replies use).
    /// A prefetch renews what expires within its `leeway`.
    fn as_cached(&self, mut r: Record, rank: Rank, leeway: Duration) -> Record {
        if self.config.cache.serve_original_ttl {
            return r;
        }
        let key = Key::RRset(r.name.clone(), r.record_type(), r.dns_class);
        let now = self.clock.now();
        if let Some((Cached::RRset(rs), have)) = self.cache.get_ranked(&key, now) {
            let renew = self.cache.remaining(&key, now).is_some_and(|l| l <= leeway);
            if have >= rank && !renew {
                if let Some(c) = rs.iter().find(|c| c.data == r.data) {
                    r.ttl = r.ttl.min(c.ttl);
                }
            }
        }
        r
    }

    /// The record with the TTL the cache keeps it for, or as received
    /// with serve-original-ttl.
    pub(super) fn clamped(&self, mut r: Record) -> Record {
        if !self.config.cache.serve_original_ttl {
            r.ttl = self.cache.clamp_ttl(r.ttl);
        }
        r
    }

    /// The SOA of a negative reply with its TTL set to the negative TTL
    /// (RFC 2308 §3: min of SOA TTL and MINIMUM, capped by config).
    /// When validating, the denial's proof rides along: the NSEC/NSEC3
    /// records of the authority section and the RRSIGs over them and over
    /// the SOA (RFC 4035 §3.1.3), kept and served with the negative answer.
    pub(super) fn negative_soa(&self, msg: &Message) -> Vec<Record> {
        let mut soa = soa_of(msg);
        if self.config.dnssec.validate {
            soa.extend(denial_proof(msg));
        }
        // The SOA (and its signature) carries the negative TTL; the proof
        // records keep their own, as the server sent them.
        match self.cache.negative_ttl(&soa) {
            Some(ttl) => soa
                .into_iter()
                .map(|mut r| {
                    let soa_sig = matches!(&r.data,
                        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s))
                            if s.input().type_covered == RecordType::SOA);
                    if r.record_type() == RecordType::SOA || soa_sig {
                        r.ttl = ttl;
                    }
                    r
                })
                .collect(),
            None => soa,
        }
    }

    /// Keeps the RRSIGs of a reply's answer and authority sections beside
    /// the RRsets they cover (`Key::Sigs`), at the rank of their section,
    /// for the validator and for clients that set DO. Only when
    /// validating: otherwise nothing reads them.
    pub(super) fn stash_sigs(&self, msg: &Message) {
        if !self.config.dnssec.validate {
            return;
        }
        let now = self.clock.now();
        let aa = msg.metadata.authoritative;
        for (section, records) in [
            (Section::Answer, &msg.answers),
            (Section::Authority, &msg.authorities),
            (Section::Additional, &msg.additionals),
        ] {
            let mut sets: Vec<((Name, RecordType), Vec<Record>)> = Vec::new();
            for r in records {
                let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) = &r.data
                else {
                    continue;
                };
                let key = (r.name.to_lowercase(), sig.input().type_covered);
                match sets.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(r.clone()),
                    None => sets.push((key, vec![r.clone()])),
                }
            }
            if section == Section::Answer {
                // A wildcard answer's proof of no closer match rides in
                // the authority section (RFC 4035 §3.1.3.3).
                // Kept whole (the NS set and its signature too), as the
                // server sent it, for DO=1 clients of a wildcard answer.
                let proof: Vec<Record> = if denial_proof(msg).is_empty() {
                    Vec::new()
                } else {
                    msg.authorities
                        .iter()
                        .filter(|r| {
                            matches!(
                                r.record_type(),
                                RecordType::NS
                                    | RecordType::NSEC
                                    | RecordType::NSEC3
                                    | RecordType::RRSIG
                            )
                        })
                        .cloned()
                        .collect()
                };
                if !proof.is_empty() {
                    let ttl = proof.iter().map(|r| r.ttl).min().unwrap_or(0);
                    for ((name, covered), _) in &sets {
                        self.cache.insert(
                            Key::Proof(name.clone(), *covered, DNSClass::IN),
                            Cached::RRset(proof.clone()),
                            ttl,
                            Rank::of(section, aa),
                            now,
                        );
                    }
                }
            }
            if section == Section::Authority {
                // NSEC records seen in authority sections, for proofs of an
                // insecure delegation the validator may need later
                // (`cached_no_ds`); below answer rank, so no client is
                // answered from them.
                let nsecs: Vec<Record> = records
                    .iter()
                    .filter(|r| r.record_type() == RecordType::NSEC)
                    .cloned()
                    .collect();
                for rrset in group_rrsets(&nsecs) {
                    self.cache
                        .update_rrset(rrset, Rank::AuthorityNonAuth, now, 0);
                }
            }
            for ((name, covered), sigs) in sets {
                let ttl = sigs.iter().map(|r| r.ttl).min().unwrap_or(0);
                let key = Key::Sigs(name, covered, DNSClass::IN);
                // A zero-TTL RRset is not cached, but its signatures are
                // kept a second so the reply being validated can find them.
                self.cache.insert(
                    key,
                    Cached::RRset(sigs),
                    ttl.max(1),
                    Rank::of(section, aa),
                    now,
                );
            }
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
        for t in [RecordType::A, RecordType::AAAA] {
            if let Some(Cached::RRset(rs)) =
                self.cache.get(&Key::RRset(name.clone(), t, class), now)
            {
                out.extend(rs.iter().filter_map(|r| r.data.ip_addr()));
            }
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

/// The SOA records of a reply's authority section.
pub(super) fn soa_of(msg: &Message) -> Vec<Record> {
    msg.authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect()
}

/// The NSEC/NSEC3 records of a reply's authority section and the RRSIGs
/// over them and over its SOA: what proves a denial (RFC 4035 §3.1.3).
pub(super) fn denial_proof(msg: &Message) -> Vec<Record> {
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
pub(super) fn scrub_signed(
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
pub(super) fn take_sigs(msg: &mut Message) -> Vec<Record> {
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
pub(super) fn reattach_sigs(msg: &mut Message, sigs: Vec<Record>) {
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
