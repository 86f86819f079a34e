//! The type-erased task: its header, its vtable, counted references to it, and
//! [`Schedule`], the interface through which a task reaches the executor that owns it.
//!
//! This module is where the task side and the executor side meet: both import it, it
//! imports neither (only the state word and [`JoinError`]).

use super::error::JoinError;
use super::state::State;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::task::Waker;

/// What a task needs from the executor that owns it, implemented by the executor.
///
/// `owner` is the type-erased executor pointer stored in [`Header::owner`]. The typed task
/// code (`cell`, generic over the executor type) calls these functions directly; the
/// type-erased paths (wakers, `JoinHandle`, releasing a slot) reach them through the task's
/// [`Vtable`], so a header carries no second pointer.
///
/// # Safety
/// Implementations uphold each function's contract below; the task side calls them only as
/// those contracts say.
pub(crate) unsafe trait Schedule: 'static {
    /// Queues a task that holds a queue reference (from any thread, or a signal handler).
    ///
    /// # Safety
    /// `owner` is alive (the task's reference keeps it so); `task` carries a queue reference.
    unsafe fn schedule(owner: *const (), task: NonNull<Header>);
    /// Re-queues a task woken while it was being polled (on the executor thread).
    ///
    /// # Safety
    /// As [`schedule`](Schedule::schedule), on the executor thread.
    unsafe fn requeue(owner: *const (), task: NonNull<Header>);
    /// Reports a task that ended with an error (a panic), per the executor's panic policy.
    ///
    /// # Safety
    /// `owner` is alive; called on its executor thread.
    unsafe fn report(owner: *const (), e: &JoinError);
    /// A static-pool task completed: the executor stops tracking it.
    ///
    /// # Safety
    /// `owner` is alive; called on its executor thread, during the poll that completed the
    /// pool task `task` of this executor.
    unsafe fn pool_task_completed(owner: *const (), task: NonNull<Header>);
    /// Frees arena slot `slot` and drops the task's reference to the executor.
    ///
    /// # Safety
    /// The slot's task is gone (stage dropped, no reference left) and owned that reference.
    unsafe fn release_slot(owner: *const (), slot: usize);
    /// Drops a task's reference to the executor (static-pool tasks: no arena slot).
    ///
    /// # Safety
    /// The caller owns that reference.
    unsafe fn release_ref(owner: *const ());
}

/// The type-erased operations of one future type (and those of its executor that
/// type-erased code calls).
pub(crate) struct Vtable {
    /// Polls the future (or drops it when cancelled); stores the output when done.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Moves the output into `*dst` (a `Poll<Result<T, JoinError>>`).
    pub(crate) read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops whatever the stage still holds (future or output).
    pub(crate) drop_stage: unsafe fn(NonNull<Header>),
    /// [`Schedule::schedule`] of the owner.
    pub(crate) schedule: unsafe fn(*const (), NonNull<Header>),
    /// [`Schedule::release_slot`] of the owner.
    pub(crate) release_slot: unsafe fn(*const (), usize),
    /// [`Schedule::release_ref`] of the owner.
    pub(crate) release_ref: unsafe fn(*const ()),
}

/// The first field of every task slot (`#[repr(C)]`, offset 0: a header pointer is a slot
/// pointer).
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    /// Link for whichever run queue holds the task (a task is in at most one).
    pub(crate) next: UnsafeCell<*const Header>,
    pub(crate) vtable: &'static Vtable,
    /// The executor that owns the task, type-erased: only the [`Schedule`] functions in
    /// `vtable` use it.
    pub(crate) owner: *const (),
    /// The JoinHandle's waker; written only by the JoinHandle while JOIN_WAKER is clear,
    /// read by the executor only after it set COMPLETE and saw JOIN_WAKER.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// The arena slot index, to free it (arena tasks).
    pub(crate) slot: usize,
    /// The claim flag of the static pool slot holding the task (null for arena tasks).
    pub(crate) pool_flag: *const core::sync::atomic::AtomicBool,
    /// Pool tasks: the link of the executor's stack of started tasks (element 1), then
    /// [prev, next] in its list of tasks not yet complete (see the executor's `PoolList`).
    pub(crate) pool_links: UnsafeCell<[*const Header; 2]>,
    /// A name for reports (panics, tracing).
    pub(crate) name: &'static str,
    /// EDF deadline in monotonic ns (0: none). Written by the task itself during its poll,
    /// read by its executor thread: same thread, but atomic to keep the header `Sync`.
    pub(crate) deadline: core::sync::atomic::AtomicU64,
    /// The task's node in an EDF executor's run queue (a leftist heap): touched only by the
    /// executor thread, while the task is in that queue.
    pub(crate) edf: UnsafeCell<EdfNode>,
}

/// A task's node in the EDF run queue (see the executor's `LocalQueue`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EdfNode {
    /// Children in the leftist heap.
    pub(crate) left: *const Header,
    pub(crate) right: *const Header,
    /// Length of the rightmost path to a missing child (null: 0).
    pub(crate) rank: u32,
    /// The order key, fixed when the task is queued: its deadline (`u64::MAX`: none), then
    /// its queue sequence number (FIFO among equal deadlines).
    pub(crate) key: (u64, u64),
}

impl EdfNode {
    pub(crate) const EMPTY: EdfNode = EdfNode {
        left: core::ptr::null(),
        right: core::ptr::null(),
        rank: 0,
        key: (0, 0),
    };
}

/// A reference-counted pointer to a live task header.
#[derive(Debug)]
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a task header is shared between threads only through its atomic state word and
// the fields the state protocol hands over (see state.rs); the future itself is only touched
// by its executor thread.
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// Wraps a pointer that carries one reference.
    ///
    /// # Safety
    /// `ptr` must point to a live task header and the caller must own one of its references,
    /// which moves into the returned value.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        TaskRef(ptr)
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we own a reference, so the slot is alive.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference to a live header.
        unsafe { release(self.0) }
    }
}

/// Drops one reference; frees the slot when it was the last.
///
/// # Safety
/// The caller owns one reference to the live header `ptr`, and gives it up.
pub(crate) unsafe fn release(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive until ref_dec.
    let h = unsafe { ptr.as_ref() };
    if h.state.ref_dec() {
        // SAFETY: that was the last reference: nobody else can reach the slot.
        unsafe { free(ptr) }
    }
}

/// Frees a task slot whose reference count reached zero.
///
/// # Safety
/// No reference to the task remains.
pub(crate) unsafe fn free(ptr: NonNull<Header>) {
    // SAFETY: no reference remains, so we have exclusive access to the slot.
    let h = unsafe { ptr.as_ref() };
    // SAFETY: exclusive access; the stage is dropped exactly once, here.
    unsafe { (h.vtable.drop_stage)(ptr) };
    // SAFETY: exclusive access; the join waker is no longer read by anyone.
    unsafe { *h.join_waker.get() = None };
    let (owner, slot, pool_flag, vtable) = (h.owner, h.slot, h.pool_flag, h.vtable);
    if pool_flag.is_null() {
        // SAFETY: the header is plain data now (the stage is dropped); the slot goes back to
        // the arena, which the task's reference to its executor keeps alive until
        // `release_slot` returns.
        unsafe { (vtable.release_slot)(owner, slot) };
    } else {
        // The task left its executor's pool list when it completed.
        // SAFETY: the flag lives in a static pool; once cleared, a claimer may reuse the slot,
        // and we touch it no more (`owner` and `vtable` were copied out first). Then the
        // task's reference to its executor goes.
        unsafe {
            (*pool_flag).store(false, core::sync::atomic::Ordering::Release);
            (vtable.release_ref)(owner);
        }
    }
}
