//! The runtime's concurrency-critical modules, compiled against loom's atomics.
//!
//! Those modules reach their atomics through `crate::loom::sync::atomic`; in the runtime
//! that is `std`, here it is loom, so the same source is model-checked.

#![allow(dead_code, unreachable_pub)]

/// loom in place of std for the included modules.
pub mod loom {
    /// Synchronisation types.
    pub mod sync {
        /// Atomics.
        pub mod atomic {
            pub use ::loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
        }
    }
}

/// The task state word (runtime/src/task/state.rs).
#[path = "../../src/task/state.rs"]
pub mod state;

/// The inbox and the parked/notified word (runtime/src/executor/inbox.rs).
#[path = "../../src/executor/inbox.rs"]
pub mod inbox;

#[cfg(test)]
mod models;
