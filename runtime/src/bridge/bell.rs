//! The wake-up from the real-time side to the in-band side: a proxy to a pipe.
//!
//! The real-time side writes one byte to an evl-core [`Proxy`] whose target is a pipe; the
//! in-band side polls the pipe's read end, an ordinary descriptor that any reactor (tokio,
//! async-io, `poll(2)`) can watch. On the EVL core the proxy write is an out-of-band call
//! from an attached thread (the core relays the byte in-band), and a plain `write(2)` from
//! any other thread; on the host the proxy is a pipe drained into the target by a thread.
//! Either way the writer never waits for the reader, and a full proxy drops the byte: it
//! only ever carries "look again", which a byte already in flight says too.

use crate::core::{Error, Proxy, Result};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The real-time side's half: rings the bell.
#[derive(Debug)]
pub(crate) struct Ringer {
    proxy: Proxy,
}

/// The in-band side's half: the pipe's read end, non-blocking.
#[derive(Debug)]
pub(crate) struct Listener {
    rx: OwnedFd,
}

/// What a [`Listener::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The descriptor is readable (a ring, or the ringer is gone), or a signal interrupted.
    Ready,
    /// The timeout passed.
    TimedOut,
}

/// A new bell: its (ringer, listener).
pub(crate) fn pair(op: &'static str) -> Result<(Ringer, Listener)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(Error::last_os_error(
            op,
            "cannot create the bridge's wake-up pipe (descriptor limit?)",
        ));
    }
    // SAFETY: pipe2 just returned these descriptors; nothing else owns them.
    let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The proxy duplicates `tx`; ours closes at the end of this function, so the pipe reads
    // end-of-file once the proxy is gone.
    let proxy = Proxy::new(&tx, 4096)?;
    Ok((Ringer { proxy }, Listener { rx }))
}

impl Ringer {
    /// Rings: one non-blocking proxy write, whatever happens to it (a full proxy already
    /// carries a ring; a failed target means the listener is gone).
    pub(crate) fn ring(&self) {
        let _ = self.proxy.write(&[1]);
    }
}

impl Listener {
    /// Reads every byte rung so far (non-blocking). Returns false once the ringer is gone
    /// and everything was read.
    pub(crate) fn drain(&self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: `buf` is a live, writable buffer of that length.
            let n = unsafe { libc::read(self.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return false;
            }
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return true; // empty (EAGAIN)
            }
        }
    }

    /// Waits until the descriptor is readable, `timeout` at most (`None`: no limit).
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Waited {
        let mut p = libc::pollfd {
            fd: self.rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: one valid pollfd; `tsp` is null or points to `ts`, live for the call; no
        // signal mask.
        let rc = unsafe { libc::ppoll(&mut p, 1, tsp, core::ptr::null()) };
        if rc == 0 {
            Waited::TimedOut
        } else {
            Waited::Ready
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }
}
