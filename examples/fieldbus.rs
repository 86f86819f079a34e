//! A 1 kHz cyclic frame exchange between a master task on the evl runtime and a simulated
//! slave thread over an xbuf, with per-cycle timeouts, CRC16 and injected faults.
//!
//! ```text
//! cargo run --release --example fieldbus -- [--duration-s 2] [--period-us 1000]
//!     [--timeout-us 500] [--drop-pct 0.2] [--late-pct 0.2] [--corrupt-pct 0.2] [--priority 80]
//! ```
//! Everything is in `evl_examples::fieldbus` (src/fieldbus.rs).

/// Counts allocations per thread, so the report can show the measured loop makes none.
#[global_allocator]
static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;

fn main() -> std::process::ExitCode {
    evl_examples::rt::install_alloc_probe();
    evl_examples::args::main_with(
        &evl_examples::fieldbus::usage(),
        evl_examples::fieldbus::run,
    )
}
