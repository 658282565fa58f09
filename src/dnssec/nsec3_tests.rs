//! Table tests for the NSEC3 proofs: a small zone, example.com, hashed
//! with hickory at setup (`a`, `b.c`, `d` unsigned delegation, `e` signed
//! delegation, `*.w`; `c` and `w` are empty non-terminals), and the RFC 5155
//! Appendix B.1 name error vector.

use super::*;
use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::RecordType::{A, AAAA, DNSKEY, DS, MX, NS, NSEC3PARAM, RRSIG, SOA};

const SALT: &[u8] = &[0xab, 0xcd];
const MAX: u16 = 150;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn hash(name: &str, iterations: u16) -> Vec<u8> {
    Nsec3HashAlgorithm::SHA1
        .hash(SALT, &n(name), iterations)
        .unwrap()
        .as_ref()
        .to_vec()
}

fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The zone's names and types; `d`, the unsigned delegation, is left out
/// of an opt-out chain.
fn names(opt_out: bool) -> Vec<(&'static str, Vec<RecordType>)> {
    let mut all = vec![
        ("example.com.", vec![SOA, NS, DNSKEY, NSEC3PARAM, RRSIG]),
        ("a.example.com.", vec![A, RRSIG]),
        ("c.example.com.", vec![]),
        ("b.c.example.com.", vec![A, RRSIG]),
        ("e.example.com.", vec![NS, DS, RRSIG]),
        ("w.example.com.", vec![]),
        ("*.w.example.com.", vec![A, RRSIG]),
    ];
    if !opt_out {
        all.push(("d.example.com.", vec![NS]));
    }
    all
}

/// One NSEC3 per name in hash order, each pointing at the next.
struct Zone {
    hashes: Vec<Vec<u8>>,
    records: Vec<(Name, NSEC3)>,
    iterations: u16,
}

fn zone_with(iterations: u16, opt_out: bool) -> Zone {
    let mut hashed: Vec<(Vec<u8>, Vec<RecordType>)> = names(opt_out)
        .into_iter()
        .map(|(name, types)| (hash(name, iterations), types))
        .collect();
    hashed.sort();
    let records = (0..hashed.len())
        .map(|i| {
            let (owner, types) = &hashed[i];
            let next = hashed[(i + 1) % hashed.len()].0.clone();
            let rec = NSEC3::new(
                Nsec3HashAlgorithm::SHA1,
                opt_out,
                iterations,
                SALT.to_vec(),
                next,
                types.clone(),
            );
            (n(&format!("{}.example.com.", base32hex(owner))), rec)
        })
        .collect();
    let hashes = hashed.into_iter().map(|(h, _)| h).collect();
    Zone {
        hashes,
        records,
        iterations,
    }
}

fn zone_chain() -> Zone {
    zone_with(0, false)
}

enum Drop {
    Match(&'static str),
    Cover(&'static str),
}

impl Zone {
    /// The chain without the records matching or covering some names: a
    /// full chain has exactly one of either for every name.
    fn without(&self, drops: &[Drop]) -> Vec<(Name, NSEC3)> {
        let len = self.hashes.len();
        let gone = |i: usize| {
            drops.iter().any(|d| match d {
                Drop::Match(name) => self.hashes[i] == hash(name, self.iterations),
                Drop::Cover(name) => {
                    let h = hash(name, self.iterations);
                    let (owner, next) = (&self.hashes[i], &self.hashes[(i + 1) % len]);
                    if owner < next {
                        *owner < h && h < *next
                    } else {
                        *owner < h || h < *next
                    }
                }
            })
        };
        (0..len)
            .filter(|&i| !gone(i))
            .map(|i| self.records[i].clone())
            .collect()
    }
}

fn apex() -> Name {
    n("example.com.")
}

fn budget() -> Budget {
    Budget::new(100)
}

/// Secure, insecure for opt-out / iterations / an unsigned delegation, or
/// the bogus kind.
#[derive(Debug, PartialEq)]
enum Got {
    Secure,
    OptOut,
    Iterations,
    Unsigned,
    Fail(BogusKind),
}

fn got(r: Result<Nsec3Result, Bogus>) -> Got {
    match r {
        Ok(Nsec3Result::Secure) => Got::Secure,
        Ok(Nsec3Result::Insecure(Nsec3Insecure::OptOut { .. })) => Got::OptOut,
        Ok(Nsec3Result::Insecure(Nsec3Insecure::Iterations { .. })) => Got::Iterations,
        Ok(Nsec3Result::Insecure(Nsec3Insecure::Delegation { .. })) => Got::Unsigned,
        Err(b) => Got::Fail(b.kind),
    }
}

/// A proof the records do not make: bogus (EDE 6) like a contradiction,
/// as Unbound reports it.
const MISSING: Got = Got::Fail(BogusKind::Bogus);
const BOGUS: Got = Got::Fail(BogusKind::Bogus);

#[test]
fn base32hex_decodes_owner_labels() {
    let h = hash("a.example.com.", 0);
    assert_eq!(base32hex_decode(base32hex(&h).as_bytes()), Some(h.clone()));
    let upper = base32hex(&h).to_ascii_uppercase();
    assert_eq!(base32hex_decode(upper.as_bytes()), Some(h));
    assert_eq!(base32hex_decode(b"w0"), None, "w is outside the alphabet");
    assert_eq!(base32hex_decode(b"01"), None, "non-zero leftover bits");
    assert_eq!(base32hex_decode(b""), Some(vec![]));
}

#[test]
fn nxdomain_table() {
    use Drop::{Cover, Match};
    let z = zone_chain();
    let cases: &[(&str, &[Drop], Got)] = &[
        ("nope.example.com.", &[], Got::Secure),
        ("x.nope.example.com.", &[], Got::Secure),
        ("x.a.example.com.", &[], Got::Secure),
        ("nope.example.com.", &[Cover("nope.example.com.")], MISSING),
        ("nope.example.com.", &[Cover("*.example.com.")], MISSING),
        ("nope.example.com.", &[Match("example.com.")], MISSING),
        // d's NSEC3 is the parent side of an unsigned cut: names below
        // are in an unsigned zone. Below the signed cut e, bogus.
        ("x.d.example.com.", &[], Got::Unsigned),
        ("x.e.example.com.", &[], MISSING),
        ("a.example.com.", &[], BOGUS),
        // The wildcard *.w exists, so nothing below w is NXDOMAIN.
        ("x.w.example.com.", &[], MISSING),
        ("nope.example.net.", &[], BOGUS),
    ];
    for (qname, drops, want) in cases {
        let r = prove_nxdomain(&n(qname), &apex(), &z.without(drops), MAX, &mut budget());
        assert_eq!(got(r), *want, "{qname}");
    }
}

#[test]
fn nodata_table() {
    use Drop::Match;
    let z = zone_chain();
    let cases: &[(&str, RecordType, &[Drop], Got)] = &[
        ("a.example.com.", AAAA, &[], Got::Secure),
        ("a.example.com.", A, &[], BOGUS),
        ("a.example.com.", AAAA, &[Match("a.example.com.")], MISSING),
        // Empty non-terminals have their own NSEC3 with no types.
        ("c.example.com.", A, &[], Got::Secure),
        // The unsigned delegation d answers for nothing but its DS: the
        // rest is insecure, as in Unbound. The signed one, e, is bogus.
        ("d.example.com.", A, &[], Got::Unsigned),
        ("x.d.example.com.", A, &[], Got::Unsigned),
        ("x.d.example.com.", DS, &[], MISSING),
        ("e.example.com.", A, &[], MISSING),
        ("d.example.com.", DS, &[], Got::Secure),
        ("e.example.com.", DS, &[], BOGUS),
        ("example.com.", DS, &[], MISSING),
        ("example.com.", MX, &[], Got::Secure),
        // Wildcard NODATA (§8.7).
        ("x.w.example.com.", AAAA, &[], Got::Secure),
        ("x.w.example.com.", A, &[], BOGUS),
        (
            "x.w.example.com.",
            AAAA,
            &[Match("*.w.example.com.")],
            MISSING,
        ),
    ];
    for (qname, qtype, drops, want) in cases {
        let r = prove_nodata(
            &n(qname),
            *qtype,
            &apex(),
            &z.without(drops),
            MAX,
            &mut budget(),
        );
        assert_eq!(got(r), *want, "{qname} {qtype}");
    }
}

#[test]
fn opt_out_gives_insecure_never_secure() {
    let z = zone_with(0, true);
    let all = z.without(&[]);
    let d = n("d.example.com.");
    let r = prove_nodata(&d, DS, &apex(), &all, MAX, &mut budget());
    assert_eq!(got(r), Got::OptOut, "§8.6");
    let r = prove_no_ds(&d, &apex(), &all, MAX, &mut budget());
    assert_eq!(got(r), Got::OptOut, "§8.9");
    let r = prove_nxdomain(&n("nope.example.com."), &apex(), &all, MAX, &mut budget());
    assert_eq!(got(r), Got::OptOut, "a name error over an opt-out span");
    // §9.2 and Unbound: opt-out excuses any type, since an unsigned
    // delegation may hide in the span (val_nsec3_optout_ad,
    // val_nsec3_entnodata_optout, val_nsec3_b5_wcnodata_nowc).
    let r = prove_nodata(&d, A, &apex(), &all, MAX, &mut budget());
    assert_eq!(got(r), Got::OptOut, "opt-out excuses any type");
    // Wildcard NODATA over an opt-out next closer name is insecure too
    // (val_nsec3_b5_wcnodata).
    let r = prove_nodata(
        &n("x.w.example.com."),
        AAAA,
        &apex(),
        &all,
        MAX,
        &mut budget(),
    );
    assert_eq!(got(r), Got::OptOut, "wildcard NODATA in an opt-out span");
    // Without opt-out, the missing match is bogus
    // (val_nsec3_entnodata_optout_badopt).
    let plain = zone_chain().without(&[Drop::Match("c.example.com.")]);
    let r = prove_nodata(&n("c.example.com."), A, &apex(), &plain, MAX, &mut budget());
    assert_eq!(got(r), MISSING);
    // The matching records still prove what they show.
    let r = prove_nodata(
        &n("a.example.com."),
        AAAA,
        &apex(),
        &all,
        MAX,
        &mut budget(),
    );
    assert_eq!(got(r), Got::Secure);
}

#[test]
fn no_ds_table() {
    let z = zone_chain();
    let cases: &[(&str, &[Drop], Got)] = &[
        ("d.example.com.", &[], Got::Secure),
        ("a.example.com.", &[], Got::Secure),
        ("e.example.com.", &[], BOGUS),
        ("example.com.", &[], MISSING),
        ("d.example.com.", &[Drop::Match("d.example.com.")], MISSING),
        // Without opt-out, a missing name is no insecure delegation.
        ("nope.example.com.", &[], MISSING),
    ];
    for (name, drops, want) in cases {
        let r = prove_no_ds(&n(name), &apex(), &z.without(drops), MAX, &mut budget());
        assert_eq!(got(r), *want, "{name}");
    }
}

#[test]
fn wildcard_answer_table() {
    let z = zone_chain();
    let cases: &[(&str, &str, &[Drop], Got)] = &[
        ("x.w.example.com.", "*.w.example.com.", &[], Got::Secure),
        ("y.x.w.example.com.", "*.w.example.com.", &[], Got::Secure),
        (
            "y.x.w.example.com.",
            "*.w.example.com.",
            &[Drop::Cover("x.w.example.com.")],
            MISSING,
        ),
        // w exists: an answer claiming *.example.com for x.w is forged.
        ("x.w.example.com.", "*.example.com.", &[], MISSING),
        ("x.w.example.com.", "w.example.com.", &[], BOGUS),
    ];
    for (qname, wildcard, drops, want) in cases {
        let r = prove_wildcard_answer(
            &n(qname),
            &n(wildcard),
            &apex(),
            &z.without(drops),
            MAX,
            &mut budget(),
        );
        assert_eq!(got(r), *want, "{qname} from {wildcard}");
    }
    let opt_out = zone_with(0, true).without(&[]);
    let r = prove_wildcard_answer(
        &n("x.w.example.com."),
        &n("*.w.example.com."),
        &apex(),
        &opt_out,
        MAX,
        &mut budget(),
    );
    assert_eq!(got(r), Got::OptOut);
}

#[test]
fn iterations_above_the_cap_are_insecure_and_never_hashed() {
    let qname = n("nope.example.com.");
    let over = zone_with(151, false).without(&[]);
    let mut b = budget();
    let r = prove_nxdomain(&qname, &apex(), &over, MAX, &mut b);
    assert_eq!(
        r,
        Ok(Nsec3Result::Insecure(Nsec3Insecure::Iterations {
            iterations: 151,
            max: 150
        }))
    );
    assert_eq!(b.nsec3_hashes_done, 0);
    let at_cap = zone_with(150, false).without(&[]);
    let r = prove_nxdomain(&qname, &apex(), &at_cap, MAX, &mut budget());
    assert_eq!(got(r), Got::Secure);
}

#[test]
fn hashes_are_cached_and_budgeted() {
    let z = zone_chain().without(&[]);
    let qname = n("nope.example.com.");
    // nope, the apex and *.example.com: three hashes, however many
    // records each is compared with.
    let mut b = budget();
    assert_eq!(
        got(prove_nxdomain(&qname, &apex(), &z, MAX, &mut b)),
        Got::Secure
    );
    assert_eq!(b.nsec3_hashes_done, 3);
    let mut b = budget();
    b.nsec3_hashes_left = 2;
    let r = prove_nxdomain(&qname, &apex(), &z, MAX, &mut b);
    assert_eq!(got(r), Got::Fail(BogusKind::BudgetExhausted));
}

#[test]
fn closest_encloser_proof_names_both_names() {
    let z = zone_chain().without(&[]);
    let r = closest_encloser_proof(&n("p.q.a.example.com."), &apex(), &z, MAX, &mut budget());
    assert_eq!(
        r,
        Ok(Encloser::Proven(ClosestEncloser {
            closest_encloser: n("a.example.com."),
            next_closer: n("q.a.example.com."),
            opt_out: false,
        }))
    );
}

/// RFC 5155 Appendix B.1, as in Unbound's val_nsec3_b1_nameerror.rpl: the
/// name error for a.c.x.w.example (salt aabbccdd, 12 iterations).
fn rfc5155_b1(opt_out: bool) -> Vec<(Name, NSEC3)> {
    let rec = |owner: &str, next: &str, types: &[RecordType]| {
        let next = base32hex_decode(next.as_bytes()).unwrap();
        let rec = NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            opt_out,
            12,
            vec![0xaa, 0xbb, 0xcc, 0xdd],
            next,
            types.to_vec(),
        );
        (n(&format!("{owner}.example.")), rec)
    };
    vec![
        rec(
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
            &[MX, DNSKEY, NS, SOA, NSEC3PARAM, RRSIG],
        ),
        rec(
            "b4um86eghhds6nea196smvmlo4ors995",
            "gjeqe526plbf1g8mklp59enfd789njgi",
            &[MX, RRSIG],
        ),
        rec(
            "35mthgpgcu1qg68fab165klnsnk3dpvl",
            "b4um86eghhds6nea196smvmlo4ors995",
            &[NS, DS, RRSIG],
        ),
    ]
}

#[test]
fn rfc5155_appendix_b1_name_error() {
    let (qname, zone) = (n("a.c.x.w.example."), n("example."));
    let proof = closest_encloser_proof(&qname, &zone, &rfc5155_b1(false), MAX, &mut budget());
    assert_eq!(
        proof,
        Ok(Encloser::Proven(ClosestEncloser {
            closest_encloser: n("x.w.example."),
            next_closer: n("c.x.w.example."),
            opt_out: false,
        }))
    );
    let mut b = budget();
    let r = prove_nxdomain(&qname, &zone, &rfc5155_b1(false), MAX, &mut b);
    assert_eq!(r, Ok(Nsec3Result::Secure));
    // a.c.x.w, c.x.w, x.w and *.x.w.
    assert_eq!(b.nsec3_hashes_done, 4);
    // As published the records carry opt-out (flags 1), so the name error
    // is insecure: Unbound's scenario expects no AD bit either.
    let r = prove_nxdomain(&qname, &zone, &rfc5155_b1(true), MAX, &mut budget());
    assert_eq!(
        r,
        Ok(Nsec3Result::Insecure(Nsec3Insecure::OptOut {
            name: n("c.x.w.example.")
        }))
    );
    // Without the record covering *.x.w.example the proof fails.
    let mut partial = rfc5155_b1(false);
    partial.pop();
    let r = prove_nxdomain(&qname, &zone, &partial, MAX, &mut budget());
    assert_eq!(got(r), MISSING);
}

/// The chain with one record's parameters changed.
fn with_params(
    records: &[(Name, NSEC3)],
    i: usize,
    iterations: u16,
    salt: &[u8],
) -> Vec<(Name, NSEC3)> {
    let mut out = records.to_vec();
    let (owner, rec) = out[i].clone();
    let changed = NSEC3::new(
        rec.hash_algorithm(),
        rec.opt_out(),
        iterations,
        salt.to_vec(),
        rec.next_hashed_owner_name().to_vec(),
        rec.type_set().iter().collect::<Vec<_>>(),
    );
    out[i] = (owner, changed);
    out
}

/// Unbound's val_nx_nsec3_params and val_nx_nsec3_collision: records
/// from chains with different parameters make any proof bogus, before
/// iterations are even looked at.
#[test]
fn mixed_parameter_sets_are_bogus() {
    let z = zone_chain().without(&[]);
    let qname = n("nope.example.com.");
    let cases: &[(u16, &[u8])] = &[(1, SALT), (0, &[0xab]), (151, SALT)];
    for (iterations, salt) in cases {
        let mixed = with_params(&z, 0, *iterations, salt);
        let r = prove_nxdomain(&qname, &apex(), &mixed, MAX, &mut budget());
        assert_eq!(got(r), BOGUS, "{iterations} {salt:?}");
        let r = prove_nodata(
            &n("a.example.com."),
            AAAA,
            &apex(),
            &mixed,
            MAX,
            &mut budget(),
        );
        assert_eq!(got(r), BOGUS, "{iterations} {salt:?}");
    }
    // A colliding copy of a record, hashed another way, is refused too.
    let mut collided = z.clone();
    collided.push(with_params(&z, 0, 7, &[1, 2, 3])[0].clone());
    let r = prove_nxdomain(&qname, &apex(), &collided, MAX, &mut budget());
    assert_eq!(got(r), BOGUS);
}

#[test]
fn unsigned_delegation_as_closest_encloser() {
    let z = zone_chain().without(&[]);
    let below = n("x.d.example.com.");
    let r = closest_encloser_proof(&below, &apex(), &z, MAX, &mut budget());
    assert_eq!(
        r,
        Ok(Encloser::Insecure(Nsec3Insecure::Delegation {
            name: n("d.example.com.")
        }))
    );
    let r = prove_no_ds(&below, &apex(), &z, MAX, &mut budget());
    assert_eq!(got(r), MISSING, "a cut above says nothing of the DS");
}
