//! Table tests for the NSEC proofs over a small signed zone, example.com:
//! `a` (A), `b.c` (A, so `c` is an empty non-terminal), `d` (unsigned
//! delegation: NS), `e` (signed delegation: NS DS) and `*.w` (A).

use super::*;
use hickory_proto::rr::RecordType::{A, AAAA, CNAME, DNSKEY, DS, MX, NS, RRSIG, SOA};

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn rec(owner: &str, next: &str, types: &[RecordType]) -> (Name, NSEC) {
    let mut all = types.to_vec();
    all.extend([RRSIG, RecordType::NSEC]);
    (n(owner), NSEC::new(n(next), all))
}

/// The zone's NSEC chain, in canonical order.
fn zone_chain() -> Vec<(Name, NSEC)> {
    vec![
        rec("example.com.", "a.example.com.", &[SOA, NS, MX, DNSKEY]),
        rec("a.example.com.", "b.c.example.com.", &[A]),
        rec("b.c.example.com.", "d.example.com.", &[A]),
        rec("d.example.com.", "e.example.com.", &[NS]),
        rec("e.example.com.", "*.w.example.com.", &[NS, DS]),
        rec("*.w.example.com.", "example.com.", &[A]),
    ]
}

/// The records of the chain whose owners are listed.
fn pick(owners: &[&str]) -> Vec<(Name, NSEC)> {
    zone_chain()
        .into_iter()
        .filter(|(owner, _)| owners.iter().any(|o| same_name(owner, &n(o))))
        .collect()
}

fn zone() -> Name {
    n("example.com.")
}

/// The failure kind, or None on success.
fn kind<T>(r: Result<T, Bogus>) -> Option<BogusKind> {
    r.err().map(|b| b.kind)
}

const OK: Option<BogusKind> = None;
/// A proof the records do not make: bogus (EDE 6) like a contradiction,
/// as Unbound reports it (val_nx_overreach, val_nsec3_b1_nameerror_nowc).
const MISSING: Option<BogusKind> = Some(BogusKind::Bogus);
const BOGUS: Option<BogusKind> = Some(BogusKind::Bogus);

#[test]
fn canonical_order_matches_rfc4034_example() {
    let raw = |labels: &[&[u8]]| Name::from_labels(labels.iter().copied()).unwrap();
    let ordered = [
        n("example."),
        n("a.example."),
        n("yljkjljk.a.example."),
        n("Z.a.example."),
        n("zABC.a.EXAMPLE."),
        n("z.example."),
        raw(&[b"\x01", b"z", b"example"]),
        n("*.z.example."),
        raw(&[b"\xc8", b"z", b"example"]),
    ];
    for pair in ordered.windows(2) {
        assert_eq!(
            canonical_cmp(&pair[0], &pair[1]),
            Ordering::Less,
            "{pair:?}"
        );
        assert_eq!(canonical_cmp(&pair[1], &pair[0]), Ordering::Greater);
    }
    assert_eq!(
        canonical_cmp(&n("A.Example."), &n("a.example.")),
        Ordering::Equal
    );
}

#[test]
fn covers_handles_the_wrap_to_the_apex() {
    let cases = [
        ("a.example.", "c.example.", "b.example.", true),
        ("a.example.", "c.example.", "a.example.", false),
        ("a.example.", "c.example.", "c.example.", false),
        ("a.example.", "c.example.", "x.a.example.", true),
        ("a.example.", "c.example.", "d.example.", false),
        // Last NSEC: next is the apex.
        ("z.example.", "example.", "zz.example.", true),
        ("z.example.", "example.", "y.example.", false),
        // A zone with one name: the apex NSEC points at itself.
        ("example.", "example.", "x.example.", true),
        ("example.", "example.", "example.", false),
    ];
    for (owner, next, name, want) in cases {
        assert_eq!(covers(&n(owner), &n(next), &n(name)), want, "{name}");
    }
}

#[test]
fn nxdomain_table() {
    let cases: &[(&str, &[&str], Option<BogusKind>)] = &[
        // e -> *.w covers it; the apex NSEC covers *.example.com.
        ("nope.example.com.", &["e.example.com.", "example.com."], OK),
        ("nope.example.com.", &["e.example.com."], MISSING),
        ("nope.example.com.", &["example.com."], MISSING),
        // One NSEC covers both the name and *.a.example.com.
        ("x.a.example.com.", &["a.example.com."], OK),
        // The parent-side NSEC at the delegation d cannot deny x.d.
        (
            "x.d.example.com.",
            &["d.example.com.", "example.com."],
            MISSING,
        ),
        // c exists as an empty non-terminal (b.c is below it).
        (
            "c.example.com.",
            &["a.example.com.", "example.com."],
            MISSING,
        ),
        // The wildcard *.w exists, so x.w cannot be NXDOMAIN.
        ("x.w.example.com.", &["*.w.example.com."], MISSING),
        (
            "nope.example.net.",
            &["e.example.com.", "example.com."],
            BOGUS,
        ),
    ];
    for (qname, owners, want) in cases {
        let got = prove_nxdomain(&n(qname), &zone(), &pick(owners));
        assert_eq!(kind(got), *want, "{qname} with {owners:?}");
    }
}

#[test]
fn nxdomain_reports_the_closest_encloser() {
    let proof = prove_nxdomain(&n("x.a.example.com."), &zone(), &zone_chain()).unwrap();
    assert_eq!(proof.closest_encloser, n("a.example.com."));
    let proof = prove_nxdomain(&n("q.nope.example.com."), &zone(), &zone_chain()).unwrap();
    assert_eq!(proof.closest_encloser, n("example.com."));
}

#[test]
fn nxdomain_error_names_qname_and_zone() {
    let err = prove_nxdomain(&n("nope.example.com."), &zone(), &[]).unwrap_err();
    assert_eq!(err.kind.ede_code(), 6);
    assert!(err.text.contains("nope.example.com"), "{}", err.text);
    assert!(err.text.contains(" example.com"), "{}", err.text);
}

#[test]
fn nodata_table() {
    let cases: &[(&str, RecordType, &[&str], Option<BogusKind>)] = &[
        ("a.example.com.", AAAA, &["a.example.com."], OK),
        ("A.EXAMPLE.COM.", AAAA, &["a.example.com."], OK),
        ("a.example.com.", A, &["a.example.com."], BOGUS),
        ("a.example.com.", AAAA, &[], MISSING),
        // Empty non-terminal: a -> b.c shows c exists with no types.
        ("c.example.com.", A, &["a.example.com."], OK),
        // The parent side of a delegation answers only for DS.
        ("d.example.com.", A, &["d.example.com."], MISSING),
        ("d.example.com.", DS, &["d.example.com."], OK),
        ("e.example.com.", DS, &["e.example.com."], BOGUS),
        // The child apex NSEC cannot deny the DS above it.
        ("example.com.", DS, &["example.com."], MISSING),
        ("example.com.", AAAA, &["example.com."], OK),
        // Wildcard NODATA: *.w covers x.w and matches the wildcard.
        ("x.w.example.com.", AAAA, &["*.w.example.com."], OK),
        ("x.w.example.com.", A, &["*.w.example.com."], BOGUS),
        // Covered, but no NSEC at the wildcard *.example.com.
        ("nope.example.com.", A, &["e.example.com."], MISSING),
    ];
    for (qname, qtype, owners, want) in cases {
        let got = prove_nodata(&n(qname), *qtype, &zone(), &pick(owners));
        assert_eq!(kind(got), *want, "{qname} {qtype} with {owners:?}");
    }
}

#[test]
fn nodata_refuses_a_cname_owner() {
    let nsecs = vec![rec("a.example.com.", "b.example.com.", &[CNAME])];
    let got = prove_nodata(&n("a.example.com."), AAAA, &zone(), &nsecs);
    assert_eq!(kind(got), BOGUS);
}

#[test]
fn no_ds_table() {
    use NoDs::{InsecureDelegation, NotACut};
    let cases: &[(&str, &[&str], Result<NoDs, BogusKind>)] = &[
        (
            "d.example.com.",
            &["d.example.com."],
            Ok(InsecureDelegation),
        ),
        ("e.example.com.", &["e.example.com."], Err(BogusKind::Bogus)),
        ("example.com.", &["example.com."], Err(BogusKind::Bogus)),
        ("a.example.com.", &["a.example.com."], Ok(NotACut)),
        ("c.example.com.", &["a.example.com."], Ok(NotACut)),
        ("d.example.com.", &[], Err(BogusKind::Bogus)),
        // Covered: the name does not exist, so no delegation to vouch for.
        (
            "nope.example.com.",
            &["e.example.com."],
            Err(BogusKind::Bogus),
        ),
    ];
    for (name, owners, want) in cases {
        let got = prove_no_ds(&n(name), &zone(), &pick(owners)).map_err(|b| b.kind);
        assert_eq!(got, *want, "{name} with {owners:?}");
    }
}

#[test]
fn wildcard_answer_table() {
    let cases: &[(&str, &str, &[&str], Option<BogusKind>)] = &[
        (
            "x.w.example.com.",
            "*.w.example.com.",
            &["*.w.example.com."],
            OK,
        ),
        (
            "y.x.w.example.com.",
            "*.w.example.com.",
            &["*.w.example.com."],
            OK,
        ),
        ("x.w.example.com.", "*.w.example.com.", &[], MISSING),
        // The cover shows w.example.com is closer than example.com.
        (
            "x.w.example.com.",
            "*.example.com.",
            &["*.w.example.com."],
            MISSING,
        ),
        // a.example.com exists, so no wildcard can answer for it.
        (
            "a.example.com.",
            "*.example.com.",
            &["example.com."],
            MISSING,
        ),
        (
            "x.w.example.com.",
            "w.example.com.",
            &["*.w.example.com."],
            BOGUS,
        ),
        (
            "x.w.example.com.",
            "*.x.w.example.com.",
            &["*.w.example.com."],
            BOGUS,
        ),
    ];
    for (qname, wildcard, owners, want) in cases {
        let got = prove_wildcard_answer(&n(qname), &n(wildcard), &zone(), &pick(owners));
        assert_eq!(kind(got), *want, "{qname} from {wildcard} with {owners:?}");
    }
}

#[test]
fn dname_owner_cannot_deny_names_below() {
    let nsecs = vec![
        rec("example.com.", "a.example.com.", &[SOA, NS]),
        rec("a.example.com.", "b.example.com.", &[RecordType::DNAME]),
    ];
    let got = prove_nxdomain(&n("x.a.example.com."), &zone(), &nsecs);
    assert_eq!(kind(got), MISSING);
}

#[test]
fn signed_owner_undoes_wildcard_expansion() {
    let cases: &[(&str, u8, &str)] = &[
        ("a.example.com.", 3, "a.example.com."),
        ("b.a.example.com.", 2, "*.example.com."),
        ("b.a.example.com.", 3, "*.a.example.com."),
        // A wildcard owner signed as such: its label count omits the `*`.
        ("*.example.com.", 2, "*.example.com."),
        ("x.example.com.", 0, "*."),
        // A count above the owner's is no expansion (the signature will
        // not verify anyway).
        ("a.example.com.", 9, "a.example.com."),
    ];
    for (owner, labels, want) in cases {
        let got = signed_owner(&n(owner), *labels).unwrap();
        assert!(same_name(&got, &n(want)), "{owner} {labels}: {got}");
    }
}

/// Unbound's val_nx_failwc / val_nodata_failwc (CVE-2017-15105): an NSEC
/// expanded from *.example.com to `!.example.com` would cover both the
/// query name and the wildcard; under its signed owner it covers neither
/// the wildcard (it is the wildcard) nor names after its next name.
#[test]
fn expanded_nsec_proves_nothing_for_the_expanded_name() {
    let bang = Name::from_labels([&b"!"[..], b"example", b"com"]).unwrap();
    let forged = NSEC::new(n("d.example.com."), vec![A, RRSIG, RecordType::NSEC]);
    let apex = rec("example.com.", "*.example.com.", &[SOA, NS]);
    let as_sent = vec![apex.clone(), (bang.clone(), forged.clone())];
    assert_eq!(
        kind(prove_nxdomain(&n("c.example.com."), &zone(), &as_sent)),
        OK
    );
    let owner = signed_owner(&bang, 2).unwrap();
    let as_signed = vec![apex, (owner, forged)];
    assert_eq!(
        kind(prove_nxdomain(&n("c.example.com."), &zone(), &as_signed)),
        MISSING
    );
    // NODATA: the expanded NSEC matches the query name exactly; under
    // its signed owner it neither matches nor covers it.
    let q = n("_25._tcp.mail.example.com.");
    let at_q = vec![rec("_25._tcp.mail.example.com.", "d.example.com.", &[A])];
    assert_eq!(kind(prove_nodata(&q, AAAA, &zone(), &at_q)), OK);
    let owner = signed_owner(&q, 2).unwrap();
    let as_signed = vec![(owner, at_q[0].1.clone())];
    assert_eq!(kind(prove_nodata(&q, AAAA, &zone(), &as_signed)), MISSING);
}
