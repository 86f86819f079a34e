//! `timers`: many timer-driven tasks at mixed periods on one executor, one task stalling the
//! executor now and then, and the three missed-tick policies side by side.
//!
//! For every period (default 1, 2, 5, 10, 20, 50 ms) three tasks tick on the same grid, one
//! per [`MissedTicks`] policy. A staller task busy-waits `--stall-ms` every
//! `--stall-every-ms`, which blocks the executor thread (deliberately: it stands for a task
//! that computes too long). Each ticker counts its ticks, the missed ticks its ticks report
//! (`Tick::missed`) and its largest lateness, and stops at the first deadline past the end.
//!
//! What to expect, per period `p` and `n` grid points in the run:
//! - **Burst** delivers every tick, late ones back to back: `ticks == n`; `missed` sums what
//!   each tick still had to catch up (so a 15 ms stall at 1 ms adds 15 + 14 + ... + 1).
//! - **Delay** restarts one period after a late tick: `ticks < n` after a stall, the grid shifts.
//! - **Skip** stays on the grid and drops what it overran: `ticks + missed >= n` (the last
//!   late tick may count grid points past the end).

use crate::args::{usage_err, Parser, Result, RtOpts};
use crate::report::us;
use crate::rt::Placement;
use core::time::Duration;
use evl::time::{interval_at, Instant, MissedTicks};

/// Usage text.
pub fn usage() -> String {
    format!(
        "\
usage: timers [options]

Timer tasks at mixed periods share one executor; a staller task blocks it now and then;
per period, three tasks show the Burst, Delay and Skip missed-tick policies side by side.

  --duration-s S      run for S seconds (default 2)
  --periods-ms LIST   comma-separated periods in ms (default 1,2,5,10,20,50)
  --stall-ms N        how long the staller blocks the executor (default 15; 0: no stall)
  --stall-every-ms N  how often it does (default 250)
  --quiet             summary table only
  -h, --help          this text
Real-time placement (default SCHED_OTHER: this example shows semantics, not latency):
{}",
        RtOpts::USAGE
    )
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Run length.
    pub duration: Duration,
    /// The ticker periods.
    pub periods: Vec<Duration>,
    /// Stall length (zero: no staller).
    pub stall: Duration,
    /// Stall period.
    pub stall_every: Duration,
    /// Placement request.
    pub rt: RtOpts,
    /// Less output.
    pub quiet: bool,
}

/// Parses the command line.
pub fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        duration: Duration::from_secs(2),
        periods: [1, 2, 5, 10, 20, 50]
            .into_iter()
            .map(Duration::from_millis)
            .collect(),
        stall: Duration::from_millis(15),
        stall_every: Duration::from_millis(250),
        rt: RtOpts::fifo(0),
        quiet: false,
    };
    let mut p = Parser::new(args);
    while let Some(flag) = p.next_flag()? {
        if o.rt.parse_flag(flag, &mut p)? {
            continue;
        }
        match flag {
            "--duration-s" => o.duration = p.seconds(flag, 86_400.0)?,
            "--periods-ms" => {
                let list: Vec<f64> = p.list(flag)?;
                if list.is_empty() || list.len() > 16 {
                    return usage_err("--periods-ms: give 1 to 16 periods");
                }
                o.periods = Vec::with_capacity(list.len());
                for ms in list {
                    if !ms.is_finite() || !(0.01..=10_000.0).contains(&ms) {
                        return usage_err(format!(
                            "--periods-ms: {ms} is out of range (0.01 to 10000 ms)"
                        ));
                    }
                    o.periods.push(Duration::from_secs_f64(ms / 1e3));
                }
            }
            "--stall-ms" => o.stall = Duration::from_millis(p.in_range(flag, 0, 10_000)?),
            "--stall-every-ms" => {
                o.stall_every = Duration::from_millis(p.in_range(flag, 1, 3_600_000)?)
            }
            "--quiet" => o.quiet = true,
            other => return usage_err(format!("unknown option {other}")),
        }
    }
    if !o.stall.is_zero() && o.stall >= o.stall_every {
        return usage_err("--stall-ms must be shorter than --stall-every-ms");
    }
    Ok(o)
}

/// The three policies, in table order.
pub const POLICIES: [MissedTicks; 3] = [MissedTicks::Burst, MissedTicks::Delay, MissedTicks::Skip];

/// What one ticker saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Its period.
    pub period: Duration,
    /// Its policy.
    pub policy: MissedTicks,
    /// Grid points in the run (deadlines before the end, on the original grid).
    pub expected: u64,
    /// Ticks delivered before the end.
    pub ticks: u64,
    /// Sum of `Tick::missed` over those ticks.
    pub missed: u64,
    /// Ticks that came one period late or more.
    pub late_ticks: u64,
    /// Largest lateness, ns.
    pub max_late_ns: u64,
}

/// What the run saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Run length.
    pub duration: Duration,
    /// Where it ran.
    pub placement: String,
    /// Stalls the staller made.
    pub stalls: u64,
    /// The stall length.
    pub stall: Duration,
    /// One row per (period, policy), periods in the order given, policies as [`POLICIES`].
    pub rows: Vec<Row>,
}

impl Summary {
    /// The row of `period` and `policy`.
    pub fn row(&self, period: Duration, policy: MissedTicks) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.period == period && r.policy == policy)
    }
}

async fn ticker(
    period: Duration,
    policy: MissedTicks,
    start: Instant,
    end: Instant,
) -> evl::Result<Row> {
    let mut row = Row {
        period,
        policy,
        expected: (end - start).as_nanos().div_ceil(period.as_nanos()) as u64,
        ticks: 0,
        missed: 0,
        late_ticks: 0,
        max_late_ns: 0,
    };
    let mut iv = interval_at(start, period)?.with_policy(policy);
    loop {
        let t = iv.tick().await?;
        if t.deadline >= end {
            break;
        }
        row.ticks += 1;
        row.missed += t.missed;
        row.late_ticks += (t.missed > 0) as u64;
        row.max_late_ns = row.max_late_ns.max(t.lateness.as_nanos() as u64);
    }
    Ok(row)
}

/// Busy-waits `d` on the executor thread: the stall this example is about.
fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        core::hint::spin_loop();
    }
}

async fn staller(
    every: Duration,
    stall: Duration,
    start: Instant,
    end: Instant,
) -> evl::Result<u64> {
    let mut stalls = 0;
    let mut iv = interval_at(start + every, every)?.with_policy(MissedTicks::Skip);
    loop {
        let t = iv.tick().await?;
        if t.deadline >= end {
            return Ok(stalls);
        }
        spin_for(stall);
        stalls += 1;
    }
}

/// Runs the example with the command line `args`; prints the table and returns it.
pub fn run(args: &[String]) -> Result<Summary> {
    let o = parse(args)?;
    let backend = evl::core::backend::current()?;
    let placement = Placement::probe(&o.rt)?;
    let tasks = o.periods.len() * POLICIES.len() + 1;
    let rt = evl::Runtime::builder()
        .main(
            placement
                .executor("timers")
                .capacity(tasks + 4)
                .slot_size(1024),
        )
        .build()?;
    let (duration, stall, every) = (o.duration, o.stall, o.stall_every);
    let periods = o.periods.clone();
    let (rows, stalls) = rt.block_on(async move {
        // All tasks share one start, so their grids line up (and coincide at 10 ms, 50 ms...).
        let start = Instant::now() + Duration::from_millis(20);
        let end = start + duration;
        let mut handles = Vec::with_capacity(periods.len() * POLICIES.len());
        for &p in &periods {
            for policy in POLICIES {
                handles.push(evl::spawn_local(ticker(p, policy, start, end))?);
            }
        }
        let stall_task = if stall.is_zero() {
            None
        } else {
            Some(evl::spawn_local(staller(every, stall, start, end))?)
        };
        let mut rows = Vec::with_capacity(handles.len());
        for h in handles {
            rows.push(h.await??);
        }
        let stalls = match stall_task {
            Some(h) => h.await??,
            None => 0,
        };
        Ok::<_, crate::ExampleError>((rows, stalls))
    })??;
    let s = Summary {
        duration,
        placement: placement.describe(),
        stalls,
        stall,
        rows,
    };
    print_table(&s, backend, &o);
    Ok(s)
}

fn ms(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e6)
}

fn print_table(s: &Summary, backend: evl::Backend, o: &Options) {
    println!(
        "timers: {} ticker tasks + 1 staller on one executor (backend {}, {}), {:.1} s; the staller blocks the executor {} ms every {} ms ({} stalls)",
        s.rows.len(),
        backend,
        s.placement,
        s.duration.as_secs_f64(),
        s.stall.as_millis(),
        o.stall_every.as_millis(),
        s.stalls
    );
    println!(
        "{:>9} {:>6} | {:^26} | {:^26} | {:^26}",
        "", "", "Burst", "Delay", "Skip"
    );
    println!(
        "{:>9} {:>6} | {:>6} {:>7} {:>11} | {:>6} {:>7} {:>11} | {:>6} {:>7} {:>11}",
        "period",
        "grid",
        "ticks",
        "missed",
        "max late",
        "ticks",
        "missed",
        "max late",
        "ticks",
        "missed",
        "max late"
    );
    for &p in &o.periods {
        let mut line = format!(
            "{:>6} ms {:>6}",
            format!("{}", p.as_secs_f64() * 1e3),
            s.row(p, MissedTicks::Skip).map_or(0, |r| r.expected)
        );
        for policy in POLICIES {
            if let Some(r) = s.row(p, policy) {
                line.push_str(&format!(
                    " | {:>6} {:>7} {:>8} ms",
                    r.ticks,
                    r.missed,
                    ms(r.max_late_ns)
                ));
            }
        }
        println!("{line}");
    }
    if !o.quiet {
        println!("grid: deadlines before the end on the original grid; missed: sum of Tick::missed; max late in ms.");
        println!("Burst delivers every tick (ticks == grid), catching up back to back; its missed sums what each late tick still owed.");
        println!("Delay restarts one period after a late tick: fewer ticks, the grid shifts by each stall.");
        println!("Skip keeps the grid and drops overrun ticks: ticks + missed == grid (plus any counted past the end).");
        let worst = s.rows.iter().map(|r| r.max_late_ns).max().unwrap_or(0);
        println!("largest lateness of any tick: {} us", us(worst));
    }
}
