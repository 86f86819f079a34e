//! The typed layout of a task slot and the vtable functions of each future type.

use super::current::Polling;
use super::error::JoinError;
use super::raw::{self, EdfNode, Header, Schedule, Vtable};
use super::state::{AfterPoll, State, CANCELLED, COMPLETE, JOIN_INTEREST, JOIN_WAKER};
use core::cell::UnsafeCell;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the slot holds after the header.
pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// One task slot of a future `F` owned by an executor of type `S`: header first
/// (`repr(C)`), then the stage.
#[repr(C)]
pub(crate) struct Cell<F: Future, S: Schedule> {
    pub(crate) header: Header,
    pub(crate) stage: UnsafeCell<Stage<F>>,
    _owner: PhantomData<fn(S)>,
}

impl<F: Future, S: Schedule> Cell<F, S> {
    pub(crate) const VTABLE: Vtable = Vtable {
        poll: poll::<F, S>,
        read_output: read_output::<F, S>,
        drop_stage: drop_stage::<F, S>,
        schedule: S::schedule,
        release_slot: S::release_slot,
        release_ref: S::release_ref,
    };

    /// A task of `future`, scheduled, owned by the executor `owner` (an `S`).
    pub(crate) fn new(
        future: F,
        owner: *const (),
        slot: usize,
        pool_flag: *const core::sync::atomic::AtomicBool,
        name: &'static str,
    ) -> Self {
        Cell {
            header: Header {
                state: State::new_spawned(),
                next: UnsafeCell::new(core::ptr::null()),
                vtable: &Self::VTABLE,
                owner,
                join_waker: UnsafeCell::new(None),
                slot,
                pool_flag,
                pool_links: UnsafeCell::new([core::ptr::null(); 2]),
                name,
                deadline: core::sync::atomic::AtomicU64::new(0),
                edf: UnsafeCell::new(EdfNode::EMPTY),
            },
            stage: UnsafeCell::new(Stage::Running(future)),
            _owner: PhantomData,
        }
    }
}

/// The slot of `ptr`, typed.
///
/// # Safety
/// `ptr` is the header of a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S: Schedule>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the header is the first field of a repr(C) Cell<F, S> (caller's contract).
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Polls the task once (SCHEDULED -> RUNNING -> idle, requeued or COMPLETE), consuming the
/// queue reference the caller took off the run queue.
///
/// # Safety
/// Called by the owning executor thread only, on a task it just took off its run queue,
/// whose queue reference it hands over.
unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract: a live Cell<F>.
    let c = unsafe { cell::<F, S>(ptr) };
    let prev = c.header.state.start_poll();
    // SAFETY: RUNNING is set: only this thread touches the stage until it is cleared.
    let stage = unsafe { &mut *c.stage.get() };
    let result = if prev & CANCELLED != 0 {
        Some(Err(JoinError::Cancelled))
    } else {
        let Stage::Running(fut) = stage else {
            unreachable!("a scheduled task is running")
        };
        // SAFETY: the future lives in the slot, which never moves while the task lives.
        let fut = unsafe { Pin::new_unchecked(fut) };
        // The waker borrows our queue reference (no count change for wake_by_ref).
        let waker = core::mem::ManuallyDrop::new(super::waker::borrowed(ptr));
        let mut cx = Context::from_waker(&waker);
        let _current = Polling::enter(ptr.as_ptr());
        #[cfg(feature = "trace-polls")]
        let (span, t0) = (
            tracing::trace_span!(
                "task.poll",
                task = c.header.name,
                poll_ns = tracing::field::Empty
            ),
            evl_reactor::now_ns(),
        );
        #[cfg(feature = "trace-polls")]
        let entered = span.enter();
        let r = match catch_unwind(AssertUnwindSafe(|| fut.poll(&mut cx))) {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(out)) => Some(Ok(out)),
            Err(payload) => Some(Err(JoinError::panicked(c.header.name, payload))),
        };
        #[cfg(feature = "trace-polls")]
        {
            drop(entered);
            span.record("poll_ns", evl_reactor::now_ns().saturating_sub(t0));
        }
        r
    };
    match result {
        None => {
            if c.header.state.end_poll_pending() == AfterPoll::Requeue {
                // SAFETY: the queue reference carries over to the new queue entry.
                unsafe { S::requeue(c.header.owner, ptr) };
            } else {
                // SAFETY: we own the queue reference.
                unsafe { raw::release(ptr) };
            }
        }
        Some(out) => {
            if let Err(e) = &out {
                // SAFETY: the executor outlives its running tasks.
                unsafe { S::report(c.header.owner, e) };
            }
            // Drop the future now (its resources go back at once), then publish the output.
            // SAFETY: the stage is ours (RUNNING) and the executor outlives its running tasks.
            unsafe {
                replace_contained::<F, S>(
                    stage,
                    Stage::Finished(out),
                    c.header.name,
                    c.header.owner,
                )
            };
            let prev = c.header.state.complete();
            if !c.header.pool_flag.is_null() {
                // SAFETY: the executor thread, completing this pool task of that executor.
                unsafe { S::pool_task_completed(c.header.owner, ptr) };
            }
            if prev & JOIN_INTEREST == 0 {
                // Nobody will read it.
                // SAFETY: we are the executor thread, during the poll that completed this task;
                // no JoinHandle will read the stage (no join interest), so access is exclusive;
                // the executor outlives its running tasks, so `owner` is live.
                unsafe {
                    replace_contained::<F, S>(stage, Stage::Consumed, c.header.name, c.header.owner)
                };
            } else if prev & JOIN_WAKER != 0 {
                // SAFETY: JOIN_WAKER was set before COMPLETE: the JoinHandle wrote the waker
                // and will not touch it again (its state updates fail on COMPLETE).
                if let Some(w) = unsafe { (*c.header.join_waker.get()).as_ref() } {
                    w.wake_by_ref();
                }
            }
            // Drop the executor's reference and the queue reference.
            if c.header.state.ref_dec_n(2) {
                // SAFETY: those were the last references.
                unsafe { raw::free(ptr) };
            }
        }
    }
}

/// Replaces the stage, dropping what it held (the future, or an output nobody reads) *in
/// place* — the future is pinned in its slot: timers and waiters it armed point into it — and
/// without letting a panicking `Drop` unwind into the executor: that is reported like a task
/// panic, and the stage is then overwritten as if the drop had finished.
///
/// # Safety
/// Called on the executor thread during a poll, with exclusive access to `stage`; `owner`
/// is the task's live executor.
unsafe fn replace_contained<F: Future, S: Schedule>(
    stage: &mut Stage<F>,
    new: Stage<F>,
    name: &'static str,
    owner: *const (),
) {
    let p: *mut Stage<F> = stage;
    // SAFETY: exclusive access; the old value is dropped exactly once, here, where it lies.
    let r = catch_unwind(AssertUnwindSafe(|| unsafe { core::ptr::drop_in_place(p) }));
    // SAFETY: the old value is gone (dropped, or abandoned by a panicking Drop): overwrite
    // without dropping it again.
    unsafe { core::ptr::write(p, new) };
    if let Err(payload) = r {
        // SAFETY: caller's contract.
        unsafe { S::report(owner, &JoinError::panicked(name, payload)) };
    }
}

/// # Safety
/// `dst` points to a `Poll<Result<F::Output, JoinError>>`; the caller is the JoinHandle and
/// saw COMPLETE.
unsafe fn read_output<F: Future, S: Schedule>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: caller's contract: a live Cell<F>, and COMPLETE was observed with Acquire, so
    // the executor is done with the stage and the JoinHandle is its only user.
    let c = unsafe { cell::<F, S>(ptr) };
    // SAFETY: COMPLETE was observed with Acquire, so the executor no longer touches the
    // stage, and the JoinHandle (the caller) is its only user: access is exclusive.
    let stage = unsafe { &mut *c.stage.get() };
    match core::mem::replace(stage, Stage::Consumed) {
        // SAFETY: `dst` has the type the JoinHandle<F::Output> passes.
        Stage::Finished(out) => unsafe {
            *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(out)
        },
        _ => panic!("JoinHandle polled after completion"),
    }
    debug_assert!(c.header.state.load() & COMPLETE != 0);
}

/// # Safety
/// Exclusive access to the slot (last reference gone).
unsafe fn drop_stage<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller's contract: a live Cell<F> accessed exclusively.
    let c = unsafe { cell::<F, S>(ptr) };
    // A panicking Drop must not unwind out of a waker drop or the executor: the stage is
    // given up (partly dropped at worst) and the slot is released all the same.
    // SAFETY: exclusive access; the stage is dropped exactly once, here.
    let r = catch_unwind(AssertUnwindSafe(|| unsafe {
        core::ptr::drop_in_place(c.stage.get())
    }));
    if r.is_err() {
        tracing::error!(
            task = c.header.name,
            "a task's future or output panicked while being dropped"
        );
    }
}
