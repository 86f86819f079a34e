//! The executor's list of static-pool tasks that started and have not completed.

use super::inbox::{Inbox, Linked};
use crate::task::raw::Header;
use core::cell::UnsafeCell;
use core::ptr;

/// The executor's static-pool tasks that started and have not completed, so that shutdown
/// can cancel them and wait for them (arena tasks are found by scanning the arena instead).
///
/// # Design: no lock, no thread waits for another
/// A pool task's membership changes at two moments, and each has one kind of thread:
/// - **start**, on any thread (a `Spawner` on another thread, a task of this executor):
///   the task is pushed onto `incoming`, the inbox's lock-free CAS-push stack, before it is
///   first scheduled;
/// - **completion**, always on the executor thread (the poll that drops its future, also when
///   cancelled): `incoming` is taken into `live`, the executor thread's own doubly-linked
///   list, and the task is unlinked from it. It is there: it was pushed before it could be
///   scheduled, hence before this poll.
///
/// Shutdown's scans run on the executor thread too: take `incoming`, walk `live`. Releasing
/// a task's slot (its last reference dropped, on whichever thread) does not touch the list:
/// the task left it at completion, which always comes first (the executor holds a reference
/// until then). So the only shared part is the CAS-push stack (model-checked with the
/// inbox), and `live` is plain single-threaded data.
pub(crate) struct PoolList {
    incoming: Inbox<PoolNode>,
    /// Head of the list of taken tasks (links: `Header::pool_links` as [prev, next]).
    /// Executor thread only.
    live: UnsafeCell<*const Header>,
}

/// A task header seen through its pool link, so the inbox can stack pool tasks.
#[repr(transparent)]
struct PoolNode(Header);

// SAFETY: the link slot is `pool_links[1]`, used as the `incoming` stack's link only from a
// pool task's start until the executor thread takes it (nothing else touches the pool links
// meanwhile), and the same slot for the same node every time.
unsafe impl Linked for PoolNode {
    fn link(node: *const Self) -> *mut *const Self {
        // SAFETY: callers pass live headers (PoolNode is a transparent Header); element 1 of
        // the two-element array is in bounds.
        unsafe { ((*node).0.pool_links.get() as *mut *const Header).add(1) as *mut *const Self }
    }
}

impl PoolList {
    pub(crate) fn new() -> Self {
        PoolList {
            incoming: Inbox::new(),
            live: UnsafeCell::new(ptr::null()),
        }
    }

    /// Lists a pool task that is starting, before it is first scheduled (any thread).
    ///
    /// # Safety
    /// `h` is a live pool task of this list's executor, in no stack yet.
    pub(crate) unsafe fn push_start(&self, h: *const Header) {
        // SAFETY: caller's contract.
        unsafe { self.incoming.push(h as *const PoolNode) };
    }

    /// Takes the pool tasks started since the last call into `live`.
    ///
    /// # Safety
    /// Called on the executor thread (the single consumer of `incoming`, the only user of
    /// `live`).
    pub(crate) unsafe fn take_starts(&self) {
        // SAFETY: caller's contract; the nodes taken are live pool tasks of this executor
        // that have not completed (completion takes them first), and `live`'s members too.
        unsafe {
            self.incoming.take_all(|n| {
                let h = n as *const Header;
                let head = *self.live.get();
                *(*h).pool_links.get() = [ptr::null(), head];
                if !head.is_null() {
                    (*(*head).pool_links.get())[0] = h;
                }
                *self.live.get() = h;
            });
        }
    }

    /// A pool task completed: it leaves the list.
    ///
    /// # Safety
    /// Called on the executor thread, during the poll that completed the pool task `h` of
    /// this list's executor.
    pub(crate) unsafe fn completed(&self, h: *const Header) {
        // SAFETY: executor thread. `h` was pushed before it was scheduled, so it is in
        // `live` once the stack is taken; `live`'s members are live tasks, ours to relink.
        unsafe {
            self.take_starts();
            let [prev, next] = *(*h).pool_links.get();
            if prev.is_null() {
                *self.live.get() = next;
            } else {
                (*(*prev).pool_links.get())[1] = next;
            }
            if !next.is_null() {
                (*(*next).pool_links.get())[0] = prev;
            }
        }
    }

    /// Calls `f` on every listed task (started, not completed).
    ///
    /// # Safety
    /// Called on the executor thread; `f` must not complete or unlist tasks (queuing one
    /// does not poll it, so the list does not change during the walk).
    pub(crate) unsafe fn for_each_live(&self, mut f: impl FnMut(*const Header)) {
        // SAFETY: caller's contract.
        unsafe { self.take_starts() };
        // SAFETY: `live` is touched only on the executor thread (the module's design), and the
        // caller's contract puts us on it: reading it races with nothing.
        let mut h = unsafe { *self.live.get() };
        while !h.is_null() {
            f(h);
            // SAFETY: listed tasks have not completed, so the executor's reference keeps
            // them alive, and `f` did not unlist this one.
            h = unsafe { (*(*h).pool_links.get())[1] };
        }
    }

    /// Whether no listed task is left (every started pool task completed).
    ///
    /// # Safety
    /// Called on the executor thread.
    pub(crate) unsafe fn is_empty(&self) -> bool {
        // SAFETY: caller's contract.
        unsafe {
            self.take_starts();
            (*self.live.get()).is_null()
        }
    }
}
