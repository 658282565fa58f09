//! Reads master-file text (RFC 1035 §5.1: `$ORIGIN`, `$TTL` (RFC 2308 §4),
//! `$INCLUDE`, relative names, blank owners, parentheses; RFC 3597's
//! generic `TYPEnnn \# len hex` form) into records that
//! each remember the file and line they came from. Record text itself is
//! parsed by hickory-proto's zone parser, one logical entry at a time, so
//! every syntax error can name its line; the DNSSEC types hickory's parser
//! refuses (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, DS and their kin) by
//! `dnssec_text`.

use std::io::Read;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::txt::{parse_ttl, Parser};

use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::dnssec_text::{hex_decode, is_dnssec_type, parse_rdata, parse_type};
use super::loaded::{ZoneError, ZoneErrorKind};

/// Deepest `$INCLUDE` nesting accepted (a loop guard; NSD uses a similar cap).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Largest zone file read, so a mistaken path cannot exhaust memory.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One record and where it was written.
#[derive(Debug, Clone)]
pub struct SourcedRecord {
    pub record: Record,
    pub file: PathBuf,
    pub line: usize,
    /// The `$INCLUDE`s that led to `file` (including file, line), innermost first.
    pub via: Vec<(PathBuf, usize)>,
}

/// One logical entry of a master file: a physical line, or several joined
/// by parentheses, with comments removed.
#[derive(Debug, PartialEq)]
struct Entry {
    line: usize,
    text: String,
}

/// Splits master-file text into logical entries (RFC 1035 §5.1: `;`
/// comments, `( )` grouping across lines, `"` quoting, `\` escapes).
fn split_entries(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut escape = false;
    let mut in_comment = false;
    for c in text.chars() {
        if c == '\n' {
            in_comment = false;
            escape = false;
            line += 1;
            if depth == 0 && !in_quote {
                push_entry(&mut entries, &mut current, start_line);
                start_line = line;
            } else {
                current.push('\n');
            }
            continue;
        }
        if in_comment {
            continue;
        }
        if escape {
            escape = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' => escape = true,
            '"' => in_quote = !in_quote,
            ';' if !in_quote => {
                in_comment = true;
                continue;
            }
            '(' if !in_quote => depth += 1,
            ')' if !in_quote => depth = depth.saturating_sub(1),
            _ => {}
        }
        current.push(c);
    }
    push_entry(&mut entries, &mut current, start_line);
    entries
}

fn push_entry(entries: &mut Vec<Entry>, current: &mut String, line: usize) {
    let text = std::mem::take(current);
    if !text.trim().is_empty() {
        entries.push(Entry { line, text });
    }
}

/// Parser state carried from entry to entry (and into `$INCLUDE`d files).
struct State {
    origin: Option<Name>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
    /// The `$INCLUDE`s being read (including file, line), outermost first.
    includes: Vec<(PathBuf, usize)>,
}

/// Reads a zone file (following `$INCLUDE`s) into sourced records.
/// `origin` is the initial `$ORIGIN` (the zone name when known).
pub fn read_zone_file(path: &Path, origin: Option<Name>) -> Result<Vec<SourcedRecord>, ZoneError> {
    read_zone_file_with_ttl(path, origin, None)
}

/// As `read_zone_file`, with the TTL of records written without one
/// before any `$TTL` (a resolver's reader assumes one, as Unbound's 3600
/// for auth and response policy zones; an authoritative server's refuses
/// the file).
pub fn read_zone_file_with_ttl(
    path: &Path,
    origin: Option<Name>,
    default_ttl: Option<u32>,
) -> Result<Vec<SourcedRecord>, ZoneError> {
    let mut state = State {
        origin,
        default_ttl,
        last_ttl: None,
        last_owner: None,
        includes: Vec::new(),
    };
    let mut out = Vec::new();
    read_into(path, &mut state, &mut out, 0)?;
    Ok(out)
}

fn read_text(path: &Path) -> Result<String, ZoneError> {
    let io_err = |e: std::io::Error| ZoneError::new(path, 0, ZoneErrorKind::Io(e.to_string()));
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ZoneError::new(path, 0, ZoneErrorKind::TooLarge));
    }
    // The size a device or pipe reports (0) says nothing: read no more
    // than the limit whatever it is (an `$INCLUDE /dev/zero` ends here).
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(io_err)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ZoneError::new(path, 0, ZoneErrorKind::TooLarge));
    }
    Ok(text)
}

/// Reads zone-file text as if it were the file `path`, without following
/// `$INCLUDE` (an error): for fuzzing the reader on text from memory.
pub fn read_zone_text(
    text: &str,
    path: &Path,
    origin: Option<Name>,
) -> Result<Vec<SourcedRecord>, ZoneError> {
    let mut state = State {
        origin,
        default_ttl: None,
        last_ttl: None,
        last_owner: None,
        includes: Vec::new(),
    };
    let mut out = Vec::new();
    read_entries(text, path, &mut state, &mut out, MAX_INCLUDE_DEPTH)?;
    Ok(out)
}

fn read_into(
    path: &Path,
    state: &mut State,
    out: &mut Vec<SourcedRecord>,
    depth: usize,
) -> Result<(), ZoneError> {
    let text = read_text(path)?;
    read_entries(&text, path, state, out, depth)
}

fn read_entries(
    text: &str,
    path: &Path,
    state: &mut State,
    out: &mut Vec<SourcedRecord>,
    depth: usize,
) -> Result<(), ZoneError> {
    for entry in split_entries(text) {
        let err = |kind| ZoneError::new(path, entry.line, kind);
        let trimmed = entry.text.trim_start();
        let mut words = trimmed.split_whitespace();
        let first = words.next().unwrap_or_default().to_ascii_uppercase();
        match first.as_str() {
            "$ORIGIN" => {
                let name = words
                    .next()
                    .ok_or_else(|| err(syntax("$ORIGIN needs a name")))?;
                let parsed = Name::parse(name, state.origin.as_ref())
                    .map_err(|e| err(syntax(&format!("bad $ORIGIN {name}: {e}"))))?;
                state.origin = Some(parsed);
            }
            "$TTL" => {
                let value = words
                    .next()
                    .ok_or_else(|| err(syntax("$TTL needs a value")))?;
                let ttl =
                    parse_ttl(value).map_err(|e| err(syntax(&format!("bad $TTL {value}: {e}"))))?;
                state.default_ttl = Some(ttl);
            }
            "$INCLUDE" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err(ZoneErrorKind::IncludeDepth));
                }
                let file = words
                    .next()
                    .ok_or_else(|| err(syntax("$INCLUDE needs a file")))?;
                let target = match Path::new(file).is_absolute() {
                    true => PathBuf::from(file),
                    false => path.parent().unwrap_or(Path::new(".")).join(file),
                };
                let saved_origin = state.origin.clone();
                let saved_owner = state.last_owner.clone();
                if let Some(o) = words.next() {
                    let parsed = Name::parse(o, state.origin.as_ref())
                        .map_err(|e| err(syntax(&format!("bad $INCLUDE origin {o}: {e}"))))?;
                    state.origin = Some(parsed);
                }
                state.includes.push((path.to_path_buf(), entry.line));
                let read = read_into(&target, state, out, depth + 1);
                state.includes.pop();
                // Errors inside the included file name it; say where it was included.
                read.map_err(|e| e.via(&[(path.to_path_buf(), entry.line)]))?;
                // RFC 1035 §5.1: the include does not change the parent's origin.
                state.origin = saved_origin;
                state.last_owner = saved_owner;
            }
            _ if first.starts_with('$') => {
                return Err(err(syntax(&format!("unknown directive {first}"))));
            }
            _ => {
                let record = parse_record(&entry, state).map_err(err)?;
                state.last_owner = Some(record.name.clone());
                state.last_ttl = Some(record.ttl);
                out.push(SourcedRecord {
                    record,
                    file: path.to_path_buf(),
                    line: entry.line,
                    via: state.includes.iter().rev().cloned().collect(),
                });
            }
        }
    }
    Ok(())
}

fn syntax(message: &str) -> ZoneErrorKind {
    ZoneErrorKind::Syntax(message.to_string())
}

/// Parses one record entry. DNSSEC types go through `dnssec_text` (the
/// owner, TTL and class still through hickory, with a stand-in RDATA).
fn parse_record(entry: &Entry, state: &State) -> Result<Record, ZoneErrorKind> {
    let text = entry.text.replace(['(', ')'], " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    let start = usize::from(!entry.text.starts_with([' ', '\t']));
    for (i, w) in words.iter().enumerate().skip(start).take(3) {
        let generic = words.get(i + 1) == Some(&"\\#");
        let rtype = match generic {
            true => parse_type(w).ok(),
            false => is_dnssec_type(w),
        };
        if let Some(rtype) = rtype {
            let head = words.get(..i).unwrap_or_default().join(" ");
            let lead = if start == 0 { " " } else { "" };
            let stand_in = Entry {
                line: entry.line,
                text: format!("{lead}{head} TXT x"),
            };
            let mut record = parse_plain(&stand_in, state)?;
            let rdata = words.get(i + 1..).unwrap_or_default();
            record.data = match generic {
                true => generic_rdata(rtype, rdata.get(1..).unwrap_or_default()),
                false => parse_rdata(rtype, rdata, state.origin.as_ref()),
            }
            .map_err(syntax_owned)?;
            return Ok(record);
        }
        let class = matches!(w.to_ascii_uppercase().as_str(), "IN" | "CH" | "HS" | "CS");
        if !class && parse_ttl(w).is_err() {
            break;
        }
    }
    parse_plain(entry, state)
}

/// RDATA in the generic form of RFC 3597 §5 (`\# length hex`), decoded
/// as `rtype` (a type we know is checked like its usual form).
fn generic_rdata(rtype: RecordType, words: &[&str]) -> Result<RData, String> {
    let (len, hex) = words
        .split_first()
        .ok_or_else(|| "\\# needs a length".to_string())?;
    let len: u16 = len.parse().map_err(|_| format!("bad RDATA length {len}"))?;
    let bytes = hex_decode(&hex.concat())?;
    if bytes.len() != usize::from(len) {
        return Err(format!(
            "RDATA length {len} but {} octets given",
            bytes.len()
        ));
    }
    let mut dec = BinDecoder::new(&bytes);
    RData::read(&mut dec, rtype, Restrict::new(len)).map_err(|e| format!("bad {rtype}: {e}"))
}

fn syntax_owned(message: String) -> ZoneErrorKind {
    ZoneErrorKind::Syntax(message)
}

/// Parses one record entry with hickory-proto, in a small synthetic file
/// that restates the origin, the TTL in force and the owner when blank.
fn parse_plain(entry: &Entry, state: &State) -> Result<Record, ZoneErrorKind> {
    if state.origin.is_none() {
        if let Some(name) = relative_name(&entry.text) {
            return Err(syntax_owned(format!(
                "{name} is a relative name but no $ORIGIN is in force \
                 (write it absolute, ending in '.', or add $ORIGIN)"
            )));
        }
    }
    let mut text = String::new();
    if let Some(origin) = &state.origin {
        text.push_str(&format!("$ORIGIN {}\n", fqdn_text(origin)));
    }
    if let Some(ttl) = state.default_ttl.or(state.last_ttl) {
        text.push_str(&format!("$TTL {ttl}\n"));
    }
    if entry.text.starts_with([' ', '\t']) {
        let owner = state
            .last_owner
            .as_ref()
            .ok_or_else(|| syntax("record with a blank owner but no previous owner"))?;
        text.push_str(&fqdn_text(owner));
    }
    text.push_str(&entry.text);
    text.push('\n');
    // Without $ORIGIN (signer output often has none) names are absolute.
    let origin = state.origin.clone().unwrap_or_else(Name::root);
    let (_, sets) = Parser::new(text, None, Some(origin))
        .parse()
        .map_err(|e| ZoneErrorKind::Syntax(e.to_string()))?;
    let mut records = sets
        .into_values()
        .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>());
    match (records.next(), records.next()) {
        (Some(r), None) => Ok(r),
        (None, _) => Err(syntax("no record found")),
        (Some(_), Some(_)) => Err(syntax("more than one record in one entry")),
    }
}

/// The first relative name (owner, or a name field of NS, CNAME, PTR,
/// DNAME, MX, SRV, SOA) in a record entry, or `@`; None if all are absolute.
fn relative_name(text: &str) -> Option<String> {
    let clean = text.replace(['(', ')'], " ");
    let words: Vec<&str> = clean.split_whitespace().collect();
    let relative = |w: &&str| *w == "@" || !w.ends_with('.');
    let mut i = 0;
    if !text.starts_with([' ', '\t']) {
        let owner = words.first()?;
        if relative(owner) {
            return Some((*owner).to_string());
        }
        i = 1;
    }
    // Up to two of TTL and class, then the type.
    for _ in 0..2 {
        let w = words.get(i)?;
        let class = matches!(w.to_ascii_uppercase().as_str(), "IN" | "CH" | "HS" | "CS");
        if class || parse_ttl(w).is_ok() {
            i += 1;
        }
    }
    let rtype = words.get(i)?.to_ascii_uppercase();
    let fields: &[usize] = match rtype.as_str() {
        "NS" | "CNAME" | "PTR" | "DNAME" => &[0],
        "MX" => &[1],
        "SRV" => &[3],
        "SOA" => &[0, 1],
        _ => &[],
    };
    fields
        .iter()
        .filter_map(|f| words.get(i + 1 + f))
        .find(|w| relative(w))
        .map(|w| (*w).to_string())
}

fn fqdn_text(name: &Name) -> String {
    let mut n = name.clone();
    n.set_fqdn(true);
    let s = n.to_ascii();
    if s.ends_with('.') {
        s
    } else {
        format!("{s}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_include_stops_at_the_size_limit() {
        let dir = std::env::temp_dir().join(format!("tern-zonefile-zero-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zero.zone");
        std::fs::write(&path, "$INCLUDE /dev/zero\n").unwrap();
        let err = read_zone_file(&path, None).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(err.kind, ZoneErrorKind::TooLarge), "{err}");
        assert_eq!(err.file, Path::new("/dev/zero"));
    }

    #[test]
    fn entries_join_parentheses_and_drop_comments() {
        let text = "; header\n@ IN SOA ns hm (\n 1 ; serial\n 2 3 4 5 )\n\nwww A 1.2.3.4 ; c\n  TXT \"a;b\"\n";
        let e = split_entries(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].line, 2);
        assert!(e[0].text.contains("5 )"));
        assert!(!e[0].text.contains("serial"));
        assert_eq!(e[1].line, 6);
        assert_eq!(e[2].line, 7);
        assert!(e[2].text.contains("\"a;b\""));
    }
}
