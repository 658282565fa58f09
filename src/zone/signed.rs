//! DNSSEC records in authoritative answers, for queries with DO=1 (RFC
//! 4035 §3.1): the RRSIGs of each RRset (§3.1.1), wildcard expansions with
//! their RRSIG and the proof that no closer name exists (§3.1.3.3, RFC
//! 5155 §7.2.6), NXDOMAIN and NODATA proofs with NSEC (RFC 4035 §3.1.3)
//! or NSEC3 (RFC 5155 §7.2: closest encloser, next closer, wildcard), and
//! referrals with the DS set or the proof that there is none (RFC 4035
//! §3.1.4, RFC 5155 §7.2.7). An unsigned zone has none of these records,
//! so the same calls add nothing. With DO=0 none of them is called.

use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::{Name, Record, RecordType};

use super::dnssec_text::base32hex_encode;
use super::loaded::{label_count, Zone};

/// The RRSIGs for answer records (one RRset per type, all owned by
/// `qname`); `wildcard` is the owner they were expanded from, whose
/// RRSIGs are given the query name (RFC 4035 §3.1.3.3).
pub fn answer_rrsigs(
    zone: &Zone,
    qname: &Name,
    wildcard: Option<&Name>,
    records: &[Record],
    out: &mut Vec<Record>,
) {
    let mut types: Vec<RecordType> = records.iter().map(|r| r.record_type()).collect();
    types.dedup();
    for t in types.into_iter().filter(|t| *t != RecordType::RRSIG) {
        let owner = wildcard.unwrap_or(qname);
        for mut sig in zone.rrsigs(owner, t) {
            sig.name = qname.clone();
            push_unique(out, sig);
        }
    }
}

/// The proof that no name closer than the wildcard matched `qname`.
pub fn wildcard_proof(zone: &Zone, qname: &Name, wildcard: &Name, out: &mut Vec<Record>) {
    if zone.denial().nsec3_params.is_some() {
        let ce = wildcard.base_name();
        nsec3_cover(zone, &next_closer(qname, &ce), out);
    } else {
        nsec_cover(zone, qname, out);
    }
}

/// NODATA (`wildcard` set when a wildcard matched without the type) or
/// NXDOMAIN proofs, plus the SOA's RRSIG (the SOA itself is the caller's).
pub fn negative_proof(
    zone: &Zone,
    qname: &Name,
    wildcard: Option<&Name>,
    nxdomain: bool,
    out: &mut Vec<Record>,
) {
    // The signature goes with the SOA, and with its lowered TTL
    // (RFC 2308 §5).
    for mut sig in zone.rrsigs(zone.origin(), RecordType::SOA) {
        if let Some(ttl) = zone.negative_ttl() {
            sig.ttl = ttl;
        }
        push_unique(out, sig);
    }
    if zone.denial().nsec3_params.is_some() {
        nsec3_negative(zone, qname, wildcard, nxdomain, out);
        return;
    }
    match (nxdomain, wildcard) {
        (true, _) => {
            nsec_cover(zone, qname, out);
            let ce = closest_encloser(zone, qname);
            if let Ok(star) = ce.prepend_label("*") {
                nsec_cover(zone, &star, out);
            }
        }
        (false, Some(w)) => {
            nsec_at(zone, w, out);
            nsec_cover(zone, qname, out);
        }
        // An empty non-terminal has no NSEC: the one covering it proves
        // the name exists with no types (RFC 4035 §3.1.3.2).
        (false, None) if !nsec_at(zone, qname, out) => nsec_cover(zone, qname, out),
        (false, None) => {}
    }
}

/// A referral's DNSSEC part: the DS set and its RRSIG, or the proof that
/// the delegation has no DS (an insecure delegation).
pub fn referral_proof(zone: &Zone, cut: &Name, out: &mut Vec<Record>) {
    if let Some(ds) = zone.rrset(cut, RecordType::DS) {
        out.extend(ds.iter().cloned());
        out.extend(zone.rrsigs(cut, RecordType::DS));
        return;
    }
    if zone.denial().nsec3_params.is_some() {
        // Opt-out (RFC 5155 §7.2.7): no NSEC3 at the cut, so the closest
        // provable encloser and the opt-out NSEC3 covering the next closer.
        if !nsec3_match(zone, cut, out) {
            let ce = closest_provable(zone, cut);
            nsec3_match(zone, &ce, out);
            nsec3_cover(zone, &next_closer(cut, &ce), out);
        }
    } else {
        nsec_at(zone, cut, out);
    }
}

fn nsec3_negative(
    zone: &Zone,
    qname: &Name,
    wildcard: Option<&Name>,
    nxdomain: bool,
    out: &mut Vec<Record>,
) {
    if !nxdomain && wildcard.is_none() {
        // NODATA (RFC 5155 §7.2.3, §7.2.4 for DS): the NSEC3 matching the
        // name, else the closest provable encloser proof.
        if nsec3_match(zone, qname, out) {
            return;
        }
    }
    let ce = match wildcard {
        Some(w) => w.base_name(),
        None => closest_provable(zone, qname),
    };
    nsec3_match(zone, &ce, out);
    nsec3_cover(zone, &next_closer(qname, &ce), out);
    match wildcard {
        // RFC 5155 §7.2.5: the wildcard's own NSEC3 shows the type absent.
        Some(w) => {
            nsec3_match(zone, w, out);
        }
        None if nxdomain => {
            if let Ok(star) = ce.prepend_label("*") {
                nsec3_cover(zone, &star, out);
            }
        }
        None => {}
    }
}

/// The longest ancestor of `name` (itself excluded) that exists.
fn closest_encloser(zone: &Zone, name: &Name) -> Name {
    let apex = label_count(zone.origin());
    let mut n = name.base_name();
    while !zone.exists(&n) && label_count(&n) > apex {
        n = n.base_name();
    }
    n
}

/// The longest ancestor of `name` (itself excluded) with a matching NSEC3.
fn closest_provable(zone: &Zone, name: &Name) -> Name {
    let apex = label_count(zone.origin());
    let mut n = name.base_name();
    while label_count(&n) > apex
        && nsec3_key(zone, &n).is_none_or(|k| !zone.denial().nsec3.contains_key(&k))
    {
        n = n.base_name();
    }
    n
}

/// The ancestor of `name` one label longer than `ce` (RFC 5155 §1.3).
fn next_closer(name: &Name, ce: &Name) -> Name {
    let want = label_count(ce) + 1;
    if label_count(name) <= want {
        return name.clone();
    }
    name.trim_to(want)
}

fn push_unique(out: &mut Vec<Record>, r: Record) {
    if !out.contains(&r) {
        out.push(r);
    }
}

/// Adds `r` and its RRSIGs.
fn push_signed(zone: &Zone, r: &Record, out: &mut Vec<Record>) {
    push_unique(out, r.clone());
    for sig in zone.rrsigs(&r.name, r.record_type()) {
        push_unique(out, sig);
    }
}

/// The NSEC owned by `name`; false when there is none.
fn nsec_at(zone: &Zone, name: &Name, out: &mut Vec<Record>) -> bool {
    match zone.denial().nsec.get(&name.to_lowercase()) {
        Some(r) => {
            push_signed(zone, r, out);
            true
        }
        None => false,
    }
}

/// The NSEC whose owner precedes `name` in canonical order (the chain
/// wraps: the last NSEC covers everything after it).
fn nsec_cover(zone: &Zone, name: &Name, out: &mut Vec<Record>) {
    let nsec = &zone.denial().nsec;
    let key = name.to_lowercase();
    let found = nsec
        .range(..key)
        .next_back()
        .or_else(|| nsec.iter().next_back())
        .map(|(_, r)| r);
    if let Some(r) = found {
        push_signed(zone, r, out);
    }
}

/// The hashed owner label of `name` in this zone's NSEC3 chain.
fn nsec3_key(zone: &Zone, name: &Name) -> Option<String> {
    let (salt, iterations) = zone.denial().nsec3_params.as_ref()?;
    let digest = Nsec3HashAlgorithm::SHA1
        .hash(salt, &name.to_lowercase(), *iterations)
        .ok()?;
    Some(base32hex_encode(digest.as_ref()))
}

fn nsec3_match(zone: &Zone, name: &Name, out: &mut Vec<Record>) -> bool {
    let found = nsec3_key(zone, name).and_then(|k| zone.denial().nsec3.get(&k));
    match found {
        Some(r) => {
            push_signed(zone, r, out);
            true
        }
        None => false,
    }
}

/// The NSEC3 whose hashed owner precedes the hash of `name` (wrapping).
fn nsec3_cover(zone: &Zone, name: &Name, out: &mut Vec<Record>) {
    let Some(key) = nsec3_key(zone, name) else {
        return;
    };
    let chain = &zone.denial().nsec3;
    let found = chain
        .range(..key)
        .next_back()
        .or_else(|| chain.iter().next_back())
        .map(|(_, r)| r);
    if let Some(r) = found {
        push_signed(zone, r, out);
    }
}
