//! Fuzz entry point for signature checks: arbitrary RRsets, RRSIGs,
//! DNSKEYs and DS records (carried in a DNS message: answer = RRset and
//! its RRSIGs, authority = DNSKEYs and theirs, additional = DS) through
//! RRset and DNSKEY-set verification. A verdict comes back within the
//! work budget, and a verified RRset's TTL is no more than its own.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKey};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dnssec::verify::{
    dnskey_of, rrsig_of, verify_dnskeys_with_ds, verify_rrset, KeyCheck, VerifyOptions,
};
use crate::dnssec::Budget;

/// The time the checks run at: the seed's signatures are valid then.
const NOW: u32 = 1_700_000_000;

fn split(records: &[Record]) -> (Vec<Record>, Vec<Record>) {
    records
        .iter()
        .cloned()
        .partition(|r| r.record_type() != RecordType::RRSIG)
}

/// Checks the message's RRset and DNSKEY set; the header ID's low byte is
/// the verification budget.
pub fn dnssec_verify(data: &[u8]) {
    let _ = dnssec_check(data);
}

/// `dnssec_verify`, returning whether the RRset verified and whether the
/// DNSKEY set was found secure.
pub fn dnssec_check(data: &[u8]) -> Option<(bool, bool)> {
    let msg = crate::wire::parse_reply(data).ok()?.message;
    let max = u32::from(msg.metadata.id & 0xff);
    let opts = VerifyOptions {
        legacy_dsa: msg.metadata.id & 0x100 != 0,
        legacy_small_rsa: msg.metadata.id & 0x200 != 0,
    };
    let (data_records, data_sigs) = split(&msg.answers);
    let (key_records, key_sigs) = split(&msg.authorities);
    let keys: Vec<DNSKEY> = key_records.iter().filter_map(dnskey_of).cloned().collect();
    let zone = key_records
        .first()
        .map(|r| r.name.clone())
        .or_else(|| {
            data_sigs
                .iter()
                .find_map(rrsig_of)
                .map(|s| s.input().signer_name.clone())
        })
        .unwrap_or_else(Name::root);
    let mut budget = Budget::new(max);
    let mut verdict = (false, false);
    if let Some(first) = data_records.first() {
        let rrset: Vec<Record> = data_records
            .iter()
            .filter(|r| r.name == first.name && r.record_type() == first.record_type())
            .cloned()
            .collect();
        let result = verify_rrset(&rrset, &data_sigs, &keys, &zone, NOW, &opts, &mut budget);
        if let Ok(v) = result {
            verdict.0 = true;
            let own = rrset.iter().map(|r| r.ttl).min().unwrap_or(0);
            assert!(
                v.ttl <= own,
                "verified TTL {} above the RRset's {own}",
                v.ttl
            );
        }
    }
    let ds: Vec<DS> = msg
        .additionals
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds.clone()),
            _ => None,
        })
        .collect();
    if !key_records.is_empty() {
        let check =
            verify_dnskeys_with_ds(&zone, &key_records, &key_sigs, &ds, NOW, &opts, &mut budget);
        if let KeyCheck::Secure { keys: trusted, .. } = check {
            verdict.1 = true;
            assert!(
                trusted.iter().all(|k| keys.contains(k)),
                "a key not in the set"
            );
        }
    }
    assert!(
        budget.verifications_done <= max,
        "{} verifications, budget {max}",
        budget.verifications_done
    );
    Some(verdict)
}

/// A message `dnssec_verify` finds valid: an A RRset signed by a ZSK, the
/// DNSKEY set signed by the KSK, and the KSK's DS (for seeding the corpus).
pub fn dnssec_seed() -> Option<Vec<u8>> {
    use crate::dnssec::sign::{sign_rrset, ZoneKeys};
    let zone = Name::from_ascii("example.test.").ok()?;
    let keys = ZoneKeys::generate(&zone, Algorithm::ECDSAP256SHA256).ok()?;
    let www = Name::from_ascii("www.example.test.").ok()?;
    let a = Record::from_rdata(
        www,
        300,
        RData::A(std::net::Ipv4Addr::new(192, 0, 2, 80).into()),
    );
    let (inception, expiration) = (NOW - 86_400, NOW + 86_400);
    let a_sig = sign_rrset(
        std::slice::from_ref(&a),
        &keys.zsk,
        &zone,
        inception,
        expiration,
    );
    let dnskeys: Vec<Record> = [&keys.ksk, &keys.zsk]
        .iter()
        .map(|k| {
            let data = RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey().clone()));
            Record::from_rdata(zone.clone(), 3600, data)
        })
        .collect();
    let key_sig = sign_rrset(&dnskeys, &keys.ksk, &zone, inception, expiration).ok()?;
    let ksk = keys.ksk.dnskey();
    let digest = ksk.to_digest(&zone, DigestType::SHA256).ok()?;
    let ds = DS::new(
        keys.ksk.tag(),
        ksk.public_key().algorithm(),
        DigestType::SHA256,
        digest.as_ref().to_vec(),
    );
    let mut m = Message::new(0x0010, MessageType::Response, OpCode::Query);
    m.answers = vec![a, a_sig.ok()?];
    m.authorities = dnskeys;
    m.authorities.push(key_sig);
    m.additionals = vec![Record::from_rdata(
        zone,
        3600,
        RData::DNSSEC(DNSSECRData::DS(ds)),
    )];
    m.to_vec().ok()
}
