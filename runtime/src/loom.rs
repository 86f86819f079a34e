//! Atomics (and the one lock) through one door, so that the concurrency-critical modules
//! (task state, inbox, parker, the Notify waiter list) can be model-checked: the
//! `loom-models` crate compiles those modules against loom's atomics and a loom lock by
//! providing its own `crate::loom`.

pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
    }
}

/// The lock of the rare slow paths (evl-core's; a spin-and-yield lock under loom).
pub(crate) mod lock {
    pub(crate) use evl_reactor::core::RawLock;
}
