//! Mutexes on the EVL backend: a gate monitor with priority inheritance (see
//! [`crate::backend::evl::monitor`] for the owner-word fast paths).

use crate::backend::evl::current::{self as thread};
use crate::backend::evl::monitor::{
    attached, core_error, timespec, Kind, Monitor, State, GATE_OWNER_OFFSET,
    GATE_RECURSIVE_NESTING_OFFSET,
};
use crate::backend::evl::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::name::Visibility;
use crate::time::types::Timestamp;
use core::sync::atomic::{AtomicU32, Ordering};
use std::os::fd::RawFd;

/// A mutex: a gate monitor with priority inheritance.
#[derive(Debug)]
pub(crate) struct Gate(pub(crate) Monitor);

/// A gate's descriptor, state and protocol: what locking it takes.
#[derive(Clone, Copy)]
pub(crate) struct GateRef<'a> {
    pub(crate) fd: RawFd,
    pub(crate) state: &'a State,
    /// Locked in user space when uncontended (PI); a PP gate always goes through the core,
    /// which applies its ceiling.
    pub(crate) fast: bool,
}

impl GateRef<'_> {
    pub(crate) fn owner(&self) -> &AtomicU32 {
        self.state.word(GATE_OWNER_OFFSET)
    }

    pub(crate) fn owned_by(&self, me: &thread::Current) -> bool {
        abi36::evl_get_index(self.owner().load(Ordering::Acquire)) == me.fundle
    }

    /// Records a lock just taken: nesting 1 (libevl's bookkeeping, shown by the core's sysfs).
    pub(crate) fn taken(&self) {
        let w = self.state.word(GATE_RECURSIVE_NESTING_OFFSET);
        let recursive = abi36::EvlMonitorGateState {
            recursive_nesting: w.load(Ordering::Relaxed),
            ..Default::default()
        }
        .recursive();
        w.store(
            abi36::EvlMonitorGateState::pack_recursive_nesting(recursive, 1),
            Ordering::Relaxed,
        );
    }

    /// The user-space lock: Ok(true) taken, Ok(false) owned by another thread (or must go
    /// through the core), Err(Deadlock) owned by the caller.
    pub(crate) fn fast_lock(&self, me: &thread::Current, op: &'static str) -> Result<bool> {
        if !self.fast || !me.may_lock_fast() {
            // In-band threads lock through the core, which moves them out-of-band; weak ones
            // (and lock-checked ones) must let the core see every lock they hold.
            if self.owned_by(me) {
                return Err(relock(op));
            }
            return Ok(false);
        }
        match self.owner().compare_exchange(
            abi36::EVL_NO_HANDLE,
            me.fundle,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.taken();
                // A stale signal mark would only cost a useless EXIT: clear it, as libevl does.
                self.state
                    .flags()
                    .fetch_and(!abi36::EVL_MONITOR_SIGNALED, Ordering::Relaxed);
                Ok(true)
            }
            Err(h) if abi36::evl_get_index(h) == me.fundle => Err(relock(op)),
            Err(_) => Ok(false),
        }
    }

    pub(crate) fn lock(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<()> {
        let me = attached(op)?;
        if self.fast_lock(&me, op)? {
            return Ok(());
        }
        let ts = timespec(deadline);
        loop {
            // SAFETY: EVL_MONIOC_ENTER reads one EvlTimespec at the address passed, `ts`,
            // live for the call.
            match unsafe {
                sys::oob_ioctl(
                    self.fd,
                    abi36::EVL_MONIOC_ENTER,
                    &ts as *const abi36::EvlTimespec as usize,
                )
            } {
                Ok(_) => {
                    self.taken();
                    return Ok(());
                }
                // Signals do not end a lock (the deadline is absolute: retrying keeps it).
                Err(libc::EINTR) => continue,
                Err(libc::EDEADLK) => return Err(relock(op)),
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }

    pub(crate) fn try_lock(&self, op: &'static str) -> Result<()> {
        let me = attached(op)?;
        let busy = || Error::new(ErrorKind::WouldBlock, op, "");
        // As on the host, a relock attempt by the owner is "not free": WouldBlock.
        match self.fast_lock(&me, op) {
            Ok(true) => return Ok(()),
            Ok(false) if self.fast && me.may_lock_fast() => return Err(busy()),
            Ok(false) => {}
            Err(_) => return Err(busy()),
        }
        loop {
            // SAFETY: EVL_MONIOC_TRYENTER takes no argument.
            match unsafe { sys::oob_ioctl(self.fd, abi36::EVL_MONIOC_TRYENTER, 0) } {
                Ok(_) => {
                    self.taken();
                    return Ok(());
                }
                Err(libc::EINTR) => continue,
                Err(libc::EBUSY | libc::EDEADLK) => return Err(busy()),
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }

    pub(crate) fn unlock(&self, op: &'static str) -> Result<()> {
        let me = thread::current();
        let signaled = self.state.flags().load(Ordering::Acquire) & abi36::EVL_MONITOR_SIGNALED;
        if let (Some(me), true, 0) = (me.filter(|m| m.may_unlock_fast()), self.fast, signaled) {
            // Fails when a sleeper raised FLCLAIM (or the core granted the lock with it).
            if self
                .owner()
                .compare_exchange(
                    me.fundle,
                    abi36::EVL_NO_HANDLE,
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Ok(());
            }
        }
        loop {
            // SAFETY: EVL_MONIOC_EXIT takes no argument.
            match unsafe { sys::oob_ioctl(self.fd, abi36::EVL_MONIOC_EXIT, 0) } {
                Ok(_) => return Ok(()),
                Err(libc::EINTR) => continue,
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }
}

pub(crate) fn relock(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Deadlock,
        op,
        "this thread already holds the mutex (EVL mutexes are not recursive)",
    )
}

impl Gate {
    pub(crate) fn create(vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Mutex, 0, vis, op).map(Gate)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Mutex, name, op).map(Gate)
    }

    pub(crate) fn gref(&self) -> GateRef<'_> {
        GateRef {
            fd: self.0.raw(),
            state: &self.0.state,
            fast: self.0.protocol == abi36::EVL_GATE_PI,
        }
    }

    /// Locks, waiting until `deadline` (None: forever). Requires an attached caller (the
    /// owner word holds its core handle).
    pub(crate) fn lock(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<()> {
        self.gref().lock(deadline, op)
    }

    /// Locks if free (WouldBlock otherwise, also when the caller holds it, as on the host).
    pub(crate) fn try_lock(&self, op: &'static str) -> Result<()> {
        self.gref().try_lock(op)
    }

    /// Unlocks (the caller holds it: the guard proves it).
    pub(crate) fn unlock(&self) {
        let r = self.gref().unlock("MutexGuard::drop");
        debug_assert!(r.is_ok(), "unlock failed: {r:?}");
    }
}
