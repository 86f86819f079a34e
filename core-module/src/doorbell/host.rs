//! The doorbell on the host backend: an eventfd.

use crate::backend::host::sys;
use crate::error::{ErrorKind, Result};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// An eventfd, non-blocking: rings add to its counter, a drain reads and clears it.
#[derive(Debug)]
pub(crate) struct Bell {
    fd: OwnedFd,
}

impl Bell {
    pub(crate) fn new(op: &'static str) -> Result<Self> {
        // SAFETY: eventfd has no memory effects.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        Ok(Bell {
            fd: sys::owned_fd(fd, op, "cannot create an eventfd (descriptor limit?)")?,
        })
    }

    /// One `write(2)`; async-signal-safe.
    pub(crate) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // The only failure is a counter at u64::MAX - 1, which leaves it readable anyway.
        let _ = sys::write_nb(self.fd.as_fd(), &one, "Doorbell::ring");
    }

    /// The rings since the last drain (0 if none).
    pub(crate) fn drain(&self) -> u64 {
        let mut buf = [0u8; 8];
        match sys::read_nb(self.fd.as_fd(), &mut buf, "Doorbell::drain") {
            Ok(8) => u64::from_ne_bytes(buf),
            Ok(_) => 0,
            Err(e) => {
                debug_assert_eq!(e.kind(), ErrorKind::WouldBlock);
                0
            }
        }
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
