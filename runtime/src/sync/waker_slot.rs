//! [`WakerSlot`]: one `Waker`, registered by one side and taken to be woken by any thread,
//! lock-free; built on `crate::loom` so that loom checks it (runtime/loom-models).
//!
//! This is the `atomic-waker` crate's protocol (which `mpsc` and the bridges use), written
//! again over the crate's atomics shim only because that crate's std atomics cannot be
//! model-checked. A state word says who owns the cell:
//! * `IDLE`: nobody; a registrant may take it (`IDLE -> REGISTERING`), a waker may take it
//!   (`IDLE -> WAKING`);
//! * `REGISTERING`: the registrant writes the cell; a waker that comes meanwhile only sets
//!   `WAKING` beside it, and the registrant, seeing that when it gives the cell back, wakes
//!   the waker it just stored itself;
//! * `WAKING`: a waker moves the `Waker` out; a registrant that comes meanwhile wakes its
//!   own `Waker` at once (the wake it would have waited for is under way).
//!
//! No allocation (cloning a `Waker` is the executor's business: an evl waker is a reference
//! count), no lock, and no user code runs while another thread waits for the cell.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use core::task::Waker;

const IDLE: usize = 0;
const REGISTERING: usize = 1;
const WAKING: usize = 2;

/// See the [module docs](self).
pub(crate) struct WakerSlot {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is touched only by the thread that moved `state` out of IDLE (to
// REGISTERING or WAKING, with Acquire, and gives it back with Release), so one thread at a
// time; `Waker` is Send + Sync.
unsafe impl Send for WakerSlot {}
// SAFETY: `&WakerSlot` reaches the cell only after moving `state` out of IDLE (Acquire CAS) and
// gives it back with Release, so one thread at a time touches it; the `Waker` it holds is
// `Send + Sync`, so it may be stored, woken or dropped on any thread.
unsafe impl Sync for WakerSlot {}

impl WakerSlot {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        WakerSlot {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` for the next [`wake`](WakerSlot::wake), in place of the one before.
    /// One registrant at a time (the caller's `&mut` side of a channel). If a wake runs
    /// concurrently, `waker` is woken before this returns or by that wake.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(IDLE, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: REGISTERING is ours: no other thread touches the cell until we
                // leave it (wakers only set the WAKING bit meanwhile).
                let old = self.waker.with_mut(|p| unsafe {
                    match &*p {
                        Some(w) if w.will_wake(waker) => None,
                        _ => (*p).replace(waker.clone()),
                    }
                });
                match self
                    .state
                    .compare_exchange(REGISTERING, IDLE, AcqRel, Acquire)
                {
                    Ok(_) => drop(old),
                    Err(_) => {
                        // A wake came while we wrote (state is REGISTERING | WAKING): it left
                        // the Waker to us. Take it, free the cell, then wake.
                        // SAFETY: still ours: the waker did not touch the cell.
                        let w = self.waker.with_mut(|p| unsafe { (*p).take() });
                        self.state.swap(IDLE, AcqRel);
                        drop(old);
                        if let Some(w) = w {
                            w.wake();
                        }
                    }
                }
            }
            // A wake is moving the old Waker out: it will not see this one; wake it now.
            Err(_) => waker.wake_by_ref(),
        }
    }

    /// Takes the stored `Waker` (if no registration is under way: that one wakes itself).
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            IDLE => {
                // SAFETY: WAKING is ours (we moved it from IDLE): the registrant stays out.
                let w = self.waker.with_mut(|p| unsafe { (*p).take() });
                self.state.fetch_and(!WAKING, Release);
                w
            }
            // REGISTERING: the registrant wakes on our bit; WAKING: another wake has it.
            _ => None,
        }
    }

    /// Wakes the stored `Waker`, if any.
    pub(crate) fn wake(&self) {
        if let Some(w) = self.take() {
            w.wake();
        }
    }
}

impl core::fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WakerSlot")
            .field("state", &self.state.load(Relaxed))
            .finish()
    }
}
