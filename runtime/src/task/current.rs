//! The task being polled on this thread, and the deadline functions that act on it.

use super::raw::Header;
use core::sync::atomic::Ordering::Relaxed;

thread_local! {
    /// The task being polled on this thread (null outside polls).
    static CURRENT_TASK: core::cell::Cell<*const Header> = const { core::cell::Cell::new(core::ptr::null()) };
}

/// Marks `h` as the task being polled until the guard drops.
pub(crate) struct Polling(*const Header);

impl Polling {
    pub(crate) fn enter(h: *const Header) -> Polling {
        Polling(CURRENT_TASK.with(|c| c.replace(h)))
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        CURRENT_TASK.with(|c| c.set(self.0));
    }
}

fn with_current_task<R>(f: impl FnOnce(&Header) -> R) -> Option<R> {
    let p = CURRENT_TASK.with(core::cell::Cell::get);
    // SAFETY: CURRENT_TASK is non-null only during the poll of that task, which holds a
    // reference to it.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// Sets the current task's deadline: on an executor built with EDF order
/// ([`ExecutorConfig::edf`](crate::ExecutorConfig::edf)) the runnable task with the earliest deadline runs
/// first, and a poll that starts after its task's deadline is counted
/// ([`Stats::late_polls`](crate::Stats::late_polls)). Returns false outside a task.
pub fn set_deadline(deadline: crate::time::Instant) -> bool {
    with_current_task(|h| h.deadline.store(deadline.as_nanos().max(1), Relaxed)).is_some()
}

/// Clears the current task's deadline (it then runs after every task that has one).
/// Returns false outside a task.
pub fn clear_deadline() -> bool {
    with_current_task(|h| h.deadline.store(0, Relaxed)).is_some()
}

/// The current task's deadline, if it is in a task and has one.
pub fn deadline() -> Option<crate::time::Instant> {
    with_current_task(|h| h.deadline.load(Relaxed))
        .filter(|&d| d != 0)
        .map(|d| crate::time::Instant::from_timestamp(crate::core::Timestamp::from_nanos(d)))
}
