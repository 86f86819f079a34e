//! Tasks: a header followed by the future (then its output), in one arena slot that never
//! moves while the task lives.
//!
//! | file | what |
//! |---|---|
//! | `state` | the atomic state word (flags + reference count) |
//! | `cell` | the typed slot layout and the per-future vtable |
//! | `waker` | `Waker`s that are task pointers (one reference each) |
//! | `join` | [`JoinHandle`], [`JoinError`] |
//! | [`pool`] | static task pools for `#[evl::task(pool_size = N)]` functions |
//!
//! [`set_deadline`], [`clear_deadline`] and [`deadline`] act on the task being polled.

pub(crate) mod cell;
pub(crate) mod join;
pub mod pool;
pub(crate) mod state;
pub(crate) mod waker;

pub use join::{JoinError, JoinHandle};
pub use pool::{task_pool_size, PoolSpawn, TaskFn, TaskPool, TaskPoolHolder};

use core::sync::atomic::Ordering::Relaxed;

thread_local! {
    /// The task being polled on this thread (null outside polls).
    static CURRENT_TASK: core::cell::Cell<*const Header> = const { core::cell::Cell::new(core::ptr::null()) };
}

/// Marks `h` as the task being polled until the guard drops.
pub(crate) struct Polling(*const Header);

impl Polling {
    pub(crate) fn enter(h: *const Header) -> Polling {
        Polling(CURRENT_TASK.with(|c| c.replace(h)))
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        CURRENT_TASK.with(|c| c.set(self.0));
    }
}

fn with_current_task<R>(f: impl FnOnce(&Header) -> R) -> Option<R> {
    let p = CURRENT_TASK.with(core::cell::Cell::get);
    // SAFETY: CURRENT_TASK is non-null only during the poll of that task, which holds a
    // reference to it.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// Sets the current task's deadline: on an executor built with EDF order
/// ([`Builder::edf`](crate::Builder::edf)) the runnable task with the earliest deadline runs
/// first, and a poll that starts after its task's deadline is counted
/// ([`Stats::late_polls`](crate::Stats::late_polls)). Returns false outside a task.
pub fn set_deadline(deadline: crate::time::Instant) -> bool {
    with_current_task(|h| h.deadline.store(deadline.as_nanos().max(1), Relaxed)).is_some()
}

/// Clears the current task's deadline (it then runs after every task that has one).
/// Returns false outside a task.
pub fn clear_deadline() -> bool {
    with_current_task(|h| h.deadline.store(0, Relaxed)).is_some()
}

/// The current task's deadline, if it is in a task and has one.
pub fn deadline() -> Option<crate::time::Instant> {
    with_current_task(|h| h.deadline.load(Relaxed))
        .filter(|&d| d != 0)
        .map(|d| crate::time::Instant::from_timestamp(crate::core::Timestamp::from_nanos(d)))
}

use crate::executor::Shared;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::task::Waker;
use state::State;

/// The type-erased operations of one future type.
pub(crate) struct Vtable {
    /// Polls the future (or drops it when cancelled); stores the output when done.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Moves the output into `*dst` (a `Poll<Result<T, JoinError>>`).
    pub(crate) read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops whatever the stage still holds (future or output).
    pub(crate) drop_stage: unsafe fn(NonNull<Header>),
}

/// The first field of every task slot (`#[repr(C)]`, offset 0: a header pointer is a slot
/// pointer).
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    /// Link for whichever run queue holds the task (a task is in at most one).
    pub(crate) next: UnsafeCell<*const Header>,
    pub(crate) vtable: &'static Vtable,
    /// The executor that owns the task.
    pub(crate) shared: *const Shared,
    /// The JoinHandle's waker; written only by the JoinHandle while JOIN_WAKER is clear,
    /// read by the executor only after it set COMPLETE and saw JOIN_WAKER.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// The arena slot index, to free it (arena tasks).
    pub(crate) slot: usize,
    /// The claim flag of the static pool slot holding the task (null for arena tasks).
    pub(crate) pool_flag: *const core::sync::atomic::AtomicBool,
    /// Pool tasks: the link of the executor's stack of started tasks (element 1), then
    /// [prev, next] in its list of tasks not yet complete (see `executor::PoolList`).
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

/// A task's node in the EDF run queue (see `executor::LocalQueue`).
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
    let (shared, slot, pool_flag) = (h.shared, h.slot, h.pool_flag);
    if pool_flag.is_null() {
        // SAFETY: the header is plain data now (the stage is dropped); the slot goes back to
        // the arena, which the task's Shared reference keeps alive until `release_slot`
        // returns.
        unsafe { Shared::release_slot(shared, slot) };
    } else {
        // The task left its executor's pool list when it completed.
        // SAFETY: the flag lives in a static pool; once cleared, a claimer may reuse the slot,
        // and we touch it no more. Then the task's reference to its executor goes.
        unsafe {
            (*pool_flag).store(false, core::sync::atomic::Ordering::Release);
            Shared::release_ref(shared);
        }
    }
}
