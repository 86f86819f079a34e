//! A waiter node and the FIFO list of them (see the [parent module](super) for who may touch
//! which field when).

use crate::loom::sync::atomic::{AtomicU32, Ordering::*};
use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::ptr;
use core::task::Waker;

// The `notified` word of a node.
/// Not released (yet).
pub(crate) const NONE: u32 = 0;
/// Released by a `notify_one`: holds one notification it must pass on if dropped unconsumed.
pub(crate) const ONE: u32 = 1;
/// Released by `notify_waiters`.
pub(crate) const ALL: u32 = 2;

/// One waiter: a node inside a pinned [`Wait`](super::wait::Wait).
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(super) prev: UnsafeCell<*const Waiter>,
    /// The list link, and the `incoming` stack's link before that.
    pub(super) next: UnsafeCell<*const Waiter>,
    /// The waker a release takes.
    pub(super) waker: UnsafeCell<Option<Waker>>,
    /// The generation its future was created in (written before the node is pushed).
    pub(super) generation: UnsafeCell<u64>,
    /// [`NONE`], [`ONE`] or [`ALL`]; leaves `NONE` once, as a holder's last touch.
    pub(super) notified: AtomicU32,
    _pinned: PhantomPinned,
}

impl Waiter {
    pub(super) fn new() -> Self {
        Waiter {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            waker: UnsafeCell::new(None),
            generation: UnsafeCell::new(0),
            notified: AtomicU32::new(NONE),
            _pinned: PhantomPinned,
        }
    }

    /// How it was released (Acquire: after [`ONE`]/[`ALL`] the node is its owner's alone).
    pub(super) fn notified(&self) -> u32 {
        self.notified.load(Acquire)
    }
}

/// The FIFO of listed waiters, oldest at the head. Only the token holder touches it.
#[derive(Debug)]
pub(crate) struct List {
    pub(super) head: *const Waiter,
    pub(super) tail: *const Waiter,
}

impl List {
    pub(crate) const fn new() -> Self {
        List {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// Links `w` at the tail.
    ///
    /// # Safety
    /// The token is held; `w` is a pushed node just taken off `incoming` (valid, unlinked).
    pub(super) unsafe fn push_back(&mut self, w: *const Waiter) {
        // SAFETY: caller's contract; the tail, if any, is linked and so valid.
        unsafe {
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

    /// Unlinks `w`.
    ///
    /// # Safety
    /// The token is held and `w` is linked in this list.
    pub(super) unsafe fn unlink(&mut self, w: *const Waiter) {
        // SAFETY: `w` and its neighbours are linked, hence valid; their links are ours.
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
        }
    }

    /// Unlinks `w`, takes its waker, publishes `how` (the last touch).
    ///
    /// # Safety
    /// As [`List::unlink`].
    pub(super) unsafe fn release(&mut self, w: *const Waiter, how: u32) -> Option<Waker> {
        // SAFETY: caller's contract: linked, hence valid; its links and waker are ours.
        let waker = unsafe {
            self.unlink(w);
            (*(*w).waker.get()).take()
        };
        // SAFETY: still valid: its owner cannot free it before it sees this store (an owner
        // that finds it unreleased must take the token, which we hold, to unlink it).
        unsafe { (*w).notified.store(how, Release) };
        waker
    }
}
