//! [`RwLock`]: an async reader-writer lock, FIFO-fair, whose guards may be held across
//! `.await`.
//!
//! A permit queue (the private `sync/permits.rs`) of [`MAX_READS`] permits: a reader takes
//! one, a writer takes them all. The queue is FIFO with partial assignment, so a waiting
//! writer collects the permits readers give back and readers that come after it wait behind
//! it: neither side starves.

use super::permits::{Acquire as RawAcquire, List, Permits};
use crate::loom::lock::RawLock;
use crate::loom::sync::atomic::AtomicUsize;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

/// The most readers at once (a reader takes one permit, a writer all of them).
pub const MAX_READS: u32 = u32::MAX >> 3;

/// An async reader-writer lock: many readers or one writer, served in FIFO order.
///
/// [`RwLock::new`] is `const`; nothing allocates; it may be shared between executors on
/// different threads (`Sync` for `T: Send + Sync`).
pub struct RwLock<T: ?Sized> {
    permits: Permits,
    data: UnsafeCell<T>,
}

// SAFETY: a writer gets `&mut T` alone (all permits), readers get `&T` together: as std's
// RwLock, `Send` needs `T: Send`, `Sync` needs `T: Send + Sync`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: sharing `&RwLock` gives `&T` to readers on several threads at once (`T: Sync`), and
// gives `&mut T` to one writer at a time, holding every permit, on any thread (`T: Send`); the
// permits queue is itself Sync.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// [`RwLock::try_read`] / [`RwLock::try_write`] would have had to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held in a conflicting mode, or others wait for it")
    }
}

impl std::error::Error for TryLockError {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub const fn new(value: T) -> Self {
        RwLock {
            permits: Permits {
                state: AtomicUsize::new(Permits::state_for(MAX_READS as usize)),
                lock: RawLock::new(),
                list: UnsafeCell::new(List::new()),
            },
            data: UnsafeCell::new(value),
        }
    }

    /// The value (the lock is consumed).
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access, in FIFO order (behind any writer that asked before).
    ///
    /// # Cancellation
    /// Cancel-safe: dropping the future leaves the queue, handing on whatever it had been
    /// assigned; other waiters keep their order.
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            raw: RawAcquire::new(&self.permits, 1),
        }
    }

    /// Waits for exclusive access, in FIFO order.
    ///
    /// # Cancellation
    /// Cancel-safe, as [`read`](RwLock::read): the permits it had collected go to the next
    /// waiters.
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            raw: RawAcquire::new(&self.permits, MAX_READS as usize),
        }
    }

    /// Shared access if no writer holds or waits. Never waits.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.permits.try_acquire(1) {
            Ok(()) => Ok(RwLockReadGuard { lock: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Exclusive access if nobody holds or waits. Never waits.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.permits.try_acquire(MAX_READS as usize) {
            Ok(()) => Ok(RwLockWriteGuard {
                lock: self,
                _not_sync: PhantomData,
            }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, through `&mut` (no lock needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("free_reads", &self.permits.available())
            .finish_non_exhaustive()
    }
}

/// Polls a raw acquire of a lock whose queue is never closed.
fn poll_raw<'a>(
    raw: &mut RawAcquire<'a>,
    permits: &'a Permits,
    n: usize,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        // SAFETY: the caller's future is pinned and `raw` is structurally pinned in it.
        match unsafe { Pin::new_unchecked(&mut *raw) }.poll(cx) {
            Poll::Ready(true) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
            // Never closed; should it be, ask again rather than hand out a guard.
            Poll::Ready(false) => *raw = RawAcquire::new(permits, n),
        }
    }
}

/// The future of [`RwLock::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    raw: RawAcquire<'a>,
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `raw` is structurally pinned: never moved out (poll_raw replaces it in
        // place only once it is Done, owning nothing and not linked).
        let this = unsafe { self.get_unchecked_mut() };
        let lock = this.lock;
        poll_raw(&mut this.raw, &lock.permits, 1, cx).map(|()| RwLockReadGuard { lock })
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read")
            .field("stage", &self.raw.stage())
            .finish_non_exhaustive()
    }
}

/// The future of [`RwLock::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    raw: RawAcquire<'a>,
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `raw` is structurally pinned: never moved out (poll_raw replaces it in place only
        // once it is Done, owning nothing and not linked), and `lock` is a shared reference, so
        // nothing pinned moves.
        let this = unsafe { self.get_unchecked_mut() };
        let lock = this.lock;
        poll_raw(&mut this.raw, &lock.permits, MAX_READS as usize, cx).map(|()| RwLockWriteGuard {
            lock,
            _not_sync: PhantomData,
        })
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("stage", &self.raw.stage())
            .finish_non_exhaustive()
    }
}

/// Shared access to a [`RwLock`]'s value; released when dropped.
#[must_use = "dropping the guard releases at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read permit: no writer holds all of them.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to a [`RwLock`]'s value; released when dropped.
#[must_use = "dropping the guard releases at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_sync: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit: no other access exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit (MAX_READS): no reader or other writer can access
        // the value, and `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(MAX_READS as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
