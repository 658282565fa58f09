//! Reader for the `.rpl` replay format (Unbound's testbound scenarios, and
//! ours in the same format): the config block, `RANGE`s of canned upstream
//! answers with `ADDRESS`, `ENTRY` blocks (`MATCH`, `ADJUST`, `REPLY`,
//! `SECTION`, `HEX_ANSWER`, `HEX_EDNSDATA`) and `STEP`s.
//!
//! Anything the harness cannot play faithfully is returned as `Unsupported`
//! with the construct named, so the scenario is skipped, never passed.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

use super::records::{self, TextState};
use tern::upstream::Protocol;

/// Why a scenario cannot be played: the construct, named.
#[derive(Debug, Clone)]
pub struct Unsupported(pub String);

/// One `key: value` line of the config block, with its clause.
#[derive(Debug, Clone)]
pub struct ConfigLine {
    pub clause: String,
    pub key: String,
    pub value: String,
    /// The value is `TEMPFILE_NAME`'s file name, to be replaced by the
    /// path the file is written to (see `tempfiles`).
    pub tempfile: bool,
}

/// A `TEMPFILE_CONTENTS name` … `TEMPFILE_END` block: a file the scenario
/// writes before the resolver starts (zone files, hints), its lines as
/// given (`$INCLUDE_TEMPFILE other` names another such file).
#[derive(Debug, Clone)]
pub struct TempFile {
    pub name: String,
    pub lines: Vec<String>,
}

/// The config block: its options and the files it writes.
#[derive(Debug, Clone, Default)]
pub struct ConfigBlock {
    pub lines: Vec<ConfigLine>,
    pub files: Vec<TempFile>,
}

/// What a `MATCH` line asks for.
#[derive(Debug, Clone, Default)]
pub struct MatchSpec {
    pub opcode: bool,
    pub qtype: bool,
    pub qname: bool,
    pub subdomain: bool,
    pub rcode: bool,
    pub question: bool,
    pub answer: bool,
    pub all: bool,
    pub all_noedns: bool,
    pub ttl: bool,
    pub do_bit: bool,
    pub noedns: bool,
    pub ednsdata: bool,
    /// `server_cookie`: the reply carries a COOKIE option with a server
    /// cookie (RFC 7873 §4).
    pub server_cookie: bool,
    pub transport: Option<Protocol>,
    /// `ede=N` (Some(Some(N))) or `ede=any` (Some(None)).
    pub ede: Option<Option<u16>>,
}

/// One `ENTRY_BEGIN` … `ENTRY_END` block.
#[derive(Debug, Clone)]
pub struct Entry {
    pub line: usize,
    pub spec: MatchSpec,
    pub copy_id: bool,
    pub copy_query: bool,
    /// The packet the entry describes (REPLY flags + sections + EDNS).
    pub msg: Message,
    /// Raw OPT rdata given with `HEX_EDNSDATA_BEGIN`.
    pub ednsdata: Option<Vec<u8>>,
    /// Raw packet given with `HEX_ANSWER_BEGIN` (replaces `msg` on the wire).
    pub raw: Option<Vec<u8>>,
}

/// Canned answers valid between two step numbers.
#[derive(Debug, Clone)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    pub addresses: Vec<IpAddr>,
    pub entries: Vec<Entry>,
}

/// The kinds of `STEP` the harness plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    CheckAnswer,
    CheckOutQuery,
    Reply,
    Timeout,
    Error,
    TimePasses,
    /// `INFRA_RTT <ip> <zone> <ms>`: the server's measured RTT is set
    /// (address in `address`, milliseconds in `elapse_ms`).
    InfraRtt,
    Traffic,
    Nothing,
    /// `ASSIGN var = ${…}` (in `text`).
    Assign,
    /// `CHECK_AUTOTRUST zone` (zone in `text`, expected lines in `file`).
    CheckAutotrust,
}

impl Kind {
    fn needs_entry(self) -> bool {
        matches!(
            self,
            Kind::Query | Kind::CheckAnswer | Kind::CheckOutQuery | Kind::Reply
        )
    }
}

/// One `STEP`.
#[derive(Debug, Clone)]
pub struct Moment {
    pub step: u64,
    pub kind: Kind,
    pub line: usize,
    pub address: Option<IpAddr>,
    pub elapse_ms: u64,
    pub entry: Option<Entry>,
    /// `ASSIGN`'s `var = expr`, `TIME_PASSES EVAL`'s expression or
    /// `CHECK_AUTOTRUST`'s zone.
    pub text: String,
    /// `CHECK_AUTOTRUST`'s `FILE_BEGIN` … `FILE_END` lines, unexpanded.
    pub file: Vec<String>,
}

/// A whole scenario.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub title: String,
    pub ranges: Vec<Range>,
    pub moments: Vec<Moment>,
}

type Lines<'a> = std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>;

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

/// Parses the config block (up to `CONFIG_END`) into lines and files.
fn parse_config(lines: &mut Lines<'_>) -> Result<ConfigBlock, Unsupported> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut clause = String::new();
    // The clause before the last line that opened one: a lone `key:`
    // followed by `TEMPFILE_NAME` was a key, not a clause.
    let mut opened: Option<(String, String)> = None;
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if line == "CONFIG_END" {
            return Ok(ConfigBlock { lines: out, files });
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        // An AUTOTRUST_FILE block is testbound's `auto-trust-anchor-file`
        // with the file's contents (zone first, then the lines).
        if let Some(zone) = line.strip_prefix("AUTOTRUST_FILE") {
            let mut value = zone.trim().to_string();
            for l in read_block(lines, "AUTOTRUST_END")? {
                value.push('\n');
                value.push_str(&l);
            }
            out.push(ConfigLine {
                clause: "server".to_string(),
                key: "AUTOTRUST_FILE".to_string(),
                value,
                tempfile: false,
            });
            continue;
        }
        // testbound writes the file's path into the config where
        // `TEMPFILE_NAME` stands: the value of the key on the line before.
        if let Some(name) = line.strip_prefix("TEMPFILE_NAME") {
            let Some((key, before)) = opened.take() else {
                return unsupported(format!(
                    "config line {}: TEMPFILE_NAME without a key before it",
                    n + 1
                ));
            };
            clause = before;
            out.push(ConfigLine {
                clause: clause.clone(),
                key,
                value: tempfile_name(name, n)?,
                tempfile: true,
            });
            continue;
        }
        if let Some(name) = line.strip_prefix("TEMPFILE_CONTENTS") {
            let name = tempfile_name(name, n)?;
            let lines = read_block(lines, "TEMPFILE_END")?;
            files.push(TempFile { name, lines });
            continue;
        }
        opened = None;
        // Comments after values: `stub-addr: 1.2.3.4 # K.ROOT`.
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.contains(':') {
            return unsupported(format!("config line {}: {line:?}", n + 1));
        }
        // Unbound reads tokens, so one line may hold several `key: value`
        // pairs (`forward-zone: name: "." forward-addr: 1.2.3.4`).
        for (key, value, opens_clause) in config_pairs(line) {
            if opens_clause {
                opened = Some((key.clone(), std::mem::replace(&mut clause, key)));
                continue;
            }
            out.push(ConfigLine {
                clause: clause.clone(),
                key,
                value,
                tempfile: false,
            });
        }
    }
    unsupported("no CONFIG_END")
}

/// Splits a config line into `key: value` pairs: a key is a bare word
/// ending in `:`; the words up to the next key are its value (quotes
/// dropped). A line without a leading key is one pair split at its first
/// colon, as before. A key with no value at all (`server:`) opens a
/// clause; `directory: ""` is a key with an empty value.
fn config_pairs(line: &str) -> Vec<(String, String, bool)> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let is_key = |w: &str| {
        w.strip_suffix(':').is_some_and(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    let clean = |v: &str| v.trim().trim_matches('"').trim().to_string();
    if !words.first().is_some_and(|w| is_key(w)) {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        return vec![(
            key.trim().to_string(),
            clean(value),
            value.trim().is_empty(),
        )];
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for w in words {
        if is_key(&w) {
            out.push((w.trim_end_matches(':').to_string(), String::new()));
        } else if let Some((_, v)) = out.last_mut() {
            if !v.is_empty() {
                v.push(' ');
            }
            v.push_str(&w);
        }
    }
    out.into_iter()
        .map(|(k, v)| {
            let opens_clause = v.is_empty();
            (k, clean(&v), opens_clause)
        })
        .collect()
}

/// A `TEMPFILE_*` block's file name: one plain word (it becomes a file in
/// the scenario's directory).
fn tempfile_name(rest: &str, n: usize) -> Result<String, Unsupported> {
    let name = rest.trim();
    let plain = !name.is_empty()
        && !name.contains(char::is_whitespace)
        && !name.contains(['/', '\\'])
        && !name.starts_with('.');
    if plain {
        Ok(name.to_string())
    } else {
        unsupported(format!("config line {}: temp file name {name:?}", n + 1))
    }
}

/// Only the config block, so its reasons for skipping come first.
pub fn config_of(text: &str) -> Result<ConfigBlock, Unsupported> {
    let mut lines: Lines<'_> = text.lines().enumerate().peekable();
    parse_config(&mut lines)
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Scenario, Unsupported> {
    let mut lines: Lines<'_> = text.lines().enumerate().peekable();
    parse_config(&mut lines)?;
    let mut sc = Scenario::default();
    let mut st = TextState::default();
    let mut range: Option<Range> = None;
    while let Some((n, raw)) = lines.next() {
        let line = records::strip_comment(raw).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Macros appear in the steps of RFC 5011 scenarios only (ASSIGN,
        // TIME_PASSES EVAL, CHECK_AUTOTRUST); they are expanded as played.
        if line.starts_with("STEP") && line.contains("${") {
            let mut toks = line.split_whitespace().skip(1);
            let step = num(toks.next(), n)?;
            sc.moments.push(parse_macro_step(step, toks.collect(), n)?);
            continue;
        }
        if line.contains("${") {
            return unsupported(format!("macro ${{…}} at line {}", n + 1));
        }
        let mut toks = line.split_whitespace();
        let kw = toks.next().unwrap_or("");
        match kw {
            "SCENARIO_BEGIN" => sc.title = toks.collect::<Vec<_>>().join(" "),
            "SCENARIO_END" => break,
            "$ORIGIN" | "$TTL" => set_directive(kw, toks.next(), &mut st, n)?,
            "RANGE_BEGIN" => {
                let start = num(toks.next(), n)?;
                let end = num(toks.next(), n)?;
                range = Some(Range {
                    start,
                    end,
                    addresses: Vec::new(),
                    entries: Vec::new(),
                });
            }
            "ADDRESS" => {
                let Some(r) = range.as_mut() else {
                    return unsupported(format!("ADDRESS outside a range at line {}", n + 1));
                };
                r.addresses.push(addr(toks.next(), n)?);
            }
            "RANGE_END" => {
                if let Some(r) = range.take() {
                    sc.ranges.push(r);
                }
            }
            "ENTRY_BEGIN" => {
                let entry = parse_entry(&mut lines, n, &mut st)?;
                if let Some(r) = range.as_mut() {
                    r.entries.push(entry);
                } else if let Some(m) = sc
                    .moments
                    .last_mut()
                    .filter(|m| m.kind.needs_entry() && m.entry.is_none())
                {
                    m.entry = Some(entry);
                } else {
                    return unsupported(format!("stray ENTRY at line {}", n + 1));
                }
            }
            "STEP" => {
                let step = num(toks.next(), n)?;
                let rest: Vec<&str> = toks.collect();
                let mut m = parse_step(step, &rest, n)?;
                if m.kind == Kind::CheckAutotrust {
                    if lines.next().map(|(_, l)| l.trim()) != Some("FILE_BEGIN") {
                        return unsupported(format!(
                            "CHECK_AUTOTRUST without FILE_BEGIN at line {}",
                            n + 1
                        ));
                    }
                    m.file = read_block(&mut lines, "FILE_END")?;
                }
                sc.moments.push(m);
            }
            other => return unsupported(format!("keyword {other} at line {}", n + 1)),
        }
    }
    if let Some(m) = sc
        .moments
        .iter()
        .find(|m| m.kind.needs_entry() && m.entry.is_none())
    {
        return unsupported(format!("STEP {} without its entry", m.step));
    }
    Ok(sc)
}

fn set_directive(
    kw: &str,
    arg: Option<&str>,
    st: &mut TextState,
    n: usize,
) -> Result<(), Unsupported> {
    let arg = arg.unwrap_or("");
    if kw == "$TTL" {
        st.default_ttl = num(Some(arg), n)? as u32;
    } else {
        let mut name = hickory_proto::rr::Name::parse(arg, Some(&st.origin))
            .map_err(|e| Unsupported(format!("bad $ORIGIN at line {}: {e}", n + 1)))?;
        name.set_fqdn(true);
        st.origin = name;
    }
    Ok(())
}

fn num(tok: Option<&str>, n: usize) -> Result<u64, Unsupported> {
    tok.and_then(|t| t.parse().ok())
        .ok_or_else(|| Unsupported(format!("expected a number at line {}", n + 1)))
}

fn addr(tok: Option<&str>, n: usize) -> Result<IpAddr, Unsupported> {
    let t = tok.unwrap_or("");
    // `ip@port` is not used by the corpus for upstreams; keep the address.
    let ip = t.split('@').next().unwrap_or("");
    ip.parse()
        .map_err(|_| Unsupported(format!("bad address {t:?} at line {}", n + 1)))
}

fn parse_step(step: u64, rest: &[&str], n: usize) -> Result<Moment, Unsupported> {
    let kind_word = rest.first().copied().unwrap_or("");
    let kind = match kind_word {
        "QUERY" => Kind::Query,
        "CHECK_ANSWER" => Kind::CheckAnswer,
        "CHECK_OUT_QUERY" => Kind::CheckOutQuery,
        "REPLY" => Kind::Reply,
        "TIMEOUT" => Kind::Timeout,
        "ERROR" => Kind::Error,
        "TIME_PASSES" => Kind::TimePasses,
        "INFRA_RTT" => Kind::InfraRtt,
        "TRAFFIC" => Kind::Traffic,
        "NOTHING" => Kind::Nothing,
        "CHECK_AUTOTRUST" => Kind::CheckAutotrust,
        other => return unsupported(format!("STEP {other}")),
    };
    let mut m = Moment {
        step,
        kind,
        line: n + 1,
        address: None,
        elapse_ms: 0,
        entry: None,
        text: String::new(),
        file: Vec::new(),
    };
    if kind == Kind::CheckAutotrust {
        m.text = rest.get(1).copied().unwrap_or("").to_string();
        return Ok(m);
    }
    if kind == Kind::InfraRtt {
        // tern keeps RTTs per server address, not per (address, zone):
        // the zone is read and not used.
        m.address = Some(addr(rest.get(1).copied(), n)?);
        m.elapse_ms = rest
            .get(3)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Unsupported(format!("bad INFRA_RTT at line {}", n + 1)))?;
        return Ok(m);
    }
    let mut i = 1;
    while let Some(word) = rest.get(i) {
        match *word {
            "ADDRESS" => m.address = Some(addr(rest.get(i + 1).copied(), n)?),
            "ELAPSE" => {
                let secs: f64 = rest
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Unsupported(format!("bad ELAPSE at line {}", n + 1)))?;
                m.elapse_ms = (secs * 1000.0).round() as u64;
            }
            other => return unsupported(format!("STEP {kind_word} argument {other}")),
        }
        i += 2;
    }
    Ok(m)
}

/// A step with macros: `ASSIGN var = ${…}` or `TIME_PASSES EVAL ${…}`.
fn parse_macro_step(step: u64, rest: Vec<&str>, n: usize) -> Result<Moment, Unsupported> {
    let kind = match rest.as_slice() {
        ["ASSIGN", ..] => Kind::Assign,
        ["TIME_PASSES", "EVAL", ..] => Kind::TimePasses,
        _ => return unsupported(format!("macro ${{…}} at line {}", n + 1)),
    };
    let skip = if kind == Kind::Assign { 1 } else { 2 };
    Ok(Moment {
        step,
        kind,
        line: n + 1,
        address: None,
        elapse_ms: 0,
        entry: None,
        text: rest.get(skip..).unwrap_or(&[]).join(" "),
        file: Vec::new(),
    })
}

#[derive(Clone, Copy)]
enum Section {
    Question,
    Answer,
    Authority,
    Additional,
}

/// Reads lines up to `END`, for the hex blocks.
fn read_block(lines: &mut Lines<'_>, end: &str) -> Result<Vec<String>, Unsupported> {
    let mut out = Vec::new();
    for (_, raw) in lines.by_ref() {
        if raw.trim() == end {
            return Ok(out);
        }
        out.push(raw.to_string());
    }
    unsupported(format!("missing {end}"))
}

fn parse_entry(
    lines: &mut Lines<'_>,
    start: usize,
    st: &mut TextState,
) -> Result<Entry, Unsupported> {
    let mut e = Entry {
        line: start + 1,
        spec: MatchSpec::default(),
        copy_id: false,
        copy_query: false,
        msg: Message::new(0, MessageType::Query, OpCode::Query),
        ednsdata: None,
        raw: None,
    };
    let mut do_flag = false;
    let mut section = Section::Question;
    while let Some((n, raw)) = lines.next() {
        let line = records::strip_comment(raw).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains("${") {
            return unsupported(format!("macro ${{…}} at line {}", n + 1));
        }
        let mut toks = line.split_whitespace();
        let kw = toks.next().unwrap_or("");
        match kw {
            "ENTRY_END" => {
                if do_flag || e.ednsdata.is_some() {
                    let mut edns = Edns::new();
                    // Unbound's testpkts writes OPT with UDP size 1232.
                    edns.set_max_payload(1232);
                    edns.set_dnssec_ok(do_flag);
                    if let Some(data) = &e.ednsdata {
                        for (code, value) in split_options(data, n)? {
                            let code = EdnsCode::from(code);
                            let opt = EdnsOption::try_from((code, value.as_slice()))
                                .unwrap_or_else(|_| EdnsOption::Unknown(code.into(), value));
                            edns.options_mut().as_mut().push((code, opt));
                        }
                    }
                    e.msg.edns = Some(edns);
                }
                return Ok(e);
            }
            "MATCH" => parse_match(toks, &mut e.spec, n)?,
            "ADJUST" => {
                for t in toks {
                    match t {
                        "copy_id" => e.copy_id = true,
                        "copy_query" => e.copy_query = true,
                        other => return unsupported(format!("ADJUST {other}")),
                    }
                }
            }
            "REPLY" => parse_reply(toks, &mut e.msg, &mut do_flag)?,
            "SECTION" => {
                section = match toks.next().unwrap_or("") {
                    "QUESTION" => Section::Question,
                    "ANSWER" => Section::Answer,
                    "AUTHORITY" => Section::Authority,
                    "ADDITIONAL" => Section::Additional,
                    other => return unsupported(format!("SECTION {other}")),
                }
            }
            "HEX_ANSWER_BEGIN" => {
                let block = read_block(lines, "HEX_ANSWER_END")?;
                e.raw = Some(records::hex_block(&block).map_err(Unsupported)?);
            }
            "HEX_EDNSDATA_BEGIN" => {
                let block = read_block(lines, "HEX_EDNSDATA_END")?;
                e.ednsdata = Some(records::hex_block(&block).map_err(Unsupported)?);
            }
            "EXTRA_PACKET" => return unsupported("EXTRA_PACKET (multi-packet replies)"),
            "$ORIGIN" | "$TTL" => set_directive(kw, toks.next(), st, n)?,
            _ => {
                let bad = |m: String| Unsupported(format!("line {}: {m}", n + 1));
                let joined = records::join_parentheses(line, lines);
                let line = joined.as_str();
                match section {
                    Section::Question => {
                        e.msg
                            .add_query(records::parse_question(line, st).map_err(bad)?);
                    }
                    Section::Answer => {
                        e.msg
                            .add_answer(records::parse_record(line, st).map_err(bad)?);
                    }
                    Section::Authority => {
                        e.msg
                            .add_authority(records::parse_record(line, st).map_err(bad)?);
                    }
                    Section::Additional => {
                        e.msg
                            .add_additional(records::parse_record(line, st).map_err(bad)?);
                    }
                }
            }
        }
    }
    unsupported(format!("ENTRY at line {} without ENTRY_END", start + 1))
}

/// Splits OPT rdata into (code, value) options (RFC 6891 §6.1.2).
fn split_options(mut data: &[u8], n: usize) -> Result<Vec<(u16, Vec<u8>)>, Unsupported> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (Some(&[c0, c1, l0, l1]), rest) = (data.get(..4), data.get(4..).unwrap_or(&[])) else {
            return unsupported(format!("truncated EDNS option near line {}", n + 1));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(value) = rest.get(..len) else {
            return unsupported(format!("truncated EDNS option near line {}", n + 1));
        };
        out.push((u16::from_be_bytes([c0, c1]), value.to_vec()));
        data = rest.get(len..).unwrap_or(&[]);
    }
    Ok(out)
}

fn parse_match<'a>(
    toks: impl Iterator<Item = &'a str>,
    spec: &mut MatchSpec,
    n: usize,
) -> Result<(), Unsupported> {
    for t in toks {
        match t {
            "opcode" => spec.opcode = true,
            "qtype" => spec.qtype = true,
            "qname" => spec.qname = true,
            "subdomain" => spec.subdomain = true,
            "rcode" => spec.rcode = true,
            "question" => spec.question = true,
            "answer" => spec.answer = true,
            "all" => spec.all = true,
            "all_noedns" => spec.all_noedns = true,
            "ttl" => spec.ttl = true,
            "DO" => spec.do_bit = true,
            "noedns" => spec.noedns = true,
            "ednsdata" => spec.ednsdata = true,
            "server_cookie" => spec.server_cookie = true,
            "UDP" => spec.transport = Some(Protocol::Udp),
            "TCP" => spec.transport = Some(Protocol::Tcp),
            other => {
                if let Some(code) = other
                    .strip_prefix("ede=")
                    .or_else(|| other.strip_prefix("ede:"))
                {
                    spec.ede =
                        Some(if code == "any" {
                            None
                        } else {
                            Some(code.parse().map_err(|_| {
                                Unsupported(format!("MATCH {other} at line {}", n + 1))
                            })?)
                        });
                } else {
                    return unsupported(format!("MATCH {other}"));
                }
            }
        }
    }
    Ok(())
}

fn parse_reply<'a>(
    toks: impl Iterator<Item = &'a str>,
    msg: &mut Message,
    do_flag: &mut bool,
) -> Result<(), Unsupported> {
    let md = &mut msg.metadata;
    for t in toks {
        match t {
            "QUERY" => md.op_code = OpCode::Query,
            "IQUERY" => return unsupported("REPLY IQUERY"),
            "STATUS" => md.op_code = OpCode::Status,
            "NOTIFY" => md.op_code = OpCode::Notify,
            "UPDATE" => md.op_code = OpCode::Update,
            "NOERROR" => md.response_code = ResponseCode::NoError,
            "FORMERR" => md.response_code = ResponseCode::FormErr,
            "SERVFAIL" => md.response_code = ResponseCode::ServFail,
            "NXDOMAIN" => md.response_code = ResponseCode::NXDomain,
            "NOTIMPL" | "NOTIMP" => md.response_code = ResponseCode::NotImp,
            "REFUSED" => md.response_code = ResponseCode::Refused,
            "YXDOMAIN" => md.response_code = ResponseCode::YXDomain,
            "YXRRSET" => md.response_code = ResponseCode::YXRRSet,
            "NXRRSET" => md.response_code = ResponseCode::NXRRSet,
            "NOTAUTH" => md.response_code = ResponseCode::NotAuth,
            "NOTZONE" => md.response_code = ResponseCode::NotZone,
            "QR" => md.message_type = MessageType::Response,
            "AA" => md.authoritative = true,
            "TC" => md.truncation = true,
            "RD" => md.recursion_desired = true,
            "RA" => md.recursion_available = true,
            "AD" => md.authentic_data = true,
            "CD" => md.checking_disabled = true,
            "DO" => *do_flag = true,
            other => return unsupported(format!("REPLY {other}")),
        }
    }
    Ok(())
}
