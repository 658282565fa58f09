//! `AXFR`: a zone transfer over TCP (RFC 5936 §2.2: one query, replies
//! until the closing SOA) printed as dig prints it — records only unless
//! +comments/+question, `; Transfer failed.` on an error RCODE, and the
//! `;; XFR size: N records (messages M, bytes B)` statistics line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::args::Lookup;
use super::msg::View;
use super::query::{self, hash_addr};
use super::types::TYPE_SOA;
use super::{format, msg, spec_of, Banner, Server, EXIT_INTERNAL, EXIT_NO_REPLY, EXIT_OK};

/// Messages one transfer may take (a bound on memory and time).
const MAX_MESSAGES: usize = 100_000;

/// Why the stream ended early.
enum Stop {
    Io(std::io::Error),
    TooMany,
}

/// Reads framed messages until the closing SOA; `each` sees every message
/// and returns false to stop (an error RCODE).
fn transfer(
    server: &Server,
    query: &[u8],
    timeout: Duration,
    each: &mut dyn FnMut(View, usize) -> bool,
) -> Result<(), Stop> {
    let mut s = TcpStream::connect_timeout(&server.addr, timeout).map_err(Stop::Io)?;
    s.set_write_timeout(Some(timeout)).map_err(Stop::Io)?;
    s.set_read_timeout(Some(timeout)).map_err(Stop::Io)?;
    let len = u16::try_from(query.len()).unwrap_or(u16::MAX);
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).map_err(Stop::Io)?;
    let mut soas = 0;
    for _ in 0..MAX_MESSAGES {
        let mut lenbuf = [0u8; 2];
        s.read_exact(&mut lenbuf).map_err(Stop::Io)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(lenbuf))];
        s.read_exact(&mut body).map_err(Stop::Io)?;
        let size = body.len();
        let Ok(v) = msg::parse(&body) else {
            return Err(Stop::Io(std::io::Error::other("malformed message")));
        };
        soas += v.answers.iter().filter(|r| r.rtype == TYPE_SOA).count();
        let ok = v.rcode() == 0;
        if !each(v, size) || !ok || soas >= 2 {
            return Ok(());
        }
    }
    Err(Stop::TooMany)
}

/// Runs one AXFR lookup; returns dig's exit status.
pub fn run(l: &Lookup, banner: Option<Banner<'_>>, print_cmd: bool, out: &mut dyn Write) -> u8 {
    let mut l = l.clone();
    // dig: a transfer shows neither comments nor the question unless asked.
    if !l.flags.comments_set {
        l.flags.comments = false;
    }
    if !l.flags.question_set {
        l.flags.question = false;
    }
    l.flags.recurse = false;
    let name = l.name.clone().unwrap_or_else(|| ".".to_string());
    let Ok(servers) = super::servers_of(&l) else {
        return EXIT_INTERNAL;
    };
    let spec = spec_of(&l, &name);
    let Ok(query_bytes) = query::build(rand::random(), &spec) else {
        return EXIT_INTERNAL;
    };
    let global = l.global_servers.then(|| {
        let last = l.servers.last();
        servers.iter().filter(|s| Some(&s.label) == last).count()
    });
    let mut pending = banner
        .filter(|_| print_cmd && !l.flags.short)
        .map(|b| super::banner(b, global));
    let timeout = Duration::from_secs(u64::from(l.flags.timeout_secs));
    let attempts = servers
        .iter()
        .flat_map(|s| std::iter::repeat_n(s, l.flags.tries.max(1) as usize));
    for server in attempts {
        let start = Instant::now();
        let (mut records, mut messages, mut bytes) = (0usize, 0usize, 0usize);
        let mut failed = false;
        let mut each = |v: View, size: usize| {
            if let Some(b) = pending.take() {
                let _ = write!(out, "{b}");
            }
            messages += 1;
            bytes += size;
            records += v.answers.len();
            let mut s = String::new();
            if l.flags.short {
                s.push_str(&format::short_text(&v));
            } else {
                if l.flags.comments {
                    s.push_str(";; Got answer:\n");
                }
                s.push_str(&format::message_text(
                    &v,
                    &l.flags,
                    true,
                    spec.edns,
                    spec.cookie.as_ref(),
                ));
            }
            if v.rcode() != 0 {
                s.push_str("; Transfer failed.\n");
                failed = true;
            }
            let _ = write!(out, "{s}");
            !failed
        };
        match transfer(server, &query_bytes, timeout, &mut each) {
            Ok(()) => {
                if l.flags.stats && !l.flags.short && !failed {
                    let _ = write!(
                        out,
                        ";; Query time: {}\n;; SERVER: {}({}) (TCP)\n;; WHEN: {}\n;; XFR size: {records} records (messages {messages}, bytes {bytes})\n\n",
                        format::query_time(start.elapsed(), l.flags.usec),
                        hash_addr(&server.addr),
                        server.label,
                        format::when_text(super::now_unix())
                    );
                }
                return EXIT_OK;
            }
            Err(Stop::TooMany) => {
                let _ = writeln!(out, ";; transfer stopped after {MAX_MESSAGES} messages");
                return EXIT_INTERNAL;
            }
            Err(Stop::Io(e)) => {
                let why = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        "timed out".to_string()
                    }
                    _ => e.to_string().to_lowercase(),
                };
                let _ = writeln!(
                    out,
                    ";; Connection to {}({}) for {name} failed: {why}.\n;; no servers could be reached",
                    hash_addr(&server.addr),
                    server.addr.ip()
                );
            }
        }
    }
    EXIT_NO_REPLY
}
