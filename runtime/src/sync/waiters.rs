//! The intrusive waiter list: the unsafe core of [`Notify`](super::Notify).
//!
//! A [`Waiter`] lives inside a pinned future; the list only links waiters, it never owns or
//! allocates them. Every link (`prev`, `next`) and every linked waiter's `waker` is touched
//! only by whoever holds the lock that guards the [`List`] (methods take `&mut List` as the
//! proof). A waiter leaves the list in exactly one of two ways:
//!
//! * a notifier unlinks it, takes its waker, then publishes [`ONE`] or [`ALL`] in its
//!   `notified` word (Release) and never touches it again: from that store on, the waiter
//!   belongs to its future alone, which may read the word without the lock (Acquire) and
//!   complete, or be dropped;
//! * its future, being dropped under the lock, sees [`NONE`] and unlinks itself.
//!
//! So a waiter is never freed while linked, and never linked twice.
//!
//! ```text
//!  main list (in the Notify):   head -> A <-> B <-> C <- tail      (ends are null)
//!  drain list (one notify_waiters call, on its stack):
//!                               S <-> A <-> B <-> C <-> S           (circular through S)
//! ```
//! `notify_waiters` moves the whole main list behind a sentinel `S` pinned on its own stack,
//! in O(1), then releases those waiters in batches, dropping the lock between batches to call
//! wakers. Waiters that arrive meanwhile go to the (now empty) main list and are not part of
//! that call. Unlinking a waiter works the same in both lists: a null neighbour means an end
//! of the main list; in a drain list neighbours are never null.

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering::*};
use core::task::Waker;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Not notified (yet).
pub(crate) const NONE: u32 = 0;
/// Chosen by `notify_one`: holds one notification it must pass on if dropped unconsumed.
pub(crate) const ONE: u32 = 1;
/// Released by `notify_waiters`.
pub(crate) const ALL: u32 = 2;

/// One waiter: a node inside a pinned future.
#[derive(Debug)]
pub(crate) struct Waiter {
    prev: UnsafeCell<*const Waiter>,
    next: UnsafeCell<*const Waiter>,
    /// The waker to call. Written by the owner while unlinked, or under the lock while
    /// linked; taken by the notifier under the lock.
    waker: UnsafeCell<Option<Waker>>,
    /// [`NONE`], [`ONE`] or [`ALL`]; leaves `NONE` once, when a notifier releases it.
    notified: AtomicU32,
    _pinned: PhantomPinned,
}

impl Waiter {
    pub(crate) const fn new() -> Self {
        Waiter {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            waker: UnsafeCell::new(None),
            notified: AtomicU32::new(NONE),
            _pinned: PhantomPinned,
        }
    }

    /// How it was notified (Acquire: after [`ONE`]/[`ALL`] the waiter is the owner's alone).
    pub(crate) fn notified(&self) -> u32 {
        self.notified.load(Acquire)
    }
}

/// The main list of a `Notify`: FIFO, oldest at the head.
#[derive(Debug)]
pub(crate) struct List {
    head: *const Waiter,
    tail: *const Waiter,
}

// SAFETY: the pointers are links to waiters that are only reached under the Mutex that owns
// this List; moving the List between threads moves no waiter. A `Waiter`'s only non-Send
// content is through these links and its Waker, which is Send.
unsafe impl Send for List {}

/// Locks `m`. A poisoned lock is still consistent: no code that can panic (waker clones,
/// drops, wakes) runs while a list is half-updated, so the poison flag is ignored.
pub(crate) fn lock(m: &Mutex<List>) -> MutexGuard<'_, List> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl List {
    pub(crate) const fn new() -> Self {
        List {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `w` at the tail, with `waker` to call when it is released.
    ///
    /// # Safety
    /// `w` is pinned and stays valid until it is unlinked (by a notifier, or by its owner under
    /// this list's lock before it is freed), and is not linked anywhere now.
    pub(crate) unsafe fn push_back(&mut self, w: Pin<&Waiter>, waker: Waker) {
        let w = w.get_ref() as *const Waiter;
        // SAFETY: `w` is valid and unlinked (caller), so nobody else touches its fields; the
        // tail, if any, is a linked and therefore valid waiter whose links we own (lock).
        unsafe {
            *(*w).waker.get() = Some(waker);
            *(*w).prev.get() = self.tail;
            *(*w).next.get() = ptr::null();
            if self.tail.is_null() {
                self.head = w;
            } else {
                *(*self.tail).next.get() = w;
            }
        }
        self.tail = w;
    }

    /// Unlinks `w` from whichever list holds it (this one, or a [`Drain`] of this one).
    ///
    /// # Safety
    /// `w` is linked in this list or in a live `Drain` guarded by the same lock.
    unsafe fn unlink(&mut self, w: *const Waiter) {
        // SAFETY: `w` and its neighbours are linked, hence valid; their links are ours (lock).
        unsafe {
            let prev = *(*w).prev.get();
            let next = *(*w).next.get();
            if prev.is_null() {
                self.head = next;
            } else {
                *(*prev).next.get() = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                *(*next).prev.get() = prev;
            }
            *(*w).prev.get() = ptr::null();
            *(*w).next.get() = ptr::null();
        }
    }

    /// Unlinks the waiter `w` on behalf of its owner, which is about to drop it unnotified.
    ///
    /// # Safety
    /// `w` was pushed onto this list (and was valid since) and `w.notified()` is [`NONE`]
    /// under this lock: it is still linked, here or in a `Drain` of this list.
    pub(crate) unsafe fn remove(&mut self, w: Pin<&Waiter>) {
        // SAFETY: as the caller argues, `w` is linked here or in a drain of ours.
        unsafe { self.unlink(w.get_ref()) }
    }

    /// Replaces the waker of the still-linked waiter `w` (its owner was polled again with a
    /// different waker); returns the old one, to be dropped after the lock is released.
    ///
    /// # Safety
    /// As [`List::remove`]: `w` is linked (notified is [`NONE`] under this lock).
    pub(crate) unsafe fn update_waker(&mut self, w: Pin<&Waiter>, waker: &Waker) -> Option<Waker> {
        // SAFETY: a linked waiter's waker is only touched under the lock, which we hold.
        let slot = unsafe { &mut *w.waker.get() };
        match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Unlinks the oldest waiter and releases it with `how`; returns its waker.
    pub(crate) fn pop_front(&mut self, how: u32) -> Option<Option<Waker>> {
        let w = self.head;
        if w.is_null() {
            return None;
        }
        // SAFETY: `w` is linked here (it is the head), so it is valid.
        Some(unsafe { self.release(w, how) })
    }

    /// Unlinks `w`, takes its waker, publishes `how`.
    ///
    /// # Safety
    /// `w` is linked in this list or in a live `Drain` of it.
    unsafe fn release(&mut self, w: *const Waiter, how: u32) -> Option<Waker> {
        // SAFETY: caller: linked, hence valid, and its links/waker are ours under the lock.
        let waker = unsafe {
            self.unlink(w);
            (*(*w).waker.get()).take()
        };
        // SAFETY: still valid: its owner cannot free it before seeing this store (an
        // unnotified owner must take the lock, which we hold, before dropping it).
        unsafe { (*w).notified.store(how, Release) };
        // From here on `w` belongs to its owner: not touched again.
        waker
    }
}

/// The waiters of one `notify_waiters` call, linked in a circle through a sentinel pinned on
/// that call's stack. Dropping a drain releases whatever is left (without waking it: this
/// only happens when a waker panicked), so the sentinel never leaves while linked.
#[derive(Debug)]
pub(crate) struct Drain<'a> {
    lock: &'a Mutex<List>,
    sentinel: Waiter,
    /// Set when a pop found the drain empty; then Drop has nothing to do.
    done: Cell<bool>,
}

impl<'a> Drain<'a> {
    pub(crate) const fn new(lock: &'a Mutex<List>) -> Self {
        Drain {
            lock,
            sentinel: Waiter::new(),
            done: Cell::new(false),
        }
    }

    fn sentinel(self: Pin<&Self>) -> *const Waiter {
        &self.get_ref().sentinel
    }

    /// Moves every waiter of `list` into this drain.
    ///
    /// # Safety
    /// `list` is the data of `self.lock`, locked by the caller (the drain's links are
    /// guarded by that lock).
    pub(crate) unsafe fn take_all(self: Pin<&Self>, list: &mut List) {
        let s = self.sentinel();
        let (head, tail) = (list.head, list.tail);
        // SAFETY: we hold the lock (caller: `list` is its data); `s` is pinned for as long as
        // the drain lives, and Drop unlinks everything before it goes; head/tail are linked.
        unsafe {
            if head.is_null() {
                *(*s).next.get() = s;
                *(*s).prev.get() = s;
            } else {
                *(*s).next.get() = head;
                *(*s).prev.get() = tail;
                *(*head).prev.get() = s;
                *(*tail).next.get() = s;
            }
        }
        list.head = ptr::null();
        list.tail = ptr::null();
    }

    /// Unlinks the oldest waiter left and releases it with [`ALL`]; returns its waker, or
    /// `None` when the drain is empty.
    ///
    /// # Safety
    /// As [`Drain::take_all`]: `list` is `self.lock`'s data, locked.
    pub(crate) unsafe fn pop(self: Pin<&Self>, list: &mut List) -> Option<Option<Waker>> {
        let s = self.sentinel();
        // SAFETY: the sentinel is valid (pinned in self); its links are ours (the caller
        // holds the lock).
        let w = unsafe { *(*s).next.get() };
        if w == s || w.is_null() {
            self.done.set(true);
            return None;
        }
        // SAFETY: `w` is linked in this drain (it is the sentinel's successor), which is
        // guarded by `list`'s lock; its neighbours are never null, so `list` is untouched.
        Some(unsafe { list.release(w, ALL) })
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        if self.done.get() {
            return;
        }
        let mut list = lock(self.lock);
        // Release without waking: we get here only while unwinding from a waker's panic, and
        // calling more wakers could panic again. Each waiter keeps its waker (its owner
        // drops it); the tasks are not woken, as if the notification had raced their drop.
        // Drop runs in place: if the drain was pinned and used, this is the address its
        // waiters point to; if it was never used, the sentinel's links are null.
        let s: *const Waiter = &self.sentinel;
        loop {
            // SAFETY: the sentinel is valid (in self); its links are ours (lock).
            let w = unsafe { *(*s).next.get() };
            if w == s || w.is_null() {
                break;
            }
            // SAFETY: `w` is linked in this drain, guarded by the lock we hold; the waker
            // stays in it and goes with its owner.
            unsafe {
                list.unlink(w);
                (*w).notified.store(ALL, Release);
            }
        }
    }
}
