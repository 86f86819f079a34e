//! Process-level calls the upper layers need, kept here so that evl-core stays the only
//! crate that makes system calls: fd flags and the termination signals.

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, BorrowedFd};

/// SIGINT (Ctrl-C).
pub const SIGINT: i32 = libc::SIGINT;
/// SIGTERM (polite kill).
pub const SIGTERM: i32 = libc::SIGTERM;

/// Sets `O_NONBLOCK` on `fd`'s open file description (a no-op when already set).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    const OP: &str = "process::set_nonblocking";
    // SAFETY: F_GETFL on a valid fd (borrowed for this call) reads its status flags.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(Error::last_os_error(
            OP,
            "cannot read the fd's status flags",
        ));
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Ok(());
    }
    // SAFETY: F_SETFL on a valid fd with its own flags plus O_NONBLOCK; no memory is passed.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } != 0 {
        return Err(Error::last_os_error(OP, "cannot make the fd non-blocking"));
    }
    Ok(())
}

/// Routes SIGINT and SIGTERM to `handler` (with SA_RESTART). The handler must restrict
/// itself to async-signal-safe work (atomics, [`crate::Doorbell::ring`],
/// [`restore_default_signal`]).
pub fn on_terminate_signals(handler: extern "C" fn(i32)) -> Result<()> {
    for sig in [SIGINT, SIGTERM] {
        // SAFETY: a fully initialised sigaction (zeroed, then handler, empty mask, flags);
        // what the handler does is the caller's contract.
        let rc = unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, core::ptr::null_mut())
        };
        if rc != 0 {
            return Err(Error::last_os_error(
                "process::on_terminate_signals",
                "cannot install the signal handler",
            ));
        }
    }
    Ok(())
}

/// Restores the default action of `sig` (so the next one ends the process).
/// Async-signal-safe.
pub fn restore_default_signal(sig: i32) {
    // SAFETY: signal() with SIG_DFL touches no memory of ours and is async-signal-safe.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn set_nonblocking_sets_the_flag_once() {
        let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
        set_nonblocking(r.as_fd()).unwrap();
        // SAFETY: F_GETFL on a valid fd.
        let flags = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETFL) };
        assert!(flags & libc::O_NONBLOCK != 0);
        set_nonblocking(r.as_fd()).unwrap();
    }
}
