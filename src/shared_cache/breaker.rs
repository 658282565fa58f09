//! A circuit breaker for the shared cache: after some failures in a row
//! the store is skipped for a while; then one lookup probes it, and a
//! success closes the breaker again.

use std::time::Duration;

use crate::clock::Mono;

#[derive(Debug, Clone)]
pub struct Breaker {
    /// Failures in a row that open it.
    threshold: u32,
    /// How long it stays open before a probe.
    retry: Duration,
    failures: u32,
    /// Open until this time (None: closed).
    open_until: Option<Mono>,
}

impl Breaker {
    pub fn new(threshold: u32, retry: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            retry,
            failures: 0,
            open_until: None,
        }
    }

    /// Whether a lookup may ask the store at `now`. Once the open time has
    /// passed, one caller is let through as a probe and the others are
    /// held off for another `retry`, until the probe reports.
    pub fn allow(&mut self, now: Mono) -> bool {
        match self.open_until {
            None => true,
            Some(t) if now >= t => {
                self.open_until = Some(now + self.retry);
                true
            }
            Some(_) => false,
        }
    }

    /// Whether a write may go to the store: only while closed (a probe is
    /// a lookup's job).
    pub fn allow_write(&self) -> bool {
        self.open_until.is_none()
    }

    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// A failure at `now`: opens the breaker at the threshold, or again
    /// after a failed probe.
    pub fn failure(&mut self, now: Mono) {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.threshold || self.open_until.is_some() {
            self.open_until = Some(now + self.retry);
        }
    }

    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Mono {
        Duration::from_secs(n)
    }

    #[test]
    fn opens_after_threshold_and_probes_after_retry() {
        let mut b = Breaker::new(3, s(5));
        assert!(b.allow(s(0)));
        b.failure(s(0));
        b.failure(s(0));
        assert!(
            b.allow(s(0)) && b.allow_write(),
            "two failures keep it closed"
        );
        b.failure(s(1));
        assert!(b.is_open());
        assert!(!b.allow(s(2)) && !b.allow_write(), "open: skipped");
        assert!(!b.allow(s(5)));
        assert!(b.allow(s(6)), "after the retry time one probe goes");
        assert!(!b.allow(s(6)), "the others wait for the probe");
        assert!(!b.allow_write());
        b.success();
        assert!(!b.is_open() && b.allow(s(6)) && b.allow_write());
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let mut b = Breaker::new(1, s(5));
        b.failure(s(0));
        assert!(b.allow(s(5)));
        b.failure(s(5));
        assert!(!b.allow(s(9)));
        assert!(b.allow(s(10)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(2, s(5));
        b.failure(s(0));
        b.success();
        b.failure(s(0));
        assert!(!b.is_open());
        b.failure(s(0));
        assert!(b.is_open());
    }
}
