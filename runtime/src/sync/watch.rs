//! [`watch`](self): one value, many readers, each told when it changes.
//!
//! The value sits beside an evl-core [`RawLock`](crate::core::lock), held only while a value
//! is replaced or read through a [`Ref`] (short, bounded: no `.await` may happen under it);
//! a version word says whether it changed, and a [`Notify`] wakes the
//! receivers waiting in [`Receiver::changed`]. [`channel`] allocates once; nothing after.

use super::Notify;
use crate::loom::lock::RawLock;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
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

// SAFETY: the value is read and written only under `lock` (Ref holds it; senders take it);
// it is shared between threads (`&T` from several receivers at different times) and replaced
// from the sender's thread: `T: Send + Sync`.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}
// SAFETY: as above.
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

/// A read of the value: holds the value's lock until dropped.
///
/// Keep it short: do not `.await`, and do not take a second `Ref` (or send) on the same
/// channel from the same thread while holding one (the lock is not recursive: that panics).
pub struct Ref<'a, T> {
    shared: &'a Shared<T>,
    changed: bool,
    _not_send: PhantomData<*const ()>,
}

impl<T> Ref<'_, T> {
    /// Whether this value was new to the receiver that borrowed it (always false from the
    /// sender).
    pub fn has_changed(&self) -> bool {
        self.changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock: nobody writes the value meanwhile.
        unsafe { &*self.shared.value.get() }
    }
}

impl<T> Drop for Ref<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken when this Ref was made, by this thread (Ref is !Send).
        unsafe { self.shared.lock.unlock() };
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Shared<T> {
    fn borrow(&self, changed: bool) -> Ref<'_, T> {
        self.lock.lock();
        Ref {
            shared: self,
            changed,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` on the value under the lock; if it returns true, publishes a change.
    fn modify(&self, f: impl FnOnce(&mut T) -> bool) -> bool {
        self.lock.lock();
        // SAFETY: we hold the lock.
        let changed = f(unsafe { &mut *self.value.get() });
        if changed {
            self.version.fetch_add(STEP, Release);
        }
        // SAFETY: taken above.
        unsafe { self.lock.unlock() };
        if changed {
            self.changed.notify_waiters();
        }
        changed
    }
}

impl<T> Sender<T> {
    /// Replaces the value and tells every receiver; fails with the value if no receiver is
    /// left (the value is then not stored). Never waits for another thread except for the
    /// value's lock (held by a reader's [`Ref`]).
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
        let sh = &*self.shared;
        sh.lock.lock();
        // SAFETY: we hold the lock.
        let old = core::mem::replace(unsafe { &mut *sh.value.get() }, value);
        sh.version.fetch_add(STEP, Release);
        // SAFETY: taken above.
        unsafe { sh.lock.unlock() };
        sh.changed.notify_waiters();
        old
    }

    /// Modifies the value in place and tells every receiver.
    pub fn send_modify(&self, f: impl FnOnce(&mut T)) {
        self.shared.modify(|v| {
            f(v);
            true
        });
    }

    /// Modifies the value in place; tells the receivers only if `f` returns true.
    pub fn send_if_modified(&self, f: impl FnOnce(&mut T) -> bool) -> bool {
        self.shared.modify(f)
    }

    /// Reads the value (see [`Ref`]).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.borrow(false)
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
    /// Reads the value without marking it seen (see [`Ref`]).
    pub fn borrow(&self) -> Ref<'_, T> {
        let v = self.shared.version.load(Acquire) & !CLOSED;
        self.shared.borrow(v != self.seen)
    }

    /// Reads the value and marks it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let mut r = self.shared.borrow(false);
        // Under the lock: no send changes the version meanwhile.
        let v = self.shared.version.load(Acquire) & !CLOSED;
        r.changed = v != self.seen;
        self.seen = v;
        r
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
