//! Awaiting a task's output, or aborting the task.

use super::error::JoinError;
use super::raw::TaskRef;
use super::state::{Wake, COMPLETE, JOIN_WAKER};
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

/// An owned permission to await a spawned task's output, or to abort it. Dropping it
/// detaches the task (it keeps running).
pub struct JoinHandle<T> {
    task: Option<TaskRef>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output (T) across threads, and touches the task through
// its atomic state protocol.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only exposes `is_finished` and `abort`, which are atomic operations.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: TaskRef) -> Self {
        JoinHandle {
            task: Some(task),
            _output: PhantomData,
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task
            .as_ref()
            .is_none_or(|t| t.header().state.load() & COMPLETE != 0)
    }

    /// Asks the task to stop: its future is dropped at its next turn instead of polled, and
    /// awaiting this handle then yields [`JoinError::Cancelled`] (unless it completed first).
    pub fn abort(&self) {
        if let Some(t) = &self.task {
            if t.header().state.cancel() == Wake::Enqueue {
                // SAFETY: `cancel` took a reference for the queue entry; the task's executor
                // is alive (a task holds a reference to it until its slot is freed, and our
                // reference keeps the slot).
                unsafe { (t.header().vtable.schedule)(t.header().owner, t.as_ptr()) };
            }
        }
    }
}

// The handle holds no pinned data: the output is moved out of the task slot.
impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = self
            .task
            .as_ref()
            .expect("JoinHandle polled after it completed");
        let h = task.header();
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        if h.state.load() & COMPLETE == 0 {
            // Store (or refresh) our waker: clear JOIN_WAKER to own the slot, write, publish.
            // SAFETY: reading the waker is fine while JOIN_WAKER is set: only we write it.
            let same = h.state.load() & JOIN_WAKER != 0
                && unsafe { (*h.join_waker.get()).as_ref() }
                    .is_some_and(|w| w.will_wake(cx.waker()));
            if same {
                return Poll::Pending;
            }
            if h.state.unset_join_waker() {
                // SAFETY: JOIN_WAKER is clear and the task is not complete: the executor does
                // not read the waker, and we are its only writer.
                unsafe { *h.join_waker.get() = Some(cx.waker().clone()) };
                if h.state.set_join_waker() {
                    return Poll::Pending;
                }
            }
            // Completed meanwhile: fall through and read the output.
        }
        // SAFETY: COMPLETE observed (Acquire): the output is ready, we are its only reader,
        // and `out` has the type the task's vtable writes.
        unsafe { (h.vtable.read_output)(task.as_ptr(), &mut out as *mut _ as *mut ()) };
        self.get_mut().task = None; // drops our reference
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            let prev = t.header().state.drop_join_interest();
            if prev & COMPLETE != 0 {
                // Complete, and we were the last one interested: the executor left the output
                // for us; move it out through the vtable and drop it here.
                let mut sink: Poll<Result<T, JoinError>> = Poll::Pending;
                // SAFETY: COMPLETE observed (AcqRel), so the executor is done with the stage
                // and we are its only user; `sink` has the type the vtable writes.
                unsafe {
                    (t.header().vtable.read_output)(t.as_ptr(), &mut sink as *mut _ as *mut ())
                };
            }
            drop(t);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
