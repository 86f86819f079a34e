//! The runtime's concurrency-critical modules, compiled against loom's atomics.
//!
//! Those modules reach their atomics through `crate::loom::sync::atomic` (and the Notify
//! waiter list its slow-path lock through `crate::loom::lock`); in the runtime that is `std`
//! (and evl-core's `RawLock`), here it is loom (and a loom lock that yields while it waits),
//! so the same source is model-checked.

#![allow(dead_code, unreachable_pub)]

/// loom in place of std for the included modules.
pub mod loom {
    /// Synchronisation types.
    pub mod sync {
        pub use ::loom::sync::Arc;

        /// Atomics.
        pub mod atomic {
            pub use ::loom::sync::atomic::{
                fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    /// `UnsafeCell` with the access closures loom checks.
    pub mod cell {
        pub use ::loom::cell::UnsafeCell;
    }

    /// The slow-path lock, with evl-core `RawLock`'s interface: a flag taken by
    /// compare-and-swap; `lock` yields to the other model threads while it is held (loom
    /// explores every order in which they may run meanwhile).
    pub mod lock {
        use ::loom::sync::atomic::{AtomicBool, Ordering::*};

        /// See the module docs.
        #[derive(Debug, Default)]
        pub struct RawLock(AtomicBool);

        impl RawLock {
            /// Free.
            pub fn new() -> Self {
                RawLock(AtomicBool::new(false))
            }

            /// Takes it if free.
            pub fn try_lock(&self) -> bool {
                self.0
                    .compare_exchange(false, true, Acquire, Relaxed)
                    .is_ok()
            }

            /// Takes it, yielding while another thread holds it.
            pub fn lock(&self) {
                while !self.try_lock() {
                    ::loom::thread::yield_now();
                }
            }

            /// Releases it.
            ///
            /// # Safety
            /// The caller holds it.
            pub unsafe fn unlock(&self) {
                self.0.store(false, Release);
            }
        }
    }
}

/// The task state word (runtime/src/task/state.rs).
#[path = "../../src/task/state.rs"]
pub mod state;

/// The inbox and the parked/notified word (runtime/src/executor/inbox.rs).
#[path = "../../src/executor/inbox.rs"]
pub mod inbox;

/// The Notify waiter list (runtime/src/sync/waiters/, with its node, batch and wait files).
#[path = "../../src/sync/waiters/mod.rs"]
pub mod waiters;

/// The FIFO permit queue behind Semaphore, Mutex, RwLock and mpsc's room
/// (runtime/src/sync/permits.rs).
#[path = "../../src/sync/permits.rs"]
pub mod permits;

/// The bounded MPSC ring behind mpsc (runtime/src/sync/ring.rs).
#[path = "../../src/sync/ring.rs"]
pub mod ring;

/// The lock-free waker slot of oneshot (runtime/src/sync/waker_slot.rs).
#[path = "../../src/sync/waker_slot.rs"]
pub mod waker_slot;

/// The oneshot channel (runtime/src/sync/oneshot.rs).
#[path = "../../src/sync/oneshot.rs"]
pub mod oneshot;

/// The bridges' and tracing's never-waiting SPSC ring (runtime/src/ring.rs).
#[path = "../../src/ring.rs"]
pub mod spsc_ring;

#[cfg(test)]
mod models;

#[cfg(test)]
mod permits_models;

#[cfg(test)]
mod ring_models;

#[cfg(test)]
mod spsc_ring_models;

#[cfg(test)]
mod notify_models;

#[cfg(test)]
mod oneshot_models;
