//! `tern lab --dnssec`: signs the lab's zones at start (RFC 4033-4035).
//! Every zone gets fresh keys (algorithm 13) and is signed with an NSEC
//! chain; each signed child's DS goes into its parent zone (RFC 4034 §5);
//! the root's KSK becomes the lab's trust anchor (a DS record in zone-file
//! syntax, as Unbound's `trust-anchor-file` reads). Two deliberate faults
//! give validators something to reject and something to pass unchecked:
//!
//! - `bogus.example.lab` A is signed, then its signature bytes flipped, so
//!   it never verifies (bogus, RFC 4035 §5.5);
//! - `cdn.net` is not signed and `net` has no DS for it, so it is provably
//!   insecure (RFC 4035 §5.2): its CDN answers are computed per query and
//!   could carry no signature anyway.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::LabError;
use crate::dnssec::sign::{sign_zone, SignError, ZoneKeys};
use crate::zone::file::SourcedRecord;
use crate::zone::Zone;

/// The zone left unsigned (an insecure delegation from `net.`).
pub const UNSIGNED_ZONE: &str = "cdn.net.";
/// The name whose signature is corrupted on purpose.
pub const BOGUS_NAME: &str = "bogus.example.lab.";
/// Its address.
pub const BOGUS_ADDR: [u8; 4] = [192, 0, 2, 66];
/// Signatures start this long before the lab starts (clock skew).
pub const INCEPTION_BEFORE_SECS: u32 = 3600;
/// And end this long after.
pub const VALIDITY_SECS: u32 = 30 * 86_400;
/// TTL of the DS records placed in parents.
const DS_TTL: u32 = 3600;

/// The lab's zones after signing, by origin, and the trust anchor text.
#[derive(Debug)]
pub struct SignedLab {
    pub zones: BTreeMap<Name, Zone>,
    /// The root KSK's DS in zone-file syntax.
    pub anchor: String,
}

fn sign_err(e: SignError) -> LabError {
    LabError::Other(format!("signing the lab: {e}"))
}

/// Signs `zones` (one per origin) at Unix time `now`.
pub fn sign_lab(zones: &[Zone], now: u32) -> Result<SignedLab, LabError> {
    let unsigned = Name::from_ascii(UNSIGNED_ZONE).map_err(|e| LabError::Other(e.to_string()))?;
    let mut keys: BTreeMap<Name, ZoneKeys> = BTreeMap::new();
    let mut records: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
    for z in zones {
        let origin = z.origin().clone();
        records.insert(origin.clone(), z.all_records());
        if origin != unsigned {
            let k = ZoneKeys::generate(&origin, Algorithm::ECDSAP256SHA256).map_err(sign_err)?;
            keys.insert(origin, k);
        }
    }
    if let Some(set) = records.get_mut(&Name::from_ascii("example.lab.").unwrap_or_default()) {
        let owner = Name::from_ascii(BOGUS_NAME).map_err(|e| LabError::Other(e.to_string()))?;
        set.push(Record::from_rdata(
            owner,
            3600,
            RData::A(A::from(std::net::Ipv4Addr::from(BOGUS_ADDR))),
        ));
    }
    // DS of each signed child in its closest loaded parent.
    for (child, k) in &keys {
        if child.is_root() {
            continue;
        }
        let parent = records
            .keys()
            .filter(|p| *p != child && p.zone_of(child))
            .max_by_key(|p| p.num_labels())
            .cloned();
        if let Some(set) = parent.and_then(|p| records.get_mut(&p)) {
            set.push(k.ds_record(DS_TTL, DigestType::SHA256).map_err(sign_err)?);
        }
    }
    let inception = now.saturating_sub(INCEPTION_BEFORE_SECS);
    let expiration = now.saturating_add(VALIDITY_SECS);
    let mut out = BTreeMap::new();
    for z in zones {
        let origin = z.origin();
        let mut set = records.remove(origin).unwrap_or_default();
        if let Some(k) = keys.get(origin) {
            set = sign_zone(origin, set, k, inception, expiration).map_err(sign_err)?;
            corrupt_bogus(&mut set);
        }
        let sourced = set
            .into_iter()
            .map(|record| SourcedRecord {
                record,
                file: z.source().to_path_buf(),
                line: 0,
                via: Vec::new(),
            })
            .collect();
        let signed = Zone::from_records(z.source(), Some(origin.clone()), sourced)?;
        out.insert(origin.clone(), signed);
    }
    let root = keys
        .get(&Name::root())
        .ok_or_else(|| LabError::Other("the lab has no root zone to anchor".to_string()))?;
    Ok(SignedLab {
        zones: out,
        anchor: anchor_text(root)?,
    })
}

/// Flips the bytes of every signature over `bogus.example.lab` A.
fn corrupt_bogus(records: &mut [Record]) {
    let bogus = Name::from_ascii(BOGUS_NAME).unwrap_or_default();
    for r in records.iter_mut().filter(|r| r.name == bogus) {
        if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data {
            if sig.input().type_covered == RecordType::A {
                let flipped: Vec<u8> = sig.sig().iter().map(|b| !b).collect();
                let bad = RRSIG::from_sig(sig.input().clone(), flipped);
                r.data = RData::DNSSEC(DNSSECRData::RRSIG(bad));
            }
        }
    }
}

/// The root KSK's DS as one zone-file line.
fn anchor_text(root: &ZoneKeys) -> Result<String, LabError> {
    let ds = root.ds(DigestType::SHA256).map_err(sign_err)?;
    let mut hex = String::new();
    for b in ds.digest() {
        let _ = write!(hex, "{b:02X}");
    }
    Ok(format!(
        "; the tern lab's root trust anchor (generated at start)\n. {DS_TTL} IN DS {} {} {} {hex}\n",
        ds.key_tag(),
        u8::from(ds.algorithm()),
        u8::from(ds.digest_type()),
    ))
}

/// Writes the anchor file into the run directory.
pub fn write_anchor(run_dir: &std::path::Path, text: &str) -> Result<PathBuf, LabError> {
    let path = run_dir.join("root.anchor");
    std::fs::write(&path, text).map_err(|e| LabError::Other(format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::ZoneSet;
    use std::path::Path;

    #[test]
    fn lab_zones_are_signed_with_ds_in_parents_and_one_insecure_delegation() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        let set = ZoneSet::load_paths(&[dir]).unwrap();
        let signed = sign_lab(set.zones(), 1_800_000_000).unwrap();
        let zone = |n: &str| signed.zones.get(&Name::from_ascii(n).unwrap()).unwrap();
        let name = |n: &str| Name::from_ascii(n).unwrap();
        assert!(zone("com.")
            .rrset(&name("example.com."), RecordType::DS)
            .is_some());
        assert!(zone("lab.")
            .rrset(&name("example.lab."), RecordType::DS)
            .is_some());
        assert!(zone(".").rrset(&name("lab."), RecordType::DS).is_some());
        assert!(zone("net.")
            .rrset(&name("cdn.net."), RecordType::DS)
            .is_none());
        assert!(zone("net.")
            .rrset(&name("cdn.net."), RecordType::NSEC)
            .is_some());
        assert!(zone("cdn.net.")
            .rrset(&name("cdn.net."), RecordType::DNSKEY)
            .is_none());
        let bogus = zone("example.lab.").rrsigs(&name(BOGUS_NAME), RecordType::A);
        assert_eq!(bogus.len(), 1);
        assert!(signed.anchor.contains(". 3600 IN DS "), "{}", signed.anchor);
    }
}
