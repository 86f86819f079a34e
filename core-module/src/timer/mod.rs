//! Timers (EVL: a timer element on a clock; host: timerfd).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Timer`]: checks arguments, dispatches to the backend |
//! | `types.rs` | [`Start`] (shared with the backends) |
//! | `host.rs` | a Linux timerfd |
//! | `evl.rs` | a timer file of the core's clock element, with a private poll group for blocking reads |

mod evl;
mod host;
pub(crate) mod types;

pub use types::Start;

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::time::{Clock, Timestamp};
use core::time::Duration;
use std::os::fd::{AsFd, BorrowedFd};

/// An fd-backed timer on a [`Clock`]: one-shot, or periodic with overruns counted.
///
/// [`read`](Timer::read) returns how many times the timer expired since the last read (more
/// than 1 means ticks were missed: the reader was late). The fd is readable while expirations
/// are pending, so a reactor can wait on it among other fds.
#[derive(Debug)]
pub struct Timer {
    clock: Clock,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(host::Timer),
    Evl(evl::Timer),
}

impl Timer {
    /// A disarmed timer on `clock`.
    pub fn new(clock: Clock) -> Result<Self> {
        let inner = match backend::current()? {
            Backend::Host => Inner::Host(host::Timer::new(clock)?),
            Backend::Evl => Inner::Evl(evl::Timer::new(clock)?),
        };
        Ok(Timer { clock, inner })
    }

    /// The clock the timer runs on.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Arms the timer: first expiry at `start`, then every `period` if given. Re-arming
    /// replaces the previous setting and discards pending expirations. A zero period is
    /// rejected (use `None` for one-shot); a start in the past fires at once.
    pub fn set(&self, start: Start, period: Option<Duration>) -> Result<()> {
        if period == Some(Duration::ZERO) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Timer::set",
                "a periodic timer needs a non-zero period; pass None for one-shot",
            ));
        }
        match &self.inner {
            Inner::Host(t) => t.set(start, period),
            Inner::Evl(t) => t.set(start, period),
        }
    }

    /// Disarms the timer and discards pending expirations.
    pub fn disarm(&self) -> Result<()> {
        match &self.inner {
            Inner::Host(t) => t.disarm(),
            Inner::Evl(t) => t.disarm(),
        }
    }

    /// Waits for the next expiry; returns the expirations since the last read (>= 1).
    pub fn read(&self) -> Result<u64> {
        self.read_until_inner(None, "Timer::read")
    }

    /// As [`read`](Timer::read), until the absolute monotonic `deadline` at most.
    pub fn read_until(&self, deadline: Timestamp) -> Result<u64> {
        self.read_until_inner(Some(deadline), "Timer::read_until")
    }

    fn read_until_inner(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<u64> {
        match &self.inner {
            Inner::Host(t) => t.read_until(deadline, op),
            Inner::Evl(t) => t.read_until(deadline, op),
        }
    }

    /// The expirations pending, without waiting ([`ErrorKind::WouldBlock`] when none).
    pub fn try_read(&self) -> Result<u64> {
        match &self.inner {
            Inner::Host(t) => t.try_read(),
            Inner::Evl(t) => t.try_read(),
        }
    }

    /// The time left before the next expiry (`None` when disarmed).
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match &self.inner {
            Inner::Host(t) => t.remaining(),
            Inner::Evl(t) => t.remaining(),
        }
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(t) => t.as_fd(),
            Inner::Evl(t) => t.as_fd(),
        }
    }
}
