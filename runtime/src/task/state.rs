//! The task state word: lifecycle flags and a reference count in one `AtomicUsize`.
//!
//! ```text
//!  bit 0  SCHEDULED     in a run queue, or to be requeued after the current poll
//!  bit 1  RUNNING       being polled (only the executor thread sets it)
//!  bit 2  COMPLETE      output (or error) stored; the future is gone
//!  bit 3  CANCELLED     abort requested: the next poll drops the future instead
//!  bit 4  JOIN_INTEREST a JoinHandle exists
//!  bit 5  JOIN_WAKER    the JoinHandle's waker is stored and may be read on completion
//!  bits 6..           reference count
//! ```
//! References are held by: the executor while the task is not complete, the JoinHandle,
//! every Waker, and every run-queue entry. The slot is released when the count reaches zero.
//! A wake on a task that is SCHEDULED or COMPLETE does nothing: a storm of wakes costs one
//! enqueue, and a stale waker can never requeue a finished task.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

pub(crate) const SCHEDULED: usize = 1 << 0;
pub(crate) const RUNNING: usize = 1 << 1;
pub(crate) const COMPLETE: usize = 1 << 2;
pub(crate) const CANCELLED: usize = 1 << 3;
pub(crate) const JOIN_INTEREST: usize = 1 << 4;
pub(crate) const JOIN_WAKER: usize = 1 << 5;
pub(crate) const REF_ONE: usize = 1 << 6;
const FLAGS: usize = REF_ONE - 1;

/// The atomic state of one task.
#[derive(Debug)]
pub(crate) struct State(AtomicUsize);

/// What a wake must do after updating the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Push the task on its run queue (a queue reference was taken).
    Enqueue,
    /// Nothing: already scheduled, running (it will be requeued), or complete.
    Nothing,
}

/// What the executor does with a task after polling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterPoll {
    /// Idle: drop the queue reference.
    Idle,
    /// Woken while running: push it back (the queue reference carries over).
    Requeue,
}

impl State {
    /// A freshly spawned task: scheduled, with a JoinHandle, 3 references (executor,
    /// JoinHandle, run queue).
    pub(crate) fn new_spawned() -> Self {
        State(AtomicUsize::new(SCHEDULED | JOIN_INTEREST | (3 * REF_ONE)))
    }

    pub(crate) fn load(&self) -> usize {
        self.0.load(Acquire)
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        // Overflow would need 2^58 wakers; abort like Arc does rather than wrap.
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops one reference; true when it was the last one.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.0.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(prev >= REF_ONE, "task reference count underflow");
        prev & !FLAGS == REF_ONE
    }

    /// Drops `n` references at once; true when they were the last ones.
    pub(crate) fn ref_dec_n(&self, n: usize) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, AcqRel);
        debug_assert!(prev >= n * REF_ONE, "task reference count underflow");
        prev & !FLAGS == n * REF_ONE
    }

    /// A wake: schedule the task unless it is scheduled or complete.
    pub(crate) fn wake(&self) -> Wake {
        let mut cur = self.0.load(Acquire);
        loop {
            if cur & (SCHEDULED | COMPLETE) != 0 {
                return Wake::Nothing;
            }
            let (next, action) = if cur & RUNNING != 0 {
                (cur | SCHEDULED, Wake::Nothing)
            } else {
                ((cur | SCHEDULED) + REF_ONE, Wake::Enqueue)
            };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return action,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Abort: mark cancelled and make sure the executor sees it soon.
    pub(crate) fn cancel(&self) -> Wake {
        let mut cur = self.0.load(Acquire);
        loop {
            if cur & (COMPLETE | CANCELLED) != 0 {
                return Wake::Nothing;
            }
            let (next, action) = if cur & (RUNNING | SCHEDULED) != 0 {
                (cur | CANCELLED | SCHEDULED, Wake::Nothing)
            } else {
                ((cur | CANCELLED | SCHEDULED) + REF_ONE, Wake::Enqueue)
            };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return action,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The executor takes a task off its queue to poll it: SCHEDULED -> RUNNING. Returns the
    /// state seen (check `CANCELLED`).
    pub(crate) fn start_poll(&self) -> usize {
        let prev = self.0.fetch_xor(SCHEDULED | RUNNING, AcqRel);
        debug_assert!(
            prev & SCHEDULED != 0 && prev & (RUNNING | COMPLETE) == 0,
            "bad state to poll: {prev:#x}"
        );
        prev
    }

    /// After a `Pending` poll: RUNNING -> idle, or requeue if woken meanwhile.
    pub(crate) fn end_poll_pending(&self) -> AfterPoll {
        let prev = self.0.fetch_and(!RUNNING, AcqRel);
        if prev & SCHEDULED != 0 {
            AfterPoll::Requeue
        } else {
            AfterPoll::Idle
        }
    }

    /// After the future finished (or was dropped): RUNNING -> COMPLETE. Returns the state
    /// seen, to decide about the join waker and the output.
    pub(crate) fn complete(&self) -> usize {
        let prev = self.0.fetch_xor(RUNNING | COMPLETE, AcqRel);
        debug_assert!(prev & RUNNING != 0 && prev & COMPLETE == 0);
        prev
    }

    /// JoinHandle drop: give up interest. Returns the state seen: when COMPLETE was set the
    /// JoinHandle must drop the output itself.
    pub(crate) fn drop_join_interest(&self) -> usize {
        self.0.fetch_and(!(JOIN_INTEREST | JOIN_WAKER), AcqRel)
    }

    /// JoinHandle: before writing the join waker, take the right to (clear JOIN_WAKER).
    /// Fails (returns false) once the task completed: read the output instead.
    pub(crate) fn unset_join_waker(&self) -> bool {
        let mut cur = self.0.load(Acquire);
        loop {
            if cur & COMPLETE != 0 {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(cur, cur & !JOIN_WAKER, AcqRel, Acquire)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// JoinHandle: publish the join waker it just wrote. Fails once the task completed.
    pub(crate) fn set_join_waker(&self) -> bool {
        let mut cur = self.0.load(Acquire);
        loop {
            if cur & COMPLETE != 0 {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(cur, cur | JOIN_WAKER, AcqRel, Acquire)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }
}
