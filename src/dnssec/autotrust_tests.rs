//! Tests for the RFC 5011 state machine and Unbound's state file format.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::{Name, RData, Record};

use super::file::{ctime, parse, render, StateFile};
use super::*;
use crate::dnssec::sign::{sign_rrset, ZoneKey};

const T0: u64 = 1_251_100_000;
const DAY: u64 = 24 * 3600;

fn zone() -> Name {
    Name::from_ascii("example.com.").unwrap()
}

fn ksk() -> ZoneKey {
    ZoneKey::generate(Algorithm::ECDSAP256SHA256, 257).unwrap()
}

fn record(key: &DNSKEY) -> Record {
    Record::from_rdata(
        zone(),
        10800,
        RData::DNSSEC(DNSSECRData::DNSKEY(key.clone())),
    )
}

/// The DNSKEY set of `keys`, signed by each of `signers`, valid for 60
/// days around `now`.
fn probe(keys: &[&ZoneKey], signers: &[&ZoneKey], now: u64) -> (Vec<Record>, Vec<Record>) {
    let set: Vec<Record> = keys.iter().map(|k| record(k.dnskey())).collect();
    let (inc, exp) = ((now - 30 * DAY) as u32, (now + 30 * DAY) as u32);
    let sigs = signers
        .iter()
        .map(|k| sign_rrset(&set, k, &zone(), inc, exp).unwrap())
        .collect();
    (set, sigs)
}

fn point_with(keys: &[&ZoneKey]) -> TrustPoint {
    let mut p = TrustPoint::new(zone());
    for k in keys {
        p.keys.push(TrackedKey::new(
            TaData::Key(k.dnskey().clone()),
            10800,
            KeyState::Valid,
            0,
            0,
        ));
    }
    p
}

fn run(p: &mut TrustPoint, keys: &[&ZoneKey], signers: &[&ZoneKey], now: u64) -> Outcome {
    let (set, sigs) = probe(keys, signers, now);
    p.process(
        &set,
        &sigs,
        now,
        &VerifyOptions::default(),
        &mut Budget::new(64),
    )
}

fn state_of(p: &TrustPoint, key: &ZoneKey) -> Option<KeyState> {
    p.keys
        .iter()
        .find(|k| matches!(&k.data, TaData::Key(d) if same_key(d, key.dnskey())))
        .map(|k| k.state)
}

#[test]
fn configured_key_is_valid_and_starts_its_clock() {
    let a = ksk();
    let mut p = point_with(&[&a]);
    assert_eq!(run(&mut p, &[&a], &[&a], T0), Outcome::Updated);
    assert_eq!(state_of(&p, &a), Some(KeyState::Valid));
    assert_eq!(p.keys[0].last_change, T0);
    assert_eq!((p.query_interval, p.retry_time), (5400, 3600));
    assert_eq!(p.next_probe_time, T0 + 5400);
    assert_eq!(p.last_success, T0);
}

#[test]
fn new_key_goes_addpend_then_valid_after_the_holddown() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a]);
    run(&mut p, &[&a], &[&a], T0);
    // Start -> AddPend in the same probe that first sees it.
    run(&mut p, &[&a, &b], &[&a], T0 + DAY);
    assert_eq!(state_of(&p, &b), Some(KeyState::AddPend));
    assert_eq!(p.keys[0].pending_count, 1, "new keys go first");
    // Not before 30 days.
    run(&mut p, &[&a, &b], &[&a], T0 + 20 * DAY);
    assert_eq!(state_of(&p, &b), Some(KeyState::AddPend));
    assert!(!p.anchor().keys.contains(b.dnskey()));
    run(&mut p, &[&a, &b], &[&a], T0 + 32 * DAY);
    assert_eq!(state_of(&p, &b), Some(KeyState::Valid));
    assert!(p.anchor().keys.contains(b.dnskey()));
    assert_eq!(p.keys[0].pending_count, 0);
}

#[test]
fn pending_key_seen_once_is_not_trusted() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a]);
    run(&mut p, &[&a, &b], &[&a], T0);
    // Hold-down passed but only one sighting: still pending.
    p.keys[0].pending_count = 1;
    p.keys[0].last_change = T0 - 40 * DAY;
    let k = &mut p.keys[0];
    add_time(k, T0);
    assert_eq!(k.state, KeyState::AddPend);
}

#[test]
fn pending_key_that_vanishes_goes_back_to_start_and_is_forgotten() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a]);
    run(&mut p, &[&a, &b], &[&a], T0);
    run(&mut p, &[&a], &[&a], T0 + DAY);
    assert_eq!(state_of(&p, &b), None);
}

#[test]
fn valid_key_that_vanishes_is_missing_and_still_trusted_then_returns() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a, &b]);
    run(&mut p, &[&a, &b], &[&a], T0);
    run(&mut p, &[&a], &[&a], T0 + DAY);
    assert_eq!(state_of(&p, &b), Some(KeyState::Missing));
    assert!(p.anchor().keys.contains(b.dnskey()));
    run(&mut p, &[&a, &b], &[&a], T0 + 2 * DAY);
    assert_eq!(state_of(&p, &b), Some(KeyState::Valid));
}

#[test]
fn missing_key_is_removed_after_keep_missing() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a, &b]);
    run(&mut p, &[&a, &b], &[&a], T0);
    run(&mut p, &[&a], &[&a], T0 + DAY);
    run(&mut p, &[&a], &[&a], T0 + 400 * DAY);
    assert_eq!(state_of(&p, &b), None);
}

#[test]
fn self_signed_revoked_key_is_revoked_then_removed() {
    let (mut a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a, &b]);
    run(&mut p, &[&a, &b], &[&a], T0);
    a.set_flags(257 | 128).unwrap();
    assert_eq!(
        run(&mut p, &[&a, &b], &[&a, &b], T0 + DAY),
        Outcome::Updated
    );
    assert_eq!(state_of(&p, &a), Some(KeyState::Revoked));
    assert!(!p.anchor().keys.iter().any(|k| same_key(k, a.dnskey())));
    // Written with the REVOKE bit (flags 385).
    assert!(render(&p).contains("DNSKEY\t385 3 13 "));
    // Kept through the remove hold-down (RFC 5011 §4.2), then forgotten.
    run(&mut p, &[&a, &b], &[&a, &b], T0 + 20 * DAY);
    assert_eq!(state_of(&p, &a), Some(KeyState::Revoked));
    run(&mut p, &[&b], &[&b], T0 + 32 * DAY);
    assert_eq!(state_of(&p, &a), None);
}

#[test]
fn revoke_bit_without_self_signature_is_ignored() {
    let (mut a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a, &b]);
    run(&mut p, &[&a, &b], &[&a], T0);
    a.set_flags(257 | 128).unwrap();
    run(&mut p, &[&a, &b], &[&b], T0 + DAY);
    assert_ne!(state_of(&p, &a), Some(KeyState::Revoked));
}

#[test]
fn revoking_every_key_removes_the_trust_point() {
    let mut a = ksk();
    let mut p = point_with(&[&a]);
    run(&mut p, &[&a], &[&a], T0);
    a.set_flags(257 | 128).unwrap();
    assert_eq!(run(&mut p, &[&a], &[&a], T0 + DAY), Outcome::Revoked);
    assert!(p.revoked);
    assert_eq!(p.next_probe(), None);
    assert!(p.anchor().keys.is_empty());
    assert!(render(&p).contains(";;REVOKED\n"));
    assert_eq!(run(&mut p, &[&a], &[&a], T0 + 2 * DAY), Outcome::Ignored);
}

#[test]
fn unverified_set_counts_a_failure_after_a_first_success() {
    let (a, x) = (ksk(), ksk());
    let mut p = point_with(&[&a]);
    assert_eq!(run(&mut p, &[&a, &x], &[&x], T0), Outcome::Failed);
    assert_eq!(p.query_failed, 0, "no success yet");
    run(&mut p, &[&a], &[&a], T0 + DAY);
    assert_eq!(run(&mut p, &[&a, &x], &[&x], T0 + 2 * DAY), Outcome::Failed);
    assert_eq!(p.query_failed, 1);
    assert_eq!(p.last_queried, T0 + 2 * DAY);
    assert_eq!(p.last_success, T0 + DAY);
}

#[test]
fn ds_anchor_makes_its_key_valid_at_once() {
    let a = ksk();
    let ds = a.dnskey().to_digest(&zone(), DigestType::SHA256).unwrap();
    let ds = hickory_proto::dnssec::rdata::DS::new(
        a.tag(),
        Algorithm::ECDSAP256SHA256,
        DigestType::SHA256,
        ds.as_ref().to_vec(),
    );
    let mut p = TrustPoint::new(zone());
    p.keys
        .push(TrackedKey::new(TaData::Ds(ds), 3600, KeyState::Valid, 0, 0));
    run(&mut p, &[&a], &[&a], T0);
    assert_eq!(state_of(&p, &a), Some(KeyState::Valid));
    assert_eq!(p.keys.len(), 1, "the DS is dropped once the key is known");
}

#[test]
fn configured_zsk_hands_trust_to_the_ksk() {
    let a = ksk();
    let z = ZoneKey::generate(Algorithm::ECDSAP256SHA256, 256).unwrap();
    let mut p = point_with(&[&z]);
    run(&mut p, &[&a, &z], &[&z], T0);
    assert_eq!(state_of(&p, &a), Some(KeyState::Valid));
    assert_eq!(state_of(&p, &z), None, "the ZSK is removed");
}

#[test]
fn probe_intervals_follow_rfc_5011_section_2_3() {
    assert_eq!(intervals(10800, MAX_INTERVAL), (5400, 3600));
    assert_eq!(intervals(600, MAX_INTERVAL), (3600, 3600));
    assert_eq!(intervals(100 * DAY, 100 * DAY), (15 * DAY, DAY));
    assert_eq!(intervals(100 * DAY, 4 * DAY), (2 * DAY, 4 * DAY / 10));
}

#[test]
fn state_file_round_trips_in_unbounds_format() {
    let (a, b) = (ksk(), ksk());
    let mut p = point_with(&[&a]);
    run(&mut p, &[&a, &b], &[&a], T0);
    let text = render(&p);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "; autotrust trust anchor file");
    assert_eq!(lines[1], ";;id: example.com. 1");
    assert_eq!(
        lines[2],
        ";;last_queried: 1251100000 ;;Mon Aug 24 07:46:40 2009"
    );
    assert_eq!(lines[5], ";;query_failed: 0");
    assert!(lines[8].ends_with(
        " ;;state=1 [ ADDPEND ] ;;count=1 ;;lastchange=1251100000 ;;Mon Aug 24 07:46:40 2009"
    ));
    assert!(lines[8].contains(&format!(";{{id = {} (ksk), size = 256b}}", b.tag())));
    assert!(lines[9].contains(";;state=2 [  VALID  ] ;;count=0"));
    // Read back: the same, but for the keys' order, which reading
    // reverses as Unbound's does (it links each key in at the front).
    let StateFile::Point(mut q) = parse(&text, "test").unwrap() else {
        panic!()
    };
    q.keys.reverse();
    assert_eq!(render(&q), text);
}

#[test]
fn plain_anchor_list_is_valid_keys_in_reverse_order() {
    let text = "example.com. 10800 IN DNSKEY 257 3 5 AwEAAc3Z5DQDJpH4oPdNtC4BUQHk50XMD+dHr4r8psHmivIa83hxR5CRgCtd9sENCW9Ae8OIO19xw9t/RPaEAqQa+OE= ;{id = 55582 (ksk), size = 512b}\n\
example.com. 10800 IN DNSKEY 256 3 5 AQPQ41chR9DEHt/aIzIFAqanbDlRflJoRs5yz1jFsoRIT7dWf0r+PeDuewdxkszNH6wnU4QL8pfKFRh5PIYVBLK3\n";
    let StateFile::Point(p) = parse(text, "t").unwrap() else {
        panic!()
    };
    assert_eq!(p.keys.len(), 2);
    assert!(p
        .keys
        .iter()
        .all(|k| k.state == KeyState::Valid && k.last_change == 0));
    let TaData::Key(first) = &p.keys[1].data else {
        panic!()
    };
    assert_eq!(
        file::dnskey_text(first),
        "257 3 5 AwEAAc3Z5DQDJpH4oPdNtC4BUQHk50XMD+dHr4r8psHmivIa83hxR5CRgCtd9sENCW9Ae8OIO19xw9t/RPaEAqQa+OE= ;{id = 55582 (ksk), size = 512b}"
    );
}

#[test]
fn state_file_without_state_annotations_skips_keys_and_revoked_file_is_no_anchor() {
    let text = "; autotrust trust anchor file\n;;id: example.com. 1\n;;query_interval: 5400\n\
example.com. 10800 IN DNSKEY 257 3 5 AwEAAc3Z5DQDJpH4oPdNtC4BUQHk50XMD+dHr4r8psHmivIa83hxR5CRgCtd9sENCW9Ae8OIO19xw9t/RPaEAqQa+OE=\n";
    let StateFile::Point(p) = parse(text, "t").unwrap() else {
        panic!()
    };
    assert!(p.keys.is_empty());
    assert_eq!(p.query_interval, 5400);
    let revoked = "; autotrust trust anchor file\n;;REVOKED\n;;id: example.com. 1\n";
    assert_eq!(parse(revoked, "t").unwrap(), StateFile::Revoked);
    assert!(parse("; nothing\n", "t").is_err());
}

#[test]
fn ctime_is_utc_like_c() {
    assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    assert_eq!(ctime(1_251_100_000), "Mon Aug 24 07:46:40 2009");
    assert_eq!(ctime(1_258_962_400), "Mon Nov 23 07:46:40 2009");
    assert_eq!(ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
}
