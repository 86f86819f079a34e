//! The waiter list of [`Notify`](super::Notify) and its whole protocol: the unsafe, lock-free
//! core, model-checked with loom (runtime/loom-models compiles this file against loom's
//! atomics and a loom lock).
//!
//! # Shape
//! A waiter is a node inside its pinned future ([`Wait`](wait::Wait)); nothing is
//! allocated. The shared part ([`Waiters`]) is:
//!
//! - `state`, one atomic word: a stored permit, a rescan request, the number `P` of
//!   `notify_one` calls not yet handed to a waiter, and the generation (the number of
//!   `notify_waiters` calls);
//! - `incoming`, a CAS-push stack (the executor inbox's shape) where a waiter puts itself
//!   when first polled: linking never waits for anyone;
//! - `list`, a FIFO doubly-linked list in wait order, touched only by the thread holding the
//!   *token* (`lock`, an evl-core [`RawLock`]), which drains `incoming` into it first;
//! - `epoch`, a counter every operation that leaves work behind bumps.
//!
//! # Who does the list work: whoever is free to
//! Operations never wait for the token. `notify_one` adds one to `P` (or stores the permit
//! when nobody waits), `notify_waiters` bumps the generation (and asks for a rescan when
//! someone may wait), a first poll pushes onto `incoming` (a pushed node alone needs no pass
//! yet: the next one drains it); then each operation that left work *posts*: bumps `epoch`
//! and tries the token. If it gets it, it runs passes (take the rescan request; drain
//! `incoming`; release the waiters of older generations; hand `P` to the oldest waiters of
//! the current one, or turn it into the permit) until a pass ends with `epoch` unchanged
//! since it began; if not, the holder will see the `epoch` change after it unlocks (both
//! sides fence SeqCst between their write and their read) and run another pass. Work posted
//! is therefore always done by some thread that holds the token, and no thread ever waits for
//! another to finish; a preempted holder only delays the list work, not the callers (a
//! holder may do the work of operations that raced with it: bounded by the waiters and
//! notifications they added). Wakers are called after the token is released, at most
//! [`BATCH`](batch::BATCH) per pass (their handles wait on the caller's stack).
//!
//! Three rare operations need the list to themselves and take the token with
//! [`RawLock::lock`], which blocks only while another thread holds it for a pass: dropping a
//! waiter that is still linked (it must be unlinked before its memory goes), polling a
//! linked waiter with a different waker (the node's waker is the holder's to read), and
//! `notify_waiters` while `P > 0` (the pending `notify_one`s must reach the waiters of the
//! generation they were called in). See [`RawLock`] for what that wait costs on each backend.
//!
//! # Node ownership
//! The owner (its future) writes a node's fields until it pushes the node (SeqCst CAS,
//! which publishes them). From then on its links and waker belong to the token holder, except
//! that the owner may rewrite the waker while it holds the token. A holder releases a node by
//! unlinking it, taking its waker, and storing [`ONE`] or [`ALL`] in its `notified` word
//! (Release) as its last touch: from that load on (Acquire) the node is the owner's again. An
//! owner that drops a node not yet released takes the token and unlinks it itself. So a node
//! is never freed while linked, and never linked twice.
//!
//! # Semantics kept
//! * A waiter joins in first-poll order; `P` goes to the oldest waiters of the current
//!   generation; a `notify_one` that finds nobody waiting stores one permit (several store
//!   one), and a stored permit that a waiter missed while being pushed becomes `P` again (the
//!   waiter checks after its push, the notifier after its store: one sees the other).
//! * `notify_waiters` releases every waiter whose future was created in an older generation
//!   (even if it was never polled: a first poll checks the generation), and none created
//!   after it.
//! * A waiter released with [`ONE`] and dropped before it completed passes the notification
//!   on (a `notify_one`); one dropped before it was released just leaves (the `P` it might
//!   have got goes to the next waiter, or becomes the permit).
//!
//! # Limits
//! `P` saturates at 2^20 - 1 pending `notify_one`s (more are stored as the permit); the
//! generation wraps after 2^42 `notify_waiters` calls, so a future created and first polled
//! exactly a multiple of 2^42 calls apart would miss them (as a 30-bit counter does in tokio).

//!
//! # Files
//! `node.rs`: a waiter node and the FIFO list of them; `batch.rs`: the wakers a pass calls
//! after it unlocks; `wait.rs`: the owner's side of one wait (the future's core); this file:
//! the state word and the shared part with its passes.

mod batch;
mod node;
pub(crate) mod wait;

use crate::loom::lock::RawLock;
use crate::loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use batch::Batch;

use core::cell::UnsafeCell;
use core::ptr;
pub(crate) use node::{List, Waiter, ALL, NONE, ONE};

// The state word.
/// A permit is stored.
pub(crate) const PERMIT: u64 = 1;
/// Waiters of an older generation may be listed: the next pass must release them.
pub(crate) const RESCAN: u64 = 1 << 1;
const P_SHIFT: u32 = 2;
const P_BITS: u32 = 20;
const P_ONE: u64 = 1 << P_SHIFT;
const P_MAX: u64 = (1 << P_BITS) - 1;
const P_MASK: u64 = P_MAX << P_SHIFT;
const GEN_SHIFT: u32 = P_SHIFT + P_BITS;
/// One `notify_waiters` call (the generation takes the upper 42 bits and wraps).
const GEN_ONE: u64 = 1 << GEN_SHIFT;

/// `notify_one` calls not yet handed to a waiter.
pub(crate) fn pending(s: u64) -> u64 {
    (s & P_MASK) >> P_SHIFT
}

/// The generation: `notify_waiters` calls so far (wrapping at 2^42).
pub(crate) fn generation(s: u64) -> u64 {
    s >> GEN_SHIFT
}

/// The shared part of a `Notify`. Built field by field (the `Notify` does it in a `const fn`;
/// the loom models with [`Waiters::new`]).
#[derive(Debug)]
pub(crate) struct Waiters {
    pub(crate) state: AtomicU64,
    pub(crate) incoming: AtomicPtr<Waiter>,
    /// Nodes in `list`, plus one while a drain holds nodes taken off `incoming`.
    pub(crate) listed: AtomicUsize,
    pub(crate) epoch: AtomicU32,
    pub(crate) lock: RawLock,
    pub(crate) list: UnsafeCell<List>,
}

// SAFETY: `list` and the nodes it reaches are only touched by the token holder (the token is
// an atomic lock); a node's owner reaches it through its pinned future, and hands it over by
// the protocol in the module docs. Everything else is atomics. Wakers are Send + Sync.
unsafe impl Sync for Waiters {}
// SAFETY: moving a Waiters moves only atomics, the lock word and `list`'s two pointers; while nodes
// are pushed or listed their futures borrow this Waiters, so it is not moved then, and moving it
// moves no node. Nothing in it is tied to a thread.
unsafe impl Send for Waiters {}

impl Waiters {
    /// Empty (the loom models; `Notify::new` builds the same in a `const fn`).
    #[allow(dead_code)]
    pub(crate) fn new() -> Self {
        Waiters {
            state: AtomicU64::new(0),
            incoming: AtomicPtr::new(ptr::null_mut()),
            listed: AtomicUsize::new(0),
            epoch: AtomicU32::new(0),
            lock: RawLock::new(),
            list: UnsafeCell::new(List::new()),
        }
    }

    /// Whether a waiter may be linked (pushed or listed). Exact enough: a false "yes" only
    /// sends a notification through `P`, which becomes the permit if nobody is there.
    fn maybe_waiting(&self) -> bool {
        !self.incoming.load(SeqCst).is_null() || self.listed.load(SeqCst) > 0
    }

    /// Wakes the oldest waiter, or stores the permit. Never waits.
    pub(crate) fn notify_one(&self) {
        let mut s = self.state.load(SeqCst);
        loop {
            if pending(s) < P_MAX && self.maybe_waiting() {
                match self
                    .state
                    .compare_exchange_weak(s, s + P_ONE, SeqCst, SeqCst)
                {
                    Ok(_) => return self.post(),
                    Err(x) => s = x,
                }
                continue;
            }
            match self
                .state
                .compare_exchange_weak(s, s | PERMIT, SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(x) => s = x,
            }
        }
        // A waiter pushed meanwhile may have checked for the permit before it was stored:
        // it pushes, fences, then looks at the state; we store, fence, then look for it.
        fence(SeqCst);
        if self.maybe_waiting() {
            self.permit_to_pending();
        }
    }

    /// Turns a stored permit into a notification for the oldest waiter.
    fn permit_to_pending(&self) {
        let mut s = self.state.load(SeqCst);
        while s & PERMIT != 0 && pending(s) < P_MAX {
            match self
                .state
                .compare_exchange_weak(s, (s & !PERMIT) + P_ONE, SeqCst, SeqCst)
            {
                Ok(_) => return self.post(),
                Err(x) => s = x,
            }
        }
    }

    /// Releases every waiter whose future was created before the call. Never waits, unless a
    /// `notify_one` is pending meanwhile (then it takes the token to hand that on first).
    pub(crate) fn notify_waiters(&self) {
        let mut s = self.state.load(SeqCst);
        loop {
            if pending(s) != 0 {
                return self.notify_waiters_locked();
            }
            match self
                .state
                .compare_exchange_weak(s, s.wrapping_add(GEN_ONE), SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(x) => s = x,
            }
        }
        // A waiter pushed meanwhile checks the generation after its push (and a fence) and
        // asks for the rescan itself if we miss it here.
        fence(SeqCst);
        if self.maybe_waiting() {
            self.state.fetch_or(RESCAN, SeqCst);
            self.post();
        }
    }

    /// `notify_waiters` with `notify_one`s pending: hands them on, then bumps the generation,
    /// all under the token.
    fn notify_waiters_locked(&self) {
        self.lock.lock();
        let mut batch = Batch::new();
        loop {
            // SAFETY: we hold the token.
            if unsafe { self.pass(&mut batch) } {
                // The batch is full: wake it outside the token, then go on.
                // SAFETY: we hold the token.
                unsafe { self.lock.unlock() };
                batch.wake_all();
                self.lock.lock();
                continue;
            }
            let s = self.state.load(SeqCst);
            if pending(s) != 0 {
                continue; // a notify_one came meanwhile: hand it on first
            }
            if self
                .state
                .compare_exchange(s, s.wrapping_add(GEN_ONE) | RESCAN, SeqCst, SeqCst)
                .is_ok()
            {
                break;
            }
        }
        // SAFETY: we hold the token.
        unsafe { self.run_locked(batch) };
    }

    /// Records that this operation left work behind, then does it if the token is free.
    fn post(&self) {
        self.epoch.fetch_add(1, SeqCst);
        // Pairs with the fence after the holder's unlock: either we get the token, or the
        // holder sees our epoch bump.
        fence(SeqCst);
        self.run();
    }

    /// Runs passes if the token is free.
    fn run(&self) {
        if self.lock.try_lock() {
            // SAFETY: just taken.
            unsafe { self.run_locked(Batch::new()) };
        }
    }

    /// Passes until one ends with nothing posted meanwhile; releases the token, wakes the
    /// released waiters.
    ///
    /// # Safety
    /// The calling thread holds the token; it is released here.
    unsafe fn run_locked(&self, mut batch: Batch) {
        loop {
            let e0 = self.epoch.load(SeqCst);
            // SAFETY: we hold the token.
            let full = unsafe { self.pass(&mut batch) };
            // SAFETY: we hold the token.
            unsafe { self.lock.unlock() };
            fence(SeqCst);
            batch.wake_all();
            if !full && self.epoch.load(SeqCst) == e0 {
                return;
            }
            if !self.lock.try_lock() {
                return; // its holder sees what we saw
            }
        }
    }

    /// Takes the token (waiting for it if another thread holds it), runs `f` on the list,
    /// then passes as [`run_locked`](Waiters::run_locked) does.
    fn locked<R>(&self, f: impl FnOnce(&mut List) -> R) -> R {
        self.lock.lock();
        // SAFETY: we hold the token: the list is ours.
        let r = f(unsafe { &mut *self.list.get() });
        // SAFETY: we hold the token.
        unsafe { self.run_locked(Batch::new()) };
        r
    }

    /// Moves `incoming` to the list's tail, oldest first.
    ///
    /// # Safety
    /// The token is held.
    unsafe fn drain(&self, list: &mut List) {
        if self.incoming.load(SeqCst).is_null() {
            return;
        }
        // Keeps `maybe_waiting` true while the nodes are in no structure it looks at.
        self.listed.fetch_add(1, SeqCst);
        let mut w = self.incoming.swap(ptr::null_mut(), SeqCst) as *const Waiter;
        let mut rev: *const Waiter = ptr::null();
        let mut k = 0;
        while !w.is_null() {
            // SAFETY: taken nodes are pushed, unreleased nodes: ours under the token.
            unsafe {
                let next = *(*w).next.get();
                *(*w).next.get() = rev;
                rev = w;
                w = next;
            }
            k += 1;
        }
        while !rev.is_null() {
            // SAFETY: `rev` is a node taken off `incoming` above: pushed and not released, so its
            // owner keeps it valid, and we hold the token, so its links are ours; it is in no list
            // yet, as push_back requires. The link is read before push_back relinks it.
            unsafe {
                let next = *(*rev).next.get();
                list.push_back(rev);
                rev = next;
            }
        }
        self.listed.fetch_add(k, SeqCst);
        self.listed.fetch_sub(1, SeqCst);
    }

    /// One pass: drain, release older generations, hand pending `notify_one`s on. Returns
    /// true when it stopped because `batch` is full (the rest is left for the next pass).
    ///
    /// # Safety
    /// The token is held.
    unsafe fn pass(&self, batch: &mut Batch) -> bool {
        // SAFETY: the token is held: the list is ours.
        let list = unsafe { &mut *self.list.get() };
        // The rescan request is taken before the drain, so every node pushed before it was
        // asked for is scanned (a node pushed later is its owner's to ask about again).
        let rescan = self.state.load(SeqCst) & RESCAN != 0;
        let g = if rescan {
            generation(self.state.fetch_and(!RESCAN, SeqCst))
        } else {
            0
        };
        // SAFETY: the token is held (our caller's contract), which is all `drain` requires.
        unsafe { self.drain(list) };
        if rescan {
            let mut w = list.head;
            while !w.is_null() {
                // SAFETY: listed nodes are valid and ours; read the link before releasing.
                let (next, old) = unsafe { (*(*w).next.get(), *(*w).generation.get() != g) };
                if old {
                    if batch.is_full() {
                        self.state.fetch_or(RESCAN, SeqCst);
                        return true;
                    }
                    // SAFETY: `w` is linked here.
                    batch.push(unsafe { list.release(w, ALL) });
                    self.listed.fetch_sub(1, SeqCst);
                }
                w = next;
            }
        }
        loop {
            let s = self.state.load(SeqCst);
            if pending(s) == 0 {
                return false;
            }
            let g = generation(s);
            let mut w = list.head;
            // SAFETY: listed nodes are valid and ours.
            while !w.is_null() && unsafe { *(*w).generation.get() } != g {
                // SAFETY: `w` is non-null and listed: its owner keeps it valid until it is
                // released, and we hold the token, so reading its link races with nothing.
                w = unsafe { *(*w).next.get() };
            }
            if w.is_null() {
                // Nobody of this generation waits: the notifications become the permit.
                if self
                    .state
                    .compare_exchange(s, (s & !P_MASK) | PERMIT, SeqCst, SeqCst)
                    .is_err()
                {
                    continue;
                }
                fence(SeqCst); // as in notify_one
                if self.incoming.load(SeqCst).is_null() {
                    return false;
                }
                // A waiter pushed after the drain may have missed the permit: give it back
                // as a notification (unless that waiter did already) and look again.
                let s = self.state.load(SeqCst);
                if s & PERMIT != 0 {
                    let _ = self
                        .state
                        .compare_exchange(s, (s & !PERMIT) + P_ONE, SeqCst, SeqCst);
                }
                // SAFETY: the token is held (our caller's contract), which is all `drain` requires.
                unsafe { self.drain(list) };
                continue;
            }
            if batch.is_full() {
                return true;
            }
            if self
                .state
                .compare_exchange(s, s - P_ONE, SeqCst, SeqCst)
                .is_err()
            {
                continue; // a new notification, or a new generation: look again
            }
            // SAFETY: `w` is linked here.
            batch.push(unsafe { list.release(w, ONE) });
            self.listed.fetch_sub(1, SeqCst);
        }
    }

    /// Whether a pass has work to do that a poll may as well do (a waker panicked in a pass
    /// and left the rest of its work; or a holder is slow).
    fn has_work(&self) -> bool {
        let s = self.state.load(SeqCst);
        s & RESCAN != 0 || pending(s) != 0
    }
}
