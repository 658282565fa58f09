//! Tests for the aggressive cache over example.com, whose names are `a`
//! (A), `b.c` (A; `c` is an empty non-terminal), `d` (unsigned
//! delegation), `e` (signed delegation) and `*.w` (A), as an NSEC chain and
//! as NSEC3 chains. RRSIGs carry a dummy signature: nothing checks them.

use super::*;
use hickory_proto::dnssec::rdata::{SigInput, RRSIG};
use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::RecordType::{A, AAAA, DNSKEY, DS, MX, NS, NSEC3PARAM, TXT};
use hickory_proto::rr::SerialNumber;

const ZONE: &str = "example.com.";
const SALT: &[u8] = &[0x5e, 0xa1];

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn t(secs: u64) -> Mono {
    Duration::from_secs(secs)
}

fn budget() -> Budget {
    Budget::new(16)
}

fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let data = SOA::new(
        n("ns.test."),
        n("admin.test."),
        7,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(n(zone), ttl, RData::SOA(data))
}

fn sig(owner: &Name, covered: RecordType, signer: &str) -> Record {
    let input = SigInput {
        type_covered: covered,
        algorithm: Algorithm::ED25519,
        num_labels: owner.num_labels(),
        original_ttl: 3600,
        sig_expiration: SerialNumber::new(2_000_000_000),
        sig_inception: SerialNumber::new(1_000_000_000),
        key_tag: 4242,
        signer_name: n(signer),
    };
    let rrsig = RRSIG::from_sig(input, vec![0x5a; 64]);
    Record::from_rdata(
        owner.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
    )
}

fn nsec(owner: &str, next: &str, types: &[RecordType]) -> Record {
    let mut all = types.to_vec();
    all.extend([RecordType::RRSIG, RecordType::NSEC]);
    let data = NSEC::new(n(next), all);
    Record::from_rdata(n(owner), 3600, RData::DNSSEC(DNSSECRData::NSEC(data)))
}

/// Inserts one NSEC of `zone` with its RRSIG and the zone's SOA (+ RRSIG).
fn put(cache: &AggressiveCache, zone: &str, record: Record, ttl: u32, now: u64) -> bool {
    let sigs = vec![
        sig(&record.name, record.record_type(), zone),
        sig(&n(zone), RecordType::SOA, zone),
    ];
    let stored = soa(zone, 3600, 3600);
    if record.record_type() == RecordType::NSEC3 {
        cache.insert_nsec3(&n(zone), stored, record, sigs, ttl, t(now))
    } else {
        cache.insert_nsec(&n(zone), stored, record, sigs, ttl, t(now))
    }
}

/// example.com's NSEC chain in canonical order (the last wraps).
fn chain() -> Vec<Record> {
    vec![
        nsec(ZONE, "a.example.com.", &[RecordType::SOA, NS, MX, DNSKEY]),
        nsec("a.example.com.", "b.c.example.com.", &[A]),
        nsec("b.c.example.com.", "d.example.com.", &[A]),
        nsec("d.example.com.", "e.example.com.", &[NS]),
        nsec("e.example.com.", "*.w.example.com.", &[NS, DS]),
        nsec("*.w.example.com.", ZONE, &[A]),
    ]
}

fn cache_with(records: Vec<Record>) -> AggressiveCache {
    let cache = AggressiveCache::new();
    for record in records {
        assert!(put(&cache, ZONE, record, 300, 0));
    }
    cache
}

fn ask(cache: &AggressiveCache, name: &str, qtype: RecordType, now: u64) -> Option<Synthesized> {
    cache.synthesize(&n(name), qtype, t(now), 150, &mut budget())
}

/// Owners of the denial records in an answer, in order.
fn proof_owners(s: &Synthesized, rtype: RecordType) -> Vec<String> {
    s.records
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| r.name.to_ascii())
        .collect()
}

#[test]
fn nsec_nxdomain_carries_soa_proof_and_signatures() {
    let cache = cache_with(chain());
    let s = ask(&cache, "b.example.com.", A, 10).unwrap();
    assert!(s.nx);
    assert_eq!(s.ttl, 290);
    assert_eq!(s.records.len(), 6);
    assert_eq!(s.records[0].record_type(), RecordType::SOA);
    assert_eq!(s.records[1].record_type(), RecordType::RRSIG);
    let owners = proof_owners(&s, RecordType::NSEC);
    assert_eq!(owners, ["a.example.com.", "example.com."]);
    assert!(s.records.iter().all(|r| r.ttl == 290));
    // After the last name the chain wraps to the apex.
    let s = ask(&cache, "zz.example.com.", TXT, 10).unwrap();
    assert!(s.nx);
    assert_eq!(
        proof_owners(&s, RecordType::NSEC),
        ["*.w.example.com.", "example.com."]
    );
    // One NSEC covers both the name and the wildcard `*.a`.
    let s = ask(&cache, "b.a.example.com.", A, 10).unwrap();
    assert!(s.nx);
    assert_eq!(proof_owners(&s, RecordType::NSEC), ["a.example.com."]);
    assert_eq!(s.records.len(), 4);
    assert!(
        ask(&cache, "b.example.com.", RecordType::ANY, 10)
            .unwrap()
            .nx
    );
}

#[test]
fn nsec_nodata() {
    let cache = cache_with(chain());
    let cases: &[(&str, RecordType, bool)] = &[
        ("a.example.com.", AAAA, true),
        ("a.example.com.", A, false),
        ("c.example.com.", A, true),      // empty non-terminal
        ("d.example.com.", A, false),     // parent side of a cut
        ("x.d.example.com.", A, false),   // below the cut
        ("d.example.com.", DS, true),     // insecure delegation
        ("e.example.com.", DS, false),    // the DS exists
        ("x.w.example.com.", AAAA, true), // wildcard lacks AAAA
        ("x.w.example.com.", A, false),   // the wildcard answers
        ("example.com.", MX, false),
        ("a.example.com.", RecordType::ANY, false), // no type map denies ANY
    ];
    for &(name, qtype, expected) in cases {
        let got = ask(&cache, name, qtype, 1);
        assert_eq!(got.is_some(), expected, "{name} {qtype}");
        if let Some(s) = got {
            assert!(!s.nx, "{name} {qtype}");
        }
    }
}

#[test]
fn no_nxdomain_while_the_wildcard_may_exist() {
    // Without the apex NSEC nothing denies *.example.com.
    let cache = cache_with(chain().into_iter().skip(1).collect());
    assert_eq!(ask(&cache, "b.example.com.", A, 1), None);
    assert!(ask(&cache, "b.a.example.com.", A, 1).is_some());
}

#[test]
fn expiry_and_soa_minimum_bound_the_answer() {
    let cache = AggressiveCache::new();
    let records = chain();
    assert!(put(&cache, ZONE, records[0].clone(), 600, 0));
    assert!(put(&cache, ZONE, records[1].clone(), 60, 0));
    assert_eq!(ask(&cache, "b.example.com.", A, 59).unwrap().ttl, 1);
    assert_eq!(ask(&cache, "b.example.com.", A, 60), None);
    assert!(ask(&cache, "a.example.com.", AAAA, 60).is_none());

    let cache = AggressiveCache::new();
    let zone = n(ZONE);
    let low = soa(ZONE, 3600, 30);
    assert!(cache.insert_nsec(&zone, low.clone(), records[0].clone(), vec![], 600, t(0)));
    assert!(cache.insert_nsec(&zone, low, records[1].clone(), vec![], 600, t(0)));
    let s = ask(&cache, "b.example.com.", A, 5).unwrap();
    assert_eq!(s.ttl, 30);
    assert_eq!(s.records.len(), 3, "no RRSIGs were given");

    // The SOA expires on its own TTL.
    let short = soa(ZONE, 100, 3600);
    assert!(cache.insert_nsec(&zone, short, records[1].clone(), vec![], 600, t(0)));
    assert!(ask(&cache, "b.example.com.", A, 99).is_some());
    assert_eq!(ask(&cache, "b.example.com.", A, 100), None);
}

#[test]
fn inserts_refuse_what_does_not_fit() {
    let cache = AggressiveCache::new();
    let zone = n(ZONE);
    let stray = nsec("a.example.net.", "b.example.net.", &[A]);
    assert!(!cache.insert_nsec(&zone, soa(ZONE, 60, 60), stray, vec![], 60, t(0)));
    let other_soa = soa("example.net.", 60, 60);
    let good = nsec("a.example.com.", "b.example.com.", &[A]);
    assert!(!cache.insert_nsec(&zone, other_soa, good.clone(), vec![], 60, t(0)));
    assert!(!cache.insert_nsec(&zone, soa(ZONE, 60, 60), good.clone(), vec![], 0, t(0)));
    assert!(!cache.insert_nsec3(&zone, soa(ZONE, 60, 60), good.clone(), vec![], 60, t(0)));
    let deep = nsec3_record("x.example.com.", 1, false, &[A], "a.example.com.");
    let mut deep = deep;
    deep.name = deep.name.prepend_label("extra").unwrap();
    assert!(!cache.insert_nsec3(&zone, soa(ZONE, 60, 60), deep, vec![], 60, t(0)));
    assert!(cache.is_empty());
    // RRSIGs over something else are dropped, not kept with the NSEC.
    let sigs = vec![sig(&n("a.example.com."), A, ZONE)];
    assert!(cache.insert_nsec(&zone, soa(ZONE, 60, 60), good, sigs, 60, t(0)));
    let s = ask(&cache, "a.example.com.", AAAA, 0).unwrap();
    assert_eq!(s.records.len(), 2);
}

#[test]
fn eviction_keeps_the_newest_within_the_bound() {
    let cache = AggressiveCache::with_limit(3);
    for record in chain() {
        assert!(put(&cache, ZONE, record, 300, 0));
    }
    assert_eq!(cache.len(), 3);
    assert_eq!(ask(&cache, "a.example.com.", AAAA, 1), None, "evicted");
    assert!(ask(&cache, "*.w.example.com.", AAAA, 1).is_some(), "kept");

    // A refreshed record counts as new.
    let cache = AggressiveCache::with_limit(2);
    let records = chain();
    for i in [1, 2, 1, 3] {
        assert!(put(&cache, ZONE, records[i].clone(), 300, 0));
    }
    assert_eq!(cache.len(), 2);
    assert!(ask(&cache, "a.example.com.", AAAA, 1).is_some());
    assert!(ask(&cache, "b.c.example.com.", AAAA, 1).is_none());
}

#[test]
fn the_deepest_zone_answers() {
    let cache = AggressiveCache::new();
    let parent = [
        nsec(ZONE, "sub.example.com.", &[RecordType::SOA, NS, DNSKEY]),
        nsec("sub.example.com.", ZONE, &[NS, DS]),
    ];
    for record in parent {
        assert!(put(&cache, ZONE, record, 300, 0));
    }
    // The parent's NSEC at the cut cannot deny names below it.
    assert_eq!(ask(&cache, "x.sub.example.com.", A, 1), None);
    let child = [
        nsec(
            "sub.example.com.",
            "www.sub.example.com.",
            &[RecordType::SOA, NS, DNSKEY],
        ),
        nsec("www.sub.example.com.", "sub.example.com.", &[A]),
    ];
    for record in child {
        assert!(put(&cache, "sub.example.com.", record, 300, 0));
    }
    let s = ask(&cache, "x.sub.example.com.", A, 1).unwrap();
    assert!(s.nx);
    assert_eq!(s.records[0].name, n("sub.example.com."));
    assert_eq!(
        proof_owners(&s, RecordType::NSEC),
        ["www.sub.example.com.", "sub.example.com."]
    );
    // Names of the parent still use the parent's chain.
    let s = ask(&cache, "b.example.com.", A, 1).unwrap();
    assert_eq!(s.records[0].name, n(ZONE));
    // DS is the parent's: the child apex NSEC must not deny it.
    assert_eq!(ask(&cache, "sub.example.com.", DS, 1), None);
    assert!(ask(&cache, "sub.example.com.", TXT, 1).is_some());
}

fn hash(name: &str, iterations: u16) -> Vec<u8> {
    let digest = Nsec3HashAlgorithm::SHA1.hash(SALT, &n(name), iterations);
    digest.unwrap().as_ref().to_vec()
}

/// The NSEC3 record for `name`, pointing at `next`'s hash.
fn nsec3_record(
    name: &str,
    iterations: u16,
    opt_out: bool,
    types: &[RecordType],
    next: &str,
) -> Record {
    let label = data_encoding::BASE32HEX_NOPAD.encode(&hash(name, iterations));
    let owner = n(ZONE).prepend_label(label.to_ascii_lowercase()).unwrap();
    let mut all = types.to_vec();
    if !all.is_empty() {
        all.push(RecordType::RRSIG);
    }
    let next = hash(next, iterations);
    let data = NSEC3::new(
        Nsec3HashAlgorithm::SHA1,
        opt_out,
        iterations,
        SALT.to_vec(),
        next,
        all,
    );
    Record::from_rdata(owner, 3600, RData::DNSSEC(DNSSECRData::NSEC3(data)))
}

/// example.com hashed: every name (empty non-terminals included) in hash
/// order, each record pointing at the next.
fn nsec3_chain(iterations: u16, opt_out: bool) -> Vec<Record> {
    let names: [(&str, &[RecordType]); 7] = [
        (ZONE, &[RecordType::SOA, NS, DNSKEY, NSEC3PARAM]),
        ("a.example.com.", &[A]),
        ("c.example.com.", &[]),
        ("b.c.example.com.", &[A]),
        ("e.example.com.", &[NS, DS]),
        ("w.example.com.", &[]),
        ("*.w.example.com.", &[A]),
    ];
    let mut sorted: Vec<_> = names
        .iter()
        .map(|(name, types)| (hash(name, iterations), *name, *types))
        .collect();
    sorted.sort();
    (0..sorted.len())
        .map(|i| {
            let (_, name, types) = sorted[i];
            let (_, next, _) = sorted[(i + 1) % sorted.len()];
            nsec3_record(name, iterations, opt_out, types, next)
        })
        .collect()
}

fn nsec3_cache(iterations: u16, opt_out: bool) -> AggressiveCache {
    cache_with(nsec3_chain(iterations, opt_out))
}

#[test]
fn nsec3_nxdomain_and_nodata() {
    let cache = nsec3_cache(1, false);
    let s = ask(&cache, "x.example.com.", A, 1).unwrap();
    assert!(s.nx);
    let proof = proof_owners(&s, RecordType::NSEC3);
    assert!((2..=3).contains(&proof.len()), "{proof:?}");
    assert_eq!(
        s.records
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .count(),
        proof.len() + 1
    );
    let s = ask(&cache, "q.b.c.example.com.", A, 1).unwrap();
    assert!(s.nx);
    let cases: &[(&str, RecordType, bool)] = &[
        ("a.example.com.", AAAA, true),
        ("a.example.com.", A, false),
        ("c.example.com.", A, true),      // empty non-terminal
        ("e.example.com.", DS, false),    // the DS exists
        ("x.w.example.com.", AAAA, true), // wildcard lacks AAAA
        ("x.w.example.com.", A, false),   // the wildcard answers
    ];
    for &(name, qtype, expected) in cases {
        let got = ask(&cache, name, qtype, 1);
        assert_eq!(
            got.as_ref().map(|s| s.nx),
            expected.then_some(false),
            "{name} {qtype}"
        );
    }
    assert_eq!(ask(&cache, "x.example.com.", A, 300), None, "expired");
}

#[test]
fn nsec3_opt_out_never_denies_names() {
    let cache = nsec3_cache(1, true);
    assert_eq!(ask(&cache, "x.example.com.", A, 1), None);
    assert_eq!(ask(&cache, "x.w.example.com.", AAAA, 1), None);
    // A record matching the name itself still shows its types.
    assert!(ask(&cache, "a.example.com.", AAAA, 1).is_some());
}

#[test]
fn nsec3_limits_iterations_and_hashes() {
    let cache = nsec3_cache(10, false);
    let name = n("x.example.com.");
    assert_eq!(cache.synthesize(&name, A, t(1), 5, &mut budget()), None);
    assert!(cache
        .synthesize(&name, A, t(1), 10, &mut budget())
        .is_some());
    let mut poor = budget();
    poor.nsec3_hashes_left = 2;
    assert_eq!(cache.synthesize(&name, A, t(1), 10, &mut poor), None);
    assert_eq!(poor.nsec3_hashes_left, 0);
}

#[test]
fn an_nsec_from_a_referral_answers_only_once_the_zone_soa_is_known() {
    let cache = AggressiveCache::new();
    let deleg = nsec("d.example.com.", "e.example.com.", &[NS]);
    let sigs = vec![sig(&deleg.name, RecordType::NSEC, ZONE)];
    assert!(cache.insert_nsec_without_soa(&n(ZONE), deleg, sigs, 3600, t(0)));
    // No SOA of the zone yet: nothing can be synthesised.
    assert!(cache
        .synthesize(&n("d.example.com."), DS, t(1), 150, &mut budget())
        .is_none());
    // A denial elsewhere in the zone brings the SOA.
    assert!(put(
        &cache,
        ZONE,
        nsec("a.example.com.", "b.c.example.com.", &[A]),
        3600,
        1
    ));
    let s = cache
        .synthesize(&n("d.example.com."), DS, t(2), 150, &mut budget())
        .expect("NODATA for the DS of an insecure delegation");
    assert!(!s.nx);
    // A non-NSEC record is refused.
    assert!(!cache.insert_nsec_without_soa(
        &n(ZONE),
        soa(ZONE, 3600, 3600),
        Vec::new(),
        3600,
        t(0)
    ));
}
