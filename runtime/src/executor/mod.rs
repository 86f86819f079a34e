//! The executor: runs tasks on the thread that drives it, with bounded per-turn work.
//!
//! | file | what |
//! |---|---|
//! | `arena` | pre-sized task slots, claimed lock-free |
//! | `attach` | the executor attaches the thread it runs on (both backends) |
//! | `inbox` | cross-thread wake handoff and the parked/notified word |
//!
//! One executor per thread. Tasks woken on the executor's own thread go to a local run queue
//! (no atomics beyond the task state): a FIFO, or with [`Builder::edf`] an intrusive leftist
//! heap in deadline order, O(log n) per push and pop in the worst case (see `LocalQueue`);
//! tasks woken elsewhere go through the inbox, and the
//! executor's wake element (an evl-core [`Doorbell`]) is rung only if the executor is
//! parked. Every step of a wake (task state CAS, inbox CAS, parker swap, one `write(2)`) is
//! lock-free and async-signal-safe, so a task may be woken from a signal handler with
//! `Waker::wake_by_ref` — on a waker that is not the task's last reference: dropping the last
//! one (or `wake` by value on it) may release the task, which runs its `Drop` code and is not
//! async-signal-safe. When nothing is runnable the executor makes one blocking call: a turn of its
//! [`Reactor`], which waits on timers, registered fds and the wake element at once. A busy
//! executor looks at its reactor without blocking after every `budget` polls, so timers and
//! fds are served even when tasks keep each other runnable.

pub(crate) mod arena;
pub(crate) mod attach;
pub(crate) mod inbox;

use crate::task::cell::Cell as TaskCell;
use crate::task::{self, EdfNode, Header, JoinError, JoinHandle, TaskRef};
use arena::{Arena, SLOT_ALIGN};
use core::cell::{Cell, UnsafeCell};
use core::future::Future;
use core::marker::PhantomData;
use core::pin::pin;
use core::ptr::{self, NonNull};
use core::sync::atomic::{
    compiler_fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*,
};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use evl_reactor::core::{Doorbell, Error as CoreError};
use evl_reactor::{Config as ReactorConfig, Reactor, Wait};
use inbox::{Inbox, Linked, Parker};
use std::fmt;

/// What happens when a task panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanicPolicy {
    /// Report it (task name and message, through `tracing` and the panic hook), hand the
    /// panic to the task's [`JoinHandle`] as [`JoinError::Panicked`], keep running.
    #[default]
    Isolate,
    /// Report it and abort the process (for systems where a panicked control task must
    /// bring everything down).
    Abort,
}

/// Why a task could not be spawned. Nothing was allocated; the future is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// Every task slot is in use.
    Full {
        /// The executor's task capacity.
        capacity: usize,
    },
    /// The future does not fit a task slot.
    TooBig {
        /// Bytes (and alignment) the task needs.
        size: usize,
        /// Its alignment.
        align: usize,
        /// Bytes a slot holds.
        slot_size: usize,
    },
    /// The executor has shut down.
    Shutdown,
    /// `evl::spawn`/`evl::spawn_local` (or a pool's `spawn`) was called outside an executor.
    NoExecutor,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Full { capacity } => write!(
                f,
                "all {capacity} task slots are in use: raise the executor's task capacity or let tasks finish"
            ),
            SpawnError::TooBig { size, align, slot_size } => {
                let n = size.next_multiple_of(SLOT_ALIGN);
                if *align > SLOT_ALIGN {
                    write!(
                        f,
                        "the task needs alignment {align} but slots are aligned to {SLOT_ALIGN}: \
                         keep the over-aligned data outside the future (e.g. in a static)"
                    )
                } else {
                    write!(
                        f,
                        "the task needs {size} bytes but slots hold {slot_size}: \
                         write #[evl::main(slot_size = {n})] (or ExecutorConfig::slot_size({n})), \
                         make it an #[evl::task] (its pool is sized at compile time), \
                         or keep large buffers outside the future"
                    )
                }
            }
            SpawnError::Shutdown => f.write_str("the executor has shut down"),
            SpawnError::NoExecutor => f.write_str(
                "no executor on this thread: spawn from a task, or use Executor::spawn / a Spawner",
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

/// `?` mixes spawns with other evl calls: `Full` and `TooBig` become
/// [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded), `Shutdown`
/// [`Closed`](crate::ErrorKind::Closed), `NoExecutor`
/// [`InvalidArgument`](crate::ErrorKind::InvalidArgument). The error's hint says what to
/// change; for `TooBig` it names a slot size that fits (the next power of two at or above
/// the size the task needs: the exact figure is in the `SpawnError`'s own message).
impl From<SpawnError> for CoreError {
    fn from(e: SpawnError) -> Self {
        use evl_reactor::core::ErrorKind as K;
        match e {
            SpawnError::Full { .. } => CoreError::new(
                K::CapacityExceeded,
                "spawn",
                "all task slots are in use: raise #[evl::main(capacity = N)] \
                 (ExecutorConfig::capacity) or let tasks finish",
            ),
            SpawnError::TooBig { size, align, .. } if align <= SLOT_ALIGN => {
                CoreError::new(K::CapacityExceeded, "spawn", too_big_hint(size))
            }
            SpawnError::TooBig { .. } => CoreError::new(
                K::InvalidArgument,
                "spawn",
                "the task is aligned above 64 bytes: keep the over-aligned data outside the future",
            ),
            SpawnError::Shutdown => {
                CoreError::new(K::Closed, "spawn", "the executor has shut down")
            }
            SpawnError::NoExecutor => CoreError::new(
                K::InvalidArgument,
                "spawn",
                "no executor on this thread: spawn from a task, or use Executor::spawn / a Spawner",
            ),
        }
    }
}

/// The hint for a task of `size` bytes that does not fit: a static string (errors carry no
/// allocation) naming the smallest power-of-two slot size that holds it.
fn too_big_hint(size: usize) -> &'static str {
    macro_rules! hints {
        ($($n:literal)*) => {
            [$((
                $n,
                concat!(
                    "the task does not fit a task slot: write #[evl::main(slot_size = ", $n,
                    ")] (or ExecutorConfig::slot_size(", $n, ")), make it an #[evl::task] \
                     (sized at compile time), or keep large buffers outside the future"
                ),
            )),*]
        };
    }
    const HINTS: [(usize, &str); 25] = hints!(
        64 128 256 512 1024 2048 4096 8192 16384 32768 65536 131072 262144 524288 1048576
        2097152 4194304 8388608 16777216 33554432 67108864 134217728 268435456 536870912
        1073741824
    );
    HINTS.iter().find(|(n, _)| *n >= size).map_or(
        "the task is larger than the largest slot size (2^30 bytes): keep large buffers \
             outside the future",
        |(_, h)| h,
    )
}

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
struct LocalQueue {
    // Atomics (Relaxed: plain loads and stores) rather than Cells: a signal handler on this
    // thread may read them, and only atomics make that formally race-free.
    /// FIFO: the oldest task. EDF: the heap's root.
    head: AtomicPtr<Header>,
    /// FIFO: the newest task (unused with EDF).
    tail: AtomicPtr<Header>,
    /// Keep the queue in deadline order (earliest first; no deadline last; FIFO among
    /// equals) instead of FIFO.
    edf: bool,
    /// EDF: the next queue sequence number.
    seq: AtomicU64,
}

/// A task's EDF key: its deadline, or "last" when it has none.
fn edf_key(h: *const Header) -> u64 {
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
    // SAFETY: as above; `a`'s right subtree and `b` are disjoint heaps.
    let right = unsafe { edf_merge(edf_node(a).right, b) };
    // SAFETY: as above.
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
    fn new(edf: bool) -> Self {
        LocalQueue {
            head: AtomicPtr::new(ptr::null_mut()),
            tail: AtomicPtr::new(ptr::null_mut()),
            edf,
            seq: AtomicU64::new(0),
        }
    }

    fn push(&self, h: *const Header) {
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
            // SAFETY: as above; `tail` is a live queued task.
            unsafe { *(*tail).next.get() = h };
        }
        self.tail.store(h as *mut Header, Relaxed);
    }

    fn pop(&self) -> Option<NonNull<Header>> {
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

    fn is_empty(&self) -> bool {
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

/// Executor state shared with wakers, spawners and tasks (each holds a reference).
pub(crate) struct Shared {
    refs: AtomicUsize,
    arena: Arena,
    inbox: Inbox<Header>,
    parker: Parker,
    wake: Doorbell,
    /// Owner-thread only.
    local: LocalQueue,
    main_woken: AtomicBool,
    closed: AtomicBool,
    spawning: AtomicUsize,
    panic_policy: PanicPolicy,
    name: &'static str,
    budget: usize,
    /// Live tasks in static pools (the arena is scanned instead for the others), for
    /// shutdown.
    pool: PoolList,
    /// Counters, owner-thread only.
    stats: UnsafeCell<Stats>,
}

/// The executor's static-pool tasks that started and have not completed, so that shutdown
/// can cancel them and wait for them (arena tasks are found by scanning the arena instead).
///
/// # Design: no lock, no thread waits for another
/// A pool task's membership changes at two moments, and each has one kind of thread:
/// - **start**, on any thread (a [`Spawner`] on another thread, a task of this executor):
///   the task is pushed onto `incoming`, the inbox's lock-free CAS-push stack, before it is
///   first scheduled;
/// - **completion**, always on the executor thread (the poll that drops its future, also when
///   cancelled): `incoming` is taken into `live`, the executor thread's own doubly-linked
///   list, and the task is unlinked from it. It is there: it was pushed before it could be
///   scheduled, hence before this poll.
///
/// Shutdown's scans run on the executor thread too: take `incoming`, walk `live`. Releasing
/// a task's slot (its last reference dropped, on whichever thread) does not touch the list:
/// the task left it at completion, which always comes first (the executor holds a reference
/// until then). So the only shared part is the CAS-push stack (model-checked with the
/// inbox), and `live` is plain single-threaded data.
struct PoolList {
    incoming: Inbox<PoolNode>,
    /// Head of the list of taken tasks (links: `Header::pool_links` as [prev, next]).
    /// Executor thread only.
    live: UnsafeCell<*const Header>,
}

/// A task header seen through its pool link, so the inbox can stack pool tasks.
#[repr(transparent)]
struct PoolNode(Header);

// SAFETY: the link slot is `pool_links[1]`, used as the `incoming` stack's link only from a
// pool task's start until the executor thread takes it (nothing else touches the pool links
// meanwhile), and the same slot for the same node every time.
unsafe impl Linked for PoolNode {
    fn link(node: *const Self) -> *mut *const Self {
        // SAFETY: callers pass live headers (PoolNode is a transparent Header); element 1 of
        // the two-element array is in bounds.
        unsafe { ((*node).0.pool_links.get() as *mut *const Header).add(1) as *mut *const Self }
    }
}

thread_local! {
    static CURRENT: Cell<*const Shared> = const { Cell::new(ptr::null()) };
}

impl Shared {
    fn ref_inc(this: *const Shared) {
        // SAFETY: callers hold a reference, so `this` is alive.
        unsafe { (*this).refs.fetch_add(1, Relaxed) };
    }

    /// # Safety
    /// The caller owns one reference and gives it up.
    unsafe fn ref_dec(this: *const Shared) {
        // SAFETY: the caller's reference keeps it alive until the decrement.
        if unsafe { (*this).refs.fetch_sub(1, AcqRel) } == 1 {
            // SAFETY: last reference: allocated by Box in Executor::build.
            drop(unsafe { Box::from_raw(this as *mut Shared) });
        }
    }

    fn is_current(this: *const Shared) -> bool {
        CURRENT.with(|c| c.get() == this)
    }

    /// Queues a task that holds a queue reference.
    ///
    /// # Safety
    /// `this` is alive (the task's reference keeps it so); `task` carries a queue reference.
    pub(crate) unsafe fn schedule(this: *const Shared, task: NonNull<Header>) {
        // SAFETY: alive per the caller.
        let s = unsafe { &*this };
        if Self::is_current(this) && !LOCAL_BUSY.with(|b| b.load(Relaxed)) {
            s.local.push(task.as_ptr());
            // Parked means blocked in (or about to enter) the reactor's wait: only a signal
            // handler on this thread can get here then; make the executor look again.
            compiler_fence(SeqCst);
            if s.parker.is_parked() {
                s.notify();
            }
        } else {
            // SAFETY: the task is in no other queue (it was just scheduled).
            unsafe { s.inbox.push(task.as_ptr()) };
            s.notify();
        }
    }

    /// Re-queues a task woken while it was running (on the executor thread).
    ///
    /// # Safety
    /// As [`Shared::schedule`], called on the executor thread.
    pub(crate) unsafe fn requeue(this: *const Shared, task: NonNull<Header>) {
        // SAFETY: alive per the caller; owner thread.
        unsafe { (*this).local.push(task.as_ptr()) };
    }

    fn notify(&self) {
        if self.parker.notify() {
            self.wake.ring();
        }
    }

    /// Reports a task that ended with an error.
    ///
    /// # Safety
    /// `this` is alive.
    pub(crate) unsafe fn report(this: *const Shared, e: &JoinError) {
        // SAFETY: alive per the caller.
        let s = unsafe { &*this };
        if let JoinError::Panicked { task, .. } = e {
            tracing::error!(
                executor = s.name,
                task = *task,
                message = e.panic_message().unwrap_or("<non-string payload>"),
                "task panicked"
            );
            // SAFETY: owner thread (reports happen inside polls).
            unsafe { (*s.stats.get()).panicked += 1 };
            if s.panic_policy == PanicPolicy::Abort {
                std::process::abort();
            }
        }
    }

    /// Drops a task's reference to the executor (static-pool tasks, whose slot is not in the
    /// arena).
    ///
    /// # Safety
    /// The caller owns that reference.
    pub(crate) unsafe fn release_ref(this: *const Shared) {
        // SAFETY: forwarded.
        unsafe { Self::ref_dec(this) };
    }

    /// Frees a task slot and the task's reference to the executor.
    ///
    /// # Safety
    /// The slot's task is gone (stage dropped, no reference left).
    pub(crate) unsafe fn release_slot(this: *const Shared, slot: usize) {
        // SAFETY: the task's reference keeps `this` alive until ref_dec below.
        unsafe { (*this).arena.release(slot) };
        // SAFETY: that reference is given up here.
        unsafe { Self::ref_dec(this) };
    }

    /// Spawns `fut` into a free slot.
    fn spawn<F: Future>(
        this: *const Shared,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        // SAFETY: callers hold a reference (Executor, Spawner, or a running task).
        let s = unsafe { &*this };
        let (size, align) = (
            core::mem::size_of::<TaskCell<F>>(),
            core::mem::align_of::<TaskCell<F>>(),
        );
        if size > s.arena.slot_size() || align > SLOT_ALIGN {
            return Err(SpawnError::TooBig {
                size,
                align,
                slot_size: s.arena.slot_size(),
            });
        }
        s.spawning.fetch_add(1, SeqCst);
        let r = Self::spawn_into_slot(this, s, fut, name);
        s.spawn_done();
        r
    }

    fn spawn_into_slot<F: Future>(
        this: *const Shared,
        s: &Shared,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        if s.closed.load(SeqCst) {
            return Err(SpawnError::Shutdown);
        }
        let idx = s.arena.claim().ok_or(SpawnError::Full {
            capacity: s.arena.capacity(),
        })?;
        let cell = s.arena.slot_ptr(idx) as *mut TaskCell<F>;
        // SAFETY: the slot is ours (claimed), large and aligned enough (checked by `spawn`),
        // and holds no live value.
        let handle = unsafe { Self::start(this, cell, idx, ptr::null(), fut, name, false) };
        s.arena.set_ready(idx, true);
        Ok(handle)
    }

    /// Writes a task into claimed memory and schedules it.
    ///
    /// # Safety
    /// `cell` is claimed by the caller, aligned, holds no live value, and stays valid until
    /// the task releases it (arena slot `slot`, or the static pool slot whose flag is
    /// `pool_flag`). The executor is not closed and `spawning` counts the caller.
    unsafe fn start<F: Future>(
        this: *const Shared,
        cell: *mut TaskCell<F>,
        slot: usize,
        pool_flag: *const AtomicBool,
        fut: F,
        name: &'static str,
        pooled: bool,
    ) -> JoinHandle<F::Output> {
        Self::ref_inc(this); // the task's reference to the executor
                             // SAFETY: caller's contract.
        unsafe { cell.write(TaskCell::new(fut, this, slot, pool_flag, name)) };
        let ptr = NonNull::new(cell as *mut Header).expect("slot pointers are non-null");
        if pooled {
            // Before it is scheduled: its completion, on the executor thread, finds it.
            // SAFETY: a live pool task of this executor, in no stack yet; `this` is alive.
            unsafe { (*this).pool.incoming.push(ptr.as_ptr() as *const PoolNode) };
        }
        // State: SCHEDULED, 3 references: executor (released at completion), JoinHandle
        // (moved into it), queue (moved into the queue entry below).
        // SAFETY: the JoinHandle's reference.
        let handle = JoinHandle::new(unsafe { TaskRef::from_raw(ptr) });
        // SAFETY: the queue reference; `this` is alive.
        unsafe { Self::schedule(this, ptr) };
        handle
    }

    /// Takes the pool tasks started since the last call into `live`.
    ///
    /// # Safety
    /// Called on the executor thread (the single consumer of `incoming`, the only user of
    /// `live`).
    unsafe fn take_pool_starts(&self) {
        // SAFETY: caller's contract; the nodes taken are live pool tasks of this executor
        // that have not completed (completion takes them first), and `live`'s members too.
        unsafe {
            self.pool.incoming.take_all(|n| {
                let h = n as *const Header;
                let head = *self.pool.live.get();
                *(*h).pool_links.get() = [ptr::null(), head];
                if !head.is_null() {
                    (*(*head).pool_links.get())[0] = h;
                }
                *self.pool.live.get() = h;
            });
        }
    }

    /// A pool task completed: it leaves the list.
    ///
    /// # Safety
    /// `this` is alive; called on its executor thread, during the poll that completed the
    /// pool task `h` of this executor.
    pub(crate) unsafe fn pool_task_completed(this: *const Shared, h: *const Header) {
        // SAFETY: alive per the caller.
        let s = unsafe { &*this };
        // SAFETY: executor thread. `h` was pushed before it was scheduled, so it is in
        // `live` once the stack is taken; `live`'s members are live tasks, ours to relink.
        unsafe {
            s.take_pool_starts();
            let [prev, next] = *(*h).pool_links.get();
            if prev.is_null() {
                *s.pool.live.get() = next;
            } else {
                (*(*prev).pool_links.get())[1] = next;
            }
            if !next.is_null() {
                (*(*next).pool_links.get())[0] = prev;
            }
        }
    }

    /// Spawns `fut` into a claimed static pool slot (`flag` set by the caller).
    ///
    /// # Safety
    /// `cell` and `flag` belong to one static pool slot the caller just claimed.
    pub(crate) unsafe fn spawn_pooled<F: Future>(
        this: *const Shared,
        cell: *mut TaskCell<F>,
        flag: &'static AtomicBool,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        // SAFETY: callers hold a reference (Spawner or a running task's executor).
        let s = unsafe { &*this };
        s.spawning.fetch_add(1, SeqCst);
        let r = if s.closed.load(SeqCst) {
            flag.store(false, Release);
            Err(SpawnError::Shutdown)
        } else {
            // The task is listed before it is scheduled: it cannot be released before.
            // SAFETY: caller's contract: a claimed static slot, valid forever.
            let h = unsafe { Self::start(this, cell, usize::MAX, flag, fut, name, true) };
            Ok(h)
        };
        s.spawn_done();
        r
    }

    /// Ends a spawn; the last one to finish while the executor shuts down rings it (its
    /// shutdown waits for spawns in flight on the doorbell).
    fn spawn_done(&self) {
        if self.spawning.fetch_sub(1, SeqCst) == 1 && self.closed.load(SeqCst) {
            self.notify();
        }
    }
}

/// What the executor did, for observation and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Task polls.
    pub polls: u64,
    /// Times the executor blocked on its wake element.
    pub parks: u64,
    /// Tasks taken from the cross-thread inbox.
    pub remote_wakes: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Polls that started after their task's deadline (EDF executors).
    pub late_polls: u64,
    /// Reactor turns that failed: the poll set could not be waited on (see
    /// [`Executor::block_on`]). Zero on a healthy executor.
    pub reactor_errors: u64,
    /// Demotions of the executor's thread to the in-band stage reported by the EVL core,
    /// per cause, since the thread started (see [`evl_reactor::core::stage`]; counted when
    /// the thread was attached with stage-switch warnings, the default in debug builds).
    /// In steady state a real-time executor should add none. Always zero on the host backend.
    pub stage_switches: evl_reactor::core::stage::StageSwitches,
}

/// An executor, driven by the thread that calls [`Executor::block_on`]. Not `Send`: it
/// belongs to the thread that built it (its tasks may be `!Send`). Use [`Executor::spawner`]
/// to spawn from other threads.
pub struct Executor {
    shared: NonNull<Shared>,
    reactor: Box<Reactor>,
    /// Reactor turns failed in a row (0 while it works).
    failing: Cell<u64>,
    /// Declared last: the thread detaches (if this executor attached it) after the reactor
    /// has closed its poll set.
    _attached: Option<attach::Attachment>,
    _not_send: PhantomData<*const ()>,
}

/// How long an executor whose reactor cannot wait sleeps before it tries again.
const REACTOR_RETRY: core::time::Duration = core::time::Duration::from_millis(1);

/// How to build an [`Executor`].
#[derive(Debug, Clone)]
pub struct Builder {
    capacity: usize,
    slot_size: usize,
    budget: usize,
    panic_policy: PanicPolicy,
    name: &'static str,
    reactor: ReactorConfig,
    edf: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            capacity: 64,
            slot_size: 512,
            budget: 256,
            panic_policy: PanicPolicy::Isolate,
            name: "evl",
            reactor: ReactorConfig::default(),
            edf: false,
        }
    }
}

impl Builder {
    /// Task slots (default 64, from 1 to 2^24): the most tasks alive at once. A task holds
    /// its slot until it finished and its [`JoinHandle`] was awaited or dropped (the output
    /// lives there) and its last `Waker` clone is gone. Out of range, or more memory than the
    /// system gives (capacity x slot size), is an error from [`build`](Builder::build).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }
    /// Bytes per task slot (default 512, rounded up to 64, at most 2^30): the largest task
    /// (header plus future) that can be spawned.
    pub fn slot_size(mut self, bytes: usize) -> Self {
        self.slot_size = bytes;
        self
    }
    /// Polls per turn before the executor looks at its inbox and main future again
    /// (default 256).
    pub fn budget(mut self, polls: usize) -> Self {
        self.budget = polls;
        self
    }
    /// What a task panic does (default [`PanicPolicy::Isolate`]).
    pub fn panic_policy(mut self, p: PanicPolicy) -> Self {
        self.panic_policy = p;
        self
    }
    /// A name for reports.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
    /// Earliest-deadline-first order among runnable tasks (default: FIFO). Tasks set their
    /// deadline with [`crate::task::set_deadline`]; polls that start after it are counted in
    /// [`Stats::late_polls`].
    pub fn edf(mut self, on: bool) -> Self {
        self.edf = on;
        self
    }
    /// Timers that may be armed at once (default 1024); arming one more is an error.
    pub fn timers(mut self, n: usize) -> Self {
        self.reactor.timers = n;
        self
    }
    /// fds that may be registered at once (default 64, at most
    /// [`Config::MAX_FDS`](evl_reactor::Config::MAX_FDS)).
    pub fn fds(mut self, n: usize) -> Self {
        self.reactor.fds = n;
        self
    }

    /// Builds the executor: all of its memory is allocated here.
    pub fn build(self) -> Result<Executor, crate::Error> {
        if self.budget == 0 {
            return Err(CoreError::new(
                evl_reactor::core::ErrorKind::InvalidArgument,
                "Executor::build",
                "the budget must be at least 1 poll per turn",
            ));
        }
        // Every size is checked before anything is allocated: a typed error, not a panic.
        self.reactor.check()?;
        // First: on EVL, the doorbell and the poll set need an attached thread.
        let attached = attach::ensure(self.name)?;
        // The shutdown bell, made once per process, here rather than by the first task that
        // awaits `shutdown::requested` (an in-band call on the real-time path).
        crate::shutdown::prepare()?;
        let shared = Box::new(Shared {
            refs: AtomicUsize::new(1),
            arena: Arena::new(self.capacity, self.slot_size)?,
            inbox: Inbox::new(),
            parker: Parker::new(),
            wake: Doorbell::new()?,
            local: LocalQueue::new(self.edf),
            main_woken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            spawning: AtomicUsize::new(0),
            panic_policy: self.panic_policy,
            name: self.name,
            budget: self.budget,
            pool: PoolList {
                incoming: Inbox::new(),
                live: UnsafeCell::new(ptr::null()),
            },
            stats: UnsafeCell::new(Stats::default()),
        });
        // Boxed: timer futures keep a pointer to the reactor they are armed in, so it must
        // not move when the Executor does.
        let reactor = Box::new(Reactor::new(
            self.reactor,
            Some(std::os::fd::AsFd::as_fd(&shared.wake)),
        )?);
        Ok(Executor {
            shared: NonNull::from(Box::leak(shared)),
            reactor,
            failing: Cell::new(0),
            _attached: attached,
            _not_send: PhantomData,
        })
    }
}

impl Executor {
    /// An executor with the default [`Builder`] settings.
    pub fn new() -> Result<Self, crate::Error> {
        Builder::default().build()
    }

    /// How to build one.
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn s(&self) -> &Shared {
        // SAFETY: the executor holds a reference for as long as it lives.
        unsafe { self.shared.as_ref() }
    }

    /// Spawns `fut` on this executor. The `Send` bounds are tokio's: the same code can spawn
    /// through a [`Spawner`] from another thread. A `!Send` future goes through
    /// [`spawn_local`](Executor::spawn_local).
    pub fn spawn<F>(&self, fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn`](Executor::spawn), with a name for reports.
    pub fn spawn_named<F>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }

    /// Spawns `fut` on this executor; it may be `!Send` (timers, `Rc`, ...): it only ever
    /// runs on this executor's thread.
    pub fn spawn_local<F: Future + 'static>(
        &self,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn_local`](Executor::spawn_local), with a name for reports.
    pub fn spawn_local_named<F: Future + 'static>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }

    /// A handle to spawn onto this executor from any thread.
    pub fn spawner(&self) -> Spawner {
        Shared::ref_inc(self.shared.as_ptr());
        Spawner {
            shared: self.shared,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        // SAFETY: owner thread (Executor is !Send), not inside a poll of this executor's
        // counters (they are plain copies).
        let mut s = unsafe { *self.s().stats.get() };
        // The owner thread is the one that runs the executor, whose switches these are.
        s.stage_switches = evl_reactor::core::stage::thread_switches();
        s
    }

    /// Tasks alive (spawned and not yet released).
    pub fn tasks(&self) -> usize {
        self.s().arena.in_use()
    }

    /// Runs `fut` to completion on this thread, running spawned tasks meanwhile.
    ///
    /// Never fails: if the reactor cannot wait any more (its poll set broke: a descriptor
    /// closed behind its back on EVL, an fd of the executor closed by someone else), the
    /// failure is counted in [`Stats::reactor_errors`], reported once through `tracing`, and
    /// the executor goes on, retrying the wait every millisecond: tasks woken from other
    /// threads and by each other still run, timers and fds wait until the reactor works
    /// again. Use [`try_block_on`](Executor::try_block_on) to stop with the error instead.
    ///
    /// # Panics
    /// When called inside a `block_on` on the same thread (a programming error: await the
    /// future instead); `try_block_on` returns an error for it.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match self.run(fut, |_| None::<core::convert::Infallible>) {
            Ok(out) => out,
            Err(never) => match never {},
        }
    }

    /// As [`block_on`](Executor::block_on), but a reactor failure ends it: the error comes
    /// back (the future is dropped, the executor's tasks stay, for the executor's drop to
    /// cancel), and so does a call from inside a `block_on` on the same thread.
    pub fn try_block_on<F: Future>(&self, fut: F) -> Result<F::Output, crate::Error> {
        self.run(fut, Some)
    }

    /// The loop behind both: `on_failure` turns a reactor error into the value that ends
    /// the run, or `None` to go on.
    fn run<F: Future, E>(
        &self,
        fut: F,
        on_failure: impl Fn(CoreError) -> Option<E>,
    ) -> Result<F::Output, E> {
        let this = self.shared.as_ptr() as *const Shared;
        // A nested block_on would block the executor thread inside one of its own polls
        // (and steal the outer main future's wakes).
        if !CURRENT.with(Cell::get).is_null() {
            const NESTED: &str =
                "block_on called from inside a block_on on this thread: await the future instead";
            return match on_failure(CoreError::new(
                evl_reactor::core::ErrorKind::InvalidArgument,
                "Executor::block_on",
                NESTED,
            )) {
                Some(e) => Err(e),
                None => panic!("{NESTED}"),
            };
        }
        let prev = CURRENT.with(|c| c.replace(this));
        struct Restore(*const Shared);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(prev);
        // Declared before the future: dropped after it, so timers it armed can disarm.
        // SAFETY: the guard is a local dropped at the end of this call; the reactor is boxed
        // (never moves) and outlives every armed timer (it is dropped last, after shutdown).
        let _enter = unsafe { self.reactor.enter() };
        let mut fut = pin!(fut);
        Shared::ref_inc(this);
        // SAFETY: the waker owns the reference just taken.
        let waker = unsafe { Waker::from_raw(RawWaker::new(this as *const (), &MAIN_VTABLE)) };
        let mut cx = Context::from_waker(&waker);
        let s = self.s();
        s.main_woken.store(true, SeqCst);
        loop {
            if s.main_woken.swap(false, SeqCst) {
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    return Ok(out);
                }
            }
            let polls = self.turn(s.budget);
            let r = if s.local.is_empty() && !s.main_woken.load(SeqCst) && s.inbox.is_empty() {
                self.park().map_err(|e| (e, true))
            } else if polls == s.budget || polls == 0 {
                // Busy (a full budget, or only the main future keeps waking itself): serve
                // timers and fds without blocking.
                self.reactor_turn(Wait::Poll).map_err(|e| (e, false))
            } else {
                Ok(())
            };
            if let Err((e, blocking)) = r {
                if let Some(e) = on_failure(e) {
                    return Err(e);
                }
                if blocking {
                    // Nothing to run and no way to wait: retry later rather than spin.
                    std::thread::sleep(REACTOR_RETRY);
                }
            }
        }
    }

    /// One turn: take the inbox, poll up to `budget` runnable tasks. Returns polls made.
    fn turn(&self, budget: usize) -> usize {
        let s = self.s();
        // SAFETY: owner thread: the single consumer of the inbox.
        let taken = unsafe { s.inbox.take_all(|h| s.local.push(h)) };
        let mut polls = 0;
        let mut late = 0;
        while polls < budget {
            let Some(task) = s.local.pop() else { break };
            if s.local.edf {
                let d = edf_key(task.as_ptr());
                if d != u64::MAX && evl_reactor::now_ns() > d {
                    late += 1;
                }
            }
            // SAFETY: a queued task carries a queue reference, handed to poll; we are its
            // executor thread.
            unsafe { (task.as_ref().vtable.poll)(task) };
            polls += 1;
        }
        // SAFETY: owner thread.
        let st = unsafe { &mut *s.stats.get() };
        st.late_polls += late;
        st.polls += polls as u64;
        st.remote_wakes += taken as u64;
        polls
    }

    /// Blocks in the reactor unless work is pending; the reactor's error if its wait failed.
    fn park(&self) -> Result<(), CoreError> {
        let s = self.s();
        let mut r = Ok(());
        if s.parker.prepare_park() {
            // Last look: work published before PARKED would have seen RUNNING/NOTIFIED (a
            // signal handler on this thread may have queued locally meanwhile).
            if s.inbox.is_empty() && s.local.is_empty() && !s.main_woken.load(SeqCst) {
                // SAFETY: owner thread.
                unsafe { (*s.stats.get()).parks += 1 };
                r = self.reactor_turn(Wait::Block);
            }
        }
        s.parker.unparked();
        r
    }

    /// One reactor turn; drains the wake element when it was posted. A failed turn (the poll
    /// set cannot be waited on) is counted and reported once per run of failures; the caller
    /// decides whether to go on.
    fn reactor_turn(&self, wait: Wait) -> Result<(), CoreError> {
        let s = self.s();
        // Running again as soon as the wait returns: the timers and fds it dispatches wake
        // tasks on this thread, which then need no doorbell ring.
        match self.reactor.turn_then(wait, || s.parker.unparked()) {
            Ok(t) => {
                if t.woken {
                    s.wake.drain();
                }
                let failed = self.failing.replace(0);
                if failed > 0 {
                    tracing::warn!(
                        executor = s.name,
                        failed_turns = failed,
                        "reactor works again"
                    );
                }
                Ok(())
            }
            Err(e) => {
                // SAFETY: owner thread.
                unsafe { (*s.stats.get()).reactor_errors += 1 };
                if self.failing.replace(self.failing.get().saturating_add(1)) == 0 {
                    tracing::error!(
                        executor = s.name,
                        error = %e,
                        "reactor turn failed: timers and fds of this executor are not served \
                         until it works again"
                    );
                }
                Err(e)
            }
        }
    }

    /// The executor's reactor (timers, fds), e.g. for its counters.
    pub fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// Cancels every live task and runs until each one is complete. A wake or a spawn
    /// still half-way on another thread is waited for on the doorbell (it rings when it
    /// lands), never spun on: a preempted lower-priority waker must get to finish.
    fn shutdown(&self) {
        let s = self.s();
        let this = self.shared.as_ptr() as *const Shared;
        s.closed.store(true, SeqCst);
        s.main_woken.store(false, SeqCst);
        let prev = CURRENT.with(|c| c.replace(this));
        // SAFETY: as in block_on: a local guard, a boxed reactor that outlives its timers.
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
        CURRENT.with(|c| c.set(prev));
    }

    /// Asks every live task (arena and static pools) to stop; queues the idle ones.
    fn cancel_all(&self) {
        let s = self.s();
        for idx in 0..s.arena.capacity() {
            if s.arena.is_ready(idx) {
                let h = s.arena.slot_ptr(idx) as *const Header;
                // SAFETY: a ready slot holds a live task; `cancel` only touches state.
                if unsafe { &*h }.state.cancel() == task::state::Wake::Enqueue {
                    s.local.push(h);
                }
            }
        }
        // SAFETY: we are the executor thread.
        unsafe { s.take_pool_starts() };
        // SAFETY: as above: `live` is ours.
        let mut h = unsafe { *s.pool.live.get() };
        while !h.is_null() {
            // SAFETY: listed tasks have not completed, so the executor's reference keeps them
            // alive; `cancel` only touches their state (queuing one does not poll it, so the
            // list does not change during this walk).
            let hr = unsafe { &*h };
            if hr.state.cancel() == task::state::Wake::Enqueue {
                s.local.push(h);
            }
            // SAFETY: as above.
            h = unsafe { (*hr.pool_links.get())[1] };
        }
    }

    /// Whether every task still holding a slot (arena or pool) has completed.
    fn all_complete(&self) -> bool {
        let s = self.s();
        let done = |h: *const Header| {
            // SAFETY: callers pass live tasks (ready arena slots, listed pool tasks).
            unsafe { &*h }.state.load() & task::state::COMPLETE != 0
        };
        let arena_done = (0..s.arena.capacity())
            .filter(|&i| s.arena.is_ready(i))
            .all(|i| done(s.arena.slot_ptr(i) as *const Header));
        // Pool tasks leave the list when they complete: done when it is empty.
        // SAFETY: we are the executor thread.
        unsafe { s.take_pool_starts() };
        // SAFETY: as above: `live` is ours.
        let pool_done = unsafe { (*s.pool.live.get()).is_null() };
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

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("name", &self.s().name)
            .field("tasks", &self.tasks())
            .finish()
    }
}

/// Spawns onto an executor from any thread.
pub struct Spawner {
    shared: NonNull<Shared>,
}

// SAFETY: a Spawner only reaches the executor through its thread-safe parts (arena claims,
// the inbox, the parker, the wake element) and owns one reference to it.
unsafe impl Send for Spawner {}
// SAFETY: as above.
unsafe impl Sync for Spawner {}

impl Spawner {
    /// Spawns `fut` onto the executor; it runs there.
    pub fn spawn<F>(&self, fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn`](Spawner::spawn), with a name for reports.
    pub fn spawn_named<F>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }
}

impl Spawner {
    /// Spawns the future `make` builds, building it on the executor's thread: the future may
    /// be `!Send` (timers, `Rc`, ...), only the closure crosses threads. The task slot must
    /// hold the larger of the closure and the future.
    pub fn spawn_with<C, F>(&self, make: C) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        C: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), Lazy::Make(Some(make)), "task")
    }
}

/// A future built on first poll (on the executor thread) by a closure.
enum Lazy<C, F> {
    Make(Option<C>),
    Run(F),
}

impl<C: FnOnce() -> F, F: Future> Future for Lazy<C, F> {
    type Output = F::Output;
    fn poll(self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the closure is moved out only while in `Make` (nothing pinned yet); once in
        // `Run`, the future is never moved again (we only re-pin it in place).
        let this = unsafe { self.get_unchecked_mut() };
        if let Lazy::Make(make) = this {
            let f = make.take().expect("Lazy polled after its closure panicked")();
            *this = Lazy::Run(f);
        }
        match this {
            // SAFETY: `f` lives inside the pinned Lazy and is not moved until dropped.
            Lazy::Run(f) => unsafe { core::pin::Pin::new_unchecked(f) }.poll(cx),
            Lazy::Make(_) => unreachable!(),
        }
    }
}

impl Clone for Spawner {
    fn clone(&self) -> Self {
        Shared::ref_inc(self.shared.as_ptr());
        Spawner {
            shared: self.shared,
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { Shared::ref_dec(self.shared.as_ptr()) };
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

/// A [`Spawner`] for the executor running the current task (to hand to other threads or
/// executors), or `None` outside an executor.
pub fn spawner() -> Option<Spawner> {
    let cur = CURRENT.with(Cell::get);
    if cur.is_null() {
        return None;
    }
    Shared::ref_inc(cur);
    // The reference just taken moves into the Spawner.
    let shared = NonNull::new(cur as *mut Shared).expect("checked non-null above");
    Some(Spawner { shared })
}

/// The executor of the current thread, for pool spawns.
pub(crate) fn current_shared() -> Option<*const Shared> {
    let cur = CURRENT.with(Cell::get);
    (!cur.is_null()).then_some(cur)
}

impl Spawner {
    pub(crate) fn shared_ptr(&self) -> *const Shared {
        self.shared.as_ptr()
    }
}

/// Spawns `fut` on the executor running the current task, like `tokio::spawn`: the future
/// and its output must be `Send + 'static`.
///
/// Unlike tokio's, an evl executor is one thread and does not steal work: the task runs on
/// the current executor's thread, never elsewhere. The `Send` bound keeps the code portable
/// (the same future can go to another executor through a [`Spawner`]); a `!Send` future goes
/// through [`spawn_local`]. A full executor, a future larger than a task slot or a call
/// outside an executor is a [`SpawnError`], not a panic.
pub fn spawn<F>(fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_local(fut)
}

/// Spawns `fut`, which may be `!Send` (timers, `Rc`, ...), on the executor running the
/// current task (tokio's `task::spawn_local`; no `LocalSet` needed: every evl executor runs
/// its tasks on its own thread).
pub fn spawn_local<F: Future + 'static>(fut: F) -> Result<JoinHandle<F::Output>, SpawnError> {
    let cur = CURRENT.with(Cell::get);
    if cur.is_null() {
        return Err(SpawnError::NoExecutor);
    }
    Shared::spawn(cur, fut, "task")
}

// The main future's waker: a counted reference to the executor.
static MAIN_VTABLE: RawWakerVTable =
    RawWakerVTable::new(main_clone, main_wake, main_wake_by_ref, main_drop);

unsafe fn main_clone(data: *const ()) -> RawWaker {
    Shared::ref_inc(data as *const Shared);
    RawWaker::new(data, &MAIN_VTABLE)
}
unsafe fn main_wake(data: *const ()) {
    // SAFETY: an owning waker: wake, then give the reference up.
    unsafe {
        main_wake_by_ref(data);
        main_drop(data);
    }
}
unsafe fn main_wake_by_ref(data: *const ()) {
    // SAFETY: the waker's reference keeps the executor alive.
    let s = unsafe { &*(data as *const Shared) };
    s.main_woken.store(true, SeqCst);
    // From another thread, or from a signal handler that found its own executor parked.
    if !Shared::is_current(s) || s.parker.is_parked() {
        s.notify();
    }
}
unsafe fn main_drop(data: *const ()) {
    // SAFETY: the waker's reference is given up.
    unsafe { Shared::ref_dec(data as *const Shared) }
}
