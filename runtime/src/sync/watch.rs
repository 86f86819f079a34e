//! [`watch`](self): one value, many readers, each told when it changes.
//!
//! The value sits beside an evl-core [`RawLock`](crate::core::lock); a version word says
//! whether it changed (read without the lock: [`Receiver::has_changed`] and
//! [`Receiver::changed`] never take it), and a [`Notify`] wakes the receivers waiting in
//! [`Receiver::changed`]. [`channel`] allocates once; nothing after.
//!
//! # No guard, no user code under the lock
//! Reading gives a clone ([`Receiver::borrow`], `T: Clone`), not a guard that holds the lock:
//! the lock is held only for the length of one `T::clone` (a read) or one move of the value
//! (a send), and no closure of the caller's runs under it ([`Sender::send_modify`] modifies
//! a clone outside it and stores the result, and takes `&mut Sender` so that no other send
//! of this channel runs meanwhile). So no thread can hold the lock while it asks for it
//! again: borrowing, sending and modifying in any order, from any thread, never deadlocks
//! and never panics (the lock is not recursive). Prefer `Copy` or small plain values on
//! real-time threads: a clone of a value that owns heap memory allocates.
//!
//! # Why a lock and not a lock-free value
//! The critical sections are a `T::clone` or a move, so the lock is uncontended unless two
//! threads touch the same channel at the same instant; then the waiter waits one clone.
//! Uncontended it costs one compare-and-swap to take and one to give back, on both backends;
//! contended, on the host a priority-inheriting futex wait (the holder is boosted), on the
//! EVL backend short out-of-band sleeps for an attached thread (no stage switch). The
//! lock-free designs cost more for a general `T`:
//! * a seqlock (readers copy the value and retry if a write overlapped) reads torn data
//!   while a write runs: sound only for values read with atomic loads (a `Copy` type of a
//!   few words), and a reader can starve while the sender keeps writing;
//! * slots with reader counts (the sender writes a free slot and publishes its index, a
//!   reader pins the current slot while it clones) need as many slots as there can be
//!   readers at once plus two, or else the sender must wait for a reader to unpin — an
//!   unbounded, *non*-priority-inheriting wait of the real-time sender on a reader of any
//!   priority, worse than the lock's bounded, inheriting one;
//! * a pointer swap (`arc-swap`) allocates per value.
//!
//! The version word and the wait for a change are lock-free already; only the value itself
//! is behind the lock.

use super::Notify;
use crate::loom::lock::RawLock;
use core::cell::UnsafeCell;
use core::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;

/// The sender is gone (the low bit of `version`).
const CLOSED: u64 = 1;
/// One change.
const STEP: u64 = 2;

struct Shared<T> {
    lock: RawLock,
    value: UnsafeCell<T>,
    /// `changes * STEP | CLOSED`.
    version: AtomicU64,
    receivers: AtomicUsize,
    changed: Notify,
    /// Rung when the last receiver goes (for `Sender::closed`).
    no_receivers: Notify,
}

// SAFETY: the value is read (cloned) and written only under `lock`; it is cloned on
// receivers' threads (`&T` on several threads at different times) and replaced from the
// sender's thread: `T: Send + Sync`.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}
// SAFETY: moving a Shared to another thread moves its `T` (`T: Send`); the rest is atomics, the
// lock word and Notifies, none tied to a thread.
unsafe impl<T: Send + Sync> Send for Shared<T> {}

/// A watch channel holding `init`. Allocates once; nothing after.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        lock: RawLock::new(),
        value: UnsafeCell::new(init),
        version: AtomicU64::new(0),
        receivers: AtomicUsize::new(1),
        changed: Notify::new(),
        no_receivers: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// The sending end (one; not `Clone`).
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving end; clone it (or [`Sender::subscribe`]) for more.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

/// Every receiver is gone: the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every receiver is gone")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// The sender is gone: no change will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender is gone")
    }
}

impl std::error::Error for RecvError {}

impl<T> Shared<T> {
    /// Runs `f` (a clone, a replace: never the caller's code) on the value under the lock.
    fn locked<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: we hold the lock: nobody else reads or writes the value meanwhile.
        let r = f(unsafe { &mut *self.value.get() });
        // SAFETY: taken above, on this thread.
        unsafe { self.lock.unlock() };
        r
    }

    /// Stores `value` and publishes a change; returns the old value (for the caller to drop
    /// outside the lock).
    fn replace(&self, value: T) -> T {
        let old = self.locked(|v| {
            let old = core::mem::replace(v, value);
            // Under the lock: a reader that clones the new value sees the new version.
            self.version.fetch_add(STEP, Release);
            old
        });
        self.changed.notify_waiters();
        old
    }
}

impl<T> Sender<T> {
    /// Replaces the value and tells every receiver; fails with the value if no receiver is
    /// left (the value is then not stored). Never waits for another thread except for the
    /// value's lock (held by another thread for one clone or one store).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even with no receiver; returns the old one (dropped by the caller,
    /// outside the lock).
    pub fn send_replace(&self, value: T) -> T {
        self.shared.replace(value)
    }

    /// Modifies the value and tells every receiver: `f` runs on a clone, outside the lock,
    /// and the result is stored (so `f` may borrow this channel's receivers). `&mut self`:
    /// no other send of this channel runs between the clone and the store. The old value is
    /// dropped here, outside the lock.
    pub fn send_modify(&mut self, f: impl FnOnce(&mut T))
    where
        T: Clone,
    {
        self.send_if_modified(|v| {
            f(v);
            true
        });
    }

    /// Modifies the value as [`send_modify`](Sender::send_modify); stores it and tells the
    /// receivers only if `f` returns true.
    pub fn send_if_modified(&mut self, f: impl FnOnce(&mut T) -> bool) -> bool
    where
        T: Clone,
    {
        let mut v = self.borrow();
        if !f(&mut v) {
            return false;
        }
        drop(self.shared.replace(v));
        true
    }

    /// A clone of the value (the lock is held for the clone only; see the [module
    /// docs](self)).
    pub fn borrow(&self) -> T
    where
        T: Clone,
    {
        self.shared.locked(|v| v.clone())
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.load(Acquire) & !CLOSED,
        }
    }

    /// Receivers now.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Acquire)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone.
    ///
    /// # Cancellation
    /// Cancel-safe: it only watches.
    pub async fn closed(&self) {
        loop {
            let n = self.shared.no_receivers.notified();
            if self.is_closed() {
                return;
            }
            n.await;
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.version.fetch_or(CLOSED, Release);
        self.shared.changed.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// A clone of the value, without marking it seen (the lock is held for the clone only;
    /// see the [module docs](self)).
    pub fn borrow(&self) -> T
    where
        T: Clone,
    {
        self.shared.locked(|v| v.clone())
    }

    /// A clone of the value, marked seen: a later [`changed`](Receiver::changed) waits for a
    /// newer one.
    pub fn borrow_and_update(&mut self) -> T
    where
        T: Clone,
    {
        let (v, version) = self.shared.locked(|v| {
            // Under the lock: no send changes the version meanwhile.
            (v.clone(), self.shared.version.load(Acquire) & !CLOSED)
        });
        self.seen = version;
        v
    }

    /// Whether the value changed since this receiver last marked it seen; `Err` once the
    /// sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let v = self.shared.version.load(Acquire);
        if v & CLOSED != 0 {
            return Err(RecvError(()));
        }
        Ok(v & !CLOSED != self.seen)
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.version.load(Acquire) & !CLOSED;
    }

    /// Waits for a value this receiver has not seen, and marks it seen. `Err` once the
    /// sender is gone (even with a change pending, as in tokio: read it with `borrow`).
    ///
    /// # Cancellation
    /// Cancel-safe: nothing is marked seen unless it returns.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            // Created before the check: a notify_waiters after the check completes it.
            let n = self.shared.changed.notified();
            let v = self.shared.version.load(Acquire);
            if v & !CLOSED != self.seen {
                self.seen = v & !CLOSED;
                return Ok(());
            }
            if v & CLOSED != 0 {
                return Err(RecvError(()));
            }
            n.await;
        }
    }

    /// Whether both receivers watch the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, AcqRel) == 1 {
            self.shared.no_receivers.notify_waiters();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("seen", &self.seen)
            .finish()
    }
}
