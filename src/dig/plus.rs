//! dig's `+options` (`+[no]name`, `+name=value`) with the abbreviations
//! dig 9.18 accepts: each option's shortest accepted prefix is the length
//! at which dig's own parser tells it apart from its neighbours.

use std::net::IpAddr;

use super::args::{
    current, invalid, not_supported, parse_u32, ArgError, Invocation, Lookup, Subnet,
};

/// Boolean `+options`: (name, shortest accepted prefix).
const BOOLEANS: &[(&str, usize)] = &[
    ("aaflag", 2),
    ("aaonly", 3),
    ("additional", 3),
    ("adflag", 2),
    ("all", 2),
    ("answer", 2),
    ("authority", 2),
    ("besteffort", 2),
    ("cdflag", 2),
    ("class", 2),
    ("cmd", 2),
    ("comments", 2),
    ("cookie", 3),
    ("defname", 3),
    ("dnssec", 4),
    ("edns", 4),
    ("engine", 2),
    ("expire", 4),
    ("fail", 2),
    ("header-only", 4),
    ("identify", 3),
    ("ignore", 2),
    ("json", 1),
    ("keepalive", 5),
    ("keepopen", 5),
    ("multiline", 3),
    ("nsid", 3),
    ("qr", 2),
    ("raflag", 2),
    ("question", 2),
    ("rdflag", 2),
    ("recurse", 3),
    ("search", 2),
    ("short", 4),
    ("stats", 2),
    ("tcflag", 3),
    ("tcp", 3),
    ("trace", 3),
    ("ttlid", 3),
    ("ttlunits", 4),
    ("unknownformat", 3),
    ("vc", 2),
    ("yaml", 1),
    ("zflag", 2),
];

/// `+option=value` options: (name, shortest accepted prefix).
const VALUED: &[(&str, usize)] = &[
    // tern's own; three letters so `+an` stays `+answer`.
    ("anchor", 3),
    ("bufsize", 2),
    ("ednsopt", 5),
    ("hints", 1),
    ("opcode", 2),
    ("padding", 3),
    ("qid", 2),
    ("retry", 3),
    ("subnet", 2),
    ("timeout", 2),
    ("tries", 3),
];

/// dig 9.18 options tern's dig does not have, by their full names (with or
/// without `no` and `=value`): they are answered "not supported" rather
/// than "Invalid option".
const UNSUPPORTED: &[&str] = &[
    "badcookie",
    "crypto",
    "dns64prefix",
    "domain",
    "ednsflags",
    "ednsnegotiation",
    "http-plain",
    "http-plain-get",
    "http-plain-post",
    "idnin",
    "idnout",
    "ndots",
    "nssearch",
    "onesoa",
    "rrcomments",
    "showbadcookie",
    "showsearch",
    "split",
    "tls-certfile",
    "tls-keyfile",
];

/// Options dig 9.18 still accepts only to warn that they are deprecated
/// (and then ignores); tern's dig does the same.
const DEPRECATED: &[&str] = &["mapped", "sigchase", "topdown", "trusted-key", "unexpected"];

/// The unsupported option `word` names (`tls`, `notls`), if any.
fn unsupported(word: &str) -> Option<&'static str> {
    let bare = word
        .strip_prefix("no")
        .filter(|rest| UNSUPPORTED.contains(rest));
    let bare = bare.unwrap_or(word);
    UNSUPPORTED.iter().copied().find(|u| *u == bare)
}

fn lookup_name(table: &[(&'static str, usize)], word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    table
        .iter()
        .find(|(full, min)| word.len() >= *min && full.starts_with(word.as_str()))
        .map(|(full, _)| *full)
}

pub(crate) fn plus_option(inv: &mut Invocation, opt: &str, arg: &str) -> Result<(), ArgError> {
    let (word, value) = match opt.split_once('=') {
        Some((w, v)) => (w, Some(v)),
        None => (opt, None),
    };
    let lower = word.to_ascii_lowercase();
    if let Some(name) = unsupported(&lower) {
        return Err(not_supported(&format!("+{name}")));
    }
    let encryption = &mut current(inv).flags.encryption;
    if let Some(r) = super::encrypted::option(encryption, &lower, value) {
        return r.map_err(|_| invalid(arg));
    }
    let undone = lower.strip_prefix("no").unwrap_or(&lower);
    if let Some(name) = DEPRECATED.iter().find(|d| **d == lower || **d == undone) {
        inv.warnings
            .push(format!(";; +{name} option is deprecated"));
        return Ok(());
    }
    let (state, bare) = match lower.strip_prefix("no") {
        // "+nsid" and "+nocmd" both start with "n": only strip a real "no".
        Some(rest)
            if lookup_name(BOOLEANS, rest).is_some() || lookup_name(VALUED, rest).is_some() =>
        {
            (false, rest.to_string())
        }
        _ => (true, lower.clone()),
    };
    if let Some(name) = lookup_name(VALUED, &bare) {
        let l = current(inv);
        // +noedns-like negation of valued options is meaningless except
        // +nosubnet; dig needs a value otherwise.
        let Some(v) = value else {
            if !state && name == "subnet" {
                l.flags.subnet = None;
                return Ok(());
            }
            if !state && name == "anchor" {
                l.flags.anchor = None;
                return Ok(());
            }
            if !state && name == "ednsopt" {
                l.flags.extra.options.clear();
                return Ok(());
            }
            // A bare +bufsize restores the default, as in dig.
            if state && name == "bufsize" {
                l.flags.bufsize = super::args::Flags::default().bufsize;
                return Ok(());
            }
            return Err(invalid(arg));
        };
        if !state {
            return Err(invalid(arg));
        }
        return valued(l, name, v);
    }
    let name = lookup_name(BOOLEANS, &bare).ok_or_else(|| invalid(arg))?;
    // +edns=N: EDNS on, with that version (RFC 6891 §6.1.3).
    if let (true, "edns", Some(v)) = (state, name, value) {
        let version = parse_u32("edns", v, 255)? as u8;
        let f = &mut current(inv).flags;
        f.edns = true;
        f.extra.edns_version = version;
        return Ok(());
    }
    if value.is_some() {
        return Err(invalid(arg));
    }
    boolean(inv, name, state);
    Ok(())
}

fn valued(l: &mut Lookup, name: &str, v: &str) -> Result<(), ArgError> {
    let f = &mut l.flags;
    match name {
        "bufsize" => f.bufsize = parse_u32("buffer size", v, 65_535)? as u16,
        "hints" => f.hints = Some(v.to_string()),
        "anchor" => f.anchor = Some(v.to_string()),
        "ednsopt" => f
            .extra
            .options
            .push(ednsopt(v).ok_or_else(|| invalid(&format!("+ednsopt={v}")))?),
        "opcode" => f.extra.opcode = Some(opcode(v)?),
        "padding" => f.extra.padding = parse_u32("padding", v, 512)? as u16,
        "qid" => f.qid = Some(parse_u32("qid", v, 65_535)? as u16),
        "retry" => f.tries = parse_u32("retries", v, 255)?.saturating_add(1),
        "tries" => f.tries = parse_u32("tries", v, 255)?.max(1),
        "timeout" => f.timeout_secs = parse_u32("timeout", v, 86_400)?.max(1),
        "subnet" => {
            f.subnet = Some(parse_subnet(v).ok_or_else(|| ArgError {
                stdout: None,
                stderr: format!("dig: invalid address '{v}'"),
                exit: 1,
            })?)
        }
        _ => {}
    }
    Ok(())
}

/// `+ednsopt=CODE[:HEX]` (CODE a number or an option name).
fn ednsopt(v: &str) -> Option<(u16, Vec<u8>)> {
    let (code, hex) = v.split_once(':').unwrap_or((v, ""));
    let code = match code.to_ascii_uppercase().as_str() {
        "NSID" => 3,
        "ECS" | "CLIENT-SUBNET" => 8,
        "EXPIRE" => 9,
        "COOKIE" => 10,
        "KEEPALIVE" | "TCP-KEEPALIVE" => 11,
        "PADDING" => 12,
        "KEY-TAG" => 14,
        "EDE" => 15,
        n => n.parse().ok()?,
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    let data = (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    Some((code, data))
}

/// `+opcode=N` or a name.
fn opcode(v: &str) -> Result<u8, ArgError> {
    match v.to_ascii_uppercase().as_str() {
        "QUERY" => Ok(0),
        "IQUERY" => Ok(1),
        "STATUS" => Ok(2),
        "NOTIFY" => Ok(4),
        "UPDATE" => Ok(5),
        _ => Ok(parse_u32("opcode", v, 15)? as u8),
    }
}

/// `ADDR[/LEN]`; without LEN the full address length.
pub fn parse_subnet(text: &str) -> Option<Subnet> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        Some(l) => l.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some(Subnet { addr, prefix })
}

fn boolean(inv: &mut Invocation, name: &str, state: bool) {
    if name == "cmd" {
        inv.print_cmd = state;
        return;
    }
    // +[no]all and +short switch the banner too (dig still prints it when
    // no server answers).
    if name == "all" {
        inv.print_cmd = state;
    }
    if name == "short" {
        inv.short = state;
        if state {
            inv.print_cmd = false;
        }
    }
    if name == "engine" {
        current(inv).flags.engine = state;
        if state {
            boolean(inv, "trace", true);
        }
        return;
    }
    let f = &mut current(inv).flags;
    match name {
        "aaflag" | "aaonly" => f.aaflag = state,
        "class" => f.class = state,
        "raflag" => f.raflag = state,
        "expire" => f.expire = state,
        "keepalive" => f.keepalive = state,
        "header-only" => f.extra.header_only = state,
        "zflag" => f.extra.zflag = state,
        "tcflag" => f.tcflag = state,
        "multiline" => f.multiline = state,
        "identify" => f.identify = state,
        "ignore" => f.ignore = state,
        "rdflag" => f.recurse = state,
        "ttlid" => f.ttlid = state,
        "ttlunits" => f.ttlunits = state,
        "unknownformat" => f.unknownformat = state,
        // Search lists, retry policy and socket reuse do not change what a
        // lookup prints here: accepted so dig command lines keep working.
        "besteffort" | "defname" | "fail" | "keepopen" | "search" => {}
        "additional" => f.additional = state,
        "adflag" => f.adflag = state,
        "all" => {
            f.question = state;
            f.answer = state;
            f.authority = state;
            f.additional = state;
            f.comments = state;
            f.stats = state;
        }
        "answer" => f.answer = state,
        "authority" => f.authority = state,
        "cdflag" => f.cd = state,
        "comments" => {
            f.comments = state;
            f.comments_set = true;
        }
        "cookie" => f.cookie = state,
        "dnssec" => f.dnssec = state,
        "edns" => f.edns = state,
        "json" => f.json = state,
        "nsid" => f.nsid = state,
        "qr" => f.qr = state,
        "question" => {
            f.question = state;
            f.question_set = true;
        }
        "recurse" => f.recurse = state,
        "short" => {
            f.short = state;
            if state {
                f.question = false;
                f.answer = true;
                f.authority = false;
                f.additional = false;
                f.comments = false;
                f.stats = false;
            }
        }
        "stats" => f.stats = state,
        "tcp" | "vc" => {
            f.tcp = state;
            f.tcp_set = true;
        }
        "trace" => {
            f.trace = state;
            if state {
                f.recurse = false;
                f.comments = false;
                f.stats = false;
                f.additional = false;
                f.authority = true;
                f.question = false;
                f.dnssec = true;
            }
        }
        "yaml" => f.yaml = state,
        _ => {}
    }
}
