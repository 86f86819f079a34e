//! [`Mutex`]: an async mutex, FIFO-fair, whose guard may be held across `.await`.
//!
//! A one-permit [`Semaphore`] queue (the private `sync/permits.rs`) beside
//! the data: lock-free while nobody waits (see [the module docs](super)).

use super::permits::{Acquire as RawAcquire, Permits};
use super::Semaphore;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

/// An async mutual-exclusion lock: [`lock`](Mutex::lock) waits its turn (FIFO: tasks get the
/// lock in the order they first asked), and the guard may be held across `.await`.
///
/// [`Mutex::new`] is `const`; nothing allocates; it may be shared between executors on
/// different threads (`Mutex<T>` is `Sync` for `T: Send`).
///
/// ```
/// use evl::sync::Mutex;
/// # let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
/// static COUNT: Mutex<u64> = Mutex::new(0);
/// evl::block_on(async {
///     let mut g = COUNT.lock().await;
///     evl::yield_now().await; // the guard may be held across an await
///     *g += 1;
/// }).unwrap();
/// assert_eq!(*COUNT.try_lock().unwrap(), 1);
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and at most one guard exists at a time
// (the one permit); moving the guard's access between threads needs `T: Send`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: `&Mutex` reaches the value only through a guard, and the one permit lets one guard exist
// at a time: `&mut T` goes to one thread at a time, which may be any thread (`T: Send`). `&Mutex`
// itself never shares `&T` between threads (sharing a guard needs `T: Sync`, by the guard's impl).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// [`Mutex::try_lock`] found the lock held (or other tasks waiting for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Mutex {
            sem: Semaphore::new(1),
            data: UnsafeCell::new(value),
        }
    }

    /// The value (no lock needed: the mutex is consumed).
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, in FIFO order.
    ///
    /// # Cancellation
    /// Cancel-safe: dropping the future before it completes leaves the queue without
    /// taking the lock; if the lock had just been handed to it, it passes to the next waiter.
    /// Other waiters keep their order.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            raw: RawAcquire::new(&self.sem.permits, 1),
        }
    }

    /// The lock if it is free and nobody waits for it. Never waits.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.permits.try_acquire(1) {
            Ok(()) => Ok(MutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, through `&mut` (no lock needed: the borrow is exclusive).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// As [`lock`](Mutex::lock), with a guard that holds the `Arc` (`'static`).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        core::mem::forget(self.lock().await);
        OwnedMutexGuard { mutex: self }
    }

    fn permits(&self) -> &Permits {
        &self.sem.permits
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &(self.permits().available() == 0))
            .finish_non_exhaustive()
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    raw: RawAcquire<'a>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `raw` is structurally pinned: never moved out of a pinned Lock.
        let this = unsafe { self.get_unchecked_mut() };
        let mutex = this.mutex;
        loop {
            // SAFETY: `this.raw` lives in the pinned Lock and is never moved out of it (it is
            // replaced in place only once Done, owning nothing and not linked): structural pinning.
            match unsafe { Pin::new_unchecked(&mut this.raw) }.poll(cx) {
                Poll::Ready(true) => return Poll::Ready(MutexGuard { mutex }),
                Poll::Pending => return Poll::Pending,
                // A mutex's queue is never closed; should it ever be, ask again rather than
                // hand out a guard without the permit.
                Poll::Ready(false) => {
                    // `raw` is Done (owns nothing, not linked): replacing it in place is fine.
                    this.raw = RawAcquire::new(mutex.permits(), 1);
                }
            }
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("stage", &self.raw.stage())
            .finish_non_exhaustive()
    }
}

/// The lock of a [`Mutex`]: derefs to the value; unlocks when dropped (the next waiter in
/// line gets it).
#[must_use = "dropping the guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the one permit: no other access exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the mutex's one permit, so no other guard and no other access to
        // the value exists, and `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.permits().release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The lock of an `Arc<Mutex>` ([`Mutex::lock_owned`]).
#[must_use = "dropping the guard unlocks at once"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the one permit: no other access exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the mutex's one permit, so no other guard and no other access to
        // the value exists, and `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.permits().release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
