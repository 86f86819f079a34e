//! Events (EVL: an event monitor with the GATED protocol — a condition variable).

mod evl;
mod host;

use crate::backend::host::monitor::{Kind, Monitor};
use crate::backend::{self, Backend};
use crate::error::Result;
use crate::mutex::{self, MutexGuard};
use crate::name::{Name, Visibility};
use crate::time::Timestamp;

/// A condition variable gated by a [`Mutex`](crate::Mutex), as EVL events are.
///
/// [`wait`](Event::wait) atomically releases the guard's mutex and sleeps until
/// [`signal`](Event::signal) (wakes the first waiter) or [`broadcast`](Event::broadcast) (wakes
/// all), then re-locks the mutex before returning — also on timeout. As with any condition
/// variable, recheck the predicate after waking. Events are not pollable (EVL only polls
/// semaphores and flags): for notifications awaited by a reactor use
/// [`Semaphore`](crate::Semaphore) or [`Flags`](crate::Flags).
#[derive(Debug)]
pub struct Event {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(Monitor),
    Evl(evl::CondEvent),
}

impl Event {
    /// A private event.
    pub fn new() -> Result<Self> {
        Self::create(Visibility::Private)
    }

    /// An event, private or public.
    pub fn create(vis: Visibility<'_>) -> Result<Self> {
        const OP: &str = "Event::create";
        vis.validate(OP)?;
        match backend::current()? {
            Backend::Host => Ok(Event {
                inner: Inner::Host(Monitor::create(Kind::Event, 0, vis, OP)?),
            }),
            Backend::Evl => Ok(Event {
                inner: Inner::Evl(evl::CondEvent::create(vis, OP)?),
            }),
        }
    }

    /// Opens the public event `name`.
    pub fn open(name: &str) -> Result<Self> {
        const OP: &str = "Event::open";
        Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => Ok(Event {
                inner: Inner::Host(Monitor::open(Kind::Event, name, OP)?),
            }),
            Backend::Evl => Ok(Event {
                inner: Inner::Evl(evl::CondEvent::open(name, OP)?),
            }),
        }
    }

    /// Releases `guard`'s mutex, waits for a signal, re-locks.
    pub fn wait(&self, guard: &mut MutexGuard<'_>) -> Result<()> {
        self.wait_inner(guard, None, "Event::wait")
    }

    /// As [`wait`](Event::wait), until the absolute monotonic `deadline` at most
    /// ([`crate::ErrorKind::TimedOut`], with the mutex locked again).
    pub fn wait_until(&self, guard: &mut MutexGuard<'_>, deadline: Timestamp) -> Result<()> {
        self.wait_inner(guard, Some(deadline), "Event::wait_until")
    }

    fn wait_inner(
        &self,
        guard: &mut MutexGuard<'_>,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<()> {
        match (&self.inner, &guard.mutex.inner) {
            (Inner::Host(ev), mutex::Inner::Host(gate)) => ev.event_wait(gate, deadline, op),
            (Inner::Evl(ev), mutex::Inner::Evl(gate)) => ev.wait(gate, deadline, op),
            // One backend serves a process: the pairs below cannot be built.
            (Inner::Host(_), mutex::Inner::Evl(_)) | (Inner::Evl(_), mutex::Inner::Host(_)) => {
                Err(crate::Error::new(
                    crate::ErrorKind::InvalidArgument,
                    op,
                    "the event and the mutex come from different backends",
                ))
            }
        }
    }

    /// Wakes the first waiter, if any; returns how many were woken (0 or 1).
    ///
    /// On the EVL backend the core delivers the signal when the mutex is released: called
    /// with the mutex held, the waiter wakes at the caller's unlock, and a second signal under
    /// the same hold returns 0 (one wake per release); called without it, the mutex is taken
    /// and released here (which needs an attached thread, and a handle that has waited with
    /// that mutex; otherwise [`crate::ErrorKind::PermissionDenied`] or
    /// [`crate::ErrorKind::InvalidArgument`] says to lock it first).
    pub fn signal(&self) -> Result<usize> {
        match &self.inner {
            Inner::Host(m) => m.event_signal(false, "Event::signal"),
            Inner::Evl(ev) => ev.signal(false, "Event::signal"),
        }
    }

    /// Wakes every waiter; returns how many were woken.
    ///
    /// On the EVL backend (delivery as for [`signal`](Event::signal)) the core does not say
    /// how many threads it wakes: the count is that of the threads waiting through this
    /// handle, at least 1 when the core reports any waiter, 0 exactly when none waits.
    /// Waiters in other processes are woken but not counted.
    pub fn broadcast(&self) -> Result<usize> {
        match &self.inner {
            Inner::Host(m) => m.event_signal(true, "Event::broadcast"),
            Inner::Evl(ev) => ev.signal(true, "Event::broadcast"),
        }
    }
}
