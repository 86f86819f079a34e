//! Proxy on the EVL backend.
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
//! is pointed at a pipe of ours, and the drainer both backends use ([`super::drain`]) copies that pipe to the real target
//! (counting delivered bytes, reporting the target's errors, giving up on a target that
//! takes nothing for a second when dropping). The real-time writer path is the core's: an
//! `oob_write` into the ring, never a wait on the target.
//!
//! Consequences a user can see (documented on `Proxy`): writes are whole up to the
//! capacity (a longer one is cut into capacity-sized pieces, the pieces that fit are
//! written); threads not attached to the core write in-band, where the core's relay may run
//! in the writer's context and wait while our pipe is full (a stalled target).

use super::drain::Drain;
use super::types::ProxyWrite;
use crate::backend::evl::current::current;
use crate::backend::evl::file::{clone_fd, io_error, set_nonblock, MAX_RING};
use crate::backend::evl::{abi36, sys};
use crate::backend::host::sys as hsys;
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// An EVL output proxy and its drainer.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// Dropped before `efd` (field order): our pipe's read end closes first, so that a relay
    /// still blocked on the full pipe fails (EPIPE) instead of holding up the element's
    /// release.
    drain: Arc<Drain>,
    /// Upper bound of the bytes whose write returned or is under way: bytes offered to the
    /// ring minus those it refused (flush's goal).
    offered: AtomicU64,
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
    // Our pipe: the core relays into `tx`; the smallest size keeps the bytes in flight
    // between the ring and the target close to the host backend's.
    let (rx, tx) = hsys::pipe(0, OP)?;
    let _ = hsys::size_pipe(tx.as_fd(), 4096, OP);
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
    let (drain, drainer) = Drain::start(rx, target, OP)?;
    Ok(Proxy {
        drain,
        offered: AtomicU64::new(0),
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
        self.drain.check(OP)?;
        // Attached threads write out-of-band (never entering the in-band stage); others
        // can only write in-band.
        let oob = current().is_some();
        let mut written = 0;
        for piece in buf.chunks(self.capacity) {
            self.offered.fetch_add(piece.len() as u64, Ordering::SeqCst);
            match self.raw_write(oob, piece) {
                Ok(n) => {
                    written += n;
                    if n < piece.len() {
                        self.offered
                            .fetch_sub((piece.len() - n) as u64, Ordering::SeqCst);
                        break;
                    }
                }
                Err(e) => {
                    self.offered.fetch_sub(piece.len() as u64, Ordering::SeqCst);
                    if e == libc::EAGAIN {
                        break;
                    }
                    return Err(io_error(e, OP));
                }
            }
        }
        let dropped = buf.len() - written;
        self.drain.add_dropped(dropped);
        Ok(ProxyWrite { written, dropped })
    }

    pub(crate) fn flush(&self, deadline: Option<Timestamp>) -> Result<()> {
        // Every write that returned before now is within `offered`; writes still under way
        // may be refused, so the goal is lowered when `offered` drops below it.
        let goal = self.offered.load(Ordering::SeqCst);
        self.drain
            .flush(|| goal.min(self.offered.load(Ordering::SeqCst)), deadline)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.drain.dropped()
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
        self.drain.stop(self.offered.load(Ordering::SeqCst));
        if let Some(t) = self.drainer.take() {
            let _ = t.join();
        }
        // Then the fields go: `drain` (our pipe) before `efd` (the element).
    }
}
