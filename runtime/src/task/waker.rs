//! Wakers that are task pointers: no allocation; each `Waker` owns one task reference, so a
//! waker kept past the task's end can never reach a reused slot's future (the slot stays
//! reserved until the last waker is dropped).

use super::raw::Header;
use super::state::Wake;
use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker for `ptr` that does not own a reference: wrap it in `ManuallyDrop` and keep it
/// within the lifetime of a reference the caller holds.
pub(crate) fn borrowed(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable functions below uphold the RawWaker contract for header pointers;
    // the caller keeps a reference alive and never drops this waker.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

/// Schedules the task if the state says so.
///
/// # Safety
/// `ptr` is a live task header (the caller holds a reference).
pub(crate) unsafe fn schedule(ptr: NonNull<Header>) {
    // SAFETY: live header (caller's contract).
    let h = unsafe { ptr.as_ref() };
    if h.state.wake() == Wake::Enqueue {
        // SAFETY: `wake` took a reference for the queue entry; the executor is kept alive by
        // every live task (a task's reference to it goes when its slot is freed).
        unsafe { (h.vtable.schedule)(h.owner, ptr) };
    }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: a waker's data is a live header pointer (it owns or borrows a reference).
    let h = unsafe { &*(data as *const Header) };
    h.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: an owning waker: schedule, then give its reference up.
    unsafe {
        wake_by_ref(data);
        drop_waker(data);
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: data is a non-null header pointer of a live task.
    unsafe { schedule(NonNull::new_unchecked(data as *mut Header)) }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: an owning waker gives its one reference up.
    unsafe { super::raw::release(NonNull::new_unchecked(data as *mut Header)) }
}
