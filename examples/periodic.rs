//! A periodic loop on the raw element layer: a real-time thread wakes on a core timer at a
//! fixed period and measures how late each wakeup is against its absolute deadline.
//!
//! ```text
//! cargo run --release --example periodic -- [--period-us 1000] [--cycles 2000] [--priority 80] [--cpu N]
//! ```
//! Runs on the auto-detected backend (EVL when /dev/evl/control exists, else host; force
//! one with EVL_BACKEND=host|evl). Without the privilege for SCHED_FIFO it says so and runs
//! at SCHED_OTHER, which measures the machine, not the core.

use evl::core::thread::{CpuSet, SchedPolicy, Thread, ThreadConfig};
use evl::core::timer::{Start, Timer};
use evl::core::{backend, Clock, ErrorKind};
use std::process::ExitCode;
use std::time::Duration;

struct Args {
    period: Duration,
    cycles: usize,
    priority: u8,
    cpu: Option<usize>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        period: Duration::from_micros(1000),
        cycles: 2000,
        priority: 80,
        cpu: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--period-us" => {
                a.period =
                    Duration::from_micros(val()?.parse().map_err(|e| format!("--period-us: {e}"))?)
            }
            "--cycles" => a.cycles = val()?.parse().map_err(|e| format!("--cycles: {e}"))?,
            "--priority" => a.priority = val()?.parse().map_err(|e| format!("--priority: {e}"))?,
            "--cpu" => a.cpu = Some(val()?.parse().map_err(|e| format!("--cpu: {e}"))?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.period.is_zero() || a.cycles == 0 {
        return Err("period and cycles must be positive".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("usage: periodic [--period-us N] [--cycles N] [--priority 1-99] [--cpu N]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), evl::core::Error> {
    let backend = backend::current()?;
    let mut cfg = ThreadConfig::new("periodic").policy(SchedPolicy::Fifo(args.priority));
    if let Some(cpu) = args.cpu {
        cfg = cfg.cpus(CpuSet::single(cpu)?);
    }
    let thread = match Thread::attach(cfg) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            eprintln!("note: {e}\nnote: running at SCHED_OTHER instead");
            Thread::attach(ThreadConfig {
                policy: SchedPolicy::Other,
                lock_memory: false,
                ..cfg
            })?
        }
        Err(e) => return Err(e),
    };
    println!(
        "backend {backend}, policy {:?}, period {} us, {} cycles",
        thread.policy()?,
        args.period.as_micros(),
        args.cycles
    );

    // Everything the loop touches is allocated before it starts.
    let mut lateness_ns: Vec<u64> = Vec::with_capacity(args.cycles);
    let timer = Timer::new(Clock::Monotonic)?;
    let first = Clock::Monotonic.now().saturating_add(args.period);
    timer.set(Start::At(first), Some(args.period))?;
    let mut deadline = first;
    let mut overruns = 0u64;
    while lateness_ns.len() < args.cycles {
        let expirations = timer.read()?;
        let now = Clock::Monotonic.now();
        // Missed periods: the wakeup for the last one is what we measure.
        overruns += expirations - 1;
        deadline = deadline.saturating_add(args.period * (expirations as u32 - 1));
        lateness_ns.push(now.saturating_duration_since(deadline).as_nanos() as u64);
        deadline = deadline.saturating_add(args.period);
    }
    drop(thread);

    lateness_ns.sort_unstable();
    let pct =
        |p: f64| lateness_ns[((lateness_ns.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    let avg = lateness_ns.iter().sum::<u64>() as f64 / lateness_ns.len() as f64 / 1000.0;
    println!(
        "lateness (us): min {:.1}  avg {:.1}  p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        pct(0.0),
        avg,
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    println!("overruns (missed periods): {overruns}");
    Ok(())
}
