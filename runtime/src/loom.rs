//! Atomics (and the one lock) through one door, so that the concurrency-critical modules
//! (task state, inbox, parker, the Notify waiter list) can be model-checked: the
//! `loom-models` crate compiles those modules against loom's atomics and a loom lock by
//! providing its own `crate::loom`.

pub(crate) mod sync {
    /// `std`'s `Arc` (loom's under loom, which sees the synchronisation of its last drop).
    pub(crate) use std::sync::Arc;

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

/// An `UnsafeCell` with loom's closure interface (`with_mut`), so that loom can check the
/// accesses of the modules it models.
pub(crate) mod cell {
    /// `core::cell::UnsafeCell`, accessed through [`UnsafeCell::with_mut`].
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(v: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(v))
        }

        /// Calls `f` with a pointer to the value; the caller argues the access is exclusive.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
