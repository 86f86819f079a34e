//! The waker of the future an executor's `block_on` runs (the main future): a counted
//! reference to the executor; waking it sets `main_woken` and, from another thread (or a
//! signal handler that found the executor parked), rings the executor's doorbell.

use super::shared::Shared;
use core::sync::atomic::Ordering::SeqCst;
use core::task::{RawWaker, RawWakerVTable, Waker};

/// A waker for the main future of `this`, owning one reference to it.
///
/// # Safety
/// The caller took a reference to `this` for the waker (it moves into it).
pub(super) unsafe fn main_waker(this: *const Shared) -> Waker {
    // SAFETY: the vtable below keeps the RawWaker contract for counted Shared pointers; the
    // caller's reference moves into the waker.
    unsafe { Waker::from_raw(RawWaker::new(this as *const (), &MAIN_VTABLE)) }
}

static MAIN_VTABLE: RawWakerVTable =
    RawWakerVTable::new(main_clone, main_wake, main_wake_by_ref, main_drop);

unsafe fn main_clone(data: *const ()) -> RawWaker {
    Shared::ref_inc(data as *const Shared);
    RawWaker::new(data, &MAIN_VTABLE)
}
unsafe fn main_wake(data: *const ()) {
    // SAFETY: an owning waker: wake, then give the reference up.
    unsafe {
        main_wake_by_ref(data);
        main_drop(data);
    }
}
unsafe fn main_wake_by_ref(data: *const ()) {
    // SAFETY: the waker's reference keeps the executor alive.
    let s = unsafe { &*(data as *const Shared) };
    s.main_woken.store(true, SeqCst);
    // From another thread, or from a signal handler that found its own executor parked.
    if !Shared::is_current(s) || s.parker.is_parked() {
        s.notify();
    }
}
unsafe fn main_drop(data: *const ()) {
    // SAFETY: the waker's reference is given up.
    unsafe { Shared::ref_dec(data as *const Shared) }
}
