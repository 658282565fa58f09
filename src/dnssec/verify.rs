//! RRSIG verification: one RRset, its RRSIGs and a zone's trusted DNSKEYs,
//! at a given time (RFC 4034 §3 and §6, RFC 4035 §5.3, RFC 6840 §5), and
//! a DNSKEY RRset against its DS set or trust-anchor keys (RFC 4035 §5.2,
//! RFC 6840 §5.2). KeyTrap limits (CVE-2023-50387) bound the work: a few
//! RRSIGs per RRset, a few keys per key tag, and the query's `Budget`.
//!
//! The signed data is built here (canonical RDATA sorted and deduplicated
//! as octet strings, RFC 4034 §6.3); the signature mathematics is ring's
//! through hickory's `Verifier`, or RustCrypto's in `legacy`.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, RRSIG};
use hickory_proto::dnssec::{PublicKey, Verifier};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::ds::{ds_matches, usable_ds};
use super::{legacy, Bogus, BogusKind, Budget, MAX_KEY_TAG_COLLISIONS, MAX_RRSIGS_PER_RRSET};
use crate::config::DnssecConfig;

/// Which obsolete algorithms to accept. Both exist for Unbound's 2007 test
/// vectors; production configurations leave them off (RFC 8624 §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Verify DSA (algorithms 3 and 6).
    pub legacy_dsa: bool,
    /// Verify RSA signatures made with moduli under 1024 bits, which ring
    /// refuses. Unbound's scenarios use 512-bit RSA keys; without this
    /// those signatures fail as bogus, as they would on the Internet.
    pub legacy_small_rsa: bool,
}

impl VerifyOptions {
    /// `legacy_dsa` in the config turns on both: each exists only for the
    /// same old test vectors.
    pub fn from_config(cfg: &DnssecConfig) -> Self {
        Self {
            legacy_dsa: cfg.legacy_dsa,
            legacy_small_rsa: cfg.legacy_dsa,
        }
    }
}

/// A verified RRset: how long it may be trusted and how it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// RFC 4035 §5.3.3: no more than the RRset's and RRSIG's TTLs, the
    /// original TTL, and the seconds until the signature expires.
    pub ttl: u32,
    /// The wildcard the RRset was synthesised from (`*.example.com.`),
    /// when the RRSIG labels field is below the owner's label count.
    pub wildcard: Option<Name>,
    pub key_tag: u16,
    pub algorithm: u8,
}

/// The outcome of checking a zone's DNSKEY RRset against its DS set or
/// trust-anchor keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The DNSKEY RRset verifies: `keys` are the zone keys now trusted,
    /// `matched` the (key tag, algorithm, digest type) of each DS that
    /// named a key; digest type 0 stands for a DNSKEY trust anchor.
    Secure {
        keys: Vec<DNSKEY>,
        ttl: u32,
        matched: Vec<(u16, u8, u8)>,
    },
    /// No chain of trust (no anchor at the zone, an empty anchor): the
    /// zone is treated as unsigned. The text says why.
    Insecure(String),
    /// No usable DS or anchor because of unsupported algorithms or digests:
    /// the zone is treated as unsigned, the reason carrying EDE 1 or 2.
    Unsupported(Bogus),
    Bogus(Bogus),
}

/// Algorithms we verify: RSA/SHA-1 (5, 7), RSA/SHA-256 (8), RSA/SHA-512
/// (10), ECDSA P-256 (13) and P-384 (14), Ed25519 (15) through ring; DSA
/// (3, 6) only with `legacy_dsa`. Ed448 (16) is not in ring.
pub fn algorithm_supported(alg: u8, opts: &VerifyOptions) -> bool {
    match alg {
        5 | 7 | 8 | 10 | 13 | 14 | 15 => true,
        3 | 6 => opts.legacy_dsa,
        _ => false,
    }
}

/// A key that may verify RRSIGs: Zone Key bit set (RFC 4034 §2.1.1) and
/// not revoked (RFC 5011 §2.1).
pub fn usable_zone_key(key: &DNSKEY) -> bool {
    key.zone_key() && !key.revoke()
}

/// The key tag of a DNSKEY (RFC 4034 Appendix B).
pub fn key_tag(key: &DNSKEY) -> Option<u16> {
    key.calculate_key_tag().ok()
}

/// The RRSIG data of a record, if it is one.
pub fn rrsig_of(record: &Record) -> Option<&RRSIG> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig),
        _ => None,
    }
}

/// The DNSKEY data of a record, if it is one.
pub fn dnskey_of(record: &Record) -> Option<&DNSKEY> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key),
        _ => None,
    }
}

/// `a <= b` in RFC 1982 serial arithmetic on 32 bits, as RFC 4034 §3.1.5
/// requires for signature times.
pub fn serial_le(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < 1 << 31
}

/// Why one RRSIG did not verify the RRset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    Expired,
    NotYetValid,
    NoKey,
    Bad,
}

/// Verifies an RRset with the RRSIGs at its owner and the zone's trusted
/// keys (RFC 4035 §5.3). The first RRSIG that verifies wins.
pub fn verify_rrset(
    rrset: &[Record],
    rrsigs: &[Record],
    keys: &[DNSKEY],
    zone: &Name,
    now: u32,
    opts: &VerifyOptions,
    budget: &mut Budget,
) -> Result<Verified, Bogus> {
    let Some(first) = rrset.first() else {
        return Err(Bogus::new(BogusKind::Bogus, "empty RRset"));
    };
    let (owner, rtype) = (&first.name, first.record_type());
    let what = format!("{owner} {rtype}");
    let covering: Vec<(&Record, &RRSIG)> = rrsigs
        .iter()
        .filter(|r| r.name == *owner && r.dns_class == first.dns_class)
        .filter_map(|r| rrsig_of(r).map(|s| (r, s)))
        .filter(|(_, s)| s.input().type_covered == rtype)
        .collect();
    if covering.is_empty() {
        let text = format!("no RRSIG for {what} (zone {zone})");
        return Err(Bogus::new(BogusKind::RrsigsMissing, text));
    }
    let candidates: Vec<&(&Record, &RRSIG)> = covering
        .iter()
        .filter(|(_, s)| s.input().signer_name == *zone)
        .collect();
    if candidates.is_empty() {
        let signers: Vec<String> = covering
            .iter()
            .map(|(_, s)| s.input().signer_name.to_string())
            .collect();
        let text = format!(
            "RRSIG for {what} is by {}, not by its zone {zone}",
            signers.join(", ")
        );
        return Err(Bogus::new(BogusKind::Bogus, text));
    }
    let Some(rdatas) = canonical_rdatas(rrset) else {
        return Err(Bogus::new(
            BogusKind::Bogus,
            format!("{what} cannot be encoded"),
        ));
    };
    let mut misses: Vec<(Miss, String)> = Vec::new();
    let mut tried = 0usize;
    for (record, sig) in candidates {
        if tried >= MAX_RRSIGS_PER_RRSET {
            break;
        }
        let input = sig.input();
        let tag = input.key_tag;
        let alg = u8::from(input.algorithm);
        let says = |miss: Miss, why: &str| {
            (
                miss,
                format!("RRSIG for {what} by {zone} (key {tag}) {why}"),
            )
        };
        if let Some(miss) = structural_problem(owner, zone, sig, opts) {
            misses.push(says(Miss::Bad, &miss));
            continue;
        }
        if !serial_le(input.sig_inception.get(), now) {
            misses.push(says(Miss::NotYetValid, "is not yet valid"));
            continue;
        }
        if !serial_le(now, input.sig_expiration.get()) {
            misses.push(says(Miss::Expired, "has expired"));
            continue;
        }
        let matching: Vec<&DNSKEY> = keys
            .iter()
            .filter(|k| usable_zone_key(k) && u8::from(k.public_key().algorithm()) == alg)
            .filter(|k| key_tag(k) == Some(tag))
            .take(MAX_KEY_TAG_COLLISIONS)
            .collect();
        if matching.is_empty() {
            misses.push(says(Miss::NoKey, "has no matching DNSKEY"));
            continue;
        }
        tried += 1;
        let signer_owner = signed_owner(owner, input.num_labels);
        let Some(data) = signer_owner
            .as_ref()
            .and_then(|o| signed_data(o, first, sig, &rdatas))
        else {
            misses.push(says(Miss::Bad, "cannot be reconstructed"));
            continue;
        };
        for key in matching {
            if !budget.take_verification() {
                let text = format!(
                    "verification budget exhausted checking {what} (zone {zone}) after {} signature checks",
                    budget.verifications_done
                );
                return Err(Bogus::new(BogusKind::BudgetExhausted, text));
            }
            if check_signature(key, alg, &data, sig.sig(), opts) {
                return Ok(Verified {
                    ttl: authenticated_ttl(rrset, record, sig, now),
                    wildcard: (input.num_labels < owner.num_labels())
                        .then_some(signer_owner)
                        .flatten(),
                    key_tag: tag,
                    algorithm: alg,
                });
            }
        }
        misses.push(says(Miss::Bad, "does not verify"));
    }
    Err(summarise(misses, &what, zone))
}

/// The RFC 4035 §5.3.1 checks that need no key or clock, as a reason.
fn structural_problem(
    owner: &Name,
    zone: &Name,
    sig: &RRSIG,
    opts: &VerifyOptions,
) -> Option<String> {
    let input = sig.input();
    if !zone.zone_of(owner) {
        return Some(format!("is by {zone}, which is not at or above the owner"));
    }
    if input.num_labels > owner.num_labels() {
        return Some(format!(
            "has labels {} above the owner's {}",
            input.num_labels,
            owner.num_labels()
        ));
    }
    let alg = u8::from(input.algorithm);
    if !algorithm_supported(alg, opts) {
        return Some(format!("uses unsupported algorithm {alg}"));
    }
    None
}

/// One Bogus out of every RRSIG's miss: a single kind when all share it
/// (all expired, all not yet valid, all without a key), else plain bogus
/// naming the first signature that failed the crypto check.
fn summarise(misses: Vec<(Miss, String)>, what: &str, zone: &Name) -> Bogus {
    let kind = match misses.first() {
        Some((first, _)) if misses.iter().all(|(m, _)| m == first) => match first {
            Miss::Expired => BogusKind::SignatureExpired,
            Miss::NotYetValid => BogusKind::SignatureNotYetValid,
            Miss::NoKey => BogusKind::DnskeyMissing,
            Miss::Bad => BogusKind::Bogus,
        },
        _ => BogusKind::Bogus,
    };
    let text = misses
        .iter()
        .find(|(m, _)| *m == Miss::Bad)
        .or(misses.first())
        .map(|(_, t)| t.clone())
        .unwrap_or_else(|| format!("no usable RRSIG for {what} by {zone}"));
    Bogus::new(kind, text)
}

/// RFC 4035 §5.3.3: the minimum of the RRset's TTLs, the RRSIG's TTL,
/// its original TTL and the time left before it expires.
fn authenticated_ttl(rrset: &[Record], rrsig: &Record, sig: &RRSIG, now: u32) -> u32 {
    let input = sig.input();
    let left = input.sig_expiration.get().wrapping_sub(now);
    rrset
        .iter()
        .map(|r| r.ttl)
        .fold(rrsig.ttl.min(input.original_ttl).min(left), u32::min)
}

/// The owner name the signature covers (RFC 4035 §5.3.2): the owner
/// itself, or `*.` and its rightmost `labels` labels for a wildcard.
fn signed_owner(owner: &Name, labels: u8) -> Option<Name> {
    if labels == owner.num_labels() {
        return Some(owner.clone());
    }
    let total = owner.iter().count();
    let keep = owner.iter().skip(total.checked_sub(usize::from(labels))?);
    let mut name = Name::from_labels(std::iter::once(&b"*"[..]).chain(keep)).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Each record's RDATA in canonical form (RFC 4034 §6.2), sorted as octet
/// strings with duplicates removed (§6.3).
fn canonical_rdatas(rrset: &[Record]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(rrset.len());
    for record in rrset {
        let mut buf = Vec::new();
        let mut encoder = BinEncoder::new(&mut buf);
        encoder.set_canonical_form(true);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        record.data.emit(&mut encoder).ok()?;
        out.push(buf);
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The data an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA without the
/// signature, the signer in lowercase, then each RR with the signed owner
/// in lowercase and the original TTL.
fn signed_data(owner: &Name, first: &Record, sig: &RRSIG, rdatas: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut input = sig.input().clone();
    input.signer_name = input.signer_name.to_lowercase();
    let mut buf = Vec::new();
    {
        let mut encoder = BinEncoder::new(&mut buf);
        encoder.set_canonical_form(true);
        encoder.set_name_encoding(NameEncoding::UncompressedLowercase);
        input.emit(&mut encoder).ok()?;
    }
    let mut head = lowercase_wire(owner);
    head.extend(u16::from(first.record_type()).to_be_bytes());
    head.extend(u16::from(first.dns_class).to_be_bytes());
    head.extend(input.original_ttl.to_be_bytes());
    for rdata in rdatas {
        buf.extend(&head);
        buf.extend(u16::try_from(rdata.len()).ok()?.to_be_bytes());
        buf.extend(rdata);
    }
    Some(buf)
}

fn lowercase_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// The signature check proper, by algorithm.
fn check_signature(key: &DNSKEY, alg: u8, data: &[u8], sig: &[u8], opts: &VerifyOptions) -> bool {
    let bytes = key.public_key().public_bytes();
    match alg {
        3 | 6 => opts.legacy_dsa && legacy::dsa_verify(bytes, data, sig),
        5 | 7 | 8 | 10 => {
            let small = legacy::rsa_modulus_bits(bytes).is_some_and(|bits| bits < 1024);
            if small {
                opts.legacy_small_rsa && legacy::rsa_verify(alg, bytes, data, sig)
            } else {
                key.verify(data, sig).is_ok()
            }
        }
        13..=15 => key.verify(data, sig).is_ok(),
        _ => false,
    }
}

/// The DNSKEY records' data at `zone`.
fn zone_dnskeys<'a>(zone: &Name, dnskeys: &'a [Record]) -> Vec<&'a DNSKEY> {
    dnskeys
        .iter()
        .filter(|r| r.name == *zone && r.record_type() == RecordType::DNSKEY)
        .filter_map(dnskey_of)
        .collect()
}

/// A zone's DNSKEY RRset against the DS set from its parent (RFC 4035
/// §5.2): a DS with a supported digest and algorithm must name a key of
/// the set, and that key must sign the set.
pub fn verify_dnskeys_with_ds(
    zone: &Name,
    dnskeys: &[Record],
    rrsigs: &[Record],
    ds: &[DS],
    now: u32,
    opts: &VerifyOptions,
    budget: &mut Budget,
) -> KeyCheck {
    let usable = usable_ds(ds, opts);
    if usable.is_empty() {
        // EDE 2 when some DS names a digest we lack, else the algorithms
        // are what we lack (EDE 1).
        let digest = ds
            .iter()
            .any(|d| !crate::dnssec::ds::digest_supported(u8::from(d.digest_type())));
        let kind = if digest {
            BogusKind::UnsupportedDigest
        } else {
            BogusKind::UnsupportedAlgorithm
        };
        return KeyCheck::Unsupported(Bogus::new(
            kind,
            format!(
                "no DS for {zone} has a supported digest type and algorithm (RFC 4035 §5.2, RFC 6840 §5.2)"
            ),
        ));
    }
    let keys = zone_dnskeys(zone, dnskeys);
    let mut matched = Vec::new();
    let mut entry_keys: Vec<DNSKEY> = Vec::new();
    for d in &usable {
        for key in keys.iter().filter(|k| ds_matches(zone, d, k)) {
            matched.push((
                d.key_tag(),
                u8::from(d.algorithm()),
                u8::from(d.digest_type()),
            ));
            if !entry_keys.contains(key) {
                entry_keys.push((*key).clone());
            }
        }
    }
    if entry_keys.is_empty() {
        let tags: Vec<String> = usable.iter().map(|d| d.key_tag().to_string()).collect();
        return KeyCheck::Bogus(Bogus::new(
            BogusKind::DnskeyMissing,
            format!(
                "no DNSKEY of {zone} matches its DS (key {})",
                tags.join(", ")
            ),
        ));
    }
    finish_key_check(
        zone,
        dnskeys,
        rrsigs,
        &entry_keys,
        matched,
        now,
        opts,
        budget,
    )
}

/// A zone's DNSKEY RRset against DNSKEY trust anchors: the set must hold
/// an anchor key and be signed by one.
pub fn verify_dnskeys_with_anchor_keys(
    zone: &Name,
    dnskeys: &[Record],
    rrsigs: &[Record],
    anchor_keys: &[DNSKEY],
    now: u32,
    opts: &VerifyOptions,
    budget: &mut Budget,
) -> KeyCheck {
    let usable: Vec<&DNSKEY> = anchor_keys.iter().filter(|k| usable_zone_key(k)).collect();
    if usable.is_empty() {
        return KeyCheck::Insecure(format!(
            "no trust-anchor key for {zone} is a usable zone key (revoked or not a zone key)"
        ));
    }
    let anchors: Vec<&DNSKEY> = usable
        .into_iter()
        .filter(|k| algorithm_supported(u8::from(k.public_key().algorithm()), opts))
        .collect();
    if anchors.is_empty() {
        return KeyCheck::Unsupported(Bogus::new(
            BogusKind::UnsupportedAlgorithm,
            format!("no trust-anchor key for {zone} has a supported algorithm (RFC 4035 §5.2)"),
        ));
    }
    let entry_keys: Vec<DNSKEY> = zone_dnskeys(zone, dnskeys)
        .into_iter()
        .filter(|k| usable_zone_key(k) && anchors.iter().any(|a| a.public_key() == k.public_key()))
        .cloned()
        .collect();
    if entry_keys.is_empty() {
        return KeyCheck::Bogus(Bogus::new(
            BogusKind::DnskeyMissing,
            format!("the DNSKEY set of {zone} holds none of its trust-anchor keys"),
        ));
    }
    let matched = entry_keys
        .iter()
        .filter_map(|k| Some((key_tag(k)?, u8::from(k.public_key().algorithm()), 0)))
        .collect();
    finish_key_check(
        zone,
        dnskeys,
        rrsigs,
        &entry_keys,
        matched,
        now,
        opts,
        budget,
    )
}

/// True when `key`, a DNSKEY with the REVOKE bit, signs its own DNSKEY
/// RRset `set`: what a revocation must show (RFC 5011 §2.1). The one
/// check that uses a revoked key; `verify_rrset` never does.
pub fn self_signed_by(
    set: &[Record],
    rrsigs: &[Record],
    key: &DNSKEY,
    zone: &Name,
    now: u32,
    opts: &VerifyOptions,
    budget: &mut Budget,
) -> bool {
    let (Some(first), Some(tag)) = (set.first(), key_tag(key)) else {
        return false;
    };
    let alg = u8::from(key.public_key().algorithm());
    if !set.iter().any(|r| dnskey_of(r) == Some(key)) || !algorithm_supported(alg, opts) {
        return false;
    }
    let Some(rdatas) = canonical_rdatas(set) else {
        return false;
    };
    let sigs = rrsigs
        .iter()
        .filter(|r| r.name == first.name)
        .filter_map(rrsig_of)
        .filter(|s| {
            let i = s.input();
            i.type_covered == RecordType::DNSKEY
                && i.signer_name == *zone
                && i.key_tag == tag
                && u8::from(i.algorithm) == alg
                && serial_le(i.sig_inception.get(), now)
                && serial_le(now, i.sig_expiration.get())
        })
        .take(MAX_RRSIGS_PER_RRSET);
    for sig in sigs {
        if structural_problem(&first.name, zone, sig, opts).is_some() {
            continue;
        }
        let owner = signed_owner(&first.name, sig.input().num_labels);
        let Some(data) = owner
            .as_ref()
            .and_then(|o| signed_data(o, first, sig, &rdatas))
        else {
            continue;
        };
        if !budget.take_verification() {
            return false;
        }
        if check_signature(key, alg, &data, sig.sig(), opts) {
            return true;
        }
    }
    false
}

#[allow(clippy::too_many_arguments)]
fn finish_key_check(
    zone: &Name,
    dnskeys: &[Record],
    rrsigs: &[Record],
    entry_keys: &[DNSKEY],
    matched: Vec<(u16, u8, u8)>,
    now: u32,
    opts: &VerifyOptions,
    budget: &mut Budget,
) -> KeyCheck {
    let set: Vec<Record> = dnskeys
        .iter()
        .filter(|r| r.name == *zone && r.record_type() == RecordType::DNSKEY)
        .cloned()
        .collect();
    match verify_rrset(&set, rrsigs, entry_keys, zone, now, opts, budget) {
        Ok(v) => KeyCheck::Secure {
            keys: zone_dnskeys(zone, dnskeys)
                .into_iter()
                .filter(|k| usable_zone_key(k))
                .cloned()
                .collect(),
            ttl: v.ttl,
            matched,
        },
        Err(bogus) => KeyCheck::Bogus(bogus),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
