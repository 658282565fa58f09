//! What the replies to clients are built from besides the answer: the
//! extra sections kept with an answer (as Unbound's message cache keeps
//! them), the live copies of their RRsets, the SOA and denial proof of a
//! negative answer (RFC 2308 §3, RFC 4035 §3.1.3), and the signatures kept
//! beside the RRsets they cover for the validator and DO=1 clients.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::records::{denial_proof, group_rrsets, soa_of};
use crate::cache::rank::Section;
use crate::cache::{Cached, Hit, Key, Rank};
use crate::clock::{Clock, Mono};
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
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
    pub(in crate::engine) fn live_records(
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
    pub(in crate::engine) fn live_soa(&self, authorities: Vec<Record>) -> Vec<Record> {
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
    pub(in crate::engine) fn keep_sections(
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
        let keep_old = |r: Record| ttl_as_kept(&old, r, leeway);
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
        let ttl = sections_ttl(msg, &authority, &additional);
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
    pub(in crate::engine) fn clamped(&self, mut r: Record) -> Record {
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
    pub(in crate::engine) fn negative_soa(&self, msg: &Message) -> Vec<Record> {
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
    pub(in crate::engine) fn stash_sigs(&self, msg: &Message) {
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
            let sets = sigs_by_covered(records);
            let rank = Rank::of(section, aa);
            if section == Section::Answer {
                self.stash_wildcard_proof(msg, &sets, rank, now);
            }
            if section == Section::Authority {
                self.stash_authority_nsecs(records, now);
            }
            for ((name, covered), sigs) in sets {
                let ttl = sigs.iter().map(|r| r.ttl).min().unwrap_or(0);
                let key = Key::Sigs(name, covered, DNSClass::IN);
                // A zero-TTL RRset is not cached, but its signatures are
                // kept a second so the reply being validated can find them.
                self.cache
                    .insert(key, Cached::RRset(sigs), ttl.max(1), rank, now);
            }
        }
    }

    /// A wildcard answer's proof of no closer match rides in the authority
    /// section (RFC 4035 §3.1.3.3). Kept whole (the NS set and its
    /// signature too), as the server sent it, for DO=1 clients of a
    /// wildcard answer, beside each signed RRset of the answer.
    fn stash_wildcard_proof(&self, msg: &Message, sets: &[SigSet], rank: Rank, now: Mono) {
        if denial_proof(msg).is_empty() {
            return;
        }
        let proof: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| {
                matches!(
                    r.record_type(),
                    RecordType::NS | RecordType::NSEC | RecordType::NSEC3 | RecordType::RRSIG
                )
            })
            .cloned()
            .collect();
        if proof.is_empty() {
            return;
        }
        let ttl = proof.iter().map(|r| r.ttl).min().unwrap_or(0);
        for ((name, covered), _) in sets {
            self.cache.insert(
                Key::Proof(name.clone(), *covered, DNSClass::IN),
                Cached::RRset(proof.clone()),
                ttl,
                rank,
                now,
            );
        }
    }

    /// NSEC records seen in authority sections, for proofs of an insecure
    /// delegation the validator may need later (`cached_no_ds`); below
    /// answer rank, so no client is answered from them.
    fn stash_authority_nsecs(&self, records: &[Record], now: Mono) {
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
}

/// RRSIGs grouped by (owner, type covered).
type SigSet = ((Name, RecordType), Vec<Record>);

/// The RRSIGs among `records`, grouped by owner and type covered.
fn sigs_by_covered(records: &[Record]) -> Vec<SigSet> {
    let mut sets: Vec<SigSet> = Vec::new();
    for r in records {
        let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) = &r.data else {
            continue;
        };
        let key = (r.name.to_lowercase(), sig.input().type_covered);
        match sets.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r.clone()),
            None => sets.push((key, vec![r.clone()])),
        }
    }
    sets
}

/// A record of an answer's extra sections with no more TTL than the same
/// data had in the previous copy of those sections (`old`): records tern
/// keeps only there are not renewed while unchanged, unless about to
/// expire within a prefetch's `leeway`.
fn ttl_as_kept(old: &[Record], mut r: Record, leeway: Duration) -> Record {
    let same = old
        .iter()
        .find(|o| o.name == r.name && o.record_type() == r.record_type() && o.data == r.data);
    if let Some(o) = same {
        if u64::from(o.ttl) > leeway.as_secs() {
            r.ttl = r.ttl.min(o.ttl);
        }
    }
    r
}

/// How long an answer's kept sections last: at least a second even for a
/// zero-TTL answer (the reply being built reads them back from here; no
/// answer can be made from them alone, and each record keeps its own
/// TTL). A NODATA's sections (no answer records) last as long as they do.
fn sections_ttl(msg: &Message, authority: &[Record], additional: &[Record]) -> u32 {
    msg.answers
        .iter()
        .map(|r| r.ttl)
        .min()
        .or_else(|| authority.iter().chain(additional).map(|r| r.ttl).min())
        .unwrap_or(0)
        .max(1)
}
