//! Semaphores on the EVL backend: an event monitor with the COUNT protocol (see
//! [`crate::backend::evl::monitor`] for the shared-state protocol).

use crate::backend::evl::abi36;
use crate::backend::evl::monitor::{Kind, Monitor, EVENT_POLLREFS_OFFSET};
use crate::error::{Error, ErrorKind, Result};
use crate::name::Visibility;
use crate::time::types::Timestamp;
use core::sync::atomic::Ordering;
use std::os::fd::BorrowedFd;

/// A semaphore: an event monitor with the COUNT protocol.
#[derive(Debug)]
pub(crate) struct Sem(Monitor);

impl Sem {
    pub(crate) fn create(initial: u32, vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Semaphore, initial, vis, op).map(Sem)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Semaphore, name, op).map(Sem)
    }

    /// Takes a unit if the count is positive (no system call).
    fn take(&self) -> bool {
        let v = self.0.value();
        let mut cur = v.load(Ordering::Acquire) as i32;
        while cur > 0 {
            match v.compare_exchange_weak(
                cur as u32,
                (cur - 1) as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now as i32,
            }
        }
        false
    }

    /// Takes one unit, waiting until `deadline` (None: forever; `try_only`: never waits).
    ///
    /// EVL difference: only a thread attached to the core may sleep on it; a non-attached
    /// caller still takes an available unit, and gets `PermissionDenied` where it would wait.
    pub(crate) fn get(
        &self,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<()> {
        if self.take() {
            return Ok(());
        }
        if try_only {
            return Err(Error::new(ErrorKind::WouldBlock, op, ""));
        }
        match self.0.wait(abi36::EVL_MONIOC_WAIT, 0, deadline, op) {
            Ok(_) => Ok(()),
            // A broadcast (flush) ends a count wait with EAGAIN: woken, nothing granted.
            Err(e) if e.os_error() == Some(libc::EAGAIN) => Err(Error::new(
                ErrorKind::Flushed,
                op,
                "the semaphore was flushed (broadcast) while waiting: no unit was granted",
            )),
            Err(e) => Err(e),
        }
    }

    /// Releases one unit: in user space when nobody sleeps nor polls, else through the core.
    pub(crate) fn put(&self, op: &'static str) -> Result<()> {
        let v = self.0.value();
        let polled = || {
            self.0
                .state
                .word(EVENT_POLLREFS_OFFSET)
                .load(Ordering::Acquire)
                != 0
        };
        let mut cur = v.load(Ordering::Acquire) as i32;
        loop {
            if cur == i32::MAX {
                return Err(Error::new(
                    ErrorKind::CapacityExceeded,
                    op,
                    "semaphore count at its maximum (2^31-1)",
                ));
            }
            if cur < 0 || polled() {
                // Sleepers to wake or pollers to notify: the core adds the unit.
                return self.0.post(abi36::EVL_MONIOC_SIGNAL, 1, op);
            }
            match v.compare_exchange_weak(
                cur as u32,
                (cur + 1) as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => cur = now as i32,
            }
        }
        if polled() {
            // A poller registered while the unit was added: a null signal only notifies.
            return self.0.post(abi36::EVL_MONIOC_SIGNAL, 0, op);
        }
        Ok(())
    }

    /// Wakes every sleeper without a grant. Returns how many slept just before the call (the
    /// core does not report the number it woke: this snapshot of minus the count is the
    /// closest answer, exact unless a waiter comes or goes during the call).
    pub(crate) fn flush(&self, op: &'static str) -> Result<usize> {
        let sleepers = (-self.value()).max(0) as usize;
        self.0.post(abi36::EVL_MONIOC_BROADCAST, 1, op)?;
        Ok(sleepers)
    }

    /// The count, or minus the number of sleepers (the core's own convention).
    pub(crate) fn value(&self) -> i32 {
        self.0.value().load(Ordering::Acquire) as i32
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}
