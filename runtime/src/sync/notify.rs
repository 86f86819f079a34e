//! [`Notify`]: wake one waiting task (or leave it a permit), or wake every waiting task.
//!
//! The shape is tokio's `Notify`, without allocation: each waiter is a node inside its
//! pinned [`Notified`] future, linked into a FIFO list inside the `Notify` (the private
//! `sync/waiters.rs` holds that list and argues its safety).
//!
//! # The lock, and real-time threads
//! The list is guarded by a `std::sync::Mutex`: on Linux a futex word whose uncontended lock
//! and unlock are one atomic operation each, which never allocates and which sleeps in the
//! kernel instead of spinning when contended. A spin lock would be wrong here: under
//! SCHED_FIFO a waiter spinning on a lock held by a preempted lower-priority thread on the
//! same CPU spins forever. The lock is held for a few pointer writes only: no waker is
//! cloned into a half-linked list, and no waker is called or dropped under it.
//!
//! Two limits follow from `std`'s lock, both only when two threads touch the same `Notify`
//! at the same instant: the futex is not priority-inheriting (a low-priority holder can be
//! delayed by middle-priority threads while a high-priority thread waits for it), and on the
//! EVL core a contended futex wait is an in-band system call. A `Notify` used between tasks of
//! one executor is never contended.
//!
//! A state word beside the lock keeps the common cases lock-free: storing a permit when
//! nobody waits, consuming a stored permit, and `notify_waiters` with nobody waiting.

use super::waiters::{self, Drain, List, Waiter, ALL, NONE, ONE};
use core::future::Future;
use core::pin::{pin, Pin};
use core::sync::atomic::{AtomicUsize, Ordering::*};
use core::task::{Context, Poll, Waker};
use std::fmt;
use std::sync::Mutex;

// The state word: two low bits, then a count of `notify_waiters` calls.
/// Nobody waits, no permit.
const EMPTY: usize = 0;
/// At least one waiter is linked (changes to and from WAITING happen under the lock only).
const WAITING: usize = 1;
/// A permit is stored; nobody waits.
const NOTIFIED: usize = 2;
const STATE: usize = 0b11;
/// One `notify_waiters` call, in the upper bits.
const CALL: usize = 0b100;

/// How many waiters one `notify_waiters` batch releases before it drops the lock to wake
/// them (the wakers wait on its stack, so this bounds both stack use and lock hold time).
const BATCH: usize = 32;

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
    state: AtomicUsize,
    waiters: Mutex<List>,
}

impl Notify {
    /// A `Notify` with no waiter and no permit.
    pub const fn new() -> Self {
        Notify {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(List::new()),
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
    /// consumed its notification.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            calls: self.state.load(Acquire) & !STATE,
            stage: Stage::Init,
            waiter: Waiter::new(),
        }
    }

    /// Wakes the oldest waiter, or stores one permit if nobody waits.
    ///
    /// Not async, so nothing to cancel. It never blocks except on the list's short lock, and
    /// does not take that lock when nobody waits. The waker is called after the lock is
    /// released.
    pub fn notify_one(&self) {
        let mut state = self.state.load(Acquire);
        while state & STATE != WAITING {
            // Nobody waits: store the permit (or keep the one stored).
            match self.state.compare_exchange_weak(
                state,
                (state & !STATE) | NOTIFIED,
                AcqRel,
                Acquire,
            ) {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        let mut list = waiters::lock(&self.waiters);
        let waker = self.notify_locked(&mut list);
        drop(list);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// `notify_one` under the lock; returns the waker to call once it is released.
    fn notify_locked(&self, list: &mut List) -> Option<Waker> {
        let mut state = self.state.load(Acquire);
        loop {
            if state & STATE == WAITING {
                if let Some(waker) = list.pop_front(ONE) {
                    if list.is_empty() {
                        // WAITING only changes under the lock we hold: the word is stable.
                        self.state.store(state & !STATE, Release);
                    }
                    return waker;
                }
                debug_assert!(false, "WAITING with an empty list");
                self.state.store(state & !STATE, Release);
                state &= !STATE;
            }
            match self.state.compare_exchange_weak(
                state,
                (state & !STATE) | NOTIFIED,
                AcqRel,
                Acquire,
            ) {
                Ok(_) => return None,
                Err(s) => state = s,
            }
        }
    }

    /// Wakes every task waiting now, and completes every [`Notified`] created before this
    /// call; stores no permit (a later `notified()` waits for a later notification).
    ///
    /// Waiters that start waiting while the call runs are not part of it. Not async, so
    /// nothing to cancel. Wakers are called outside the lock, in batches of 32; the lock is
    /// not taken when nobody waits. If a waker panics, the waiters not yet woken are still
    /// released (their futures complete when next polled) but not woken.
    pub fn notify_waiters(&self) {
        let mut state = self.state.load(Acquire);
        while state & STATE != WAITING {
            // Nobody waits: count the call (it completes Notified futures not yet polled).
            match self
                .state
                .compare_exchange_weak(state, state.wrapping_add(CALL), AcqRel, Acquire)
            {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        let drain = pin!(Drain::new(&self.waiters));
        {
            let mut list = waiters::lock(&self.waiters);
            let prev = self.state.fetch_add(CALL, AcqRel);
            if prev & STATE == WAITING {
                // Every waiter moves to the drain: the main list is empty now. WAITING only
                // changes under the lock, so the word is stable.
                self.state
                    .store(prev.wrapping_add(CALL) & !STATE | EMPTY, Release);
            }
            // SAFETY: `list` is the drain's lock's data, locked.
            unsafe { drain.as_ref().take_all(&mut list) };
        }
        loop {
            let mut batch: [Option<Waker>; BATCH] = [const { None }; BATCH];
            let mut n = 0;
            let mut more = true;
            {
                let mut list = waiters::lock(&self.waiters);
                while n < BATCH {
                    // SAFETY: `list` is the drain's lock's data, locked.
                    match unsafe { drain.as_ref().pop(&mut list) } {
                        Some(w) => {
                            batch[n] = w;
                            n += 1;
                        }
                        None => {
                            more = false;
                            break;
                        }
                    }
                }
            }
            for w in batch[..n].iter_mut().filter_map(Option::take) {
                w.wake();
            }
            if !more {
                return;
            }
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Relaxed);
        f.debug_struct("Notify")
            .field(
                "state",
                &match state & STATE {
                    EMPTY => "empty",
                    WAITING => "waiting",
                    _ => "notified",
                },
            )
            .field("notify_waiters_calls", &(state / CALL))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet: not linked.
    Init,
    /// Linked, or released by a notifier (the waiter's `notified` word says which).
    Waiting,
    /// Completed.
    Done,
}

/// The future of [`Notify::notified`]: completes when notified.
///
/// It holds its own waiter node, so it must be pinned to be polled (`.await` does that).
/// Dropping it before it completes is cancel-safe (see [`Notify::notified`]).
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// The `notify_waiters` call count when created.
    calls: usize,
    stage: Stage,
    waiter: Waiter,
}

// SAFETY: a Notified holds a `&Notify` (Sync) and its waiter node. While linked, the node is
// touched by other threads only under the Notify's lock or through its atomic word; the
// owner-only fields (`stage`, `calls`) are used by whoever owns (or pins) the future. So
// sending it to another thread is sound.
unsafe impl Send for Notified<'_> {}
// SAFETY: `&Notified` gives access to nothing but `Debug` (the `stage` field, plain data).
unsafe impl Sync for Notified<'_> {}

/// Polls a Notified not yet linked.
fn poll_init(
    notify: &Notify,
    calls: usize,
    stage: &mut Stage,
    waiter: Pin<&Waiter>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let state = notify.state.load(Acquire);
    if state & !STATE != calls {
        return done(stage); // notify_waiters was called since the future was created
    }
    if state & STATE == NOTIFIED
        && notify
            .state
            .compare_exchange(state, state & !STATE, AcqRel, Acquire)
            .is_ok()
    {
        return done(stage); // consumed the permit, lock-free
    }
    // Clone before locking: a foreign waker's clone is user code, kept out of the lock.
    let waker = cx.waker().clone();
    let mut list = waiters::lock(&notify.waiters);
    let mut state = notify.state.load(Acquire);
    loop {
        if state & !STATE != calls {
            drop(list);
            return done(stage);
        }
        let next = match state & STATE {
            NOTIFIED => EMPTY,
            EMPTY => WAITING,
            _ => break, // WAITING: join the others
        };
        match notify
            .state
            .compare_exchange(state, (state & !STATE) | next, AcqRel, Acquire)
        {
            Ok(_) if next == EMPTY => {
                drop(list);
                return done(stage); // consumed the permit
            }
            Ok(_) => break,
            Err(s) => state = s,
        }
    }
    // SAFETY: the waiter is pinned (a field of a pinned Notified), not linked (Init stage),
    // and stays valid until unlinked: a Notified in the Waiting stage unlinks it under this
    // lock when dropped, unless a notifier has already released it.
    unsafe { list.push_back(waiter, waker) };
    *stage = Stage::Waiting;
    Poll::Pending
}

/// Polls a Notified that was linked.
fn poll_waiting(
    notify: &Notify,
    stage: &mut Stage,
    waiter: Pin<&Waiter>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if waiter.notified() != NONE {
        return done(stage); // released: the notifier is done with the node
    }
    let mut list = waiters::lock(&notify.waiters);
    if waiter.notified() != NONE {
        drop(list);
        return done(stage);
    }
    // SAFETY: not released, seen under the lock: the waiter is still linked.
    let old = unsafe { list.update_waker(waiter, cx.waker()) };
    drop(list);
    drop(old);
    Poll::Pending
}

fn done(stage: &mut Stage) -> Poll<()> {
    *stage = Stage::Done;
    Poll::Ready(())
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of `self`: the waiter is only used pinned, below.
        let this = unsafe { self.get_unchecked_mut() };
        let Notified {
            notify,
            calls,
            stage,
            waiter,
        } = this;
        // SAFETY: `waiter` is a field of a pinned value and is never moved (structural pin).
        let waiter = unsafe { Pin::new_unchecked(&*waiter) };
        match stage {
            Stage::Init => poll_init(notify, *calls, stage, waiter, cx),
            Stage::Waiting => poll_waiting(notify, stage, waiter, cx),
            Stage::Done => Poll::Ready(()),
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.stage != Stage::Waiting {
            return; // never linked, or completed
        }
        // SAFETY: the Waiting stage is reached only by polling, through `Pin<&mut Self>`,
        // and a pinned value is dropped in place: the waiter is at its pinned address.
        let waiter = unsafe { Pin::new_unchecked(&self.waiter) };
        if waiter.notified() == ALL {
            return; // released by notify_waiters: nothing to give back
        }
        let notify = self.notify;
        let mut list = waiters::lock(&notify.waiters);
        let forward = match waiter.notified() {
            NONE => {
                // SAFETY: not released, seen under the lock: still linked, here or in a
                // notify_waiters drain of this list.
                unsafe { list.remove(waiter) };
                let state = notify.state.load(Acquire);
                if list.is_empty() && state & STATE == WAITING {
                    // WAITING only changes under the lock we hold: the word is stable.
                    notify.state.store(state & !STATE, Release);
                }
                None
            }
            // Chosen by notify_one but never completed: pass the notification on.
            ONE => notify.notify_locked(&mut list),
            _ => None,
        };
        drop(list);
        if let Some(w) = forward {
            w.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}
