//! Host proxy: a pipe as the buffer, and a drainer thread that copies it to the target.
//!
//! Writers put bytes into the pipe's non-blocking write end (sized with `F_SETPIPE_SZ`); the
//! kernel keeps each non-blocking write contiguous and makes writes of up to `PIPE_BUF` bytes
//! all-or-nothing. A priority-inheriting lock orders the writers so that the `accepted`
//! counter always equals the length of the pipe's byte stream, which is what `flush` compares
//! with the drainer's `delivered` counter. The drainer blocks on the pipe, then on the target
//! (`poll` for writable, chunks of at most `PIPE_BUF` bytes, so a pipe target never blocks it
//! past a stop request), with every signal blocked so that a broken target raises no SIGPIPE.

use super::sys::{self, futex_wait, futex_wake, PiLock, Scope, Woken};
use crate::error::{Error, ErrorKind, Result};
use crate::proxy::ProxyWrite;
use crate::time::Timestamp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The largest write the kernel keeps atomic on a pipe; also the drainer's chunk size.
const PIPE_BUF: usize = libc::PIPE_BUF;
/// How much a proxy's drainer reads from its pipe at once (both backends' proxies).
pub(crate) const DRAIN_CHUNK: usize = 16 * 1024;
/// On drop, how long the target may take no bytes at all before a drainer gives up (both
/// backends' proxies).
pub(crate) const DROP_GRACE_MS: libc::c_int = 1000;

/// State shared by the writers, the flushers and the drainer.
#[derive(Debug)]
struct State {
    /// The pipe's read end (blocking). Kept here, not in the drainer, so that it stays open
    /// while any writer may run: writers never see EPIPE.
    rx: OwnedFd,
    /// An eventfd the owner signals on drop: the drainer switches to "deliver, then stop".
    stop: OwnedFd,
    /// Priority-inheriting lock word serialising writers.
    write_lock: AtomicU32,
    /// Bytes accepted into the pipe, in stream order (updated under `write_lock`).
    accepted: AtomicU64,
    /// Bytes written to the target by the drainer.
    delivered: AtomicU64,
    /// Bytes dropped because the pipe was full.
    dropped: AtomicU64,
    /// Futex word bumped by the drainer on every delivery and when it stops.
    progress: AtomicU32,
    /// Threads waiting in `flush` (the drainer only wakes when there are some).
    flushers: AtomicU32,
    /// The errno that made the drainer stop delivering, 0 while it delivers.
    failed: AtomicI32,
}

impl State {
    fn bump(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
        if self.flushers.load(Ordering::SeqCst) > 0 {
            futex_wake(&self.progress, i32::MAX, Scope::Process);
        }
    }
}

/// The host proxy.
#[derive(Debug)]
pub(crate) struct Proxy {
    state: Arc<State>,
    /// The pipe's write end (O_NONBLOCK); `None` once dropping.
    tx: Option<OwnedFd>,
    drainer: Option<JoinHandle<()>>,
    capacity: usize,
}

impl Proxy {
    pub(crate) fn new(target: BorrowedFd<'_>, capacity: usize) -> Result<Proxy> {
        const OP: &str = "Proxy::new";
        let target = target.try_clone_to_owned().map_err(|e| {
            Error::from_errno(
                e.raw_os_error().unwrap_or(libc::EBADF),
                OP,
                "cannot duplicate the target descriptor (descriptor limit reached?)",
            )
        })?;
        let (rx, tx) = sys::pipe(0, OP)?;
        let capacity = sys::size_pipe(tx.as_fd(), capacity, OP)?;
        // SAFETY: F_SETFL with an int flag word on a descriptor we own.
        if unsafe { libc::fcntl(tx.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
            return Err(Error::last_os_error(
                OP,
                "cannot make the proxy's pipe non-blocking",
            ));
        }
        // SAFETY: eventfd has no memory effects.
        let stop = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let stop = sys::owned_fd(stop, OP, "cannot create an eventfd (descriptor limit?)")?;
        let state = Arc::new(State {
            rx,
            stop,
            write_lock: AtomicU32::new(0),
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            progress: AtomicU32::new(0),
            flushers: AtomicU32::new(0),
            failed: AtomicI32::new(0),
        });
        let st = state.clone();
        let drainer = spawn_drainer(move || drain(&st, target), OP)?;
        Ok(Proxy {
            state,
            tx: Some(tx),
            drainer: Some(drainer),
            capacity,
        })
    }

    fn tx(&self) -> BorrowedFd<'_> {
        self.tx
            .as_ref()
            .expect("the write end lives until drop")
            .as_fd()
    }

    pub(crate) fn write(&self, buf: &[u8]) -> Result<ProxyWrite> {
        const OP: &str = "Proxy::write";
        let st = &*self.state;
        let failed = st.failed.load(Ordering::Acquire);
        if failed != 0 {
            return Err(Error::from_errno(
                failed,
                OP,
                "the proxy's target failed (reader gone?); the proxy delivers nothing more",
            ));
        }
        if buf.is_empty() {
            return Ok(ProxyWrite::default());
        }
        let lock = PiLock::new(&st.write_lock, Scope::Process);
        lock.lock(None, OP)?;
        let r = loop {
            match sys::write_nb(self.tx(), buf, OP) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(0),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        if let Ok(n) = r {
            st.accepted.fetch_add(n as u64, Ordering::SeqCst);
        }
        lock.unlock();
        let written = r?;
        let dropped = buf.len() - written;
        if dropped > 0 {
            st.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        Ok(ProxyWrite { written, dropped })
    }

    pub(crate) fn flush(&self, deadline: Option<Timestamp>) -> Result<()> {
        const OP: &str = "Proxy::flush";
        let st = &*self.state;
        let goal = st.accepted.load(Ordering::SeqCst);
        st.flushers.fetch_add(1, Ordering::SeqCst);
        let r = loop {
            let seq = st.progress.load(Ordering::SeqCst);
            if st.delivered.load(Ordering::SeqCst) >= goal {
                break Ok(());
            }
            let failed = st.failed.load(Ordering::SeqCst);
            if failed != 0 {
                break Err(Error::from_errno(
                    failed,
                    OP,
                    "the proxy's target failed (reader gone?); the rest was not delivered",
                ));
            }
            if futex_wait(&st.progress, seq, deadline, Scope::Process) == Woken::TimedOut {
                break Err(Error::new(
                    ErrorKind::TimedOut,
                    OP,
                    "the target did not take every accepted byte before the deadline",
                ));
            }
        };
        st.flushers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn write_fd(&self) -> BorrowedFd<'_> {
        self.tx()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let one = 1u64.to_ne_bytes();
        // Ask the drainer to give up on a target that stops taking bytes ...
        let _ = sys::write_nb(self.state.stop.as_fd(), &one, "Proxy::drop");
        // ... and let it see end-of-file once it has read everything accepted.
        drop(self.tx.take());
        if let Some(t) = self.drainer.take() {
            let _ = t.join();
        }
    }
}

/// Starts a proxy's drainer thread running `f`, with every signal blocked (signals belong
/// to the application's threads) and a stack sized for its [`DRAIN_CHUNK`] buffer. Serves
/// the proxies of both backends.
pub(crate) fn spawn_drainer(
    f: impl FnOnce() + Send + 'static,
    op: &'static str,
) -> Result<JoinHandle<()>> {
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
/// `None` on timeout. Retries on EINTR. Serves the drainers of both backends' proxies.
pub(crate) fn poll2(a: (RawFd, i16), b: (RawFd, i16), timeout: libc::c_int) -> Option<(i16, i16)> {
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

/// The drainer: pipe -> target until end of file, a target failure, or (when stopping) a
/// target that takes nothing for `DROP_GRACE_MS`.
fn drain(st: &State, target: OwnedFd) {
    let mut buf = [0u8; DRAIN_CHUNK];
    let mut stopping = false;
    'outer: loop {
        // SAFETY: `buf` is valid for writes of its length for the whole call.
        let n = unsafe { libc::read(st.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = match n {
            0 => break, // every writer is gone and the pipe is empty
            n if n > 0 => n as usize,
            _ => match crate::error::errno() {
                libc::EINTR => continue,
                e => {
                    st.failed.store(e, Ordering::SeqCst);
                    break;
                }
            },
        };
        let mut off = 0;
        while off < n {
            let timeout = if stopping { DROP_GRACE_MS } else { -1 };
            let stop_fd = if stopping { -1 } else { st.stop.as_raw_fd() };
            let Some((rout, rstop)) = poll2(
                (target.as_raw_fd(), libc::POLLOUT),
                (stop_fd, libc::POLLIN),
                timeout,
            ) else {
                break 'outer; // stopping, and the target took nothing for the grace period
            };
            if rstop & libc::POLLIN != 0 {
                stopping = true;
            }
            if rout == 0 {
                continue;
            }
            let len = (n - off).min(PIPE_BUF);
            // SAFETY: `buf[off..off + len]` is initialised and valid for reads of `len` bytes.
            let w = unsafe { libc::write(target.as_raw_fd(), buf[off..].as_ptr().cast(), len) };
            if w > 0 {
                off += w as usize;
                st.delivered.fetch_add(w as u64, Ordering::SeqCst);
                st.bump();
                continue;
            }
            let e = if w == 0 {
                libc::EIO
            } else {
                crate::error::errno()
            };
            if e == libc::EAGAIN || e == libc::EINTR {
                continue;
            }
            st.failed.store(e, Ordering::SeqCst);
            st.bump();
            break 'outer;
        }
    }
    st.bump();
}
