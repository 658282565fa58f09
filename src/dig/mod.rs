//! `tern dig`: a dig-compatible DNS client (RFC 1035 §4 messages, RFC 6891
//! EDNS) with dig's arguments and output layout, RFC 8427 JSON output and
//! a `+trace` walk from the root that explains each step. This file runs
//! the lookups of one command line and maps outcomes to dig's exit codes.

pub mod args;
pub mod dnssec;
pub mod encrypted;
pub mod engine_trace;
pub mod engine_validation;
pub mod format;
pub mod help;
pub mod hints;
pub mod json;
pub mod msg;
pub mod multiline;
pub mod options;
pub mod plus;
pub mod query;
pub mod rdata;
pub mod svcb;
pub mod trace;
pub mod types;
pub mod xfr;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use args::{ArgError, Family, Lookup, Parsed};
use query::{QuerySpec, SendOpts};

/// dig's exit statuses.
pub const EXIT_OK: u8 = 0;
pub const EXIT_USAGE: u8 = 1;
pub const EXIT_NO_REPLY: u8 = 9;
pub const EXIT_INTERNAL: u8 = 10;
/// dig's status for a batch file it cannot open.
pub const EXIT_BATCH: u8 = 8;

/// Where the default server comes from (`nameserver` lines).
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The first `nameserver` of a resolv.conf text.
pub fn first_nameserver(text: &str) -> Option<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        .find_map(|a| a.split('%').next().and_then(|a| a.parse().ok()))
}

/// A server to ask, and how dig names it in the SERVER line.
#[derive(Debug, Clone)]
pub struct Server {
    pub addr: SocketAddr,
    pub label: String,
}

/// Resolves `@server` arguments (addresses or host names) or the default.
pub(crate) fn servers_of(l: &Lookup) -> Result<Vec<Server>, String> {
    let port = match l.flags.encryption.default_port() {
        Some(p) if !l.port_set => p,
        _ => l.port,
    };
    let l = &Lookup { port, ..l.clone() };
    let mut out = Vec::new();
    if l.servers.is_empty() {
        let text = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
        let ip = first_nameserver(&text).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        out.push(Server {
            addr: SocketAddr::new(ip, l.port),
            label: ip.to_string(),
        });
    }
    for s in &l.servers {
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            if l.family == Family::V4 && ip.is_ipv6() {
                return Err(format!(
                    "couldn't get address for '{s}': address family not supported"
                ));
            }
            out.push(Server {
                addr: SocketAddr::new(ip, l.port),
                label: s.clone(),
            });
            continue;
        }
        let found = (bare, l.port)
            .to_socket_addrs()
            .map_err(|_| format!("couldn't get address for '{s}': not found"))?;
        let fits = |a: &SocketAddr| match l.family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        };
        for addr in found.filter(fits) {
            out.push(Server {
                addr,
                label: s.clone(),
            });
        }
    }
    Ok(out)
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The words of `$HOME/.digrc` (none when it is missing or unreadable).
fn digrc_words() -> Vec<String> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let path = std::path::Path::new(&home).join(".digrc");
    std::fs::read_to_string(path)
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Runs a whole command line; returns dig's exit status.
pub fn run(argv: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // Like dig, options in ~/.digrc come first, unless -r is given.
    let mut words = if argv.iter().any(|a| a == "-r") {
        Vec::new()
    } else {
        digrc_words()
    };
    words.extend_from_slice(argv);
    let inv = match args::parse(&words) {
        Ok(Parsed::Run(inv)) => inv,
        Ok(Parsed::Help) => {
            let _ = writeln!(out, "{}", help::HELP);
            return EXIT_OK;
        }
        Ok(Parsed::Version) => {
            let _ = writeln!(err, "tern dig {}", env!("CARGO_PKG_VERSION"));
            return EXIT_OK;
        }
        Err(e) => return report_arg_error(&e, out, err),
    };
    // Each lookup, with the text its banner shows (dig prints one banner
    // per command line and per batch line).
    for w in &inv.warnings {
        let _ = writeln!(err, "{w}");
    }
    let mut globals = args::Globals {
        print_cmd: inv.print_cmd,
        short: inv.short,
    };
    let usec = inv.usec;
    let with_globals = |mut l: Lookup, g: args::Globals| {
        l.flags.short = g.short;
        l.flags.usec = usec;
        l
    };
    let mut lookups: Vec<(Lookup, Option<String>, bool)> = inv
        .lookups
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let banner = (i == 0).then(|| argv.join(" "));
            (with_globals(l.clone(), globals), banner, globals.print_cmd)
        })
        .collect();
    if let Some(path) = &inv.batch_file {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                // dig's words and status (8) for an unreadable batch file.
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
                    std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
                    _ => e.to_string(),
                };
                let _ = writeln!(
                    err,
                    "{path}: {why}\ndig: couldn't open specified batch file"
                );
                return EXIT_BATCH;
            }
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match args::parse_batch_line(&inv.defaults, globals, line) {
                Ok((ls, g)) => {
                    globals = g;
                    lookups.extend(ls.into_iter().enumerate().map(|(i, l)| {
                        let banner = (i == 0).then(|| line.to_string());
                        (with_globals(l, g), banner, g.print_cmd)
                    }));
                }
                Err(e) => return report_arg_error(&e, out, err),
            }
        }
    }
    let mut status = EXIT_OK;
    for (i, (l, banner_text, print_cmd)) in lookups.iter().enumerate() {
        let banner = banner_text
            .as_deref()
            .filter(|_| !l.flags.json && !l.flags.yaml)
            .map(|text| Banner { text, full: i == 0 });
        let transfer = l.qtype == types::TYPE_AXFR || l.qtype == types::TYPE_IXFR;
        let code = if transfer && !l.flags.trace {
            xfr::run(l, banner, *print_cmd, out)
        } else if l.flags.trace && l.flags.engine {
            engine_trace::run(l, banner.filter(|_| *print_cmd), out)
        } else if l.flags.trace {
            trace::run(l, banner.filter(|_| *print_cmd), out)
        } else {
            // dig prints the banner on failure even with +nocmd/+noall.
            one_lookup(l, banner, *print_cmd, out, err)
        };
        if code != EXIT_OK {
            status = code;
        }
    }
    let _ = out.flush();
    status
}

fn report_arg_error(e: &ArgError, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if let Some(s) = &e.stdout {
        let _ = writeln!(out, "{s}");
    }
    let _ = writeln!(err, "{}", e.stderr);
    e.exit
}

/// What a lookup's banner shows: the command line (or batch line) and
/// whether it is the run's first banner, which alone carries the blank
/// line, the server count and "global options".
#[derive(Debug, Clone, Copy)]
pub struct Banner<'a> {
    pub text: &'a str,
    pub full: bool,
}

/// The banner lines printed before a lookup's output.
pub fn banner(b: Banner<'_>, global_servers: Option<usize>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    if !b.full {
        return format!("; <<>> tern dig {version} <<>> {}\n", b.text);
    }
    let mut s = format!("\n; <<>> tern dig {version} <<>> {}\n", b.text);
    if let Some(n) = global_servers {
        let plural = if n == 1 { "" } else { "s" };
        s.push_str(&format!("; ({n} server{plural} found)\n"));
    }
    s.push_str(";; global options: +cmd\n");
    s
}

/// The query a lookup sends.
pub fn spec_of(l: &Lookup, name: &str) -> QuerySpec {
    let f = &l.flags;
    QuerySpec {
        name: name.to_string(),
        qtype: l.qtype,
        qclass: l.qclass,
        recurse: f.recurse,
        aaflag: f.aaflag,
        raflag: f.raflag,
        tcflag: f.tcflag,
        adflag: f.adflag,
        cd: f.cd,
        edns: f.edns,
        dnssec: f.dnssec,
        bufsize: f.bufsize,
        nsid: f.nsid,
        cookie: (f.cookie && f.edns).then(rand::random::<[u8; 8]>),
        subnet: f.subnet,
        extra: {
            // dig's order: EXPIRE, TCP KEEPALIVE, then each +ednsopt.
            let mut extra = f.extra.clone();
            let mut options = Vec::new();
            if f.expire {
                options.push((options::OPT_EXPIRE, Vec::new()));
            }
            if f.keepalive {
                options.push((options::OPT_KEEPALIVE, Vec::new()));
            }
            options.append(&mut extra.options);
            extra.options = options;
            extra
        },
    }
}

/// One ordinary lookup: query, print, exit status.
fn one_lookup(
    l: &Lookup,
    banner_args: Option<Banner<'_>>,
    print_cmd: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let name = l.name.clone().unwrap_or_else(|| ".".to_string());
    let servers = match usable_servers(l, out, err) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // dig prints the banner lazily: just before the first message it
    // shows (or the final failure), after any retry chatter.
    let mut pending = banner_args.map(|a| {
        // dig counts the addresses of the last @server argument.
        let last = l.servers.last();
        let n = l
            .global_servers
            .then(|| servers.iter().filter(|s| Some(&s.label) == last).count());
        banner(a, n)
    });
    let spec = spec_of(l, &name);
    let id = l.flags.qid.unwrap_or_else(rand::random::<u16>);
    let query = match query::build(id, &spec) {
        Ok(q) => q,
        Err(e) => {
            let _ = writeln!(out, "dig: {e}");
            return EXIT_INTERNAL;
        }
    };
    let opts = SendOpts {
        tcp: wants_tcp(l),
        timeout: Duration::from_secs(u64::from(l.flags.timeout_secs)),
        tries: l.flags.tries,
        source: l.source,
    };
    // With +json/+yaml, standard output carries only the document; the
    // chatter (retries, warnings) goes to standard error.
    let json = l.flags.json || l.flags.yaml;
    for server in &servers {
        let chat: &mut dyn Write = if json { &mut *err } else { &mut *out };
        let Some(mut reply) = fetch(
            l,
            server,
            &query,
            &name,
            &opts,
            &mut pending,
            print_cmd,
            chat,
        ) else {
            continue;
        };
        // BADVERS to +edns=N: once more with the server's version, as dig.
        if let Some(version) = badvers(&reply.bytes).filter(|_| spec.extra.edns_version > 0) {
            let chat: &mut dyn Write = if json { &mut *err } else { &mut *out };
            let _ = writeln!(chat, ";; BADVERS, retrying with EDNS version {version}.");
            let mut again = spec.clone();
            again.extra.edns_version = version;
            let Ok(q2) = query::build(rand::random(), &again) else {
                continue;
            };
            let retried = fetch(l, server, &q2, &name, &opts, &mut pending, print_cmd, chat);
            match retried {
                Some(r) => reply = r,
                None => continue,
            }
        }
        let chat: &mut dyn Write = if json { &mut *err } else { &mut *out };
        if let Err(e) = msg::parse(&reply.bytes) {
            // dig shows the bytes, without a banner, and still exits 0.
            let _ = write!(
                chat,
                ";; Got bad packet: {e}\n{} bytes\n{}",
                reply.bytes.len(),
                format::hex_dump(&reply.bytes)
            );
            return EXIT_OK;
        }
        if cookie_mismatch(&reply.bytes, spec.cookie.as_ref()) {
            let _ = writeln!(chat, ";; Warning: Client COOKIE mismatch");
        }
        if let Some(b) = pending.take().filter(|_| print_cmd && !l.flags.short) {
            let _ = write!(out, "{b}");
        }
        return print_reply(l, server, &reply, &spec, out);
    }
    if json {
        let _ = writeln!(err, ";; no servers could be reached");
        let doc = serde_json::json!({"error": "no servers could be reached", "QNAME": name});
        let _ = match l.flags.json {
            true => writeln!(out, "{doc}"),
            false => write!(out, "---\n{}", json::to_yaml(&doc)),
        };
        return EXIT_NO_REPLY;
    }
    // Over TCP each failed try already said so (dig prints no banner then).
    if !opts.tcp && l.flags.encryption.mode.is_none() {
        if let Some(b) = pending.take() {
            let _ = write!(out, "{b}");
        }
        let _ = writeln!(out, ";; no servers could be reached");
    }
    EXIT_NO_REPLY
}

/// The servers to ask, after dig's checks of the address family.
fn usable_servers(l: &Lookup, out: &mut dyn Write, err: &mut dyn Write) -> Result<Vec<Server>, u8> {
    let mut servers = servers_of(l).map_err(|e| {
        let _ = writeln!(err, "dig: {e}");
        EXIT_USAGE
    })?;
    if l.family == Family::V6 {
        // dig's words for an IPv4 server under -6; it still exits 0.
        for s in servers.iter().filter(|s| s.addr.is_ipv4()) {
            let _ = writeln!(out, ";; Skipping mapped address '::ffff:{}'", s.addr.ip());
        }
        servers.retain(|s| s.addr.is_ipv6());
        if servers.is_empty() {
            let _ = writeln!(out, ";; No acceptable nameservers");
            return Err(EXIT_OK);
        }
    }
    Ok(servers)
}

/// One server's reply, over TCP again after TC=1 unless +ignore.
#[allow(clippy::too_many_arguments)]
fn fetch(
    l: &Lookup,
    server: &Server,
    query: &[u8],
    name: &str,
    opts: &SendOpts,
    pending: &mut Option<String>,
    print_cmd: bool,
    out: &mut dyn Write,
) -> Option<query::Reply> {
    if l.flags.qr {
        show_query(l, query, pending, print_cmd, out);
    }
    let mut log = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    if l.flags.encryption.mode.is_some() {
        return encrypted_exchange(l, server, query, name, opts, &mut log);
    }
    let reply = query::exchange(server.addr, query, name, opts, &mut log)?;
    let tc = reply.bytes.get(2).is_some_and(|b| b & 0x02 != 0);
    if !tc || reply.tcp || l.flags.ignore {
        return Some(reply);
    }
    if l.flags.comments {
        let _ = writeln!(out, ";; Truncated, retrying in TCP mode.");
    }
    if l.flags.qr {
        show_query(l, query, pending, print_cmd, out);
    }
    let tcp_opts = SendOpts {
        tcp: true,
        ..opts.clone()
    };
    let mut log = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    query::exchange(server.addr, query, name, &tcp_opts, &mut log)
}

/// `fetch` over TLS or HTTPS: each failed try is reported as dig
/// reports a failed TCP connection.
fn encrypted_exchange(
    l: &Lookup,
    server: &Server,
    query: &[u8],
    name: &str,
    opts: &SendOpts,
    log: &mut dyn FnMut(String),
) -> Option<query::Reply> {
    let e = &l.flags.encryption;
    for _ in 0..opts.tries.max(1) {
        let result = match e.mode {
            Some(encrypted::Mode::Https { .. }) => {
                encrypted::https_try(server.addr, query, opts.timeout, e)
            }
            _ => encrypted::tls_try(server.addr, query, opts.timeout, e, log),
        };
        match result {
            Ok(r) => return Some(r),
            Err(f) => {
                log(format!(
                    ";; Connection to {}({}) for {name} failed: {f}.",
                    query::hash_addr(&server.addr),
                    server.addr.ip()
                ));
                if matches!(f, query::TryFailure::Other(_)) {
                    // A refused certificate or an HTTP error will not
                    // change on the next try.
                    break;
                }
            }
        }
    }
    log(";; no servers could be reached".into());
    None
}

/// The server's EDNS version when it answered BADVERS (RFC 6891 §6.1.3).
fn badvers(reply: &[u8]) -> Option<u8> {
    let v = msg::parse(reply).ok()?;
    let opt = v.opt.as_ref()?;
    (v.rcode() == 16).then_some(opt.version)
}

/// Whether the reply echoes a client cookie other than ours (RFC 7873
/// §5.3).
fn cookie_mismatch(reply: &[u8], sent: Option<&[u8; 8]>) -> bool {
    let (Some(sent), Ok(v)) = (sent, msg::parse(reply)) else {
        return false;
    };
    v.opt.is_some_and(|o| {
        o.options.iter().any(|(code, data)| {
            *code == options::OPT_COOKIE
                && data.len() >= 8
                && data.get(..8) != Some(sent.as_slice())
        })
    })
}

/// TCP on request, and for ANY/AXFR/IXFR unless +notcp was given, as
/// dig does.
pub fn wants_tcp(l: &Lookup) -> bool {
    if l.flags.tcp_set {
        l.flags.tcp
    } else {
        matches!(l.qtype, 251..=252 | 255)
    }
}

/// `+qr`: the query as sent (after the banner, if still pending).
fn show_query(
    l: &Lookup,
    query: &[u8],
    pending: &mut Option<String>,
    print_cmd: bool,
    out: &mut dyn Write,
) {
    let Ok(v) = msg::parse(query) else {
        return;
    };
    let mut s = if print_cmd {
        pending.take().unwrap_or_default()
    } else {
        String::new()
    };
    if l.flags.comments {
        s.push_str(";; Sending:\n");
    }
    // dig shows the query before padding is added, and its (empty)
    // question section even with +header-only.
    for line in format::message_text(&v, &l.flags, false, false, None).lines() {
        let line = if line.starts_with("; PAD: (") {
            "; PAD:"
        } else {
            line
        };
        s.push_str(line);
        s.push('\n');
    }
    if v.questions.is_empty() && l.flags.question && l.flags.comments {
        s.push_str(";; QUESTION SECTION:\n\n");
    }
    if l.flags.stats {
        s.push_str(&format!(";; QUERY SIZE: {}\n\n", query.len()));
    }
    let _ = write!(out, "{s}");
}

fn print_reply(
    l: &Lookup,
    server: &Server,
    reply: &query::Reply,
    spec: &QuerySpec,
    out: &mut dyn Write,
) -> u8 {
    let f = &l.flags;
    let v = match msg::parse(&reply.bytes) {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(out, ";; Got bad packet: {e}\n{} bytes", reply.bytes.len());
            return EXIT_INTERNAL;
        }
    };
    let now = now_unix();
    let server_text = format!("{}({})", query::hash_addr(&server.addr), server.label);
    if f.json || f.yaml {
        let ctx = json::Context {
            server: Some(query::hash_addr(&server.addr)),
            protocol: Some(reply.proto),
            query_time_ms: Some(reply.rtt.as_millis()),
            unix_time: Some(now),
            date: Some(format::when_text(now)),
        };
        let obj = json::message_object(&v, &ctx);
        let text = if f.json {
            format!("{obj}\n")
        } else {
            format!("---\n{}", json::to_yaml(&obj))
        };
        let _ = write!(out, "{text}");
        return EXIT_OK;
    }
    if f.short {
        let mut s = format::short_text(&v);
        if f.identify {
            // dig: "<rdata> from server <addr> in <n> ms."
            let from = format!(
                " from server {} in {} ms.\n",
                server.addr.ip(),
                reply.rtt.as_millis()
            );
            s = s.lines().map(|l| format!("{l}{from}")).collect();
        }
        let _ = write!(out, "{s}");
        return EXIT_OK;
    }
    let mut s = String::new();
    if f.comments {
        s.push_str(";; Got answer:\n");
    }
    s.push_str(&format::message_text(
        &v,
        f,
        true,
        spec.edns,
        spec.cookie.as_ref(),
    ));
    if f.stats {
        s.push_str(&format::stats_text(
            &format::query_time(reply.rtt, f.usec),
            &server_text,
            reply.proto,
            &format::when_text(now),
            reply.bytes.len(),
        ));
    }
    let _ = write!(out, "{s}");
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_first_nameserver() {
        let text = "# c\nsearch x\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\n";
        assert_eq!(first_nameserver(text), Some("fe80::1".parse().unwrap()));
        assert_eq!(
            first_nameserver("nameserver\nnameserver 1.2.3.4"),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(first_nameserver("domain x\n"), None);
    }

    #[test]
    fn banner_counts_servers() {
        let full = |text| Banner { text, full: true };
        let b = banner(full("@127.0.0.1 x"), Some(1));
        assert!(b.starts_with("\n; <<>> tern dig "));
        assert!(b.ends_with("<<>> @127.0.0.1 x\n; (1 server found)\n;; global options: +cmd\n"));
        assert!(banner(full("x"), Some(2)).contains("; (2 servers found)\n"));
        assert!(!banner(full("x"), None).contains("found"));
        let later = banner(
            Banner {
                text: "x",
                full: false,
            },
            Some(1),
        );
        assert!(later.starts_with("; <<>> tern dig ") && later.ends_with(" <<>> x\n"));
    }
}
