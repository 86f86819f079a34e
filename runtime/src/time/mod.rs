//! Time: nanosecond deadlines on the monotonic clock, served by the executor's reactor.
//!
//! | item | what |
//! |---|---|
//! | [`Instant`] | a point on the monotonic clock (the EVL core's time base), ns |
//! | [`sleep`], [`sleep_until`], [`Sleep`] | wait for a deadline |
//! | [`timeout`], [`timeout_at`] | bound another future |
//! | [`interval`], [`interval_at`], [`Interval`] | periodic ticks that report lateness and missed ticks |
//! | `embassy` (feature `embassy-time`) | the embassy-time driver: embassy `Timer`/`Ticker` on evl executors |
//!
//! Deadlines are absolute and exact: the executor's one wait times out at the earliest
//! deadline, to the nanosecond (no 1 ms wheel). A past deadline completes at once. Dropping a
//! timer future disarms it in O(1). Timer futures are `!Send`: they belong to the executor
//! that polls them (spawn tasks that use timers with `evl::spawn_local`, or with
//! [`Spawner::spawn_with`](crate::Spawner::spawn_with) from another thread).
//!
//! Errors: arming more timers than the executor's capacity gives
//! [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded); awaiting a timer
//! outside an executor gives [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).

#[cfg(feature = "embassy-time")]
pub mod embassy;
mod instant;
mod interval;
mod sleep;

pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTicks, Tick, TickFuture};
pub use sleep::{sleep, sleep_until, timeout, timeout_at, Sleep, Timeout};
