//! The time types every element shares: [`Timestamp`], [`Clock`] (reading it is a vDSO
//! call on both backends).
//!
//! Every deadline in this crate is absolute: a [`Timestamp`] on a [`Clock`], in nanoseconds,
//! never rounded. The EVL core's monotonic clock and Linux's `CLOCK_MONOTONIC` share one time
//! base, so a timestamp read on one backend means the same instant on the other.

use core::time::Duration;

/// A point in time on a clock: nanoseconds since that clock's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The clock's epoch.
    pub const ZERO: Timestamp = Timestamp(0);
    /// The farthest representable instant.
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// `ns` nanoseconds after the epoch.
    pub const fn from_nanos(ns: u64) -> Self {
        Timestamp(ns)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64),
        )
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        u64::try_from(d.as_nanos())
            .ok()
            .and_then(|n| self.0.checked_add(n))
            .map(Timestamp)
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The signed distance `self - other` in nanoseconds (positive when `self` is later).
    pub fn signed_nanos_since(self, other: Timestamp) -> i64 {
        (self.0 as i128 - other.0 as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    pub(crate) fn to_timespec(self) -> libc::timespec {
        libc::timespec {
            tv_sec: (self.0 / 1_000_000_000) as libc::time_t,
            tv_nsec: (self.0 % 1_000_000_000) as libc::c_long,
        }
    }

    pub(crate) fn from_timespec(ts: &libc::timespec) -> Self {
        Timestamp(
            (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64),
        )
    }
}

pub(crate) fn duration_to_timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// A clock of the core: the same two every EVL system has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// Never jumps; the base of every deadline in the runtime.
    Monotonic,
    /// Wall-clock time; may be set.
    Realtime,
}

impl Clock {
    pub(crate) const fn clockid(self) -> libc::clockid_t {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Realtime => libc::CLOCK_REALTIME,
        }
    }

    /// The current time. Reading a clock is a vDSO call on both backends: no system call, no
    /// stage switch.
    pub fn now(self) -> Timestamp {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is one of the two
        // clocks every Linux kernel has, so clock_gettime only writes `ts`.
        let rc = unsafe { libc::clock_gettime(self.clockid(), &mut ts) };
        debug_assert_eq!(
            rc, 0,
            "clock_gettime cannot fail for CLOCK_MONOTONIC/REALTIME"
        );
        Timestamp::from_timespec(&ts)
    }

    /// The clock's resolution.
    pub fn resolution(self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is one every Linux kernel
        // has, so clock_getres only writes `ts`.
        unsafe { libc::clock_getres(self.clockid(), &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_arithmetic() {
        let t = Timestamp::from_nanos(1_500_000_000);
        assert_eq!(
            t.checked_add(Duration::from_nanos(1)),
            Some(Timestamp::from_nanos(1_500_000_001))
        );
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(
            Timestamp::MAX.saturating_add(Duration::from_secs(1)),
            Timestamp::MAX
        );
        assert_eq!(
            t.saturating_duration_since(Timestamp::from_nanos(2_000_000_000)),
            Duration::ZERO
        );
        assert_eq!(
            t.signed_nanos_since(Timestamp::from_nanos(1_600_000_000)),
            -100_000_000
        );
        let ts = t.to_timespec();
        assert_eq!((ts.tv_sec, ts.tv_nsec), (1, 500_000_000));
        assert_eq!(Timestamp::from_timespec(&ts), t);
    }

    #[test]
    fn monotonic_clock_advances_and_resolution_is_fine_grained() {
        let a = Clock::Monotonic.now();
        let b = Clock::Monotonic.now();
        assert!(b >= a);
        assert!(Clock::Monotonic.resolution() <= Duration::from_micros(1));
        assert!(Clock::Realtime.now().as_nanos() > 1_600_000_000 * 1_000_000_000);
    }
}
