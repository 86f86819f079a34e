//! Poll sets on the host backend: an epoll set.

use super::types::{PollEvent, PollFlags};
use crate::backend::host::sys;
use crate::error::{errno, Error, Result};
use crate::thread::types::require_attached;
use crate::time::types::{duration_to_timespec, Clock, Timestamp};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicU32;

/// An epoll set. The host keeps the EVL core's rule: changes and waits need an attached
/// thread.
#[derive(Debug)]
pub(crate) struct PollSet {
    ep: OwnedFd,
}

impl PollSet {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: epoll_create1 has no memory effects.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        Ok(PollSet {
            ep: sys::owned_fd(
                fd,
                "PollSet::with_capacity",
                "cannot create an epoll set (descriptor limit?)",
            )?,
        })
    }

    fn ctl(
        &self,
        op_code: libc::c_int,
        fd: BorrowedFd<'_>,
        events: PollFlags,
        token: u64,
        op: &'static str,
    ) -> Result<()> {
        require_attached(op)?;
        let ep = &self.ep;
        let mut ev = libc::epoll_event {
            events: events.bits(),
            u64: token,
        };
        // SAFETY: valid epoll fd and target fd; `ev` is a valid epoll_event for the call.
        let rc = unsafe { libc::epoll_ctl(ep.as_raw_fd(), op_code, fd.as_raw_fd(), &mut ev) };
        if rc != 0 {
            let hint = match errno() {
                libc::EEXIST => "this fd is already in the set: use modify",
                libc::ENOENT => "this fd is not in the set: add it first",
                libc::EPERM => {
                    "this kind of fd cannot be polled (regular files and directories cannot)"
                }
                _ => "",
            };
            return Err(Error::last_os_error(op, hint));
        }
        Ok(())
    }

    pub(crate) fn add(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token, "PollSet::add")
    }

    pub(crate) fn modify(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token, "PollSet::modify")
    }

    pub(crate) fn remove(&self, fd: BorrowedFd<'_>) -> Result<()> {
        self.ctl(
            libc::EPOLL_CTL_DEL,
            fd,
            PollFlags::NONE,
            0,
            "PollSet::remove",
        )
    }

    /// `epoll_pwait2` until `deadline`: the number of entries written to `out` (not empty).
    pub(crate) fn wait(&self, out: &mut [PollEvent], deadline: Option<Timestamp>) -> Result<usize> {
        const OP: &str = "PollSet::wait";
        let ep = &self.ep;
        require_attached(OP)?;
        // epoll_event is packed on x86_64; gather into a stack batch then copy out. Not
        // initialised: the kernel writes the first `n` entries, and only those are read.
        const BATCH: usize = 64;
        let mut raw = [const { core::mem::MaybeUninit::<libc::epoll_event>::uninit() }; BATCH];
        let max = out.len().min(BATCH);
        let rel = deadline
            .map(|d| duration_to_timespec(d.saturating_duration_since(Clock::Monotonic.now())));
        let rel_ptr = rel
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `raw` has room for `max` events; `rel_ptr` is null or a valid timespec; a
        // null sigmask leaves the mask unchanged. epoll_pwait2 (Linux 5.11+) takes a
        // nanosecond relative timeout, so nothing is rounded to milliseconds.
        let mut n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                ep.as_raw_fd(),
                raw.as_mut_ptr().cast::<libc::epoll_event>(),
                max as libc::c_int,
                rel_ptr,
                core::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 && errno() == libc::ENOSYS {
            // Kernels before 5.11: millisecond timeout, rounded up so it never fires early.
            let ms = rel.map_or(-1, |t| {
                let ns = t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
                ((ns + 999_999) / 1_000_000).min(i32::MAX as i128) as libc::c_int
            });
            // SAFETY: `raw` is a live buffer of at least `max` epoll_event entries, writable for the
            // call, on an open epoll fd; the timeout is a plain integer (no pointer).
            n = unsafe {
                libc::epoll_wait(
                    ep.as_raw_fd(),
                    raw.as_mut_ptr().cast::<libc::epoll_event>(),
                    max as libc::c_int,
                    ms,
                )
            } as libc::c_long;
        }
        if n < 0 {
            return Err(Error::last_os_error(OP, ""));
        }
        let n = n as usize;
        for (o, r) in out.iter_mut().zip(raw.iter()).take(n) {
            // SAFETY: epoll_pwait2/epoll_wait returned `n`: the first `n` entries are written.
            let r = unsafe { r.assume_init_read() };
            let (events, token) = (r.events, r.u64);
            *o = PollEvent {
                token,
                ready: PollFlags::from_bits_retain(events),
            };
        }
        Ok(n)
    }

    /// A futex wait on `word` while it holds `expected`, until the absolute monotonic
    /// `deadline`; woken, timed out, interrupted or the word changed: all are `Ok` (the
    /// caller rechecks its word and the clock).
    pub(crate) fn park(
        &self,
        word: &AtomicU32,
        expected: u32,
        deadline: Option<Timestamp>,
    ) -> Result<()> {
        require_attached("PollSet::park")?;
        let _ = sys::futex_wait(word, expected, deadline, sys::Scope::Process);
        Ok(())
    }
}

/// Wakes a parked waiter of `word` (one `FUTEX_WAKE`, private).
pub(crate) fn unpark(word: &AtomicU32) {
    sys::futex_wake(word, 1, sys::Scope::Process);
}
