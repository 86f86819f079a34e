//! The bounded multi-producer, single-consumer ring behind [`mpsc`](super::mpsc): the
//! lock-free core, model-checked with loom (runtime/loom-models compiles this file against
//! loom's atomics).
//!
//! Dmitry Vyukov's bounded queue: each slot carries a sequence word that says whose turn it
//! is. A producer claims position `pos` with a compare-and-swap on `tail` when the slot's
//! sequence says it is free for `pos`, writes the value, and publishes it by storing
//! `pos + 1` (Release). The one consumer takes position `pos` when the sequence is `pos + 1`
//! (Acquire), reads the value, and frees the slot for `pos + capacity`. No lock, no
//! allocation: the slots are a slice the caller owns (boxed once at creation, or a
//! `static` array).
//!
//! Sequences are doubled (free for `pos` is `2 pos`, published for `pos` is `2 pos + 1`), so
//! that a ring of one slot can tell "published for `pos`" from "free for `pos + 1`"; they are
//! stored minus twice the slot's index, so a fresh slot array is all zeros and can be built
//! in a `const fn`. Positions are `usize` counters: they would wrap after 2^64
//! operations on a 64-bit target (centuries at any real rate).
//!
//! `heapless::mpmc` is the same queue, but its capacity is a power-of-two const generic; this
//! one takes any capacity fixed at run time, for both storage kinds, with one implementation.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

/// One slot: a sequence word and room for one value.
#[derive(Debug)]
pub struct Slot<T> {
    /// The sequence minus the slot's index (so zero-initialised is the start state).
    pub(crate) seq: AtomicUsize,
    pub(crate) val: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    /// An empty slot (the loom models).
    #[allow(dead_code)]
    pub(crate) fn new() -> Self {
        Slot {
            seq: AtomicUsize::new(0),
            val: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

// SAFETY: a slot's value is written by the one producer that claimed its position and read
// by the consumer after the Release/Acquire pair on `seq`; values move between threads,
// hence `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

/// The positions of a ring (the slots are passed to each call).
#[derive(Debug)]
pub(crate) struct Ring {
    /// The next position the consumer takes.
    pub(crate) head: AtomicUsize,
    /// The next position a producer claims.
    pub(crate) tail: AtomicUsize,
}

impl Ring {
    /// Empty (the loom models; the channel builds the same in a `const fn`).
    #[allow(dead_code)]
    pub(crate) fn new() -> Self {
        Ring {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Puts `v` at the tail; gives it back if every slot is taken. Any thread. Never waits.
    pub(crate) fn push<T>(&self, slots: &[Slot<T>], v: T) -> Result<(), T> {
        let cap = slots.len();
        if cap == 0 {
            return Err(v);
        }
        let mut pos = self.tail.load(Relaxed);
        loop {
            let i = pos % cap;
            let slot = &slots[i];
            let seq = slot.seq.load(Acquire).wrapping_add(2 * i);
            let diff = seq.wrapping_sub(pos.wrapping_mul(2)) as isize;
            if diff == 0 {
                match self
                    .tail
                    .compare_exchange_weak(pos, pos.wrapping_add(1), Relaxed, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: we claimed `pos`: the slot is free (its sequence said so,
                        // Acquire after the consumer's Release) and ours until we publish.
                        unsafe { (*slot.val.get()).write(v) };
                        slot.seq.store(
                            pos.wrapping_mul(2).wrapping_add(1).wrapping_sub(2 * i),
                            Release,
                        );
                        return Ok(());
                    }
                    Err(p) => pos = p,
                }
            } else if diff < 0 {
                return Err(v); // the slot still holds the value of `pos - cap`: full
            } else {
                pos = self.tail.load(Relaxed); // another producer took `pos`
            }
        }
    }

    /// Takes the value at the head, if it was published.
    ///
    /// # Safety
    /// Only one thread pops at a time (the one consumer), and `slots` is the slice every push
    /// on this ring used.
    pub(crate) unsafe fn pop<T>(&self, slots: &[Slot<T>]) -> Option<T> {
        let cap = slots.len();
        if cap == 0 {
            return None;
        }
        let pos = self.head.load(Relaxed);
        let i = pos % cap;
        let slot = &slots[i];
        let seq = slot.seq.load(Acquire).wrapping_add(2 * i);
        if seq != pos.wrapping_mul(2).wrapping_add(1) {
            return None; // not published yet (or empty)
        }
        // SAFETY: published for `pos` (Acquire pairs with the producer's Release), and we
        // are the one consumer: the value is ours to move out.
        let v = unsafe { (*slot.val.get()).assume_init_read() };
        slot.seq.store(
            pos.wrapping_add(cap).wrapping_mul(2).wrapping_sub(2 * i),
            Release,
        );
        self.head.store(pos.wrapping_add(1), Relaxed);
        Some(v)
    }

    /// Values pushed and not yet popped (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let t = self.tail.load(Acquire);
        let h = self.head.load(Acquire);
        t.wrapping_sub(h)
    }
}
