//! The FIFO permit queue behind [`Semaphore`](super::Semaphore), [`Mutex`](super::Mutex),
//! [`RwLock`](super::RwLock) and the send side of [`mpsc`](super::mpsc): the unsafe core,
//! model-checked with loom (runtime/loom-models compiles this file against loom's atomics
//! and a loom lock).
//!
//! # Shape
//! One atomic word, `state`: the permits on hand (shifted), a `QUEUED` bit (some waiter is
//! queued) and a `CLOSED` bit. A waiter is a node inside its pinned [`Acquire`] future, linked
//! into a FIFO list that only the holder of `lock` (an evl-core
//! [`RawLock`](crate::core::lock)) touches. Nothing is allocated.
//!
//! # Fast paths (no lock)
//! While `QUEUED` is clear, taking permits that are there and giving permits back are one
//! compare-and-swap each on `state`. Every change of `state` is a compare-and-swap (or a
//! `fetch_or` of `CLOSED`), so a fast path that raced a change just looks again.
//!
//! # Slow paths (under the lock)
//! * An acquire that finds too few permits takes the lock, takes what is there (partial
//!   assignment: the permits on hand go to the oldest waiter, so a waiter that wants many is
//!   not starved by later ones that want few), sets `QUEUED` and links its node at the tail.
//! * A release that finds `QUEUED` set takes the lock and hands its permits to the oldest
//!   waiters in order; a waiter whose need reaches 0 is unlinked, its waker taken and its
//!   `done` word set to [`GRANTED`] (Release, the holder's last touch). When the list empties,
//!   the holder clears `QUEUED` and puts what is left on hand.
//! * A waiter polled with a new waker swaps it under the lock; a waiter dropped while queued
//!   unlinks itself under the lock and hands back what it had been assigned (to the next
//!   waiters, in order).
//! * `close` sets `CLOSED` and releases every waiter with [`CLOSED_DONE`].
//!
//! So while nobody waits, everything is lock-free; when somebody waits, the giver and the
//! waiter each take the lock once, for a bounded list walk. Wakers are called after the lock
//! is released, at most [`BATCH`] per round.
//!
//! Invariant: while `QUEUED` is set the permits on hand are 0 (a holder that leaves permits
//! on hand has emptied the list). So the fast acquire path never overtakes a waiter: FIFO.

use crate::loom::lock::RawLock;
use crate::loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};
use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll, Waker};

/// The permits are closed: acquires fail.
pub(crate) const CLOSED: usize = 1;
/// Some waiter is queued (only the lock holder sets or clears it).
pub(crate) const QUEUED: usize = 2;
const SHIFT: u32 = 2;
/// The most permits a queue holds (more given back are dropped).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// Waiting.
pub(crate) const WAITING: u32 = 0;
/// Granted every permit it asked for.
pub(crate) const GRANTED: u32 = 1;
/// Released by `close`: gets nothing.
pub(crate) const CLOSED_DONE: u32 = 2;

/// Wakers one round releases before it unlocks and calls them.
pub(crate) const BATCH: usize = 32;

/// The permits on hand in a state word.
pub(crate) fn on_hand(s: usize) -> usize {
    s >> SHIFT
}

/// Why an acquire without waiting failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryFail {
    /// Closed.
    Closed,
    /// Too few permits on hand, or somebody waits before us.
    NoPermits,
}

/// One waiter: a node inside a pinned [`Acquire`].
#[derive(Debug)]
struct Node {
    prev: UnsafeCell<*const Node>,
    next: UnsafeCell<*const Node>,
    waker: UnsafeCell<Option<Waker>>,
    /// Permits asked for (written before it is linked).
    asked: UnsafeCell<usize>,
    /// Permits still needed (the lock holder's while linked).
    needed: UnsafeCell<usize>,
    /// [`WAITING`], [`GRANTED`] or [`CLOSED_DONE`]; leaves `WAITING` once, as the holder's
    /// last touch (Release).
    done: AtomicU32,
    _pinned: PhantomPinned,
}

impl Node {
    fn new() -> Self {
        Node {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            waker: UnsafeCell::new(None),
            asked: UnsafeCell::new(0),
            needed: UnsafeCell::new(0),
            done: AtomicU32::new(WAITING),
            _pinned: PhantomPinned,
        }
    }
}

/// The FIFO of waiters, oldest at the head; only the lock holder touches it.
#[derive(Debug)]
pub(crate) struct List {
    head: *const Node,
    tail: *const Node,
}

impl List {
    pub(crate) const fn new() -> Self {
        List {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// # Safety
    /// The lock is held; `w` is valid, pinned and not linked.
    unsafe fn push_back(&mut self, w: *const Node) {
        // SAFETY: caller's contract; the tail, if any, is linked and so valid.
        unsafe {
            *(*w).prev.get() = self.tail;
            *(*w).next.get() = ptr::null();
            if self.tail.is_null() {
                self.head = w;
            } else {
                *(*self.tail).next.get() = w;
            }
        }
        self.tail = w;
    }

    /// # Safety
    /// The lock is held; `w` is linked in this list.
    unsafe fn unlink(&mut self, w: *const Node) {
        // SAFETY: `w` and its neighbours are linked, hence valid; their links are ours.
        unsafe {
            let prev = *(*w).prev.get();
            let next = *(*w).next.get();
            if prev.is_null() {
                self.head = next;
            } else {
                *(*prev).next.get() = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                *(*next).prev.get() = prev;
            }
        }
    }

    /// Unlinks `w`, takes its waker, publishes `how` (the last touch).
    ///
    /// # Safety
    /// As [`List::unlink`].
    unsafe fn release(&mut self, w: *const Node, how: u32) -> Option<Waker> {
        // SAFETY: caller's contract: linked, hence valid; its links and waker are ours.
        let waker = unsafe {
            self.unlink(w);
            (*(*w).waker.get()).take()
        };
        // SAFETY: still valid: its owner cannot free it before it sees this store (an owner
        // that finds it WAITING must take the lock, which we hold, to unlink it).
        unsafe { (*w).done.store(how, Release) };
        waker
    }
}

/// Wakers taken under the lock, called once it is released.
struct Batch {
    wakers: [Option<Waker>; BATCH],
    n: usize,
}

impl Batch {
    fn new() -> Self {
        Batch {
            wakers: [const { None }; BATCH],
            n: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.n == BATCH
    }

    fn push(&mut self, w: Option<Waker>) {
        self.wakers[self.n] = w;
        self.n += 1;
    }

    fn wake_all(&mut self) {
        for w in self.wakers[..self.n].iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
        self.n = 0;
    }
}

/// A FIFO-fair counting permit queue. Built field by field (the public types do it in a
/// `const fn` with [`Permits::state_for`]; the loom models with [`Permits::new`]).
#[derive(Debug)]
pub(crate) struct Permits {
    pub(crate) state: AtomicUsize,
    pub(crate) lock: RawLock,
    pub(crate) list: UnsafeCell<List>,
}

// SAFETY: `list` and the nodes it reaches are only touched under `lock`; a node's owner
// reaches it through its pinned future and hands it over by the protocol in the module docs.
// Everything else is atomics. Wakers are Send + Sync.
unsafe impl Sync for Permits {}
// SAFETY: moving a Permits moves only atomics, the lock word and `list`'s two pointers: null while
// no node is linked, and a linked node's future borrows this Permits, so it cannot be moved then.
// Nothing in it is tied to a thread.
unsafe impl Send for Permits {}

impl Permits {
    /// The initial state word for `n` permits (clamped to [`MAX_PERMITS`]).
    pub(crate) const fn state_for(n: usize) -> usize {
        let n = if n > MAX_PERMITS { MAX_PERMITS } else { n };
        n << SHIFT
    }

    /// `n` permits, nobody waiting (the loom models).
    #[allow(dead_code)]
    pub(crate) fn new(n: usize) -> Self {
        Permits {
            state: AtomicUsize::new(Self::state_for(n)),
            lock: RawLock::new(),
            list: UnsafeCell::new(List::new()),
        }
    }

    /// Permits on hand now (a hint).
    pub(crate) fn available(&self) -> usize {
        on_hand(self.state.load(Acquire))
    }

    /// Whether [`close`](Permits::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    /// Takes `n` permits if they are on hand and nobody waits. Never waits.
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryFail> {
        let mut s = self.state.load(Acquire);
        loop {
            if s & CLOSED != 0 {
                return Err(TryFail::Closed);
            }
            if s & QUEUED != 0 || on_hand(s) < n {
                return Err(TryFail::NoPermits);
            }
            match self
                .state
                .compare_exchange_weak(s, s - (n << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return Ok(()),
                Err(x) => s = x,
            }
        }
    }

    /// Gives `n` permits back: to the oldest waiters first. Lock-free while nobody waits;
    /// takes the lock otherwise.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.load(Acquire);
        while s & QUEUED == 0 {
            let new = (on_hand(s).saturating_add(n).min(MAX_PERMITS) << SHIFT) | (s & CLOSED);
            match self.state.compare_exchange_weak(s, new, AcqRel, Acquire) {
                Ok(_) => return,
                Err(x) => s = x,
            }
        }
        self.lock.lock();
        // SAFETY: we hold the lock.
        unsafe { self.release_locked(n) };
    }

    /// Hands `n` permits to the oldest waiters; when the list empties, clears `QUEUED` and
    /// keeps the rest on hand. Releases the lock and calls the wakers.
    ///
    /// # Safety
    /// The calling thread holds the lock; it is released here.
    unsafe fn release_locked(&self, mut n: usize) {
        let mut batch = Batch::new();
        loop {
            // SAFETY: we hold the lock: the list is ours.
            let list = unsafe { &mut *self.list.get() };
            while n > 0 && !list.head.is_null() && !batch.is_full() {
                let w = list.head;
                // SAFETY: linked, hence valid; `needed` is ours under the lock.
                let needed = unsafe { &mut *(*w).needed.get() };
                if *needed <= n {
                    n -= *needed;
                    *needed = 0;
                    // SAFETY: `w` is linked here.
                    batch.push(unsafe { list.release(w, GRANTED) });
                } else {
                    *needed -= n;
                    n = 0;
                }
            }
            let more = n > 0 && !list.head.is_null();
            if list.head.is_null() {
                // Nobody waits any more: clear QUEUED, keep the rest on hand.
                let mut s = self.state.load(Acquire);
                loop {
                    let new =
                        (on_hand(s).saturating_add(n).min(MAX_PERMITS) << SHIFT) | (s & CLOSED);
                    match self.state.compare_exchange_weak(s, new, AcqRel, Acquire) {
                        Ok(_) => break,
                        Err(x) => s = x,
                    }
                }
            }
            // SAFETY: we hold the lock.
            unsafe { self.lock.unlock() };
            batch.wake_all();
            if !more {
                return;
            }
            self.lock.lock();
        }
    }

    /// Closes: every waiter is released with [`CLOSED_DONE`] (the permits assigned to it go
    /// back on hand), and acquires fail from now on. Permits on hand stay (a guard that gives
    /// its permits back still can).
    pub(crate) fn close(&self) {
        self.lock.lock();
        self.state.fetch_or(CLOSED, AcqRel);
        let mut batch = Batch::new();
        loop {
            let mut back = 0usize;
            // SAFETY: we hold the lock: the list is ours.
            let list = unsafe { &mut *self.list.get() };
            while !list.head.is_null() && !batch.is_full() {
                let w = list.head;
                // SAFETY: `w` is linked here (valid, its fields ours); what it had been
                // assigned goes back on hand.
                unsafe {
                    back += *(*w).asked.get() - *(*w).needed.get();
                    batch.push(list.release(w, CLOSED_DONE));
                }
            }
            if back > 0 {
                let mut s = self.state.load(Acquire);
                loop {
                    let new = (on_hand(s).saturating_add(back).min(MAX_PERMITS) << SHIFT)
                        | (s & (CLOSED | QUEUED));
                    match self.state.compare_exchange_weak(s, new, AcqRel, Acquire) {
                        Ok(_) => break,
                        Err(x) => s = x,
                    }
                }
            }
            let more = !list.head.is_null();
            if !more {
                self.state.fetch_and(!QUEUED, AcqRel);
            }
            // SAFETY: we hold the lock.
            unsafe { self.lock.unlock() };
            batch.wake_all();
            if !more {
                return;
            }
            self.lock.lock();
        }
    }
}

/// Where an [`Acquire`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Not polled yet.
    Init,
    /// Its node is linked (or released: the node's `done` word says which).
    Queued,
    /// Completed (granted or failed): owns nothing.
    Done,
}

/// The waiter's side of one acquire of `n` permits. Must be pinned to be polled; dropping
/// it while queued unlinks its node and hands back what it was assigned.
#[derive(Debug)]
pub(crate) struct Acquire<'a> {
    permits: &'a Permits,
    n: usize,
    stage: Stage,
    /// A clone of the waker the node holds: compared without the lock on every poll.
    last: Option<Waker>,
    node: Node,
}

// SAFETY: the node is reached by other threads only under the lock or through its atomic
// `done` word (module docs); the owner-only fields go with the owner. Wakers are Send.
unsafe impl Send for Acquire<'_> {}
// SAFETY: `&Acquire` gives access to nothing but the stage and `n` (plain data).
unsafe impl Sync for Acquire<'_> {}

impl<'a> Acquire<'a> {
    /// An acquire of `n` permits (not started until polled).
    pub(crate) fn new(permits: &'a Permits, n: usize) -> Self {
        Acquire {
            permits,
            n,
            stage: Stage::Init,
            last: None,
            node: Node::new(),
        }
    }

    /// The permits it asks for.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Where it is.
    pub(crate) fn stage(&self) -> Stage {
        self.stage
    }

    /// Polls: `Ready(true)` once it holds its `n` permits (the caller owns them from then
    /// on), `Ready(false)` if the permits were closed.
    pub(crate) fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        // SAFETY: nothing is moved out: the node is used in place (structurally pinned).
        let this = unsafe { self.get_unchecked_mut() };
        match this.stage {
            Stage::Init => this.poll_first(cx),
            Stage::Queued => this.poll_again(cx),
            Stage::Done => Poll::Ready(false),
        }
    }

    fn finish(&mut self, ok: bool) -> Poll<bool> {
        self.stage = Stage::Done;
        Poll::Ready(ok)
    }

    fn poll_first(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let p = self.permits;
        match p.try_acquire(self.n) {
            Ok(()) => return self.finish(true),
            Err(TryFail::Closed) => return self.finish(false),
            Err(TryFail::NoPermits) => {}
        }
        // Clones are user code: before the lock.
        let waker = cx.waker().clone();
        self.last = Some(waker.clone());
        p.lock.lock();
        let mut s = p.state.load(Acquire);
        let taken = loop {
            if s & CLOSED != 0 {
                break None;
            }
            // While QUEUED is set nothing is on hand (the invariant), so this takes 0 then.
            let take = on_hand(s).min(self.n);
            let new = ((on_hand(s) - take) << SHIFT)
                | (s & CLOSED)
                | if take == self.n { s & QUEUED } else { QUEUED };
            match p.state.compare_exchange_weak(s, new, AcqRel, Acquire) {
                Ok(_) => break Some(take),
                Err(x) => s = x,
            }
        };
        let r = match taken {
            None => Some(false),
            Some(t) if t == self.n => Some(true),
            Some(t) => {
                // SAFETY: the node is not linked yet: its fields are ours; then we link it
                // under the lock (pinned: it stays in place until unlinked).
                unsafe {
                    *self.node.asked.get() = self.n;
                    *self.node.needed.get() = self.n - t;
                    *self.node.waker.get() = Some(waker);
                    (*p.list.get()).push_back(&self.node);
                }
                self.stage = Stage::Queued;
                None
            }
        };
        // SAFETY: we took the lock above.
        unsafe { p.lock.unlock() };
        match r {
            Some(ok) => self.finish(ok),
            None => Poll::Pending,
        }
    }

    fn poll_again(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        match self.node.done.load(Acquire) {
            GRANTED => return self.finish(true),
            CLOSED_DONE => return self.finish(false),
            _ => {}
        }
        if self.last.as_ref().is_some_and(|l| l.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let new = cx.waker().clone();
        let keep = new.clone();
        let p = self.permits;
        p.lock.lock();
        let old = if self.node.done.load(Acquire) == WAITING {
            // SAFETY: the lock is held and the node still linked: its waker is ours to swap.
            unsafe { (*self.node.waker.get()).replace(new) }
        } else {
            Some(new)
        };
        // SAFETY: taken just above.
        unsafe { p.lock.unlock() };
        drop(old); // user code, outside the lock
        self.last = Some(keep);
        match self.node.done.load(Acquire) {
            GRANTED => self.finish(true),
            CLOSED_DONE => self.finish(false),
            _ => Poll::Pending,
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.stage != Stage::Queued {
            return; // never queued, or completed: owns nothing
        }
        let p = self.permits;
        match self.node.done.load(Acquire) {
            GRANTED => return p.release(self.n), // granted but never seen: give them back
            CLOSED_DONE => return,
            _ => {}
        }
        p.lock.lock();
        match self.node.done.load(Acquire) {
            WAITING => {
                // SAFETY: we hold the lock, the node is linked (WAITING) and ours to unlink.
                let assigned = unsafe {
                    (*p.list.get()).unlink(&self.node);
                    self.n - *self.node.needed.get()
                };
                // Hands what it had to the next waiters (or clears QUEUED if none is left).
                // SAFETY: we hold the lock; released there.
                unsafe { p.release_locked(assigned) };
            }
            GRANTED => {
                // SAFETY: taken above.
                unsafe { p.lock.unlock() };
                p.release(self.n);
            }
            _ => {
                // SAFETY: taken above.
                unsafe { p.lock.unlock() };
            }
        }
    }
}
