//! Unbound's autotrust state file: a `; autotrust trust anchor file`
//! header, `;;id:`, `;;last_queried:` … `;;retry_time:` lines, then one
//! DNSKEY per line in zone-file syntax followed by `;;state=N [ VALID ]
//! ;;count=N ;;lastchange=T ;;<ctime>`. A file without the header is a
//! plain list of DNSKEY/DS records, all trusted (how a trust point
//! starts). Written the way Unbound writes it, so files move between the
//! two resolvers.
//!
//! `read` and `write` are the only I/O; `parse` and `render` are pure.

use std::path::Path;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::dnssec::PublicKey;
use hickory_proto::rr::{Name, RData};

use super::{KeyState, TaData, TrackedKey, TrustPoint};
use crate::dnssec::anchors::{self, AnchorError};
use crate::dnssec::verify::key_tag;

/// What a state file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFile {
    Point(TrustPoint),
    /// `;;REVOKED`: every key was revoked; the zone has no anchor until
    /// the file is replaced.
    Revoked,
}

/// Reads a state file.
pub fn read(path: &Path) -> Result<StateFile, AnchorError> {
    let text = std::fs::read_to_string(path).map_err(|source| AnchorError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Writes a state file whole: to a temporary name beside it, then
/// renamed over it, so a crash leaves the old file or the new one.
pub fn write(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}-tmp", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// Reads every `auto_trust_anchor_files` entry of the config.
pub fn read_all(
    cfg: &crate::config::DnssecConfig,
) -> Result<Vec<(std::path::PathBuf, StateFile)>, AnchorError> {
    cfg.auto_trust_anchor_files
        .iter()
        .map(|p| Ok((p.clone(), read(p)?)))
        .collect()
}

/// Writes state files to disk (`tern serve`); a failed write is logged
/// and the state stays in memory for the next one.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSink;

impl super::StateSink for FileSink {
    fn write(&self, path: &Path, contents: &str) {
        if let Err(e) = write(path, contents) {
            tracing::error!(path = %path.display(), error = %e, "cannot write the autotrust state file");
        }
    }
}

/// Parses a state file (or a plain anchor list). `label` names the
/// source in errors.
pub fn parse(text: &str, label: &str) -> Result<StateFile, AnchorError> {
    let error = |line: usize, message: String| AnchorError::Syntax {
        label: label.to_string(),
        line,
        message,
    };
    let mut point: Option<TrustPoint> = None;
    let mut header = false;
    for (line_no, line) in logical_lines(text) {
        if line.starts_with(";;REVOKED") {
            return Ok(StateFile::Revoked);
        }
        if let Some(rest) = line.strip_prefix(";;id: ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            let zone = Name::from_ascii(name)
                .map_err(|e| error(line_no, format!("bad id {name:?}: {e}")))?;
            header = true;
            point.get_or_insert_with(|| TrustPoint::new(zone));
            continue;
        }
        if let Some(p) = point.as_mut() {
            if header_var(p, &line) {
                continue;
            }
        }
        if line.split(';').next().unwrap_or("").trim().is_empty() {
            continue;
        }
        let records = anchors::parse(&line, label).map_err(|e| match e {
            AnchorError::Syntax { message, .. } => error(line_no, message),
            other => other,
        })?;
        let comments = line.split_once(';').map_or("", |(_, c)| c);
        let Some((state, count, last_change)) = annotations(comments, header) else {
            // In a state file every key carries its state; one without
            // is ignored, as Unbound does.
            continue;
        };
        for record in records {
            let data = match &record.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => TaData::Key(k.clone()),
                RData::DNSSEC(DNSSECRData::DS(d)) => TaData::Ds(d.clone()),
                _ => continue,
            };
            let p = point.get_or_insert_with(|| TrustPoint::new(record.name.clone()));
            if p.zone != record.name {
                return Err(error(
                    line_no,
                    format!(
                        "{} is not {}: one zone per autotrust file",
                        record.name, p.zone
                    ),
                ));
            }
            // Unbound links each key in at the front.
            p.keys.insert(
                0,
                TrackedKey::new(data, record.ttl, state, count, last_change),
            );
        }
    }
    point
        .map(StateFile::Point)
        .ok_or_else(|| error(0, "no trust anchor in the file".to_string()))
}

/// Lines with a record spread over `(` … `)` joined into one.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    let mut depth = 0i32;
    for (i, raw) in text.lines().enumerate() {
        let data = raw.split(';').next().unwrap_or("");
        let opens = data.matches('(').count() as i32;
        let closes = data.matches(')').count() as i32;
        if depth == 0 {
            start = i + 1;
        }
        depth += opens - closes;
        if depth > 0 {
            pending.push_str(data);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        out.push((start, std::mem::take(&mut pending)));
        depth = 0;
    }
    if !pending.is_empty() {
        out.push((start, pending));
    }
    out
}

/// A `;;name: value` header line; true if it was one.
fn header_var(p: &mut TrustPoint, line: &str) -> bool {
    let Some(rest) = line.strip_prefix(";;") else {
        return false;
    };
    let Some((key, value)) = rest.split_once(": ") else {
        return false;
    };
    let n: u64 = value
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match key {
        "last_queried" => p.last_queried = n,
        "last_success" => p.last_success = n,
        "next_probe_time" => p.next_probe_time = n,
        "query_failed" => p.query_failed = u8::try_from(n).unwrap_or(u8::MAX),
        "query_interval" => p.query_interval = n,
        "retry_time" => p.retry_time = n,
        _ => return false,
    }
    true
}

/// `state=`, `count=` and `lastchange=` from a record's comments. Without
/// a state: Valid in a plain list, None (skip the key) in a state file.
fn annotations(comments: &str, header: bool) -> Option<(KeyState, u8, u64)> {
    let value = |key: &str| -> Option<u64> {
        let at = comments.find(key)? + key.len();
        let digits: String = comments
            .get(at..)?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let state = match value("state=") {
        Some(n) => {
            KeyState::from_number(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(KeyState::Start)
        }
        None if header => return None,
        None => KeyState::Valid,
    };
    let count = value("count=").map_or(0, |n| u8::try_from(n).unwrap_or(u8::MAX));
    Some((state, count, value("lastchange=").unwrap_or(0)))
}

/// The state file for a trust point, byte for byte as Unbound writes it.
pub fn render(p: &TrustPoint) -> String {
    let mut out = String::from("; autotrust trust anchor file\n");
    if p.revoked {
        out.push_str(
            ";;REVOKED\n\
             ; The zone has all keys revoked, and is\n\
             ; considered as if it has no trust anchors.\n\
             ; the remainder of the file is the last probe.\n\
             ; to restart the trust anchor, overwrite this file.\n\
             ; with one containing valid DNSKEYs or DSes.\n",
        );
    }
    let zone = p.zone.to_ascii();
    out.push_str(&format!(";;id: {zone} 1\n"));
    for (name, t) in [
        ("last_queried", p.last_queried),
        ("last_success", p.last_success),
        ("next_probe_time", p.next_probe_time),
    ] {
        out.push_str(&format!(";;{name}: {t} ;;{}\n", ctime(t)));
    }
    out.push_str(&format!(";;query_failed: {}\n", p.query_failed));
    out.push_str(&format!(";;query_interval: {}\n", p.query_interval));
    out.push_str(&format!(";;retry_time: {}\n", p.retry_time));
    for k in &p.keys {
        let TaData::Key(key) = &k.data else { continue };
        if matches!(k.state, KeyState::Start | KeyState::Removed) {
            continue;
        }
        out.push_str(&format!(
            "{zone}\t{}\tIN\tDNSKEY\t{} ;;state={} [{}] ;;count={} ;;lastchange={} ;;{}\n",
            k.ttl,
            dnskey_text(key),
            k.state as u8,
            k.state.label(),
            k.pending_count,
            k.last_change,
            ctime(k.last_change)
        ));
    }
    out
}

/// DNSKEY data as ldns prints it, with its `;{id = …}` comment.
pub fn dnskey_text(key: &DNSKEY) -> String {
    let bytes = key.public_key().public_bytes();
    let alg = u8::from(key.public_key().algorithm());
    let kind = match (key.zone_key(), key.secure_entry_point()) {
        (true, true) => " (ksk)",
        (true, false) => " (zsk)",
        _ => "",
    };
    format!(
        "{} 3 {alg} {} ;{{id = {}{kind}, size = {}b}}",
        key.flags(),
        data_encoding::BASE64.encode(bytes),
        key_tag(key).unwrap_or(0),
        key_bits(alg, bytes)
    )
}

/// The key size ldns reports (`sldns_rr_dnskey_key_size_raw`).
fn key_bits(alg: u8, key: &[u8]) -> usize {
    match alg {
        3 | 6 => key.first().map_or(0, |t| (64 + usize::from(*t) * 8) * 8),
        1 | 5 | 7 | 8 | 10 => match key {
            [0, hi, lo, ..] => {
                let exp = usize::from(*hi) << 8 | usize::from(*lo);
                key.len().saturating_sub(exp + 3) * 8
            }
            [exp, ..] => key.len().saturating_sub(usize::from(*exp) + 1) * 8,
            [] => 0,
        },
        12 => 512,
        13 | 15 => 256,
        14 => 384,
        16 => 456,
        _ => 0,
    }
}

/// `ctime` in UTC without its newline: `Mon Aug 24 07:46:40 2009`.
pub fn ctime(t: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil(days);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS.get((days % 7) as usize).unwrap_or(&"???"),
        MONTHS.get(m.saturating_sub(1) as usize).unwrap_or(&"???"),
        d,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}
