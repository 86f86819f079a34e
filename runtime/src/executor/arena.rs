//! Pre-sized task storage: `capacity` slots of `slot_size` bytes, allocated once when the
//! executor is built. Claiming and releasing a slot is a compare-and-swap on a free bitmap
//! (no lock, any thread); a future that does not fit a slot is a typed error, never a heap
//! allocation.

use crate::core::{Error, ErrorKind};
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
    /// The layout `base` was allocated with (checked once, in [`Arena::new`]).
    layout: Layout,
    /// One bit per slot, set when free.
    free: Box<[AtomicU64]>,
    /// Per slot: non-zero once its task is fully written (for shutdown scans).
    ready: Box<[AtomicU32]>,
}

// SAFETY: the arena hands out disjoint slots through atomic claims; the raw base pointer is
// only dereferenced by the owner of a claimed slot.
unsafe impl Send for Arena {}
// SAFETY: through `&Arena` a thread claims and releases slots only by atomic operations on `free`
// and `ready`, and dereferences `base` only within a slot it claimed; claims are exclusive, so no
// two threads touch the same slot's bytes.
unsafe impl Sync for Arena {}

/// The most task slots an executor may have: slot indices must stay clear of the
/// `usize::MAX` that marks a static-pool task, and no real-time executor needs more.
pub(crate) const MAX_CAPACITY: usize = 1 << 24;

/// The largest task slot, in bytes: a future this large belongs in a `Box` or a static.
pub(crate) const MAX_SLOT_SIZE: usize = 1 << 30;

const OP: &str = "Executor::build";

fn invalid(hint: &'static str) -> Error {
    Error::new(ErrorKind::InvalidArgument, OP, hint)
}

fn no_memory() -> Error {
    Error::new(
        ErrorKind::CapacityExceeded,
        OP,
        "cannot allocate the task arena (capacity x slot size bytes): lower ExecutorConfig::capacity \
         or ExecutorConfig::slot_size, or raise RLIMIT_MEMLOCK when memory is locked",
    )
}

/// The layout of `capacity` slots of `slot_size` bytes (rounded up to [`SLOT_ALIGN`]), every
/// step checked: the rounded slot size and the layout, or the error that says which setting
/// to lower.
pub(crate) fn layout(capacity: usize, slot_size: usize) -> Result<(usize, Layout), Error> {
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(invalid(
            "the task capacity goes from 1 to 16777216 (2^24) slots: set ExecutorConfig::capacity in that range",
        ));
    }
    if slot_size > MAX_SLOT_SIZE {
        return Err(invalid(
            "a task slot holds at most 1 GiB: set ExecutorConfig::slot_size to at most 2^30 bytes, and keep \
             large buffers outside the future (a Box, a static)",
        ));
    }
    // Both checked: in range above, but the arithmetic says so itself.
    let slot_size = slot_size
        .max(SLOT_ALIGN)
        .checked_next_multiple_of(SLOT_ALIGN)
        .ok_or(invalid("ExecutorConfig::slot_size is too large: lower it"))?;
    let bytes = slot_size.checked_mul(capacity).ok_or(invalid(
        "capacity x slot size overflows the address space: lower ExecutorConfig::capacity or ExecutorConfig::slot_size",
    ))?;
    let layout = Layout::from_size_align(bytes, SLOT_ALIGN).map_err(|_| {
        invalid(
            "capacity x slot size exceeds the largest possible allocation: lower ExecutorConfig::capacity \
             or ExecutorConfig::slot_size",
        )
    })?;
    Ok((slot_size, layout))
}

/// A boxed slice of `n` values from `f`, or the allocation failure as an error.
fn try_boxed<T>(n: usize, f: impl FnMut(usize) -> T) -> Result<Box<[T]>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| no_memory())?;
    v.extend((0..n).map(f));
    Ok(v.into_boxed_slice())
}

impl Arena {
    /// `capacity` slots of `slot_size` bytes (rounded up to [`SLOT_ALIGN`]). Sizes out of
    /// range are [`ErrorKind::InvalidArgument`], memory the system refuses is
    /// [`ErrorKind::CapacityExceeded`]: never a panic or an abort.
    pub(crate) fn new(capacity: usize, slot_size: usize) -> Result<Self, Error> {
        let (slot_size, layout) = layout(capacity, slot_size)?;
        let words = capacity.div_ceil(64);
        let free: Box<[AtomicU64]> = try_boxed(words, |w| {
            let bits = (capacity - w * 64).min(64);
            AtomicU64::new(if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            })
        })?;
        let ready = try_boxed(capacity, |_| AtomicU32::new(0))?;
        // SAFETY: the layout has a non-zero size (capacity >= 1, slot_size >= SLOT_ALIGN).
        let base = unsafe { alloc_zeroed(layout) };
        if base.is_null() {
            return Err(no_memory());
        }
        Ok(Arena {
            base,
            slot_size,
            capacity,
            layout,
            free,
            ready,
        })
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
        // SAFETY: `base` came from alloc_zeroed with `self.layout`; every slot is free (the
        // executor's Shared, which owns the arena, is dropped only after its last task).
        unsafe { dealloc(self.base, self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_checked_at_every_step() {
        let (slot, l) = layout(3, 100).unwrap();
        assert_eq!((slot, l.size(), l.align()), (128, 384, SLOT_ALIGN));
        assert_eq!(
            layout(1, 0).unwrap().0,
            SLOT_ALIGN,
            "0 rounds up to one line"
        );
        for (cap, size) in [
            (0, 64),
            (usize::MAX, 64),
            (MAX_CAPACITY + 1, 64),
            (1, usize::MAX),
            (1, MAX_SLOT_SIZE + 1),
        ] {
            let e = layout(cap, size).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{cap} x {size}: {e}");
        }
        // The largest settings (2^54 bytes) make a Layout on 64-bit targets, which the
        // allocator then refuses; on 32-bit ones the product overflows: an error either way.
        match MAX_CAPACITY.checked_mul(MAX_SLOT_SIZE) {
            Some(bytes) => assert_eq!(layout(MAX_CAPACITY, MAX_SLOT_SIZE).unwrap().1.size(), bytes),
            None => assert!(layout(MAX_CAPACITY, MAX_SLOT_SIZE).is_err()),
        }
    }
}
