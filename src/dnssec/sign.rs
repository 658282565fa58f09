//! A small zone signer for `tern lab --dnssec` and tests (RFC 4033-4035):
//! a KSK (flags 257) and a ZSK (flags 256), RRSIGs over every
//! authoritative RRset (RFC 4035 §2.2: not glue, not the NS set at a
//! delegation, but the DS set there), the DNSKEY set signed by the KSK, an
//! NSEC chain in canonical order (RFC 4034 §4 and §6.1, RFC 4035 §2.3:
//! delegation points get NSEC with NS (+DS), glue names none), and the DS
//! of the KSK for the parent (RFC 4034 §5, digest 2 = SHA-256, RFC 4509).
//!
//! No clock is read here: inception and expiration are parameters.
//! Cryptography is hickory-proto's (ring).

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, DNSKEY, DS, NSEC, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, SigningKey, TBS};
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber};

/// DNSKEY flags: zone key (bit 7) plus secure entry point (bit 15).
pub const KSK_FLAGS: u16 = 257;
/// DNSKEY flags: zone key only.
pub const ZSK_FLAGS: u16 = 256;

/// Why signing failed (key generation or a signature the library refused).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignError {
    #[error("unsupported signing algorithm {0:?} (13 and 15 are)")]
    Algorithm(Algorithm),
    #[error("DNSSEC key operation failed: {0}")]
    Crypto(String),
    #[error("the records given have no SOA at the zone apex {0}")]
    NoSoa(String),
}

fn crypto(e: impl std::fmt::Display) -> SignError {
    SignError::Crypto(e.to_string())
}

/// One private key with its public DNSKEY and key tag.
pub struct ZoneKey {
    key: Box<dyn SigningKey>,
    dnskey: DNSKEY,
    tag: u16,
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneKey")
            .field("flags", &self.dnskey.flags())
            .field("tag", &self.tag)
            .finish()
    }
}

impl ZoneKey {
    /// A fresh key pair of `alg` with DNSKEY `flags`.
    pub fn generate(alg: Algorithm, flags: u16) -> Result<ZoneKey, SignError> {
        let key: Box<dyn SigningKey> = match alg {
            Algorithm::ECDSAP256SHA256 | Algorithm::ECDSAP384SHA384 => {
                let der = EcdsaSigningKey::generate_pkcs8(alg).map_err(crypto)?;
                Box::new(EcdsaSigningKey::from_pkcs8(&der, alg).map_err(crypto)?)
            }
            Algorithm::ED25519 => {
                let der = Ed25519SigningKey::generate_pkcs8().map_err(crypto)?;
                Box::new(Ed25519SigningKey::from_pkcs8(&der).map_err(crypto)?)
            }
            other => return Err(SignError::Algorithm(other)),
        };
        let dnskey = DNSKEY::with_flags(flags, key.to_public_key().map_err(crypto)?);
        let tag = dnskey.calculate_key_tag().map_err(crypto)?;
        Ok(ZoneKey { key, dnskey, tag })
    }

    pub fn dnskey(&self) -> &DNSKEY {
        &self.dnskey
    }

    /// The same key pair with other DNSKEY flags (RFC 5011 tests set the
    /// REVOKE bit, which changes the key tag).
    pub fn set_flags(&mut self, flags: u16) -> Result<(), SignError> {
        self.dnskey = DNSKEY::with_flags(flags, self.dnskey.public_key().clone());
        self.tag = self.dnskey.calculate_key_tag().map_err(crypto)?;
        Ok(())
    }

    pub fn tag(&self) -> u16 {
        self.tag
    }

    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }
}

/// A zone's key pair set: one KSK, one ZSK.
#[derive(Debug)]
pub struct ZoneKeys {
    zone: Name,
    pub ksk: ZoneKey,
    pub zsk: ZoneKey,
}

impl ZoneKeys {
    /// Generates a KSK and a ZSK for `zone` (algorithm 13 is the usual one).
    pub fn generate(zone: &Name, alg: Algorithm) -> Result<ZoneKeys, SignError> {
        let ksk = ZoneKey::generate(alg, KSK_FLAGS)?;
        let mut zsk = ZoneKey::generate(alg, ZSK_FLAGS)?;
        // Distinct tags keep the lab free of key-tag collisions.
        while zsk.tag == ksk.tag {
            zsk = ZoneKey::generate(alg, ZSK_FLAGS)?;
        }
        Ok(ZoneKeys {
            zone: zone.to_lowercase(),
            ksk,
            zsk,
        })
    }

    pub fn zone(&self) -> &Name {
        &self.zone
    }

    /// The DS of the KSK, for the parent zone (RFC 4034 §5.1.4).
    pub fn ds(&self, digest: DigestType) -> Result<DS, SignError> {
        let d = self
            .ksk
            .dnskey
            .to_digest(&self.zone, digest)
            .map_err(crypto)?;
        Ok(DS::new(
            self.ksk.tag,
            self.ksk.algorithm(),
            digest,
            d.as_ref().to_vec(),
        ))
    }

    /// The DS record of the KSK with `ttl`, owned by the zone's apex.
    pub fn ds_record(&self, ttl: u32, digest: DigestType) -> Result<Record, SignError> {
        let ds = self.ds(digest)?;
        Ok(Record::from_rdata(
            self.zone.clone(),
            ttl,
            RData::DNSSEC(DNSSECRData::DS(ds)),
        ))
    }

    /// The zone's DNSKEY RRset (KSK first).
    pub fn dnskey_records(&self, ttl: u32) -> Vec<Record> {
        [&self.ksk, &self.zsk]
            .iter()
            .map(|k| {
                Record::from_rdata(
                    self.zone.clone(),
                    ttl,
                    RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey.clone())),
                )
            })
            .collect()
    }
}

/// Signs one RRset (all `records` share owner, type and class) with `key`
/// for `signer`; the RRSIG's owner and TTL are the RRset's.
pub fn sign_rrset(
    records: &[Record],
    key: &ZoneKey,
    signer: &Name,
    inception: u32,
    expiration: u32,
) -> Result<Record, SignError> {
    let first = records
        .first()
        .ok_or_else(|| SignError::Crypto("empty RRset".to_string()))?;
    let input = SigInput {
        type_covered: first.record_type(),
        algorithm: key.algorithm(),
        num_labels: first.name.num_labels(),
        original_ttl: first.ttl,
        sig_expiration: SerialNumber::new(expiration),
        sig_inception: SerialNumber::new(inception),
        key_tag: key.tag,
        signer_name: signer.clone(),
    };
    let tbs =
        TBS::from_input(&first.name, first.dns_class, &input, records.iter()).map_err(crypto)?;
    let sig = key.key.sign(&tbs).map_err(crypto)?;
    Ok(Record::from_rdata(
        first.name.clone(),
        first.ttl,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
    ))
}

/// True for the types a signer computes itself (dropped from its input).
fn signer_made(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3 | RecordType::NSEC3PARAM
    )
}

/// Signs a zone: returns its records plus the DNSKEY set, the NSEC chain
/// and every RRSIG. Old RRSIG/NSEC/NSEC3 records in `records` are dropped;
/// an existing DNSKEY set is replaced by `keys`.
pub fn sign_zone(
    zone: &Name,
    records: Vec<Record>,
    keys: &ZoneKeys,
    inception: u32,
    expiration: u32,
) -> Result<Vec<Record>, SignError> {
    let apex = zone.to_lowercase();
    let soa = records
        .iter()
        .find(|r| r.record_type() == RecordType::SOA && r.name == apex)
        .ok_or_else(|| SignError::NoSoa(apex.to_string()))?;
    let soa_ttl = soa.ttl;
    // RFC 9077: the NSEC TTL is the negative TTL, min(SOA TTL, MINIMUM).
    let nsec_ttl = match &soa.data {
        RData::SOA(s) => soa_ttl.min(s.minimum),
        _ => soa_ttl,
    };
    let mut sets: BTreeMap<Name, BTreeMap<RecordType, Vec<Record>>> = BTreeMap::new();
    let keep = records
        .into_iter()
        .filter(|r| !signer_made(r.record_type()) && r.record_type() != RecordType::DNSKEY)
        .chain(keys.dnskey_records(soa_ttl));
    for r in keep {
        let set = sets
            .entry(r.name.to_lowercase())
            .or_default()
            .entry(r.record_type())
            .or_default();
        if !set.iter().any(|x| x.data == r.data) {
            set.push(r);
        }
    }
    let cuts: BTreeSet<Name> = sets
        .iter()
        .filter(|(n, s)| **n != apex && s.contains_key(&RecordType::NS))
        .map(|(n, _)| n.clone())
        .collect();
    let below_cut = |n: &Name| cuts.iter().any(|c| c != n && c.zone_of(n));
    // Authoritative owners (and cuts), in canonical order (RFC 4034 §6.1).
    let owners: Vec<Name> = sets
        .keys()
        .filter(|n| apex.zone_of(n) && !below_cut(n))
        .cloned()
        .collect();
    let mut out = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        let Some(node) = sets.get_mut(owner) else {
            continue;
        };
        let is_cut = cuts.contains(owner);
        let next = owners.get(i + 1).unwrap_or(&apex).clone();
        let mut types: Vec<RecordType> = node
            .keys()
            .copied()
            .filter(|t| !is_cut || matches!(t, RecordType::NS | RecordType::DS))
            .collect();
        types.extend([RecordType::NSEC, RecordType::RRSIG]);
        let nsec = Record::from_rdata(
            owner.clone(),
            nsec_ttl,
            RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(next, types))),
        );
        node.insert(RecordType::NSEC, vec![nsec]);
        for (t, set) in node.iter_mut() {
            // TTLs inside one RRset must agree (RFC 2181 §5.2).
            let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(soa_ttl);
            set.iter_mut().for_each(|r| r.ttl = ttl);
            let signed = match t {
                _ if !is_cut => true,
                RecordType::DS | RecordType::NSEC => true,
                _ => false,
            };
            if signed {
                let key = match t {
                    RecordType::DNSKEY => &keys.ksk,
                    _ => &keys.zsk,
                };
                out.push(sign_rrset(set, key, &apex, inception, expiration)?);
            }
        }
    }
    let mut all: Vec<Record> = sets
        .into_values()
        .flat_map(|n| n.into_values())
        .flatten()
        .collect();
    all.extend(out);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::Verifier;
    use hickory_proto::rr::DNSClass;
    use std::str::FromStr;

    fn rec(text: &str) -> Record {
        let (owner, rest) = text.split_once(' ').unwrap();
        let (t, data) = rest.split_once(' ').unwrap();
        let t = RecordType::from_str(t).unwrap();
        let data = match t {
            RecordType::DS => RData::DNSSEC(DNSSECRData::DS(DS::new(
                1,
                Algorithm::ECDSAP256SHA256,
                DigestType::SHA256,
                vec![7; 32],
            ))),
            _ => RData::try_from_str(t, data).unwrap(),
        };
        Record::from_rdata(Name::from_ascii(owner).unwrap(), 300, data)
    }

    fn zone() -> Vec<Record> {
        [
            "example. SOA ns.example. h.example. 1 2 3 4 60",
            "example. NS ns.example.",
            "ns.example. A 192.0.2.1",
            "www.example. A 192.0.2.2",
            "www.example. A 192.0.2.3",
            "*.w.example. TXT wild",
            "a.b.c.example. A 192.0.2.4",
            "sub.example. NS ns.sub.example.",
            "sub.example. DS -",
            "ns.sub.example. A 192.0.2.5",
            "open.example. NS ns.open.example.",
            "ns.open.example. A 192.0.2.6",
        ]
        .iter()
        .map(|t| rec(t))
        .collect()
    }

    fn signed() -> (ZoneKeys, Vec<Record>) {
        let apex = Name::from_ascii("example.").unwrap();
        let keys = ZoneKeys::generate(&apex, Algorithm::ECDSAP256SHA256).unwrap();
        let out = sign_zone(&apex, zone(), &keys, 1_000, 2_000).unwrap();
        (keys, out)
    }

    fn rrsigs(out: &[Record]) -> Vec<(Name, RRSIG)> {
        out.iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some((r.name.clone(), s.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_signature_verifies_with_its_dnskey() {
        for alg in [Algorithm::ECDSAP256SHA256, Algorithm::ED25519] {
            let apex = Name::from_ascii("example.").unwrap();
            let keys = ZoneKeys::generate(&apex, alg).unwrap();
            let out = sign_zone(&apex, zone(), &keys, 1_000, 2_000).unwrap();
            let sigs = rrsigs(&out);
            assert!(sigs.len() > 8);
            for (owner, sig) in &sigs {
                let t = sig.input().type_covered;
                let key = match sig.input().key_tag {
                    x if x == keys.ksk.tag() => keys.ksk.dnskey(),
                    _ => keys.zsk.dnskey(),
                };
                let set: Vec<&Record> = out
                    .iter()
                    .filter(|r| r.name == *owner && r.record_type() == t)
                    .collect();
                key.verify_rrsig(owner, DNSClass::IN, sig, set.into_iter())
                    .unwrap_or_else(|e| panic!("{owner} {t}: {e}"));
                assert_eq!(sig.input().sig_inception.get(), 1_000);
                assert_eq!(sig.input().sig_expiration.get(), 2_000);
                assert_eq!(
                    t == RecordType::DNSKEY,
                    sig.input().key_tag == keys.ksk.tag()
                );
            }
        }
    }

    #[test]
    fn glue_and_delegation_ns_are_not_signed_ds_is() {
        let (_, out) = signed();
        let signed: BTreeSet<(String, RecordType)> = rrsigs(&out)
            .iter()
            .map(|(n, s)| (n.to_string(), s.input().type_covered))
            .collect();
        let has = |n: &str, t| signed.contains(&(n.to_string(), t));
        assert!(has("sub.example.", RecordType::DS));
        assert!(has("sub.example.", RecordType::NSEC));
        assert!(!has("sub.example.", RecordType::NS));
        assert!(!has("ns.sub.example.", RecordType::A));
        assert!(!has("open.example.", RecordType::NS));
        assert!(has("open.example.", RecordType::NSEC));
        assert!(has("example.", RecordType::NS));
        assert!(has("example.", RecordType::DNSKEY));
        assert!(has("*.w.example.", RecordType::TXT));
        let wild = rrsigs(&out)
            .into_iter()
            .find(|(n, _)| n.to_string() == "*.w.example.")
            .unwrap();
        assert_eq!(wild.1.input().num_labels, 2);
    }

    #[test]
    fn nsec_chain_is_sorted_closed_and_skips_glue() {
        let (_, out) = signed();
        let nsecs: Vec<(Name, NSEC)> = out
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(n)) => Some((r.name.clone(), n.clone())),
                _ => None,
            })
            .collect();
        let owners: Vec<String> = nsecs.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(
            owners,
            [
                "example.",
                "a.b.c.example.",
                "ns.example.",
                "open.example.",
                "sub.example.",
                "*.w.example.",
                "www.example.",
            ]
        );
        for (i, (_, n)) in nsecs.iter().enumerate() {
            let next = nsecs
                .get(i + 1)
                .map_or("example.".to_string(), |x| x.0.to_string());
            assert_eq!(n.next_domain_name().to_string(), next);
        }
        let types = |o: &str| -> Vec<RecordType> {
            let (_, n) = nsecs.iter().find(|(n, _)| n.to_string() == o).unwrap();
            n.type_bit_maps().collect()
        };
        let mut sub = types("sub.example.");
        sub.sort();
        let mut want = vec![
            RecordType::NS,
            RecordType::DS,
            RecordType::NSEC,
            RecordType::RRSIG,
        ];
        want.sort();
        assert_eq!(sub, want);
        assert!(!types("open.example.").contains(&RecordType::DS));
        assert!(types("example.").contains(&RecordType::DNSKEY));
        assert!(out
            .iter()
            .all(|r| r.record_type() != RecordType::NSEC || r.ttl == 60));
    }

    #[test]
    fn ds_matches_the_ksk() {
        let (keys, _) = signed();
        let ds = keys.ds(DigestType::SHA256).unwrap();
        assert_eq!(ds.key_tag(), keys.ksk.tag());
        assert_eq!(ds.digest().len(), 32);
        assert!(ds.covers(keys.zone(), keys.ksk.dnskey()).unwrap());
    }
}
