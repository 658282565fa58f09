//! Failure memory for client questions (RFC 9520 §3): a question whose
//! resolution failed is not resolved again until the remembered failure
//! expires. It is remembered for `failure_ttl_initial` (at least 1 s, as
//! RFC 9520 §3.2 requires), doubled after each failure in a row up to
//! `failure_ttl_max`; an answer forgets it. Server-level memory (hold-down
//! of servers that give no reply) lives in `upstream::selection`.
//!
//! Pure bookkeeping: every call takes `now`.

use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::cache::lru::{Bound, Sharded};
use crate::clock::Mono;
use crate::engine::Failure;

/// Questions remembered at most (a bound on memory; the least recently
/// failed are forgotten first).
const MAX_REMEMBERED: usize = 10_000;

/// Shards of the memory: one, so that an empty memory (the usual case) is
/// seen with one lock and no hashing.
const SHARDS: usize = 1;

type Question = (Name, RecordType, DNSClass);

#[derive(Debug, Clone)]
struct Remembered {
    failure: Failure,
    /// The failure events that explained it (`Resolution::causes`).
    causes: Vec<String>,
    since: Mono,
    until: Mono,
    /// Failures in a row; the memory lasts initial · 2^(strikes-1).
    strikes: u32,
}

/// The remembered failures, shared by all resolutions.
pub struct FailureMemory {
    map: Sharded<Question, Remembered>,
    initial: Duration,
    max: Duration,
}

/// Whether a failure is one to remember: a failure of resolution itself,
/// not a refusal to resolve, an internal error, a client deadline, a
/// validation result (which has its own bogus TTL), a response policy's
/// stop (the server applies the policy and resolves on) or a failure that
/// is itself remembered state.
pub fn worth_remembering(f: &Failure) -> bool {
    !matches!(
        f,
        Failure::NotCached
            | Failure::Policy(_)
            | Failure::PolicyAlias(_)
            | Failure::Internal(_)
            | Failure::RecentlyFailed
            | Failure::Remembered { .. }
            | Failure::ServersDown { .. }
            | Failure::ClientDeadline { .. }
            | Failure::Dnssec(_)
    )
}

impl FailureMemory {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            map: Sharded::new(SHARDS, Bound::Entries(MAX_REMEMBERED)),
            initial,
            max,
        }
    }

    fn key(name: &Name, qtype: RecordType, class: DNSClass) -> Question {
        (name.to_lowercase(), qtype, class)
    }

    /// The live remembered failure of the question, as the failure to
    /// answer with, and the causes that explained it.
    pub fn check(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        now: Mono,
    ) -> Option<(Failure, Vec<String>)> {
        if self.map.is_empty() {
            return None;
        }
        let key = Self::key(name, qtype, class);
        let hash = self.map.hash(&key);
        let map = self.map.lock(hash)?;
        let r = map.peek(hash, &key)?;
        if r.until <= now {
            return None;
        }
        let failure = Failure::Remembered {
            failure: Box::new(r.failure.clone()),
            age_secs: now.saturating_sub(r.since).as_secs(),
            retry_secs: r.until.saturating_sub(now).as_secs().max(1),
        };
        Some((failure, r.causes.clone()))
    }

    /// Remembers a failure and its causes; returns how long it is
    /// remembered. A failure soon after the last one expired is a strike
    /// more; after a quiet spell (the longest memory) the count starts
    /// again.
    pub fn failed(
        &self,
        (name, qtype, class): (&Name, RecordType, DNSClass),
        failure: &Failure,
        causes: &[String],
        now: Mono,
    ) -> Duration {
        let key = Self::key(name, qtype, class);
        let hash = self.map.hash(&key);
        let Some(mut map) = self.map.lock(hash) else {
            return Duration::ZERO;
        };
        let strikes = match map.peek(hash, &key) {
            Some(r) if now < r.until + self.max => r.strikes.saturating_add(1),
            _ => 1,
        };
        let ttl = self.ttl_for(strikes);
        let since = map
            .peek(hash, &key)
            .filter(|r| strikes > 1 && now < r.until + self.max)
            .map_or(now, |r| r.since);
        let remembered = Remembered {
            failure: failure.clone(),
            causes: causes.to_vec(),
            since,
            until: now + ttl,
            strikes,
        };
        map.insert(hash, key, remembered, 0);
        ttl
    }

    /// The question was answered: its failures are forgotten.
    pub fn answered(&self, name: &Name, qtype: RecordType, class: DNSClass) {
        if self.map.is_empty() {
            return;
        }
        let key = Self::key(name, qtype, class);
        let hash = self.map.hash(&key);
        if let Some(mut map) = self.map.lock(hash) {
            map.remove(hash, &key);
        }
    }

    /// initial · 2^(strikes-1), at most `max`.
    fn ttl_for(&self, strikes: u32) -> Duration {
        let shift = strikes.saturating_sub(1).min(31);
        let factor = 1u32.checked_shl(shift).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn secs(s: u64) -> Mono {
        Duration::from_secs(s)
    }

    #[test]
    fn remembered_at_least_a_second_then_doubling_to_the_cap() {
        let m = FailureMemory::new(Duration::from_secs(1), Duration::from_secs(5));
        let (q, t, c) = (n("x.test."), RecordType::A, DNSClass::IN);
        let f = Failure::NoReachableAuthority;
        let mut now = secs(100);
        let mut got = Vec::new();
        for _ in 0..5 {
            let ttl = m.failed((&q, t, c), &f, &[], now);
            got.push(ttl.as_secs());
            assert!(m
                .check(&q, t, c, now + ttl - Duration::from_millis(1))
                .is_some());
            now += ttl;
            assert!(m.check(&q, t, c, now).is_none(), "expired at {now:?}");
        }
        assert_eq!(got, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn an_answer_or_a_quiet_spell_starts_again() {
        let m = FailureMemory::new(Duration::from_secs(1), Duration::from_secs(8));
        let (q, t, c) = (n("x.test."), RecordType::A, DNSClass::IN);
        let f = Failure::AllLame;
        assert_eq!(m.failed((&q, t, c), &f, &[], secs(0)).as_secs(), 1);
        assert_eq!(m.failed((&q, t, c), &f, &[], secs(1)).as_secs(), 2);
        m.answered(&q, t, c);
        assert!(m.check(&q, t, c, secs(2)).is_none());
        assert_eq!(m.failed((&q, t, c), &f, &[], secs(3)).as_secs(), 1);
        // Long after the memory ended: a first failure again.
        assert_eq!(m.failed((&q, t, c), &f, &[], secs(100)).as_secs(), 1);
    }

    #[test]
    fn the_remembered_failure_names_the_original_and_its_age() {
        let m = FailureMemory::new(Duration::from_secs(4), Duration::from_secs(60));
        let (q, t, c) = (n("X.Test."), RecordType::AAAA, DNSClass::IN);
        let why = vec!["ns.x.test. A: rcode REFUSED".to_string()];
        m.failed((&q, t, c), &Failure::NoNsAddress, &why, secs(10));
        let (got, causes) = m.check(&n("x.test."), t, c, secs(11)).unwrap();
        assert_eq!(causes, why);
        assert_eq!(
            got,
            Failure::Remembered {
                failure: Box::new(Failure::NoNsAddress),
                age_secs: 1,
                retry_secs: 3,
            }
        );
        assert!(m.check(&q, RecordType::A, c, secs(11)).is_none());
    }

    #[test]
    fn only_resolution_failures_are_remembered() {
        assert!(worth_remembering(&Failure::NoReachableAuthority));
        assert!(worth_remembering(&Failure::Timeout));
        assert!(!worth_remembering(&Failure::NotCached));
        assert!(!worth_remembering(&Failure::ClientDeadline {
            ms: 4000,
            waiting: None
        }));
    }
}
