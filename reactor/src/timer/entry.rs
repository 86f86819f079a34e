//! [`Entry`]: one timer node, embedded in the future that waits for it.
//!
//! The entry holds everything the wheel needs (deadline, list links, where it is queued) plus
//! the waker of the task waiting for it. The wheel links entries by pointer and never owns or
//! allocates them; the rules that make those pointers valid are the ground rules in the
//! [module documentation](super#ground-rules).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomPinned;
use std::ptr::NonNull;
use std::task::Waker;

/// A link to a neighbouring entry in a wheel list.
pub(super) type Link = Option<NonNull<Entry>>;

/// Where a queued entry sits in its wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pos {
    /// Not queued.
    Idle,
    /// In the wheel's due list: its deadline is at or behind the wheel's cursor.
    Due,
    /// In slot `slot` of level `level`: its deadline is ahead of the cursor.
    Slot { level: u8, slot: u8 },
}

/// A timer node: a deadline and a waker, linked into one [`Wheel`](super::Wheel) while armed.
///
/// It is meant to live inside a pinned future (`PhantomPinned` makes it `!Unpin`); arming it
/// with [`Wheel::insert`](super::Wheel::insert) is `unsafe` because the wheel then keeps a
/// pointer to it. It is `!Send` and `!Sync`: it is touched only by the thread of the executor
/// whose wheel holds it. A future that embeds an entry and wants to be `Send` must argue on its
/// own that the entry is idle whenever the future can change threads.
///
/// Dropping an entry that is still queued would leave a dangling pointer in the wheel; the
/// owner must [`remove`](super::Wheel::remove) it first. As a last line of defence, `Drop`
/// aborts the process if it finds the entry queued.
pub struct Entry {
    /// Absolute deadline in nanoseconds (CLOCK_MONOTONIC) of the last arming.
    deadline: Cell<u64>,
    /// Next entry in the same wheel list.
    pub(super) next: Cell<Link>,
    /// Previous entry in the same wheel list.
    pub(super) prev: Cell<Link>,
    /// Where the entry sits in its wheel; `Pos::Idle` exactly when `owner` is 0.
    pub(super) pos: Cell<Pos>,
    /// Identity of the wheel the entry is queued in, 0 when idle.
    pub(super) owner: Cell<u64>,
    /// The waker of the task waiting for this deadline.
    waker: Cell<Option<Waker>>,
    _pinned: PhantomPinned,
}

impl Entry {
    /// An idle entry (not queued, deadline 0, no waker).
    pub const fn new() -> Entry {
        Entry {
            deadline: Cell::new(0),
            next: Cell::new(None),
            prev: Cell::new(None),
            pos: Cell::new(Pos::Idle),
            owner: Cell::new(0),
            waker: Cell::new(None),
            _pinned: PhantomPinned,
        }
    }

    /// The deadline given at the last [`insert`](super::Wheel::insert) (0 if never armed).
    ///
    /// It stays readable after the entry fired, so a timer can report the instant it was due.
    pub fn deadline(&self) -> u64 {
        self.deadline.get()
    }

    /// Whether the entry is armed in some wheel (it has not fired nor been removed since).
    pub fn is_queued(&self) -> bool {
        self.owner.get() != 0
    }

    /// Stores `waker` as the one to wake at the deadline, unless the stored one already wakes
    /// the same task (then nothing is cloned).
    pub fn register(&self, waker: &Waker) {
        let current = self.waker.take();
        let next = match current {
            Some(w) if w.will_wake(waker) => w,
            _ => waker.clone(),
        };
        self.waker.set(Some(next));
    }

    /// Takes the stored waker out, leaving none.
    pub fn take_waker(&self) -> Option<Waker> {
        self.waker.take()
    }

    /// Wakes the stored waker, if any, and forgets it.
    pub fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Whether the stored waker wakes the same task as `waker` (false when none is stored).
    pub fn will_wake(&self, waker: &Waker) -> bool {
        let w = self.waker.take();
        let same = w.as_ref().is_some_and(|w| w.will_wake(waker));
        self.waker.set(w);
        same
    }

    /// Whether a waker is stored.
    pub fn has_waker(&self) -> bool {
        let w = self.waker.take();
        let has = w.is_some();
        self.waker.set(w);
        has
    }

    pub(super) fn set_deadline(&self, deadline: u64) {
        self.deadline.set(deadline);
    }

    /// Marks the entry idle and clears its links (the wheel has already unlinked it).
    pub(super) fn set_idle(&self) {
        self.next.set(None);
        self.prev.set(None);
        self.pos.set(Pos::Idle);
        self.owner.set(0);
    }
}

impl Default for Entry {
    fn default() -> Entry {
        Entry::new()
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("deadline", &self.deadline.get())
            .field("pos", &self.pos.get())
            .field("has_waker", &self.has_waker())
            .finish()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.is_queued() {
            // The wheel still points here: continuing would turn this bug into memory
            // corruption later, far from its cause.
            eprintln!(
                "evl-reactor: a timer Entry was dropped while still queued in a wheel \
                 (its owner must remove it first); aborting"
            );
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::Wheel;

    // Inference picks the one impl that applies; with a `Send` (`Sync`) type two would apply
    // and `_` could not be inferred, so these lines compile only for types that are neither.
    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

    #[test]
    fn entry_and_wheel_stay_on_their_thread() {
        <Entry as AmbiguousIfSend<_>>::check();
        <Entry as AmbiguousIfSync<_>>::check();
        <Wheel as AmbiguousIfSend<_>>::check();
        <Wheel as AmbiguousIfSync<_>>::check();
    }

    #[test]
    fn entry_is_small_and_starts_idle() {
        assert!(std::mem::size_of::<Entry>() <= 56);
        let e = Entry::new();
        assert!(!e.is_queued());
        assert_eq!(e.deadline(), 0);
        assert!(!e.has_waker());
        assert_eq!(e.pos.get(), Pos::Idle);
    }
}
