//! The executor's state shared with its tasks, wakers, spawners and the main future's
//! waker (each holds a counted reference), the thread's current executor, and the
//! executor's side of the task interface ([`Schedule`]).

use super::arena::Arena;
use super::inbox::{Inbox, Parker, Unpark};
use super::panic_policy::PanicPolicy;
use super::pool_list::PoolList;
use super::queue::{local_busy, LocalQueue};
use super::stats::Stats;
use crate::task::error::JoinError;
use crate::task::raw::{Header, Schedule};
use core::cell::{Cell, UnsafeCell};
use core::ptr::{self, NonNull};
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering::*};
use evl_reactor::core::Doorbell;

/// Executor state shared with wakers, spawners and tasks (each holds a reference).
pub(crate) struct Shared {
    pub(super) refs: AtomicUsize,
    pub(super) arena: Arena,
    pub(super) inbox: Inbox<Header>,
    pub(super) parker: Parker,
    pub(super) wake: Doorbell,
    /// Owner-thread only.
    pub(super) local: LocalQueue,
    pub(super) main_woken: AtomicBool,
    pub(super) closed: AtomicBool,
    pub(super) spawning: AtomicUsize,
    pub(super) panic_policy: PanicPolicy,
    pub(super) name: &'static str,
    pub(super) budget: usize,
    /// Live tasks in static pools (the arena is scanned instead for the others), for
    /// shutdown.
    pub(super) pool: PoolList,
    /// Counters, owner-thread only.
    pub(super) stats: UnsafeCell<Stats>,
}

thread_local! {
    /// The executor running on this thread (inside `block_on` and shutdown), or null.
    static CURRENT: Cell<*const Shared> = const { Cell::new(ptr::null()) };
}

/// The executor running on this thread, if any.
pub(crate) fn current() -> Option<*const Shared> {
    let cur = CURRENT.with(Cell::get);
    (!cur.is_null()).then_some(cur)
}

/// Makes `this` the thread's current executor; returns the previous one (to restore).
pub(super) fn set_current(this: *const Shared) -> *const Shared {
    CURRENT.with(|c| c.replace(this))
}

impl Shared {
    pub(super) fn ref_inc(this: *const Shared) {
        // SAFETY: callers hold a reference, so `this` is alive.
        unsafe { (*this).refs.fetch_add(1, Relaxed) };
    }

    /// # Safety
    /// The caller owns one reference and gives it up.
    pub(super) unsafe fn ref_dec(this: *const Shared) {
        // SAFETY: the caller's reference keeps it alive until the decrement.
        if unsafe { (*this).refs.fetch_sub(1, AcqRel) } == 1 {
            // SAFETY: last reference: allocated by Box in Executor::build.
            drop(unsafe { Box::from_raw(this as *mut Shared) });
        }
    }

    pub(super) fn is_current(this: *const Shared) -> bool {
        CURRENT.with(|c| c.get() == this)
    }

    /// Queues a task that holds a queue reference (from any thread).
    ///
    /// # Safety
    /// `this` is alive (the task's reference keeps it so); `task` carries a queue reference.
    pub(super) unsafe fn schedule(this: *const Shared, task: NonNull<Header>) {
        // SAFETY: alive per the caller.
        let s = unsafe { &*this };
        if Self::is_current(this) && !local_busy() {
            s.local.push(task.as_ptr());
            // Parked means blocked in (or about to enter) the reactor's wait: only a signal
            // handler on this thread can get here then; make the executor look again.
            compiler_fence(SeqCst);
            if s.parker.is_parked() {
                s.notify();
            }
        } else {
            // SAFETY: the task is in no other queue (it was just scheduled).
            unsafe { s.inbox.push(task.as_ptr()) };
            s.notify();
        }
    }

    /// Re-queues a task woken while it was running (on the executor thread).
    ///
    /// # Safety
    /// As [`Shared::schedule`], called on the executor thread.
    unsafe fn requeue(this: *const Shared, task: NonNull<Header>) {
        // SAFETY: alive per the caller; owner thread.
        unsafe { (*this).local.push(task.as_ptr()) };
    }

    /// Wakes the executor if it is (about to be) blocked: one system call at most, the one
    /// that ends the wait it makes (a post of its wake element, or a futex wake of its parker
    /// word). Async-signal-safe.
    pub(super) fn notify(&self) {
        match self.parker.notify() {
            Unpark::Nothing => {}
            Unpark::Ring => self.wake.ring(),
            Unpark::Futex => evl_reactor::core::poll::unpark(self.parker.word()),
        }
    }

    /// Reports a task that ended with an error.
    ///
    /// # Safety
    /// `this` is alive.
    unsafe fn report(this: *const Shared, e: &JoinError) {
        // SAFETY: alive per the caller.
        let s = unsafe { &*this };
        if let JoinError::Panicked { task, .. } = e {
            tracing::error!(
                executor = s.name,
                task = *task,
                message = e.panic_message().unwrap_or("<non-string payload>"),
                "task panicked"
            );
            // SAFETY: owner thread (reports happen inside polls).
            unsafe { (*s.stats.get()).panicked += 1 };
            if s.panic_policy == PanicPolicy::Abort {
                std::process::abort();
            }
        }
    }

    /// Drops a task's reference to the executor (static-pool tasks, whose slot is not in the
    /// arena).
    ///
    /// # Safety
    /// The caller owns that reference.
    unsafe fn release_ref(this: *const Shared) {
        // SAFETY: forwarded.
        unsafe { Self::ref_dec(this) };
    }

    /// Frees a task slot and the task's reference to the executor.
    ///
    /// # Safety
    /// The slot's task is gone (stage dropped, no reference left).
    unsafe fn release_slot(this: *const Shared, slot: usize) {
        // SAFETY: the task's reference keeps `this` alive until ref_dec below.
        unsafe { (*this).arena.release(slot) };
        // SAFETY: that reference is given up here.
        unsafe { Self::ref_dec(this) };
    }

    /// Ends a spawn; the last one to finish while the executor shuts down rings it (its
    /// shutdown waits for spawns in flight on the doorbell).
    pub(super) fn spawn_done(&self) {
        if self.spawning.fetch_sub(1, SeqCst) == 1 && self.closed.load(SeqCst) {
            self.notify();
        }
    }
}

// SAFETY: each function keeps the contract `Schedule` states: `owner` is always a live
// `Shared` (a task holds a reference to its executor until it is released), and each one
// runs on the thread the contract names.
unsafe impl Schedule for Shared {
    unsafe fn schedule(owner: *const (), task: NonNull<Header>) {
        // SAFETY: forwarded contract.
        unsafe { Shared::schedule(owner.cast(), task) }
    }
    unsafe fn requeue(owner: *const (), task: NonNull<Header>) {
        // SAFETY: forwarded contract.
        unsafe { Shared::requeue(owner.cast(), task) }
    }
    unsafe fn report(owner: *const (), e: &JoinError) {
        // SAFETY: forwarded contract.
        unsafe { Shared::report(owner.cast(), e) }
    }
    unsafe fn pool_task_completed(owner: *const (), task: NonNull<Header>) {
        // SAFETY: alive, executor thread, during the completing poll (forwarded contract).
        unsafe { (*owner.cast::<Shared>()).pool.completed(task.as_ptr()) }
    }
    unsafe fn release_slot(owner: *const (), slot: usize) {
        // SAFETY: forwarded contract.
        unsafe { Shared::release_slot(owner.cast(), slot) }
    }
    unsafe fn release_ref(owner: *const ()) {
        // SAFETY: forwarded contract.
        unsafe { Shared::release_ref(owner.cast()) }
    }
}
