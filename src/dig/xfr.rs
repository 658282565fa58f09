//! `AXFR` and `IXFR=N`: a zone transfer over TCP (RFC 5936 §2.2: one
//! query, replies until the closing SOA; RFC 1995 §4 for the incremental
//! form) printed as dig prints it — records only unless
//! +comments/+question, `; Transfer failed.` on an error RCODE, and the
//! `;; XFR size: N records (messages M, bytes B)` statistics line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::args::Lookup;
use super::msg::View;
use super::query::{self, hash_addr};
use super::types::{TYPE_IXFR, TYPE_SOA};
use super::{format, msg, spec_of, Banner, Server, EXIT_INTERNAL, EXIT_NO_REPLY, EXIT_OK};

/// Messages one transfer may take (a bound on memory and time).
const MAX_MESSAGES: usize = 100_000;

/// Why the stream ended early.
enum Stop {
    Io(std::io::Error),
    TooMany,
}

/// Where in a transfer's stream of records we are, to know its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing yet: the first record is the zone's current SOA.
    Start,
    /// IXFR, after the first SOA: the second record tells the form.
    Second,
    /// AXFR form: the next SOA closes the transfer.
    Full,
    /// IXFR difference sequence: deleted records after the old SOA.
    Deleting,
    /// IXFR difference sequence: added records after the new SOA.
    Adding,
    Done,
}

/// Follows the records of a transfer to find its end: AXFR (and an IXFR
/// answered in full) ends at the second SOA; an incremental IXFR is
/// `SOA(new) [SOA(old) deleted SOA(next) added]... SOA(new)` and ends at
/// an SOA with the new serial where a difference sequence would start; an
/// IXFR from a serial not older than the zone's is the one SOA.
#[derive(Debug)]
struct Progress {
    /// The IXFR's serial; None for AXFR.
    ixfr: Option<u32>,
    state: State,
    new_serial: u32,
}

impl Progress {
    fn new(ixfr: Option<u32>) -> Self {
        Progress {
            ixfr,
            state: State::Start,
            new_serial: 0,
        }
    }

    fn record(&mut self, v: &View, r: &msg::Record) {
        self.step((r.rtype == TYPE_SOA).then(|| soa_serial(&v.bytes, r.rdata_offset)));
    }

    /// One record: `Some(serial)` for an SOA (its serial, if readable),
    /// `None` for any other type.
    fn step(&mut self, soa: Option<Option<u32>>) {
        self.state = match (self.state, soa) {
            (State::Start, Some(serial)) => {
                self.new_serial = serial.unwrap_or(0);
                match self.ixfr {
                    None => State::Full,
                    // Up to date: the answer is this one SOA.
                    Some(have) if serial_le(self.new_serial, have) => State::Done,
                    Some(_) => State::Second,
                }
            }
            (State::Start, None) => State::Full,
            (State::Second, None) => State::Full,
            (State::Full, Some(_)) => State::Done,
            (State::Deleting, Some(_)) => State::Adding,
            (State::Second | State::Adding, Some(serial)) => {
                if serial == Some(self.new_serial) {
                    State::Done
                } else {
                    State::Deleting
                }
            }
            (state, _) => state,
        };
    }
}

/// RFC 1982 serial comparison: `a` is not newer than `b`.
fn serial_le(a: u32, b: u32) -> bool {
    a == b || b.wrapping_sub(a) < 0x8000_0000
}

/// The serial of the SOA record whose RDATA starts at `pos`.
fn soa_serial(bytes: &[u8], pos: usize) -> Option<u32> {
    let (_, after_mname) = msg::read_name(bytes, pos).ok()?;
    let (_, after_rname) = msg::read_name(bytes, after_mname).ok()?;
    msg::u32_at(bytes, after_rname)
}

/// Reads framed messages until the transfer is complete; `each` sees every
/// message and returns false to stop (an error RCODE).
fn transfer(
    server: &Server,
    query: &[u8],
    ixfr: Option<u32>,
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
    let mut progress = Progress::new(ixfr);
    for _ in 0..MAX_MESSAGES {
        let mut lenbuf = [0u8; 2];
        s.read_exact(&mut lenbuf).map_err(Stop::Io)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(lenbuf))];
        s.read_exact(&mut body).map_err(Stop::Io)?;
        let size = body.len();
        let Ok(v) = msg::parse(&body) else {
            return Err(Stop::Io(std::io::Error::other("malformed message")));
        };
        for r in &v.answers {
            progress.record(&v, r);
        }
        let ok = v.rcode() == 0;
        let done = progress.state == State::Done;
        if !each(v, size) || !ok || done {
            return Ok(());
        }
    }
    Err(Stop::TooMany)
}

/// Runs one AXFR or IXFR lookup; returns dig's exit status.
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
        let ixfr = spec.extra.ixfr_serial.filter(|_| l.qtype == TYPE_IXFR);
        match transfer(server, &query_bytes, ixfr, timeout, &mut each) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds records (Some(serial) = SOA, None = other) until done;
    /// returns how many were read.
    fn read(ixfr: Option<u32>, records: &[Option<u32>]) -> Option<usize> {
        let mut p = Progress::new(ixfr);
        for (i, r) in records.iter().enumerate() {
            p.step(r.map(Some));
            if p.state == State::Done {
                return Some(i + 1);
            }
        }
        None
    }

    #[test]
    fn transfers_end_where_their_form_says() {
        // AXFR: SOA, data, SOA.
        assert_eq!(read(None, &[Some(5), None, None, Some(5), None]), Some(4));
        // IXFR from the current serial or a newer one: the one SOA.
        assert_eq!(read(Some(5), &[Some(5), None]), Some(1));
        assert_eq!(read(Some(7), &[Some(5), None]), Some(1));
        // IXFR answered in full: as AXFR.
        assert_eq!(read(Some(1), &[Some(5), None, Some(5), None]), Some(3));
        // Incremental: new, [old, deleted, next, added]..., new. The new
        // serial as a sequence's target SOA does not end it.
        let seq = [
            Some(5),
            Some(3),
            None,
            Some(4),
            None,
            Some(4),
            None,
            Some(5),
            None,
            Some(5),
        ];
        assert_eq!(read(Some(3), &seq), Some(10));
        // A sequence with nothing deleted or added.
        assert_eq!(
            read(Some(3), &[Some(5), Some(3), Some(5), Some(5)]),
            Some(4)
        );
        // Serial arithmetic wraps (RFC 1982): 1 is newer than 4294967295.
        assert_eq!(read(Some(1), &[Some(u32::MAX), None]), Some(1));
        assert_eq!(read(Some(u32::MAX), &[Some(1), None, Some(1)]), Some(3));
    }
}
