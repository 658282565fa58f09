//! `tern dig` on a signed network: `tern lab --dnssec` on 127.167.* /
//! 127.168.* (no other test uses them).
//!
//! - `+dnssec` answers print as Debian's `dig` prints them (RRSIG times,
//!   base64 split in 56-character words, NSEC type lists, DNSKEY/DS, the
//!   `do` EDNS flag, `+multiline` key-id comments), from the zones' servers
//!   and, for the `ad` flag, from the lab's validating resolver.
//! - `+trace +engine +anchor=FILE` shows the validator's steps (DS ↔ DNSKEY,
//!   RRSIG) and ends with the verdict: secure for www.example.lab, bogus
//!   for bogus.example.lab.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod dig_common;
mod lab_support;

use std::path::Path;
use std::sync::Mutex;

use dig_common::{assert_same, real_dig, tern_dig};
use lab_support::{lab_copy_moved, start_lab_map, wait_for, LabMap};

/// One lab at a time: the tests of this file share its addresses.
static LAB: Mutex<()> = Mutex::new(());

const RESOLVER: &str = "127.167.255.1";

/// Shapes asked of the zones' own servers (`@server` first).
const AUTH_SHAPES: &[&str] = &[
    "@127.167.12.1 www.example.lab +dnssec +norec",
    "@127.167.12.1 www.example.lab +dnssec +norec +multiline",
    "@127.167.12.1 example.lab DNSKEY +dnssec +norec",
    "@127.167.12.1 example.lab DNSKEY +dnssec +norec +multiline",
    "@127.167.12.1 nope.example.lab +dnssec +norec",
    "@127.167.12.1 nope.example.lab +dnssec +norec +multiline",
    "@127.167.12.1 example.lab NSEC +dnssec +norec",
    "@127.167.12.1 example.lab ANY +dnssec +norec",
    "@127.167.12.1 example.lab DNSKEY +dnssec +norec +short",
    "@127.167.2.1 example.lab +dnssec +norec",
    "@127.167.0.1 lab DS +dnssec +norec +multiline",
    "@127.167.0.1 . DNSKEY +dnssec +norec +multiline",
    "@127.167.1.1 cdn.net DS +dnssec +norec",
];

/// Shapes asked of the validating resolver: `ad`, and no `ad` for the
/// unsigned cdn.net and with `+cd`.
const RESOLVER_SHAPES: &[&str] = &[
    "www.example.lab +dnssec",
    "www.example.lab",
    "nope.example.lab +dnssec +multiline",
    "example.lab DNSKEY +dnssec",
    "eu-1.cdn.net +dnssec",
    "bogus.example.lab +dnssec",
    "bogus.example.lab +dnssec +cd",
];

fn start() -> LabMap {
    let dir = lab_copy_moved("dig-dnssec", 167, 168);
    let lab = start_lab_map(&dir, &["--dnssec"]);
    wait_for("127.167.12.1:53", "www.example.lab.");
    wait_for(&format!("{RESOLVER}:53"), "www.example.lab.");
    lab
}

/// A resolver's TTLs count down between the two runs: mask the TTL
/// column of record lines (one-line and `+multiline` forms).
fn mask_ttls(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(';') || l.is_empty() || l.starts_with(char::is_whitespace) {
                return l.to_string();
            }
            let Some((owner, rest)) = l.split_once('\t') else {
                return l.to_string();
            };
            let tabs = rest.len() - rest.trim_start_matches('\t').len();
            let body = &rest[tabs..];
            let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return l.to_string();
            }
            format!("{owner}\t{}<TTL>{}", &rest[..tabs], &body[digits..])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn compare(shape: &str, ttls: bool) {
    let args: Vec<&str> = shape.split_whitespace().collect();
    let want = real_dig(&args);
    let got = tern_dig(&args);
    assert_eq!(want.status.code(), got.status.code(), "{shape}: exit codes");
    let (mut w, mut g) = (
        String::from_utf8_lossy(&want.stdout).into_owned(),
        String::from_utf8_lossy(&got.stdout).into_owned(),
    );
    if ttls {
        (w, g) = (mask_ttls(&w), mask_ttls(&g));
    }
    assert!(w.lines().count() > 2, "{shape}: dig printed little:\n{w}");
    assert_same(shape, &w, &g);
}

fn engine(lab: &LabMap, anchor: &Path, name: &str) -> (Option<i32>, String) {
    let hints = format!("+hints={}", lab.hints.display());
    let anchor = format!("+anchor={}", anchor.display());
    let out = tern_dig(&["+engine", "+timeout=2", name, &hints, &anchor]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn dnssec_answers_match_dig_and_the_engine_trace_validates() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = start();
    for shape in AUTH_SHAPES {
        compare(shape, false);
    }
    for shape in RESOLVER_SHAPES {
        compare(&format!("@{RESOLVER} {shape}"), true);
    }
    // The pieces the comparison is about are there at all.
    let out = tern_dig(&["@127.167.255.1", "www.example.lab", "+dnssec"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(";; flags: qr rd ra ad;"), "{text}");
    assert!(
        text.contains("; EDNS: version: 0, flags: do; udp: "),
        "{text}"
    );
    assert!(text.contains("\tIN\tRRSIG\tA 13 3 3600 20"), "{text}");

    let anchor = lab
        .anchor
        .clone()
        .unwrap_or_else(|| panic!("no trust anchor line:\n{}", lab.text));

    // Secure: the chain from the lab's root anchor down to the RRSIG.
    let (code, text) = engine(&lab, &anchor, "www.example.lab");
    assert_eq!(code, Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let at = |want: &dyn Fn(&str) -> bool, what: &str| {
        lines
            .iter()
            .position(|l| want(l))
            .unwrap_or_else(|| panic!("no {what} line in:\n{text}"))
    };
    let root = at(
        &|l| l == ";; dnssec: . is a trust anchor: checking its DNSKEY set",
        "root anchor",
    );
    let lab_ds = at(
        &|l| l.starts_with(";; dnssec: DS of lab. (signed by .) matches DNSKEY "),
        "lab. DS",
    );
    let zone_ds = at(
        &|l| l.starts_with(";; dnssec: DS of example.lab. (signed by lab.) matches DNSKEY "),
        "example.lab. DS",
    );
    let rrsig = at(
        &|l| {
            l.starts_with(";; dnssec: RRSIG over www.example.lab. A by example.lab. (key ")
                && l.ends_with(" verifies")
        },
        "RRSIG",
    );
    let resolved = at(&|l| l == ";; resolved: No Error", "resolved");
    assert!(
        root < lab_ds && lab_ds < zone_ds && zone_ds < rrsig && rrsig < resolved,
        "{text}"
    );
    assert_eq!(lines.last(), Some(&";; validation: secure"), "{text}");

    // Bogus: the chain holds, the RRSIG does not; SERVFAIL, exit 9.
    let (code, text) = engine(&lab, &anchor, "bogus.example.lab");
    assert_eq!(code, Some(9), "{text}");
    assert!(
        text.contains(";; dnssec: keys of example.lab.: secure, DNSKEY tags "),
        "{text}"
    );
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(";; validation: bogus (EDE 6 DNSSEC Bogus): RRSIG for bogus.example.lab. A by example.lab. (key ")
            && last.ends_with(") does not verify"),
        "{text}"
    );

    // JSON carries the steps as notes and the verdict in the result.
    let hints = format!("+hints={}", lab.hints.display());
    let anchor_opt = format!("+anchor={}", anchor.display());
    let out = tern_dig(&["+engine", "+json", "www.example.lab", &hints, &anchor_opt]);
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| e["event"] == "note"
        && e["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("dnssec: RRSIG over www.example.lab. A"))));
    let result = events.last().unwrap();
    assert_eq!(result["validation"]["status"], "secure", "{result}");

    // Custom hints without an anchor: resolved, not validated.
    let out = tern_dig(&["+engine", "www.example.lab", &hints]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with(";; validation: not validated (custom root hints and no +anchor=FILE)\n"),
        "{text}"
    );
    assert!(!text.contains(";; dnssec: "), "{text}");
    // An anchor file that cannot be read stops the trace (exit 10).
    let out = tern_dig(&["+engine", "www.example.lab", &hints, "+anchor=/nonexistent"]);
    assert_eq!(out.status.code(), Some(10));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(";; cannot use trust anchor: /nonexistent")
    );
}

/// The unsigned cdn.net is insecure. Also a regression test for priming:
/// the lab's root servers are named under lab. and the priming reply
/// carries no glue, so a fresh resolver whose first question is outside
/// lab. must keep the hint addresses to reach the root again.
#[test]
fn engine_trace_finds_the_unsigned_cdn_insecure() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = start();
    let anchor = lab.anchor.clone().unwrap();
    let (code, text) = engine(&lab, &anchor, "eu-1.cdn.net");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("eu-1.cdn.net.\t\t300\tIN\tA\t127.168.1.1")
            || text.contains("\tIN\tA\t127.168.1.1\n"),
        "{text}"
    );
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with(";; validation: insecure ("), "{text}");
    assert!(last.contains("cdn.net."), "{text}");
}
