//! Synchronisation between tasks, and from ordinary threads to tasks.
//!
//! | file | what |
//! |---|---|
//! | [`notify`] | [`Notify`]: wake one waiter (or store one permit), or wake every waiter |
//! | `waiters` | the lock-free waiter list behind it (the unsafe core, private, loom-checked) |
//!
//! Nothing here allocates per wait: a waiter is a node inside the pinned future that waits,
//! linked into a list owned by the primitive. Nothing here takes a lock on its common paths;
//! which calls may wait, and on what, is listed in [`notify`]'s docs.

pub mod notify;
mod waiters;

pub use notify::{Notified, Notify};
