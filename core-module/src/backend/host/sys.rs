//! Thin, documented wrappers over the Linux calls the host backend is made of: futexes
//! (plain and priority-inheriting), the calling thread's id, and small fd helpers.

use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::types::{Clock, Timestamp};
use std::cell::Cell;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether a futex word lives in memory shared with other processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Private to this process: the kernel may use the cheaper private hash.
    Process,
    /// In a `MAP_SHARED` mapping other processes see.
    Shared,
}

impl Scope {
    fn flag(self) -> libc::c_int {
        match self {
            Scope::Process => libc::FUTEX_PRIVATE_FLAG,
            Scope::Shared => 0,
        }
    }
}

/// Why a futex wait returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Woken, or the word no longer held the expected value, or a spurious wakeup: recheck.
    Recheck,
    /// The absolute deadline passed.
    TimedOut,
    /// A signal handler ran.
    Interrupted,
}

/// Waits while `*word == expected`, until woken or until the absolute monotonic `deadline`.
pub(crate) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<Timestamp>,
    scope: Scope,
) -> Woken {
    let ts = deadline.map(|d| d.to_timespec());
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 for the whole call; `ts_ptr` is null or points to a
    // timespec that outlives the call. FUTEX_WAIT_BITSET with MATCH_ANY takes an absolute
    // CLOCK_MONOTONIC timeout and touches no other memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | scope.flag(),
            expected,
            ts_ptr,
            core::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if rc == 0 {
        return Woken::Recheck;
    }
    match errno() {
        libc::ETIMEDOUT => Woken::TimedOut,
        libc::EINTR => Woken::Interrupted,
        _ => Woken::Recheck, // EAGAIN: the word changed before we slept.
    }
}

/// Wakes up to `n` waiters of `word`.
pub(crate) fn futex_wake(word: &AtomicU32, n: i32, scope: Scope) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live and aligned.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | scope.flag(),
            n,
        );
    }
}

thread_local! {
    static TID: Cell<u32> = const { Cell::new(0) };
}

/// The calling thread's kernel id (cached after the first call).
pub(crate) fn gettid() -> u32 {
    TID.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        t.set(tid);
        tid
    })
}

const FUTEX_LOCK_PI2: libc::c_int = 13;

/// A priority-inheriting lock on a futex word holding the owner's tid (0 when free), the
/// protocol of `FUTEX_LOCK_PI`: uncontended lock and unlock are one compare-and-swap each, no
/// system call; a contended one lets the kernel boost the owner, which a SCHED_FIFO system
/// needs to bound priority inversion.
#[derive(Debug)]
pub(crate) struct PiLock<'a> {
    word: &'a AtomicU32,
    scope: Scope,
}

impl<'a> PiLock<'a> {
    pub(crate) fn new(word: &'a AtomicU32, scope: Scope) -> Self {
        PiLock { word, scope }
    }

    /// Whether the calling thread owns the lock.
    pub(crate) fn is_owned_by_me(&self) -> bool {
        self.word.load(Ordering::Relaxed) & libc::FUTEX_TID_MASK == gettid()
    }

    /// Takes the lock without blocking.
    pub(crate) fn try_lock(&self) -> bool {
        self.word
            .compare_exchange(0, gettid(), Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, blocking until the absolute monotonic `deadline` at most.
    pub(crate) fn lock(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<()> {
        if self.try_lock() {
            return Ok(());
        }
        if self.is_owned_by_me() {
            return Err(Error::new(
                ErrorKind::Deadlock,
                op,
                "this thread already holds the lock",
            ));
        }
        loop {
            let rc = self.lock_pi_syscall(deadline);
            if rc == 0 {
                return Ok(());
            }
            match errno() {
                libc::EINTR | libc::EAGAIN => continue,
                e => {
                    return Err(Error::from_errno(e, op, ""));
                }
            }
        }
    }

    fn lock_pi_syscall(&self, deadline: Option<Timestamp>) -> libc::c_long {
        let ts = deadline.map(|d| d.to_timespec());
        let ts_ptr = ts
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a live, aligned futex word; `ts_ptr` is null or valid for the call.
        // FUTEX_LOCK_PI2 takes an absolute CLOCK_MONOTONIC timeout (Linux 5.14+).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                FUTEX_LOCK_PI2 | self.scope.flag(),
                0,
                ts_ptr,
            )
        };
        if rc == 0 || errno() != libc::ENOSYS {
            return rc;
        }
        // Kernels before 5.14: FUTEX_LOCK_PI measures its timeout on CLOCK_REALTIME.
        let rt = deadline.map(|d| {
            let now_mono = Clock::Monotonic.now();
            Clock::Realtime
                .now()
                .saturating_add(d.saturating_duration_since(now_mono))
                .to_timespec()
        });
        let rt_ptr = rt
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a live, aligned futex word; `rt_ptr` is null or points to `rt`, a
        // timespec alive for the call (FUTEX_LOCK_PI reads it as a CLOCK_REALTIME deadline).
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_LOCK_PI | self.scope.flag(),
                0,
                rt_ptr,
            )
        }
    }

    /// Releases the lock; the caller must own it.
    pub(crate) fn unlock(&self) {
        let me = gettid();
        if self
            .word
            .compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        // Waiters queued in the kernel: it hands the lock to the highest-priority one.
        // SAFETY: `word` is a live, aligned futex word that this thread owns.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_UNLOCK_PI | self.scope.flag(),
            );
        }
    }
}

/// Takes ownership of a raw fd a successful system call just returned, or reports `errno`.
pub(crate) fn owned_fd(rc: RawFd, op: &'static str, hint: &'static str) -> Result<OwnedFd> {
    if rc < 0 {
        return Err(Error::last_os_error(op, hint));
    }
    // SAFETY: `rc` is a fresh descriptor returned by the kernel and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// Waits until `fd` reports one of `events`, or fails with [`ErrorKind::TimedOut`] (with
/// `timeout_hint`) once the absolute monotonic `deadline` has passed. A wait interrupted by
/// a signal resumes; a relative ppoll timeout that ends a hair early is resumed too (the
/// clock decides, never the rounding).
pub(crate) fn wait_ready(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    deadline: Option<Timestamp>,
    op: &'static str,
    timeout_hint: &'static str,
) -> Result<()> {
    loop {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        let rel = deadline.map(|d| {
            crate::time::types::duration_to_timespec(
                d.saturating_duration_since(Clock::Monotonic.now()),
            )
        });
        let rel_ptr = rel
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: one valid pollfd, a null-or-valid timeout, no signal mask change.
        let rc = unsafe { libc::ppoll(&mut pfd, 1, rel_ptr, core::ptr::null()) };
        match rc {
            n if n > 0 => return Ok(()),
            0 => {
                if deadline.is_some_and(|d| Clock::Monotonic.now() >= d) {
                    return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
                }
            }
            _ => {
                let e = errno();
                if e != libc::EINTR {
                    return Err(Error::from_errno(e, op, ""));
                }
            }
        }
    }
}

/// A pipe `(read end, write end)`, close-on-exec, with extra `flags` (e.g. `O_NONBLOCK`).
pub(crate) fn pipe(flags: libc::c_int, op: &'static str) -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | flags) };
    if rc != 0 {
        return Err(Error::last_os_error(
            op,
            "cannot create a pipe: the descriptor limit (ulimit -n) may be reached",
        ));
    }
    let rx = owned_fd(fds[0], op, "")?;
    let tx = owned_fd(fds[1], op, "")?;
    Ok((rx, tx))
}

/// Sizes a pipe (or FIFO) to at least `capacity` bytes; returns the size the kernel chose.
pub(crate) fn size_pipe(fd: BorrowedFd<'_>, capacity: usize, op: &'static str) -> Result<usize> {
    let want = libc::c_int::try_from(capacity).map_err(|_| {
        Error::new(
            ErrorKind::CapacityExceeded,
            op,
            "buffer size too large: a pipe-backed buffer holds at most 2 GiB (and, unprivileged, \
             /proc/sys/fs/pipe-max-size)",
        )
    })?;
    // SAFETY: F_SETPIPE_SZ takes an int argument and only changes the pipe's buffer.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
    if rc < 0 {
        let e = crate::error::errno();
        return Err(match e {
            libc::EPERM | libc::ENOMEM | libc::EINVAL => Error::new(
                ErrorKind::CapacityExceeded,
                op,
                "cannot size the buffer: above /proc/sys/fs/pipe-max-size (1 MiB by default) or \
                 the per-user pipe quota; use a smaller size or raise those limits",
            ),
            _ => Error::from_errno(e, op, "cannot size the pipe buffer"),
        });
    }
    Ok(rc as usize)
}

/// Reads into `buf` without blocking (the fd must be O_NONBLOCK). `Ok(0)` means end of file.
pub(crate) fn read_nb(fd: BorrowedFd<'_>, buf: &mut [u8], op: &'static str) -> Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(Error::last_os_error(op, ""))
    } else {
        Ok(n as usize)
    }
}

/// Writes `buf` without blocking (the fd must be O_NONBLOCK); returns the bytes written.
pub(crate) fn write_nb(fd: BorrowedFd<'_>, buf: &[u8], op: &'static str) -> Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(Error::last_os_error(op, ""))
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn pi_lock_excludes_and_detects_self_deadlock() {
        let word = Arc::new(AtomicU32::new(0));
        let lock = PiLock::new(&word, Scope::Process);
        lock.lock(None, "t").unwrap();
        assert!(lock.is_owned_by_me());
        assert_eq!(
            lock.lock(None, "t").unwrap_err().kind(),
            ErrorKind::Deadlock
        );
        let w2 = word.clone();
        // The lock is held until the other thread has seen it time out: no sleep decides
        // the order, so a slow machine cannot let it take the lock first.
        let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t_out = timed_out.clone();
        let t = std::thread::spawn(move || {
            let l = PiLock::new(&w2, Scope::Process);
            assert!(!l.try_lock());
            let d = Clock::Monotonic
                .now()
                .saturating_add(core::time::Duration::from_millis(20));
            assert_eq!(
                l.lock(Some(d), "t").unwrap_err().kind(),
                ErrorKind::TimedOut
            );
            t_out.store(true, Ordering::SeqCst);
            l.lock(None, "t").unwrap();
            l.unlock();
        });
        while !timed_out.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        lock.unlock();
        t.join().unwrap();
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }
}
