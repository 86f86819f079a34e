//! `latency`: how late a periodic task wakes against its absolute deadline, on the evl
//! runtime — and, with `--compare`, side by side with the raw core and tokio in one run.
//!
//! One mode measures `evl::time::interval_at` with [`MissedTicks::Skip`] on a
//! [`Runtime`](evl::Runtime) main executor at the chosen priority and CPU; each tick's
//! lateness is `Tick::now - Tick::deadline` (the executor reads the clock when it sees the
//! timer due, before the task runs).
//!
//! `--compare` runs three sides on one thread attached at that priority and CPU, in blocks of
//! `--block` periods, rotating the order every round (raw evl tokio, evl tokio raw, tokio raw
//! evl, ...) so that the machine's noise lands on all three alike:
//! 1. **raw**: absolute `clock_nanosleep` through `evl::core::Clock::Monotonic.sleep_until`,
//!    the clock read right after — the physical limit of the thread;
//! 2. **evl**: `evl::time::interval_at` + Skip on an `evl::Executor` (what a `Runtime` main
//!    executor is: the same attach, then `Executor::block_on`);
//! 3. **tokio**: a current-thread tokio runtime, `tokio::time::interval_at` with
//!    `MissedTickBehavior::Skip`, the clock read right after `tick()`.
//!
//! Every side starts a fresh grid one period after its block begins. Every sample goes into
//! a fixed-size [`Histogram`]; the loops allocate nothing. A progress line comes from another
//! thread (see [`Progress`]).

use crate::args::{usage_err, ExampleError, Parser, Result, RtOpts};
use crate::hist::{Histogram, Stats};
use crate::report::{self, us, us_f};
use crate::rt::{allocs_text, AllocWindow, Counters, Placement, Progress};
use crate::syscalls;
use core::time::Duration;
use evl::core::stage::{self, StageSwitches};
use evl::core::{Clock, ErrorKind};
use evl::time::{interval_at, Instant, MissedTicks};
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "\
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
  --csv FILE         write the histogram as CSV
  --svg FILE         write the histogram as an SVG plot
  --quiet            no progress line, no text histogram
  -h, --help         this text
Real-time placement (default SCHED_FIFO 80):
";

/// How long to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Wall-clock time (split between the sides with `--compare`).
    Time(Duration),
    /// Periods (per side with `--compare`).
    Count(u64),
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Period.
    pub period: Duration,
    /// Run length.
    pub length: Length,
    /// Placement request.
    pub rt: RtOpts,
    /// Miss threshold (default: half the period).
    pub threshold: Duration,
    /// Compare raw / evl / tokio.
    pub compare: bool,
    /// Periods per block in compare mode.
    pub block: u64,
    /// CSV output.
    pub csv: Option<PathBuf>,
    /// SVG output.
    pub svg: Option<PathBuf>,
    /// No progress, no text histogram.
    pub quiet: bool,
}

/// Parses the command line (the arguments after the program name).
pub fn parse(args: &[String]) -> Result<Options> {
    let mut period_us: u64 = 1_000;
    let mut duration: Option<Duration> = None;
    let mut count: Option<u64> = None;
    let mut threshold_us: Option<f64> = None;
    let mut o = Options {
        period: Duration::ZERO,
        length: Length::Time(Duration::from_secs(10)),
        rt: RtOpts::fifo(80),
        threshold: Duration::ZERO,
        compare: false,
        block: 1_000,
        csv: None,
        svg: None,
        quiet: false,
    };
    let mut p = Parser::new(args);
    while let Some(flag) = p.next_flag()? {
        if o.rt.parse_flag(flag, &mut p)? {
            continue;
        }
        match flag {
            "--period-us" => period_us = p.in_range(flag, 10, 10_000_000)?,
            "--duration-s" => duration = Some(p.seconds(flag, 7.0 * 86_400.0)?),
            "--count" => count = Some(p.in_range(flag, 1, 1_000_000_000_000)?),
            "--threshold-us" => {
                let t: f64 = p.value(flag)?;
                if !t.is_finite() || t <= 0.0 {
                    return usage_err(format!("--threshold-us {t}: must be positive"));
                }
                threshold_us = Some(t);
            }
            "--compare" => o.compare = true,
            "--block" => o.block = p.in_range(flag, 1, 100_000_000)?,
            "--csv" => o.csv = Some(PathBuf::from(p.raw(flag)?)),
            "--svg" => o.svg = Some(PathBuf::from(p.raw(flag)?)),
            "--quiet" => o.quiet = true,
            other => return usage_err(format!("unknown option {other}")),
        }
    }
    o.period = Duration::from_micros(period_us);
    o.length = match (duration, count) {
        (Some(_), Some(_)) => return usage_err("give --duration-s or --count, not both"),
        (Some(d), None) => {
            if d < o.period {
                return usage_err("--duration-s is shorter than one period");
            }
            Length::Time(d)
        }
        (None, Some(n)) => Length::Count(n),
        (None, None) => o.length,
    };
    o.threshold = match threshold_us {
        Some(t) => Duration::from_secs_f64(t / 1e6),
        None => o.period / 2,
    };
    Ok(o)
}

/// One measured side.
#[derive(Debug, Clone)]
pub struct Side {
    /// `evl`, `raw` or `tokio`.
    pub name: &'static str,
    /// Lateness of every wakeup, ns.
    pub hist: Histogram,
    /// Wakeups later than the threshold.
    pub misses: u64,
    /// Periods skipped (Skip policy: a wakeup a whole period late or more skips the ticks it
    /// overran).
    pub skipped: u64,
    /// Heap allocations the measuring thread made inside the loops, from the first wakeup of
    /// each block to its last (`None` without a counting allocator).
    pub allocs: Option<u64>,
    /// Demotions of the measuring thread to the in-band stage inside the loops, as the EVL
    /// core reported them (see `evl::core::stage`; zero on the host backend, which has no
    /// stages, and for the tokio side, whose thread is not attached).
    pub stage_switches: StageSwitches,
    /// System calls of the measuring thread per wakeup inside the loops (see
    /// [`crate::syscalls`]), `None` where they cannot be counted.
    pub syscalls_per_wakeup: Option<f64>,
    syscalls: syscalls::Window,
    block_start: Option<StageSwitches>,
    window: AllocWindow,
    threshold_ns: u64,
}

impl Side {
    fn new(name: &'static str, threshold: Duration) -> Side {
        Side {
            name,
            hist: Histogram::new(),
            misses: 0,
            skipped: 0,
            allocs: None,
            stage_switches: StageSwitches::default(),
            syscalls_per_wakeup: None,
            syscalls: syscalls::Window::default(),
            block_start: None,
            window: AllocWindow::default(),
            threshold_ns: threshold.as_nanos() as u64,
        }
    }

    #[inline]
    fn record(&mut self, late_ns: u64, skipped: u64, counters: &Counters) {
        let miss = late_ns > self.threshold_ns;
        self.hist.record(late_ns);
        self.misses += miss as u64;
        self.skipped += skipped;
        counters.sample(late_ns, miss);
        // Counts the wakeup, opening the system-call window at the first sample of a block
        // (one reading); before the allocation window, which must not see the reading.
        self.syscalls.wakeup();
        // Opens the allocation window at the first sample of a block (a no-op after).
        self.window.begin();
        if self.block_start.is_none() {
            // Thread-local reads: no system call.
            self.block_start = Some(stage::thread_switches());
        }
    }

    /// Closes the allocation and stage-switch windows at the end of a block.
    fn end_block(&mut self) {
        self.window.end();
        self.allocs = self.window.total();
        self.syscalls.end();
        self.syscalls_per_wakeup = self.syscalls.per_wakeup();
        if let Some(start) = self.block_start.take() {
            let d = stage::thread_switches().since(&start);
            for (t, v) in self.stage_switches.by_cause.iter_mut().zip(d.by_cause) {
                *t += v;
            }
        }
    }

    /// The side's statistics.
    pub fn stats(&self) -> Stats {
        self.hist.stats()
    }
}

/// Ratios of `--compare` (each side's value over raw's), and how they compare to the target
/// "evl/raw within 1.05 at p50 and p99, min within +2 µs of raw".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// evl p50 / raw p50.
    pub evl_raw_p50: f64,
    /// evl p99 / raw p99.
    pub evl_raw_p99: f64,
    /// tokio p50 / raw p50.
    pub tokio_raw_p50: f64,
    /// tokio p99 / raw p99.
    pub tokio_raw_p99: f64,
    /// min(evl) - min(raw), ns.
    pub min_diff_ns: i64,
    /// Periods per block.
    pub block: u64,
    /// Rounds (one block of each side per round).
    pub rounds: u64,
}

impl Comparison {
    /// The target ratio at p50 and p99.
    pub const TARGET_RATIO: f64 = 1.05;
    /// The target distance of the minima, ns.
    pub const TARGET_MIN_NS: i64 = 2_000;

    /// Whether evl/raw at p50 is within the target.
    pub fn p50_met(&self) -> bool {
        self.evl_raw_p50 <= Self::TARGET_RATIO
    }
    /// Whether evl/raw at p99 is within the target.
    pub fn p99_met(&self) -> bool {
        self.evl_raw_p99 <= Self::TARGET_RATIO
    }
    /// Whether min(evl) is within 2 µs of min(raw).
    pub fn min_met(&self) -> bool {
        self.min_diff_ns <= Self::TARGET_MIN_NS
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The backend that ran.
    pub backend: evl::Backend,
    /// Where it ran, e.g. `SCHED_FIFO 80, CPU 1, memory locked`.
    pub placement: String,
    /// The period.
    pub period: Duration,
    /// The miss threshold.
    pub threshold: Duration,
    /// `[evl]`, or `[raw, evl, tokio]` with `--compare`.
    pub sides: Vec<Side>,
    /// With `--compare`.
    pub comparison: Option<Comparison>,
    /// Stopped early by SIGINT/SIGTERM.
    pub interrupted: bool,
    /// Why system calls per wakeup could not be counted, if they could not.
    pub syscalls_not_counted: Option<String>,
}

impl Summary {
    /// The side called `name`.
    pub fn side(&self, name: &str) -> Option<&Side> {
        self.sides.iter().find(|s| s.name == name)
    }
}

/// Runs the meter with the command line `args`; prints the report and returns it.
pub fn run(args: &[String]) -> Result<Summary> {
    let o = parse(args)?;
    // Fail before measuring, not after, when an output file cannot be written.
    for path in [&o.csv, &o.svg].into_iter().flatten() {
        report::write_file(path, "")?;
    }
    let backend = evl::core::backend::current()?;
    let placement = Placement::probe(&o.rt)?;
    let (sides, comparison, interrupted, syscalls_not_counted) = if o.compare {
        run_compare(&o, &placement)?
    } else {
        let (side, interrupted, why) = run_single(&o, &placement)?;
        (vec![side], None, interrupted, why)
    };
    let s = Summary {
        backend,
        placement: placement.describe(),
        period: o.period,
        threshold: o.threshold,
        sides,
        comparison,
        interrupted,
        syscalls_not_counted,
    };
    print_report(&s, &o);
    write_outputs(&s, &o)?;
    Ok(s)
}

fn periods_in(d: Duration, period: Duration) -> u64 {
    (d.as_nanos() / period.as_nanos()).max(1) as u64
}

fn run_single(o: &Options, placement: &Placement) -> Result<(Side, bool, Option<String>)> {
    let total = match o.length {
        Length::Count(n) => n,
        Length::Time(d) => periods_in(d, o.period),
    };
    let mut side = Side::new("evl", o.threshold);
    let progress = Progress::start("latency", total, !o.quiet);
    let counters = progress.counters();
    let rt = evl::Runtime::builder()
        .main(placement.executor("latency"))
        .build()?;
    let period = o.period;
    let length = o.length;
    let side_ref = &mut side;
    let mut why_not = None;
    let why_ref = &mut why_not;
    let interrupted = rt.block_on(async move {
        *why_ref = syscalls::prepare();
        // Everything is allocated; the loop below only does arithmetic and stores.
        let start = Instant::now() + period;
        let end = match length {
            Length::Time(d) => Some(start + d),
            Length::Count(_) => None,
        };
        let mut iv = interval_at(start, period)?.with_policy(MissedTicks::Skip);
        let mut n = 0u64;
        while n < total {
            let t = iv.tick().await?;
            if end.is_some_and(|e| t.deadline >= e) {
                break;
            }
            side_ref.record(t.lateness.as_nanos() as u64, t.missed, &counters);
            n += 1;
            if evl::shutdown::is_requested() {
                break;
            }
        }
        side_ref.end_block();
        Ok::<bool, evl::Error>(evl::shutdown::is_requested())
    })??;
    progress.finish();
    Ok((side, interrupted, why_not))
}

/// The raw side: one block of `n` absolute sleeps on a fresh grid, Skip policy.
fn raw_block(n: u64, period: Duration, side: &mut Side, counters: &Counters) -> evl::Result<()> {
    let p = period.as_nanos() as u64;
    let mut deadline = Clock::Monotonic.now().saturating_add(period);
    for _ in 0..n {
        loop {
            match Clock::Monotonic.sleep_until(deadline) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    if evl::shutdown::is_requested() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let now = Clock::Monotonic.now();
        let late = now.saturating_duration_since(deadline).as_nanos() as u64;
        let skipped = late / p;
        side.record(late, skipped, counters);
        deadline = deadline.saturating_add(Duration::from_nanos(p * (skipped + 1)));
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
    let mut iv = interval_at(Instant::now() + period, period)?.with_policy(MissedTicks::Skip);
    for _ in 0..n {
        let t = iv.tick().await?;
        side.record(t.lateness.as_nanos() as u64, t.missed, counters);
    }
    side.end_block();
    Ok(())
}

/// The tokio side: one block of `n` ticks of a fresh `tokio::time::Interval`.
async fn tokio_block(n: u64, period: Duration, side: &mut Side, counters: &Counters) {
    use tokio::time::{interval_at, Instant, MissedTickBehavior};
    let p = period.as_nanos() as u64;
    let mut iv = interval_at(Instant::now() + period, period);
    iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for _ in 0..n {
        let deadline = iv.tick().await;
        let late = Instant::now()
            .saturating_duration_since(deadline)
            .as_nanos() as u64;
        side.record(late, late / p, counters);
    }
    side.end_block();
}

/// The sides, the comparison, whether interrupted, why system calls were not counted.
type Measured = (Vec<Side>, Option<Comparison>, bool, Option<String>);

fn run_compare(o: &Options, placement: &Placement) -> Result<Measured> {
    let per_side = match o.length {
        Length::Count(n) => n,
        Length::Time(d) => periods_in(d, o.period).div_ceil(3),
    };
    let rounds = per_side.div_ceil(o.block);
    let mut sides = [
        Side::new("raw", o.threshold),
        Side::new("evl", o.threshold),
        Side::new("tokio", o.threshold),
    ];
    let progress = Progress::start("latency --compare", per_side * 3, !o.quiet);
    let counters = progress.counters();
    // One thread for all three sides, attached once: same priority, same CPU.
    evl::shutdown::install_signal_handlers()?;
    let thread = placement.attach("latency")?;
    let why_not = syscalls::prepare();
    let ex = evl::Executor::builder().name("latency").build()?;
    let tok = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| ExampleError::Other(format!("cannot build the tokio runtime: {e}")))?;
    let mut interrupted = false;
    let mut left = per_side;
    for r in 0..rounds {
        let n = left.min(o.block);
        left -= n;
        for k in 0..3 {
            let which = ((r + k) % 3) as usize;
            let side = &mut sides[which];
            match which {
                0 => raw_block(n, o.period, side, &counters)?,
                1 => ex.block_on(evl_block(n, o.period, side, &counters))?,
                _ => tok.block_on(tokio_block(n, o.period, side, &counters)),
            }
        }
        if evl::shutdown::is_requested() {
            interrupted = true;
            break;
        }
    }
    drop(tok);
    drop(ex);
    drop(thread);
    progress.finish();
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::INFINITY
        } else {
            a as f64 / b as f64
        }
    };
    let [raw, evl, tokio] = [sides[0].stats(), sides[1].stats(), sides[2].stats()];
    let cmp = Comparison {
        evl_raw_p50: ratio(evl.p50, raw.p50),
        evl_raw_p99: ratio(evl.p99, raw.p99),
        tokio_raw_p50: ratio(tokio.p50, raw.p50),
        tokio_raw_p99: ratio(tokio.p99, raw.p99),
        min_diff_ns: evl.min as i64 - raw.min as i64,
        block: o.block,
        rounds,
    };
    Ok((sides.to_vec(), Some(cmp), interrupted, why_not))
}

fn print_report(s: &Summary, o: &Options) {
    println!(
        "latency: backend {}, {}, period {} us ({:.0} Hz), miss threshold {} us",
        s.backend,
        s.placement,
        us(s.period.as_nanos() as u64),
        1e9 / s.period.as_nanos() as f64,
        us(s.threshold.as_nanos() as u64)
    );
    if let Some(c) = &s.comparison {
        println!(
            "compare: {} rounds of one {}-period block per side, order rotating (raw evl tokio, evl tokio raw, tokio raw evl), one thread",
            c.rounds, c.block
        );
    }
    if s.interrupted {
        println!("(interrupted: partial results)");
    }
    println!(
        "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "side", "samples", "min", "avg", "p50", "p99", "p99.9", "max", "misses", "skipped"
    );
    for side in &s.sides {
        let st = side.stats();
        println!(
            "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
            side.name,
            st.count,
            us(st.min),
            us_f(st.avg),
            us(st.p50),
            us(st.p99),
            us(st.p999),
            us(st.max),
            side.misses,
            side.skipped
        );
    }
    println!("(lateness in us; misses: wakeups later than the threshold; skipped: periods lost to late wakeups)");
    let allocs: Vec<String> = s
        .sides
        .iter()
        .map(|x| format!("{} {}", x.name, allocs_text(x.allocs)))
        .collect();
    println!(
        "heap allocations inside the measured loops: {}",
        allocs.join(", ")
    );
    match &s.syscalls_not_counted {
        Some(why) => println!("system calls per wakeup: not counted ({why})"),
        None => {
            let per: Vec<String> = s
                .sides
                .iter()
                .map(|x| match x.syscalls_per_wakeup {
                    Some(v) => format!("{} {v:.2}", x.name),
                    None => format!("{} -", x.name),
                })
                .collect();
            let how = if s.backend == evl::Backend::Evl {
                "out-of-band calls, counted by the core"
            } else {
                "raw_syscalls:sys_enter of the measuring thread"
            };
            println!("system calls per wakeup ({how}): {}", per.join(", "));
        }
    }
    if evl::core::backend::current().ok() == Some(evl::Backend::Evl) {
        let sw: Vec<String> = s
            .sides
            .iter()
            .filter(|x| x.name != "tokio")
            .map(|x| format!("{} {}", x.name, x.stage_switches))
            .collect();
        println!(
            "in-band stage switches inside the measured loops (reported by the core): {}",
            sw.join(", ")
        );
    }
    if !o.quiet {
        let series: Vec<(&str, &Histogram)> = s.sides.iter().map(|x| (x.name, &x.hist)).collect();
        println!("histogram of lateness:");
        print!("{}", report::text_histogram(&series));
    }
    if let Some(c) = &s.comparison {
        println!(
            "ratios at p50: evl/raw {:.3}  tokio/raw {:.3};  at p99: evl/raw {:.3}  tokio/raw {:.3}",
            c.evl_raw_p50, c.tokio_raw_p50, c.evl_raw_p99, c.tokio_raw_p99
        );
        println!(
            "min(evl) - min(raw) = {:+.1} us",
            c.min_diff_ns as f64 / 1e3
        );
        let verdict = |met: bool| if met { "met" } else { "not met" };
        println!(
            "target \"evl/raw within {:.2} at p50 and p99, min within +{} us of raw\": p50 {} ({:.3}), p99 {} ({:.3}), min {} ({:+.1} us) [a report from one run on this machine, not a pass/fail]",
            Comparison::TARGET_RATIO,
            Comparison::TARGET_MIN_NS / 1_000,
            verdict(c.p50_met()),
            c.evl_raw_p50,
            verdict(c.p99_met()),
            c.evl_raw_p99,
            verdict(c.min_met()),
            c.min_diff_ns as f64 / 1e3
        );
    }
}

fn write_outputs(s: &Summary, o: &Options) -> Result<()> {
    let series: Vec<(&str, &Histogram)> = s.sides.iter().map(|x| (x.name, &x.hist)).collect();
    if let Some(path) = &o.csv {
        report::write_file(path, &report::histogram_csv(&series))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &o.svg {
        let title = format!(
            "wakeup lateness, period {} us, {} ({})",
            us(s.period.as_nanos() as u64),
            s.placement,
            s.backend
        );
        report::write_file(path, &report::histogram_svg(&title, &series))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_and_options() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.period, Duration::from_millis(1));
        assert_eq!(o.threshold, Duration::from_micros(500));
        assert_eq!(o.length, Length::Time(Duration::from_secs(10)));
        assert_eq!(o.rt.priority, 80);
        let o = parse(&v(&[
            "--period-us",
            "100",
            "--count",
            "500",
            "--threshold-us",
            "20",
            "--compare",
            "--block",
            "50",
            "--csv",
            "a.csv",
            "--svg",
            "a.svg",
            "--quiet",
            "--priority",
            "0",
        ]))
        .unwrap();
        assert_eq!(o.period, Duration::from_micros(100));
        assert_eq!(o.length, Length::Count(500));
        assert_eq!(o.threshold, Duration::from_micros(20));
        assert!(o.compare && o.quiet);
        assert_eq!(o.block, 50);
        assert_eq!(o.csv.as_deref(), Some(std::path::Path::new("a.csv")));
        assert_eq!(o.rt.priority, 0);
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for bad in [
            &["--period-us", "0"][..],
            &["--period-us", "abc"],
            &["--count", "5", "--duration-s", "1"],
            &["--duration-s", "0"],
            &["--threshold-us", "-3"],
            &["--block", "0"],
            &["--priority", "120"],
            &["--frobnicate"],
            &["--csv"],
        ] {
            match parse(&v(bad)) {
                Err(ExampleError::Usage(m)) => assert!(!m.is_empty()),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(matches!(parse(&v(&["--help"])), Err(ExampleError::Help)));
    }
}
