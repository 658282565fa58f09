//! Denials and wildcard answers (RFC 4035 §5.4, RFC 5155 §8): the SOA and
//! NSEC/NSEC3 records of a negative answer verified with the zone's keys
//! and judged by the proofs of `crate::dnssec::nsec` and `nsec3`; secure
//! denials feed the aggressive index (RFC 8198).

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, NSEC, NSEC3};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{nsec3_security, sig_labels, signer, sigs_in};
use crate::cache::{Cached, Key};
use crate::clock::Clock;
use crate::dnssec::verify;
use crate::dnssec::{nsec, nsec3, Bogus, BogusKind, Budget, Security, ZoneKeys};
use crate::engine::store::group_rrsets;
use crate::engine::{Resolution, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Checks a denial: the SOA and NSEC/NSEC3 records of the authority
    /// section, signed by the zone, proving NXDOMAIN or NODATA.
    pub(super) async fn check_denial(
        &self,
        qname: &Name,
        qtype: RecordType,
        res: &Resolution,
        budget: &mut Budget,
    ) -> Security {
        let auth = &res.authorities;
        let sigs_of = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .filter(|r| r.record_type() == RecordType::RRSIG)
                .cloned()
                .collect()
        };
        let signed_zone = auth
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.clone())
            .or_else(|| signer(&sigs_of(auth)));
        // The denial records that came with the chain's CNAMEs.
        let proofs: Vec<Record> = res
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CNAME)
            .flat_map(|r| self.answer_proof(&r.name, RecordType::CNAME))
            .collect();
        // A validated NSEC or NSEC3 already seen may prove an insecure
        // delegation between the zone that signed (the denial, or else
        // the chain's proofs) and the name, as when a parent co-hosting
        // its child answers for it: nothing below that cut can be proven.
        let above = signer(&sigs_of(auth)).or_else(|| signer(&sigs_of(&proofs)));
        // A DS set lives above its own cut: only cuts above count.
        let below = if qtype == RecordType::DS && !qname.is_root() {
            qname.base_name()
        } else {
            qname.clone()
        };
        if let Some(above) = above {
            if let Some(why) = self
                .insecure_cut_between(&above, &below, &proofs, budget)
                .await
            {
                budget.step(|| format!("{qname} {qtype}: insecure: {why}"));
                return Security::Insecure;
            }
        }
        let zone = signed_zone.unwrap_or_else(|| self.zone_of_unsigned(qname, qtype));
        let (keys, _) = self.zone_keys(&zone, budget, 0).await;
        let keys = match keys {
            ZoneKeys::Insecure(_) => return Security::Insecure,
            ZoneKeys::Unsupported(b) => return Security::Unsupported(b),
            ZoneKeys::Bogus(b) => return Security::Bogus(b),
            ZoneKeys::Secure(k) => k,
        };
        let (nsecs, nsec3s) = match self.verified_proof(auth, &zone, &keys, budget) {
            Ok(p) => p,
            Err(b) => return Security::Bogus(b),
        };
        let nx = res.rcode == ResponseCode::NXDomain;
        let s = self.judge_denial(qname, qtype, nx, &zone, (&nsecs, &nsec3s), budget);
        budget.step(|| {
            let what = if nx { "NXDOMAIN" } else { "NODATA" };
            let by = if nsecs.is_empty() { "NSEC3" } else { "NSEC" };
            denial_text(&s, what, by, qname, qtype, &zone)
        });
        if s == Security::Secure {
            self.remember_denial(&zone, auth);
        }
        s
    }

    /// The NSEC and NSEC3 records of `records` whose RRSIGs verify with
    /// the zone's keys (an unsigned or failing one makes the whole bogus).
    #[allow(clippy::type_complexity)]
    pub(super) fn verified_proof(
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
            // An NSEC expanded from a wildcard speaks for the wildcard's
            // owner, not the name it was expanded to (CVE-2017-15105).
            let labels = sig_labels(&sigs);
            for r in &rrset {
                match &r.data {
                    RData::DNSSEC(DNSSECRData::NSEC(n)) => {
                        nsecs.push((nsec::signed_owner(&r.name, labels)?, n.clone()))
                    }
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
    pub(super) fn judge_denial(
        &self,
        qname: &Name,
        qtype: RecordType,
        nx: bool,
        zone: &Name,
        (nsecs, nsec3s): Verified<'_>,
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
    pub(super) async fn check_wildcard(
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
    pub(super) fn answer_proof(&self, name: &Name, t: RecordType) -> Vec<Record> {
        match self.cache.get(
            &Key::Proof(name.to_lowercase(), t, DNSClass::IN),
            self.clock.now(),
        ) {
            Some(Cached::RRset(rs)) => rs,
            _ => Vec::new(),
        }
    }

    /// Keeps the validated NSEC/NSEC3 records of a secure denial from
    /// `zone` for aggressive use (with the SOA and the signatures).
    pub(super) fn remember_denial(&self, zone: &Name, records: &[Record]) {
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
}

/// The verified NSEC records (by the owner they speak for) and NSEC3
/// records of a denial.
type Verified<'a> = (&'a [(Name, NSEC)], &'a [(Name, NSEC3)]);

/// The trace line for a checked denial (`what`: NXDOMAIN or NODATA,
/// `by`: the kind of records that prove it).
fn denial_text(
    s: &Security,
    what: &str,
    by: &str,
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
) -> String {
    match s {
        Security::Secure => {
            format!("{what} for {qname} {qtype} proven by the {by} records of {zone}")
        }
        Security::Insecure => {
            format!("{what} for {qname} {qtype}: insecure (opt-out or NSEC3 iterations)")
        }
        Security::Unsupported(b) => format!("{what} for {qname} {qtype}: insecure ({b})"),
        Security::Bogus(b) => format!("{what} for {qname} {qtype}: bogus: {b}"),
        Security::Unchecked => format!("{what} for {qname} {qtype}: not checked"),
    }
}
