//! Pre-sized task storage: `capacity` slots of `slot_size` bytes, allocated once when the
//! executor is built. Claiming and releasing a slot is a compare-and-swap on a free bitmap
//! (no lock, any thread); a future that does not fit a slot is a typed error, never a heap
//! allocation.

use crate::loom::sync::atomic::{AtomicU32, Ordering::*};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::AtomicU64;

/// Alignment of every slot; a task whose layout needs more cannot be stored.
pub(crate) const SLOT_ALIGN: usize = 64;

#[derive(Debug)]
pub(crate) struct Arena {
    base: *mut u8,
    slot_size: usize,
    capacity: usize,
    /// One bit per slot, set when free.
    free: Box<[AtomicU64]>,
    /// Per slot: non-zero once its task is fully written (for shutdown scans).
    ready: Box<[AtomicU32]>,
}

// SAFETY: the arena hands out disjoint slots through atomic claims; the raw base pointer is
// only dereferenced by the owner of a claimed slot.
unsafe impl Send for Arena {}
// SAFETY: as above.
unsafe impl Sync for Arena {}

impl Arena {
    /// `capacity` slots of `slot_size` bytes (rounded up to [`SLOT_ALIGN`]).
    pub(crate) fn new(capacity: usize, slot_size: usize) -> Self {
        let slot_size = slot_size.max(SLOT_ALIGN).next_multiple_of(SLOT_ALIGN);
        let layout = Layout::from_size_align(slot_size * capacity.max(1), SLOT_ALIGN)
            .expect("arena size overflows");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        if base.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        let words = capacity.div_ceil(64);
        let free: Box<[AtomicU64]> = (0..words)
            .map(|w| {
                let bits = (capacity - w * 64).min(64);
                AtomicU64::new(if bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                })
            })
            .collect();
        let ready = (0..capacity).map(|_| AtomicU32::new(0)).collect();
        Arena {
            base,
            slot_size,
            capacity,
            free,
            ready,
        }
    }

    pub(crate) fn slot_size(&self) -> usize {
        self.slot_size
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Claims a free slot.
    pub(crate) fn claim(&self) -> Option<usize> {
        for (w, word) in self.free.iter().enumerate() {
            let mut cur = word.load(Relaxed);
            while cur != 0 {
                let bit = cur.trailing_zeros() as usize;
                match word.compare_exchange_weak(cur, cur & !(1 << bit), Acquire, Relaxed) {
                    Ok(_) => return Some(w * 64 + bit),
                    Err(actual) => cur = actual,
                }
            }
        }
        None
    }

    /// The memory of slot `idx`.
    pub(crate) fn slot_ptr(&self, idx: usize) -> *mut u8 {
        assert!(idx < self.capacity);
        // SAFETY: idx < capacity, so the offset stays inside the allocation.
        unsafe { self.base.add(idx * self.slot_size) }
    }

    /// Marks slot `idx` as holding a fully written task.
    pub(crate) fn set_ready(&self, idx: usize, ready: bool) {
        self.ready[idx].store(ready as u32, Release);
    }

    /// Whether slot `idx` holds a fully written task.
    pub(crate) fn is_ready(&self, idx: usize) -> bool {
        self.ready[idx].load(Acquire) != 0
    }

    /// Gives slot `idx` back.
    pub(crate) fn release(&self, idx: usize) {
        self.set_ready(idx, false);
        let prev = self.free[idx / 64].fetch_or(1 << (idx % 64), Release);
        debug_assert!(prev & (1 << (idx % 64)) == 0, "slot released twice");
    }

    /// Slots in use.
    pub(crate) fn in_use(&self) -> usize {
        self.capacity
            - self
                .free
                .iter()
                .map(|w| w.load(Relaxed).count_ones() as usize)
                .sum::<usize>()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.slot_size * self.capacity.max(1), SLOT_ALIGN)
            .expect("as built");
        // SAFETY: `base` came from alloc_zeroed with this layout; every slot is free (the
        // executor's Shared, which owns the arena, is dropped only after its last task).
        unsafe { dealloc(self.base, layout) };
    }
}
