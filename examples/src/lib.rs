//! Shared code of the example programs, and the programs themselves as library functions.
//!
//! Each example in `examples/` is a thin `main` around `evl_examples::<name>::run(&args)`,
//! which parses the command line, runs, prints its report and returns a summary, so that
//! `tests/run_examples.rs` runs every program in-process, briefly, and checks that summary.
//!
//! | module | what |
//! |---|---|
//! | [`hist`] | fixed-size latency histograms (log-linear fine buckets, 1-2-5 display buckets), percentiles |
//! | [`report`] | text histogram, CSV, hand-written SVG |
//! | [`args`] | hand-written option parsing, the error type, the `main` wrapper |
//! | [`rt`] | SCHED_FIFO placement with a printed fallback, a progress line off the measured path |
//! | [`syscalls`] | system calls per wakeup of the measuring thread (perf tracepoint on the host, the core's count on EVL) |
//! | [`xmlcheck`] | a small XML well-formedness check (tests of the SVG output) |
//! | [`latency`] | the latency meter, `--compare` with the raw core and tokio |
//! | [`timers`] | many timer tasks at mixed periods, the three missed-tick policies side by side |
//! | [`motor`] | a cascaded PI speed/current loop on a simulated DC motor, with a watchdog |
//! | [`fieldbus`] | a 1 kHz cyclic frame exchange with a simulated slave over an xbuf |

pub mod args;
pub mod fieldbus;
pub mod hist;
pub mod latency;
pub mod motor;
pub mod report;
pub mod rt;
pub mod syscalls;
pub mod timers;
pub mod xmlcheck;

pub use args::{ExampleError, Result};
pub use hist::{Histogram, Stats};
