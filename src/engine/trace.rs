//! `TraceEvent`: what the engine did for one client query and why. Read by
//! `tern dig +trace`, debug logs, the control channel's `trace` and tests,
//! so "why this answer / why SERVFAIL" has one answer everywhere. The
//! failure events among them (`Causes`) are also kept when nobody traces,
//! and explain a SERVFAIL in its extended DNS error (RFC 8914).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::upstream::{Protocol, UpstreamFailure};

#[derive(Debug, Clone)]
pub enum TraceEvent {
    /// Answered (fully or partly) from the cache.
    CacheHit { name: Name, qtype: RecordType },
    /// Resolution of (name, type) starts at this zone cut.
    StartAt { zone: Name, servers: Vec<Name> },
    /// A query is sent upstream.
    Query {
        zone: Name,
        server: SocketAddr,
        server_name: Option<Name>,
        qname: Name,
        qtype: RecordType,
        protocol: Protocol,
        reason: String,
    },
    /// A reply came back.
    Reply {
        server: SocketAddr,
        rtt: Duration,
        rcode: ResponseCode,
        kind: String,
        /// The full reply, only when the request asked for a full trace.
        message: Option<Box<Message>>,
    },
    /// An exchange failed.
    Failed {
        server: SocketAddr,
        failure: UpstreamFailure,
        rto: Duration,
    },
    /// Any other decision worth showing.
    Note(String),
}

/// One line of plain text per event, as the control channel's `trace`
/// prints it.
impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        match self {
            TraceEvent::CacheHit { name, qtype } => write!(f, "cache hit: {name} {qtype}"),
            TraceEvent::StartAt { zone, servers } => {
                write!(f, "start at zone {zone} (")?;
                for (i, s) in servers.iter().enumerate() {
                    write!(f, "{}{s}", if i == 0 { "" } else { " " })?;
                }
                f.write_str(")")
            }
            TraceEvent::Query {
                zone,
                server,
                server_name,
                qname,
                qtype,
                protocol,
                reason,
            } => {
                f.write_str("asking ")?;
                if let Some(n) = server_name {
                    write!(f, "{n} ")?;
                }
                let proto = match protocol {
                    Protocol::Udp => "udp",
                    Protocol::Tcp => "tcp",
                };
                write!(
                    f,
                    "{server} for {qname} {qtype} in zone {zone} over {proto}: {reason}"
                )
            }
            TraceEvent::Reply {
                server, rtt, kind, ..
            } => write!(f, "reply from {server} in {:.1} ms: {kind}", ms(rtt)),
            TraceEvent::Failed {
                server,
                failure,
                rto,
            } => f.write_str(&failed_line(server, failure, *rto)),
            TraceEvent::Note(n) => f.write_str(n),
        }
    }
}

/// The line of a failed exchange, with the server written as the reader
/// writes addresses (`192.0.2.1:53`, or dig's `192.0.2.1#53`).
pub fn failed_line(
    server: &dyn std::fmt::Display,
    failure: &UpstreamFailure,
    rto: Duration,
) -> String {
    format!(
        "{server}: {failure} (next timeout {:.1} ms)",
        rto.as_secs_f64() * 1000.0
    )
}

/// Failure events kept per resolution to explain a SERVFAIL, even when
/// no trace is asked for: the last few are enough to name the servers
/// that failed and how.
pub const MAX_CAUSES: usize = 4;

/// Upper bound on the explanation's length in bytes: it travels in an
/// EDE option of every SERVFAIL, so it must not crowd out the reply.
pub const MAX_EXPLANATION: usize = 300;

/// The lines of the last `MAX_CAUSES` distinct failure events of a
/// resolution, oldest first. The same line again (a server timing out
/// once more) moves to the end instead of crowding out the others.
#[derive(Debug, Default)]
pub struct Causes {
    lines: std::collections::VecDeque<String>,
}

impl Causes {
    /// Keeps `event`'s line, forgetting the oldest beyond `MAX_CAUSES`.
    pub fn push(&mut self, event: &TraceEvent) {
        let line = event.to_string();
        if let Some(i) = self.lines.iter().position(|l| *l == line) {
            self.lines.remove(i);
        } else if self.lines.len() >= MAX_CAUSES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

/// The text of a failure followed by the lines of its causes, as many
/// whole ones as fit in `MAX_EXPLANATION` bytes (the newest are kept when
/// not all fit; an overlong one is cut at a character boundary).
pub fn explain(failure: &str, causes: &[String]) -> String {
    let mut text = cut(failure, MAX_EXPLANATION).to_string();
    // Newest first, as many as fit with the failure and separators.
    let mut room = MAX_EXPLANATION.saturating_sub(text.len());
    let mut kept = Vec::new();
    for c in causes.iter().rev() {
        let need = c.len() + 2;
        if need <= room {
            room -= need;
            kept.push(c.as_str());
        } else if kept.is_empty() && room > 2 {
            // Not even the newest fits whole: its beginning then.
            kept.push(cut(c, room - 2));
            break;
        } else {
            break;
        }
    }
    for (i, c) in kept.iter().rev().enumerate() {
        text.push_str(if i == 0 { ": " } else { "; " });
        text.push_str(c);
    }
    text
}

/// The longest prefix of `s` of at most `max` bytes ending at a character
/// boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(last: u8) -> TraceEvent {
        TraceEvent::Failed {
            server: SocketAddr::from(([192, 0, 2, last], 53)),
            failure: UpstreamFailure::Timeout,
            rto: Duration::from_millis(400),
        }
    }

    #[test]
    fn only_the_last_causes_are_kept_oldest_first() {
        let mut c = Causes::default();
        assert!(c.lines().is_empty());
        for i in 1..=7 {
            c.push(&failed(i));
        }
        let lines = c.lines();
        assert_eq!(lines.len(), MAX_CAUSES);
        assert!(lines[0].starts_with("192.0.2.4:53: "), "{lines:?}");
        assert!(lines[3].starts_with("192.0.2.7:53: "), "{lines:?}");
        // The same event again moves to the end, once.
        c.push(&failed(5));
        let order: Vec<&str> = c.lines.iter().map(|l| &l[..9]).collect();
        assert_eq!(order, ["192.0.2.4", "192.0.2.6", "192.0.2.7", "192.0.2.5"]);
    }

    #[test]
    fn the_explanation_names_each_cause_and_stays_bounded() {
        let lines = vec![
            failed(1).to_string(),
            "forwarder 192.0.2.2:53 for x. A: rcode REFUSED".to_string(),
        ];
        let text = explain("no authoritative server answered", &lines);
        assert_eq!(
            text,
            "no authoritative server answered: 192.0.2.1:53: no matching reply within \
             the timeout (next timeout 400.0 ms); forwarder 192.0.2.2:53 for x. A: rcode REFUSED"
        );
        assert_eq!(explain("budget", &[]), "budget");
        // Long causes: the newest that fit, whole, within the bound.
        let long: Vec<String> = (0..4).map(|i| format!("{i}{}", "é".repeat(60))).collect();
        let text = explain("failed", &long);
        assert!(text.len() <= MAX_EXPLANATION, "{}", text.len());
        assert!(text.starts_with("failed: 2"), "{text}");
        assert!(text.ends_with(&long[3]), "{text}");
        // One cause longer than the bound: its beginning, cut cleanly.
        let huge = vec!["ü".repeat(400)];
        let text = explain("failed", &huge);
        assert!(text.len() <= MAX_EXPLANATION && text.starts_with("failed: üü"));
    }
}
