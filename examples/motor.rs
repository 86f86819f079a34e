//! A cascaded PI loop (speed around current) on a simulated DC motor, with a 10 Hz setpoint
//! profile task and a watchdog on missed cycles.
//!
//! ```text
//! cargo run --release --example motor -- [--duration-s 2] [--rate-hz 1000] [--priority 80]
//!     [--cpu N] [--watchdog-cycles 3] [--stall-ms 8 --stall-every-s 0.5]
//! ```
//! Everything is in `evl_examples::motor` (src/motor.rs).

/// Counts allocations per thread, so the report can show the measured loop makes none.
#[global_allocator]
static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;

fn main() -> std::process::ExitCode {
    evl_examples::rt::install_alloc_probe();
    evl_examples::args::main_with(&evl_examples::motor::usage(), evl_examples::motor::run)
}
