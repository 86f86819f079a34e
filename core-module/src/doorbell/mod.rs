//! A doorbell: the cheapest cross-thread, cross-context wake-up the core offers.
//!
//! Not an EVL element class of its own: on the EVL backend it is a private flags element's
//! bit (oob-pollable); on the host backend it is an eventfd. [`Doorbell::ring`] is one system
//! call that never blocks and takes no lock, so it may be called from any thread and from a
//! signal handler (async-signal-safe). The fd is readable from the first ring until
//! [`Doorbell::drain`]: rings coalesce.

mod evl;
mod host;

use crate::backend::{self, Backend};
use crate::error::Result;
use std::os::fd::{AsFd, BorrowedFd};

/// A pollable, coalescing wake-up.
#[derive(Debug)]
pub struct Doorbell {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(host::Bell),
    Evl(evl::Bell),
}

impl Doorbell {
    /// A silent doorbell.
    pub fn new() -> Result<Self> {
        const OP: &str = "Doorbell::new";
        let inner = match backend::current()? {
            Backend::Host => Inner::Host(host::Bell::new(OP)?),
            Backend::Evl => Inner::Evl(evl::Bell::new(OP)?),
        };
        Ok(Doorbell { inner })
    }

    /// Rings: the fd becomes readable. Async-signal-safe; never blocks, never allocates.
    ///
    /// On the EVL backend: `write(2)` of the bell bit to the flags element (`oob_write` from a
    /// thread running out-of-band), from any thread, attached or not.
    pub fn ring(&self) {
        match &self.inner {
            Inner::Host(bell) => bell.ring(),
            Inner::Evl(bell) => bell.ring(),
        }
    }

    /// Silences it; returns how many rings were coalesced since the last drain (0 if none).
    ///
    /// On the EVL backend rings set one bit, which cannot count them: a rung doorbell drains
    /// as 1, whatever the number of rings since the last drain.
    pub fn drain(&self) -> u64 {
        match &self.inner {
            Inner::Host(bell) => bell.drain(),
            Inner::Evl(bell) => u64::from(bell.drain()),
        }
    }
}

impl AsFd for Doorbell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(bell) => bell.fd(),
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
