//! dig-style argument parsing, pure: `[@server] [-p port] [-4|-6]
//! [-t type | TYPE] [-c class] [-x addr] [name] [+options]` in any order,
//! several lookups per command line. As in dig, everything before the first
//! name (or `-x`) sets the defaults of every lookup; each name starts a new
//! lookup cloned from those defaults, and later arguments change only it.

use std::net::IpAddr;

use super::types::{parse_class, parse_type, CLASS_IN, TYPE_A, TYPE_IXFR, TYPE_NS, TYPE_PTR};

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
    /// Whether +[no]tcp was given (dig sends ANY over TCP unless told).
    pub tcp_set: bool,
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
    /// `+anchor=FILE`: the trust anchors (DS/DNSKEY records) `+trace
    /// +engine` validates from.
    pub anchor: Option<String>,
    /// `+[no]ttlid`, `+[no]class`: show the TTL and class columns.
    pub ttlid: bool,
    pub class: bool,
    /// `+ttlunits`: TTLs as `1h`, `1d1h1m1s`.
    pub ttlunits: bool,
    /// `+unknownformat`: every record in RFC 3597 form.
    pub unknownformat: bool,
    /// `+identify`: with `+short`, name the server and the time.
    pub identify: bool,
    /// `+ignore`: do not retry over TCP after TC=1.
    pub ignore: bool,
    /// `+aaflag`: set AA in the query.
    pub aaflag: bool,
    /// `+engine` (implies `+trace`): resolve with tern's own engine and
    /// print its trace events.
    pub engine: bool,
    /// `+multiline`: dig's long RDATA form and packed columns.
    pub multiline: bool,
    /// Whether +[no]comments / +[no]question were given: a zone transfer
    /// shows neither unless asked, as in dig.
    pub comments_set: bool,
    pub question_set: bool,
    /// `+raflag`, `+tcflag`: set RA / TC in the query.
    pub raflag: bool,
    pub tcflag: bool,
    /// `+qid=N`: the query ID to use.
    pub qid: Option<u16>,
    /// `-u` (global): query times in microseconds.
    pub usec: bool,
    /// +expire, +keepalive, +ednsopt, +padding, +header-only, +zflag,
    /// +opcode.
    pub expire: bool,
    pub keepalive: bool,
    pub extra: super::query::Extras,
    /// `+tls`, `+https` and their settings.
    pub encryption: super::encrypted::Encryption,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            tcp: false,
            tcp_set: false,
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
            anchor: None,
            ttlid: true,
            class: true,
            ttlunits: false,
            unknownformat: false,
            identify: false,
            ignore: false,
            aaflag: false,
            engine: false,
            multiline: false,
            comments_set: false,
            question_set: false,
            raflag: false,
            tcflag: false,
            qid: None,
            usec: false,
            expire: false,
            keepalive: false,
            extra: super::query::Extras::default(),
            encryption: super::encrypted::Encryption::default(),
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
    /// Whether `-p` was given (else `+tls` and `+https` pick the port).
    pub port_set: bool,
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
            port_set: false,
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
    /// `+[no]short` is global in dig: the last one given decides how every
    /// lookup prints (its effect on sections stays per lookup).
    pub short: bool,
    /// dig's parse-time warnings, printed on standard error.
    pub warnings: Vec<String>,
    /// `-u`: query times in microseconds.
    pub usec: bool,
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

pub(crate) fn invalid(option: &str) -> ArgError {
    ArgError {
        stdout: None,
        stderr: format!("Invalid option: {option}\n{USAGE}"),
        exit: 1,
    }
}

/// An option dig has and tern's dig does not: said so, rather than
/// "Invalid option", which reads as a typo (exit 1, as a usage error).
pub(crate) fn not_supported(option: &str) -> ArgError {
    ArgError {
        stdout: None,
        stderr: format!("{option}: not supported"),
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

pub(crate) fn parse_u32(what: &str, value: &str, max: u32) -> Result<u32, ArgError> {
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
        short: false,
        warnings: Vec::new(),
        usec: false,
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

/// The global switches dig carries from one batch line to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Globals {
    pub print_cmd: bool,
    pub short: bool,
}

/// Parses one line of a `-f` batch file into lookups, starting from the
/// command line's defaults; returns them and the globals after the line.
pub fn parse_batch_line(
    defaults: &Lookup,
    globals: Globals,
    line: &str,
) -> Result<(Vec<Lookup>, Globals), ArgError> {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let mut inv = Invocation {
        lookups: Vec::new(),
        defaults: defaults.clone(),
        print_cmd: globals.print_cmd,
        batch_file: None,
        short: globals.short,
        warnings: Vec::new(),
        usec: false,
    };
    let mut iter = words.iter();
    while let Some(arg) = iter.next() {
        let mut next = |opt: &str| iter.next().cloned().ok_or_else(|| invalid(opt));
        apply(&mut inv, arg, &mut next)?;
    }
    let globals = Globals {
        print_cmd: inv.print_cmd,
        short: inv.short,
    };
    Ok((inv.lookups, globals))
}

/// `ixfr=N` (any case): None when `arg` is not of that form, else the
/// serial or dig's error for a bad one (exit 1).
fn ixfr_serial(arg: &str) -> Option<Result<u32, ArgError>> {
    let prefix = arg.get(..5)?;
    if !prefix.eq_ignore_ascii_case("ixfr=") {
        return None;
    }
    let value = arg.get(5..).unwrap_or_default();
    // dig treats a bad serial as fatal with exit 1, unlike other numbers.
    Some(parse_u32("serial number", value, u32::MAX).map_err(|e| ArgError { exit: 1, ..e }))
}

/// An IXFR from `serial` (RFC 1995): over TCP unless +notcp was given.
fn set_ixfr(inv: &mut Invocation, serial: u32) {
    set_type(inv, TYPE_IXFR);
    current(inv).flags.extra.ixfr_serial = Some(serial);
}

/// The lookup later arguments change: the last one, or the defaults.
/// Sets the type of the current lookup; dig warns when one was set
/// already (also by the global part).
fn set_type(inv: &mut Invocation, t: u16) {
    let l = current(inv);
    let again = l.type_set;
    l.qtype = t;
    l.type_set = true;
    if again {
        inv.warnings.push(";; Warning, extra type option".into());
    }
}

pub(crate) fn current(inv: &mut Invocation) -> &mut Lookup {
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
        return super::plus::plus_option(inv, opt, arg);
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
    if let Some(serial) = ixfr_serial(arg) {
        set_ixfr(inv, serial?);
        return Ok(());
    }
    if let Some(t) = parse_type(arg) {
        // A bare IXFR names no serial to ask from: dig warns and skips it.
        if t == TYPE_IXFR {
            inv.warnings
                .push(";; Warning, ixfr requires a serial number".into());
            return Ok(());
        }
        set_type(inv, t);
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
            let want = if letter == '4' {
                Family::V4
            } else {
                Family::V6
            };
            let l = current(inv);
            if l.family != Family::Any && l.family != want {
                return Err(ArgError {
                    stdout: None,
                    stderr: "dig: only one of -4 and -6 allowed".into(),
                    exit: 1,
                });
            }
            l.family = want;
        }
        'p' => {
            let v = value(next)?;
            // dig treats a bad port as a usage error (exit 1).
            let port =
                parse_u32("port number", &v, 65_535).map_err(|e| ArgError { exit: 1, ..e })?;
            current(inv).port = port as u16;
            current(inv).port_set = true;
        }
        't' => {
            let v = value(next)?;
            if let Some(serial) = ixfr_serial(&v) {
                set_ixfr(inv, serial?);
                return Ok(());
            }
            // An unknown type: dig warns and keeps the previous type; so
            // does IXFR without its serial.
            match parse_type(&v).filter(|t| *t != TYPE_IXFR) {
                Some(t) => set_type(inv, t),
                None => inv
                    .warnings
                    .push(format!(";; Warning, ignoring invalid type {v}")),
            }
        }
        'c' => {
            let v = value(next)?;
            match parse_class(&v) {
                Some(c) => current(inv).qclass = c,
                None => inv
                    .warnings
                    .push(format!(";; Warning, ignoring invalid class {v}")),
            }
        }
        'q' => {
            let v = value(next)?;
            new_lookup(inv, v);
        }
        'x' => {
            let v = value(next)?;
            let name = reverse_name(&v).ok_or_else(|| invalid(&v))?;
            // PTR, without counting as a type option (dig does not warn
            // about a later -t).
            let l = new_lookup(inv, name);
            l.qtype = TYPE_PTR;
            l.qclass = CLASS_IN;
        }
        'f' => inv.batch_file = Some(value(next)?),
        // ~/.digrc is handled by the caller; -m (memory debugging) is dig's.
        'r' | 'm' if attached.is_empty() => {}
        'u' if attached.is_empty() => inv.usec = true,
        'b' => {
            let v = value(next)?;
            let addr = v.split('#').next().unwrap_or_default();
            let ip = addr.parse().map_err(|_| ArgError {
                stdout: None,
                stderr: format!("dig: invalid address {addr}"),
                exit: 1,
            })?;
            current(inv).source = Some(ip);
        }
        // TSIG keys (-y [hmac:]name:secret, -k keyfile): dig's, not ours.
        'y' | 'k' => {
            value(next)?;
            return Err(not_supported(&format!("-{letter}")));
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

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
