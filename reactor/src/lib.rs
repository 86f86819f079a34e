//! # evl-reactor — turns EVL wakeup sources into `Waker`s
//!
//! Filled by the reactor issue: the per-executor timer queue armed on one core timer fd, fd
//! registrations in the executor's poll set, and the cross-thread wake element, all served by
//! one blocking wait per executor. It re-exports the core interface it builds on.
//!
//! | module | what |
//! |---|---|
//! | [`timer`] | timer queue: a [`timer::Wheel`] of intrusive [`timer::Entry`]s, exact ns deadlines |

pub use evl_core as core;

pub mod timer;
