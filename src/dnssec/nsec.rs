//! NSEC denial of existence: the pure proofs a validator checks on a
//! negative or wildcard answer once the NSEC records' RRSIGs verified.
//!
//! - Canonical name order (RFC 4034 §6.1) and "covers" with the last NSEC
//!   wrapping to the apex (RFC 4034 §4.1.1).
//! - NXDOMAIN, NODATA (incl. empty non-terminals and wildcard NODATA) and
//!   wildcard-expansion proofs (RFC 4035 §3.1.3, §5.3.4, §5.4; RFC 7129).
//! - No DS at a delegation (RFC 4035 §5.2).
//! - Parent-side and DNAME NSECs never deny names below them, and a child
//!   apex NSEC never denies its own DS (RFC 6840 §4.1, §4.3).
//! - A wildcard-expanded NSEC speaks only for its wildcard, never for the
//!   name it was expanded to (CVE-2017-15105): callers pass the owner
//!   `signed_owner` gives.

use std::cmp::Ordering;

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::{Name, RecordType, RecordTypeSet};

use super::{Bogus, BogusKind};

/// A verified NXDOMAIN: the name and the wildcard at its closest encloser
/// are both denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NxProof {
    /// The deepest existing ancestor of the query name; a cache may use it
    /// to answer other names below it (RFC 8198).
    pub closest_encloser: Name,
}

/// What a proven absence of DS says about the name (shared with NSEC3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDs {
    /// NS without DS: an insecure delegation, the child is unsigned.
    InsecureDelegation,
    /// The name exists but holds no NS (an ordinary name or an empty
    /// non-terminal): there is no zone cut here.
    NotACut,
}

/// RFC 4034 §6.1: compare label by label from the root, each label as
/// lower-cased bytes; an absent label sorts first.
pub fn canonical_cmp(a: &Name, b: &Name) -> Ordering {
    let mut left = a.iter().rev();
    let mut right = b.iter().rev();
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = x
                    .iter()
                    .map(u8::to_ascii_lowercase)
                    .cmp(y.iter().map(u8::to_ascii_lowercase));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// True when `name` falls strictly between an NSEC's owner and next name.
/// The zone's last NSEC points back to the apex (next <= owner), so then
/// anything after the owner is covered; callers check zone membership.
pub fn covers(owner: &Name, next: &Name, name: &Name) -> bool {
    let after_owner = canonical_cmp(owner, name) == Ordering::Less;
    let before_next = canonical_cmp(name, next) == Ordering::Less;
    if canonical_cmp(owner, next) == Ordering::Less {
        after_owner && before_next
    } else {
        after_owner || before_next
    }
}

/// RFC 4035 §5.4 / RFC 7129 §3: an NSEC covering `qname` and one covering
/// the wildcard at the closest encloser derived from the first.
pub fn prove_nxdomain(qname: &Name, zone: &Name, nsecs: &[(Name, NSEC)]) -> Result<NxProof, Bogus> {
    let chain = Chain::new(qname, zone, nsecs)?;
    let Some((owner, nsec)) = chain.nonexistence(qname) else {
        return Err(unproven(format!("no NSEC covers {qname} in {zone}")));
    };
    let ce = closest_encloser(qname, owner, nsec.next_domain_name())?;
    chain.check_encloser(&ce)?;
    let wildcard = wildcard_at(&ce)?;
    if chain.cover(&wildcard).is_none() {
        return Err(unproven(format!(
            "no NSEC denies the wildcard {wildcard} for {qname} in {zone}"
        )));
    }
    Ok(NxProof {
        closest_encloser: ce,
    })
}

/// RFC 4035 §3.1.3.1, §3.1.3.2, §3.1.3.4: `qname` exists without `qtype`
/// (an NSEC at it), is an empty non-terminal (an NSEC whose next name lies
/// below it), or is synthesised from a wildcard that lacks `qtype`.
pub fn prove_nodata(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    nsecs: &[(Name, NSEC)],
) -> Result<(), Bogus> {
    let chain = Chain::new(qname, zone, nsecs)?;
    if let Some(nsec) = chain.at(qname) {
        return lacks_type(qname, qtype, nsec);
    }
    let empty_non_terminal = chain
        .covering(qname)
        .any(|(_, nsec)| is_below(nsec.next_domain_name(), qname));
    if empty_non_terminal {
        return Ok(());
    }
    if let Some((owner, nsec)) = chain.nonexistence(qname) {
        let ce = closest_encloser(qname, owner, nsec.next_domain_name())?;
        chain.check_encloser(&ce)?;
        let wildcard = wildcard_at(&ce)?;
        if let Some(at_wildcard) = chain.at(&wildcard) {
            return lacks_type(&wildcard, qtype, at_wildcard);
        }
    }
    Err(unproven(format!(
        "no NSEC proves {qname} {qtype} is empty in {zone}"
    )))
}

/// RFC 4035 §5.2: the parent's NSEC at `name` shows NS but neither DS nor
/// SOA. An NSEC with SOA comes from the child apex and says nothing about
/// the parent's DS (RFC 6840 §4.3 caveat, RFC 4035 §5.2).
pub fn prove_no_ds(name: &Name, zone: &Name, nsecs: &[(Name, NSEC)]) -> Result<NoDs, Bogus> {
    let chain = Chain::new(name, zone, nsecs)?;
    if let Some(nsec) = chain.at(name) {
        let types = nsec.type_set();
        if types.contains(RecordType::SOA) {
            return Err(unproven(format!(
                "the NSEC at {name} is the child apex's and cannot deny its DS"
            )));
        }
        if types.contains(RecordType::DS) || types.contains(RecordType::CNAME) {
            return Err(contradiction(format!(
                "the NSEC at {name} in {zone} shows a DS or CNAME"
            )));
        }
        return Ok(if types.contains(RecordType::NS) {
            NoDs::InsecureDelegation
        } else {
            NoDs::NotACut
        });
    }
    let empty_non_terminal = chain
        .covering(name)
        .any(|(_, nsec)| is_below(nsec.next_domain_name(), name));
    if empty_non_terminal {
        return Ok(NoDs::NotACut);
    }
    Err(unproven(format!(
        "no NSEC at {name} in {zone} proves an insecure delegation"
    )))
}

/// RFC 4035 §5.3.4: an answer expanded from `wildcard` (`*.ce`, from the
/// RRSIG's label count) needs an NSEC proving `qname` does not exist and
/// that nothing closer than `ce` does either.
pub fn prove_wildcard_answer(
    qname: &Name,
    wildcard: &Name,
    zone: &Name,
    nsecs: &[(Name, NSEC)],
) -> Result<(), Bogus> {
    let ce = wildcard_parent(qname, wildcard, zone)?;
    let chain = Chain::new(qname, zone, nsecs)?;
    for (owner, nsec) in chain.covering(qname) {
        let next = nsec.next_domain_name();
        if is_below(next, qname) {
            continue;
        }
        if same_name(&closest_encloser(qname, owner, next)?, &ce) {
            return Ok(());
        }
    }
    Err(unproven(format!(
        "no NSEC proves {qname} has no closer match than {wildcard} in {zone}"
    )))
}

/// The owner an NSEC proves things for: the name it was signed under.
/// An RRSIG whose label count (RFC 4034 §3.1.3) is below the owner's
/// shows the NSEC was expanded from the wildcard `*.<last labels>`; used
/// as its expanded owner it would deny names the zone never denied
/// (CVE-2017-15105), so it counts as the wildcard's own NSEC.
pub fn signed_owner(owner: &Name, rrsig_labels: u8) -> Result<Name, Bogus> {
    let starred = owner.iter().next() == Some(&b"*"[..]);
    let plain = label_count(owner) - usize::from(starred);
    let labels = usize::from(rrsig_labels);
    if labels >= plain {
        return Ok(owner.clone());
    }
    wildcard_at(&ancestor(owner, labels)?)
}

/// The usable NSECs of one answer: owner and next name inside the zone.
struct Chain<'a> {
    nsecs: Vec<(&'a Name, &'a NSEC)>,
}

impl<'a> Chain<'a> {
    fn new(qname: &Name, zone: &Name, nsecs: &'a [(Name, NSEC)]) -> Result<Self, Bogus> {
        if !zone.zone_of(qname) {
            return Err(contradiction(format!("{qname} is not in zone {zone}")));
        }
        let nsecs = nsecs
            .iter()
            .filter(|(owner, nsec)| zone.zone_of(owner) && zone.zone_of(nsec.next_domain_name()))
            .map(|(owner, nsec)| (owner, nsec))
            .collect();
        Ok(Self { nsecs })
    }

    /// The NSEC whose owner is `name`.
    fn at(&self, name: &Name) -> Option<&'a NSEC> {
        self.nsecs
            .iter()
            .find(|(owner, _)| same_name(owner, name))
            .map(|(_, nsec)| *nsec)
    }

    /// NSECs covering `name` that may speak for it: RFC 6840 §4.1 rules
    /// out an owner above `name` that is a delegation or holds a DNAME,
    /// since the names below it live in another zone or are redirected.
    fn covering<'s>(&'s self, name: &'s Name) -> impl Iterator<Item = (&'a Name, &'a NSEC)> + 's {
        self.nsecs.iter().copied().filter(move |(owner, nsec)| {
            covers(owner, nsec.next_domain_name(), name)
                && (!is_below(name, owner) || may_deny_below(nsec.type_set()))
        })
    }

    /// A covering NSEC for the wildcard: any usable cover will do.
    fn cover(&self, name: &Name) -> Option<(&'a Name, &'a NSEC)> {
        self.covering(name).next()
    }

    /// A cover that proves `name` absent: its next name is not below
    /// `name` (that would make `name` an empty non-terminal).
    fn nonexistence(&self, name: &Name) -> Option<(&'a Name, &'a NSEC)> {
        self.covering(name)
            .find(|(_, nsec)| !is_below(nsec.next_domain_name(), name))
    }

    /// A closest encloser that is itself a delegation or DNAME cannot own
    /// the names below it in this zone (RFC 6840 §4.1).
    fn check_encloser(&self, ce: &Name) -> Result<(), Bogus> {
        match self.at(ce) {
            Some(nsec) if !may_deny_below(nsec.type_set()) => Err(unproven(format!(
                "the NSEC at {ce} is a delegation or DNAME and cannot deny names below it"
            ))),
            _ => Ok(()),
        }
    }
}

/// False for a parent-side NSEC at a zone cut (NS without SOA) or a DNAME
/// owner: names below either are not this zone's to deny.
pub(crate) fn may_deny_below(types: &RecordTypeSet) -> bool {
    !(types.contains(RecordType::DNAME)
        || (types.contains(RecordType::NS) && !types.contains(RecordType::SOA)))
}

/// An NSEC at `name` proves NODATA for `qtype` when neither the type nor a
/// CNAME is listed, and it is not a parent-side NSEC answering for child
/// data, nor a child apex NSEC answering for the parent's DS.
fn lacks_type(name: &Name, qtype: RecordType, nsec: &NSEC) -> Result<(), Bogus> {
    let types = nsec.type_set();
    if types.contains(qtype) || types.contains(RecordType::CNAME) {
        return Err(contradiction(format!(
            "the NSEC at {name} shows {qtype} or CNAME exists"
        )));
    }
    nodata_side_ok(name, qtype, types)
}

/// The zone-cut caveats of a NODATA proof (RFC 6840 §4.1, RFC 4035 §5.2),
/// shared by NSEC and NSEC3.
pub(crate) fn nodata_side_ok(
    name: &Name,
    qtype: RecordType,
    types: &RecordTypeSet,
) -> Result<(), Bogus> {
    let soa = types.contains(RecordType::SOA);
    if qtype != RecordType::DS && types.contains(RecordType::NS) && !soa {
        return Err(unproven(format!(
            "the denial at {name} is the parent side of a delegation, not the child's {qtype}"
        )));
    }
    if qtype == RecordType::DS && soa && !name.is_root() {
        return Err(unproven(format!(
            "the denial at {name} is the child apex's and cannot deny its DS"
        )));
    }
    Ok(())
}

/// The closest encloser of a covered name: the deeper of its common
/// ancestors with the NSEC's owner and next name (RFC 4035 §5.4).
fn closest_encloser(qname: &Name, owner: &Name, next: &Name) -> Result<Name, Bogus> {
    let labels = common_labels(qname, owner).max(common_labels(qname, next));
    ancestor(qname, labels)
}

/// `*.ce` for a wildcard answer, checked against `qname` and the zone.
pub(crate) fn wildcard_parent(qname: &Name, wildcard: &Name, zone: &Name) -> Result<Name, Bogus> {
    let starred = wildcard.iter().next() == Some(&b"*"[..]);
    let ce = ancestor(wildcard, label_count(wildcard).saturating_sub(1))?;
    if !starred || !is_below(qname, &ce) || !zone.zone_of(&ce) {
        return Err(contradiction(format!(
            "{wildcard} is not a wildcard above {qname} in {zone}"
        )));
    }
    Ok(ce)
}

/// Case-insensitive name equality that ignores the FQDN flag.
pub(crate) fn same_name(a: &Name, b: &Name) -> bool {
    canonical_cmp(a, b) == Ordering::Equal
}

/// True when `name` is a proper descendant of `ancestor`.
pub(crate) fn is_below(name: &Name, ancestor: &Name) -> bool {
    label_count(name) > label_count(ancestor) && ancestor.zone_of(name)
}

/// Labels in a name, counting a leading `*` (unlike `Name::num_labels`).
pub(crate) fn label_count(name: &Name) -> usize {
    name.iter().count()
}

/// How many rightmost labels two names share.
pub(crate) fn common_labels(a: &Name, b: &Name) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

/// The ancestor of `name` with `labels` labels (the name itself if it has
/// no more than that).
pub(crate) fn ancestor(name: &Name, labels: usize) -> Result<Name, Bogus> {
    let skip = label_count(name).saturating_sub(labels);
    Name::from_labels(name.iter().skip(skip))
        .map_err(|e| contradiction(format!("cannot shorten {name}: {e}")))
}

/// `*.ce`.
pub(crate) fn wildcard_at(ce: &Name) -> Result<Name, Bogus> {
    ce.prepend_label("*")
        .map_err(|e| contradiction(format!("no wildcard fits below {ce}: {e}")))
}

/// The verified records do not prove the denial: the needed one is
/// absent or unusable. EDE 6, as Unbound reports every failed proof; EDE
/// 12 (NSEC Missing) is left to callers that got no denial records at all.
pub(crate) fn unproven(text: String) -> Bogus {
    Bogus::new(BogusKind::Bogus, text)
}

/// The records contradict the answer (EDE 6).
pub(crate) fn contradiction(text: String) -> Bogus {
    Bogus::new(BogusKind::Bogus, text)
}

#[cfg(test)]
#[path = "nsec_tests.rs"]
mod tests;
