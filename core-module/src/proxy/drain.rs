//! The one proxy drainer both backends use: a thread that copies our pipe (filled by the
//! host proxy's writers, or by the EVL core's relay) to the real target, counts what it
//! delivered, records the target's error, and on drop delivers what was accepted, giving up
//! on a target that takes nothing for [`DROP_GRACE_MS`]. `flush` waits on its progress word.

use crate::backend::host::sys::{self, futex_wait, futex_wake, Scope, Woken};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How much the drainer reads from its pipe at once.
const DRAIN_CHUNK: usize = 16 * 1024;
/// The drainer's writes to the target: at most this much at once (the largest write the
/// kernel keeps atomic on a pipe), so that a pipe target never keeps it from seeing a stop
/// request.
const TARGET_CHUNK: usize = libc::PIPE_BUF;
/// On drop, how long the target may take no bytes at all before the drainer gives up.
pub(crate) const DROP_GRACE_MS: libc::c_int = 1000;

/// What the drainer shares with the proxy's writers and flushers.
#[derive(Debug)]
pub(crate) struct Drain {
    /// Our pipe's read end (non-blocking). Kept here, alive while the proxy lives, so that
    /// writers (or the core's relay) never see EPIPE.
    rx: OwnedFd,
    /// An eventfd the owner signals on drop: the drainer switches to "deliver, then stop".
    stop: OwnedFd,
    /// What the drainer must deliver before it may stop (set before `stop` is signalled).
    goal: AtomicU64,
    /// Bytes written to the target by the drainer.
    delivered: AtomicU64,
    /// Bytes the writers could not place (counted by the backends).
    dropped: AtomicU64,
    /// Futex word bumped by the drainer on every delivery and when it stops.
    progress: AtomicU32,
    /// Threads waiting in `flush` (the drainer only wakes when there are some).
    flushers: AtomicU32,
    /// The errno that made the drainer stop delivering, 0 while it delivers.
    failed: AtomicI32,
}

impl Drain {
    /// Starts draining `rx` (our pipe's read end) into `target` (duplicated here) on a new
    /// thread.
    pub(crate) fn start(
        rx: OwnedFd,
        target: std::os::fd::BorrowedFd<'_>,
        op: &'static str,
    ) -> Result<(Arc<Drain>, JoinHandle<()>)> {
        let target = target.try_clone_to_owned().map_err(|e| {
            Error::from_errno(
                e.raw_os_error().unwrap_or(libc::EBADF),
                op,
                "cannot duplicate the target descriptor (descriptor limit reached?)",
            )
        })?;
        crate::process::set_nonblocking(rx.as_fd())?;
        // SAFETY: eventfd has no memory effects.
        let stop = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let stop = sys::owned_fd(stop, op, "cannot create an eventfd (descriptor limit?)")?;
        let d = Arc::new(Drain {
            rx,
            stop,
            goal: AtomicU64::new(u64::MAX),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            progress: AtomicU32::new(0),
            flushers: AtomicU32::new(0),
            failed: AtomicI32::new(0),
        });
        let st = d.clone();
        let t = spawn(move || st.run(target), op)?;
        Ok((d, t))
    }

    /// The target's error once the drainer stopped on it (`write` reports it).
    pub(crate) fn check(&self, op: &'static str) -> Result<()> {
        match self.failed.load(Ordering::Acquire) {
            0 => Ok(()),
            e => Err(Error::from_errno(
                e,
                op,
                "the proxy's target failed (reader gone?); the proxy delivers nothing more",
            )),
        }
    }

    /// Counts `n` bytes the writers dropped.
    pub(crate) fn add_dropped(&self, n: usize) {
        if n > 0 {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Bytes the writers dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until the drainer delivered `goal()` bytes (read again at each wake: a backend
    /// may lower it), the target failed, or `deadline` passed.
    pub(crate) fn flush(&self, goal: impl Fn() -> u64, deadline: Option<Timestamp>) -> Result<()> {
        const OP: &str = "Proxy::flush";
        self.flushers.fetch_add(1, Ordering::SeqCst);
        let r = loop {
            let seq = self.progress.load(Ordering::SeqCst);
            if self.delivered.load(Ordering::SeqCst) >= goal() {
                break Ok(());
            }
            let failed = self.failed.load(Ordering::SeqCst);
            if failed != 0 {
                break Err(Error::from_errno(
                    failed,
                    OP,
                    "the proxy's target failed (reader gone?); the rest was not delivered",
                ));
            }
            if futex_wait(&self.progress, seq, deadline, Scope::Process) == Woken::TimedOut {
                break Err(Error::new(
                    ErrorKind::TimedOut,
                    OP,
                    "the target did not take every accepted byte before the deadline",
                ));
            }
        };
        self.flushers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Asks the drainer to deliver `goal` bytes in all, then stop (or stop at end of file,
    /// or once the target took nothing for [`DROP_GRACE_MS`]).
    pub(crate) fn stop(&self, goal: u64) {
        self.goal.store(goal, Ordering::SeqCst);
        let one = 1u64.to_ne_bytes();
        // A full eventfd counter is still readable: the request is seen either way.
        let _ = sys::write_nb(self.stop.as_fd(), &one, "Proxy::drop");
    }

    fn bump(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
        if self.flushers.load(Ordering::SeqCst) > 0 {
            futex_wake(&self.progress, i32::MAX, Scope::Process);
        }
    }

    /// The drainer: our pipe -> target, until end of file, a failure, or (once stopping)
    /// everything asked for was delivered or nothing moved for `DROP_GRACE_MS`.
    fn run(&self, target: OwnedFd) {
        let mut buf = [0u8; DRAIN_CHUNK];
        let mut stopping = false;
        let stop_fd = |stopping: bool| if stopping { -1 } else { self.stop.as_raw_fd() };
        'outer: loop {
            if stopping && self.delivered.load(Ordering::SeqCst) >= self.goal.load(Ordering::SeqCst)
            {
                break;
            }
            let timeout = if stopping { DROP_GRACE_MS } else { -1 };
            let Some((rin, rstop)) = poll2(
                (self.rx.as_raw_fd(), libc::POLLIN),
                (stop_fd(stopping), libc::POLLIN),
                timeout,
            ) else {
                break; // stopping, and nothing came for the grace period
            };
            if rstop != 0 {
                stopping = true;
            }
            if rin == 0 {
                continue;
            }
            // SAFETY: `buf` is valid for writes of its length for the whole call.
            let n = unsafe { libc::read(self.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let n = match n {
                0 => break, // every writer (or the element) is gone and the pipe is empty
                n if n > 0 => n as usize,
                _ => match errno() {
                    libc::EINTR | libc::EAGAIN => continue,
                    e => {
                        self.failed.store(e, Ordering::SeqCst);
                        break;
                    }
                },
            };
            let mut off = 0;
            while off < n {
                let timeout = if stopping { DROP_GRACE_MS } else { -1 };
                let Some((rout, rstop)) = poll2(
                    (target.as_raw_fd(), libc::POLLOUT),
                    (stop_fd(stopping), libc::POLLIN),
                    timeout,
                ) else {
                    break 'outer; // stopping, and the target took nothing for the grace period
                };
                if rstop != 0 {
                    stopping = true;
                }
                if rout == 0 {
                    continue;
                }
                let len = (n - off).min(TARGET_CHUNK);
                // SAFETY: `buf[off..off + len]` is initialised and valid for reads of `len`
                // bytes.
                let w = unsafe { libc::write(target.as_raw_fd(), buf[off..].as_ptr().cast(), len) };
                if w > 0 {
                    off += w as usize;
                    self.delivered.fetch_add(w as u64, Ordering::SeqCst);
                    self.bump();
                    continue;
                }
                let e = if w == 0 { libc::EIO } else { errno() };
                if e == libc::EAGAIN || e == libc::EINTR {
                    continue;
                }
                self.failed.store(e, Ordering::SeqCst);
                break 'outer;
            }
        }
        self.bump();
    }
}

/// Starts a drainer thread running `f`, with every signal blocked (signals belong to the
/// application's threads) and a stack sized for its [`DRAIN_CHUNK`] buffer.
fn spawn(f: impl FnOnce() + Send + 'static, op: &'static str) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("evl-proxy".into())
        .stack_size(64 * 1024 + DRAIN_CHUNK)
        .spawn(move || {
            block_signals();
            f()
        })
        .map_err(|e| {
            Error::from_errno(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
                op,
                "cannot start the proxy's drainer thread (thread or memory limit reached?)",
            )
        })
}

/// `poll` on up to two descriptors (a negative one is ignored); returns the revents or
/// `None` on timeout. Retries on EINTR.
fn poll2(a: (RawFd, i16), b: (RawFd, i16), timeout: libc::c_int) -> Option<(i16, i16)> {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: a.0,
                events: a.1,
                revents: 0,
            },
            libc::pollfd {
                fd: b.0,
                events: b.1,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfds for the whole call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        match rc {
            0 => return None,
            n if n > 0 => return Some((fds[0].revents, fds[1].revents)),
            _ => continue, // EINTR
        }
    }
}

/// Blocks every signal in the calling thread: signal handlers run on the application's
/// threads, and a write to a broken pipe target makes EPIPE without killing the process.
fn block_signals() {
    let mut set = core::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set it is given; pthread_sigmask reads it and may
    // write the old mask, for which null is allowed.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), core::ptr::null_mut());
    }
}
