//! # evl-macros — `#[evl::main]`, `#[evl::task]`, `#[evl::test]`
//!
//! Filled by the executor issue; each macro will expand to plain calls of the public `evl`
//! API, nothing a user could not write by hand.
