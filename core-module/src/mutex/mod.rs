//! Mutexes (EVL: a gate monitor with priority inheritance).

pub(crate) mod evl;
mod host;

use crate::backend::host::monitor::{Kind, Monitor};
use crate::backend::{self, Backend};
use crate::error::Result;
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use core::marker::PhantomData;

/// A priority-inheriting mutex: a thread waiting for it boosts the owner to its priority.
///
/// The lock protects no data of its own (it may be shared with C programs by name); wrap the
/// data you guard, or use it as an [`Event`](crate::Event)'s gate. Uncontended lock and unlock
/// cost one atomic operation each, no system call. Locking it twice from one thread returns
/// [`crate::ErrorKind::Deadlock`].
#[derive(Debug)]
pub struct Mutex {
    pub(crate) inner: Inner,
}

#[derive(Debug)]
pub(crate) enum Inner {
    Host(Monitor),
    Evl(evl::Gate),
}

/// Holds a [`Mutex`] locked; unlocks on drop. Stays on the thread that locked it.
#[derive(Debug)]
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a> {
    pub(crate) mutex: &'a Mutex,
    _not_send: PhantomData<*const ()>,
}

impl Mutex {
    /// A private mutex.
    pub fn new() -> Result<Self> {
        Self::create(Visibility::Private)
    }

    /// A mutex, private or public.
    pub fn create(vis: Visibility<'_>) -> Result<Self> {
        const OP: &str = "Mutex::create";
        vis.validate(OP)?;
        match backend::current()? {
            Backend::Host => Ok(Mutex {
                inner: Inner::Host(Monitor::create(Kind::Mutex, 0, vis, OP)?),
            }),
            Backend::Evl => Ok(Mutex {
                inner: Inner::Evl(evl::Gate::create(vis, OP)?),
            }),
        }
    }

    /// Opens the public mutex `name`.
    pub fn open(name: &str) -> Result<Self> {
        const OP: &str = "Mutex::open";
        Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => Ok(Mutex {
                inner: Inner::Host(Monitor::open(Kind::Mutex, name, OP)?),
            }),
            Backend::Evl => Ok(Mutex {
                inner: Inner::Evl(evl::Gate::open(name, OP)?),
            }),
        }
    }

    fn guard(&self) -> MutexGuard<'_> {
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks, waiting as long as it takes.
    ///
    /// On the EVL backend the caller must be attached to the core ([`crate::Thread::attach`]):
    /// the lock word holds the owner's core handle ([`crate::ErrorKind::PermissionDenied`]
    /// otherwise). The same holds for [`lock_until`](Mutex::lock_until) and
    /// [`try_lock`](Mutex::try_lock).
    pub fn lock(&self) -> Result<MutexGuard<'_>> {
        match &self.inner {
            Inner::Host(m) => {
                crate::thread::types::require_attached("Mutex::lock")?;
                m.gate_lock().lock(None, "Mutex::lock")?
            }
            Inner::Evl(g) => g.lock(None, "Mutex::lock")?,
        }
        Ok(self.guard())
    }

    /// Locks, waiting until the absolute monotonic `deadline` at most.
    pub fn lock_until(&self, deadline: Timestamp) -> Result<MutexGuard<'_>> {
        match &self.inner {
            Inner::Host(m) => {
                crate::thread::types::require_attached("Mutex::lock_until")?;
                m.gate_lock().lock(Some(deadline), "Mutex::lock_until")?
            }
            Inner::Evl(g) => g.lock(Some(deadline), "Mutex::lock_until")?,
        }
        Ok(self.guard())
    }

    /// Locks if free ([`crate::ErrorKind::WouldBlock`] otherwise).
    pub fn try_lock(&self) -> Result<MutexGuard<'_>> {
        let ok = match &self.inner {
            Inner::Host(m) => {
                crate::thread::types::require_attached("Mutex::try_lock")?;
                m.gate_lock().try_lock()
            }
            Inner::Evl(g) => {
                g.try_lock("Mutex::try_lock")?;
                true
            }
        };
        if ok {
            Ok(self.guard())
        } else {
            Err(crate::Error::new(
                crate::ErrorKind::WouldBlock,
                "Mutex::try_lock",
                "",
            ))
        }
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        match &self.mutex.inner {
            Inner::Host(m) => m.gate_lock().unlock(),
            Inner::Evl(g) => g.unlock(),
        }
    }
}
