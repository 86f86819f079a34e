//! Clean shutdown: SIGINT/SIGTERM (or [`request`]) set a process-wide flag that tasks can
//! check ([`is_requested`]) or await ([`requested`]).
//!
//! The first SIGINT/SIGTERM requests a graceful shutdown and restores the default action, so
//! a second one ends the process at once. Requesting is async-signal-safe: an atomic store
//! and one `write(2)` to a doorbell that every awaiting executor watches.

use crate::core::{Doorbell, Result};
use crate::readable::Readable;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static BELL: OnceLock<Doorbell> = OnceLock::new();

fn bell() -> Result<&'static Doorbell> {
    if let Some(b) = BELL.get() {
        return Ok(b);
    }
    // Made before get_or_init so that failure is an error, not a panic; a racing thread's
    // extra bell is simply dropped.
    let fresh = Doorbell::new()?;
    let b = BELL.get_or_init(|| fresh);
    if REQUESTED.load(SeqCst) {
        b.ring(); // requested before the bell existed
    }
    Ok(b)
}

/// Makes the process's shutdown bell now (executors call it when they are built), so that
/// the first [`requested`] awaited on a real-time thread creates nothing there.
pub(crate) fn prepare() -> Result<()> {
    bell().map(|_| ())
}

/// Asks every task to wind down (also what SIGINT/SIGTERM do). Async-signal-safe: an atomic
/// store, a lock-free look at the bell, and at most one `write(2)`.
pub fn request() {
    REQUESTED.store(true, SeqCst);
    if let Some(b) = BELL.get() {
        b.ring();
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
    let b = bell()?;
    let fd = b.as_fd().as_raw_fd();
    // The bell is never drained: once rung it stays readable for every waiter that looks.
    let r = Readable::new(fd).await;
    // But the EVL core wakes one sleeping poller per post: each waiter that saw it rings
    // once more, so every executor sleeping on it wakes in turn.
    b.ring();
    r
}

extern "C" fn on_signal(sig: i32) {
    request();
    crate::core::process::restore_default_signal(sig);
}

/// Routes SIGINT and SIGTERM to [`request`] (once; later calls do nothing).
pub fn install_signal_handlers() -> Result<()> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    bell()?;
    if INSTALLED.swap(true, SeqCst) {
        return Ok(());
    }
    crate::core::process::on_terminate_signals(on_signal)
}
