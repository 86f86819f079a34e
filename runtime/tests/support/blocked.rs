//! Waiting, from another thread, until a thread is blocked in the kernel — the explicit
//! synchronisation that replaces "sleep 30 ms, it has parked by then".
//!
//! A thread's state in `/proc/self/task/<tid>/stat` is `S` while it sleeps in a blocking
//! system call. An executor thread whose tasks are all pending (and which touches no lock
//! meanwhile) has exactly one such call left to make: its reactor's wait. So once the test
//! has seen its task pending, `S` means the executor parked, on any machine, however slow.
//!
//! On the host backend only. On EVL a thread running out-of-band reads as `S` too (its
//! in-band side is dormant while the core runs it), so there `S` does not prove a park: a
//! test may use it to wait, never to assert that a wake found the executor parked.

use std::time::{Duration, Instant};

/// The calling thread's kernel id, for [`wait_until_blocked`].
pub fn tid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Whether thread `tid` of this process sleeps in the kernel (state `S`).
pub fn is_blocked(tid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S ...": the state follows the last ')' (comm may contain one).
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        == Some('S')
}

/// Returns once thread `tid` sleeps in the kernel. The bound only turns a hang into a
/// failure; a slow machine just takes longer.
pub fn wait_until_blocked(tid: libc::pid_t) {
    let start = Instant::now();
    while !is_blocked(tid) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "thread {tid} never blocked"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Whether [`wait_until_blocked`] proves a park, so that a test may assert a wake found the
/// executor parked: on the host only (see the module docs for EVL).
pub fn proves_parks() -> bool {
    evl::core::backend::current().is_ok_and(|b| b == evl::Backend::Host)
}
