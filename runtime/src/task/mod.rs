//! Tasks: a header followed by the future (then its output), in one arena slot that never
//! moves while the task lives.
//!
//! | file | what |
//! |---|---|
//! | `state` | the atomic state word (flags + reference count) |
//! | `raw` | the type-erased header, its vtable, task references, and `Schedule`: the one interface through which a task reaches its executor |
//! | `cell` | the typed slot layout and the per-future vtable |
//! | `waker` | `Waker`s that are task pointers (one reference each) |
//! | `join` | [`JoinHandle`] |
//! | `error` | [`JoinError`] |
//! | `current` | the task being polled: [`set_deadline`], [`clear_deadline`], [`deadline`] |
//! | [`pool`] | static task pools for `#[evl::task(pool_size = N)]` functions; [`slot_size`]: the arena slot a task function needs, at compile time |
//!
//! The task side never names the executor: the executor implements `raw::Schedule`, and a
//! task calls it through its vtable. The executor imports the task modules, never the
//! other way round (the static pools, which spawn onto an executor, sit on the executor's
//! side of that line).

pub(crate) mod cell;
pub(crate) mod current;
pub(crate) mod error;
pub(crate) mod join;
pub mod pool;
pub(crate) mod raw;
pub(crate) mod state;
pub(crate) mod waker;

pub use current::{clear_deadline, deadline, set_deadline};
pub use error::JoinError;
pub use join::JoinHandle;
pub use pool::{slot_size, task_pool_size, PoolSpawn, TaskFn, TaskPool, TaskPoolHolder};
