//! The latency meter: how late a periodic task wakes against its absolute deadline on the evl
//! runtime, and with `--compare` side by side with a raw real-time loop and tokio.
//!
//! ```text
//! cargo run --release --example latency -- [--period-us 1000] [--duration-s 10 | --count N]
//!     [--priority 80] [--cpu N] [--threshold-us T] [--compare [--block 1000]]
//!     [--csv FILE] [--svg FILE] [--quiet]
//! ```
//! One mode measures `evl::time::interval_at` with `MissedTicks::Skip` on the main executor of
//! an `evl::Runtime` at the chosen priority and CPU: each tick's lateness is the clock read
//! in the task when `tick()` returns, minus `Tick::deadline` — when the control code runs, as
//! the raw loop reads the clock after its sleep and tokio's side after its tick. (`Tick::now`
//! is the reactor's read right after the wait, before the executor polls the task: it would
//! leave the runtime's dispatch out of the figure.)
//!
//! `--compare` runs three sides on one thread attached at that priority and CPU, in blocks of
//! `--block` periods, rotating the order every round (raw evl tokio, evl tokio raw, tokio raw
//! evl, ...) so that the machine's noise lands on all three alike:
//! 1. **raw**: absolute `clock_nanosleep` (`evl::core::Clock::Monotonic.sleep_until`), the
//!    clock read right after: the physical limit of the thread;
//! 2. **evl**: `evl::time::interval_at` + Skip on an `evl::Executor` (what a `Runtime` main
//!    executor is: the same attach, then `block_on`);
//! 3. **tokio**: a current-thread tokio runtime, `tokio::time::interval_at` with
//!    `MissedTickBehavior::Skip`, the clock read right after `tick()`.
//!
//! Every side starts a fresh grid one period after its block begins. The report counts what
//! the house rules promise: heap allocations inside the loops, system calls per wakeup (see
//! `syscalls.rs`) and, on EVL, the core's in-band stage switches.
//!
//! Files: `main.rs` (flags, placement, the measured loops), `side.rs` (what a loop records),
//! `report.rs` (table, text histogram, CSV, SVG), `syscalls.rs` (system-call counting).

mod report;
mod side;
mod syscalls;

use evl::core::thread::{SchedPolicy, Thread, ThreadConfig};
use evl::core::{Clock, ErrorKind};
use evl::time::{interval_at, Instant, MissedTicks};
use evl::ExecutorConfig;
use side::{Counters, Progress, Side};
use std::path::PathBuf;
use std::time::Duration;

/// Counts allocations per thread: the report shows the measured loops make none.
#[global_allocator]
static ALLOC: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const USAGE: &str = "\
usage: latency [options]

Measures how late a periodic task wakes against its absolute deadline on the evl runtime
(evl::time::interval_at, MissedTicks::Skip) and prints min/avg/p50/p99/p99.9/max, deadline
misses and a log-scale histogram.

  --period-us N      period in microseconds (default 1000 = 1 kHz; 100 = 10 kHz)
  --duration-s S     run for S seconds (default 10; with --compare: all sides together)
  --count N          measure N periods instead (with --compare: N per side)
  --threshold-us T   a wakeup later than T counts as a deadline miss (default: half the period)
  --compare          raw clock_nanosleep loop, evl and tokio side by side, interleaved in blocks
  --block N          periods per block in --compare (default 1000)
  --priority N       SCHED_FIFO priority 1-99, 0 for SCHED_OTHER (default 80; without the
                     privilege the meter says so and runs at SCHED_OTHER)
  --cpu N            pin the measuring thread to CPU N
  --csv FILE         write the histogram as CSV
  --svg FILE         write the histogram as an SVG plot
  --quiet            no progress line, no text histogram
  -h, --help         this text";

struct Args {
    period: Duration,
    duration: Option<Duration>,
    count: Option<u64>,
    threshold: Option<Duration>,
    compare: bool,
    block: u64,
    priority: Option<u8>,
    cpu: Option<usize>,
    csv: Option<PathBuf>,
    svg: Option<PathBuf>,
    quiet: bool,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut a = Args {
        period: Duration::from_millis(1),
        duration: None,
        count: None,
        threshold: None,
        compare: false,
        block: 1000,
        priority: None,
        cpu: None,
        csv: None,
        svg: None,
        quiet: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("period-us") => a.period = Duration::from_micros(p.value()?.parse()?),
            Long("duration-s") => {
                let s: f64 = p.value()?.parse()?;
                if !(s > 0.0 && s <= 7.0 * 86_400.0) {
                    return Err("--duration-s must be between 0 and 604800".into());
                }
                a.duration = Some(Duration::from_secs_f64(s));
            }
            Long("count") => a.count = Some(p.value()?.parse()?),
            Long("threshold-us") => {
                let t: f64 = p.value()?.parse()?;
                if !(t > 0.0 && t < 1e9) {
                    return Err("--threshold-us must be positive".into());
                }
                a.threshold = Some(Duration::from_secs_f64(t / 1e6));
            }
            Long("compare") => a.compare = true,
            Long("block") => a.block = p.value()?.parse()?,
            Long("priority") => a.priority = Some(p.value()?.parse()?),
            Long("cpu") => a.cpu = Some(p.value()?.parse()?),
            Long("csv") => a.csv = Some(p.value()?.into()),
            Long("svg") => a.svg = Some(p.value()?.into()),
            Long("quiet") => a.quiet = true,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if !(10..=10_000_000).contains(&a.period.as_micros()) {
        return Err("--period-us must be between 10 and 10000000".into());
    }
    if a.duration.is_some() && a.count.is_some() {
        return Err("give --duration-s or --count, not both".into());
    }
    if a.duration.is_some_and(|d| d < a.period) || a.count == Some(0) || a.block == 0 {
        return Err("--duration-s, --count and --block must cover at least one period".into());
    }
    if a.priority.is_some_and(|p| p > 99) {
        return Err("--priority must be between 0 and 99".into());
    }
    Ok(a)
}

/// Where the measuring thread runs, after checking what this process may do.
struct Placement {
    policy: SchedPolicy,
    cpu: Option<usize>,
    lock_memory: bool,
}

impl Placement {
    /// `--priority` exactly (an error if refused); without it, SCHED_FIFO 80 and memory
    /// locked where permitted, with a note on stderr for each fallback.
    fn probe(args: &Args) -> evl::Result<Placement> {
        let fifo = |p| {
            if p == 0 {
                SchedPolicy::Other
            } else {
                SchedPolicy::Fifo(p)
            }
        };
        let prio = args.priority.unwrap_or(80);
        let mut pl = Placement {
            policy: fifo(prio),
            cpu: args.cpu,
            lock_memory: prio > 0,
        };
        loop {
            let Err(e) = pl.attach("probe") else {
                return Ok(pl);
            };
            if e.kind() != ErrorKind::PermissionDenied || args.priority.is_some() {
                return Err(e);
            }
            if pl.lock_memory && e.hint().contains("locking memory") {
                eprintln!("note: {e}; running with memory unlocked");
                pl.lock_memory = false;
            } else if pl.policy != SchedPolicy::Other {
                eprintln!("note: {e}; running at SCHED_OTHER instead, which measures the machine's load, not the real-time path");
                pl.policy = SchedPolicy::Other;
            } else {
                return Err(e);
            }
        }
    }

    fn attach(&self, name: &str) -> evl::Result<Thread> {
        let mut cfg = ThreadConfig::new(name)
            .policy(self.policy)
            .lock_memory(self.lock_memory)
            .warn_stage_switches(true);
        if let Some(cpu) = self.cpu {
            cfg = cfg.cpus(evl::core::CpuSet::single(cpu)?);
        }
        Thread::attach(cfg)
    }

    fn describe(&self) -> String {
        let cpu = self.cpu.map_or("any CPU".into(), |c| format!("CPU {c}"));
        let mem = if self.lock_memory {
            "memory locked"
        } else {
            "memory not locked"
        };
        format!("{:?}, {cpu}, {mem}", self.policy)
    }
}

/// What a run measured.
struct Summary {
    backend: evl::Backend,
    placement: String,
    period: Duration,
    threshold: Duration,
    /// `[evl]`, or `[raw, evl, tokio]` with `--compare`.
    sides: Vec<Side>,
    /// `--compare`: rounds, periods per block.
    rounds: Option<(u64, u64)>,
    interrupted: bool,
    /// Why system calls per wakeup could not be counted, if they could not.
    syscalls_not_counted: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("latency: {e}\n\n{USAGE}");
        std::process::exit(2)
    });
    // Fail before measuring, not after, when an output file cannot be written.
    for path in [&args.csv, &args.svg].into_iter().flatten() {
        std::fs::write(path, "").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let placement = Placement::probe(&args)?;
    let threshold = args.threshold.unwrap_or(args.period / 2);
    let periods = |d: Duration| (d.as_nanos() / args.period.as_nanos()).max(1) as u64;
    let mut s = Summary {
        backend: evl::core::backend::current()?,
        placement: placement.describe(),
        period: args.period,
        threshold,
        sides: Vec::new(),
        rounds: None,
        interrupted: false,
        syscalls_not_counted: None,
    };
    if args.compare {
        let per_side = args.count.unwrap_or_else(|| {
            periods(args.duration.unwrap_or(Duration::from_secs(10))).div_ceil(3)
        });
        run_compare(&mut s, &args, &placement, per_side)?;
    } else {
        let total = args
            .count
            .unwrap_or_else(|| periods(args.duration.unwrap_or(Duration::from_secs(10))));
        run_single(&mut s, &args, &placement, total)?;
    }

    report::print(&s, args.quiet);
    if let Some(path) = &args.csv {
        std::fs::write(path, report::csv(&s.sides))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "wakeup lateness, period {} us, {} ({})",
            args.period.as_micros(),
            s.placement,
            s.backend
        );
        std::fs::write(path, report::svg(&title, &s.sides)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The evl side alone: `total` ticks (or until `--duration-s`) on a Runtime's main executor.
fn run_single(s: &mut Summary, args: &Args, placement: &Placement, total: u64) -> evl::Result<()> {
    let mut cfg = ExecutorConfig::new("latency")
        .policy(placement.policy)
        .lock_memory(placement.lock_memory)
        .warn_stage_switches(true);
    if let Some(cpu) = placement.cpu {
        cfg = cfg.cpu(cpu);
    }
    let rt = evl::Runtime::builder().main(cfg).build()?;
    let mut side = Side::new("evl", s.threshold);
    let progress = Progress::start("latency", total, !args.quiet);
    let (period, duration) = (args.period, args.duration);
    let counters = &progress.counters;
    let side_ref = &mut side;
    let why_not = rt.block_on(async move {
        let why_not = syscalls::prepare();
        // Everything is allocated; the loop below only does arithmetic and stores.
        let start = Instant::now() + period;
        let end = duration.map(|d| start + d);
        let mut tick = interval_at(start, period)?.with_policy(MissedTicks::Skip);
        for _ in 0..total {
            let t = tick.tick().await?;
            if end.is_some_and(|e| t.deadline >= e) || evl::shutdown::is_requested() {
                break;
            }
            // Read in the task, after dispatch (see the module docs), not `t.lateness`.
            let late = Instant::now().saturating_duration_since(t.deadline);
            side_ref.record(late.as_nanos() as u64, t.missed, counters);
        }
        side_ref.end_block();
        Ok::<_, evl::Error>(why_not)
    })??;
    drop(progress);
    s.syscalls_not_counted = why_not;
    s.interrupted = evl::shutdown::is_requested();
    s.sides = vec![side];
    Ok(())
}

/// The raw side: one block of `n` absolute sleeps on a fresh grid, Skip policy.
fn raw_block(n: u64, period: Duration, side: &mut Side, counters: &Counters) -> evl::Result<()> {
    let p = period.as_nanos() as u64;
    let mut deadline = Clock::Monotonic.now().saturating_add(period);
    for _ in 0..n {
        match Clock::Monotonic.sleep_until(deadline) {
            Err(e) if e.kind() == ErrorKind::Interrupted && evl::shutdown::is_requested() => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => r?,
        }
        let late = Clock::Monotonic
            .now()
            .saturating_duration_since(deadline)
            .as_nanos() as u64;
        side.record(late, late / p, counters);
        deadline = deadline.saturating_add(Duration::from_nanos(p * (late / p + 1)));
    }
    side.end_block();
    Ok(())
}

/// The evl side: one block of `n` ticks of a fresh `Interval`.
async fn evl_block(
    n: u64,
    period: Duration,
    side: &mut Side,
    counters: &Counters,
) -> evl::Result<()> {
    let mut tick = interval_at(Instant::now() + period, period)?.with_policy(MissedTicks::Skip);
    for _ in 0..n {
        let t = tick.tick().await?;
        // Read in the task, after dispatch (see the module docs), not `t.lateness`.
        let late = Instant::now().saturating_duration_since(t.deadline);
        side.record(late.as_nanos() as u64, t.missed, counters);
    }
    side.end_block();
    Ok(())
}

/// The tokio side: one block of `n` ticks of a fresh `tokio::time::Interval`.
async fn tokio_block(n: u64, period: Duration, side: &mut Side, counters: &Counters) {
    use tokio::time::{interval_at, Instant, MissedTickBehavior};
    let p = period.as_nanos() as u64;
    let mut tick = interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for _ in 0..n {
        let deadline = tick.tick().await;
        let late = Instant::now()
            .saturating_duration_since(deadline)
            .as_nanos() as u64;
        side.record(late, late / p, counters);
    }
    side.end_block();
}

/// Raw, evl and tokio on one attached thread, `per_side` periods each, interleaved in blocks.
fn run_compare(
    s: &mut Summary,
    args: &Args,
    placement: &Placement,
    per_side: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let rounds = per_side.div_ceil(args.block);
    let mut sides = [
        Side::new("raw", s.threshold),
        Side::new("evl", s.threshold),
        Side::new("tokio", s.threshold),
    ];
    let progress = Progress::start("latency --compare", per_side * 3, !args.quiet);
    evl::shutdown::install_signal_handlers()?;
    // One thread for all three sides, attached once: same priority, same CPU.
    let thread = placement.attach("latency")?;
    s.syscalls_not_counted = syscalls::prepare();
    let ex = evl::Executor::builder().name("latency").build()?;
    let tok = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut left = per_side;
    for r in 0..rounds {
        let n = left.min(args.block);
        left -= n;
        for k in 0..3 {
            let which = ((r + k) % 3) as usize;
            let (side, c) = (&mut sides[which], &progress.counters);
            match which {
                0 => raw_block(n, args.period, side, c)?,
                1 => ex.block_on(evl_block(n, args.period, side, c))?,
                _ => tok.block_on(tokio_block(n, args.period, side, c)),
            }
        }
        if evl::shutdown::is_requested() {
            s.interrupted = true;
            break;
        }
    }
    drop((tok, ex, thread, progress));
    s.rounds = Some((rounds, args.block));
    s.sides = sides.into();
    Ok(())
}
