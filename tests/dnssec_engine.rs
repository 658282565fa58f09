//! The validator in the engine on a signed scripted network
//! (`testkit::signed`): secure, bogus, insecure, secure denial (NSEC
//! NXDOMAIN, NODATA, wildcard), CD=1, validated once per cached answer,
//! expired signatures (EDE 7), negative trust anchors, and KeyTrap
//! (CVE-2023-50387): key-tag collisions and many RRSIGs cost a bounded
//! count of signature verifications. Counts, never times, are asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};
use tern::clock::Clock;
use tern::clock::ManualClock;
use tern::dnssec::{BogusKind, Security, MAX_KEY_TAG_COLLISIONS, MAX_RRSIGS_PER_RRSET};
use tern::engine::{Failure, Request, Resolution};
use tern::server::Handler;
use tern::testkit::signed::*;
use tern::testkit::{SmallResolver, TestNet};
use tern::upstream::Protocol;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn req(name: &str, t: RecordType) -> Request {
    Request {
        dnssec_ok: true,
        ..Request::new(n(name), t)
    }
}

async fn ask(r: &SmallResolver, name: &str, t: RecordType) -> Resolution {
    r.resolve(&req(name, t)).await
}

fn setup() -> (SignedNet, SmallResolver) {
    let s = SignedNet::new().unwrap();
    let r = s.resolver(s.config());
    (s, r)
}

fn addrs(res: &Resolution) -> Vec<String> {
    res.answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect()
}

fn count(res: &Resolution, t: RecordType) -> usize {
    res.answers
        .iter()
        .chain(&res.authorities)
        .filter(|r| r.record_type() == t)
        .count()
}

/// The bogus kind of a failed resolution (SERVFAIL with Failure::Dnssec).
fn bogus_kind(res: &Resolution) -> BogusKind {
    assert_eq!(res.rcode, ResponseCode::ServFail, "{res:?}");
    match (&res.failure, &res.security) {
        (Some(Failure::Dnssec(b)), Security::Bogus(s)) => {
            assert_eq!(b, s);
            b.kind
        }
        other => panic!("not a DNSSEC failure: {other:?}"),
    }
}

#[tokio::test]
async fn signed_answers_are_secure_and_carry_their_rrsigs() {
    let (_s, r) = setup();
    let www = ask(&r, SECURE_NAME, RecordType::A).await;
    assert_eq!(www.rcode, ResponseCode::NoError);
    assert_eq!(www.security, Security::Secure, "{www:?}");
    assert_eq!(addrs(&www), ["192.0.2.80"]);
    assert_eq!(count(&www, RecordType::RRSIG), 1);
    // A CNAME inside the zone, and a name of the TLD.
    let web = ask(&r, "web.example.test.", RecordType::A).await;
    assert_eq!(web.security, Security::Secure, "{web:?}");
    assert_eq!(addrs(&web), ["192.0.2.80"]);
    let host = ask(&r, TLD_NAME, RecordType::A).await;
    assert_eq!(host.security, Security::Secure, "{host:?}");
    // DO=0: the same status, without the RRSIGs.
    let plain = r
        .resolve(&Request::new(n(SECURE_NAME), RecordType::AAAA))
        .await;
    assert_eq!(plain.security, Security::Secure, "{plain:?}");
    assert_eq!(count(&plain, RecordType::RRSIG), 0);
}

#[tokio::test]
async fn a_corrupted_signature_is_servfail_bogus() {
    let (_s, r) = setup();
    let res = ask(&r, BOGUS_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&res), BogusKind::Bogus);
    assert_eq!(BogusKind::Bogus.ede_code(), 6);
    assert!(res.answers.is_empty());
    // The rest of the zone is unharmed.
    let www = ask(&r, SECURE_NAME, RecordType::A).await;
    assert_eq!(www.security, Security::Secure);
}

#[tokio::test]
async fn an_unsigned_delegation_is_insecure() {
    let (_s, r) = setup();
    let res = ask(&r, INSECURE_NAME, RecordType::A).await;
    assert_eq!(res.rcode, ResponseCode::NoError);
    assert_eq!(res.security, Security::Insecure, "{res:?}");
    assert_eq!(addrs(&res), ["192.0.2.90"]);
    let nx = ask(&r, "nope.insecure.test.", RecordType::A).await;
    assert_eq!(nx.rcode, ResponseCode::NXDomain);
    assert_eq!(nx.security, Security::Insecure, "{nx:?}");
}

#[tokio::test]
async fn nxdomain_nodata_and_wildcards_are_proven_with_nsec() {
    let (_s, r) = setup();
    let nx = ask(&r, "nope.example.test.", RecordType::A).await;
    assert_eq!(nx.rcode, ResponseCode::NXDomain);
    assert_eq!(nx.security, Security::Secure, "{nx:?}");
    assert!(count(&nx, RecordType::NSEC) >= 1, "{nx:?}");
    let nodata = ask(&r, SECURE_NAME, RecordType::TXT).await;
    assert_eq!(nodata.rcode, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.security, Security::Secure, "{nodata:?}");
    assert!(count(&nodata, RecordType::NSEC) >= 1, "{nodata:?}");
    let wild = ask(&r, "any.wild.example.test.", RecordType::TXT).await;
    assert_eq!(wild.rcode, ResponseCode::NoError);
    assert_eq!(wild.answers.len(), 2, "{wild:?}");
    assert_eq!(wild.security, Security::Secure, "{wild:?}");
}

#[tokio::test]
async fn checking_disabled_returns_bogus_data_unvalidated() {
    let (_s, r) = setup();
    let before = r.dnssec_work();
    let cd = Request {
        checking_disabled: true,
        ..req(BOGUS_NAME, RecordType::A)
    };
    let res = r.resolve(&cd).await;
    assert_eq!(res.rcode, ResponseCode::NoError, "{res:?}");
    assert!(res.failure.is_none());
    assert_eq!(addrs(&res), ["192.0.2.66"]);
    assert_eq!(res.security, Security::Unchecked);
    assert_eq!(r.dnssec_work(), before);
    // Without CD the same cached data is bogus.
    let checked = ask(&r, BOGUS_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&checked), BogusKind::Bogus);
}

#[tokio::test]
async fn a_cached_answer_is_validated_once() {
    let (s, r) = setup();
    for (name, t) in [
        (SECURE_NAME, RecordType::A),
        ("nope.example.test.", RecordType::A),
        (BOGUS_NAME, RecordType::A),
    ] {
        let first = ask(&r, name, t).await;
        let work = r.dnssec_work();
        assert!(work.verifications > 0);
        let sent = s.net.sent().len();
        let again = ask(&r, name, t).await;
        assert_eq!(s.net.sent().len(), sent, "{name}: not answered from cache");
        // A bogus answer is rebuilt as a failure (`from_cache` false).
        assert!(
            again.from_cache || again.failure.is_some(),
            "{name}: {again:?}"
        );
        assert_eq!(again.rcode, first.rcode, "{name}");
        assert_eq!(again.security, first.security, "{name}");
        assert_eq!(r.dnssec_work(), work, "{name}: validated again on a hit");
        // Through the cache-only entry point as well.
        if first.failure.is_none() {
            let hit = r.resolve_cached(&req(name, t)).await.unwrap();
            assert_eq!(hit.security, first.security);
            assert_eq!(r.dnssec_work(), work, "{name}");
        }
    }
}

#[tokio::test]
async fn an_expired_signature_is_bogus_with_ede_7() {
    let (s, r) = setup();
    let res = ask(&r, EXPIRED_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&res), BogusKind::SignatureExpired);
    assert_eq!(BogusKind::SignatureExpired.ede_code(), 7);
    let www = ask(&r, SECURE_NAME, RecordType::A).await;
    assert_eq!(www.security, Security::Secure);
    // Past every signature's expiration (and every TTL): the chain of
    // trust itself has expired.
    let now = s.clock.unix_secs();
    s.clock
        .advance(Duration::from_secs(u64::from(EXPIRATION) + 60 - now));
    let late = ask(&r, SECURE_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&late), BogusKind::SignatureExpired, "{late:?}");
}

#[tokio::test]
async fn a_negative_trust_anchor_makes_the_bogus_name_insecure() {
    let s = SignedNet::new().unwrap();
    let mut config = s.config();
    config.dnssec.negative_trust_anchors = vec![n(SIGNED_ZONE)];
    let r = s.resolver(config);
    let res = ask(&r, BOGUS_NAME, RecordType::A).await;
    assert_eq!(res.rcode, ResponseCode::NoError, "{res:?}");
    assert_eq!(res.security, Security::Insecure);
    assert_eq!(addrs(&res), ["192.0.2.66"]);
    // Outside the anchor nothing changes.
    let host = ask(&r, TLD_NAME, RecordType::A).await;
    assert_eq!(host.security, Security::Secure);
}

/// Signature checks one RRset may cost at most.
const PER_RRSET: u64 = (MAX_RRSIGS_PER_RRSET * MAX_KEY_TAG_COLLISIONS) as u64;

#[tokio::test]
async fn key_trap_costs_a_bounded_count_of_verifications() {
    let (s, r) = setup();
    let budget = u64::from(s.config().dnssec.max_verifications);
    // The chain down to trap.test (its DNSKEY set is signed by the KSK,
    // whose tag collides with nothing).
    let keys = ask(&r, TRAP_ZONE, RecordType::DNSKEY).await;
    assert_eq!(keys.security, Security::Secure, "{keys:?}");
    assert_eq!(count(&keys, RecordType::DNSKEY), 2 + TRAP_KEYS);
    let before = r.dnssec_work();
    let res = ask(&r, TRAP_NAME, RecordType::A).await;
    let spent = r.dnssec_work().verifications - before.verifications;
    eprintln!("www.trap.test A: {spent} verifications ({TRAP_RRSIGS} RRSIGs, {TRAP_KEYS}+1 keys with one tag)");
    assert_eq!(bogus_kind(&res), BogusKind::Bogus, "{res:?}");
    assert!(spent > 0);
    assert!(spent <= PER_RRSET, "{spent} > {PER_RRSET}");
    assert!(spent <= budget);

    // Cold, the whole query (chain included) stays within the budget.
    let cold = s.resolver(s.config());
    let res = ask(&cold, TRAP_NAME, RecordType::A).await;
    assert!(matches!(res.security, Security::Bogus(_)), "{res:?}");
    let spent = cold.dnssec_work().verifications;
    eprintln!("www.trap.test A cold: {spent} verifications");
    assert!(spent <= budget, "{spent} > {budget}");
    assert!(
        spent <= PER_RRSET + 5,
        "{spent}: the chain is 5 RRsets of one good RRSIG each"
    );
}

#[tokio::test]
async fn key_trap_beyond_the_budget_is_bogus_budget_exhausted() {
    let s = SignedNet::new().unwrap();
    let mut config = s.config();
    config.dnssec.max_verifications = 10;
    let r = s.resolver(config);
    let res = ask(&r, TRAP_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&res), BogusKind::BudgetExhausted, "{res:?}");
    assert_eq!(BogusKind::BudgetExhausted.ede_code(), 6);
    let spent = r.dnssec_work().verifications;
    assert!(spent <= 10, "{spent}");
    // An exhausted budget is not cached as the zone's keys: a plain
    // signed name in the same resolver still validates.
    let www = ask(&r, SECURE_NAME, RecordType::A).await;
    assert_eq!(www.security, Security::Secure, "{www:?}");
}

fn wire_query(name: &str, t: RecordType, cd: bool) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(n(name), t));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn ede_codes(m: &Message) -> Vec<u16> {
    let Some(edns) = &m.edns else {
        return Vec::new();
    };
    edns.options()
        .as_ref()
        .iter()
        .filter_map(|(code, opt)| match (u16::from(*code), opt) {
            (15, EdnsOption::Unknown(_, data)) => Some(u16::from_be_bytes([data[0], data[1]])),
            _ => None,
        })
        .collect()
}

async fn via(h: &Handler<Arc<TestNet>, Arc<ManualClock>>, name: &str, cd: bool) -> Message {
    let client = SocketAddr::from(([127, 0, 0, 1], 40000));
    let q = wire_query(name, RecordType::A, cd);
    let bytes = h.handle(&q, client, Protocol::Udp).await.unwrap();
    Message::from_vec(&bytes).unwrap()
}

#[tokio::test]
async fn the_handler_sets_ad_and_extended_errors() {
    let (_s, r) = setup();
    let h = Handler::new(Arc::new(r));
    let www = via(&h, SECURE_NAME, false).await;
    assert!(www.metadata.authentic_data, "{www:?}");
    assert!(www
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::RRSIG));
    let insecure = via(&h, INSECURE_NAME, false).await;
    assert_eq!(insecure.metadata.response_code, ResponseCode::NoError);
    assert!(!insecure.metadata.authentic_data);
    let bogus = via(&h, BOGUS_NAME, false).await;
    assert_eq!(bogus.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede_codes(&bogus), [6]);
    let expired = via(&h, EXPIRED_NAME, false).await;
    assert_eq!(expired.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede_codes(&expired), [7]);
    let cd = via(&h, BOGUS_NAME, true).await;
    assert_eq!(cd.metadata.response_code, ResponseCode::NoError);
    assert!(!cd.metadata.authentic_data);
    assert_eq!(cd.answers.len(), 2, "{cd:?}");
}

#[tokio::test]
async fn validated_nsec_ranges_answer_other_names_in_them_without_asking() {
    // RFC 8198: after one proven NXDOMAIN, another name inside the same
    // NSEC range (and under the same denied wildcard) is answered from
    // the cache; with aggressive_nsec off it is asked upstream.
    for aggressive in [true, false] {
        let s = SignedNet::new().unwrap();
        let mut config = s.config();
        config.dnssec.aggressive_nsec = aggressive;
        let r = s.resolver(config);
        let first = ask(&r, "nope.example.test.", RecordType::A).await;
        assert_eq!(first.rcode, ResponseCode::NXDomain);
        assert_eq!(first.security, Security::Secure, "{first:?}");
        let sent = s.net.sent().len();
        let other = ask(&r, "nope2.example.test.", RecordType::A).await;
        assert_eq!(other.rcode, ResponseCode::NXDomain, "{other:?}");
        assert_eq!(other.security, Security::Secure, "{other:?}");
        if aggressive {
            assert_eq!(s.net.sent().len(), sent, "synthesised, not asked");
            assert!(count(&other, RecordType::NSEC) >= 1, "{other:?}");
            assert!(count(&other, RecordType::SOA) == 1, "{other:?}");
        } else {
            assert!(s.net.sent().len() > sent, "asked upstream");
        }
    }
}
