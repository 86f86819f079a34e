//! Synchronisation between tasks, and from ordinary threads to tasks.
//!
//! | file | what |
//! |---|---|
//! | [`notify`] | [`Notify`]: wake one waiter (or store one permit), or wake every waiter |
//! | `waiters` | the intrusive waiter list behind it (the unsafe core, private) |
//!
//! Nothing here allocates per wait: a waiter is a node inside the pinned future that waits,
//! linked into a list owned by the primitive.

pub mod notify;
mod waiters;

pub use notify::{Notified, Notify};
