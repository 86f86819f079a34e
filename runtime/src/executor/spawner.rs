//! [`Spawner`]: spawning onto an executor from any thread, and [`spawner`] for the
//! current one.

use super::shared::{current, Shared};
use super::spawn_error::SpawnError;
use crate::task::join::JoinHandle;
use core::future::Future;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};
use pin_project_lite::pin_project;
use std::fmt;

/// Spawns onto an executor from any thread.
pub struct Spawner {
    shared: NonNull<Shared>,
}

impl Spawner {
    /// A spawner owning the reference `shared` carries (the caller took it).
    pub(super) fn from_counted(shared: NonNull<Shared>) -> Self {
        Spawner { shared }
    }
}

// SAFETY: a Spawner only reaches the executor through its thread-safe parts (arena claims,
// the inbox, the parker, the wake element) and owns one reference to it.
unsafe impl Send for Spawner {}
// SAFETY: through `&Spawner` a thread only spawns (arena claims, the inbox's CAS push, the parker
// and the wake element: all atomic, built for any thread) or clones (an atomic reference count);
// nothing in `Shared` that is executor-thread-only is reached.
unsafe impl Sync for Spawner {}

impl Spawner {
    /// Spawns `fut` onto the executor; it runs there.
    pub fn spawn<F>(&self, fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn`](Spawner::spawn), with a name for reports.
    pub fn spawn_named<F>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }
}

impl Spawner {
    /// Spawns the future `make` builds, building it on the executor's thread: the future may
    /// be `!Send` (timers, `Rc`, ...), only the closure crosses threads. The task slot must
    /// hold the larger of the closure and the future.
    pub fn spawn_with<C, F>(&self, make: C) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        C: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(
            self.shared.as_ptr(),
            Lazy::Make { make: Some(make) },
            "task",
        )
    }
}

pin_project! {
    /// A future built on first poll (on the executor thread) by a closure.
    #[project = LazyProj]
    enum Lazy<C, F> {
        Make { make: Option<C> },
        Run { #[pin] fut: F },
    }
}

impl<C: FnOnce() -> F, F: Future> Future for Lazy<C, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let LazyProj::Make { make } = self.as_mut().project() {
            let make = make.take().expect("Lazy polled after its closure panicked");
            // Nothing is pinned yet: the closure moves out, the future moves in.
            self.set(Lazy::Run { fut: make() });
        }
        match self.project() {
            LazyProj::Run { fut } => fut.poll(cx),
            LazyProj::Make { .. } => unreachable!("set to Run above"),
        }
    }
}

impl Clone for Spawner {
    fn clone(&self) -> Self {
        Shared::ref_inc(self.shared.as_ptr());
        Spawner {
            shared: self.shared,
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { Shared::ref_dec(self.shared.as_ptr()) };
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

/// A [`Spawner`] for the executor running the current task (to hand to other threads or
/// executors), or `None` outside an executor.
pub fn spawner() -> Option<Spawner> {
    let cur = current()?;
    Shared::ref_inc(cur);
    // The reference just taken moves into the Spawner.
    let shared = NonNull::new(cur as *mut Shared)?;
    Some(Spawner { shared })
}

impl Spawner {
    pub(crate) fn shared_ptr(&self) -> *const Shared {
        self.shared.as_ptr()
    }
}
