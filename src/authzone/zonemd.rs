//! ZONEMD (RFC 8976): the digest of a whole zone, checked when an auth
//! zone is loaded. The SIMPLE scheme (§3.3.1): every record of the zone in
//! canonical form (RFC 4034 §6.2) and canonical order (§6.1, then type,
//! then RDATA), duplicates once, leaving out the apex ZONEMD RRset and the
//! RRSIGs over it, hashed with SHA-384 or SHA-512 (§5.3). Verification
//! follows §4: the apex ZONEMD records whose serial matches the SOA's and
//! whose scheme and algorithm we know are compared; one match suffices.

use std::cmp::Ordering;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use sha2::{Digest, Sha384, Sha512};

use crate::dnssec::nsec::canonical_cmp;
use crate::zone::Zone;

/// The ZONEMD type code (RFC 8976 §2; hickory has no name for it).
pub const ZONEMD: RecordType = RecordType::Unknown(63);

/// The SIMPLE collation scheme (§5.2).
const SCHEME_SIMPLE: u8 = 1;
/// Hash algorithms (§5.3).
const HASH_SHA384: u8 = 1;
const HASH_SHA512: u8 = 2;
/// Digests shorter than this are refused (§2.2.4).
const MIN_DIGEST_LEN: usize = 12;

/// Why a zone fails its ZONEMD check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZonemdError {
    #[error("the zone has no ZONEMD record")]
    Absent,
    #[error("ZONEMD serial {zonemd} differs from the SOA serial {soa}")]
    SerialMismatch { zonemd: u32, soa: u32 },
    #[error("ZONEMD record malformed: {0}")]
    Malformed(String),
    #[error("more than one ZONEMD record with scheme {scheme} and hash {hash}")]
    Duplicate { scheme: u8, hash: u8 },
    #[error("ZONEMD digest (scheme {scheme}, hash {hash}) does not match the zone")]
    Mismatch { scheme: u8, hash: u8 },
    #[error("cannot encode {0} for the digest")]
    Encode(String),
}

/// One parsed ZONEMD record (§2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonemdRecord {
    pub serial: u32,
    pub scheme: u8,
    pub hash: u8,
    pub digest: Vec<u8>,
}

impl ZonemdRecord {
    /// Reads the RDATA of a ZONEMD record.
    pub fn parse(rdata: &[u8]) -> Result<ZonemdRecord, ZonemdError> {
        let (head, digest) = rdata
            .split_at_checked(6)
            .ok_or_else(|| ZonemdError::Malformed(format!("{} octets of RDATA", rdata.len())))?;
        let [a, b, c, d, scheme, hash] = <[u8; 6]>::try_from(head)
            .map_err(|_| ZonemdError::Malformed("short RDATA".to_string()))?;
        Ok(ZonemdRecord {
            serial: u32::from_be_bytes([a, b, c, d]),
            scheme,
            hash,
            digest: digest.to_vec(),
        })
    }

    /// The wire RDATA (serial, scheme, hash algorithm, digest).
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut out = self.serial.to_be_bytes().to_vec();
        out.push(self.scheme);
        out.push(self.hash);
        out.extend(&self.digest);
        out
    }

    fn supported(&self) -> bool {
        self.scheme == SCHEME_SIMPLE && matches!(self.hash, HASH_SHA384 | HASH_SHA512)
    }
}

/// The raw RDATA of a record (ZONEMD is kept as an unknown type).
fn raw_rdata(r: &Record) -> Result<Vec<u8>, ZonemdError> {
    let mut buf = Vec::new();
    let mut enc = BinEncoder::new(&mut buf);
    r.data
        .emit(&mut enc)
        .map_err(|e| ZonemdError::Encode(e.to_string()))?;
    Ok(buf)
}

/// The apex ZONEMD records of `zone`.
pub fn records(zone: &Zone) -> Result<Vec<ZonemdRecord>, ZonemdError> {
    zone.rrset(zone.origin(), ZONEMD)
        .into_iter()
        .flatten()
        .map(|r| ZonemdRecord::parse(&raw_rdata(r)?))
        .collect()
}

/// Whether `r` is left out of the digest: the apex ZONEMD RRset and the
/// apex RRSIGs covering it (§3.1).
fn excluded(r: &Record, apex: &Name) -> bool {
    if &r.name != apex {
        return false;
    }
    match &r.data {
        _ if r.record_type() == ZONEMD => true,
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => sig.input().type_covered == ZONEMD,
        _ => false,
    }
}

/// One record in canonical wire form (RFC 4034 §6.2): owner in lower case,
/// names uncompressed, the record's TTL.
fn canonical_rr(r: &Record) -> Result<Vec<u8>, ZonemdError> {
    let mut rdata = Vec::new();
    {
        let mut enc = BinEncoder::new(&mut rdata);
        enc.set_canonical_form(true);
        enc.set_name_encoding(NameEncoding::UncompressedLowercase);
        r.data
            .emit(&mut enc)
            .map_err(|e| ZonemdError::Encode(format!("{} {}: {e}", r.name, r.record_type())))?;
    }
    let mut out = Vec::with_capacity(rdata.len() + 64);
    for label in r.name.to_lowercase().iter() {
        out.push(u8::try_from(label.len()).map_err(|_| ZonemdError::Encode(r.name.to_string()))?);
        out.extend(label);
    }
    out.push(0);
    out.extend(u16::from(r.record_type()).to_be_bytes());
    out.extend(u16::from(r.dns_class).to_be_bytes());
    out.extend(r.ttl.to_be_bytes());
    let len = u16::try_from(rdata.len()).map_err(|_| ZonemdError::Encode(r.name.to_string()))?;
    out.extend(len.to_be_bytes());
    out.extend(rdata);
    Ok(out)
}

/// The zone's records in canonical form and order, ZONEMD left out.
fn canonical_records(zone: &Zone) -> Result<Vec<Vec<u8>>, ZonemdError> {
    let mut records: Vec<Record> = zone
        .all_records()
        .into_iter()
        .filter(|r| !excluded(r, zone.origin()))
        .collect();
    records.sort_by(|a, b| {
        canonical_cmp(&a.name, &b.name)
            .then_with(|| u16::from(a.record_type()).cmp(&u16::from(b.record_type())))
    });
    // Within one owner and type: by canonical RDATA (§6.3), once each.
    let mut out: Vec<(Name, u16, Vec<u8>)> = Vec::with_capacity(records.len());
    for r in &records {
        out.push((r.name.clone(), u16::from(r.record_type()), canonical_rr(r)?));
    }
    out.sort_by(|a, b| match canonical_cmp(&a.0, &b.0) {
        Ordering::Equal => {
            a.1.cmp(&b.1)
                .then_with(|| rdata_of(&a.2).cmp(rdata_of(&b.2)))
        }
        o => o,
    });
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && rdata_of(&a.2) == rdata_of(&b.2));
    Ok(out.into_iter().map(|(_, _, w)| w).collect())
}

/// The RDATA part of a canonical record: after owner, type, class, TTL and
/// length.
fn rdata_of(wire: &[u8]) -> &[u8] {
    let mut at = 0usize;
    while let Some(&len) = wire.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    wire.get(at + 10..).unwrap_or_default()
}

/// The zone's digest with `hash` (SIMPLE scheme), None for an algorithm
/// we do not know.
pub fn digest(zone: &Zone, hash: u8) -> Result<Option<Vec<u8>>, ZonemdError> {
    let records = canonical_records(zone)?;
    let out = match hash {
        HASH_SHA384 => {
            let mut h = Sha384::new();
            records.iter().for_each(|r| h.update(r));
            h.finalize().to_vec()
        }
        HASH_SHA512 => {
            let mut h = Sha512::new();
            records.iter().for_each(|r| h.update(r));
            h.finalize().to_vec()
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Checks the zone's ZONEMD records (RFC 8976 §4). Without any, the zone
/// passes unless `reject_absent`. Records of a scheme or algorithm we do
/// not know are passed over; if no known one is left the zone passes (as
/// a verifier that cannot check must, §4 step 5).
pub fn verify(zone: &Zone, reject_absent: bool) -> Result<(), ZonemdError> {
    let all = records(zone)?;
    if all.is_empty() {
        return if reject_absent {
            Err(ZonemdError::Absent)
        } else {
            Ok(())
        };
    }
    let soa_serial = match zone.soa().map(|r| &r.data) {
        Some(RData::SOA(soa)) => soa.serial,
        _ => 0,
    };
    let mut last_error = None;
    let mut checked = false;
    for r in &all {
        if r.serial != soa_serial {
            last_error = Some(ZonemdError::SerialMismatch {
                zonemd: r.serial,
                soa: soa_serial,
            });
            continue;
        }
        if !r.supported() {
            continue;
        }
        checked = true;
        let same = all
            .iter()
            .filter(|o| o.scheme == r.scheme && o.hash == r.hash)
            .count();
        if same > 1 {
            last_error = Some(ZonemdError::Duplicate {
                scheme: r.scheme,
                hash: r.hash,
            });
            continue;
        }
        if r.digest.len() < MIN_DIGEST_LEN {
            last_error = Some(ZonemdError::Malformed(format!(
                "digest of {} octets",
                r.digest.len()
            )));
            continue;
        }
        if digest(zone, r.hash)?.as_deref() == Some(r.digest.as_slice()) {
            return Ok(());
        }
        last_error = Some(ZonemdError::Mismatch {
            scheme: r.scheme,
            hash: r.hash,
        });
    }
    match last_error {
        Some(e) if checked || matches!(e, ZonemdError::SerialMismatch { .. }) => Err(e),
        _ => Ok(()),
    }
}
