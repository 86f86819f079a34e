//! # evl-reactor — turns EVL wakeup sources into `Waker`s
//!
//! Knows wakers, not tasks: the runtime's executor owns one [`Reactor`] and turns it when it
//! has nothing to run.
//!
//! | module | what |
//! |---|---|
//! | [`reactor`] | [`Reactor`]: the one wait point per executor (a poll set whose wait times out at the earliest deadline, plus the wake element) |
//! | [`timer`] | the timer queue: a hierarchical wheel with exact nanosecond deadlines |
//! | [`io`] | fd registrations: readiness per direction, armed only while awaited |
//!
//! It re-exports the core interface it builds on as [`core`].

#![warn(missing_docs)]

pub mod io;
mod limits;
pub mod reactor;
pub mod timer;

pub use evl_core as core;
pub use io::{Direction, Token};
pub use reactor::{now_ns, with_current, Config, Reactor, Stats, Turn, Wait};
