//! The latency meter: how late a periodic task wakes against its absolute deadline on the
//! evl runtime; `--compare` puts it side by side with a raw clock_nanosleep loop and tokio.
//!
//! ```text
//! cargo run --release --example latency -- [--period-us 1000] [--duration-s 10 | --count N]
//!     [--priority 80] [--cpu N] [--threshold-us T] [--compare [--block 1000]]
//!     [--csv FILE] [--svg FILE] [--quiet]
//! ```
//! Everything is in `evl_examples::latency` (src/latency.rs).

/// Counts allocations per thread, so the report can show the measured loop makes none.
#[global_allocator]
static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;

fn main() -> std::process::ExitCode {
    evl_examples::rt::install_alloc_probe();
    let usage = format!(
        "{}{}",
        evl_examples::latency::USAGE,
        evl_examples::args::RtOpts::USAGE
    );
    evl_examples::args::main_with(&usage, evl_examples::latency::run)
}
