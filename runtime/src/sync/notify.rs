//! [`Notify`]: wake one waiting task (or leave it a permit), or wake every waiting task.
//!
//! The shape is tokio's `Notify`, without allocation and without a lock on its common paths:
//! each waiter is a node inside its pinned [`Notified`] future; the private `sync/waiters/`
//! holds the whole protocol and argues its safety (and runtime/loom-models checks it).
//!
//! # What may block, and on what
//! * [`Notify::notify_one`], [`Notify::notify_waiters`], [`Notify::notified`] and awaiting a
//!   [`Notified`] (its first poll links it, a later poll with the same waker only reads an
//!   atomic word) never wait for another thread and never make a system call of their own:
//!   each is a few atomic operations, plus, when the list needs work (linking, releasing
//!   waiters), that work if no other thread is doing list work on this `Notify` at that
//!   instant; otherwise that thread does it for them. The only calls out are the wakers of
//!   the waiters released (an evl task's waker is lock-free and, on the EVL backend, stays
//!   out-of-band).
//! * Three rare cases need the waiter list to themselves, and wait while another thread is
//!   inside its (short, bounded) list work on the same `Notify`: dropping a `Notified` that
//!   is still waiting (cancellation: its node must be unlinked before its memory goes),
//!   polling a waiting `Notified` with a different waker than last time, and
//!   `notify_waiters` racing a `notify_one` that no thread has handed on yet. They take an
//!   evl-core [`RawLock`](evl_reactor::core::lock): uncontended one compare-and-swap; contended,
//!   on the host a priority-inheriting futex wait (the holder is boosted), on the EVL
//!   backend short out-of-band sleeps for an attached thread (no stage switch; no priority
//!   inheritance either) and in-band sleeps for a plain thread.
//!
//! A `Notify` used only by the tasks of one executor is never contended: all of this is then
//! plain atomic operations on one thread.

use super::waiters::wait::Wait;
use super::waiters::{self, List, Waiters};
use crate::loom::lock::RawLock;
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use core::cell::UnsafeCell;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};
use pin_project_lite::pin_project;
use std::fmt;

/// Notifies tasks: one at a time, or all that wait.
///
/// * [`notify_one`](Notify::notify_one) wakes the oldest waiter; if none waits, it stores
///   one permit (several calls still store one) that the next
///   [`notified()`](Notify::notified)`.await` consumes at once.
/// * [`notify_waiters`](Notify::notify_waiters) wakes every waiter, and every [`Notified`]
///   created before the call even if it was not polled yet; it stores no permit.
///
/// Both may be called from any thread (a task of any executor, or an ordinary thread); a
/// `Notify` is `Send + Sync` and [`Notify::new`] is `const`, so it can live in a `static`.
/// No call allocates.
///
/// ```
/// use evl::sync::Notify;
/// static READY: Notify = Notify::new();
///
/// # let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
/// let ex = evl::Executor::new().unwrap();
/// let t = std::thread::spawn(|| READY.notify_one());
/// ex.block_on(READY.notified()); // returns once the thread has notified
/// t.join().unwrap();
/// ```
pub struct Notify {
    waiters: Waiters,
}

impl Notify {
    /// A `Notify` with no waiter and no permit.
    pub const fn new() -> Self {
        Notify {
            waiters: Waiters {
                state: AtomicU64::new(0),
                incoming: AtomicPtr::new(ptr::null_mut()),
                listed: AtomicUsize::new(0),
                epoch: AtomicU32::new(0),
                lock: RawLock::new(),
                list: UnsafeCell::new(List::new()),
            },
        }
    }

    /// A future that completes when this `Notify` is notified.
    ///
    /// It joins the FIFO of waiters when first polled (not when created), so
    /// [`notify_one`](Notify::notify_one) picks waiters in the order they first waited.
    /// [`notify_waiters`](Notify::notify_waiters) also completes futures created before the
    /// call that were never polled, so "create, check a condition, await" loses no wakeup.
    ///
    /// # Cancellation
    /// Cancel-safe: dropping the future before it completes loses no notification. If
    /// `notify_one` had already chosen it, the notification passes to the next waiter, or
    /// becomes the stored permit when nobody else waits. Once it has completed, it has
    /// consumed its notification. Dropping it while it waits may wait briefly for another
    /// thread's list work on this `Notify` (see [the module docs](self)).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            wait: Wait::new(&self.waiters),
        }
    }

    /// Wakes the oldest waiter, or stores one permit if nobody waits.
    ///
    /// Not async, so nothing to cancel. It never waits for another thread (see [the module
    /// docs](self)); the waker is called after any list work is done.
    pub fn notify_one(&self) {
        self.waiters.notify_one();
    }

    /// Wakes every task waiting now, and completes every [`Notified`] created before this
    /// call; stores no permit (a later `notified()` waits for a later notification).
    ///
    /// Waiters that start waiting while the call runs are not part of it. Not async, so
    /// nothing to cancel. Wakers are called outside the list work, in batches of 32. It never
    /// waits for another thread, except when it races a `notify_one` that no thread has
    /// handed on yet (see [the module docs](self)). If a waker panics, the waiters that call
    /// had not yet woken are released by the next operation on this `Notify`, or by their own
    /// next poll.
    pub fn notify_waiters(&self) {
        self.waiters.notify_waiters();
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.waiters.state.load(Relaxed);
        f.debug_struct("Notify")
            .field("permit", &(state & waiters::PERMIT != 0))
            .field("pending_notify_one", &waiters::pending(state))
            .field("notify_waiters_calls", &waiters::generation(state))
            .finish()
    }
}

pin_project! {
    /// The future of [`Notify::notified`]: completes when notified.
    ///
    /// It holds its own waiter node, so it must be pinned to be polled (`.await` does that).
    /// Dropping it before it completes is cancel-safe (see [`Notify::notified`]).
    #[must_use = "futures do nothing unless awaited"]
    pub struct Notified<'a> {
        #[pin]
        wait: Wait<'a>,
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().wait.poll(cx)
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("stage", &self.wait.stage())
            .finish_non_exhaustive()
    }
}
