//! [`RawLock`]: a one-word lock for short critical sections over memory that any thread may
//! touch. It needs no element, no allocation and no set-up (`const fn new`), so it can live
//! in a `static` or in a `const`-constructed type, and any thread may take it, attached to
//! the core or not.
//!
//! | | host backend | EVL backend |
//! |---|---|---|
//! | [`try_lock`](RawLock::try_lock), uncontended [`lock`](RawLock::lock), [`unlock`](RawLock::unlock) | one compare-and-swap, no system call | the same |
//! | contended `lock` | `FUTEX_LOCK_PI`: sleeps in the kernel, which boosts the holder to the waiter's priority until it unlocks | sleeps in short steps (2 µs doubling to 100 µs) until the lock is free: out-of-band on the core's clock for an attached thread (no stage switch), in-band for a plain thread |
//! | `unlock` while a thread sleeps on it | `FUTEX_UNLOCK_PI`: the kernel hands the lock over | never happens |
//!
//! The word holds the holder's kernel thread id (0 when free): the `FUTEX_LOCK_PI` protocol.
//! On the EVL backend nothing ever sleeps in the kernel on the word (an attached thread must
//! not make that in-band call), so there is no priority inheritance there: a holder preempted
//! by middle-priority threads delays a higher-priority thread that waits for the lock. Keep
//! the critical sections to a few memory operations, and use it for the rare, contended
//! slow path of a structure whose common paths are lock-free; for data shared only by
//! attached threads that needs priority inheritance on the core, use [`crate::Mutex`].
//!
//! Never spin on the lock: under SCHED_FIFO a waiter spinning on a CPU where the holder was
//! preempted spins forever, and on the EVL core an out-of-band thread spinning on its CPU
//! keeps the whole in-band stage (and so a plain holder) from running.

use crate::backend::host::sys::{PiLock, Scope};
use crate::backend::{self, Backend};
use crate::time::Clock;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

/// A lock in one 32-bit word; see the [module docs](self). Not recursive. It guards no data
/// of its own: keep the guarded data beside it and argue its accesses by the lock.
#[derive(Debug, Default)]
pub struct RawLock {
    word: AtomicU32,
}

/// The first and the longest sleep of a contended `lock` on the EVL backend.
const FIRST_STEP: Duration = Duration::from_micros(2);
const LAST_STEP: Duration = Duration::from_micros(100);

impl RawLock {
    /// A free lock.
    pub const fn new() -> Self {
        RawLock {
            word: AtomicU32::new(0),
        }
    }

    fn pi(&self) -> PiLock<'_> {
        PiLock::new(&self.word, Scope::Process)
    }

    /// Takes the lock if it is free (one compare-and-swap, Acquire). Never blocks; async-signal
    /// safe. Returns false also when the calling thread holds it already.
    pub fn try_lock(&self) -> bool {
        self.pi().try_lock()
    }

    /// Takes the lock, waiting as long as it takes (see the [module docs](self) for how).
    ///
    /// # Panics
    /// When the calling thread holds the lock already (it would wait for itself forever).
    pub fn lock(&self) {
        if self.try_lock() {
            return;
        }
        if self.pi().is_owned_by_me() {
            panic!("RawLock::lock: this thread holds the lock already (it is not recursive)");
        }
        match backend::current() {
            Ok(Backend::Evl) => self.lock_in_steps(true),
            _ => {
                if self.pi().lock(None, "RawLock::lock").is_err() {
                    // A kernel without PI futexes (or a confused owner word): still correct,
                    // just without priority inheritance.
                    self.lock_in_steps(false);
                }
            }
        }
    }

    /// Retries `try_lock`, sleeping between tries on the caller's stage.
    fn lock_in_steps(&self, evl: bool) {
        let mut step = FIRST_STEP;
        while !self.try_lock() {
            let now = Clock::Monotonic.now();
            let until = now.saturating_add(step);
            let slept = evl
                && crate::thread::types::is_attached()
                && Clock::Monotonic.sleep_until(until).is_ok();
            if !slept {
                std::thread::sleep(step);
            }
            step = (step * 2).min(LAST_STEP);
        }
    }

    /// Releases the lock (Release): one compare-and-swap, or on the host, when a thread sleeps
    /// on it, one `FUTEX_UNLOCK_PI`. Async-signal safe.
    ///
    /// # Safety
    /// The calling thread holds the lock (it took it with [`try_lock`](RawLock::try_lock) or
    /// [`lock`](RawLock::lock) and has not released it since). Unlocking a lock another thread
    /// holds would let two threads into the critical section.
    pub unsafe fn unlock(&self) {
        self.pi().unlock();
    }

    /// Whether some thread holds the lock now (a hint: it may change at once).
    pub fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn try_lock_excludes_until_unlock() {
        let l = RawLock::new();
        assert!(!l.is_locked());
        assert!(l.try_lock());
        assert!(l.is_locked());
        assert!(!l.try_lock(), "not recursive");
        let l = Arc::new(l);
        let l2 = l.clone();
        assert!(
            !std::thread::spawn(move || l2.try_lock()).join().unwrap(),
            "held by another thread"
        );
        // SAFETY: this thread took it above.
        unsafe { l.unlock() };
        assert!(!l.is_locked());
        l.lock();
        // SAFETY: just taken.
        unsafe { l.unlock() };
    }

    #[test]
    #[should_panic(expected = "holds the lock already")]
    fn locking_twice_from_one_thread_panics() {
        static L: RawLock = RawLock::new();
        L.lock();
        L.lock();
    }

    /// Many threads increment a plain counter under the lock: no increment is lost, which
    /// only mutual exclusion guarantees (the increments are split load / store).
    #[test]
    fn contended_lock_is_mutually_exclusive() {
        struct Shared {
            lock: RawLock,
            count: core::cell::UnsafeCell<u64>,
            inside: AtomicUsize,
        }
        // SAFETY: `count` is only touched under `lock`.
        unsafe impl Sync for Shared {}
        const THREADS: usize = 4;
        const ROUNDS: u64 = 20_000;
        let s = Arc::new(Shared {
            lock: RawLock::new(),
            count: core::cell::UnsafeCell::new(0),
            inside: AtomicUsize::new(0),
        });
        let ts: Vec<_> = (0..THREADS)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for k in 0..ROUNDS {
                        if (k + i as u64) % 2 == 0 {
                            s.lock.lock();
                        } else {
                            while !s.lock.try_lock() {
                                std::thread::yield_now();
                            }
                        }
                        assert_eq!(s.inside.fetch_add(1, Ordering::SeqCst), 0, "two inside");
                        // SAFETY: under the lock.
                        unsafe {
                            let v = core::ptr::read_volatile(s.count.get());
                            core::ptr::write_volatile(s.count.get(), v + 1);
                        }
                        s.inside.fetch_sub(1, Ordering::SeqCst);
                        // SAFETY: taken above by this thread.
                        unsafe { s.lock.unlock() };
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        // SAFETY: every thread is done.
        assert_eq!(unsafe { *s.count.get() }, THREADS as u64 * ROUNDS);
        assert!(!s.lock.is_locked());
    }
}
