//! The validator: a layer above iteration (RFC 4035 §5), as Unbound stacks
//! its validator module on its iterator. It takes a finished resolution,
//! works out which zone signed each RRset, builds that zone's chain of
//! trust from the closest trust anchor by asking the resolver itself for
//! DS and DNSKEY sets (through the cache and in-flight merging, with CD=1
//! so those inner answers are not validated twice), and checks the RRSIGs
//! and denial proofs with the pure functions of `crate::dnssec`.
//!
//! Results are cached: a zone's keys under `Key::ZoneKeys`, an answer's
//! status under `Key::Status` (a bogus one for `dnssec.bogus_ttl` only),
//! so a cached answer is validated once, when it is first resolved.

use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::dnssec::verify;
use crate::dnssec::{Bogus, BogusKind, Budget, Security, ZoneKeys};
use crate::engine::store::group_rrsets;
use crate::engine::{Failure, Request, Resolution, Resolver, TraceEvent};
use crate::upstream::Transport;

mod chain;
mod denial;
mod records;
pub(crate) mod retry;

pub(crate) use records::chain_end;
use records::{
    covered, ends_in, is_proper_ancestor, nsec3_security, sig_labels, signer, sigs_in,
    synthesised_by_dname,
};

/// How long an insecure result without a TTL of its own is kept.
const INSECURE_TTL: u32 = 300;

/// Validation work counted since start (KeyTrap limits are per query;
/// these totals are for statistics and for tests that assert the count of
/// signature verifications rather than a time).
#[derive(Debug, Default)]
pub struct WorkCounters {
    validations: AtomicU64,
    verifications: AtomicU64,
    nsec3_hashes: AtomicU64,
}

/// A reading of `WorkCounters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Client answers validated (not counting cache hits of a status).
    pub validations: u64,
    /// RRSIG verifications (the costly, public-key part).
    pub verifications: u64,
    pub nsec3_hashes: u64,
}

impl WorkCounters {
    pub fn read(&self) -> Work {
        Work {
            validations: self.validations.load(Ordering::Relaxed),
            verifications: self.verifications.load(Ordering::Relaxed),
            nsec3_hashes: self.nsec3_hashes.load(Ordering::Relaxed),
        }
    }

    fn add(&self, budget: &Budget) {
        self.validations.fetch_add(1, Ordering::Relaxed);
        self.verifications
            .fetch_add(u64::from(budget.verifications_done), Ordering::Relaxed);
        self.nsec3_hashes
            .fetch_add(u64::from(budget.nsec3_hashes_done), Ordering::Relaxed);
    }
}

/// What one validation found: the status and for how long it holds.
struct Verdict {
    security: Security,
    ttl: u32,
    /// The steps taken, in words (only for traced questions).
    steps: Vec<String>,
}

impl Verdict {
    fn secure() -> Self {
        Self {
            security: Security::Secure,
            ttl: u32::MAX,
            steps: Vec::new(),
        }
    }

    /// Folds in one part's result: bogus beats insecure beats secure.
    fn add(&mut self, security: Security, ttl: u32) {
        self.ttl = self.ttl.min(ttl);
        match (&self.security, security) {
            (Security::Bogus(_), _) => {}
            (_, b @ Security::Bogus(_)) => self.security = b,
            // The first reason for insecurity is kept.
            (Security::Insecure | Security::Unsupported(_), _) => {}
            (_, s) => self.security = s,
        }
    }

    fn bogus(&self) -> bool {
        matches!(self.security, Security::Bogus(_))
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Whether `request` is answered with validation.
    fn validating(&self, request: &Request) -> bool {
        self.config.dnssec.validate && !request.checking_disabled
    }

    /// A resolution as the client gets it: validated (unless CD=1 or
    /// validation is off), with the RRSIGs when it set DO, without DNSSEC
    /// records it did not ask for otherwise.
    pub(super) async fn validated(&self, request: &Request, mut res: Resolution) -> Resolution {
        if self.validating(request) && res.failure.is_none() {
            let key = self.status_key(request);
            let cached = match (res.from_cache, self.cached_status(&key, res.stale)) {
                (true, Some(s)) if !request.full_trace => Some(s),
                _ => None,
            };
            let security = match cached {
                Some(s) => s,
                None => {
                    let mut budget = Budget::new(self.config.dnssec.max_verifications);
                    budget.steps = request.full_trace.then(Vec::new);
                    let mut v = self.check(request, &res, &mut budget).await;
                    // Bogus: other servers of the zones may serve good
                    // data; set aside those that answered and try again
                    // (Unbound's restarts with blacklisted servers).
                    let mut restarts = 0;
                    while v.bogus()
                        && restarts < self.config.dnssec.max_restarts
                        && budget.verifications_left > 0
                        && !request.full_trace
                        && self.set_aside_for(request, &res)
                    {
                        restarts += 1;
                        let again = self.resolve_after_miss_inner(request).await;
                        if again.failure.is_some() {
                            break;
                        }
                        let w = self.check(request, &again, &mut budget).await;
                        if !w.bogus() {
                            (res, v) = (again, w);
                            break;
                        }
                        // Still bogus: the first failure is the one reported.
                    }
                    self.dnssec_work.add(&budget);
                    v.steps = budget.steps.take().unwrap_or_default();
                    res.trace.extend(
                        v.steps
                            .drain(..)
                            .map(|s| TraceEvent::Note(format!("dnssec: {s}"))),
                    );
                    if let Security::Bogus(b) = &v.security {
                        tracing::debug!(qname = %request.name, qtype = %request.qtype, reason = %b, "validation: bogus");
                    }
                    let ttl = match v.security {
                        Security::Bogus(_) => {
                            u32::try_from(self.config.dnssec.bogus_ttl.as_secs()).unwrap_or(60)
                        }
                        _ => v.ttl,
                    };
                    self.cache.insert(
                        key,
                        Cached::Status(v.security.clone()),
                        ttl.max(1),
                        Rank::AnswerAuth,
                        self.clock.now(),
                    );
                    if v.security == Security::Secure {
                        self.mark_dnames_secure(&res);
                    }
                    v.security
                }
            };
            res = apply(res, security);
        }
        self.client_records(request, res)
    }

    /// The DNAMEs of a secure answer are secure themselves: later names
    /// below them may be answered from the cache by synthesis
    /// (`Resolver::dname_from_cache`), as Unbound does with secure DNAMEs.
    fn mark_dnames_secure(&self, res: &Resolution) {
        for r in &res.answers {
            if r.record_type() != RecordType::DNAME {
                continue;
            }
            self.cache.insert(
                Key::Status(r.name.clone(), RecordType::DNAME, DNSClass::IN),
                Cached::Status(Security::Secure),
                r.ttl.max(1),
                Rank::AnswerAuth,
                self.clock.now(),
            );
        }
    }

    /// `validated` for the hit path: only with a status already cached
    /// (None sends the question down the full path, which validates).
    pub(super) fn validated_cached(
        &self,
        request: &Request,
        res: Resolution,
    ) -> Option<Resolution> {
        if !self.validating(request) || res.failure.is_some() {
            return Some(self.client_records(request, res));
        }
        self.cached_status(&self.status_key(request), res.stale)
            .map(|s| self.client_records(request, apply(res, s)))
    }

    /// The cached status of a question; for data served stale, the status
    /// it had (expired with it: serve-stale keeps what was validated).
    fn cached_status(&self, key: &Key, stale: bool) -> Option<Security> {
        match self.cache.lookup(key, self.clock.now(), stale) {
            Some(crate::cache::Hit {
                value: Cached::Status(s),
                ..
            }) => Some(s),
            _ => None,
        }
    }

    /// A negative answer made from validated NSEC/NSEC3 ranges already in
    /// the cache (RFC 8198), for a question the cache has no entry for.
    pub(super) fn synthesized(&self, request: &Request) -> Option<Resolution> {
        let cfg = &self.config.dnssec;
        if !cfg.aggressive_nsec
            || !self.validating(request)
            || request.full_trace
            || self.aggressive.is_empty()
            || self.anchors.negative(&request.name)
        {
            return None;
        }
        let mut budget = Budget::new(cfg.max_verifications);
        let s = self.aggressive.synthesize(
            &request.name,
            request.qtype,
            self.clock.now(),
            cfg.max_nsec3_iterations,
            &mut budget,
        )?;
        let rcode = if s.nx {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        let res = Resolution {
            rcode,
            answers: Vec::new(),
            authorities: s.records,
            additionals: Vec::new(),
            failure: None,
            from_cache: true,
            stale: false,
            refresh: false,
            trace: Vec::new(),
            causes: Vec::new(),
            security: Security::Secure,
            ecs_scope: 0,
        };
        Some(self.client_records(request, res))
    }

    fn status_key(&self, request: &Request) -> Key {
        Key::Status(request.name.clone(), request.qtype, request.qclass)
    }

    /// DO=1: each RRset comes with its RRSIGs. DO=0: no DNSSEC records but
    /// those of the type asked (RFC 4035 §3.2.1).
    fn client_records(&self, request: &Request, mut res: Resolution) -> Resolution {
        if request.dnssec_ok {
            let stale = res.stale;
            res.answers = self.with_sigs(res.answers, stale);
            res.authorities = self.with_sigs(res.authorities, stale);
            res.additionals = self.with_sigs(res.additionals, stale);
            self.add_wildcard_proofs(&mut res);
            self.add_alias_proofs(&mut res);
        } else {
            let q = request.qtype;
            let keep = |r: &Record| {
                let t = r.record_type();
                t == q || !matches!(t, RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3)
            };
            res.answers.retain(keep);
            let unasked = |r: &Record| {
                !matches!(
                    r.record_type(),
                    RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3
                )
            };
            res.authorities.retain(unasked);
            res.additionals.retain(unasked);
        }
        res
    }

    /// A wildcard-expanded RRset (an RRSIG's labels below its owner's)
    /// goes to a DO=1 client with the authority section that proves no
    /// closer name exists (RFC 4035 §3.1.3.3), even in a minimal reply.
    fn add_wildcard_proofs(&self, res: &mut Resolution) {
        if res
            .authorities
            .iter()
            .any(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3))
        {
            return;
        }
        let mut add: Vec<Record> = Vec::new();
        for r in &res.answers {
            let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data else {
                continue;
            };
            let owner_labels = r.name.num_labels();
            if sig.input().num_labels >= owner_labels {
                continue;
            }
            for p in self.answer_proof(&r.name, sig.input().type_covered) {
                if !add.contains(&p) && !res.authorities.contains(&p) {
                    add.push(p);
                }
            }
        }
        res.authorities.extend(add);
    }

    /// The NSEC and NSEC3 records (with their RRSIGs) that came with each
    /// CNAME of the answer's chain go to a DO=1 client too, as Unbound
    /// carries them from each step of a chain into the final reply: they
    /// are how a validating client proves what the chain passed through
    /// (a wildcard, an insecure delegation).
    fn add_alias_proofs(&self, res: &mut Resolution) {
        let mut add: Vec<Record> = Vec::new();
        for r in &res.answers {
            if r.record_type() != RecordType::CNAME {
                continue;
            }
            for p in self.answer_proof(&r.name, RecordType::CNAME) {
                let denial = match covered(&p) {
                    Some(t) => matches!(t, RecordType::NSEC | RecordType::NSEC3),
                    None => matches!(p.record_type(), RecordType::NSEC | RecordType::NSEC3),
                };
                if denial && !add.contains(&p) && !res.authorities.contains(&p) {
                    add.push(p);
                }
            }
        }
        if !add.is_empty() {
            add.append(&mut res.authorities);
            res.authorities = add;
        }
    }

    /// Records with the cached RRSIGs of each of their RRsets added after
    /// it (RRsets that already carry theirs are left as they are).
    /// `stale`: the records are served past their TTL, and so are their
    /// signatures.
    fn with_sigs(&self, records: Vec<Record>, stale: bool) -> Vec<Record> {
        if records.is_empty() || !self.config.dnssec.validate {
            return records;
        }
        let mut out = Vec::with_capacity(records.len() * 2);
        let has_sig = |name: &Name, t: RecordType| {
            records
                .iter()
                .any(|r| covered(r) == Some(t) && r.name == *name)
        };
        let mut done: Vec<(Name, RecordType)> = Vec::new();
        for rrset in group_rrsets(&records) {
            let Some(first) = rrset.first() else { continue };
            let (name, t) = (first.name.clone(), first.record_type());
            let add = !has_sig(&name, t) && !done.contains(&(name.clone(), t));
            // An RRSIG lives as long as the RRset it covers (RFC 4034 §3).
            let ttl = rrset.iter().map(|r| r.ttl).min().unwrap_or(0);
            out.extend(rrset);
            if add {
                out.extend(self.sigs_of_in(&name, t, stale).into_iter().map(|mut sig| {
                    sig.ttl = sig.ttl.min(ttl);
                    sig
                }));
                done.push((name, t));
            }
        }
        out.extend(
            records
                .into_iter()
                .filter(|r| r.record_type() == RecordType::RRSIG),
        );
        out
    }

    /// The cached RRSIGs covering (name, type).
    fn sigs_of(&self, name: &Name, t: RecordType) -> Vec<Record> {
        self.sigs_of_in(name, t, false)
    }

    /// `sigs_of`, reading expired ones too when `stale`.
    fn sigs_of_in(&self, name: &Name, t: RecordType, stale: bool) -> Vec<Record> {
        let key = Key::Sigs(name.clone(), t, DNSClass::IN);
        match self.cache.lookup(&key, self.clock.now(), stale) {
            Some(crate::cache::Hit {
                value: Cached::RRset(sigs),
                ..
            }) => sigs,
            _ => Vec::new(),
        }
    }

    /// Validates every part of a resolution.
    /// `budget` is the client query's: restarts after bogus data share
    /// it, so the KeyTrap limits hold for the whole query.
    async fn check(&self, request: &Request, res: &Resolution, budget: &mut Budget) -> Verdict {
        let mut v = Verdict::secure();
        let now = self.unix_now();
        // The answer section, RRset by RRset (each alias may be signed by
        // another zone); for a referral from the cache (RD=0), its NS set.
        let referral = is_referral(res);
        let checked: Vec<Record> = if referral {
            res.authorities
                .iter()
                .filter(|r| r.record_type() == RecordType::NS)
                .cloned()
                .collect()
        } else {
            res.answers.clone()
        };
        for rrset in group_rrsets(&checked) {
            self.check_rrset(&rrset, &res.answers, budget, now, &mut v)
                .await;
            if v.bogus() {
                return v;
            }
        }
        // A negative answer (at the end of any chain): its proof.
        let negative = res.rcode == ResponseCode::NXDomain
            || (res.rcode == ResponseCode::NoError && !referral && !ends_in(&res.answers, request));
        if negative {
            let qname = chain_end(&res.answers, &request.name);
            let s = self.check_denial(&qname, request.qtype, res, budget).await;
            let ttl = res.authorities.iter().map(|r| r.ttl).min().unwrap_or(0);
            v.add(s, ttl);
        }
        if v.ttl == u32::MAX {
            v.ttl = INSECURE_TTL;
        }
        if res.rcode == ResponseCode::YXDomain && v.security == Security::Secure {
            // The DNAME verified, but the name it would make is too long:
            // nothing authenticated is answered (as Unbound, no AD).
            v.security = Security::Insecure;
        }
        v
    }

    /// Validates one RRset of the answer (`answers`, where its RRSIGs
    /// may be) with the keys of the zone that signed it.
    async fn check_rrset(
        &self,
        rrset: &[Record],
        answers: &[Record],
        budget: &mut Budget,
        now: u32,
        v: &mut Verdict,
    ) {
        let Some(first) = rrset.first() else { return };
        let (name, t) = (first.name.clone(), first.record_type());
        if t == RecordType::CNAME && synthesised_by_dname(answers, &name) {
            // A CNAME made from a DNAME carries no signature; the DNAME it
            // came from is checked (RFC 6672 §5.3.1).
            return;
        }
        let sigs = sigs_in(answers, &name, t)
            .or_else(|| Some(self.sigs_of(&name, t)))
            .unwrap_or_default();
        let zone = match signer(&sigs) {
            Some(z) => z,
            None => self.zone_of_unsigned(&name, t),
        };
        let (keys, kttl) = self.zone_keys(&zone, budget, 0).await;
        match keys {
            ZoneKeys::Insecure(why) => {
                budget.step(|| format!("{name} {t}: insecure ({why})"));
                v.add(Security::Insecure, kttl)
            }
            ZoneKeys::Unsupported(b) => {
                budget.step(|| format!("{name} {t}: insecure ({b})"));
                v.add(Security::Unsupported(b), kttl)
            }
            ZoneKeys::Bogus(b) => v.add(Security::Bogus(b), 0),
            ZoneKeys::Secure(keys) => {
                let signed = Signed {
                    rrset,
                    sigs: &sigs,
                    zone: &zone,
                    keys: &keys,
                    keys_ttl: kttl,
                };
                self.check_signed(signed, budget, now, v).await
            }
        }
    }

    /// Verifies an RRset's RRSIGs with its zone's keys; a wildcard
    /// expansion also needs its proof that no closer name exists.
    async fn check_signed(&self, s: Signed<'_>, budget: &mut Budget, now: u32, v: &mut Verdict) {
        let Some(first) = s.rrset.first() else { return };
        let (name, t, zone) = (&first.name, first.record_type(), s.zone);
        let opts = self.verify_options();
        match verify::verify_rrset(s.rrset, s.sigs, s.keys, zone, now, &opts, budget) {
            Ok(ok) if t == RecordType::DNAME && ok.wildcard.is_some() => {
                // A DNAME is never the product of a wildcard (RFC 6672
                // §3.3; RFC 4592 §4.4).
                v.add(
                    Security::Bogus(Bogus::new(
                        BogusKind::Bogus,
                        format!("DNAME {name} is signed as a wildcard expansion"),
                    )),
                    0,
                );
            }
            Ok(ok) => {
                budget.step(|| {
                    format!(
                        "RRSIG over {name} {t} by {zone} (key {}, algorithm {}) verifies",
                        ok.key_tag, ok.algorithm
                    )
                });
                v.add(Security::Secure, ok.ttl.min(s.keys_ttl));
                if let Some(wild) = ok.wildcard {
                    let proof = self.answer_proof(name, t);
                    let w = self
                        .check_wildcard(name, &wild, zone, s.keys, &proof, budget)
                        .await;
                    v.add(w, u32::MAX);
                }
            }
            Err(b) => v.add(Security::Bogus(b), 0),
        }
    }
}

/// An RRset with its RRSIGs and the keys of the zone that signed it.
struct Signed<'a> {
    rrset: &'a [Record],
    sigs: &'a [Record],
    zone: &'a Name,
    keys: &'a [DNSKEY],
    /// How long the keys are good for.
    keys_ttl: u32,
}

/// Whether a resolution is a referral from the cache (RD=0): no answer,
/// no SOA or denial records, an NS set.
fn is_referral(res: &Resolution) -> bool {
    res.answers.is_empty()
        && res.rcode == ResponseCode::NoError
        && !res.authorities.iter().any(|r| {
            matches!(
                r.record_type(),
                RecordType::SOA | RecordType::NSEC | RecordType::NSEC3
            )
        })
        && res
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NS)
}

/// Applies a status to a resolution: AD material, or SERVFAIL when bogus.
fn apply(res: Resolution, security: Security) -> Resolution {
    match security {
        Security::Bogus(b) => Resolution {
            security: Security::Bogus(b.clone()),
            from_cache: res.from_cache,
            ..Resolution::failed(Failure::Dnssec(b), res.trace)
        },
        s => Resolution { security: s, ..res },
    }
}
