use crate::core::{Clock, Timestamp};
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time on the monotonic clock, in nanoseconds — the same base as the EVL core's
/// monotonic clock and as [`crate::core::Timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Timestamp);

impl Instant {
    /// Now (a vDSO read: no system call).
    pub fn now() -> Self {
        Instant(Clock::Monotonic.now())
    }

    /// From a monotonic timestamp.
    pub const fn from_timestamp(t: Timestamp) -> Self {
        Instant(t)
    }

    /// As a monotonic timestamp (for the element layer's `*_until` calls).
    pub const fn timestamp(self) -> Timestamp {
        self.0
    }

    /// Nanoseconds since the clock's epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0.as_nanos()
    }

    /// `self - earlier`, zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `self` (zero if in the future).
    pub fn elapsed(self) -> Duration {
        Instant::now().saturating_duration_since(self)
    }

    /// `self + d`, or `None` past the end of time.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time (about 584 years of uptime).
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}
