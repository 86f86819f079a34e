//! Timer tasks at mixed periods on one executor, one task stalling the executor now and then:
//! the three missed-tick policies side by side.
//!
//! ```text
//! cargo run --release --example timers -- [--duration-s 2] [--periods-ms 1,2,5,10,20,50]
//!     [--stall-ms 15] [--stall-every-ms 250]
//! ```
//! For every period, three tasks tick on the same grid, one per [`MissedTicks`] policy. A
//! staller task busy-waits `--stall-ms` every `--stall-every-ms`, which blocks the executor
//! thread (on purpose: it stands for a task that computes too long). What to expect, per
//! period with `grid` deadlines in the run:
//! - **Burst** delivers every tick, the late ones back to back: `ticks == grid`; its `missed`
//!   sums what each tick still had to catch up (a 15 ms stall at 1 ms adds 15 + 14 + ... + 1).
//! - **Delay** restarts one period after a late tick: fewer ticks, the grid shifts.
//! - **Skip** stays on the grid and drops what it overran: `ticks + missed >= grid` (the last
//!   late tick may count grid points past the end).
//!
//! The tasks live in static pools (`#[evl::task(pool_size = N)]`): no heap, no executor slot.

use evl::time::{interval_at, Instant, MissedTicks};
use std::time::Duration;

const USAGE: &str = "\
usage: timers [--duration-s S (default 2)] [--periods-ms LIST (default 1,2,5,10,20,50)]
              [--stall-ms N (default 15; 0: no stall)] [--stall-every-ms N (default 250)]";

/// At most this many periods: the ticker pool holds three tasks per period.
const MAX_PERIODS: usize = 16;
const POLICIES: [MissedTicks; 3] = [MissedTicks::Burst, MissedTicks::Delay, MissedTicks::Skip];

struct Args {
    duration: Duration,
    periods: Vec<Duration>,
    stall: Duration,
    stall_every: Duration,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        duration: Duration::from_secs(2),
        periods: [1, 2, 5, 10, 20, 50].map(Duration::from_millis).to_vec(),
        stall: Duration::from_millis(15),
        stall_every: Duration::from_millis(250),
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("duration-s") => {
                let s: f64 = p.value()?.parse()?;
                if !(s > 0.0 && s <= 86_400.0) {
                    return Err("--duration-s must be between 0 and 86400".into());
                }
                args.duration = Duration::from_secs_f64(s);
            }
            Long("periods-ms") => {
                let list = p.value()?.string()?;
                args.periods.clear();
                for item in list.split(',') {
                    let ms: f64 = item.trim().parse().map_err(|e| format!("{item}: {e}"))?;
                    if !(0.01..=10_000.0).contains(&ms) {
                        return Err(format!("--periods-ms: {ms} is not in 0.01..=10000").into());
                    }
                    args.periods.push(Duration::from_secs_f64(ms / 1e3));
                }
                if args.periods.len() > MAX_PERIODS {
                    return Err(format!("--periods-ms: at most {MAX_PERIODS} periods").into());
                }
            }
            Long("stall-ms") => args.stall = Duration::from_millis(p.value()?.parse()?),
            Long("stall-every-ms") => args.stall_every = Duration::from_millis(p.value()?.parse()?),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if !args.stall.is_zero() && args.stall >= args.stall_every {
        return Err("--stall-ms must be shorter than --stall-every-ms".into());
    }
    Ok(args)
}

/// What one ticker saw.
struct Row {
    ticks: u64,
    missed: u64,
    max_late: Duration,
}

/// Ticks on `period`'s grid from `start` with `policy` until the first deadline past `end`.
#[evl::task(pool_size = 3 * MAX_PERIODS)]
async fn ticker(
    period: Duration,
    policy: MissedTicks,
    start: Instant,
    end: Instant,
) -> evl::Result<Row> {
    let mut row = Row {
        ticks: 0,
        missed: 0,
        max_late: Duration::ZERO,
    };
    let mut iv = interval_at(start, period)?.with_policy(policy);
    loop {
        let t = iv.tick().await?;
        if t.deadline >= end {
            return Ok(row);
        }
        row.ticks += 1;
        row.missed += t.missed;
        row.max_late = row.max_late.max(t.lateness);
    }
}

/// Blocks the executor thread for `stall` every `every`; returns how many times it did.
#[evl::task]
async fn staller(
    every: Duration,
    stall: Duration,
    start: Instant,
    end: Instant,
) -> evl::Result<u64> {
    let mut stalls = 0;
    let mut iv = interval_at(start + every, every)?.with_policy(MissedTicks::Skip);
    while iv.tick().await?.deadline < end {
        let until = Instant::now() + stall;
        while Instant::now() < until {
            std::hint::spin_loop(); // computing too long, on purpose
        }
        stalls += 1;
    }
    Ok(stalls)
}

// SCHED_OTHER: this example shows the policies' semantics, not latency.
#[evl::main(priority = 0, lock_memory = false)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("timers: {e}\n{USAGE}");
        std::process::exit(2)
    });
    // One start for all: the grids line up (and coincide at 10 ms, 50 ms, ...).
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + args.duration;
    let mut tickers = Vec::new();
    for &period in &args.periods {
        for policy in POLICIES {
            tickers.push(ticker(period, policy, start, end).spawn()?);
        }
    }
    let stalls = if args.stall.is_zero() {
        0
    } else {
        staller(args.stall_every, args.stall, start, end)
            .spawn()?
            .await??
    };

    println!(
        "timers: {} tickers + 1 staller on one executor (backend {}), {:.1} s; the staller blocks it {} ms every {} ms: stalls {stalls}",
        tickers.len(),
        evl::core::backend::current()?,
        args.duration.as_secs_f64(),
        args.stall.as_millis(),
        args.stall_every.as_millis(),
    );
    println!(
        "{:>9} {:>6} | {:^26} | {:^26} | {:^26}",
        "", "", "Burst", "Delay", "Skip"
    );
    let head = format!("{:>6} {:>7} {:>11}", "ticks", "missed", "max late");
    println!("{:>9} {:>6} | {head} | {head} | {head}", "period", "grid");
    let mut tickers = tickers.into_iter();
    for &period in &args.periods {
        let grid = (end - start).as_nanos().div_ceil(period.as_nanos());
        let mut line = format!("{:>6} ms {grid:>6}", period.as_secs_f64() * 1e3);
        for _ in POLICIES {
            let r = tickers.next().expect("three tickers per period").await??;
            let late_ms = r.max_late.as_secs_f64() * 1e3;
            line += &format!(" | {:>6} {:>7} {late_ms:>8.2} ms", r.ticks, r.missed);
        }
        println!("{line}");
    }
    println!("grid: deadlines before the end; missed: sum of Tick::missed; max late: largest lateness of a tick.");
    println!("Burst: ticks == grid, caught up back to back. Delay: fewer ticks, the grid shifts by each stall.");
    println!(
        "Skip: ticks + missed == grid, overrun ticks dropped (plus any counted past the end)."
    );
    Ok(())
}
