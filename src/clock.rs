//! Time as the engine and cache see it: a `Clock` trait with a real
//! `SystemClock` and a `ManualClock` that tests and replay scenarios move.
//!
//! Nothing under `engine/` or `cache/` reads the system clock; they take a
//! `Clock` (or a `now` argument) so every time-dependent decision (TTL
//! expiry, RTO backoff, hold-down) is deterministic under test.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point on the monotonic clock: time since the clock's own origin.
pub type Mono = Duration;

/// The two times a resolver needs.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time since an arbitrary origin; never goes backwards.
    fn now(&self) -> Mono;
    /// Wall-clock seconds since the Unix epoch (RRSIG validity, logs).
    fn unix_secs(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Mono {
        (**self).now()
    }
    fn unix_secs(&self) -> u64 {
        (**self).unix_secs()
    }
}

/// The real clock, used by `tern serve`.
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Mono {
        self.origin.elapsed()
    }
    fn unix_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, replay `TIME_PASSES`).
#[derive(Debug, Default)]
pub struct ManualClock {
    mono_us: AtomicU64,
    unix_base: u64,
}

impl ManualClock {
    /// A clock at monotonic zero whose wall clock reads `unix_base`.
    pub fn new(unix_base: u64) -> Self {
        Self {
            mono_us: AtomicU64::new(0),
            unix_base,
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.mono_us.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Mono {
        Duration::from_micros(self.mono_us.load(Ordering::SeqCst))
    }
    fn unix_secs(&self) -> u64 {
        self.unix_base + self.now().as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now(), Duration::ZERO);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), Duration::from_millis(1500));
        assert_eq!(c.unix_secs(), 1_001);
    }
}

/// A duration in milliseconds to a tenth, for logs (`rtt_ms=200.5`).
pub fn tenths_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
mod tenths_tests {
    use super::*;

    #[test]
    fn milliseconds_keep_one_decimal() {
        assert_eq!(tenths_ms(Duration::from_micros(200_549)), 200.5);
        assert_eq!(tenths_ms(Duration::from_micros(12)), 0.0);
        assert_eq!(tenths_ms(Duration::from_secs(2)), 2000.0);
    }
}
