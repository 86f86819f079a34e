//! Shutting an executor down: cancel every live task (arena and static pools) and run
//! until each one is complete, then drop the executor's reference.

use super::run::{Executor, REACTOR_RETRY};
use super::shared::{set_current, Shared};
use crate::task::raw::Header;
use crate::task::state::{Wake, COMPLETE};
use core::sync::atomic::Ordering::*;

impl Executor {
    /// Cancels every live task and runs until each one is complete. A wake or a spawn
    /// still half-way on another thread is waited for on the doorbell (it rings when it
    /// lands), never spun on: a preempted lower-priority waker must get to finish.
    pub(super) fn shutdown(&self) {
        let s = self.s();
        let this = self.shared.as_ptr() as *const Shared;
        s.closed.store(true, SeqCst);
        s.main_woken.store(false, SeqCst);
        let prev = set_current(this);
        // SAFETY: `_enter` is a local, dropped at the end of this call, never leaked; the reactor
        // is boxed in `self.reactor` (it never moves) and, as a field of the executor, is dropped
        // only after this shutdown returned, so it outlives every timer armed through it.
        let _enter = unsafe { self.reactor.enter() };
        loop {
            self.cancel_all();
            // Each cancelled task is polled once more, which drops its future on this thread.
            while self.turn(usize::MAX) > 0 {}
            if s.spawning.load(SeqCst) == 0
                && s.local.is_empty()
                && s.inbox.is_empty()
                && self.all_complete()
            {
                break;
            }
            if self.park().is_err() {
                // Cancelled tasks need no reactor; spawns and wakes in flight on other
                // threads are looked for again shortly, never panicked on.
                std::thread::sleep(REACTOR_RETRY);
            }
        }
        set_current(prev);
    }

    /// Asks every live task (arena and static pools) to stop; queues the idle ones.
    fn cancel_all(&self) {
        let s = self.s();
        for idx in 0..s.arena.capacity() {
            if s.arena.is_ready(idx) {
                let h = s.arena.slot_ptr(idx) as *const Header;
                // SAFETY: a ready slot holds a live task; `cancel` only touches state.
                if unsafe { &*h }.state.cancel() == Wake::Enqueue {
                    s.local.push(h);
                }
            }
        }
        // SAFETY: we are the executor thread; `cancel` only touches state, and queuing a
        // task does not poll it, so the list does not change during the walk.
        unsafe {
            s.pool.for_each_live(|h| {
                // SAFETY: listed tasks have not completed: the executor's reference keeps
                // them alive.
                if (*h).state.cancel() == Wake::Enqueue {
                    s.local.push(h);
                }
            })
        };
    }

    /// Whether every task still holding a slot (arena or pool) has completed.
    fn all_complete(&self) -> bool {
        let s = self.s();
        let done = |h: *const Header| {
            // SAFETY: callers pass live tasks (ready arena slots, listed pool tasks).
            unsafe { &*h }.state.load() & COMPLETE != 0
        };
        let arena_done = (0..s.arena.capacity())
            .filter(|&i| s.arena.is_ready(i))
            .all(|i| done(s.arena.slot_ptr(i) as *const Header));
        // Pool tasks leave the list when they complete: done when it is empty.
        // SAFETY: we are the executor thread.
        let pool_done = unsafe { s.pool.is_empty() };
        arena_done && pool_done
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shutdown();
        // SAFETY: the executor's own reference.
        unsafe { Shared::ref_dec(self.shared.as_ptr()) };
    }
}
