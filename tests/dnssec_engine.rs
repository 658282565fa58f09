//! The validator in the engine on a signed scripted network
//! (`testkit::signed`): secure, bogus, insecure, secure denial (NSEC
//! NXDOMAIN, NODATA, wildcard), CD=1, validated once per cached answer,
//! expired signatures (EDE 7), negative trust anchors, and KeyTrap
//! (CVE-2023-50387): key-tag collisions and many RRSIGs cost a bounded
//! count of signature verifications, and a zone with one bad replica
//! (`two.test.`): the servers that served bogus data are set aside and
//! the question resolved again from the others, a bounded number of
//! times. Counts, never times, are asserted.

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
    // One check of the trap RRset costs at most PER_RRSET; the restarts
    // after bogus data (validate/retry.rs) check it again, all within the
    // one per-query budget.
    assert!(spent <= budget, "{spent} > {budget}");
    assert!(
        spent >= PER_RRSET.min(budget),
        "{spent}: the trap was checked"
    );

    // Cold, the whole query (chain included) stays within the budget.
    let cold = s.resolver(s.config());
    let res = ask(&cold, TRAP_NAME, RecordType::A).await;
    assert!(matches!(res.security, Security::Bogus(_)), "{res:?}");
    let spent = cold.dnssec_work().verifications;
    eprintln!("www.trap.test A cold: {spent} verifications");
    assert!(spent <= budget, "{spent} > {budget}");
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

/// `engine::validate::retry::MAX_RESTARTS` (crate-private): resolutions
/// again after a bogus result.
const MAX_RESTARTS: usize = 5;

/// The servers asked `qname` `qtype`, in order, since the log was cleared.
fn asked(net: &TestNet, qname: &str, qtype: RecordType) -> Vec<String> {
    net.sent()
        .iter()
        .filter(|q| q.qname == n(qname) && q.qtype == qtype)
        .map(|q| q.server.ip().to_string())
        .collect()
}

fn slow(s: &SignedNet, ip: &str, rtt: Duration) {
    let mut server = s.net.server(ip).unwrap();
    server.rtt = rtt;
    s.net.add(ip, server);
}

/// Makes `r` prefer the bad replica of `two.test.`: the good one answers
/// in 500 ms, and a first question to the zone (its SOA, then its
/// DNSKEY) measures the bad one at 0 ms. If the first pick, random among
/// unmeasured servers, is the good one, the second goes to the bad one:
/// an unmeasured server ranks at the initial RTO, 376 ms < 500 ms.
async fn prefer_bad_replica(s: &SignedNet, r: &SmallResolver) {
    slow(s, TWO_GOOD_IP, Duration::from_millis(500));
    let soa = ask(r, TWO_ZONE, RecordType::SOA).await;
    assert_eq!(soa.security, Security::Secure, "{soa:?}");
    assert!(s.net.count_to(TWO_BAD_IP) > 0);
    s.net.clear_log();
}

#[tokio::test]
async fn one_bad_replica_is_set_aside_whichever_is_asked_first() {
    // A fresh resolver picks at random among unmeasured servers: run until
    // both orders have been seen (64 runs miss one with odds 2^-63).
    let s = SignedNet::new().unwrap();
    let (mut bad_first, mut good_first) = (0, 0);
    for _ in 0..64 {
        let r = s.resolver(s.config());
        s.net.clear_log();
        let res = ask(&r, TWO_NAME, RecordType::A).await;
        assert_eq!(res.rcode, ResponseCode::NoError, "{res:?}");
        assert_eq!(res.security, Security::Secure, "{res:?}");
        assert_eq!(addrs(&res), ["192.0.2.110"]);
        let servers = asked(&s.net, TWO_NAME, RecordType::A);
        if servers.first().map(String::as_str) == Some(TWO_BAD_IP) {
            // Bogus from the bad one, then asked again of the good one.
            assert_eq!(servers, [TWO_BAD_IP, TWO_GOOD_IP]);
            bad_first += 1;
        } else {
            // Secure at once: no second question, nothing set aside.
            assert_eq!(servers, [TWO_GOOD_IP]);
            good_first += 1;
        }
        if bad_first > 0 && good_first > 0 {
            break;
        }
    }
    assert!(bad_first > 0 && good_first > 0, "{bad_first} {good_first}");
}

#[tokio::test]
async fn a_bad_replica_asked_first_is_set_aside_for_a_minute() {
    let s = SignedNet::new().unwrap();
    let mut config = s.config();
    // Each question below must reach the zone's servers, not be
    // synthesised from NSEC ranges cached by the one before.
    config.dnssec.aggressive_nsec = false;
    let r = s.resolver(config);
    prefer_bad_replica(&s, &r).await;
    let res = ask(&r, TWO_NAME, RecordType::A).await;
    assert_eq!(res.security, Security::Secure, "{res:?}");
    assert_eq!(addrs(&res), ["192.0.2.110"]);
    assert_eq!(
        asked(&s.net, TWO_NAME, RecordType::A),
        [TWO_BAD_IP, TWO_GOOD_IP]
    );
    // The chain was asked again too, the zone's keys from the good one.
    assert_eq!(asked(&s.net, TWO_ZONE, RecordType::DNSKEY), [TWO_GOOD_IP]);
    assert_eq!(asked(&s.net, TWO_ZONE, RecordType::DS), ["198.51.100.2"]);
    // Set aside: the slower good server answers the zone's next question.
    s.net.clear_log();
    let aaaa = ask(&r, TWO_NAME, RecordType::AAAA).await;
    assert_eq!(aaaa.security, Security::Secure, "{aaaa:?}");
    assert_eq!(asked(&s.net, TWO_NAME, RecordType::AAAA), [TWO_GOOD_IP]);
    // A minute later the faster bad server is first again.
    s.clock.advance(Duration::from_secs(61));
    s.net.clear_log();
    let txt = ask(&r, TWO_NAME, RecordType::TXT).await;
    assert_eq!(txt.security, Security::Secure, "{txt:?}");
    assert_eq!(asked(&s.net, TWO_NAME, RecordType::TXT), [TWO_BAD_IP]);
}

#[tokio::test]
async fn bogus_on_every_replica_is_servfail_after_bounded_restarts() {
    let s = SignedNet::new().unwrap();
    // What one cold resolution of the name costs, with good data: the
    // root priming, one question per zone cut (QNAME minimisation) and
    // the DNSKEY set of each of the three zones (DS come in referrals).
    let mut cold = 0;
    for _ in 0..64 {
        s.net.clear_log();
        let good = ask(&s.resolver(s.config()), TWO_NAME, RecordType::A).await;
        if asked(&s.net, TWO_NAME, RecordType::A) == [TWO_GOOD_IP] {
            assert_eq!(good.security, Security::Secure, "{good:?}");
            cold = s.net.sent().len();
            break;
        }
    }
    assert_eq!(cold, 7);

    s.net.add(TWO_GOOD_IP, s.net.server(TWO_BAD_IP).unwrap());
    let r = s.resolver(s.config());
    s.net.clear_log();
    let res = ask(&r, TWO_NAME, RecordType::A).await;
    assert_eq!(bogus_kind(&res), BogusKind::Bogus, "{res:?}");
    assert!(res.answers.is_empty());
    // The question was asked once and again after each restart: at least
    // one restart, at most MAX_RESTARTS (fewer if the query's signature
    // budget runs out first).
    let restarts = asked(&s.net, TWO_NAME, RecordType::A).len() - 1;
    assert!((1..=MAX_RESTARTS).contains(&restarts), "{restarts}");
    // Each of the 1 + MAX_RESTARTS resolutions costs at most what a cold
    // one does: a restart asks the question again and, the chain's
    // DS/DNSKEY having been purged with the servers that taught them,
    // the DNSKEY sets of the three zones and the DS of the two below the
    // root (1 + 3 + 2 = 6 <= 7); the delegations stay cached.
    let sent = s.net.sent().len();
    eprintln!("bogus everywhere: {sent} queries for {restarts} restarts");
    assert!(sent <= (1 + MAX_RESTARTS) * cold, "{sent}");

    // The bogus result is cached: asked again, no restart storm, and the
    // client sees SERVFAIL with EDE 6.
    let h = Handler::new(Arc::new(r));
    let wire = via(&h, TWO_NAME, false).await;
    assert_eq!(wire.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede_codes(&wire), [6]);
    assert_eq!(s.net.sent().len(), sent, "answered from cache");
}

#[tokio::test]
async fn the_good_answer_found_by_the_retry_is_answered_from_cache() {
    let s = SignedNet::new().unwrap();
    let r = s.resolver(s.config());
    prefer_bad_replica(&s, &r).await;
    let first = ask(&r, TWO_NAME, RecordType::A).await;
    assert_eq!(first.security, Security::Secure, "{first:?}");
    assert_eq!(
        asked(&s.net, TWO_NAME, RecordType::A),
        [TWO_BAD_IP, TWO_GOOD_IP]
    );
    let sent = s.net.sent().len();
    let work = r.dnssec_work();
    let again = ask(&r, TWO_NAME, RecordType::A).await;
    assert_eq!(s.net.sent().len(), sent, "not answered from cache");
    assert!(again.from_cache, "{again:?}");
    assert_eq!(again.security, Security::Secure, "{again:?}");
    assert_eq!(addrs(&again), ["192.0.2.110"]);
    assert_eq!(r.dnssec_work(), work, "validated again on a hit");
    // The RRSIG served is the good one that validated.
    let sig = |res: &Resolution| {
        res.answers
            .iter()
            .find(|r| r.record_type() == RecordType::RRSIG)
            .cloned()
    };
    assert_eq!(sig(&again), sig(&first));
    assert!(sig(&again).is_some());
    let hit = r
        .resolve_cached(&req(TWO_NAME, RecordType::A))
        .await
        .unwrap();
    assert_eq!(hit.security, Security::Secure);
    assert_eq!(s.net.sent().len(), sent);
}
