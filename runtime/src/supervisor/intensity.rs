//! Restart intensity: how many restarts a supervisor allows in a sliding window before it
//! gives up (OTP's `add_restart/1`).
//!
//! Each restart is recorded with its time; restarts older than `period` are forgotten; if
//! more than `intensity` remain, the limit is exceeded and the supervisor terminates all its
//! children and exits with `shutdown`. With the defaults (1 in 5 s) the first restart is
//! allowed and a second one within five seconds is not; with intensity 0 no restart is.
//!
//! # Invariants
//! 1. `restarts` is in time order and, after [`Intensity::add_restart`], holds only
//!    restarts younger than `period`: at most `intensity + 1` entries.
//! 2. Its memory follows its length: after a burst it shrinks back (the history of a
//!    supervisor that restarts a thousand children in a second does not keep a thousand
//!    slots for ever).
//!
//! OTP counts in whole seconds of monotonic time; this counts in [`Instant`]s, so a
//! restart leaves the window exactly `period` after it happened.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Capacity kept however short the history gets (no reallocation for ordinary rates).
const MIN_CAPACITY: usize = 8;

/// Whether a restart is within the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Verdict {
    /// Restart.
    Allowed,
    /// More than `intensity` restarts within `period`: shut the supervisor down.
    Exceeded,
}

/// The restart history of one supervisor.
#[derive(Debug)]
pub(crate) struct Intensity {
    intensity: u32,
    period: Duration,
    restarts: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(intensity: u32, period: Duration) -> Intensity {
        Intensity { intensity, period, restarts: VecDeque::new() }
    }

    /// Records a restart at `now` and says whether it is allowed (Invariant 1).
    pub(crate) fn add_restart(&mut self, now: Instant) -> Verdict {
        self.restarts.push_back(now);
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) < self.period {
                break;
            }
            self.restarts.pop_front();
        }
        // Invariant 2: give memory back once the history is a quarter of its capacity.
        let (len, capacity) = (self.restarts.len(), self.restarts.capacity());
        if capacity > MIN_CAPACITY && len < capacity / 4 {
            self.restarts.shrink_to((2 * len).max(MIN_CAPACITY));
        }
        if self.restarts.len() as u64 > u64::from(self.intensity) {
            Verdict::Exceeded
        } else {
            Verdict::Allowed
        }
    }

    /// Restarts remembered (within the period as of the last one).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.restarts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_default_allows_one_restart_in_five_seconds() {
        let t0 = Instant::now();
        let mut i = Intensity::new(1, 5 * SECOND);
        assert_eq!(i.add_restart(t0), Verdict::Allowed);
        assert_eq!(i.add_restart(t0 + 4 * SECOND), Verdict::Exceeded);
        let mut i = Intensity::new(1, 5 * SECOND);
        assert_eq!(i.add_restart(t0), Verdict::Allowed);
        assert_eq!(i.add_restart(t0 + 5 * SECOND), Verdict::Allowed, "the first left the window");
    }

    #[test]
    fn intensity_zero_allows_no_restart() {
        let mut i = Intensity::new(0, SECOND);
        assert_eq!(i.add_restart(Instant::now()), Verdict::Exceeded);
    }

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let mut i = Intensity::new(3, 10 * SECOND);
        for k in 0..3 {
            assert_eq!(i.add_restart(t0 + k * SECOND), Verdict::Allowed);
        }
        assert_eq!(i.add_restart(t0 + 10 * SECOND), Verdict::Allowed, "t0 expired");
        assert_eq!(i.len(), 3);
        assert_eq!(i.add_restart(t0 + 10 * SECOND), Verdict::Exceeded);
    }

    #[test]
    fn memory_shrinks_after_a_burst() {
        let t0 = Instant::now();
        let mut i = Intensity::new(100_000, SECOND);
        for k in 0..10_000 {
            assert_eq!(i.add_restart(t0 + Duration::from_micros(k)), Verdict::Allowed);
        }
        assert!(i.restarts.capacity() >= 10_000);
        assert_eq!(i.add_restart(t0 + 2 * SECOND), Verdict::Allowed);
        assert_eq!(i.len(), 1);
        assert!(i.restarts.capacity() <= 2 * MIN_CAPACITY, "capacity {}", i.restarts.capacity());
    }
}
