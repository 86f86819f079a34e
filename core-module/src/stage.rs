//! Stage-switch detection: how often attached threads left the out-of-band stage, and why.
//!
//! On the EVL core a thread attached to the core runs out-of-band, where its latency is
//! bounded by the core. An ordinary Linux system call, a page fault, or a signal demotes it to
//! the in-band stage, where it is just another Linux thread; it goes back out-of-band at its
//! next out-of-band call. A real-time loop that demotes itself in steady state has lost its
//! bound, so this module makes demotions visible:
//!
//! - [`ThreadConfig::warn_stage_switches`](crate::ThreadConfig) (on by default in debug and
//!   test builds) asks the core to notify each demotion of the thread with a cause (`EVL_T_WOSS`,
//!   delivered as `SIGDEBUG`). A process-wide handler counts them per [`Cause`]:
//!   [`switches`] for the whole process, [`thread_switches`] for the calling thread.
//! - [`Thread::inband_switches`](crate::Thread::inband_switches) reads the core's own count
//!   of the thread's switches to in-band (`isw`), warned or not.
//!
//! On the host backend there is no out-of-band stage: every count stays zero.

use core::sync::atomic::{AtomicU64, Ordering};
use std::cell::Cell;

/// Why an attached thread was demoted to the in-band stage (the core's `EVL_HMDIAG_*`
/// causes, as `SIGDEBUG` reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A signal was delivered to the thread (`EVL_HMDIAG_SIGDEMOTE`).
    Signal,
    /// The thread issued an in-band system call (`EVL_HMDIAG_SYSDEMOTE`): the usual mistake.
    Syscall,
    /// A CPU exception, e.g. a page fault or a floating-point trap (`EVL_HMDIAG_EXDEMOTE`).
    Fault,
    /// The core's watchdog kicked the thread out (`EVL_HMDIAG_WATCHDOG`).
    Watchdog,
    /// Locking inconsistency: sleeping on a lock owned by an in-band thread
    /// (`EVL_HMDIAG_LKDEPEND`).
    LockDependency,
    /// Lock imbalance (`EVL_HMDIAG_LKIMBALANCE`).
    LockImbalance,
    /// Switching in-band while holding a lock (`EVL_HMDIAG_LKSLEEP`).
    LockSleep,
    /// Stage exclusion violated (`EVL_HMDIAG_STAGEX`).
    StageExclusion,
    /// A time-partitioning overrun (`EVL_HMDIAG_OVERRUN`).
    Overrun,
    /// A cause this build does not know.
    Other,
}

/// Number of [`Cause`]s.
pub const CAUSES: usize = 10;

impl Cause {
    /// Every cause, in [`index`](Cause::index) order.
    pub const ALL: [Cause; CAUSES] = [
        Cause::Signal,
        Cause::Syscall,
        Cause::Fault,
        Cause::Watchdog,
        Cause::LockDependency,
        Cause::LockImbalance,
        Cause::LockSleep,
        Cause::StageExclusion,
        Cause::Overrun,
        Cause::Other,
    ];

    /// The cause the core's diagnostic code `diag` stands for.
    pub const fn from_diag(diag: u32) -> Cause {
        match diag {
            1 => Cause::Signal,
            2 => Cause::Syscall,
            3 => Cause::Fault,
            4 => Cause::Watchdog,
            5 => Cause::LockDependency,
            6 => Cause::LockImbalance,
            7 => Cause::LockSleep,
            8 => Cause::StageExclusion,
            9 => Cause::Overrun,
            _ => Cause::Other,
        }
    }

    /// Position of the cause in [`Cause::ALL`] and in [`StageSwitches::by_cause`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Stage-switch counts, per [`Cause`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageSwitches {
    /// Count per cause, indexed by [`Cause::index`].
    pub by_cause: [u64; CAUSES],
}

impl StageSwitches {
    /// Switches for `cause`.
    pub fn get(&self, cause: Cause) -> u64 {
        self.by_cause[cause.index()]
    }

    /// All switches, whatever the cause.
    pub fn total(&self) -> u64 {
        self.by_cause.iter().sum()
    }

    /// The counts since `earlier` (a snapshot taken before this one).
    pub fn since(&self, earlier: &StageSwitches) -> StageSwitches {
        let mut d = StageSwitches::default();
        for (i, v) in d.by_cause.iter_mut().enumerate() {
            *v = self.by_cause[i].saturating_sub(earlier.by_cause[i]);
        }
        d
    }
}

impl core::fmt::Display for StageSwitches {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} in-band switch(es)", self.total())?;
        let mut first = true;
        for c in Cause::ALL {
            let n = self.get(c);
            if n > 0 {
                write!(f, "{}{c:?} {n}", if first { ": " } else { ", " })?;
                first = false;
            }
        }
        Ok(())
    }
}

static PROCESS: [AtomicU64; CAUSES] = [const { AtomicU64::new(0) }; CAUSES];

std::thread_local! {
    // Const-initialised and without destructor: safe to touch from a signal handler.
    static THREAD: [Cell<u64>; CAUSES] = const { [const { Cell::new(0) }; CAUSES] };
}

/// Counts one switch of the calling thread. Async-signal-safe: atomics and a const
/// thread-local, no allocation, no lock.
pub(crate) fn record(cause: Cause) {
    PROCESS[cause.index()].fetch_add(1, Ordering::Relaxed);
    // try_with: never panics, even while the thread is being torn down.
    let _ = THREAD.try_with(|t| {
        let c = &t[cause.index()];
        c.set(c.get() + 1);
    });
}

/// Warned stage switches of every thread of the process so far.
pub fn switches() -> StageSwitches {
    let mut s = StageSwitches::default();
    for (i, v) in s.by_cause.iter_mut().enumerate() {
        *v = PROCESS[i].load(Ordering::Relaxed);
    }
    s
}

/// Warned stage switches of the calling thread so far (over all its attachments).
pub fn thread_switches() -> StageSwitches {
    let mut s = StageSwitches::default();
    THREAD.with(|t| {
        for (i, v) in s.by_cause.iter_mut().enumerate() {
            *v = t[i].get();
        }
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_map_from_the_core_codes_and_count_per_thread() {
        assert_eq!(Cause::from_diag(2), Cause::Syscall);
        assert_eq!(Cause::from_diag(9), Cause::Overrun);
        assert_eq!(Cause::from_diag(0), Cause::Other);
        assert_eq!(Cause::from_diag(77), Cause::Other);
        for (i, c) in Cause::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        let before = switches();
        let mine = thread_switches();
        record(Cause::Syscall);
        record(Cause::Syscall);
        record(Cause::Fault);
        let d = thread_switches().since(&mine);
        assert_eq!(d.get(Cause::Syscall), 2);
        assert_eq!(d.get(Cause::Fault), 1);
        assert_eq!(d.total(), 3);
        assert_eq!(d.to_string(), "3 in-band switch(es): Syscall 2, Fault 1");
        assert!(switches().since(&before).get(Cause::Syscall) >= 2);
        // Another thread's counts are its own.
        std::thread::spawn(|| assert_eq!(thread_switches().total(), 0))
            .join()
            .unwrap();
    }
}
