//! Proxy on the EVL core.
//!
//! What the core gives (kernel/evl/proxy.c, ABI 36): an output proxy is a ring of `bufsz`
//! bytes. `oob_write` (attached callers) and `write` put a message into it whole or not at
//! all (`EAGAIN` on a non-blocking file when it does not fit, `EFBIG` when it is larger than
//! the ring), and the core relays the ring to the target file in-band: from a workqueue when
//! the writer runs out-of-band, and right in the writer's context when an in-band write
//! makes the ring non-empty. The relay drops the part of a chunk the target refuses,
//! reports nothing, and cancels what is pending when the element is released; and nothing
//! tells user space when the ring is empty.
//!
//! So that `flush`, drop and target errors keep their documented meaning, the core's proxy
//! is pointed at a pipe of ours, and a drainer thread copies that pipe to the real target
//! (counting delivered bytes, reporting the target's errors, giving up on a target that
//! takes nothing for a second when dropping). The real-time writer path is the core's: an
//! `oob_write` into the ring, never a wait on the target.
//!
//! Consequences a user can see (documented on `Proxy`): writes are whole up to the
//! capacity (a longer one is cut into capacity-sized pieces, the pieces that fit are
//! written); threads not attached to the core write in-band, where the core's relay may run
//! in the writer's context and wait while our pipe is full (a stalled target).

use super::xbuf::{clone_fd, io_error, set_nonblock, MAX_RING};
use super::{abi36, sys};
use crate::backend::host::proxy::{poll2, spawn_drainer, DRAIN_CHUNK, DROP_GRACE_MS};
use crate::backend::host::sys as hsys;
use crate::error::{errno, Error, ErrorKind, Result};
use crate::proxy::ProxyWrite;
use crate::time::Timestamp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The drainer's writes to the target: at most this much at once, so that a pipe target
/// never keeps it from seeing a stop request.
const TARGET_CHUNK: usize = libc::PIPE_BUF;

#[derive(Debug)]
struct State {
    /// Our pipe's read end (non-blocking), fed by the core's relay.
    rx: OwnedFd,
    /// An eventfd the owner signals on drop.
    stop: OwnedFd,
    /// What the drainer must deliver before it may stop (set before `stop` is signalled).
    goal: AtomicU64,
    /// Upper bound of the bytes whose write returned or is under way: bytes offered to the
    /// ring minus those it refused (flush's goal).
    offered: AtomicU64,
    /// Bytes written to the target by the drainer.
    delivered: AtomicU64,
    dropped: AtomicU64,
    /// Futex word bumped by the drainer on progress and when it stops.
    progress: AtomicU32,
    /// The errno that made the drainer stop delivering, 0 while it delivers.
    failed: AtomicI32,
}

impl State {
    fn bump(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
        hsys::futex_wake(&self.progress, i32::MAX, hsys::Scope::Process);
    }
}

/// An EVL output proxy and its drainer.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// Dropped before `efd` (field order): our pipe's read end closes first, so that a relay
    /// still blocked on the full pipe fails (EPIPE) instead of holding up the element's
    /// release.
    state: Arc<State>,
    /// The core's proxy element (non-blocking).
    efd: OwnedFd,
    drainer: Option<JoinHandle<()>>,
    capacity: usize,
}

pub(crate) fn create(target: BorrowedFd<'_>, capacity: usize, name: Option<&str>) -> Result<Proxy> {
    const OP: &str = "Proxy::create";
    if capacity > MAX_RING {
        return Err(Error::new(
            ErrorKind::CapacityExceeded,
            OP,
            "an EVL proxy buffer holds at most 4 MiB (the core allocates it in one piece)",
        ));
    }
    let target = target.try_clone_to_owned().map_err(|e| {
        Error::from_errno(
            e.raw_os_error().unwrap_or(libc::EBADF),
            OP,
            "cannot duplicate the target descriptor (descriptor limit reached?)",
        )
    })?;
    // Our pipe: the core relays into `tx`; the smallest size keeps the bytes in flight
    // between the ring and the target close to the host backend's.
    let (rx, tx) = hsys::pipe(0, OP)?;
    let _ = hsys::size_pipe(tx.as_fd(), 4096, OP);
    set_nonblock(rx.as_fd(), OP)?;
    let attrs = abi36::EvlProxyAttrs {
        fd: tx.as_raw_fd() as u32,
        bufsz: capacity as u32,
        granularity: 0,
    };
    // SAFETY: `attrs` is the proxy class's attribute structure, live for the call; the core
    // takes its own reference on the file behind `attrs.fd`.
    let efd = unsafe {
        clone_fd(
            abi36::EVL_PROXY_CLONE_DEV_C,
            abi36::EVL_PROXY_DEV,
            name,
            &attrs as *const abi36::EvlProxyAttrs as usize,
            abi36::EVL_CLONE_OUTPUT
                | if name.is_some() {
                    abi36::EVL_CLONE_PUBLIC
                } else {
                    abi36::EVL_CLONE_PRIVATE
                },
            &[(
                libc::EINVAL,
                Some(ErrorKind::CapacityExceeded),
                "the core refused the proxy buffer size",
            )],
            OP,
        )
    }?;
    drop(tx); // the core holds the pipe's write end now
    set_nonblock(efd.as_fd(), OP)?;
    // SAFETY: eventfd has no memory effects.
    let stop = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    let stop = hsys::owned_fd(stop, OP, "cannot create an eventfd (descriptor limit?)")?;
    let state = Arc::new(State {
        rx,
        stop,
        goal: AtomicU64::new(0),
        offered: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        progress: AtomicU32::new(0),
        failed: AtomicI32::new(0),
    });
    let st = state.clone();
    let drainer = spawn_drainer(move || drain(&st, target), OP)?;
    Ok(Proxy {
        state,
        efd,
        drainer: Some(drainer),
        capacity,
    })
}

impl Proxy {
    fn efd(&self) -> RawFd {
        self.efd.as_raw_fd()
    }

    fn raw_write(&self, oob: bool, buf: &[u8]) -> core::result::Result<usize, i32> {
        if oob {
            return sys::oob_write(self.efd(), buf);
        }
        // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call.
        let n = unsafe { libc::write(self.efd(), buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(errno())
        } else {
            Ok(n as usize)
        }
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
        // Attached threads write out-of-band (never entering the in-band stage); others
        // can only write in-band.
        let oob = super::thread::current().is_some();
        let mut written = 0;
        for piece in buf.chunks(self.capacity) {
            st.offered.fetch_add(piece.len() as u64, Ordering::SeqCst);
            match self.raw_write(oob, piece) {
                Ok(n) => {
                    written += n;
                    if n < piece.len() {
                        st.offered
                            .fetch_sub((piece.len() - n) as u64, Ordering::SeqCst);
                        break;
                    }
                }
                Err(e) => {
                    st.offered.fetch_sub(piece.len() as u64, Ordering::SeqCst);
                    if e == libc::EAGAIN {
                        break;
                    }
                    return Err(io_error(e, OP));
                }
            }
        }
        let dropped = buf.len() - written;
        if dropped > 0 {
            st.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        Ok(ProxyWrite { written, dropped })
    }

    pub(crate) fn flush(&self, deadline: Option<Timestamp>) -> Result<()> {
        const OP: &str = "Proxy::flush";
        let st = &*self.state;
        // Every write that returned before now is within `offered`; writes still under way
        // may be refused, so the goal is lowered when `offered` drops below it.
        let goal = st.offered.load(Ordering::SeqCst);
        loop {
            let seq = st.progress.load(Ordering::SeqCst);
            let now_goal = goal.min(st.offered.load(Ordering::SeqCst));
            if st.delivered.load(Ordering::SeqCst) >= now_goal {
                return Ok(());
            }
            let failed = st.failed.load(Ordering::SeqCst);
            if failed != 0 {
                return Err(Error::from_errno(
                    failed,
                    OP,
                    "the proxy's target failed (reader gone?); the rest was not delivered",
                ));
            }
            if hsys::futex_wait(&st.progress, seq, deadline, hsys::Scope::Process)
                == hsys::Woken::TimedOut
            {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    OP,
                    "the target did not take every accepted byte before the deadline",
                ));
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn write_fd(&self) -> BorrowedFd<'_> {
        self.efd.as_fd()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let st = &*self.state;
        st.goal
            .store(st.offered.load(Ordering::SeqCst), Ordering::SeqCst);
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is a live 8-byte buffer; the eventfd is non-blocking.
        unsafe { libc::write(st.stop.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        if let Some(t) = self.drainer.take() {
            let _ = t.join();
        }
        // Then the fields go: `state` (our pipe) before `efd` (the element).
    }
}

/// The drainer: our pipe -> target, until the target fails, or (once stopping) everything
/// accepted was delivered or nothing moved for `DROP_GRACE_MS`.
fn drain(st: &State, target: OwnedFd) {
    let mut buf = [0u8; DRAIN_CHUNK];
    let mut stopping = false;
    let stop_fd = |stopping: bool| if stopping { -1 } else { st.stop.as_raw_fd() };
    'outer: loop {
        if stopping && st.delivered.load(Ordering::SeqCst) >= st.goal.load(Ordering::SeqCst) {
            break;
        }
        let timeout = if stopping { DROP_GRACE_MS } else { -1 };
        let Some((rin, rstop)) = poll2(
            (st.rx.as_raw_fd(), libc::POLLIN),
            (stop_fd(stopping), libc::POLLIN),
            timeout,
        ) else {
            break; // stopping, and the relay brought nothing for the grace period
        };
        if rstop != 0 {
            stopping = true;
        }
        if rin == 0 {
            continue;
        }
        // SAFETY: `buf` is valid for writes of its length for the whole call.
        let n = unsafe { libc::read(st.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = match n {
            0 => break, // the element is gone
            n if n > 0 => n as usize,
            _ => match errno() {
                libc::EINTR | libc::EAGAIN => continue,
                e => {
                    st.failed.store(e, Ordering::SeqCst);
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
            // SAFETY: `buf[off..off + len]` is initialised and valid for reads of `len` bytes.
            let w = unsafe { libc::write(target.as_raw_fd(), buf[off..].as_ptr().cast(), len) };
            if w > 0 {
                off += w as usize;
                st.delivered.fetch_add(w as u64, Ordering::SeqCst);
                st.bump();
                continue;
            }
            let e = if w == 0 { libc::EIO } else { errno() };
            if e == libc::EAGAIN || e == libc::EINTR {
                continue;
            }
            st.failed.store(e, Ordering::SeqCst);
            break 'outer;
        }
    }
    st.bump();
}
