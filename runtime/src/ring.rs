//! A bounded single-producer single-consumer ring whose producer never waits: on a full
//! ring it either refuses ([`Full`](PushError::Full)) or replaces the oldest value
//! (`overwrite`), whatever the consumer is doing at that moment.
//!
//! The bridges ([`crate::bridge`]) and the real-time tracing rings ([`crate::trace`]) keep
//! their values here. Every byte is allocated at creation; pushing and popping allocate
//! nothing and make no system call.
//!
//! # How the producer avoids waiting
//! A plain ring in which the producer overwrites the oldest slot races with a consumer that
//! is copying that slot out: the producer would have to wait for it (crossbeam's
//! `force_push` spins), and on a real-time thread waiting for a lower-priority consumer is
//! a priority inversion. So values live in `capacity + 2` separate buffers, and the ring
//! holds buffer *indices* tagged with the value's sequence number, one atomic word per slot:
//!
//! - the producer owns one spare buffer: it writes the value there, then swaps the word
//!   `(seq, buffer)` into its slot. The word it gets back is `EMPTY` (the consumer took the
//!   value that was there) or the oldest value's buffer, which it overwrote (in `overwrite`
//!   mode only): that buffer becomes its spare. Without one it takes a buffer from the
//!   free list.
//! - the consumer claims a slot by compare-and-swapping the word it expects (its own
//!   sequence number) to `EMPTY`: the buffer is then its own, it moves the value out and
//!   gives the buffer back on the free list (an SPSC list of indices in the other
//!   direction, which can never overflow: it has room for every buffer). When the word
//!   holds a newer sequence number the producer lapped it: the consumer jumps to the oldest
//!   value still there.
//!
//! Count: at most `capacity` buffers in the ring, one held by the consumer between its
//! claim and its give-back, one spare: `capacity + 2` buffers always leave the producer one
//! (see [`Ring::push`]). The producer is wait-free; the consumer is lock-free (it retries
//! only when the producer overwrote the value it was about to take).
//!
//! Sequence numbers are `u32` and wrap; comparisons are wrapping, which is exact as long as
//! the consumer is fewer than 2^31 values behind (a ring has at most 2^31 slots).

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use core::mem::MaybeUninit;

/// A slot word: `seq << 32 | (buffer + 1)`; 0 is an empty slot.
const EMPTY: u64 = 0;

fn pack(seq: u32, buf: u32) -> u64 {
    (u64::from(seq) << 32) | (u64::from(buf) + 1)
}

fn seq_of(w: u64) -> u32 {
    (w >> 32) as u32
}

fn buf_of(w: u64) -> usize {
    ((w & 0xffff_ffff) - 1) as usize
}

/// The largest capacity a ring accepts.
pub(crate) const MAX_CAPACITY: usize = 1 << 30;

/// Why a push did not take its value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<T> {
    /// The ring holds `capacity` values (refusing mode): the value is given back.
    Full(T),
}

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed<T> {
    /// Stored.
    Stored,
    /// Stored in place of the oldest value, which is given back (overwrite mode).
    Displaced(T),
}

/// The producer's own position: only the one producer handle holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerPos {
    seq: u32,
    slot: usize,
    spare: Option<u32>,
    free_head: usize,
}

/// The consumer's own position: only the one consumer handle holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsumerPos {
    seq: u32,
    slot: usize,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    bufs: Box<[UnsafeCell<MaybeUninit<T>>]>,
    slots: Box<[AtomicU64]>,
    /// Free buffer indices: pushed by the consumer, popped by the producer.
    free: Box<[AtomicU32]>,
    free_tail: AtomicUsize,
    /// Values the producer overwrote.
    overwritten: AtomicU64,
}

// SAFETY: the ring moves `T` values from the producer's thread to the consumer's (hence
// `T: Send`); each buffer is accessed by one side at a time, handed over by the
// release/acquire operations on the slot words and the free list (module docs).
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: `&Ring<T>` is shared by the producer and consumer threads: it exposes the slot and
// free-list atomics, and each buffer is touched only by the side that owns it at the time
// (ownership passes by release/acquire on those atomics); values crossing need `T: Send`.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `capacity` values (1 ..= [`MAX_CAPACITY`], checked by the caller), and the
    /// two positions to hand to the producer and the consumer.
    pub(crate) fn new(capacity: usize) -> (Ring<T>, ProducerPos, ConsumerPos) {
        debug_assert!((1..=MAX_CAPACITY).contains(&capacity));
        let nbufs = capacity + 2;
        let ring = Ring {
            bufs: (0..nbufs)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            slots: (0..capacity).map(|_| AtomicU64::new(EMPTY)).collect(),
            free: (0..nbufs).map(|i| AtomicU32::new(i as u32)).collect(),
            free_tail: AtomicUsize::new(nbufs),
            overwritten: AtomicU64::new(0),
        };
        let p = ProducerPos {
            seq: 0,
            slot: 0,
            spare: None,
            free_head: 0,
        };
        (ring, p, ConsumerPos { seq: 0, slot: 0 })
    }

    /// How many values it holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Values the producer replaced (overwrite mode) since creation.
    pub(crate) fn overwritten(&self) -> u64 {
        self.overwritten.load(Ordering::Relaxed)
    }

    fn next_slot(&self, s: usize) -> usize {
        if s + 1 == self.slots.len() {
            0
        } else {
            s + 1
        }
    }

    /// Producer: stores `v`. A full ring refuses it, or (`overwrite`) gives back the oldest
    /// value in its place. Wait-free: never waits for the consumer.
    ///
    /// `p` must be this ring's producer position (there is one).
    pub(crate) fn push(
        &self,
        p: &mut ProducerPos,
        v: T,
        overwrite: bool,
    ) -> Result<Pushed<T>, PushError<T>> {
        let slot = &self.slots[p.slot];
        if !overwrite && slot.load(Ordering::Acquire) != EMPTY {
            // Only the consumer changes a full slot (to EMPTY): the ring is full.
            return Err(PushError::Full(v));
        }
        let buf = match p.spare.take() {
            Some(b) => b,
            None => {
                // Buffers: at most `capacity` in the ring, one the consumer holds, none
                // spare: the free list has at least one (it has room for all of them).
                let tail = self.free_tail.load(Ordering::Acquire);
                if tail == p.free_head {
                    debug_assert!(false, "the free list cannot be empty");
                    return Err(PushError::Full(v));
                }
                let b = self.free[p.free_head % self.free.len()].load(Ordering::Relaxed);
                p.free_head = p.free_head.wrapping_add(1);
                b
            }
        };
        // SAFETY: `buf` came off the free list (the consumer gave it back after moving its
        // value out: acquire on `free_tail` orders that before this write) or was our spare,
        // so no one else accesses it until we publish it below.
        self.bufs[buf as usize].with_mut(|b| unsafe { (*b).write(v) });
        let old = slot.swap(pack(p.seq, buf), Ordering::AcqRel);
        p.seq = p.seq.wrapping_add(1);
        p.slot = self.next_slot(p.slot);
        if old == EMPTY {
            return Ok(Pushed::Stored);
        }
        // Overwrite mode, full ring: `old` is the oldest value, which the consumer did not
        // claim (its compare-and-swap now fails). Its buffer is ours.
        debug_assert!(overwrite);
        let ob = buf_of(old);
        // SAFETY: we wrote this buffer when we published `old` and the consumer never
        // claimed it (the slot word changed only through our swap), so it holds an
        // initialised value that no one else reads; we move it out once.
        let displaced = self.bufs[ob].with_mut(|b| unsafe { (*b).assume_init_read() });
        p.spare = Some(ob as u32);
        self.overwritten.fetch_add(1, Ordering::Relaxed);
        Ok(Pushed::Displaced(displaced))
    }

    /// Consumer: takes the oldest value, if any. Also returns how many values it skipped
    /// because the producer overwrote them before they were taken.
    ///
    /// `c` must be this ring's consumer position (there is one).
    pub(crate) fn pop(&self, c: &mut ConsumerPos) -> (Option<T>, u32) {
        let mut skipped = 0u32;
        loop {
            let slot = &self.slots[c.slot];
            let w = slot.load(Ordering::Acquire);
            if w == EMPTY {
                return (None, skipped);
            }
            let s = seq_of(w);
            if s != c.seq {
                // Only a newer value can be there (older ones were taken): the producer
                // lapped us. The oldest value still in the ring is `s - capacity + 1`, in
                // the next slot.
                debug_assert!((s.wrapping_sub(c.seq) as i32) > 0);
                let oldest = s.wrapping_sub(self.slots.len() as u32).wrapping_add(1);
                skipped = skipped.wrapping_add(oldest.wrapping_sub(c.seq));
                c.seq = oldest;
                c.slot = self.next_slot(c.slot);
                continue;
            }
            if slot
                .compare_exchange(w, EMPTY, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue; // the producer overwrote it meanwhile
            }
            let b = buf_of(w);
            // SAFETY: the compare-and-swap made the buffer ours: the producer published it
            // with release (acquired here) and will not touch it until it comes back on the
            // free list. It holds an initialised value, moved out once.
            let v = self.bufs[b].with_mut(|p| unsafe { (*p).assume_init_read() });
            let tail = self.free_tail.load(Ordering::Relaxed);
            self.free[tail % self.free.len()].store(b as u32, Ordering::Relaxed);
            self.free_tail
                .store(tail.wrapping_add(1), Ordering::Release);
            c.seq = c.seq.wrapping_add(1);
            c.slot = self.next_slot(c.slot);
            return (Some(v), skipped);
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for s in self.slots.iter_mut() {
            let w = s.load(Ordering::Relaxed);
            if w != EMPTY {
                // SAFETY: `&mut self`: no producer or consumer is left; a non-empty slot
                // names a buffer holding an initialised value nobody took; dropped once.
                self.bufs[buf_of(w)].with_mut(|b| unsafe { (*b).assume_init_drop() });
            }
        }
    }
}
