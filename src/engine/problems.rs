//! One `info` line per distinct upstream problem: a server that timed
//! out, was unreachable, answered lame, REFUSED or SERVFAIL, or sent
//! something unusable, and a zone none of whose servers answered. The same
//! problem of the same server (or zone) is logged again only after
//! `WINDOW`, so a dead server asked by every client leaves one line a
//! minute, not one per query; the debug log keeps every exchange.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::Name;

use crate::clock::Mono;

/// How long a logged problem stays quiet.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Problems remembered at most; beyond, the oldest half is forgotten.
const MAX_REMEMBERED: usize = 4096;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    TimedOut,
    Unreachable,
    Unusable,
    Lame,
    Refused,
    ServFail,
    OtherRcode,
    ZoneUnreachable,
}

impl Problem {
    pub fn text(self) -> &'static str {
        match self {
            Problem::TimedOut => "server timed out",
            Problem::Unreachable => "server unreachable",
            Problem::Unusable => "server sent an unusable reply",
            Problem::Lame => "server is lame for the zone",
            Problem::Refused => "server refused",
            Problem::ServFail => "server answered SERVFAIL",
            Problem::OtherRcode => "server answered an error",
            Problem::ZoneUnreachable => "no server of the zone answered",
        }
    }
}

/// Whose problem it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Server(SocketAddr),
    Zone(Name),
}

/// When each problem was last logged.
#[derive(Default)]
pub struct ProblemLog {
    last: Mutex<HashMap<(Subject, Problem), Mono>>,
}

impl ProblemLog {
    /// Logs a server's problem unless it was logged within `WINDOW`.
    pub fn server(&self, server: SocketAddr, zone: &Name, problem: Problem, now: Mono) {
        if self.due(Subject::Server(server), problem, now) {
            tracing::info!(%server, %zone, problem = problem.text(), "upstream problem");
        }
    }

    /// Logs that no server of `zone` answered, unless logged within
    /// `WINDOW`.
    pub fn zone(&self, zone: &Name, servers: usize, now: Mono) {
        let problem = Problem::ZoneUnreachable;
        if self.due(Subject::Zone(zone.clone()), problem, now) {
            tracing::info!(%zone, servers, problem = problem.text(), "upstream problem");
        }
    }

    /// Whether to log now; notes the time if so.
    fn due(&self, subject: Subject, problem: Problem, now: Mono) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let key = (subject, problem);
        if let Some(t) = last.get(&key) {
            if now.saturating_sub(*t) < WINDOW {
                return false;
            }
        }
        if last.len() >= MAX_REMEMBERED {
            // Forget what is quiet anyway, then (a flood of distinct
            // servers) the older half.
            last.retain(|_, t| now.saturating_sub(*t) < WINDOW);
            if last.len() >= MAX_REMEMBERED {
                let mut times: Vec<Mono> = last.values().copied().collect();
                times.sort_unstable();
                let cut = times.get(times.len() / 2).copied();
                if let Some(cut) = cut {
                    last.retain(|_, t| *t > cut);
                }
            }
        }
        last.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(ms: u64) -> Mono {
        Mono::from_millis(ms)
    }

    #[test]
    fn each_problem_is_logged_once_per_window() {
        let log = ProblemLog::default();
        let a: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:53".parse().unwrap();
        let zone = Name::from_ascii("example.").unwrap();
        assert!(log.due(Subject::Server(a), Problem::TimedOut, at(0)));
        assert!(!log.due(Subject::Server(a), Problem::TimedOut, at(1_000)));
        // Another problem, another server, a zone: each its own line.
        assert!(log.due(Subject::Server(a), Problem::Refused, at(1_000)));
        assert!(log.due(Subject::Server(b), Problem::TimedOut, at(1_000)));
        assert!(log.due(
            Subject::Zone(zone.clone()),
            Problem::ZoneUnreachable,
            at(1_000)
        ));
        assert!(!log.due(Subject::Zone(zone), Problem::ZoneUnreachable, at(2_000)));
        // After the window, again.
        assert!(log.due(Subject::Server(a), Problem::TimedOut, at(60_000)));
    }

    #[test]
    fn memory_stays_bounded_under_many_servers() {
        let log = ProblemLog::default();
        for i in 0..(3 * MAX_REMEMBERED as u32) {
            let addr = SocketAddr::from((std::net::Ipv4Addr::from(i), 53));
            assert!(log.due(Subject::Server(addr), Problem::TimedOut, at(u64::from(i))));
        }
        assert!(log.last.lock().unwrap().len() <= MAX_REMEMBERED);
    }
}
