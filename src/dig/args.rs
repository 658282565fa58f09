//! dig-style argument parsing, pure: `[@server] [-p port] [-4|-6]
//! [-t type | TYPE] [-c class] [-x addr] [name] [+options]` in any order,
//! several lookups per command line. As in dig, everything before the first
//! name (or `-x`) sets the defaults of every lookup; each name starts a new
//! lookup cloned from those defaults, and later arguments change only it.

use std::net::IpAddr;

use super::types::{parse_class, parse_type, CLASS_IN, TYPE_A, TYPE_NS, TYPE_PTR};

/// Address family restriction (`-4` / `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Any,
    V4,
    V6,
}

/// An EDNS client subnet (RFC 7871) given with `+subnet=ADDR/LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// The `+options` of one lookup, with dig 9.18's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    pub tcp: bool,
    pub recurse: bool,
    pub dnssec: bool,
    pub cd: bool,
    pub adflag: bool,
    pub short: bool,
    pub json: bool,
    pub yaml: bool,
    pub trace: bool,
    pub nsid: bool,
    pub subnet: Option<Subnet>,
    pub bufsize: u16,
    pub edns: bool,
    pub timeout_secs: u32,
    pub tries: u32,
    pub cookie: bool,
    pub stats: bool,
    pub comments: bool,
    pub question: bool,
    pub answer: bool,
    pub authority: bool,
    pub additional: bool,
    pub qr: bool,
    pub hints: Option<String>,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            tcp: false,
            recurse: true,
            dnssec: false,
            cd: false,
            adflag: true,
            short: false,
            json: false,
            yaml: false,
            trace: false,
            nsid: false,
            subnet: None,
            bufsize: 1232,
            edns: true,
            timeout_secs: 5,
            tries: 3,
            cookie: true,
            stats: true,
            comments: true,
            question: true,
            answer: true,
            authority: true,
            additional: true,
            qr: false,
            hints: None,
        }
    }
}

/// One query to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The name as typed; None until a name or `-x` is seen.
    pub name: Option<String>,
    pub qtype: u16,
    pub type_set: bool,
    pub qclass: u16,
    /// `@server` arguments, in order.
    pub servers: Vec<String>,
    /// Whether the servers came from the global part (dig then prints
    /// "; (N servers found)").
    pub global_servers: bool,
    pub port: u16,
    pub family: Family,
    pub source: Option<IpAddr>,
    pub flags: Flags,
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup {
            name: None,
            qtype: TYPE_A,
            type_set: false,
            qclass: CLASS_IN,
            servers: Vec::new(),
            global_servers: false,
            port: 53,
            family: Family::Any,
            source: None,
            flags: Flags::default(),
        }
    }
}

/// Everything one command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub lookups: Vec<Lookup>,
    /// The defaults (global part), used for `-f` batch lines.
    pub defaults: Lookup,
    /// `+[no]cmd`: print the banner and "global options" lines.
    pub print_cmd: bool,
    /// `-f FILE`.
    pub batch_file: Option<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Invocation>),
    Help,
    Version,
}

/// A rejected command line: what dig prints and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// Printed on standard output first (dig does this for bad numbers).
    pub stdout: Option<String>,
    /// Printed on standard error.
    pub stderr: String,
    pub exit: u8,
}

/// dig's usage text, printed after "Invalid option".
pub const USAGE: &str = "Usage:  dig [@global-server] [domain] [q-type] [q-class] {q-opt}
            {global-d-opt} host [@local-server] {local-d-opt}
            [ host [@local-server] {local-d-opt} [...]]

Use \"dig -h\" (or \"dig -h | more\") for complete list of options";

fn invalid(option: &str) -> ArgError {
    ArgError {
        stdout: None,
        stderr: format!("Invalid option: {option}\n{USAGE}"),
        exit: 1,
    }
}

/// dig's error for an option value that is not a number (exit 10).
fn bad_number(what: &str, value: &str, reason: &str) -> ArgError {
    ArgError {
        stdout: Some(format!("invalid {what} '{value}': {reason}")),
        stderr: format!("dig: Couldn't parse {what}"),
        exit: 10,
    }
}

fn parse_u32(what: &str, value: &str, max: u32) -> Result<u32, ArgError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_number(what, value, "not a valid number"));
    }
    match value.parse::<u64>() {
        Ok(n) if n <= u64::from(max) => Ok(n as u32),
        _ => Err(bad_number(what, value, "out of range")),
    }
}

/// Parses a whole command line (without the program and subcommand name).
pub fn parse(args: &[String]) -> Result<Parsed, ArgError> {
    let mut inv = Invocation {
        lookups: Vec::new(),
        defaults: Lookup::default(),
        print_cmd: true,
        batch_file: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "--version" => return Ok(Parsed::Version),
            _ => {}
        }
        let mut next = |opt: &str| iter.next().cloned().ok_or_else(|| invalid(opt));
        apply(&mut inv, arg, &mut next)?;
    }
    if inv.lookups.is_empty() && inv.batch_file.is_none() {
        let mut l = inv.defaults.clone();
        l.name = Some(".".to_string());
        if !l.type_set {
            l.qtype = TYPE_NS;
        }
        inv.lookups.push(l);
    }
    Ok(Parsed::Run(Box::new(inv)))
}

/// Parses one line of a `-f` batch file into lookups, starting from the
/// command line's defaults.
pub fn parse_batch_line(defaults: &Lookup, line: &str) -> Result<Vec<Lookup>, ArgError> {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let mut inv = Invocation {
        lookups: Vec::new(),
        defaults: defaults.clone(),
        print_cmd: false,
        batch_file: None,
    };
    let mut iter = words.iter();
    while let Some(arg) = iter.next() {
        let mut next = |opt: &str| iter.next().cloned().ok_or_else(|| invalid(opt));
        apply(&mut inv, arg, &mut next)?;
    }
    Ok(inv.lookups)
}

/// The lookup later arguments change: the last one, or the defaults.
fn current(inv: &mut Invocation) -> &mut Lookup {
    match inv.lookups.last_mut() {
        Some(l) => l,
        None => &mut inv.defaults,
    }
}

fn new_lookup(inv: &mut Invocation, name: String) -> &mut Lookup {
    let mut l = inv.defaults.clone();
    l.name = Some(name);
    inv.lookups.push(l);
    current(inv)
}

fn apply(
    inv: &mut Invocation,
    arg: &str,
    next: &mut dyn FnMut(&str) -> Result<String, ArgError>,
) -> Result<(), ArgError> {
    if let Some(server) = arg.strip_prefix('@') {
        let global = inv.lookups.is_empty();
        let l = current(inv);
        l.servers.push(server.to_string());
        l.global_servers = global;
        return Ok(());
    }
    if let Some(opt) = arg.strip_prefix('+') {
        return plus_option(inv, opt, arg);
    }
    if let Some(long) = arg.strip_prefix("--") {
        // Our one long option: `--hints FILE` (or `--hints=FILE`) for +trace.
        let file = match long.strip_prefix("hints") {
            Some("") => next(arg)?,
            Some(rest) => match rest.strip_prefix('=') {
                Some(f) => f.to_string(),
                None => return Err(invalid(arg)),
            },
            None => return Err(invalid(arg)),
        };
        current(inv).flags.hints = Some(file);
        return Ok(());
    }
    if let Some(opt) = arg.strip_prefix('-') {
        return dash_option(inv, opt, arg, next);
    }
    if let Some(t) = parse_type(arg) {
        let l = current(inv);
        l.qtype = t;
        l.type_set = true;
        return Ok(());
    }
    if let Some(c) = parse_class(arg) {
        current(inv).qclass = c;
        return Ok(());
    }
    new_lookup(inv, arg.to_string());
    Ok(())
}

fn dash_option(
    inv: &mut Invocation,
    opt: &str,
    arg: &str,
    next: &mut dyn FnMut(&str) -> Result<String, ArgError>,
) -> Result<(), ArgError> {
    let mut chars = opt.chars();
    let letter = chars.next().ok_or_else(|| invalid(arg))?;
    let attached = chars.as_str();
    let value = |next: &mut dyn FnMut(&str) -> Result<String, ArgError>| {
        if attached.is_empty() {
            next(arg)
        } else {
            Ok(attached.to_string())
        }
    };
    match letter {
        '4' | '6' if attached.is_empty() => {
            current(inv).family = if letter == '4' {
                Family::V4
            } else {
                Family::V6
            };
        }
        'p' => {
            let v = value(next)?;
            // dig treats a bad port as a usage error (exit 1).
            let port =
                parse_u32("port number", &v, 65_535).map_err(|e| ArgError { exit: 1, ..e })?;
            current(inv).port = port as u16;
        }
        't' => {
            let v = value(next)?;
            // An unknown type: dig warns and keeps the previous type.
            if let Some(t) = parse_type(&v) {
                let l = current(inv);
                l.qtype = t;
                l.type_set = true;
            }
        }
        'c' => {
            let v = value(next)?;
            if let Some(c) = parse_class(&v) {
                current(inv).qclass = c;
            }
        }
        'q' => {
            let v = value(next)?;
            new_lookup(inv, v);
        }
        'x' => {
            let v = value(next)?;
            let name = reverse_name(&v).ok_or_else(|| invalid(&v))?;
            let l = new_lookup(inv, name);
            l.qtype = TYPE_PTR;
            l.type_set = true;
            l.qclass = CLASS_IN;
        }
        'f' => inv.batch_file = Some(value(next)?),
        'b' => {
            let v = value(next)?;
            let addr = v.split('#').next().unwrap_or_default();
            current(inv).source = Some(addr.parse().map_err(|_| invalid(arg))?);
        }
        _ => return Err(invalid(arg)),
    }
    Ok(())
}

/// The reverse-mapping name of an address (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(text: &str) -> Option<String> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let o = a.octets();
            Some(format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]))
        }
        IpAddr::V6(a) => {
            let mut s = String::new();
            for byte in a.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            s.push_str("ip6.arpa.");
            Some(s)
        }
    }
}

/// Boolean `+options`: (name, shortest accepted prefix).
const BOOLEANS: &[(&str, usize)] = &[
    ("additional", 3),
    ("adflag", 2),
    ("all", 2),
    ("answer", 2),
    ("authority", 2),
    ("cdflag", 2),
    ("cmd", 2),
    ("comments", 3),
    ("cookie", 3),
    ("dnssec", 2),
    ("edns", 2),
    ("json", 1),
    ("nsid", 3),
    ("qr", 2),
    ("question", 2),
    ("recurse", 3),
    ("short", 2),
    ("stats", 2),
    ("tcp", 2),
    ("trace", 3),
    ("vc", 2),
    ("yaml", 1),
];

/// `+option=value` options: (name, shortest accepted prefix).
const VALUED: &[(&str, usize)] = &[
    ("bufsize", 2),
    ("hints", 1),
    ("retry", 3),
    ("subnet", 2),
    ("timeout", 2),
    ("tries", 3),
];

fn lookup_name(table: &[(&'static str, usize)], word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    table
        .iter()
        .find(|(full, min)| word.len() >= *min && full.starts_with(word.as_str()))
        .map(|(full, _)| *full)
}

fn plus_option(inv: &mut Invocation, opt: &str, arg: &str) -> Result<(), ArgError> {
    let (word, value) = match opt.split_once('=') {
        Some((w, v)) => (w, Some(v)),
        None => (opt, None),
    };
    let lower = word.to_ascii_lowercase();
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
            return Err(invalid(arg));
        };
        if !state {
            return Err(invalid(arg));
        }
        return valued(l, name, v);
    }
    let name = lookup_name(BOOLEANS, &bare).ok_or_else(|| invalid(arg))?;
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
    if name == "all" || (name == "short" && state) {
        inv.print_cmd = state && name == "all";
    }
    let f = &mut current(inv).flags;
    match name {
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
        "comments" => f.comments = state,
        "cookie" => f.cookie = state,
        "dnssec" => f.dnssec = state,
        "edns" => f.edns = state,
        "json" => f.json = state,
        "nsid" => f.nsid = state,
        "qr" => f.qr = state,
        "question" => f.question = state,
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
        "tcp" | "vc" => f.tcp = state,
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

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
