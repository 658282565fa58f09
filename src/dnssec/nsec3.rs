//! NSEC3 denial of existence (RFC 5155 §8, RFC 9276): the pure proofs a
//! validator checks on hashed denial records whose RRSIGs verified.
//!
//! - Hashing (§5) through hickory's `Nsec3HashAlgorithm`, one unit of the
//!   query's budget per hash (CVE-2023-50868), cached per name in a call.
//! - Closest encloser proof (§8.3), NXDOMAIN (§8.4), NODATA (§8.5, §8.6,
//!   §8.7), wildcard answers (§8.8) and no-DS at a delegation (§8.9).
//! - The records of one proof must share one parameter set (algorithm,
//!   iterations, salt): a mix of chains, or colliding records hashed
//!   differently, is bogus (§8.2), as in Unbound.
//! - Iteration counts above the configured cap make the answer insecure,
//!   not bogus (RFC 9276 §3.2); so does any proof resting on an opt-out
//!   span (§6, §9.2), which may hide unsigned delegations, whatever the
//!   query type, and a closest encloser or matching record that is an
//!   unsigned delegation (the data lies below it, in an unsigned zone).
//!
//! Records with an unknown hash algorithm or unknown flags never reach
//! here: hickory refuses to decode them, which amounts to ignoring them
//! (§8.1).

use std::fmt;

use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::rr::{Name, RecordType};

use super::nsec::{
    ancestor, contradiction, label_count, nodata_side_ok, same_name, unproven, wildcard_at,
    wildcard_parent,
};
use super::{Bogus, BogusKind, Budget};

/// The outcome of an NSEC3 proof that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nsec3Result {
    /// The denial is proven.
    Secure,
    /// The records are consistent but cannot make the answer secure.
    Insecure(Nsec3Insecure),
}

/// Why an NSEC3 proof can only give an insecure answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nsec3Insecure {
    /// The zone hashes more often than we are willing to (RFC 9276 §3.2).
    Iterations { iterations: u16, max: u16 },
    /// The record covering `name` has opt-out set: an unsigned delegation
    /// may sit there (RFC 5155 §6, §8.6, §8.9).
    OptOut { name: Name },
    /// `name` is a delegation without DS on the path to the query name:
    /// what lies below it is unsigned.
    Delegation { name: Name },
}

impl fmt::Display for Nsec3Insecure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nsec3Insecure::Iterations { iterations, max } => {
                write!(f, "NSEC3 iterations {iterations} above the limit {max}")
            }
            Nsec3Insecure::OptOut { name } => write!(f, "{name} lies in an NSEC3 opt-out span"),
            Nsec3Insecure::Delegation { name } => {
                write!(f, "{name} is an unsigned delegation")
            }
        }
    }
}

/// A closest encloser proof (RFC 5155 §8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosestEncloser {
    /// The deepest ancestor of the query name an NSEC3 matches.
    pub closest_encloser: Name,
    /// One label below it toward the query name; an NSEC3 covers it.
    pub next_closer: Name,
    /// The covering record has opt-out set.
    pub opt_out: bool,
}

/// The closest encloser proof on its own, or why it can only be insecure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encloser {
    Proven(ClosestEncloser),
    Insecure(Nsec3Insecure),
}

/// RFC 5155 §8.3: an NSEC3 matching an ancestor of `qname` (the closest
/// encloser) and one covering the next closer name.
pub fn closest_encloser_proof(
    qname: &Name,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<Encloser, Bogus> {
    let mut chain = match Chain::build(qname, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(why) => return Ok(Encloser::Insecure(why)),
    };
    Ok(match chain.closest_encloser(qname)? {
        Found::Proven(proof) => Encloser::Proven(proof),
        Found::UnsignedCut(name) => Encloser::Insecure(Nsec3Insecure::Delegation { name }),
    })
}

/// RFC 5155 §8.4: a closest encloser proof for `qname` and a covering
/// NSEC3 for the wildcard at the closest encloser.
pub fn prove_nxdomain(
    qname: &Name,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<Nsec3Result, Bogus> {
    let mut chain = match Chain::build(qname, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(why) => return Ok(Nsec3Result::Insecure(why)),
    };
    let proof = match chain.closest_encloser(qname)? {
        Found::Proven(proof) => proof,
        Found::UnsignedCut(name) => {
            return Ok(Nsec3Result::Insecure(Nsec3Insecure::Delegation { name }))
        }
    };
    let wildcard = wildcard_at(&proof.closest_encloser)?;
    if chain.cover(&wildcard)?.is_none() {
        return Err(unproven(format!(
            "no NSEC3 denies the wildcard {wildcard} for {qname} in {zone}"
        )));
    }
    Ok(opt_out_or_secure(&proof))
}

/// RFC 5155 §8.5-8.7: an NSEC3 matching `qname` without `qtype` or CNAME
/// (which also covers empty non-terminals, they get NSEC3s of their own);
/// else a closest encloser proof with a matching wildcard NSEC3 lacking
/// `qtype`; else an opt-out span over the next closer name. Opt-out
/// makes either of the last two insecure for any `qtype` (§9.2, Unbound's
/// case 5: an unsigned delegation may hide there), and so does a match or
/// closest encloser that is a delegation without DS (but not for DS
/// itself, which the parent must deny).
pub fn prove_nodata(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<Nsec3Result, Bogus> {
    let mut chain = match Chain::build(qname, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(why) => return Ok(Nsec3Result::Insecure(why)),
    };
    if let Some(rec) = chain.at(qname)? {
        if qtype != RecordType::DS && !shows(rec, qtype) && unsigned_cut(rec) {
            return Ok(Nsec3Result::Insecure(Nsec3Insecure::Delegation {
                name: qname.clone(),
            }));
        }
        lacks_type(qname, qtype, rec)?;
        return Ok(Nsec3Result::Secure);
    }
    let proof = match chain.closest_encloser(qname)? {
        Found::Proven(proof) => proof,
        Found::UnsignedCut(name) if qtype != RecordType::DS => {
            return Ok(Nsec3Result::Insecure(Nsec3Insecure::Delegation { name }))
        }
        Found::UnsignedCut(name) => {
            return Err(unproven(format!(
                "the NSEC3 for {name} is a delegation above {qname} and cannot deny its DS"
            )))
        }
    };
    let wildcard = wildcard_at(&proof.closest_encloser)?;
    if let Some(rec) = chain.at(&wildcard)? {
        lacks_type(&wildcard, qtype, rec)?;
        return Ok(opt_out_or_secure(&proof));
    }
    if proof.opt_out {
        return Ok(opt_out_or_secure(&proof));
    }
    Err(unproven(format!(
        "no NSEC3 proves {qname} {qtype} is empty in {zone}: no match, no wildcard, and {} is not in an opt-out span",
        proof.next_closer
    )))
}

/// RFC 5155 §8.8: an answer expanded from `wildcard` (`*.ce`) needs an
/// NSEC3 covering the next closer name below `ce` toward `qname`.
pub fn prove_wildcard_answer(
    qname: &Name,
    wildcard: &Name,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<Nsec3Result, Bogus> {
    let ce = wildcard_parent(qname, wildcard, zone)?;
    let mut chain = match Chain::build(qname, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(why) => return Ok(Nsec3Result::Insecure(why)),
    };
    let next_closer = ancestor(qname, label_count(&ce) + 1)?;
    let Some(rec) = chain.cover(&next_closer)? else {
        return Err(unproven(format!(
            "no NSEC3 proves {qname} has no closer match than {wildcard} in {zone}"
        )));
    };
    Ok(opt_out_or_secure(&ClosestEncloser {
        closest_encloser: ce,
        next_closer,
        opt_out: rec.opt_out(),
    }))
}

/// RFC 5155 §8.9: an NSEC3 matching `name` without DS (and without SOA:
/// that would be the child apex's), or an opt-out span covering the next
/// closer name, which makes the delegation insecure. `Secure` means the
/// absence of DS is proven.
pub fn prove_no_ds(
    name: &Name,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<Nsec3Result, Bogus> {
    let mut chain = match Chain::build(name, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(why) => return Ok(Nsec3Result::Insecure(why)),
    };
    if let Some(rec) = chain.at(name)? {
        lacks_type(name, RecordType::DS, rec)?;
        return Ok(Nsec3Result::Secure);
    }
    let proof = match chain.closest_encloser(name)? {
        Found::Proven(proof) => proof,
        Found::UnsignedCut(cut) => {
            return Err(unproven(format!(
                "the NSEC3 for {cut} is a delegation above {name} and says nothing of its DS"
            )))
        }
    };
    if proof.opt_out {
        return Ok(opt_out_or_secure(&proof));
    }
    Err(unproven(format!(
        "{zone} proves {name} does not exist, so no insecure delegation"
    )))
}

/// Whether the NSEC3s show `name` is in or at an insecure delegation:
/// one matching it lists NS without DS or SOA, or its closest encloser
/// proof ends at such a delegation or in an opt-out span (RFC 5155 §6,
/// §8.9). `false` when nothing shows it or the zone hashes more often
/// than allowed.
pub fn matches_unsigned_cut(
    name: &Name,
    zone: &Name,
    nsec3s: &[(Name, NSEC3)],
    max_iterations: u16,
    budget: &mut Budget,
) -> Result<bool, Bogus> {
    let mut chain = match Chain::build(name, zone, nsec3s, max_iterations, budget)? {
        Built::Chain(chain) => chain,
        Built::Insecure(_) => return Ok(false),
    };
    if chain.at(name)?.is_some_and(unsigned_cut) {
        return Ok(true);
    }
    Ok(match chain.closest_encloser(name) {
        Ok(Found::UnsignedCut(_)) => true,
        Ok(Found::Proven(proof)) => proof.opt_out,
        Err(_) => false,
    })
}

fn opt_out_or_secure(proof: &ClosestEncloser) -> Nsec3Result {
    if proof.opt_out {
        Nsec3Result::Insecure(Nsec3Insecure::OptOut {
            name: proof.next_closer.clone(),
        })
    } else {
        Nsec3Result::Secure
    }
}

/// The NSEC3 lists `qtype` or a CNAME: the name has data for the query.
fn shows(rec: &NSEC3, qtype: RecordType) -> bool {
    let types = rec.type_set();
    types.contains(qtype) || types.contains(RecordType::CNAME)
}

/// The parent side of a delegation without DS: an unsigned child.
fn unsigned_cut(rec: &NSEC3) -> bool {
    let types = rec.type_set();
    types.contains(RecordType::NS)
        && !types.contains(RecordType::SOA)
        && !types.contains(RecordType::DS)
}

/// A matching NSEC3 proves NODATA when neither `qtype` nor CNAME is listed
/// and the zone-cut caveats hold (RFC 5155 §8.5, §8.6; RFC 6840 §4.1).
fn lacks_type(name: &Name, qtype: RecordType, rec: &NSEC3) -> Result<(), Bogus> {
    if shows(rec, qtype) {
        return Err(contradiction(format!(
            "the NSEC3 for {name} shows {qtype} or CNAME exists"
        )));
    }
    nodata_side_ok(name, qtype, rec.type_set())
}

/// What the walk up from a name found.
enum Found {
    Proven(ClosestEncloser),
    /// The closest encloser is a delegation without DS: the name lies in
    /// an unsigned child zone.
    UnsignedCut(Name),
}

enum Built<'a, 'b> {
    Chain(Chain<'a, 'b>),
    Insecure(Nsec3Insecure),
}

/// A usable NSEC3: its owner's first label decoded to the hash it stands
/// for.
struct Entry<'a> {
    owner_hash: Vec<u8>,
    rec: &'a NSEC3,
}

/// The usable NSEC3s of one answer and a hasher over the query's budget.
struct Chain<'a, 'b> {
    entries: Vec<Entry<'a>>,
    hasher: Hasher<'a, 'b>,
}

impl<'a, 'b> Chain<'a, 'b> {
    /// Keeps the records owned directly below `zone` with a well-formed
    /// hash label; refuses to hash at all when any asks for more
    /// iterations than allowed.
    fn build(
        qname: &Name,
        zone: &'a Name,
        nsec3s: &'a [(Name, NSEC3)],
        max_iterations: u16,
        budget: &'b mut Budget,
    ) -> Result<Built<'a, 'b>, Bogus> {
        if !zone.zone_of(qname) {
            return Err(contradiction(format!("{qname} is not in zone {zone}")));
        }
        let entries: Vec<Entry<'a>> = nsec3s
            .iter()
            .filter_map(|(owner, rec)| {
                let direct_child =
                    label_count(owner) == label_count(zone) + 1 && zone.zone_of(owner);
                let owner_hash = base32hex_decode(owner.iter().next()?)?;
                let expected = rec.next_hashed_owner_name().len();
                (direct_child && expected > 0 && owner_hash.len() == expected)
                    .then_some(Entry { owner_hash, rec })
            })
            .collect();
        same_parameters(&entries, zone)?;
        if let Some(worst) = entries.iter().map(|e| e.rec.iterations()).max() {
            if worst > max_iterations {
                return Ok(Built::Insecure(Nsec3Insecure::Iterations {
                    iterations: worst,
                    max: max_iterations,
                }));
            }
        }
        Ok(Built::Chain(Chain {
            entries,
            hasher: Hasher {
                zone,
                cache: Vec::new(),
                budget,
            },
        }))
    }

    /// The NSEC3 whose owner hash equals the hash of `name`.
    fn at(&mut self, name: &Name) -> Result<Option<&'a NSEC3>, Bogus> {
        for entry in &self.entries {
            if self.hasher.hash(name, entry.rec)? == entry.owner_hash {
                return Ok(Some(entry.rec));
            }
        }
        Ok(None)
    }

    /// The NSEC3 whose hash interval holds the hash of `name`; the last
    /// record's next hash wraps around to the first.
    fn cover(&mut self, name: &Name) -> Result<Option<&'a NSEC3>, Bogus> {
        for entry in &self.entries {
            let hash = self.hasher.hash(name, entry.rec)?;
            let owner = entry.owner_hash.as_slice();
            let next = entry.rec.next_hashed_owner_name();
            let after_owner = owner < hash.as_slice();
            let before_next = hash.as_slice() < next;
            let covered = if owner < next {
                after_owner && before_next
            } else {
                after_owner || before_next
            };
            if covered {
                return Ok(Some(entry.rec));
            }
        }
        Ok(None)
    }

    /// Walks up from `qname` to the first ancestor an NSEC3 matches, then
    /// wants the name one label below it covered (RFC 5155 §8.3). A
    /// matching record at a delegation or DNAME cannot speak for names
    /// below it (RFC 6840 §4.1): bogus, unless the delegation has no DS,
    /// when `qname` is simply in an unsigned zone. A match for `qname`
    /// itself means it exists.
    fn closest_encloser(&mut self, qname: &Name) -> Result<Found, Bogus> {
        let zone = self.hasher.zone;
        let top = label_count(qname);
        for labels in (label_count(zone)..=top).rev() {
            let candidate = ancestor(qname, labels)?;
            let Some(rec) = self.at(&candidate)? else {
                continue;
            };
            if labels == top {
                return Err(contradiction(format!(
                    "an NSEC3 shows {qname} exists in {zone}"
                )));
            }
            if unsigned_cut(rec) && !rec.type_set().contains(RecordType::DNAME) {
                return Ok(Found::UnsignedCut(candidate));
            }
            if rec.is_ancestor_delegation() {
                return Err(unproven(format!(
                    "the NSEC3 for {candidate} is a delegation or DNAME and cannot deny {qname}"
                )));
            }
            let next_closer = ancestor(qname, labels + 1)?;
            let Some(cover) = self.cover(&next_closer)? else {
                return Err(unproven(format!(
                    "no NSEC3 covers {next_closer}, the next closer name of {qname} in {zone}"
                )));
            };
            return Ok(Found::Proven(ClosestEncloser {
                closest_encloser: candidate,
                next_closer,
                opt_out: cover.opt_out(),
            }));
        }
        Err(unproven(format!(
            "no NSEC3 matches an encloser of {qname} in {zone}"
        )))
    }
}

/// RFC 5155 §8.2 asks for the records of the zone's chain only; Unbound
/// refuses a proof mixing parameter sets outright, which also defeats
/// records forged to collide under other parameters.
fn same_parameters(entries: &[Entry<'_>], zone: &Name) -> Result<(), Bogus> {
    let mut recs = entries.iter().map(|e| e.rec);
    let Some(first) = recs.next() else {
        return Ok(());
    };
    let differs = |r: &NSEC3| {
        r.hash_algorithm() != first.hash_algorithm()
            || r.iterations() != first.iterations()
            || r.salt() != first.salt()
    };
    if recs.any(differs) {
        return Err(contradiction(format!(
            "the NSEC3 records for {zone} come from chains with different parameters"
        )));
    }
    Ok(())
}

/// Hashes names under each record's parameters, once per name and
/// parameter set, each fresh hash paid from the budget.
struct Hasher<'a, 'b> {
    zone: &'a Name,
    cache: Vec<(Name, &'a [u8], u16, Vec<u8>)>,
    budget: &'b mut Budget,
}

impl<'a> Hasher<'a, '_> {
    fn hash(&mut self, name: &Name, rec: &'a NSEC3) -> Result<Vec<u8>, Bogus> {
        let (salt, iterations) = (rec.salt(), rec.iterations());
        let cached = self
            .cache
            .iter()
            .find(|(n, s, i, _)| *s == salt && *i == iterations && same_name(n, name));
        if let Some((_, _, _, hash)) = cached {
            return Ok(hash.clone());
        }
        if !self.budget.take_nsec3_hash() {
            return Err(Bogus::new(
                BogusKind::BudgetExhausted,
                format!(
                    "NSEC3 hash budget exhausted hashing {name} in {}",
                    self.zone
                ),
            ));
        }
        let digest = rec
            .hash_algorithm()
            .hash(salt, name, iterations)
            .map_err(|e| contradiction(format!("cannot hash {name} for NSEC3: {e}")))?;
        let hash = digest.as_ref().to_vec();
        self.cache
            .push((name.clone(), salt, iterations, hash.clone()));
        Ok(hash)
    }
}

/// Base32 with the extended hex alphabet (RFC 4648 §7), unpadded and
/// case-insensitive as NSEC3 owner labels are written (RFC 5155 §3.3).
/// Leftover bits must be zero.
pub(crate) fn base32hex_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.iter().map(u8::to_ascii_lowercase) {
        let value = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
#[path = "nsec3_tests.rs"]
mod tests;
