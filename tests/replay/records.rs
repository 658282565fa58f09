//! Text to hickory-proto values for replay scenarios: question lines,
//! resource-record lines in master-file syntax (RFC 1035 §5.1, fed to
//! hickory's zone parser), RFC 3597 generic rdata (`\# len hex`, `TYPEnnn`),
//! DNAME (RFC 6672, which hickory cannot parse from text), DNSSEC types
//! (via `dnssec_text`) and the hex blocks
//! of `HEX_ANSWER_BEGIN` / `HEX_EDNSDATA_BEGIN`.

use hickory_proto::op::Query;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Label, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};
use hickory_proto::serialize::txt::Parser;

use super::dnssec_text;

/// `$ORIGIN` and `$TTL` as they stand at a given line of the file.
#[derive(Debug, Clone)]
pub struct TextState {
    pub origin: Name,
    pub default_ttl: u32,
}

impl Default for TextState {
    fn default() -> Self {
        // Unbound's replay reader uses a default TTL of 3600.
        Self {
            origin: Name::root(),
            default_ttl: 3600,
        }
    }
}

/// The line without its `;` comment (quotes respected).
pub fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

/// A record written over several lines inside `( … )` (RFC 1035 §5.1), as
/// one line; a line without an open parenthesis comes back as it is.
pub fn join_parentheses<'a>(
    first: &str,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> String {
    let depth = |s: &str| {
        let mut quoted = false;
        s.chars().fold(0i64, |d, c| match c {
            '"' => {
                quoted = !quoted;
                d
            }
            '(' if !quoted => d + 1,
            ')' if !quoted => d - 1,
            _ => d,
        })
    };
    let mut text = first.to_string();
    let mut open = depth(first);
    while open > 0 {
        let Some((_, raw)) = lines.next() else { break };
        let more = strip_comment(raw).trim();
        open += depth(more);
        text.push(' ');
        text.push_str(more);
    }
    text
}

/// A record type by mnemonic or as `TYPEnnn` (RFC 3597 §5).
pub fn parse_type(s: &str) -> Option<RecordType> {
    tern::zone::dnssec_text::parse_type(s).ok()
}

/// A class by mnemonic or as `CLASSnnn`.
fn parse_class(s: &str) -> Option<DNSClass> {
    let upper = s.to_ascii_uppercase();
    if let Some(num) = upper.strip_prefix("CLASS") {
        return num.parse::<u16>().ok().map(DNSClass::from);
    }
    match upper.as_str() {
        "IN" => Some(DNSClass::IN),
        "CH" => Some(DNSClass::CH),
        "HS" => Some(DNSClass::HS),
        "NONE" => Some(DNSClass::NONE),
        "ANY" => Some(DNSClass::ANY),
        _ => None,
    }
}

fn parse_name(s: &str, st: &TextState) -> Result<Name, String> {
    name_in(s, &st.origin)
}

/// A name in master-file syntax, relative to `origin` unless it ends in a
/// dot. Labels IDNA rejects (`!`, `\000`: RFC 1035 allows any octet) are
/// read as plain ASCII with escapes.
pub fn name_in(s: &str, origin: &Name) -> Result<Name, String> {
    if s == "@" {
        return Ok(origin.clone());
    }
    let bad = |e: hickory_proto::ProtoError| format!("bad name {s:?}: {e}");
    let mut n = match Name::parse(s, Some(origin)) {
        Ok(n) => n,
        Err(_) => {
            let (labels, fqdn) = raw_labels(s).ok_or_else(|| format!("bad name {s:?}"))?;
            let labels = labels
                .iter()
                .map(|l| Label::from_raw_bytes(l))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            let n = Name::from_labels(labels).map_err(bad)?;
            if fqdn {
                n
            } else {
                n.append_domain(origin).map_err(bad)?
            }
        }
    };
    n.set_fqdn(true);
    Ok(n)
}

/// The octets of each label of a master-file name (`\DDD` and `\X`
/// escapes, RFC 1035 §5.1), and whether it ends in a dot.
fn raw_labels(s: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    let (mut labels, mut cur) = (Vec::new(), Vec::new());
    let mut bytes = s.bytes();
    let mut fqdn = false;
    while let Some(b) = bytes.next() {
        fqdn = false;
        match b {
            b'.' => {
                if cur.is_empty() {
                    return None;
                }
                labels.push(std::mem::take(&mut cur));
                fqdn = true;
            }
            b'\\' => {
                let c = bytes.next()?;
                if c.is_ascii_digit() {
                    let (d1, d2) = (bytes.next()?, bytes.next()?);
                    let digits = [c, d1, d2];
                    let text = std::str::from_utf8(&digits).ok()?;
                    cur.push(text.parse::<u8>().ok()?);
                } else {
                    cur.push(c);
                }
            }
            _ => cur.push(b),
        }
    }
    if !cur.is_empty() {
        labels.push(cur);
    }
    Some((labels, fqdn))
}

/// A question line: `name [class] type`.
pub fn parse_question(line: &str, st: &TextState) -> Result<Query, String> {
    let mut tokens = strip_comment(line).split_whitespace();
    let name = parse_name(tokens.next().ok_or("empty question")?, st)?;
    let mut class = DNSClass::IN;
    let tokens: Vec<&str> = tokens.collect();
    for (i, t) in tokens.iter().copied().enumerate() {
        // `ANY` is a class and a type: the last token is the type.
        let last = i + 1 == tokens.len();
        // A TTL written in a question line means nothing there.
        if !last && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(c) = parse_class(t).filter(|_| !last) {
            class = c;
        } else if let Some(rtype) = parse_type(t) {
            let mut q = Query::query(name, rtype);
            q.set_query_class(class);
            return Ok(q);
        } else {
            return Err(format!("bad question token {t:?} in {line:?}"));
        }
    }
    Err(format!("question without a type: {line:?}"))
}

/// The leading fields of a record line and the rdata text after them.
struct Head<'a> {
    owner: &'a str,
    ttl: Option<u32>,
    class: DNSClass,
    rtype: RecordType,
    type_token: &'a str,
    rdata: &'a str,
}

/// Takes the next whitespace-separated token off the front of `s`.
fn take_token<'a>(s: &mut &'a str) -> Option<&'a str> {
    let trimmed = s.trim_start();
    if trimmed.is_empty() {
        return None;
    }
    let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    let (tok, rest) = trimmed.split_at(end);
    *s = rest;
    Some(tok)
}

fn split_head(line: &str) -> Result<Head<'_>, String> {
    let mut rest = line;
    let owner = take_token(&mut rest).ok_or("empty record line")?;
    let mut ttl = None;
    let mut class = DNSClass::IN;
    loop {
        let t = take_token(&mut rest).ok_or_else(|| format!("record without a type: {line:?}"))?;
        if ttl.is_none() && t.chars().all(|c| c.is_ascii_digit()) {
            ttl = t.parse().ok();
        } else if let Some(c) = parse_class(t) {
            class = c;
        } else if let Some(rtype) = parse_type(t) {
            return Ok(Head {
                owner,
                ttl,
                class,
                rtype,
                type_token: t,
                rdata: rest.trim(),
            });
        } else {
            return Err(format!("bad record token {t:?} in {line:?}"));
        }
    }
}

/// Bytes from hex digits; whitespace ignored.
pub fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => Ok(b - b'0'),
            b'a'..=b'f' => Ok(b - b'a' + 10),
            b'A'..=b'F' => Ok(b - b'A' + 10),
            _ => Err(format!("bad hex digit {:?}", b as char)),
        })
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".to_string());
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// A hex block as Unbound writes it: hex digits, whitespace, `;` comments.
pub fn hex_block(lines: &[String]) -> Result<Vec<u8>, String> {
    let text: String = lines
        .iter()
        .map(|l| strip_comment(l))
        .collect::<Vec<_>>()
        .join(" ");
    hex_bytes(&text)
}

/// Wire rdata as hickory's typed value, as a reply decoded off the wire
/// would hold it; rdata hickory will not decode (a key of an unknown
/// protocol, say) stays generic and still goes on the wire as written.
fn typed(rtype: RecordType, bytes: Vec<u8>) -> RData {
    let Ok(len) = u16::try_from(bytes.len()) else {
        return unknown(rtype, bytes);
    };
    let mut decoder = BinDecoder::new(&bytes);
    match RData::read(&mut decoder, rtype, Restrict::new(len)) {
        Ok(rdata) if decoder.is_empty() => rdata,
        _ => unknown(rtype, bytes),
    }
}

fn unknown(rtype: RecordType, bytes: Vec<u8>) -> RData {
    RData::Unknown {
        code: rtype,
        rdata: if bytes.is_empty() {
            NULL::new()
        } else {
            NULL::with(bytes)
        },
    }
}

/// One resource record line.
pub fn parse_record(line: &str, st: &TextState) -> Result<Record, String> {
    let line = strip_comment(line).trim();
    let head = split_head(line)?;
    let owner = parse_name(head.owner, st)?;
    let ttl = head.ttl.unwrap_or(st.default_ttl);
    let special = if let Some(generic) = head.rdata.strip_prefix("\\#") {
        // RFC 3597 §5: \# <length> <hex>
        let mut parts = generic.split_whitespace();
        let len: usize = parts
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("bad generic rdata in {line:?}"))?;
        let bytes = hex_bytes(&parts.collect::<String>())?;
        if bytes.len() != len {
            return Err(format!("generic rdata length mismatch in {line:?}"));
        }
        Some(unknown(head.rtype, bytes))
    } else if head.rtype == RecordType::DNAME {
        // RFC 6672 §2.1: the target name, never compressed.
        let target = parse_name(head.rdata, st)?;
        let bytes = target
            .to_bytes()
            .map_err(|e| format!("bad DNAME target: {e}"))?;
        Some(unknown(RecordType::DNAME, bytes))
    } else {
        None
    };
    if let Some(rdata) = special {
        let mut r = Record::from_rdata(owner, ttl, rdata);
        r.dns_class = head.class;
        return Ok(r);
    }
    if head.type_token.to_ascii_uppercase().starts_with("TYPE") {
        return Err(format!("TYPEnnn without generic rdata: {line:?}"));
    }
    if dnssec_text::handles(head.rtype) {
        let bytes = dnssec_text::rdata_wire(head.rtype, head.rdata, &st.origin)?;
        let mut r = Record::from_rdata(owner, ttl, typed(head.rtype, bytes));
        r.dns_class = head.class;
        return Ok(r);
    }
    // Everything else goes through hickory's master-file parser, which knows
    // $ORIGIN-relative names inside rdata.
    let text = format!(
        "$ORIGIN {}\n$TTL {}\n{} {} {} {} {}\n",
        st.origin, ttl, owner, ttl, head.class, head.rtype, head.rdata
    );
    let (_, sets) = Parser::new(text, None, Some(st.origin.clone()))
        .parse()
        .map_err(|e| format!("cannot parse record {line:?}: {e}"))?;
    let mut records = sets.into_values().flat_map(|s| s.into_iter());
    let mut r = records
        .next()
        .ok_or_else(|| format!("no record in {line:?}"))?;
    r.ttl = ttl;
    r.dns_class = head.class;
    Ok(r)
}
