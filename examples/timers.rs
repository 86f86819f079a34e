//! Many timer-driven tasks at mixed periods on one executor, one of them stalling it now
//! and then: the Burst, Delay and Skip missed-tick policies side by side.
//!
//! ```text
//! cargo run --release --example timers -- [--duration-s 2] [--periods-ms 1,2,5,10,20,50]
//!     [--stall-ms 15] [--stall-every-ms 250] [--priority 0] [--cpu N]
//! ```
//! Everything is in `evl_examples::timers` (src/timers.rs).

/// Counts allocations per thread, so the report can show the measured loop makes none.
#[global_allocator]
static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;

fn main() -> std::process::ExitCode {
    evl_examples::rt::install_alloc_probe();
    evl_examples::args::main_with(&evl_examples::timers::usage(), evl_examples::timers::run)
}
