//! # evl — async Rust on the EVL real-time core
//!
//! The executor, spawn, time, sync and io layers land with the executor and reactor issues.
//! Today this crate re-exports the element layer so that `use evl::...` is the one import an
//! application writes.

pub use evl_reactor::core;
pub use evl_reactor::core::{Backend, Clock, Error, ErrorKind, Result, Timestamp, Visibility};
