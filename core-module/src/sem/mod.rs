//! Counting semaphores (EVL: an event monitor with the COUNT protocol).

mod evl;
mod host;

use crate::backend::host::monitor::{Kind, Monitor};
use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;

/// A counting semaphore, usable from any thread and (public ones) from other processes.
///
/// [`put`](Semaphore::put) hands a unit to the first waiter in line, or adds it to the count;
/// [`get`](Semaphore::get) takes one, waiting while the count is zero. [`flush`](Semaphore::flush)
/// wakes every waiter without granting anything (they get [`ErrorKind::Flushed`]).
/// [`poll_fd`](Semaphore::poll_fd) is readable exactly while the count is positive, so a
/// reactor can wait for it among other fds.
#[derive(Debug)]
pub struct Semaphore {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(Monitor),
    Evl(evl::Sem),
}

impl Semaphore {
    /// A private semaphore holding `initial` units.
    pub fn new(initial: u32) -> Result<Self> {
        Self::create(initial, Visibility::Private)
    }

    /// A semaphore holding `initial` units (at most 2^31-1), private or public.
    pub fn create(initial: u32, vis: Visibility<'_>) -> Result<Self> {
        const OP: &str = "Semaphore::create";
        vis.validate(OP)?;
        if initial > i32::MAX as u32 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "initial count above 2^31-1",
            ));
        }
        match backend::current()? {
            Backend::Host => Ok(Semaphore {
                inner: Inner::Host(Monitor::create(Kind::Semaphore, initial, vis, OP)?),
            }),
            Backend::Evl => Ok(Semaphore {
                inner: Inner::Evl(evl::Sem::create(initial, vis, OP)?),
            }),
        }
    }

    /// Opens the public semaphore `name`.
    pub fn open(name: &str) -> Result<Self> {
        const OP: &str = "Semaphore::open";
        Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => Ok(Semaphore {
                inner: Inner::Host(Monitor::open(Kind::Semaphore, name, OP)?),
            }),
            Backend::Evl => Ok(Semaphore {
                inner: Inner::Evl(evl::Sem::open(name, OP)?),
            }),
        }
    }

    /// Takes one unit, waiting as long as it takes.
    ///
    /// On the EVL backend only threads attached to the core ([`crate::Thread::attach`]) can
    /// wait: any thread takes an available unit, and one not attached gets
    /// [`ErrorKind::PermissionDenied`] where it would have to wait (also for
    /// [`get_until`](Semaphore::get_until)).
    pub fn get(&self) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.sem_get(None, false, "Semaphore::get"),
            Inner::Evl(s) => s.get(None, false, "Semaphore::get"),
        }
    }

    /// Takes one unit, waiting until the absolute monotonic `deadline` at most
    /// ([`ErrorKind::TimedOut`] then).
    pub fn get_until(&self, deadline: Timestamp) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.sem_get(Some(deadline), false, "Semaphore::get_until"),
            Inner::Evl(s) => s.get(Some(deadline), false, "Semaphore::get_until"),
        }
    }

    /// Takes one unit if one is there ([`ErrorKind::WouldBlock`] otherwise).
    pub fn try_get(&self) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.sem_get(None, true, "Semaphore::try_get"),
            Inner::Evl(s) => s.get(None, true, "Semaphore::try_get"),
        }
    }

    /// Releases one unit.
    pub fn put(&self) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.sem_put("Semaphore::put"),
            Inner::Evl(s) => s.put("Semaphore::put"),
        }
    }

    /// Wakes every waiter without granting a unit; returns how many were woken.
    ///
    /// On the EVL backend the core does not report that number: it is the number of waiters
    /// seen just before the call ([`value`](Semaphore::value)), exact unless one comes or
    /// goes meanwhile.
    pub fn flush(&self) -> Result<usize> {
        match &self.inner {
            Inner::Host(m) => m.sem_flush("Semaphore::flush"),
            Inner::Evl(s) => s.flush("Semaphore::flush"),
        }
    }

    /// The current count, or, when threads are waiting, minus their number (as EVL's
    /// `evl_peek_sem` reports it). A snapshot: it may change right after.
    pub fn value(&self) -> i32 {
        match &self.inner {
            Inner::Host(m) => m.sem_value(),
            Inner::Evl(s) => s.value(),
        }
    }

    /// A descriptor readable exactly while [`try_get`](Semaphore::try_get) would succeed
    /// (another thread may still take the unit first: readiness is a hint, retry on
    /// `WouldBlock`).
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(m) => m.poll_fd().expect("semaphores are pollable"),
            Inner::Evl(s) => s.fd(),
        }
    }
}
