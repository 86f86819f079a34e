//! [`Semaphore`]: an async counting semaphore, FIFO-fair, with permits as guards.
//!
//! The shape is tokio's `Semaphore`. The permit queue is the private `sync/permits.rs`
//! (lock-free while nobody waits; see [the module docs](super) for what each call may do).

use super::permits::{self, Acquire as RawAcquire, List, Permits, TryFail};
use crate::loom::lock::RawLock;
use crate::loom::sync::atomic::AtomicUsize;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

/// An async counting semaphore: [`acquire`](Semaphore::acquire) waits for a permit, in FIFO
/// order (a waiter that asks for many permits is not overtaken by later ones that ask for
/// few), and returns it as a guard that gives it back when dropped.
///
/// [`Semaphore::new`] is `const` (a `Semaphore` can live in a `static`); nothing allocates.
/// Every method may be called from any thread.
///
/// ```
/// use evl::sync::Semaphore;
/// # let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
/// static SLOTS: Semaphore = Semaphore::new(2);
/// evl::block_on(async {
///     let a = SLOTS.acquire().await.unwrap();
///     let _b = SLOTS.acquire().await.unwrap();
///     assert!(SLOTS.try_acquire().is_err());
///     drop(a);
///     assert!(SLOTS.try_acquire().is_ok());
/// }).unwrap();
/// ```
pub struct Semaphore {
    pub(crate) permits: Permits,
}

/// The semaphore was closed ([`Semaphore::close`]): no permit will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] got no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Too few permits are there now, or other tasks wait for permits before this call.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("the semaphore is closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl From<TryFail> for TryAcquireError {
    fn from(f: TryFail) -> Self {
        match f {
            TryFail::Closed => TryAcquireError::Closed,
            TryFail::NoPermits => TryAcquireError::NoPermits,
        }
    }
}

impl Semaphore {
    /// The most permits a semaphore holds; more given back are dropped (no panic).
    pub const MAX_PERMITS: usize = permits::MAX_PERMITS;

    /// A semaphore with `permits` permits (clamped to [`MAX_PERMITS`](Self::MAX_PERMITS)).
    pub const fn new(permits: usize) -> Self {
        Semaphore {
            permits: Permits {
                state: AtomicUsize::new(Permits::state_for(permits)),
                lock: RawLock::new(),
                list: UnsafeCell::new(List::new()),
            },
        }
    }

    /// Permits available now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Adds `n` permits: to the oldest waiters first. Never waits for another thread while
    /// nobody waits for permits; otherwise takes the queue's lock briefly (see [the module
    /// docs](super)).
    pub fn add_permits(&self, n: usize) {
        self.permits.release(n);
    }

    /// Closes the semaphore: every waiting [`acquire`](Semaphore::acquire) fails with
    /// [`AcquireError`], and so does every later one. Permits held stay valid.
    pub fn close(&self) {
        self.permits.close();
    }

    /// Whether [`close`](Semaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    /// Waits for one permit.
    ///
    /// # Cancellation
    /// Cancel-safe: dropping the future before it completes gives back whatever it had been
    /// assigned (to the next waiters, in order) and leaves the queue; the other waiters keep
    /// their order. Dropping a queued future takes the queue's lock briefly.
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, all at once (as [`acquire`](Semaphore::acquire); `n = 0`
    /// completes at once).
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        Acquire {
            sem: self,
            raw: RawAcquire::new(&self.permits, n as usize),
        }
    }

    /// One permit if one is there and nobody waits before this call. Never waits.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if they are there and nobody waits before this call. Never waits.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.permits.try_acquire(n as usize)?;
        Ok(SemaphorePermit { sem: self, n })
    }

    /// As [`acquire`](Semaphore::acquire), with a permit that holds the `Arc` (`'static`).
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// As [`acquire_many`](Semaphore::acquire_many), with a permit that holds the `Arc`.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many(n).await?.forget();
        Ok(OwnedSemaphorePermit { sem: self, n })
    }

    /// As [`try_acquire`](Semaphore::try_acquire), with a permit that holds the `Arc`.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.permits.try_acquire(1)?;
        Ok(OwnedSemaphorePermit { sem: self, n: 1 })
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Semaphore::acquire`]: a permit, or [`AcquireError`] once closed.
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    raw: RawAcquire<'a>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `raw` is structurally pinned: never moved out of a pinned Acquire.
        let this = unsafe { self.get_unchecked_mut() };
        let sem = this.sem;
        // SAFETY: `this` came from a pinned Acquire and `raw` is never moved out of it (structural
        // pinning), so pinning the field is sound.
        let raw = unsafe { Pin::new_unchecked(&mut this.raw) };
        let n = raw.n() as u32;
        raw.poll(cx).map(|ok| {
            if ok {
                Ok(SemaphorePermit { sem, n })
            } else {
                Err(AcquireError(()))
            }
        })
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("stage", &self.raw.stage())
            .finish_non_exhaustive()
    }
}

/// Permits taken from a [`Semaphore`]; given back when dropped.
#[must_use = "dropping the permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: u32,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good (they are not given back).
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.permits.release(self.n as usize);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Permits taken from an `Arc<Semaphore>`; given back when dropped.
#[must_use = "dropping the permit gives it back at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: u32,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }

    /// The semaphore these permits are from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.permits.release(self.n as usize);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}
