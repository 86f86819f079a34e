//! Flag groups (EVL: an event monitor with the MASK protocol).

mod evl;
mod host;

use crate::backend::host::monitor::{Kind, Monitor};
use crate::backend::{self, Backend};
use crate::error::Result;
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;

/// How a flags wait matches the bits it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMode {
    /// Satisfied by any of the bits (EVL `wait_some`).
    Any,
    /// Satisfied only when all the bits are set (EVL `wait_exact`).
    All,
}

/// A group of 32 event bits.
///
/// [`post`](Flags::post) sets bits and wakes the first waiter they satisfy;
/// [`broadcast`](Flags::broadcast) wakes every satisfied waiter. A satisfied wait consumes
/// (clears) the bits it matched and returns them. Asking for no bit (`0`) means every bit.
/// [`poll_fd`](Flags::poll_fd) is readable while any bit is set.
#[derive(Debug)]
pub struct Flags {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(Monitor),
    Evl(evl::FlagGroup),
}

impl Flags {
    /// A private group with `initial` bits set.
    pub fn new(initial: u32) -> Result<Self> {
        Self::create(initial, Visibility::Private)
    }

    /// A group with `initial` bits set, private or public.
    pub fn create(initial: u32, vis: Visibility<'_>) -> Result<Self> {
        const OP: &str = "Flags::create";
        vis.validate(OP)?;
        match backend::current()? {
            Backend::Host => Ok(Flags {
                inner: Inner::Host(Monitor::create(Kind::Flags, initial, vis, OP)?),
            }),
            Backend::Evl => Ok(Flags {
                inner: Inner::Evl(evl::FlagGroup::create(initial, vis, OP)?),
            }),
        }
    }

    /// Opens the public group `name`.
    pub fn open(name: &str) -> Result<Self> {
        const OP: &str = "Flags::open";
        Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => Ok(Flags {
                inner: Inner::Host(Monitor::open(Kind::Flags, name, OP)?),
            }),
            Backend::Evl => Ok(Flags {
                inner: Inner::Evl(evl::FlagGroup::open(name, OP)?),
            }),
        }
    }

    /// Waits for `bits` per `mode`; returns and clears the bits that matched.
    ///
    /// On the EVL backend only threads attached to the core ([`crate::Thread::attach`]) can
    /// wait (also for [`wait_until`](Flags::wait_until)); [`try_wait`](Flags::try_wait),
    /// [`post`](Flags::post) and [`broadcast`](Flags::broadcast) work from any thread.
    pub fn wait(&self, bits: u32, mode: FlagsMode) -> Result<u32> {
        match &self.inner {
            Inner::Host(m) => {
                m.flags_wait(bits, mode == FlagsMode::All, None, false, "Flags::wait")
            }
            Inner::Evl(f) => f.wait(bits, mode == FlagsMode::All, None, false, "Flags::wait"),
        }
    }

    /// As [`wait`](Flags::wait), until the absolute monotonic `deadline` at most.
    pub fn wait_until(&self, bits: u32, mode: FlagsMode, deadline: Timestamp) -> Result<u32> {
        match &self.inner {
            Inner::Host(m) => m.flags_wait(
                bits,
                mode == FlagsMode::All,
                Some(deadline),
                false,
                "Flags::wait_until",
            ),
            Inner::Evl(f) => f.wait(
                bits,
                mode == FlagsMode::All,
                Some(deadline),
                false,
                "Flags::wait_until",
            ),
        }
    }

    /// As [`wait`](Flags::wait), without waiting ([`crate::ErrorKind::WouldBlock`]).
    pub fn try_wait(&self, bits: u32, mode: FlagsMode) -> Result<u32> {
        match &self.inner {
            Inner::Host(m) => {
                m.flags_wait(bits, mode == FlagsMode::All, None, true, "Flags::try_wait")
            }
            Inner::Evl(f) => f.wait(bits, mode == FlagsMode::All, None, true, "Flags::try_wait"),
        }
    }

    /// Sets `bits` (non-zero) and wakes the first waiter they satisfy.
    pub fn post(&self, bits: u32) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.flags_post(bits, false, "Flags::post"),
            Inner::Evl(f) => f.post(bits, false, "Flags::post"),
        }
    }

    /// Sets `bits` (non-zero) and wakes every waiter they satisfy.
    pub fn broadcast(&self, bits: u32) -> Result<()> {
        match &self.inner {
            Inner::Host(m) => m.flags_post(bits, true, "Flags::broadcast"),
            Inner::Evl(f) => f.post(bits, true, "Flags::broadcast"),
        }
    }

    /// The bits currently set.
    pub fn peek(&self) -> u32 {
        match &self.inner {
            Inner::Host(m) => m.value(),
            Inner::Evl(f) => f.peek(),
        }
    }

    /// A descriptor readable while any bit is set.
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(m) => m.poll_fd().expect("flags are pollable"),
            Inner::Evl(f) => f.fd(),
        }
    }
}
