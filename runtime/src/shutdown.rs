//! Clean shutdown: SIGINT/SIGTERM (or [`request`]) set a process-wide flag that tasks can
//! check ([`is_requested`]) or await ([`requested`]).
//!
//! The first SIGINT/SIGTERM requests a graceful shutdown and restores the default action, so
//! a second one ends the process at once. Requesting is async-signal-safe: an atomic store
//! and one `write(2)` to a doorbell that every awaiting executor watches.

use crate::core::{Doorbell, Result};
use crate::readable::Readable;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static BELL_FD: AtomicI32 = AtomicI32::new(-1);
static BELL: OnceLock<Doorbell> = OnceLock::new();

fn bell() -> Result<&'static Doorbell> {
    if let Some(b) = BELL.get() {
        return Ok(b);
    }
    let b = Doorbell::new()?;
    let b = BELL.get_or_init(|| b);
    BELL_FD.store(b.as_fd().as_raw_fd(), SeqCst);
    if REQUESTED.load(SeqCst) {
        b.ring(); // requested before the bell existed
    }
    Ok(b)
}

/// Asks every task to wind down (also what SIGINT/SIGTERM do). Async-signal-safe.
pub fn request() {
    REQUESTED.store(true, SeqCst);
    let fd = BELL_FD.load(SeqCst);
    if fd >= 0 {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `fd` is the static doorbell's eventfd, open for the whole process; write is
        // async-signal-safe and reads 8 bytes from `one`.
        unsafe { libc::write(fd, one.as_ptr().cast(), 8) };
    }
}

/// Whether shutdown was requested.
pub fn is_requested() -> bool {
    REQUESTED.load(SeqCst)
}

/// Completes when shutdown is requested (at once if it already was). Any number of tasks on
/// any executors may await it.
pub async fn requested() -> Result<()> {
    if is_requested() {
        return Ok(());
    }
    let fd = bell()?.as_fd().as_raw_fd();
    // The bell is never drained: once rung it stays readable for every waiter.
    Readable::new(fd).await
}

extern "C" fn on_signal(sig: libc::c_int) {
    request();
    // SAFETY: signal() with SIG_DFL is async-signal-safe; the next signal ends the process.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// Routes SIGINT and SIGTERM to [`request`] (once; later calls do nothing).
pub fn install_signal_handlers() -> Result<()> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    bell()?;
    if INSTALLED.swap(true, SeqCst) {
        return Ok(());
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only does async-signal-safe work (atomics, write, signal);
        // the sigaction struct is fully initialised.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            if libc::sigaction(sig, &sa, core::ptr::null_mut()) != 0 {
                return Err(crate::core::Error::last_os_error(
                    "evl::shutdown::install_signal_handlers",
                    "",
                ));
            }
        }
    }
    Ok(())
}
