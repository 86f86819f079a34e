//! A periodic task: wakes on an absolute deadline every period and measures how late each
//! wakeup was, the shape of every control loop.
//!
//! ```text
//! cargo run --release --example periodic -- [--period-us 1000] [--cycles 2000]
//! ```
//! `#[evl::main]` runs the body on a real-time executor (SCHED_FIFO 40 where permitted; without
//! the privilege it says so and runs at SCHED_OTHER, which measures the machine, not the core),
//! on the auto-detected backend (EVL when /dev/evl/control exists; `EVL_BACKEND=host|evl`).

use evl::time::{self, MissedTicks};
use hdrhistogram::Histogram;
use std::time::Duration;

const USAGE: &str = "usage: periodic [--period-us N (default 1000)] [--cycles N (default 2000)]";

struct Args {
    period: Duration,
    cycles: u64,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        period: Duration::from_micros(1000),
        cycles: 2000,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("period-us") => args.period = Duration::from_micros(p.value()?.parse()?),
            Long("cycles") => args.cycles = p.value()?.parse()?,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if args.period.is_zero() || args.cycles == 0 {
        return Err("--period-us and --cycles must be positive".into());
    }
    Ok(args)
}

#[evl::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("periodic: {e}\n{USAGE}");
        std::process::exit(2)
    });
    println!(
        "periodic: backend {}, {:?}, period {} us, {} cycles",
        evl::core::backend::current()?,
        evl::core::thread::current_policy()?,
        args.period.as_micros(),
        args.cycles
    );

    // Everything the loop touches exists before it starts: recording into a histogram sized
    // up front (1 ns to 10 s, 3 significant digits) is index arithmetic, no allocation.
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
    let mut missed = 0;
    // Skip: after an overrun, the next tick is the next deadline still ahead on the grid.
    let mut tick = time::interval(args.period)?.with_policy(MissedTicks::Skip);
    while lateness.len() < args.cycles && !evl::shutdown::is_requested() {
        let t = tick.tick().await?; // t.deadline: when it was due; t.now: when it ran
        lateness.saturating_record(t.lateness.as_nanos() as u64);
        missed += t.missed; // periods lost to an overrun
    }

    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "lateness (us): min {:.1}  avg {:.1}  p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        us(lateness.min()),
        lateness.mean() / 1000.0,
        us(lateness.value_at_quantile(0.5)),
        us(lateness.value_at_quantile(0.99)),
        us(lateness.value_at_quantile(0.999)),
        us(lateness.max())
    );
    println!("cycles {}  missed {missed}", lateness.len());
    Ok(())
}
