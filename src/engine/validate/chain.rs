//! The chain of trust (RFC 4035 §5): a zone's keys from the closest trust
//! anchor down, each step a DS set signed by the parent and a DNSKEY set
//! that DS vouches for, or the parent's proof that there is no DS (an
//! insecure delegation). DS and DNSKEY sets are asked of the resolver
//! itself (CD=1, so they are not validated twice), through the cache and
//! in-flight merging; each zone's result is cached (`Key::ZoneKeys`).

use std::future::Future;
use std::pin::Pin;

use hickory_proto::dnssec::rdata::{DNSSECRData, DS, NSEC};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{is_proper_ancestor, nsec3_security, sig_labels, signer, sigs_in, INSECURE_TTL};
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::dnssec::verify::{self, KeyCheck};
use crate::dnssec::{nsec, nsec3, Bogus, BogusKind, Budget, Security, ZoneKeys};
use crate::engine::{Request, Resolution, Resolver};
use crate::upstream::Transport;

/// Zones walked up from one zone to its anchor; a real tree is far
/// shallower, a hostile signer name cannot make this loop.
const MAX_CHAIN: u32 = 24;

type BoxKeys<'a> = Pin<Box<dyn Future<Output = (ZoneKeys, u32)> + Send + 'a>>;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The zone an unsigned RRset came from: the closest cut the cache
    /// knows at or above its name (above it, for a DS set).
    pub(super) fn zone_of_unsigned(&self, name: &Name, t: RecordType) -> Name {
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
    pub(super) fn zone_keys<'a>(
        &'a self,
        zone: &'a Name,
        budget: &'a mut Budget,
        depth: u32,
    ) -> BoxKeys<'a> {
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
            return self.anchor_keys(zone, budget, now, &opts).await;
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
        self.keys_from_ds(zone, &ds_res.answers, ds_records, budget, depth, now)
            .await
    }

    /// The keys of a trust anchor's own zone: its DNSKEY set checked
    /// against the anchor (or, for an RFC 5011 trust point, by it).
    async fn anchor_keys(
        &self,
        zone: &Name,
        budget: &mut Budget,
        now: u32,
        opts: &verify::VerifyOptions,
    ) -> (ZoneKeys, u32) {
        let (dnskeys, sigs, ttl) = self.fetch_rrset(zone, RecordType::DNSKEY).await;
        if dnskeys.is_empty() {
            return bogus(
                BogusKind::DnskeyMissing,
                format!("no DNSKEY for the trust anchor {zone}"),
            );
        }
        budget.step(|| format!("{zone} is a trust anchor: checking its DNSKEY set"));
        // RFC 5011 trust points judge their own DNSKEY sets (engine/autotrust.rs).
        let check = match self.autotrust_keys(zone, &dnskeys, &sigs, opts, budget) {
            Some(check) => check,
            None => self
                .anchors
                .verify_keys(zone, &dnskeys, &sigs, now, opts, budget),
        };
        key_check(check, ttl)
    }

    /// The keys of a zone with a DS set at its parent (`ds_answers` the
    /// parent's reply, `ds_records` its DS records): the DS set verified
    /// with the parent's keys, then the zone's DNSKEY set matched to it.
    async fn keys_from_ds(
        &self,
        zone: &Name,
        ds_answers: &[Record],
        ds_records: Vec<Record>,
        budget: &mut Budget,
        depth: u32,
        now: u32,
    ) -> (ZoneKeys, u32) {
        let opts = self.verify_options();
        let ds_sigs = sigs_in(ds_answers, zone, RecordType::DS).unwrap_or_default();
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

    /// An insecure delegation strictly below `zone` and at or above
    /// `name`, proven by a cached NSEC (see `cached_no_ds`): why, or None.
    /// Looks only in the cache.
    /// `proofs` are the denial records that came with the chain leading
    /// to `name` (NSEC3 ones count once they verify with `zone`'s keys).
    pub(super) async fn insecure_cut_between(
        &self,
        zone: &Name,
        name: &Name,
        proofs: &[Record],
        budget: &mut Budget,
    ) -> Option<String> {
        if !is_proper_ancestor(zone, name) {
            return None;
        }
        let mut cur = name.clone();
        while is_proper_ancestor(zone, &cur) {
            if let Some((ZoneKeys::Insecure(why), _)) = self.cached_no_ds(&cur, budget, 1).await {
                return Some(why);
            }
            cur = cur.base_name();
        }
        if !proofs.iter().any(|r| r.record_type() == RecordType::NSEC3) {
            return None;
        }
        let ZoneKeys::Secure(keys) = self.zone_keys(zone, budget, 1).await.0 else {
            return None;
        };
        let (_, nsec3s) = self.verified_proof(proofs, zone, &keys, budget).ok()?;
        let max = self.config.dnssec.max_nsec3_iterations;
        let mut cur = name.clone();
        while is_proper_ancestor(zone, &cur) {
            if nsec3::matches_unsigned_cut(&cur, zone, &nsec3s, max, budget) == Ok(true) {
                return Some(format!("{zone} proves {cur} is a delegation without DS"));
            }
            cur = cur.base_name();
        }
        None
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
        // An NSEC expanded from a wildcard proves nothing about this name
        // (CVE-2017-15105).
        let labels = sig_labels(&sigs);
        let nsecs: Vec<(Name, NSEC)> = nsec
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(n)) => {
                    Some((nsec::signed_owner(&r.name, labels).ok()?, n.clone()))
                }
                _ => None,
            })
            .collect();
        match nsec::prove_no_ds(zone, &parent, &nsecs) {
            Ok(nsec::NoDs::InsecureDelegation) => {
                // Validated now: it may answer a DS question for the
                // delegation later (RFC 8198), once the parent's SOA is known.
                if self.config.dnssec.aggressive_nsec {
                    for r in &nsec {
                        self.aggressive.insert_nsec_without_soa(
                            &parent,
                            r.clone(),
                            sigs.clone(),
                            ok.ttl,
                            self.clock.now(),
                        );
                    }
                }
                Some((
                    ZoneKeys::Insecure(format!("{parent} proves there is no DS for {zone}")),
                    ok.ttl.min(pttl),
                ))
            }
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
    pub(super) async fn fetch(&self, name: &Name, qtype: RecordType) -> Resolution {
        let request = Request {
            name: name.clone(),
            qtype,
            qclass: DNSClass::IN,
            recursion_desired: true,
            checking_disabled: true,
            dnssec_ok: true,
            full_trace: false,
            subnet: None,
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

    pub(super) fn unix_now(&self) -> u32 {
        // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5).
        (self.clock.unix_secs() & 0xffff_ffff) as u32
    }

    pub(super) fn verify_options(&self) -> verify::VerifyOptions {
        verify::VerifyOptions::from_config(&self.config.dnssec)
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
        ZoneKeys::Unsupported(b) => format!("insecure: {b}"),
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
        KeyCheck::Unsupported(b) => (ZoneKeys::Unsupported(b), ttl.max(1)),
        KeyCheck::Bogus(b) => (ZoneKeys::Bogus(b), 0),
    }
}
