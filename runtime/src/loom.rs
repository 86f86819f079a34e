//! Atomics through one door, so that the concurrency-critical modules (task state, inbox,
//! parker) can be model-checked: the `loom-models` crate compiles those modules against
//! loom's atomics by providing its own `crate::loom`.

pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
    }
}
