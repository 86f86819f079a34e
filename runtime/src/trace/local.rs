//! The per-thread rings: created and registered by a thread before its real-time loop,
//! found again through a thread-local pointer (no allocation, no system call).

use super::record::Record;
use crate::ring::{ConsumerPos, ProducerPos, PushError, Ring};
use core::cell::{Cell, RefCell, UnsafeCell};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Everything a tracer's rings share with its drain.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Tells this tracer's rings from another tracer's.
    pub(crate) id: u64,
    pub(crate) rings: Mutex<Vec<Arc<ThreadRing>>>,
    /// Records from threads without a ring of this tracer.
    pub(crate) unregistered: AtomicU64,
    pub(crate) next_span: AtomicU64,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Registry {
            id: IDS.fetch_add(1, Relaxed),
            rings: Mutex::new(Vec::new()),
            unregistered: AtomicU64::new(0),
            next_span: AtomicU64::new(1),
        }
    }
}

/// What the drain keeps per ring between drains.
#[derive(Debug)]
pub(crate) struct DrainSide {
    pub(crate) pos: ConsumerPos,
    /// The spans the thread is in, innermost last (rebuilt from enter/exit records).
    pub(crate) stack: Vec<u64>,
}

/// One thread's ring.
#[derive(Debug)]
pub(crate) struct ThreadRing {
    registry: u64,
    pub(crate) name: String,
    pub(crate) ring: Ring<Record>,
    /// Only the owning thread touches it (through the thread-local pointer).
    producer: UnsafeCell<ProducerPos>,
    pub(crate) drain: Mutex<DrainSide>,
    /// Records refused because the ring was full.
    pub(crate) dropped: AtomicU64,
}

// SAFETY: `producer` is only accessed by the thread that registered the ring (the only
// thread whose thread-local points to it), the ring is Sync for `Record: Send`, and the
// other fields are Sync.
unsafe impl Sync for ThreadRing {}

impl ThreadRing {
    /// Pushes a record (owner thread only); a full ring drops and counts it.
    ///
    /// # Safety
    /// Only the thread that registered this ring may call it, and not re-entrantly (no user
    /// code runs inside).
    unsafe fn push(&self, r: Record) {
        // SAFETY: the caller's contract: this thread is the only producer, not re-entered.
        let p = unsafe { &mut *self.producer.get() };
        if let Err(PushError::Full(_)) = self.ring.push(p, r, false) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// Keeps the ring alive while the thread lives; clears the fast pointer first on exit.
struct Owner(#[allow(dead_code)] Arc<ThreadRing>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = FAST.try_with(|f| f.set(core::ptr::null()));
    }
}

thread_local! {
    static FAST: Cell<*const ThreadRing> = const { Cell::new(core::ptr::null()) };
    static OWNER: RefCell<Option<Owner>> = const { RefCell::new(None) };
}

/// Gives this thread a ring of `capacity` records in `reg` (replacing a previous one).
pub(crate) fn register(reg: &Registry, name: String, capacity: usize) {
    let (ring, p, c) = Ring::new(capacity);
    let tr = Arc::new(ThreadRing {
        registry: reg.id,
        name,
        ring,
        producer: UnsafeCell::new(p),
        drain: Mutex::new(DrainSide {
            pos: c,
            stack: Vec::new(),
        }),
        dropped: AtomicU64::new(0),
    });
    reg.rings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(tr.clone());
    let ptr = Arc::as_ptr(&tr);
    OWNER.with(|o| {
        // Clear the pointer before the old ring may go.
        FAST.with(|f| f.set(core::ptr::null()));
        *o.borrow_mut() = Some(Owner(tr));
        FAST.with(|f| f.set(ptr));
    });
}

/// Records `make()` into this thread's ring of registry `id`; false (nothing done) when the
/// thread has none.
pub(crate) fn record(id: u64, make: impl FnOnce() -> Record) -> bool {
    let ptr = FAST.try_with(Cell::get).unwrap_or(core::ptr::null());
    if ptr.is_null() {
        return false;
    }
    // SAFETY: a non-null FAST points to the ring OWNER keeps alive on this thread (Owner's
    // drop clears FAST before releasing it).
    let tr = unsafe { &*ptr };
    if tr.registry != id {
        return false;
    }
    // Build first: `make` may run user code (Debug impls) that records too.
    let r = make();
    // SAFETY: this thread registered the ring (FAST is per thread), and `push` runs no
    // user code, so it is not re-entered.
    unsafe { tr.push(r) };
    true
}
