//! The validator's side of a scenario's config: Unbound's DNSSEC options
//! onto tern's `[dnssec]` (`DnssecConfig`), and the date signatures are
//! checked against (`val-override-date`).
//!
//! Unbound validates nothing without a trust anchor, so a scenario without
//! one (or whose `module-config` has no `validator`) runs with
//! `DnssecConfig::off()`; with one, tern's built-in root anchors are off
//! (the scenario's root is not the real one) and only the scenario's
//! anchors count. `legacy_dsa` is on for every scenario with an anchor:
//! Unbound's test build verifies DSA and SHA-1 signatures for real, and the
//! corpus signs with them (`fake-sha1`/`fake-dsa` only matter to builds
//! whose crypto library lacks them, where they pass such signatures
//! unchecked; tern checks them).
//!
//! Each option is *mapped*, *ignored* with why, or *unsupported* (the
//! scenario is skipped with the option named):
//!
//! | option | |
//! |---|---|
//! | `trust-anchor` | mapped: `trust_anchors` (inline DS/DNSKEY line, comment dropped) |
//! | `trust-anchor-file` | mapped: `trust_anchor_files` (path as written) |
//! | `AUTOTRUST_FILE` | mapped: `auto_trust_anchor_files` (the block written to a scratch file, `autotrust.rs`) |
//! | `auto-trust-anchor-file` | unsupported: a path of the test machine's (the corpus uses `AUTOTRUST_FILE`) |
//! | `trusted-keys-file` | unsupported: BIND `trusted-keys` syntax |
//! | `domain-insecure` | mapped: `negative_trust_anchors` |
//! | `val-bogus-ttl` | mapped: `bogus_ttl` |
//! | `aggressive-nsec` | mapped: `aggressive_nsec` (default yes, as Unbound's) |
//! | `val-nsec3-keysize-iterations` | mapped to `max_nsec3_iterations` when every key size has the same limit; else unsupported (tern has one limit, Unbound one per key size) |
//! | `val-override-date` | mapped: the wall clock `Clock::unix_secs` reads, fixed there as in Unbound (`-1`, dates ignored: fixed inside every RRSIG's validity, or unsupported when they do not overlap) |
//! | `fake-sha1`, `fake-dsa` | ignored: see above |
//! | `trust-anchor-signaling` | `no` only (tern sends no RFC 8145 key-tag queries) |
//! | `root-key-sentinel` | `no` only (no RFC 8509 sentinel) |
//! | `harden-dnssec-stripped` | `yes` only (stripped signatures are bogus) |
//! | `harden-algo-downgrade` | `no` only (any supported algorithm may validate, RFC 6840 §5.11) |
//! | `val-permissive-mode`, `ignore-cd-flag`, `prefetch-key` | `no` only |
//! | `val-clean-additional` | `yes` only (Unbound's default) |
//! | `val-max-restart` | mapped: `max_restarts` |
//! | `val-sig-skew-min`, `val-sig-skew-max` | Unbound's defaults (3600, 86400) only |
//! | `val-log-level` | ignored: logging |

use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tern::config::DnssecConfig;

use super::parser::{ConfigLine, Scenario, Unsupported};
use super::records::{self, TextState};
use tern::zone::dnssec_text::unix_time;

/// What signature validity is checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Date {
    /// The scenario's clock (testbound's: 0 at the start, moved by
    /// `TIME_PASSES`).
    #[default]
    Clock,
    /// A fixed Unix time that `TIME_PASSES` does not move.
    At(u64),
    /// `-1`: signature dates are not checked.
    Ignored,
}

/// The DNSSEC options a scenario sets.
#[derive(Debug, Default)]
pub struct DnssecOptions {
    anchors: Vec<String>,
    anchor_files: Vec<PathBuf>,
    /// RFC 5011 state files: (zone as written, scratch path).
    pub autotrust: Vec<(String, PathBuf)>,
    insecure: Vec<Name>,
    bogus_ttl: Option<Duration>,
    max_restarts: Option<u32>,
    aggressive_nsec: Option<bool>,
    max_nsec3_iterations: Option<u16>,
    date: Date,
    /// `module-config` without `validator` turns validation off.
    pub no_validator: bool,
}

/// Boolean options tern honours only with this value.
const FIXED: &[(&str, bool)] = &[
    ("trust-anchor-signaling", false),
    ("root-key-sentinel", false),
    ("harden-dnssec-stripped", true),
    ("harden-algo-downgrade", false),
    ("val-permissive-mode", false),
    ("ignore-cd-flag", false),
    ("prefetch-key", false),
    ("val-clean-additional", true),
];

/// Numeric options tern honours only at Unbound's default.
const DEFAULTS: &[(&str, &str)] = &[("val-sig-skew-min", "3600"), ("val-sig-skew-max", "86400")];

fn unsupported<T>(l: &ConfigLine, why: &str) -> Result<T, Unsupported> {
    let value: String = l.value.chars().take(40).collect();
    Err(Unsupported(format!("config {}: {value} ({why})", l.key)))
}

impl DnssecOptions {
    /// Takes a `server:` option if it is a DNSSEC one (Ok(true)).
    pub fn take(&mut self, l: &ConfigLine) -> Result<bool, Unsupported> {
        let value = l.value.trim();
        match l.key.as_str() {
            "trust-anchor" => self.anchors.push(anchor(l)?),
            "trust-anchor-file" => self.anchor_files.push(PathBuf::from(value)),
            "auto-trust-anchor-file" => return unsupported(l, "a path on Unbound's test machine"),
            "AUTOTRUST_FILE" => {
                let (zone, contents) = l.value.split_once('\n').unwrap_or((&l.value, ""));
                let path = super::autotrust::write_initial(zone.trim(), contents)
                    .map_err(|e| Unsupported(format!("AUTOTRUST_FILE: {e}")))?;
                self.autotrust.push((zone.trim().to_string(), path));
            }
            "trusted-keys-file" => return unsupported(l, "BIND trusted-keys syntax"),
            "domain-insecure" => {
                let name = tern::config::local::parse_zone_name(value)
                    .ok_or_else(|| Unsupported(format!("config {}: {value}", l.key)))?;
                self.insecure.push(name);
            }
            "val-bogus-ttl" => self.bogus_ttl = Some(Duration::from_secs(number(l)?)),
            "val-max-restart" => {
                self.max_restarts = Some(
                    number(l)?
                        .try_into()
                        .map_err(|_| Unsupported(format!("config {}: {}", l.key, l.value)))?,
                )
            }
            "aggressive-nsec" => self.aggressive_nsec = Some(yes(l)?),
            "val-nsec3-keysize-iterations" => {
                self.max_nsec3_iterations = Some(nsec3_iterations(l)?);
            }
            "val-override-date" => self.date = date(l)?,
            "fake-sha1" | "fake-dsa" | "val-log-level" => {}
            key => {
                if let Some((_, want)) = FIXED.iter().find(|(k, _)| *k == key) {
                    if yes(l)? != *want {
                        return unsupported(l, "tern has no switch for this");
                    }
                } else if let Some((_, want)) = DEFAULTS.iter().find(|(k, _)| *k == key) {
                    if value != *want {
                        return unsupported(l, "tern has Unbound's default only");
                    }
                } else {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Whether the scenario validates at all.
    pub fn validates(&self) -> bool {
        let has_anchor =
            !self.anchors.is_empty() || !self.anchor_files.is_empty() || !self.autotrust.is_empty();
        !self.no_validator && has_anchor
    }

    /// tern's `[dnssec]` for the scenario.
    pub fn config(&self) -> DnssecConfig {
        if !self.validates() {
            return DnssecConfig::off();
        }
        let d = DnssecConfig::default();
        DnssecConfig {
            validate: true,
            builtin_root_anchors: false,
            trust_anchor_files: self.anchor_files.clone(),
            auto_trust_anchor_files: self.autotrust.iter().map(|(_, p)| p.clone()).collect(),
            trust_anchors: self.anchors.clone(),
            negative_trust_anchors: self.insecure.clone(),
            bogus_ttl: self.bogus_ttl.unwrap_or(d.bogus_ttl),
            max_nsec3_iterations: self.max_nsec3_iterations.unwrap_or(d.max_nsec3_iterations),
            aggressive_nsec: self.aggressive_nsec.unwrap_or(d.aggressive_nsec),
            max_restarts: self.max_restarts.unwrap_or(d.max_restarts),
            legacy_dsa: true,
            ..d
        }
    }

    /// The fixed wall-clock time validation sees, or None for the
    /// scenario's own moving clock.
    pub fn fixed_wall_clock(&self, sc: &Scenario) -> Result<Option<u64>, Unsupported> {
        if !self.validates() {
            return Ok(None);
        }
        match self.date {
            Date::Clock => Ok(None),
            Date::At(t) => Ok(Some(t)),
            Date::Ignored => inside_every_signature(sc).map(Some),
        }
    }
}

fn yes(l: &ConfigLine) -> Result<bool, Unsupported> {
    match l.value.trim().to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => unsupported(l, "not yes or no"),
    }
}

fn number(l: &ConfigLine) -> Result<u64, Unsupported> {
    l.value
        .trim()
        .parse()
        .or_else(|_| unsupported(l, "not a number"))
}

/// An inline anchor: one DS or DNSKEY record in zone-file syntax, checked
/// here so a line the harness cannot read skips the scenario.
fn anchor(l: &ConfigLine) -> Result<String, Unsupported> {
    let text = records::strip_comment(l.value.trim()).trim().to_string();
    match records::parse_record(&text, &TextState::default()) {
        Ok(r) if matches!(r.record_type(), RecordType::DS | RecordType::DNSKEY) => Ok(text),
        Ok(r) => unsupported(l, &format!("an anchor of type {}", r.record_type())),
        Err(e) => unsupported(l, &e),
    }
}

/// `"1024 150 2048 150 4096 150"`: key sizes and the highest iteration
/// count each may use; one count for all is tern's single limit.
fn nsec3_iterations(l: &ConfigLine) -> Result<u16, Unsupported> {
    let words: Vec<&str> = l.value.split_whitespace().collect();
    let counts: Vec<u16> = words
        .chunks(2)
        .map(|pair| match pair {
            [_, count] => count.parse().ok(),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(|| Unsupported(format!("config {}: {}", l.key, l.value)))?;
    match counts.split_first() {
        Some((first, rest)) if rest.iter().all(|c| c == first) => Ok(*first),
        _ => unsupported(l, "a limit per key size; tern has one"),
    }
}

/// `YYYYMMDDHHMMSS` (UTC); `0` or empty is no override, `-1` ignores dates.
fn date(l: &ConfigLine) -> Result<Date, Unsupported> {
    let v = l.value.trim().trim_matches(['"', '\'']);
    match v {
        "" | "0" => return Ok(Date::Clock),
        "-1" => return Ok(Date::Ignored),
        _ => {}
    }
    if v.len() != 14 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return unsupported(l, "not YYYYMMDDHHMMSS");
    }
    let part = |a: usize, b: usize| v.get(a..b).and_then(|x| x.parse().ok()).unwrap_or(0);
    let t = unix_time(
        part(0, 4),
        part(4, 6),
        part(6, 8),
        part(8, 10),
        part(10, 12),
        part(12, 14),
    );
    u64::try_from(t)
        .map(Date::At)
        .or_else(|_| unsupported(l, "before 1970"))
}

/// Every RRSIG the scenario's messages carry.
fn signatures(sc: &Scenario) -> Vec<Record> {
    let entries = sc
        .ranges
        .iter()
        .flat_map(|r| r.entries.iter())
        .chain(sc.moments.iter().filter_map(|m| m.entry.as_ref()));
    entries
        .flat_map(|e| {
            e.msg
                .answers
                .iter()
                .chain(&e.msg.authorities)
                .chain(&e.msg.additionals)
        })
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .cloned()
        .collect()
}

/// `(inception, expiration)` of an RRSIG, from its wire rdata (RFC 4034
/// §3.1: expiration at bytes 8..12, inception at 12..16).
fn validity(r: &Record) -> Option<(u64, u64)> {
    let bytes = match &r.data {
        RData::Unknown { rdata, .. } => rdata.anything.clone(),
        other => other.to_bytes().ok()?,
    };
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    };
    Some((word(12)?, word(8)?))
}

/// `val-override-date: -1` skips the date check; a fixed time inside every
/// signature's validity does the same, if there is one.
fn inside_every_signature(sc: &Scenario) -> Result<u64, Unsupported> {
    let windows: Vec<(u64, u64)> = signatures(sc).iter().filter_map(validity).collect();
    let start = windows.iter().map(|w| w.0).max().unwrap_or(0);
    let end = windows
        .iter()
        .map(|w| w.1)
        .min()
        .unwrap_or(u64::from(u32::MAX));
    if start > end {
        return Err(Unsupported(
            "config val-override-date: -1 (dates ignored) with RRSIG validity periods that do not overlap"
                .to_string(),
        ));
    }
    Ok(start + (end - start) / 2)
}
