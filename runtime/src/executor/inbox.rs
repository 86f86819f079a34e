//! Cross-thread handoff into an executor: a lock-free inbox of task pointers and the
//! parked/notified word that turns a storm of wakes into at most one post of the executor's
//! wake element.
//!
//! The inbox is a CAS-push / swap-take-all stack (the shape of embassy's and cordyceps'
//! TransferStack): a push is one compare-and-swap loop that never waits on another thread, and
//! the consumer takes everything with one swap. There is no window in which the consumer has
//! to wait for a half-finished push (unlike a Vyukov MPSC queue), which matters under
//! SCHED_FIFO: a preempted lower-priority producer can never stall the executor.

use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};
use core::ptr;

/// Something with an intrusive `next` link the inbox can thread through.
///
/// # Safety
/// `link` returns the same, valid link slot for a node for as long as it is in the inbox;
/// only the inbox touches it meanwhile.
pub(crate) unsafe trait Linked {
    /// The node's link slot.
    fn link(node: *const Self) -> *mut *const Self;
}

/// A multi-producer, single-consumer stack of nodes.
#[derive(Debug)]
pub(crate) struct Inbox<T: Linked> {
    head: AtomicPtr<T>,
}

impl<T: Linked> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes `node`. Returns true when the inbox was empty.
    ///
    /// # Safety
    /// `node` is valid and in no other queue until the consumer takes it.
    pub(crate) unsafe fn push(&self, node: *const T) -> bool {
        let mut head = self.head.load(Relaxed);
        loop {
            // SAFETY: we own the node's link until the CAS publishes it.
            unsafe { *T::link(node) = head };
            match self
                .head
                .compare_exchange_weak(head, node as *mut T, Release, Relaxed)
            {
                Ok(_) => return head.is_null(),
                Err(h) => head = h,
            }
        }
    }

    /// Whether the inbox looks empty (a hint; a push may land right after).
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Acquire).is_null()
    }

    /// Takes every node, in push order (oldest first), calling `f` on each.
    ///
    /// # Safety
    /// Called by the single consumer only.
    pub(crate) unsafe fn take_all(&self, mut f: impl FnMut(*const T)) -> usize {
        if self.head.load(Relaxed).is_null() {
            return 0;
        }
        let mut node = self.head.swap(ptr::null_mut(), Acquire) as *const T;
        // Reverse the LIFO chain so tasks run in the order they were woken.
        let mut rev: *const T = ptr::null();
        while !node.is_null() {
            // SAFETY: nodes taken are ours; their links were published by Release pushes.
            let next = unsafe { *T::link(node) };
            // SAFETY: `node` came off the chain this consumer just swapped out of `head`: no
            // producer reaches it any more, and its link was published by the Release push that
            // linked it (Acquire swap), so writing the link is ours alone.
            unsafe { *T::link(node) = rev };
            rev = node;
            node = next;
        }
        let mut n = 0;
        while !rev.is_null() {
            // SAFETY: still ours; read the link before handing the node to `f`.
            let next = unsafe { *T::link(rev) };
            f(rev);
            rev = next;
            n += 1;
        }
        n
    }
}

const RUNNING: u32 = 0;
const PARKED: u32 = 1;
const NOTIFIED: u32 = 2;
/// Parked, and the wait in progress is a futex wait on this word (host backend, no fd
/// registered): a wake is a `FUTEX_WAKE` on the word, not a post of the wake element.
const PARKED_FUTEX: u32 = 3;

/// What a waker must do after [`Parker::notify`]: exactly one of these, so a wake costs one
/// system call at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unpark {
    /// The executor is running (or already notified): nothing.
    Nothing,
    /// It blocks (or is about to) on its wake element: post the element.
    Ring,
    /// It blocks (or is about to) in a futex wait on the parker's word: wake that word.
    Futex,
}

/// The executor's parked/notified word.
///
/// ```text
///  waker (any thread)                 executor
///  push to inbox                      drain inbox, run tasks
///  swap(NOTIFIED)                     swap(PARKED) == NOTIFIED ? don't block
///    == PARKED: post the wake elem.     no: wait on the wake element (poll set), or
///    == PARKED_FUTEX: FUTEX_WAKE        CAS(PARKED -> PARKED_FUTEX) and futex-wait while
///                                       the word is PARKED_FUTEX (CAS failed: notified,
///                                       a post is on its way: look without blocking)
///                                     store(RUNNING) after waking
/// ```
/// Every post or futex wake follows a PARKED(_FUTEX) -> NOTIFIED transition, and the executor
/// blocks only after publishing PARKED (or PARKED_FUTEX, which the futex wait rechecks
/// atomically), so no wake is lost, a burst of wakes makes one call, and a waker never makes
/// both calls.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicU32,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicU32::new(RUNNING),
        }
    }

    /// Waker side, after publishing work: how to wake the executor, if it is (about to be)
    /// blocked. Async-signal-safe (one atomic swap).
    pub(crate) fn notify(&self) -> Unpark {
        match self.state.swap(NOTIFIED, SeqCst) {
            PARKED => Unpark::Ring,
            PARKED_FUTEX => Unpark::Futex,
            _ => Unpark::Nothing,
        }
    }

    /// Executor side, before blocking: false when a notification arrived since the last
    /// `unparked` (then it must not block).
    pub(crate) fn prepare_park(&self) -> bool {
        if self.state.swap(PARKED, SeqCst) == NOTIFIED {
            self.state.store(RUNNING, SeqCst);
            return false;
        }
        true
    }

    /// Executor side, after `prepare_park` returned true, when its wait is to be a futex wait
    /// on this word rather than a wait on its wake element: the word and the value to wait
    /// on (the wait blocks only while the word holds it). `None` when a notification arrived
    /// since `prepare_park`: its waker posts the wake element, so the executor looks without
    /// blocking (and drains the element).
    pub(crate) fn park_futex(&self) -> Option<(&AtomicU32, u32)> {
        self.state
            .compare_exchange(PARKED, PARKED_FUTEX, SeqCst, SeqCst)
            .ok()
            .map(|_| (&self.state, PARKED_FUTEX))
    }

    /// Whether the executor has published PARKED (it is blocking or about to, in either
    /// wait).
    pub(crate) fn is_parked(&self) -> bool {
        matches!(self.state.load(SeqCst), PARKED | PARKED_FUTEX)
    }

    /// The word a futex wait waits on (a waker that got [`Unpark::Futex`] wakes it).
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.state
    }

    /// Executor side, after waking (or deciding not to block).
    pub(crate) fn unparked(&self) {
        self.state.store(RUNNING, SeqCst);
    }
}
