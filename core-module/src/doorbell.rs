//! A doorbell: the cheapest cross-thread, cross-context wake-up the core offers.
//!
//! Not an EVL element class of its own: on the EVL backend it is a private flags element's
//! bit (oob-pollable); on the host backend it is an eventfd. [`Doorbell::ring`] is one system
//! call that never blocks and takes no lock, so it may be called from any thread and from a
//! signal handler (async-signal-safe). The fd is readable from the first ring until
//! [`Doorbell::drain`]: rings coalesce.

use crate::backend::evl::monitor as evl;
use crate::backend::host::sys;
use crate::backend::{self, Backend};
use crate::error::{ErrorKind, Result};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A pollable, coalescing wake-up.
#[derive(Debug)]
pub struct Doorbell {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(OwnedFd),
    Evl(evl::Bell),
}

impl Doorbell {
    /// A silent doorbell.
    pub fn new() -> Result<Self> {
        const OP: &str = "Doorbell::new";
        match backend::current()? {
            Backend::Host => {
                // SAFETY: eventfd has no memory effects.
                let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
                Ok(Doorbell {
                    inner: Inner::Host(sys::owned_fd(
                        fd,
                        OP,
                        "cannot create an eventfd (descriptor limit?)",
                    )?),
                })
            }
            Backend::Evl => Ok(Doorbell {
                inner: Inner::Evl(evl::Bell::new(OP)?),
            }),
        }
    }

    /// Rings: the fd becomes readable. Async-signal-safe; never blocks, never allocates.
    ///
    /// On the EVL backend: `write(2)` of the bell bit to the flags element (`oob_write` from a
    /// thread running out-of-band), from any thread, attached or not.
    pub fn ring(&self) {
        match &self.inner {
            Inner::Host(fd) => {
                let one = 1u64.to_ne_bytes();
                // The only failure is a counter at u64::MAX - 1, which leaves it readable
                // anyway.
                let _ = sys::write_nb(fd.as_fd(), &one, "Doorbell::ring");
            }
            Inner::Evl(bell) => bell.ring(),
        }
    }

    /// Silences it; returns how many rings were coalesced since the last drain (0 if none).
    ///
    /// On the EVL backend rings set one bit, which cannot count them: a rung doorbell drains
    /// as 1, whatever the number of rings since the last drain.
    pub fn drain(&self) -> u64 {
        let fd = match &self.inner {
            Inner::Host(fd) => fd.as_fd(),
            Inner::Evl(bell) => return u64::from(bell.drain()),
        };
        let mut buf = [0u8; 8];
        match sys::read_nb(fd, &mut buf, "Doorbell::drain") {
            Ok(8) => u64::from_ne_bytes(buf),
            Ok(_) => 0,
            Err(e) => {
                debug_assert_eq!(e.kind(), ErrorKind::WouldBlock);
                0
            }
        }
    }
}

impl AsFd for Doorbell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(fd) => fd.as_fd(),
            Inner::Evl(bell) => bell.fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_coalesce_until_drained() {
        let _ = backend::select(backend::Selection::Force(Backend::Host));
        let d = Doorbell::new().unwrap();
        assert_eq!(d.drain(), 0);
        d.ring();
        d.ring();
        d.ring();
        let mut p = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&d.as_fd()),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 1);
        // The host's eventfd counts the rings; the EVL core's flags just say "rung" (1). In a
        // test binary another test may have chosen the backend first.
        let expected = match backend::current().unwrap() {
            Backend::Host => 3,
            Backend::Evl => 1,
        };
        assert_eq!(d.drain(), expected);
        assert_eq!(d.drain(), 0);
    }
}
