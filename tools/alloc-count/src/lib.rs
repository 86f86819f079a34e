//! # evl-alloc-count — proving "no allocation in steady state" in tests
//!
//! A test binary installs the counter once:
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;
//! ```
//! and measures a section of *its own thread* (other threads' allocations never count, so
//! the test harness and helper threads do not disturb the figure):
//! ```ignore
//! assert_eq!(evl_alloc_count::allocations_in(|| hot_path()), 0);
//! ```
//! For code that runs across awaits, [`start_counting`] / [`stop_counting`] bracket it
//! (the executor runs on the counting thread, so its work in between counts too).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// `System`, counting the allocations (`alloc`, `alloc_zeroed`, `realloc`) of threads that
/// are measuring.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // try_with: allocations during thread teardown must not panic.
    let _ = TOTAL.try_with(|t| t.set(t.get() + 1));
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

/// Every allocation this thread made since it started (always counted): programs report
/// the difference across a measured loop.
pub fn thread_total() -> u64 {
    TOTAL.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the GlobalAlloc
// contract; the counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through us, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: `ptr` came from `System` through us, with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting this thread's allocations (from zero).
pub fn start_counting() {
    ALLOCS.with(|a| a.set(0));
    MEASURING.with(|m| m.set(true));
}

/// Stops counting; returns the allocations since [`start_counting`].
pub fn stop_counting() -> usize {
    MEASURING.with(|m| m.set(false));
    ALLOCS.with(Cell::get)
}

/// How many allocations `f` made on this thread.
pub fn allocations_in(f: impl FnOnce()) -> usize {
    allocations_with(f).0
}

/// How many allocations `f` made on this thread, and its result.
pub fn allocations_with<R>(f: impl FnOnce() -> R) -> (usize, R) {
    start_counting();
    let r = f();
    (stop_counting(), r)
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static ALLOCATOR: super::CountingAlloc = super::CountingAlloc;

    #[test]
    fn counts_this_threads_allocations_only() {
        assert!(super::allocations_in(|| drop(std::hint::black_box(vec![1u8; 8]))) >= 1);
        assert_eq!(
            super::allocations_in(|| {
                std::hint::black_box([1u8; 8]);
            }),
            0
        );
        let n = super::allocations_in(|| {
            std::thread::spawn(|| drop(std::hint::black_box(vec![0u8; 64])))
                .join()
                .unwrap();
        });
        // Spawning allocates on this thread; the child's vec does not count here.
        let spawn_only = super::allocations_in(|| std::thread::spawn(|| {}).join().unwrap());
        assert_eq!(n, spawn_only);
    }
}
