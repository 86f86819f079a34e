//! The examples crate's library holds no code: it compiles and tests the code blocks of the
//! workspace's README as doctests, so that what the README shows keeps building. The programs
//! are the examples (`examples/*.rs`, the latency meter in `examples/latency/`).
#![doc = include_str!("../../README.md")]
