//! The local run queue: the tasks runnable on the executor thread, FIFO or in deadline
//! order (EDF), and the busy flag that keeps a signal handler out of a half-updated queue.

use super::inbox::Linked;
use crate::task::raw::{EdfNode, Header};
use core::ptr::{self, NonNull};
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, AtomicU64, Ordering::*};

/// The tasks runnable on the executor thread: an intrusive FIFO, or on an EDF executor an
/// intrusive leftist heap ordered by (deadline, queue order).
///
/// # EDF order, and its cost
/// A task's key is fixed when it is queued: its deadline (no deadline: `u64::MAX`, so it
/// runs after every task that has one), then a per-queue sequence number, so tasks with
/// equal deadlines run in the order they were queued. The heap is intrusive (two child
/// links and a rank in each task header): it holds any number of tasks, arena or pool,
/// without allocating. A leftist heap keeps its rightmost path at most `log2(n + 1)` nodes
/// long, and both push (a merge with a one-node heap) and pop (a merge of the root's
/// children) walk only rightmost paths: each is O(log n) in the worst case, not amortised,
/// with at most `2 * log2(n + 1)` steps (a recursion that deep: 128 frames for any `n`
/// that fits in memory).
pub(crate) struct LocalQueue {
    // Atomics (Relaxed: plain loads and stores) rather than Cells: a signal handler on this
    // thread may read them, and only atomics make that formally race-free.
    /// FIFO: the oldest task. EDF: the heap's root.
    head: AtomicPtr<Header>,
    /// FIFO: the newest task (unused with EDF).
    tail: AtomicPtr<Header>,
    /// Keep the queue in deadline order (earliest first; no deadline last; FIFO among
    /// equals) instead of FIFO.
    pub(crate) edf: bool,
    /// EDF: the next queue sequence number.
    seq: AtomicU64,
}

/// A task's EDF key: its deadline, or "last" when it has none.
pub(crate) fn edf_key(h: *const Header) -> u64 {
    // SAFETY: callers pass live queued (or being-queued) tasks.
    match unsafe { (*h).deadline.load(Relaxed) } {
        0 => u64::MAX,
        d => d,
    }
}

/// The EDF node of a live task whose node the caller may touch (owner thread, queued).
///
/// # Safety
/// `h` is a live task in (or entering) this executor's EDF queue; the caller is the
/// executor thread, inside a [`Busy`] section, and holds no other reference to the node.
#[allow(clippy::mut_from_ref)]
unsafe fn edf_node<'a>(h: *const Header) -> &'a mut EdfNode {
    // SAFETY: caller's contract: the node is only touched by the executor thread, one
    // reference at a time.
    unsafe { &mut *(*h).edf.get() }
}

/// Rank of a (possibly empty) heap.
///
/// # Safety
/// As [`edf_node`], for a non-null `h`.
unsafe fn edf_rank(h: *const Header) -> u32 {
    if h.is_null() {
        0
    } else {
        // SAFETY: forwarded.
        unsafe { edf_node(h).rank }
    }
}

/// Merges two leftist heaps; returns the root. Recursion depth is at most the sum of the
/// two rightmost-path lengths, each at most `log2(n + 1)`.
///
/// # Safety
/// `a` and `b` are null or roots of disjoint heaps of live queued tasks; the caller is the
/// executor thread inside a [`Busy`] section.
unsafe fn edf_merge(a: *const Header, b: *const Header) -> *const Header {
    if a.is_null() {
        return b;
    }
    if b.is_null() {
        return a;
    }
    // SAFETY: both are live queued tasks (caller); each node reference is dropped before
    // the next one is taken.
    let (a, b) = if unsafe { edf_node(b).key < edf_node(a).key } {
        (b, a)
    } else {
        (a, b)
    };
    // SAFETY: `a` is a live queued task (caller) and the reference `edf_node(a)` yields is dropped
    // once `right` is read; `a`'s right subtree and `b` are null or roots of disjoint heaps of live
    // queued tasks, and we are still the executor thread in the caller's Busy section.
    let right = unsafe { edf_merge(edf_node(a).right, b) };
    // SAFETY: `a`, `left` and `right` are null or live queued tasks of this heap (caller's
    // contract, and the recursive merge returned a root of such tasks); we are the executor thread
    // inside the caller's Busy section, and each `edf_node` reference is dead before the next is
    // taken (`n` is taken last).
    unsafe {
        let left = edf_node(a).left;
        let (lr, rr) = (edf_rank(left), edf_rank(right));
        let n = edf_node(a);
        if lr < rr {
            n.left = right;
            n.right = left;
            n.rank = lr + 1;
        } else {
            n.right = right;
            n.rank = rr + 1;
        }
    }
    a
}

thread_local! {
    /// Set while the executor thread is inside a local-queue operation: a signal handler
    /// that wakes a task on this thread then takes the inbox path instead of touching the
    /// half-updated queue.
    static LOCAL_BUSY: AtomicBool = const { AtomicBool::new(false) };
}

/// Whether this thread is inside a local-queue operation (a signal handler that interrupted
/// one must not touch the queue).
pub(crate) fn local_busy() -> bool {
    LOCAL_BUSY.with(|b| b.load(Relaxed))
}

/// Marks the local queue busy for the guard's life (compiler fences keep the flag ordered
/// with the queue's memory operations as seen by a signal handler on this thread).
struct Busy;

impl Busy {
    fn enter() -> Busy {
        LOCAL_BUSY.with(|b| b.store(true, Relaxed));
        compiler_fence(SeqCst);
        Busy
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        compiler_fence(SeqCst);
        LOCAL_BUSY.with(|b| b.store(false, Relaxed));
    }
}

impl LocalQueue {
    pub(crate) fn new(edf: bool) -> Self {
        LocalQueue {
            head: AtomicPtr::new(ptr::null_mut()),
            tail: AtomicPtr::new(ptr::null_mut()),
            edf,
            seq: AtomicU64::new(0),
        }
    }

    pub(crate) fn push(&self, h: *const Header) {
        let _busy = Busy::enter();
        if self.edf {
            let seq = self.seq.load(Relaxed);
            self.seq.store(seq.wrapping_add(1), Relaxed);
            // SAFETY: `h` is a live task in no other queue (SCHEDULED protocol); only the
            // executor thread touches the local queue and the nodes of tasks in it.
            unsafe {
                *edf_node(h) = EdfNode {
                    left: ptr::null(),
                    right: ptr::null(),
                    rank: 1,
                    key: (edf_key(h), seq),
                };
                let root = edf_merge(self.head.load(Relaxed), h);
                self.head.store(root as *mut Header, Relaxed);
            }
            return;
        }
        // SAFETY: `h` is a live task in no other queue (SCHEDULED protocol); only the
        // executor thread touches the local queue and the links of tasks in it.
        unsafe { *(*h).next.get() = ptr::null() };
        let tail = self.tail.load(Relaxed);
        if tail.is_null() {
            self.head.store(h as *mut Header, Relaxed);
        } else {
            // SAFETY: `tail` is the last task of this local queue: live (the queue holds it,
            // SCHEDULED) and touched only by the executor thread, the one caller of `push`; `h` is
            // not yet linked anywhere else.
            unsafe { *(*tail).next.get() = h };
        }
        self.tail.store(h as *mut Header, Relaxed);
    }

    pub(crate) fn pop(&self) -> Option<NonNull<Header>> {
        let _busy = Busy::enter();
        let h = NonNull::new(self.head.load(Relaxed))?;
        if self.edf {
            // SAFETY: the root is a live queued task; its children are heaps of such tasks.
            let root = unsafe {
                let n = *edf_node(h.as_ptr());
                edf_merge(n.left, n.right)
            };
            self.head.store(root as *mut Header, Relaxed);
            return Some(h);
        }
        // SAFETY: a queued task is live; its link belongs to this queue.
        let next = unsafe { *h.as_ref().next.get() };
        self.head.store(next as *mut Header, Relaxed);
        if next.is_null() {
            self.tail.store(ptr::null_mut(), Relaxed);
        }
        Some(h)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Relaxed).is_null()
    }
}

// SAFETY: the link slot of a task header is its `next` field, used by one queue at a time.
unsafe impl Linked for Header {
    fn link(node: *const Self) -> *mut *const Self {
        // SAFETY: callers pass live headers; UnsafeCell::get gives the field's address.
        unsafe { (*node).next.get() }
    }
}
