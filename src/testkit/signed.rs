//! A signed scripted network for validator tests and benches (RFC
//! 4033-4035): the root, `test.` and three zones below it, every signed
//! zone signed by `dnssec::sign` with its DS in the parent and the root's
//! KSK as the trust anchor. Servers answer through `zone::answer`, so DO=1
//! queries get RRSIGs, NSEC proofs and DS (or no-DS proofs) in referrals.
//!
//! - `example.test.` (198.51.100.3): signed; `bogus.example.test` A has
//!   its signature bytes flipped (bogus, RFC 4035 §5.5) and
//!   `expired.example.test` A a signature that expired before `UNIX_NOW`
//!   (EDE 7); `*.wild.example.test` TXT is a wildcard.
//! - `insecure.test.` (198.51.100.4): unsigned, `test.` has no DS for it,
//!   so its NSEC proves an insecure delegation (RFC 4035 §5.2).
//! - `trap.test.` (198.51.100.5): KeyTrap (CVE-2023-50387): `TRAP_KEYS`
//!   extra DNSKEYs share the ZSK's key tag and `www.trap.test` A carries
//!   `TRAP_RRSIGS` RRSIGs naming that tag, none of which verifies.
//! - `two.test.` (198.51.100.6 and .7): signed, two servers with the same
//!   keys and records, but the one at `TWO_BAD_IP` serves `www.two.test`
//!   A with its signature bytes flipped: one bad replica among good ones,
//!   for the validator's set-aside-and-retry (Unbound's blacklisting).
//!
//! Signatures hold from `INCEPTION` to `EXPIRATION`; a `ManualClock` at
//! `UNIX_NOW` (what `SignedNet::new` makes) is inside that window.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{small_hints, Server, SmallResolver, TestNet};
use crate::clock::ManualClock;
use crate::config::{Config, DnssecConfig};
use crate::dnssec::sign::{sign_rrset, sign_zone, ZoneKeys, ZSK_FLAGS};
use crate::zone::file::SourcedRecord;
use crate::zone::{Zone as AuthZone, ZoneSet};

/// The wall clock the network is signed for.
pub const UNIX_NOW: u64 = 1_700_000_000;
/// Signatures start an hour before `UNIX_NOW` ...
pub const INCEPTION: u32 = 1_700_000_000 - 3600;
/// ... and end 30 days after it.
pub const EXPIRATION: u32 = 1_700_000_000 + 30 * 86_400;

pub const SIGNED_ZONE: &str = "example.test.";
pub const SECURE_NAME: &str = "www.example.test.";
pub const BOGUS_NAME: &str = "bogus.example.test.";
pub const EXPIRED_NAME: &str = "expired.example.test.";
pub const INSECURE_ZONE: &str = "insecure.test.";
pub const INSECURE_NAME: &str = "www.insecure.test.";
/// A signed name of the TLD, outside `example.test.`.
pub const TLD_NAME: &str = "host.test.";
pub const TRAP_ZONE: &str = "trap.test.";
pub const TRAP_NAME: &str = "www.trap.test.";
/// DNSKEYs added to `trap.test.` with the ZSK's key tag.
pub const TRAP_KEYS: usize = 30;
/// RRSIGs over `www.trap.test` A, all naming the ZSK's key tag.
pub const TRAP_RRSIGS: usize = 30;
pub const TWO_ZONE: &str = "two.test.";
/// Secure at `TWO_GOOD_IP`, bogus at `TWO_BAD_IP`.
pub const TWO_NAME: &str = "www.two.test.";
/// The `two.test.` server with good signatures (`ns1.two.test`).
pub const TWO_GOOD_IP: &str = "198.51.100.6";
/// The `two.test.` server whose `TWO_NAME` A signature is corrupted
/// (`ns2.two.test`).
pub const TWO_BAD_IP: &str = "198.51.100.7";

const TTL: u32 = 3600;

/// (origin, server addresses, signed, zone text).
const ZONES: [(&str, &[&str], bool, &str); 6] = [
    (
        ".",
        &["198.51.100.1"],
        true,
        "@ SOA a.root. h.root. 1 3600 600 86400 300\n@ NS a.root.\na.root. A 198.51.100.1\n\
         test. NS ns.test.\nns.test. A 198.51.100.2\n",
    ),
    (
        "test.",
        &["198.51.100.2"],
        true,
        "@ SOA ns.test. h.test. 1 3600 600 86400 300\n@ NS ns.test.\nns A 198.51.100.2\n\
         host A 192.0.2.1\nexample NS ns.example.test.\nns.example A 198.51.100.3\n\
         insecure NS ns.insecure.test.\nns.insecure A 198.51.100.4\n\
         trap NS ns.trap.test.\nns.trap A 198.51.100.5\n\
         two NS ns1.two.test.\ntwo NS ns2.two.test.\n\
         ns1.two A 198.51.100.6\nns2.two A 198.51.100.7\n",
    ),
    (
        "example.test.",
        &["198.51.100.3"],
        true,
        "@ SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 198.51.100.3\n\
         www A 192.0.2.80\nwww AAAA 2001:db8::80\nmail A 192.0.2.25\n@ MX 10 mail\n\
         web CNAME www\n*.wild TXT \"wild\"\nbogus A 192.0.2.66\nexpired A 192.0.2.67\n",
    ),
    (
        "insecure.test.",
        &["198.51.100.4"],
        false,
        "@ SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 198.51.100.4\nwww A 192.0.2.90\n",
    ),
    (
        "trap.test.",
        &["198.51.100.5"],
        true,
        "@ SOA ns h 1 3600 600 86400 300\n@ NS ns\nns A 198.51.100.5\nwww A 192.0.2.100\n",
    ),
    (
        "two.test.",
        &[TWO_GOOD_IP, TWO_BAD_IP],
        true,
        "@ SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\n@ NS ns2\n\
         ns1 A 198.51.100.6\nns2 A 198.51.100.7\nwww A 192.0.2.110\n",
    ),
];

/// The signed network, its clock and the root's trust anchor.
pub struct SignedNet {
    pub net: Arc<TestNet>,
    pub clock: Arc<ManualClock>,
    /// The root KSK's DS as one zone-file line.
    pub anchor: String,
}

fn name(s: &str) -> Result<Name, String> {
    Name::from_ascii(s).map_err(|e| format!("{s}: {e}"))
}

impl SignedNet {
    /// Generates keys, signs every zone and starts the servers, with a
    /// manual clock at `UNIX_NOW`.
    pub fn new() -> Result<SignedNet, String> {
        let clock = Arc::new(ManualClock::new(UNIX_NOW));
        let net = Arc::new(TestNet::new(Some(clock.clone())));
        let mut records: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
        let mut keys: BTreeMap<Name, ZoneKeys> = BTreeMap::new();
        for (origin, _, signed, text) in ZONES {
            let apex = name(origin)?;
            records.insert(apex.clone(), super::Zone::parse(origin, text)?.records);
            if signed {
                let k = ZoneKeys::generate(&apex, Algorithm::ECDSAP256SHA256)
                    .map_err(|e| e.to_string())?;
                keys.insert(apex, k);
            }
        }
        // Each signed child's DS in its parent (all parents are loaded).
        for (child, k) in keys.iter().filter(|(c, _)| !c.is_root()) {
            let ds = k
                .ds_record(TTL, DigestType::SHA256)
                .map_err(|e| e.to_string())?;
            if let Some(set) = records.get_mut(&child.base_name()) {
                set.push(ds);
            }
        }
        for (origin, ips, _, _) in ZONES {
            let apex = name(origin)?;
            let mut set = records.remove(&apex).unwrap_or_default();
            if let Some(k) = keys.get(&apex) {
                set = sign_zone(&apex, set, k, INCEPTION, EXPIRATION).map_err(|e| e.to_string())?;
                fault(&apex, &mut set, k)?;
            }
            for ip in ips {
                let mut copy = set.clone();
                server_fault(ip, &mut copy)?;
                net.add(ip, auth_server(origin, &apex, copy)?);
            }
        }
        let root = keys
            .get(&Name::root())
            .ok_or_else(|| "the signed network has no root keys".to_string())?;
        Ok(SignedNet {
            net,
            clock,
            anchor: anchor_line(root)?,
        })
    }

    /// A validating configuration whose only trust anchor is this
    /// network's root KSK.
    pub fn config(&self) -> Config {
        Config {
            dnssec: DnssecConfig {
                validate: true,
                builtin_root_anchors: false,
                trust_anchors: vec![self.anchor.clone()],
                ..DnssecConfig::default()
            },
            ..Config::default()
        }
    }

    /// A fresh resolver (empty cache) with `config` on this network.
    pub fn resolver(&self, config: Config) -> SmallResolver {
        crate::engine::Resolver::with_hints(
            Arc::new(config),
            small_hints(),
            self.net.clone(),
            self.clock.clone(),
        )
    }
}

/// A server answering `set` (the zone `apex`) through `zone::answer`.
fn auth_server(origin: &str, apex: &Name, set: Vec<Record>) -> Result<Server, String> {
    let sourced = set
        .into_iter()
        .map(|record| SourcedRecord {
            record,
            file: Path::new("testkit").join(origin),
            line: 0,
            via: Vec::new(),
        })
        .collect();
    let zone = AuthZone::from_records(Path::new("testkit"), Some(apex.clone()), sourced)
        .map_err(|e| e.to_string())?;
    let zones = ZoneSet::new(vec![zone]).map_err(|e| e.to_string())?;
    Ok(Server {
        auth: Some(Arc::new(zones)),
        ..Server::default()
    })
}

/// The deliberate faults of one server's copy of its zone (after
/// signing, on top of the zone's own faults).
fn server_fault(ip: &str, set: &mut [Record]) -> Result<(), String> {
    if ip == TWO_BAD_IP {
        corrupt(set, &name(TWO_NAME)?, RecordType::A);
    }
    Ok(())
}

/// The deliberate faults of each zone, applied after signing.
fn fault(apex: &Name, set: &mut Vec<Record>, keys: &ZoneKeys) -> Result<(), String> {
    if *apex == name(SIGNED_ZONE)? {
        corrupt(set, &name(BOGUS_NAME)?, RecordType::A);
        // Valid for a day, a day before `UNIX_NOW`.
        let expired = name(EXPIRED_NAME)?;
        let rrset = rrset_of(set, &expired, RecordType::A);
        let sig = sign_rrset(&rrset, &keys.zsk, apex, INCEPTION - 86_400, INCEPTION)
            .map_err(|e| e.to_string())?;
        replace_sigs(set, &expired, RecordType::A, vec![sig]);
    } else if *apex == name(TRAP_ZONE)? {
        key_trap(apex, set, keys)?;
    }
    Ok(())
}

/// Adds `TRAP_KEYS` DNSKEYs with the ZSK's tag (re-signing the DNSKEY
/// set with the KSK, so the keys themselves are trusted) and replaces the
/// RRSIG of `TRAP_NAME` A with `TRAP_RRSIGS` that name that tag and fail.
fn key_trap(apex: &Name, set: &mut Vec<Record>, keys: &ZoneKeys) -> Result<(), String> {
    let tag = keys.zsk.tag();
    let fakes = (0..TRAP_KEYS).filter_map(|i| colliding_key(tag, i as u64 + 1));
    set.extend(
        fakes.map(|k| Record::from_rdata(apex.clone(), TTL, RData::DNSSEC(DNSSECRData::DNSKEY(k)))),
    );
    let dnskeys = rrset_of(set, apex, RecordType::DNSKEY);
    let sig =
        sign_rrset(&dnskeys, &keys.ksk, apex, INCEPTION, EXPIRATION).map_err(|e| e.to_string())?;
    replace_sigs(set, apex, RecordType::DNSKEY, vec![sig]);
    let owner = name(TRAP_NAME)?;
    let rrset = rrset_of(set, &owner, RecordType::A);
    let real =
        sign_rrset(&rrset, &keys.zsk, apex, INCEPTION, EXPIRATION).map_err(|e| e.to_string())?;
    let RData::DNSSEC(DNSSECRData::RRSIG(real)) = &real.data else {
        return Err("the signer made no RRSIG".to_string());
    };
    let sigs = (0..TRAP_RRSIGS)
        .map(|i| {
            let bytes = pseudo_random(1000 + i as u64, 64);
            let sig = RRSIG::from_sig(real.input().clone(), bytes);
            Record::from_rdata(owner.clone(), TTL, RData::DNSSEC(DNSSECRData::RRSIG(sig)))
        })
        .collect();
    replace_sigs(set, &owner, RecordType::A, sigs);
    Ok(())
}

/// A ZSK-flagged algorithm-13 DNSKEY of made-up key bytes (no point on
/// the curve, so nothing verifies with it) whose key tag is `tag`: the
/// tag is a checksum (RFC 4034 Appendix B), so the last two key bytes,
/// added as one 16-bit word, can be chosen to hit it.
pub fn colliding_key(tag: u16, seed: u64) -> Option<DNSKEY> {
    let mut key = pseudo_random(seed, 64);
    let [f1, f0] = ZSK_FLAGS.to_be_bytes();
    let head = [f1, f0, 3, 13];
    let body = key.get(..62)?;
    let base: u32 = head
        .iter()
        .chain(body)
        .enumerate()
        .map(|(i, b)| u32::from(*b) << if i % 2 == 0 { 8 } else { 0 })
        .sum();
    let fold = |ac: u32| ((ac + (ac >> 16)) & 0xffff) as u16;
    let word = (0..=u16::MAX).find(|w| fold(base + u32::from(*w)) == tag)?;
    let [hi, lo] = word.to_be_bytes();
    *key.get_mut(62)? = hi;
    *key.get_mut(63)? = lo;
    let dnskey = DNSKEY::with_flags(
        ZSK_FLAGS,
        PublicKeyBuf::new(key, Algorithm::ECDSAP256SHA256),
    );
    (dnskey.calculate_key_tag().ok()? == tag).then_some(dnskey)
}

/// Deterministic filler bytes (xorshift), so fixtures are reproducible.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn covered(r: &Record) -> Option<RecordType> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().type_covered),
        _ => None,
    }
}

fn rrset_of(set: &[Record], owner: &Name, t: RecordType) -> Vec<Record> {
    set.iter()
        .filter(|r| r.name == *owner && r.record_type() == t)
        .cloned()
        .collect()
}

/// Drops the RRSIGs over (owner, t) and adds `sigs`.
fn replace_sigs(set: &mut Vec<Record>, owner: &Name, t: RecordType, sigs: Vec<Record>) {
    set.retain(|r| !(r.name == *owner && covered(r) == Some(t)));
    set.extend(sigs);
}

/// Flips every byte of the signatures over (owner, t).
fn corrupt(set: &mut [Record], owner: &Name, t: RecordType) {
    for r in set.iter_mut().filter(|r| r.name == *owner) {
        if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data {
            if sig.input().type_covered == t {
                let flipped: Vec<u8> = sig.sig().iter().map(|b| !b).collect();
                let bad = RRSIG::from_sig(sig.input().clone(), flipped);
                r.data = RData::DNSSEC(DNSSECRData::RRSIG(bad));
            }
        }
    }
}

/// The root KSK's DS in zone-file syntax, as `[dnssec] trust_anchors`
/// takes it.
fn anchor_line(root: &ZoneKeys) -> Result<String, String> {
    let ds = root.ds(DigestType::SHA256).map_err(|e| e.to_string())?;
    let mut hex = String::new();
    for b in ds.digest() {
        let _ = write!(hex, "{b:02X}");
    }
    Ok(format!(
        ". {TTL} IN DS {} {} {} {hex}",
        ds.key_tag(),
        u8::from(ds.algorithm()),
        u8::from(ds.digest_type()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{Protocol, Transport, UpstreamQuery};
    use crate::zone::answer::make_query;
    use std::time::Duration;

    fn ask(net: &TestNet, ip: &str, qname: &str, t: RecordType) -> hickory_proto::op::Message {
        let mut message = make_query(7, Name::from_ascii(qname).unwrap(), t, true);
        if let Some(e) = message.edns.as_mut() {
            e.set_dnssec_ok(true);
        }
        let q = UpstreamQuery {
            server: format!("{ip}:53").parse().unwrap(),
            bytes: crate::wire::encode(&message).unwrap(),
            protocol: Protocol::Udp,
            timeout: Duration::from_secs(1),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(net.exchange(q)).unwrap();
        crate::wire::parse_reply(&bytes).unwrap().message
    }

    fn types(records: &[Record]) -> Vec<RecordType> {
        records.iter().map(|r| r.record_type()).collect()
    }

    #[test]
    fn colliding_keys_share_the_tag() {
        for seed in 1..20 {
            let k = colliding_key(4242, seed).unwrap();
            assert_eq!(k.calculate_key_tag().unwrap(), 4242);
            assert_eq!(k.flags(), ZSK_FLAGS);
        }
    }

    #[test]
    fn servers_answer_with_rrsigs_ds_and_no_ds_proofs() {
        let s = SignedNet::new().unwrap();
        assert!(s.anchor.starts_with(". 3600 IN DS "), "{}", s.anchor);
        let www = ask(&s.net, "198.51.100.3", SECURE_NAME, RecordType::A);
        assert_eq!(types(&www.answers), [RecordType::A, RecordType::RRSIG]);
        assert_eq!(www.metadata.id, 7);
        assert!(www.edns.as_ref().unwrap().flags().dnssec_ok);
        let signed = ask(&s.net, "198.51.100.2", SECURE_NAME, RecordType::A);
        assert!(types(&signed.authorities).contains(&RecordType::DS));
        let unsigned = ask(&s.net, "198.51.100.2", INSECURE_NAME, RecordType::A);
        let auth = types(&unsigned.authorities);
        assert!(auth.contains(&RecordType::NSEC) && !auth.contains(&RecordType::DS));
        let keys = ask(&s.net, "198.51.100.5", TRAP_ZONE, RecordType::DNSKEY);
        let n = |t| types(&keys.answers).iter().filter(|x| **x == t).count();
        assert_eq!(n(RecordType::DNSKEY), 2 + TRAP_KEYS);
        assert_eq!(n(RecordType::RRSIG), 1);
        let trap = ask(&s.net, "198.51.100.5", TRAP_NAME, RecordType::A);
        let sigs = types(&trap.answers)
            .into_iter()
            .filter(|t| *t == RecordType::RRSIG)
            .count();
        assert_eq!(sigs, TRAP_RRSIGS);
    }

    #[test]
    fn two_test_has_one_bad_replica() {
        let s = SignedNet::new().unwrap();
        let referral = ask(&s.net, "198.51.100.2", TWO_NAME, RecordType::A);
        assert!(types(&referral.authorities).contains(&RecordType::DS));
        assert_eq!(types(&referral.additionals), [RecordType::A, RecordType::A]);
        let sig = |m: &hickory_proto::op::Message| {
            m.answers
                .iter()
                .find_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap()
        };
        let good = ask(&s.net, TWO_GOOD_IP, TWO_NAME, RecordType::A);
        let bad = ask(&s.net, TWO_BAD_IP, TWO_NAME, RecordType::A);
        assert_eq!(types(&good.answers), [RecordType::A, RecordType::RRSIG]);
        assert_eq!(good.answers.first(), bad.answers.first());
        let (g, b) = (sig(&good), sig(&bad));
        assert_eq!(g.input(), b.input());
        let flipped: Vec<u8> = g.sig().iter().map(|x| !x).collect();
        assert_eq!(b.sig(), flipped.as_slice());
        // Same keys on both: only the one RRSIG differs.
        let keys = |ip| ask(&s.net, ip, TWO_ZONE, RecordType::DNSKEY).answers;
        assert_eq!(keys(TWO_GOOD_IP), keys(TWO_BAD_IP));
    }
}
