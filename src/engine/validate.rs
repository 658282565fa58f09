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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, NSEC, NSEC3};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::dnssec::verify::{self, KeyCheck};
use crate::dnssec::{nsec, nsec3, Bogus, BogusKind, Budget, Security, ZoneKeys};
use crate::engine::store::group_rrsets;
use crate::engine::{Failure, Request, Resolution, Resolver, TraceEvent};
use crate::upstream::Transport;

/// Zones walked up from one zone to its anchor; a real tree is far
/// shallower, a hostile signer name cannot make this loop.
const MAX_CHAIN: u32 = 24;

/// How long an insecure result without a TTL of its own is kept.
const INSECURE_TTL: u32 = 300;

type BoxKeys<'a> = Pin<Box<dyn Future<Output = (ZoneKeys, u32)> + Send + 'a>>;

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
            (Security::Insecure, _) => {}
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
            let cached = match (res.from_cache, self.cache.get(&key, self.clock.now())) {
                (true, Some(Cached::Status(s))) if !request.full_trace => Some(s),
                _ => None,
            };
            let security = match cached {
                Some(s) => s,
                None => {
                    let mut v = self.check(request, &res).await;
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
                    v.security
                }
            };
            res = apply(res, security);
        }
        self.client_records(request, res)
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
        match self.cache.get(&self.status_key(request), self.clock.now()) {
            Some(Cached::Status(s)) => Some(self.client_records(request, apply(res, s))),
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
            security: Security::Secure,
        };
        Some(self.client_records(request, res))
    }

    /// Keeps the validated NSEC/NSEC3 records of a secure denial from
    /// `zone` for aggressive use (with the SOA and the signatures).
    fn remember_denial(&self, zone: &Name, records: &[Record]) {
        if !self.config.dnssec.aggressive_nsec {
            return;
        }
        let Some(soa) = records
            .iter()
            .find(|r| r.record_type() == RecordType::SOA && r.name == *zone)
        else {
            return;
        };
        let soa_sigs = sigs_in(records, zone, RecordType::SOA).unwrap_or_default();
        let now = self.clock.now();
        for r in records {
            let t = r.record_type();
            if !matches!(t, RecordType::NSEC | RecordType::NSEC3) {
                continue;
            }
            let mut sigs = sigs_in(records, &r.name, t).unwrap_or_default();
            sigs.extend(soa_sigs.iter().cloned());
            let ttl = r.ttl;
            if t == RecordType::NSEC {
                self.aggressive
                    .insert_nsec(zone, soa.clone(), r.clone(), sigs, ttl, now);
            } else {
                self.aggressive
                    .insert_nsec3(zone, soa.clone(), r.clone(), sigs, ttl, now);
            }
        }
    }

    fn status_key(&self, request: &Request) -> Key {
        Key::Status(request.name.to_lowercase(), request.qtype, request.qclass)
    }

    /// DO=1: each RRset comes with its RRSIGs. DO=0: no DNSSEC records but
    /// those of the type asked (RFC 4035 §3.2.1).
    fn client_records(&self, request: &Request, mut res: Resolution) -> Resolution {
        if request.dnssec_ok {
            res.answers = self.with_sigs(res.answers);
            res.authorities = self.with_sigs(res.authorities);
            res.additionals = self.with_sigs(res.additionals);
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

    /// Records with the cached RRSIGs of each of their RRsets added after
    /// it (RRsets that already carry theirs are left as they are).
    fn with_sigs(&self, records: Vec<Record>) -> Vec<Record> {
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
            out.extend(rrset);
            if add {
                out.extend(self.sigs_of(&name, t));
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
        match self.cache.get(
            &Key::Sigs(name.to_lowercase(), t, DNSClass::IN),
            self.clock.now(),
        ) {
            Some(Cached::RRset(sigs)) => sigs,
            _ => Vec::new(),
        }
    }

    /// Validates every part of a resolution.
    async fn check(&self, request: &Request, res: &Resolution) -> Verdict {
        let mut budget = Budget::new(self.config.dnssec.max_verifications);
        budget.steps = request.full_trace.then(Vec::new);
        let mut v = Verdict::secure();
        let now = self.unix_now();
        // The answer section, RRset by RRset (each alias may be signed by
        // another zone); for a referral from the cache (RD=0), its NS set.
        let referral = res.answers.is_empty()
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
                .any(|r| r.record_type() == RecordType::NS);
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
            let Some(first) = rrset.first() else { continue };
            let (name, t) = (first.name.clone(), first.record_type());
            if t == RecordType::CNAME && synthesised_by_dname(&res.answers, &name) {
                // A CNAME made from a DNAME carries no signature; the
                // DNAME it came from is checked (RFC 6672 §5.3.1).
                continue;
            }
            let sigs = sigs_in(&res.answers, &name, t)
                .or_else(|| Some(self.sigs_of(&name, t)))
                .unwrap_or_default();
            let zone = match signer(&sigs) {
                Some(z) => z,
                None => self.zone_of_unsigned(&name, t),
            };
            let (keys, kttl) = self.zone_keys(&zone, &mut budget, 0).await;
            match keys {
                ZoneKeys::Insecure(why) => {
                    budget.step(|| format!("{name} {t}: insecure ({why})"));
                    v.add(Security::Insecure, kttl)
                }
                ZoneKeys::Bogus(b) => v.add(Security::Bogus(b), 0),
                ZoneKeys::Secure(keys) => {
                    match verify::verify_rrset(
                        &rrset,
                        &sigs,
                        &keys,
                        &zone,
                        now,
                        &self.verify_options(),
                        &mut budget,
                    ) {
                        Ok(ok) if t == RecordType::DNAME && ok.wildcard.is_some() => {
                            // A DNAME is never the product of a wildcard
                            // (RFC 6672 §3.3; RFC 4592 §4.4).
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
                            v.add(Security::Secure, ok.ttl.min(kttl));
                            if let Some(wild) = ok.wildcard {
                                let proof = self.answer_proof(&name, t);
                                let s = self
                                    .check_wildcard(&name, &wild, &zone, &keys, &proof, &mut budget)
                                    .await;
                                v.add(s, u32::MAX);
                            }
                        }
                        Err(b) => v.add(Security::Bogus(b), 0),
                    }
                }
            }
            if v.bogus() {
                self.dnssec_work.add(&budget);
                v.steps = budget.steps.take().unwrap_or_default();
                return v;
            }
        }
        // A negative answer (at the end of any chain): its proof.
        let negative = res.rcode == ResponseCode::NXDomain
            || (res.rcode == ResponseCode::NoError && !referral && !ends_in(&res.answers, request));
        if negative {
            let qname = chain_end(&res.answers, &request.name);
            let s = self
                .check_denial(&qname, request.qtype, res, &mut budget)
                .await;
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
        self.dnssec_work.add(&budget);
        v.steps = budget.steps.take().unwrap_or_default();
        v
    }

    /// Checks a denial: the SOA and NSEC/NSEC3 records of the authority
    /// section, signed by the zone, proving NXDOMAIN or NODATA.
    async fn check_denial(
        &self,
        qname: &Name,
        qtype: RecordType,
        res: &Resolution,
        budget: &mut Budget,
    ) -> Security {
        let auth = &res.authorities;
        let zone = auth
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.clone())
            .or_else(|| {
                signer(
                    &auth
                        .iter()
                        .filter(|r| r.record_type() == RecordType::RRSIG)
                        .cloned()
                        .collect::<Vec<_>>(),
                )
            })
            .unwrap_or_else(|| self.zone_of_unsigned(qname, qtype));
        let (keys, _) = self.zone_keys(&zone, budget, 0).await;
        let keys = match keys {
            ZoneKeys::Insecure(_) => return Security::Insecure,
            ZoneKeys::Bogus(b) => return Security::Bogus(b),
            ZoneKeys::Secure(k) => k,
        };
        let (nsecs, nsec3s) = match self.verified_proof(auth, &zone, &keys, budget) {
            Ok(p) => p,
            Err(b) => return Security::Bogus(b),
        };
        let nx = res.rcode == ResponseCode::NXDomain;
        let s = self.judge_denial(qname, qtype, nx, &zone, &nsecs, &nsec3s, budget);
        budget.step(|| {
            let what = if nx { "NXDOMAIN" } else { "NODATA" };
            let by = if nsecs.is_empty() { "NSEC3" } else { "NSEC" };
            match &s {
                Security::Secure => {
                    format!("{what} for {qname} {qtype} proven by the {by} records of {zone}")
                }
                Security::Insecure => {
                    format!("{what} for {qname} {qtype}: insecure (opt-out or NSEC3 iterations)")
                }
                Security::Bogus(b) => format!("{what} for {qname} {qtype}: bogus: {b}"),
                Security::Unchecked => format!("{what} for {qname} {qtype}: not checked"),
            }
        });
        if s == Security::Secure {
            self.remember_denial(&zone, auth);
        }
        s
    }

    /// The NSEC and NSEC3 records of `records` whose RRSIGs verify with
    /// the zone's keys (an unsigned or failing one makes the whole bogus).
    #[allow(clippy::type_complexity)]
    fn verified_proof(
        &self,
        records: &[Record],
        zone: &Name,
        keys: &[DNSKEY],
        budget: &mut Budget,
    ) -> Result<(Vec<(Name, NSEC)>, Vec<(Name, NSEC3)>), Bogus> {
        let now = self.unix_now();
        let opts = self.verify_options();
        let mut nsecs = Vec::new();
        let mut nsec3s = Vec::new();
        for rrset in group_rrsets(records) {
            let Some(first) = rrset.first() else { continue };
            let (name, t) = (first.name.clone(), first.record_type());
            if !matches!(t, RecordType::NSEC | RecordType::NSEC3 | RecordType::SOA) {
                continue;
            }
            let sigs = sigs_in(records, &name, t).unwrap_or_default();
            verify::verify_rrset(&rrset, &sigs, keys, zone, now, &opts, budget)?;
            for r in &rrset {
                match &r.data {
                    RData::DNSSEC(DNSSECRData::NSEC(n)) => nsecs.push((r.name.clone(), n.clone())),
                    RData::DNSSEC(DNSSECRData::NSEC3(n)) => {
                        nsec3s.push((r.name.clone(), n.clone()))
                    }
                    _ => {}
                }
            }
        }
        Ok((nsecs, nsec3s))
    }

    /// Which denial the verified records prove, if the one needed.
    #[allow(clippy::too_many_arguments)]
    fn judge_denial(
        &self,
        qname: &Name,
        qtype: RecordType,
        nx: bool,
        zone: &Name,
        nsecs: &[(Name, NSEC)],
        nsec3s: &[(Name, NSEC3)],
        budget: &mut Budget,
    ) -> Security {
        if !nsecs.is_empty() {
            let r = if nx {
                nsec::prove_nxdomain(qname, zone, nsecs).map(|_| ())
            } else {
                nsec::prove_nodata(qname, qtype, zone, nsecs)
            };
            return match r {
                Ok(()) => Security::Secure,
                Err(b) => Security::Bogus(b),
            };
        }
        if !nsec3s.is_empty() {
            let max = self.config.dnssec.max_nsec3_iterations;
            let r = if nx {
                nsec3::prove_nxdomain(qname, zone, nsec3s, max, budget)
            } else {
                nsec3::prove_nodata(qname, qtype, zone, nsec3s, max, budget)
            };
            return nsec3_security(r);
        }
        Security::Bogus(Bogus::new(
            BogusKind::NsecMissing,
            format!("no NSEC or NSEC3 proves the denial of {qname} {qtype} in {zone}"),
        ))
    }

    /// A wildcard answer must come with a proof that no closer name
    /// exists (RFC 4035 §5.3.4, RFC 5155 §8.8).
    async fn check_wildcard(
        &self,
        qname: &Name,
        wildcard: &Name,
        zone: &Name,
        keys: &[DNSKEY],
        proof: &[Record],
        budget: &mut Budget,
    ) -> Security {
        let (nsecs, nsec3s) = match self.verified_proof(proof, zone, keys, budget) {
            Ok(p) => p,
            Err(b) => return Security::Bogus(b),
        };
        if !nsecs.is_empty() {
            return match nsec::prove_wildcard_answer(qname, wildcard, zone, &nsecs) {
                Ok(()) => Security::Secure,
                Err(b) => Security::Bogus(b),
            };
        }
        if !nsec3s.is_empty() {
            let max = self.config.dnssec.max_nsec3_iterations;
            return nsec3_security(nsec3::prove_wildcard_answer(
                qname, wildcard, zone, &nsec3s, max, budget,
            ));
        }
        Security::Bogus(Bogus::new(
            BogusKind::NsecMissing,
            format!("wildcard answer for {qname} from {wildcard} without a proof that {qname} does not exist"),
        ))
    }

    /// The denial records that came with an answer (its wildcard proof).
    fn answer_proof(&self, name: &Name, t: RecordType) -> Vec<Record> {
        match self.cache.get(
            &Key::Proof(name.to_lowercase(), t, DNSClass::IN),
            self.clock.now(),
        ) {
            Some(Cached::RRset(rs)) => rs,
            _ => Vec::new(),
        }
    }

    /// The zone an unsigned RRset came from: the closest cut the cache
    /// knows at or above its name (above it, for a DS set).
    fn zone_of_unsigned(&self, name: &Name, t: RecordType) -> Name {
        let now = self.clock.now();
        let mut cur = if t == RecordType::DS && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        loop {
            let ns = Key::RRset(cur.clone(), RecordType::NS, DNSClass::IN);
            let deleg = Key::Delegation(cur.clone(), DNSClass::IN);
            if self.cache.get(&ns, now).is_some() || self.cache.get(&deleg, now).is_some() {
                return cur;
            }
            if cur.is_root() {
                return cur;
            }
            cur = cur.base_name();
        }
    }

    /// A zone's keys, from the cache or by building its chain of trust:
    /// the anchor's DNSKEYs, then for each zone below a DS set signed by
    /// its parent and a DNSKEY set that DS vouches for. Returns the keys
    /// and how long the result holds.
    fn zone_keys<'a>(&'a self, zone: &'a Name, budget: &'a mut Budget, depth: u32) -> BoxKeys<'a> {
        Box::pin(async move {
            let key = Key::ZoneKeys(zone.to_lowercase());
            if let Some(Cached::ZoneKeys(k)) = self.cache.get(&key, self.clock.now()) {
                budget.step(|| format!("keys of {zone}: {} (cached)", describe(&k)));
                let ttl = self
                    .cache
                    .remaining(&key, self.clock.now())
                    .map_or(1, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1));
                return (k, ttl);
            }
            let (keys, ttl) = self.build_keys(zone, budget, depth).await;
            budget.step(|| format!("keys of {zone}: {}", describe(&keys)));
            let keep = match &keys {
                ZoneKeys::Bogus(_) => {
                    u32::try_from(self.config.dnssec.bogus_ttl.as_secs()).unwrap_or(60)
                }
                _ => ttl,
            };
            if !matches!(&keys, ZoneKeys::Bogus(b) if b.kind == BogusKind::BudgetExhausted) {
                self.cache.insert(
                    key,
                    Cached::ZoneKeys(keys.clone()),
                    keep.max(1),
                    Rank::AnswerAuth,
                    self.clock.now(),
                );
            }
            (keys, keep)
        })
    }

    async fn build_keys(&self, zone: &Name, budget: &mut Budget, depth: u32) -> (ZoneKeys, u32) {
        if depth > MAX_CHAIN {
            return bogus(
                BogusKind::Bogus,
                format!("chain of trust to {zone} too long"),
            );
        }
        if self.anchors.negative(zone) {
            return (
                ZoneKeys::Insecure(format!("{zone} is below a negative trust anchor")),
                INSECURE_TTL,
            );
        }
        let Some(anchor_zone) = self.anchors.closest_zone(zone) else {
            return (
                ZoneKeys::Insecure(format!("no trust anchor covers {zone}")),
                INSECURE_TTL,
            );
        };
        let now = self.unix_now();
        let opts = self.verify_options();
        if anchor_zone == *zone {
            let (dnskeys, sigs, ttl) = self.fetch_rrset(zone, RecordType::DNSKEY).await;
            if dnskeys.is_empty() {
                return bogus(
                    BogusKind::DnskeyMissing,
                    format!("no DNSKEY for the trust anchor {zone}"),
                );
            }
            budget.step(|| format!("{zone} is a trust anchor: checking its DNSKEY set"));
            // RFC 5011 trust points judge their own DNSKEY sets (engine/autotrust.rs).
            let check = match self.autotrust_keys(zone, &dnskeys, &sigs, &opts, budget) {
                Some(check) => check,
                None => self
                    .anchors
                    .verify_keys(zone, &dnskeys, &sigs, now, &opts, budget),
            };
            return key_check(check, ttl);
        }
        // An NSEC at the zone's name seen in a signed reply may already
        // prove the delegation insecure (RFC 4035 §5.2), as Unbound uses
        // the NSEC that comes with a CNAME or referral.
        if let Some(found) = self.cached_no_ds(zone, budget, depth).await {
            return found;
        }
        // The DS set, from the parent.
        let ds_res = self.fetch(zone, RecordType::DS).await;
        if let Some(f) = &ds_res.failure {
            return bogus(
                BogusKind::NetworkError,
                format!("the DS set of {zone} could not be fetched ({f})"),
            );
        }
        let ds_records: Vec<Record> = ds_res
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::DS && r.name == *zone)
            .cloned()
            .collect();
        if ds_records.is_empty() {
            return self.no_ds(zone, &ds_res, budget, depth).await;
        }
        let ds_sigs = sigs_in(&ds_res.answers, zone, RecordType::DS).unwrap_or_default();
        let parent = match signer(&ds_sigs) {
            Some(s) => s,
            None => self.zone_of_unsigned(zone, RecordType::DS),
        };
        if !is_proper_ancestor(&parent, zone) {
            return bogus(
                BogusKind::Bogus,
                format!("the DS set of {zone} is signed by {parent}, not by a parent zone"),
            );
        }
        let (pkeys, pttl) = self.zone_keys(&parent, budget, depth + 1).await;
        let pkeys = match pkeys {
            ZoneKeys::Secure(k) => k,
            other => return (other, pttl),
        };
        let ds_ttl = match verify::verify_rrset(
            &ds_records,
            &ds_sigs,
            &pkeys,
            &parent,
            now,
            &opts,
            budget,
        ) {
            Ok(v) => v.ttl,
            Err(b) => return (ZoneKeys::Bogus(b), 0),
        };
        let ds: Vec<DS> = ds_records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let (dnskeys, sigs, ttl) = self.fetch_rrset(zone, RecordType::DNSKEY).await;
        if dnskeys.is_empty() {
            return bogus(
                BogusKind::DnskeyMissing,
                format!("{zone} has a DS at its parent but no DNSKEY"),
            );
        }
        let check = verify::verify_dnskeys_with_ds(zone, &dnskeys, &sigs, &ds, now, &opts, budget);
        if let KeyCheck::Secure { matched, .. } = &check {
            for (tag, alg, digest) in matched {
                budget.step(|| {
                    format!(
                        "DS of {zone} (signed by {parent}) matches DNSKEY {tag} (algorithm {alg}, digest type {digest}), which signs the DNSKEY set"
                    )
                });
            }
        }
        key_check(check, ttl.min(ds_ttl).min(pttl))
    }

    /// An insecure delegation proven by a cached NSEC at `zone` (kept from
    /// the authority section of a signed reply), or None.
    async fn cached_no_ds(
        &self,
        zone: &Name,
        budget: &mut Budget,
        depth: u32,
    ) -> Option<(ZoneKeys, u32)> {
        let key = Key::RRset(zone.to_lowercase(), RecordType::NSEC, DNSClass::IN);
        let Some(Cached::RRset(nsec)) = self.cache.get(&key, self.clock.now()) else {
            return None;
        };
        let sigs = self.sigs_of(zone, RecordType::NSEC);
        let parent = signer(&sigs).filter(|p| is_proper_ancestor(p, zone))?;
        let (pkeys, pttl) = self.zone_keys(&parent, budget, depth + 1).await;
        let ZoneKeys::Secure(pkeys) = pkeys else {
            return None;
        };
        let now = self.unix_now();
        let ok = verify::verify_rrset(
            &nsec,
            &sigs,
            &pkeys,
            &parent,
            now,
            &self.verify_options(),
            budget,
        )
        .ok()?;
        let nsecs: Vec<(Name, NSEC)> = nsec
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(n)) => Some((r.name.clone(), n.clone())),
                _ => None,
            })
            .collect();
        match nsec::prove_no_ds(zone, &parent, &nsecs) {
            Ok(nsec::NoDs::InsecureDelegation) => Some((
                ZoneKeys::Insecure(format!("{parent} proves there is no DS for {zone}")),
                ok.ttl.min(pttl),
            )),
            _ => None,
        }
    }

    /// No DS for `zone` at its parent: insecure if the parent proves it
    /// (or is insecure itself), bogus otherwise.
    async fn no_ds(
        &self,
        zone: &Name,
        ds_res: &Resolution,
        budget: &mut Budget,
        depth: u32,
    ) -> (ZoneKeys, u32) {
        let auth = &ds_res.authorities;
        let parent = auth
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.clone())
            .filter(|p| is_proper_ancestor(p, zone))
            .unwrap_or_else(|| self.zone_of_unsigned(zone, RecordType::DS));
        if !is_proper_ancestor(&parent, zone) {
            return bogus(
                BogusKind::Bogus,
                format!("no parent zone above {zone} answers for its DS"),
            );
        }
        let (pkeys, pttl) = self.zone_keys(&parent, budget, depth + 1).await;
        let pkeys = match pkeys {
            ZoneKeys::Secure(k) => k,
            other => return (other, pttl),
        };
        let (nsecs, nsec3s) = match self.verified_proof(auth, &parent, &pkeys, budget) {
            Ok(p) => p,
            Err(b) => return (ZoneKeys::Bogus(b), 0),
        };
        let ttl = auth
            .iter()
            .map(|r| r.ttl)
            .min()
            .unwrap_or(INSECURE_TTL)
            .min(pttl);
        let why = format!("{parent} proves there is no DS for {zone}");
        if !nsecs.is_empty() {
            return match nsec::prove_no_ds(zone, &parent, &nsecs) {
                Ok(nsec::NoDs::InsecureDelegation) => (ZoneKeys::Insecure(why), ttl),
                // The signer named a zone its parent says is no zone.
                Ok(nsec::NoDs::NotACut) => bogus(
                    BogusKind::Bogus,
                    format!("{parent} proves {zone} is not a zone cut, yet data claims to be signed by it"),
                ),
                Err(b) => (ZoneKeys::Bogus(b), 0),
            };
        }
        if !nsec3s.is_empty() {
            let max = self.config.dnssec.max_nsec3_iterations;
            return match nsec3_security(nsec3::prove_no_ds(zone, &parent, &nsec3s, max, budget)) {
                Security::Bogus(b) => (ZoneKeys::Bogus(b), 0),
                _ => (ZoneKeys::Insecure(why), ttl),
            };
        }
        bogus(
            BogusKind::NsecMissing,
            format!("{parent} is signed but gives no proof that {zone} has no DS"),
        )
    }

    /// Asks the resolver itself, unvalidated (CD=1) and with DO=1.
    async fn fetch(&self, name: &Name, qtype: RecordType) -> Resolution {
        let request = Request {
            name: name.clone(),
            qtype,
            qclass: DNSClass::IN,
            recursion_desired: true,
            checking_disabled: true,
            dnssec_ok: true,
            full_trace: false,
        };
        let res = self.resolve_inner(&request).await;
        self.client_records(&request, res)
    }

    /// An RRset of `name` and its RRSIGs, fetched; with its TTL.
    async fn fetch_rrset(&self, name: &Name, t: RecordType) -> (Vec<Record>, Vec<Record>, u32) {
        let res = self.fetch(name, t).await;
        let set: Vec<Record> = res
            .answers
            .iter()
            .filter(|r| r.record_type() == t && r.name == *name)
            .cloned()
            .collect();
        let sigs = sigs_in(&res.answers, name, t).unwrap_or_default();
        let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(0);
        (set, sigs, ttl)
    }

    fn unix_now(&self) -> u32 {
        // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5).
        (self.clock.unix_secs() & 0xffff_ffff) as u32
    }

    fn verify_options(&self) -> verify::VerifyOptions {
        verify::VerifyOptions::from_config(&self.config.dnssec)
    }
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

/// A zone's keys in words, for trace steps.
fn describe(keys: &ZoneKeys) -> String {
    match keys {
        ZoneKeys::Secure(k) => {
            let tags: Vec<String> = k
                .iter()
                .filter_map(verify::key_tag)
                .map(|t| t.to_string())
                .collect();
            format!("secure, DNSKEY tags {}", tags.join(" "))
        }
        ZoneKeys::Insecure(why) => format!("insecure: {why}"),
        ZoneKeys::Bogus(b) => format!("bogus: {b}"),
    }
}

fn bogus(kind: BogusKind, text: String) -> (ZoneKeys, u32) {
    (ZoneKeys::Bogus(Bogus::new(kind, text)), 0)
}

fn key_check(check: KeyCheck, ttl: u32) -> (ZoneKeys, u32) {
    match check {
        KeyCheck::Secure {
            keys, ttl: kttl, ..
        } => (ZoneKeys::Secure(keys), ttl.min(kttl)),
        KeyCheck::Insecure(why) => (ZoneKeys::Insecure(why), ttl.max(1)),
        KeyCheck::Bogus(b) => (ZoneKeys::Bogus(b), 0),
    }
}

fn nsec3_security(r: Result<nsec3::Nsec3Result, Bogus>) -> Security {
    match r {
        Ok(nsec3::Nsec3Result::Secure) => Security::Secure,
        Ok(nsec3::Nsec3Result::Insecure(_)) => Security::Insecure,
        Err(b) => Security::Bogus(b),
    }
}

/// The type an RRSIG record covers.
fn covered(r: &Record) -> Option<RecordType> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().type_covered),
        _ => None,
    }
}

/// The RRSIGs in `records` covering (name, type); None when there are none.
fn sigs_in(records: &[Record], name: &Name, t: RecordType) -> Option<Vec<Record>> {
    let sigs: Vec<Record> = records
        .iter()
        .filter(|r| covered(r) == Some(t) && r.name == *name)
        .cloned()
        .collect();
    (!sigs.is_empty()).then_some(sigs)
}

/// The signer named by RRSIGs (the first one's).
fn signer(sigs: &[Record]) -> Option<Name> {
    sigs.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().signer_name.clone()),
        _ => None,
    })
}

fn is_proper_ancestor(parent: &Name, child: &Name) -> bool {
    parent.num_labels() < child.num_labels() && parent.zone_of(child)
}

/// Whether the CNAME at `name` in `answers` is exactly what a DNAME above
/// it synthesises (RFC 6672 §2.2: the owner's suffix replaced by the
/// DNAME's target); only such a CNAME may come unsigned.
fn synthesised_by_dname(answers: &[Record], name: &Name) -> bool {
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
        let Some(to) = dname_target(r) else {
            return false;
        };
        let keep = usize::from(name.num_labels().saturating_sub(r.name.num_labels()));
        Name::from_labels(name.iter().take(keep))
            .ok()
            .and_then(|prefix| prefix.append_domain(&to).ok())
            .is_some_and(|synth| synth == *target)
    })
}

/// A DNAME's target (hickory keeps DNAME rdata as opaque bytes: an
/// uncompressed name, RFC 6672 §2.1).
fn dname_target(r: &Record) -> Option<Name> {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    match &r.data {
        RData::Unknown { rdata, .. } => {
            let mut d = BinDecoder::new(&rdata.anything);
            Name::read(&mut d).ok()
        }
        _ => None,
    }
}

/// Where a chain of CNAMEs starting at `name` ends.
fn chain_end(answers: &[Record], name: &Name) -> Name {
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
fn ends_in(answers: &[Record], request: &Request) -> bool {
    let end = chain_end(answers, &request.name);
    answers.iter().any(|r| {
        r.name == end && (r.record_type() == request.qtype || request.qtype == RecordType::ANY)
    }) || (request.qtype == RecordType::CNAME && !answers.is_empty())
}
