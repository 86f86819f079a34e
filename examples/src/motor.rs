//! `motor`: a cascaded PI loop — a speed loop around a current loop — controlling a simulated
//! DC motor, with a setpoint profile from a slower task and a watchdog.
//!
//! ```text
//!  supervisor executor (other thread, priority +1, any CPU)      control executor (main)
//!  ┌───────────────────────────────┐  setpoint cell (atomics)  ┌──────────────────────────────┐
//!  │ profile task, 10 Hz:          │ ────────────────────────▶ │ control task, 1 kHz (Skip):  │
//!  │  steps, ramps, load torque    │                           │  plant.advance(to Tick::now) │
//!  │ watchdog task:                │ ◀──────── Notify ──────── │  ramp generator -> w_ref     │
//!  │  trips on N missed cycles     │   (missed streak >= N)    │  speed PI  -> i_ref (±I_MAX) │
//!  │  or on a hung loop            │ ────── trip flag ───────▶ │  current PI -> V (±V_MAX)    │
//!  └───────────────────────────────┘                           └──────────────────────────────┘
//! ```
//!
//! The plant is integrated in the control task itself, from one sample instant to the next
//! (`Tick::now`), with the voltage of the previous cycle held meanwhile (a zero-order hold),
//! in sub-steps of [`SIM_STEP`]. So a late wakeup delays the next voltage exactly as it would
//! on a real drive, a missed cycle leaves the old voltage on the motor for a whole extra
//! period, and jitter shows up as tracking error. The controllers assume the nominal period.
//!
//! Plant (SI units): `L di/dt = V - R i - Ke w`, `J dw/dt = Kt i - B w - load`.
//!
//! Gains by pole-zero cancellation, from the loop rate `fs`: current loop crossover
//! `wc_i = 2 pi min(fs/10, 500 Hz)`, `Kp_i = L wc_i`, `Ki_i = R wc_i` (plus back-EMF
//! feed-forward `Ke w`); speed loop `wc_s = wc_i / 3`, `Kp_s = J wc_s / Kt`,
//! `Ki_s = Kp_s wc_s / 3` (plus acceleration feed-forward `J a / Kt` on ramps). Both
//! integrators stop integrating while their output saturates (anti-windup). At 1 kHz a
//! 150 rad/s step overshoots by about 10 % and settles within 50 ms; at 10 kHz the current
//! loop is five times faster and the speed loop follows.
//!
//! The watchdog: the control task counts consecutive missed cycles from `Tick::missed` (a
//! tick that reports `missed = m` lost `m` cycles in a row); when the streak reaches
//! `--watchdog-cycles`, it notifies the watchdog through an `evl::sync::Notify`. The watchdog
//! also trips when the loop's cycle counter stops for a whole hang window (a loop that never
//! ticks again reports nothing). A trip puts the drive in its safe state (0 V, integrators
//! reset) for `--trip-hold-ms`. `--stall-ms` makes the control task overrun on purpose.

use crate::args::{usage_err, Parser, Result, RtOpts};
use crate::hist::{Histogram, Stats};
use crate::report::{self, us};
use crate::rt::{allocs_text, AllocWindow, Placement};
use core::time::Duration;
use evl::sync::Notify;
use evl::time::{interval_at, timeout, Instant, MissedTicks};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Armature resistance \[Ω\].
pub const R: f64 = 1.2;
/// Armature inductance \[H\] (electrical time constant L/R = 1.67 ms).
pub const L: f64 = 2.0e-3;
/// Back-EMF constant \[V·s/rad\].
pub const KE: f64 = 0.05;
/// Torque constant \[N·m/A\] (equal to Ke in SI units).
pub const KT: f64 = 0.05;
/// Rotor and load inertia \[kg·m²\] (mechanical time constant J R / (Kt Ke) = 9.6 ms).
pub const J: f64 = 2.0e-5;
/// Viscous friction \[N·m·s/rad\].
pub const B: f64 = 1.0e-5;
/// Supply voltage: the drive's output saturates at ±V_MAX \[V\].
pub const V_MAX: f64 = 24.0;
/// Current limit, the speed loop's output saturation \[A\].
pub const I_MAX: f64 = 10.0;
/// Plant integration sub-step \[s\].
pub const SIM_STEP: f64 = 10e-6;
/// After a setpoint step or a safe-state exit, this long is excluded from the "settled"
/// tracking error \[s\].
pub const SETTLE_S: f64 = 0.05;

/// One segment of the setpoint profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, ms into the profile cycle (multiples of the profile task's 100 ms period).
    pub at_ms: u64,
    /// Target speed \[rad/s\].
    pub target: f32,
    /// Slew rate toward it \[rad/s²\]; 0 is a step.
    pub rate: f32,
    /// Load torque \[N·m\].
    pub load: f32,
}

/// The profile, repeated every [`PROFILE_CYCLE_MS`]: rest, a step up, a ramp through zero to
/// the other direction, a step with a load torque applied, a ramp back to rest.
pub const PROFILE: [Segment; 5] = [
    Segment {
        at_ms: 0,
        target: 0.0,
        rate: 0.0,
        load: 0.0,
    },
    Segment {
        at_ms: 100,
        target: 150.0,
        rate: 0.0,
        load: 0.0,
    },
    Segment {
        at_ms: 400,
        target: -150.0,
        rate: 1_000.0,
        load: 0.0,
    },
    Segment {
        at_ms: 800,
        target: 50.0,
        rate: 0.0,
        load: 0.02,
    },
    Segment {
        at_ms: 1_100,
        target: 0.0,
        rate: 500.0,
        load: 0.0,
    },
];
/// Length of one profile cycle \[ms\].
pub const PROFILE_CYCLE_MS: u64 = 1_400;
/// The profile task's period.
pub const PROFILE_PERIOD: Duration = Duration::from_millis(100);

/// Usage text.
pub fn usage() -> String {
    format!(
        "\
usage: motor [options]

A cascaded PI loop (speed around current) on a simulated DC motor, a 10 Hz setpoint
profile task, and a watchdog that trips on missed cycles.

  --duration-s S        run for S seconds (default 2)
  --rate-hz F           loop rate (default 1000; 100 to 20000)
  --threshold-us T      a wakeup later than T is a deadline miss (default: half the period)
  --watchdog-cycles N   consecutive missed cycles that trip the watchdog (default 3)
  --trip-hold-ms N      how long a trip keeps the drive at 0 V (default 20)
  --stall-ms N          make the control task overrun N ms ... (default 0: never)
  --stall-every-s S     ... every S seconds, first at S (default 0.5)
  --quiet               no histogram
  -h, --help            this text
Real-time placement (default SCHED_FIFO 80; the supervisor executor runs one priority above):
{}",
        RtOpts::USAGE
    )
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Run length.
    pub duration: Duration,
    /// Loop rate.
    pub rate_hz: f64,
    /// Miss threshold.
    pub threshold: Duration,
    /// Watchdog trip level.
    pub watchdog_cycles: u64,
    /// Safe-state hold.
    pub trip_hold: Duration,
    /// Injected overrun (zero: none).
    pub stall: Duration,
    /// Overrun period.
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
        rate_hz: 1_000.0,
        threshold: Duration::ZERO,
        watchdog_cycles: 3,
        trip_hold: Duration::from_millis(20),
        stall: Duration::ZERO,
        stall_every: Duration::from_millis(500),
        rt: RtOpts::fifo(80),
        quiet: false,
    };
    let mut threshold_us: Option<f64> = None;
    let mut p = Parser::new(args);
    while let Some(flag) = p.next_flag()? {
        if o.rt.parse_flag(flag, &mut p)? {
            continue;
        }
        match flag {
            "--duration-s" => o.duration = p.seconds(flag, 86_400.0)?,
            "--rate-hz" => o.rate_hz = p.in_range(flag, 100.0, 20_000.0)?,
            "--threshold-us" => threshold_us = Some(p.in_range(flag, 0.1, 1e7)?),
            "--watchdog-cycles" => o.watchdog_cycles = p.in_range(flag, 1, 1_000_000)?,
            "--trip-hold-ms" => o.trip_hold = Duration::from_millis(p.in_range(flag, 0, 60_000)?),
            "--stall-ms" => o.stall = Duration::from_millis(p.in_range(flag, 0, 10_000)?),
            "--stall-every-s" => o.stall_every = p.seconds(flag, 86_400.0)?,
            "--quiet" => o.quiet = true,
            other => return usage_err(format!("unknown option {other}")),
        }
    }
    if !o.stall.is_zero() && o.stall >= o.stall_every {
        return usage_err("--stall-ms must be shorter than --stall-every-s");
    }
    o.threshold = match threshold_us {
        Some(t) => Duration::from_secs_f64(t / 1e6),
        None => o.period() / 2,
    };
    Ok(o)
}

impl Options {
    /// The loop period.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate_hz)
    }
}

/// A PI controller with output limits and conditional integration (anti-windup).
#[derive(Debug, Clone, Copy)]
pub struct Pi {
    /// Proportional gain.
    pub kp: f64,
    /// Integral gain \[1/s\].
    pub ki: f64,
    /// Output limit (symmetric).
    pub limit: f64,
    integ: f64,
}

impl Pi {
    /// A PI with zero integral state.
    pub const fn new(kp: f64, ki: f64, limit: f64) -> Self {
        Pi {
            kp,
            ki,
            limit,
            integ: 0.0,
        }
    }

    /// The output for error `e` after `dt` seconds, plus `ff` (feed-forward) before the limit.
    pub fn update(&mut self, e: f64, dt: f64, ff: f64) -> f64 {
        let integ = self.integ + self.ki * e * dt;
        let u = self.kp * e + integ + ff;
        let out = u.clamp(-self.limit, self.limit);
        // Integrate only while not pushing further into the limit.
        if u == out || (u > self.limit && e < 0.0) || (u < -self.limit && e > 0.0) {
            self.integ = integ;
        }
        out
    }

    /// Forgets the integral.
    pub fn reset(&mut self) {
        self.integ = 0.0;
    }
}

/// The simulated motor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Motor {
    /// Armature current \[A\].
    pub i: f64,
    /// Speed \[rad/s\].
    pub w: f64,
    /// Angle \[rad\].
    pub theta: f64,
}

impl Motor {
    /// Integrates `dt` seconds at voltage `v` and load torque `load` (semi-implicit Euler in
    /// sub-steps of at most [`SIM_STEP`]).
    pub fn advance(&mut self, v: f64, load: f64, dt: f64) {
        if dt <= 0.0 {
            return;
        }
        let n = (dt / SIM_STEP).ceil().max(1.0);
        let h = dt / n;
        for _ in 0..n as u64 {
            self.i += h * (v - R * self.i - KE * self.w) / L;
            self.w += h * (KT * self.i - B * self.w - load) / J;
            self.theta += h * self.w;
        }
    }
}

/// The two loops' gains at loop rate `fs` (see the module docs).
pub fn gains(fs: f64) -> (Pi, Pi) {
    let wc_i = 2.0 * core::f64::consts::PI * (fs / 10.0).min(500.0);
    let wc_s = wc_i / 3.0;
    let kp_s = J * wc_s / KT;
    let speed = Pi::new(kp_s, kp_s * wc_s / 3.0, I_MAX);
    let current = Pi::new(L * wc_i, R * wc_i, V_MAX);
    (speed, current)
}

/// What the control task and the supervisor share: atomics and a `Notify`, no lock.
#[derive(Debug, Default)]
struct Shared {
    /// Target speed (f32 bits, high half) and slew rate (f32 bits, low half), written by the
    /// profile task in one store so the loop never sees a half-updated pair.
    setpoint: AtomicU64,
    /// Load torque (f32 bits).
    load: AtomicU32,
    profile_updates: AtomicU64,
    /// Cycles the loop has run (its heartbeat).
    cycles: AtomicU64,
    /// The loop's current missed-cycle streak and the cycle it began at.
    streak: AtomicU64,
    streak_at: AtomicU64,
    alarms: AtomicU64,
    /// Watchdog -> loop: enter the safe state.
    trip: AtomicBool,
    trips: AtomicU64,
    hang_trips: AtomicU64,
    stop: AtomicBool,
    /// Loop -> watchdog: a streak reached the trip level.
    alarm: Notify,
}

fn pack(target: f32, rate: f32) -> u64 {
    ((target.to_bits() as u64) << 32) | rate.to_bits() as u64
}

fn unpack(v: u64) -> (f32, f32) {
    (f32::from_bits((v >> 32) as u32), f32::from_bits(v as u32))
}

async fn profile_task(shared: Arc<Shared>, start: Instant) -> evl::Result<()> {
    let mut iv = interval_at(start, PROFILE_PERIOD)?.with_policy(MissedTicks::Skip);
    let mut current = usize::MAX;
    while !shared.stop.load(Relaxed) {
        let t = iv.tick().await?;
        let ms = ((t.deadline - start).as_millis() as u64) % PROFILE_CYCLE_MS;
        let seg = PROFILE.iter().rposition(|s| s.at_ms <= ms).unwrap_or(0);
        if seg != current {
            current = seg;
            let s = PROFILE[seg];
            shared.setpoint.store(pack(s.target, s.rate), Relaxed);
            shared.load.store(s.load.to_bits(), Relaxed);
            shared.profile_updates.fetch_add(1, Relaxed);
        }
    }
    Ok(())
}

async fn watchdog_task(shared: Arc<Shared>, hang_window: Duration) {
    let mut last_cycles = 0u64;
    let mut handled = 0u64;
    // The cycle count at which a hung loop was tripped: its streak, when it comes back,
    // begins at the next cycle and is the same episode.
    let mut hang_cycle = u64::MAX;
    while !shared.stop.load(Relaxed) {
        let alarmed = timeout(hang_window, shared.alarm.notified()).await.is_ok();
        if shared.stop.load(Relaxed) {
            break;
        }
        let cycles = shared.cycles.load(Relaxed);
        // Count alarms, not wakeups: the loop may have raised several before this task ran,
        // or a streak may already be over (the alarm stays counted).
        let alarms = shared.alarms.load(Relaxed);
        if alarms > handled {
            let mut new = alarms - handled;
            handled = alarms;
            if hang_cycle != u64::MAX && shared.streak_at.load(Relaxed) == hang_cycle + 1 {
                new -= 1;
                hang_cycle = u64::MAX;
            }
            if new > 0 {
                shared.trips.fetch_add(new, Relaxed);
                shared.trip.store(true, Relaxed);
            }
        } else if !alarmed && cycles == last_cycles && cycles > 0 && hang_cycle != cycles {
            // No tick for a whole window: the loop is hung.
            hang_cycle = cycles;
            shared.trips.fetch_add(1, Relaxed);
            shared.hang_trips.fetch_add(1, Relaxed);
            shared.trip.store(true, Relaxed);
        }
        last_cycles = cycles;
    }
}

/// What the run saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Loop rate.
    pub rate_hz: f64,
    /// Run length.
    pub duration: Duration,
    /// Where the loop ran.
    pub placement: String,
    /// Control cycles run (ticks).
    pub cycles: u64,
    /// Cycles lost (sum of `Tick::missed`).
    pub missed: u64,
    /// Wakeups later than the threshold.
    pub misses: u64,
    /// Wakeup lateness.
    pub lateness: Stats,
    /// Lateness histogram.
    pub hist: Histogram,
    /// RMS tracking error over all cycles \[rad/s\].
    pub rms_error: f64,
    /// Largest tracking error (steps included) \[rad/s\].
    pub max_error: f64,
    /// RMS tracking error outside the settle windows after steps and trips \[rad/s\].
    pub rms_error_settled: f64,
    /// Largest tracking error outside those windows \[rad/s\].
    pub max_error_settled: f64,
    /// Cycles counted as settled.
    pub settled_cycles: u64,
    /// Watchdog trips.
    pub watchdog_trips: u64,
    /// Of which for a hung loop.
    pub hang_trips: u64,
    /// Alarms the loop raised (streaks that reached the trip level).
    pub alarms: u64,
    /// Cycles spent in the safe state.
    pub safe_cycles: u64,
    /// Overruns injected.
    pub stalls: u64,
    /// Setpoint segments the profile task published.
    pub profile_updates: u64,
    /// Largest |current| \[A\].
    pub max_current: f64,
    /// Speed at the end \[rad/s\].
    pub final_speed: f64,
    /// Heap allocations the control loop made after its first cycle (`None` without a
    /// counting allocator).
    pub allocs: Option<u64>,
}

/// Runs the example with the command line `args`; prints the summary and returns it.
pub fn run(args: &[String]) -> Result<Summary> {
    let o = parse(args)?;
    let backend = evl::core::backend::current()?;
    let placement = Placement::probe(&o.rt)?;
    let sup = placement.with_priority(placement.priority().saturating_add(1), None);
    let rt = evl::Runtime::builder()
        .main(placement.executor("control"))
        .executor(sup.executor("supervisor"))
        .build()?;
    let shared = Arc::new(Shared::default());
    let period = o.period();
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + o.duration;
    let hang_window = (period * 20).max(Duration::from_millis(100));
    let supervisor = rt
        .spawner("supervisor")
        .expect("the supervisor executor was just configured");
    {
        let s = shared.clone();
        supervisor.spawn_with(move || profile_task(s, start))?;
        let s = shared.clone();
        supervisor.spawn_with(move || watchdog_task(s, hang_window))?;
    }
    let mut hist = Histogram::new();
    let hist_ref = &mut hist;
    let sh = shared.clone();
    let opts = o.clone();
    let acc =
        rt.block_on(async move { control_loop(&opts, &sh, start, end, hist_ref).await })??;
    let n = acc.cycles.max(1) as f64;
    let ns = acc.settled_cycles.max(1) as f64;
    let s = Summary {
        rate_hz: o.rate_hz,
        duration: o.duration,
        placement: placement.describe(),
        cycles: acc.cycles,
        missed: acc.missed,
        misses: acc.misses,
        lateness: hist.stats(),
        hist,
        rms_error: (acc.sq_error / n).sqrt(),
        max_error: acc.max_error,
        rms_error_settled: (acc.sq_error_settled / ns).sqrt(),
        max_error_settled: acc.max_error_settled,
        settled_cycles: acc.settled_cycles,
        watchdog_trips: shared.trips.load(Relaxed),
        hang_trips: shared.hang_trips.load(Relaxed),
        alarms: shared.alarms.load(Relaxed),
        safe_cycles: acc.safe_cycles,
        stalls: acc.stalls,
        profile_updates: shared.profile_updates.load(Relaxed),
        max_current: acc.max_current,
        final_speed: acc.final_speed,
        allocs: acc.allocs,
    };
    print_summary(&s, backend, &o);
    Ok(s)
}

#[derive(Debug, Default)]
struct Acc {
    cycles: u64,
    missed: u64,
    misses: u64,
    sq_error: f64,
    max_error: f64,
    sq_error_settled: f64,
    max_error_settled: f64,
    settled_cycles: u64,
    safe_cycles: u64,
    stalls: u64,
    max_current: f64,
    final_speed: f64,
    allocs: Option<u64>,
}

async fn control_loop(
    o: &Options,
    shared: &Shared,
    start: Instant,
    end: Instant,
    hist: &mut Histogram,
) -> evl::Result<Acc> {
    let period = o.period();
    let dt = period.as_secs_f64();
    let threshold_ns = o.threshold.as_nanos() as u64;
    let (mut speed_pi, mut current_pi) = gains(o.rate_hz);
    let settle_cycles = (SETTLE_S / dt).ceil() as u64;
    let hold_cycles = (o.trip_hold.as_secs_f64() / dt).ceil() as u64;
    let stall_every = (o.stall_every.as_secs_f64() / dt).round().max(1.0) as u64;
    let mut motor = Motor::default();
    let mut acc = Acc::default();
    let mut v = 0.0f64; // voltage applied since the last sample
    let mut w_ref = 0.0f64; // ramp generator output
    let mut last_target = 0.0f32;
    let mut last_sample = start;
    let mut settle_left = 0u64;
    let mut safe_left = 0u64;
    let mut streak = 0u64;
    let mut window = AllocWindow::default();
    let mut iv = interval_at(start, period)?.with_policy(MissedTicks::Skip);
    loop {
        let t = iv.tick().await?;
        if t.deadline >= end || evl::shutdown::is_requested() {
            break;
        }
        window.begin(); // from the first cycle on (a no-op after)
                        // Timing bookkeeping.
        let late = t.lateness.as_nanos() as u64;
        hist.record(late);
        acc.cycles += 1;
        acc.missed += t.missed;
        acc.misses += (late > threshold_ns) as u64;
        shared.cycles.store(acc.cycles, Relaxed);
        if t.missed > 0 {
            if streak == 0 {
                shared.streak_at.store(acc.cycles, Relaxed);
            }
            let before = streak;
            streak += t.missed;
            shared.streak.store(streak, Relaxed);
            if before < o.watchdog_cycles && streak >= o.watchdog_cycles {
                shared.alarms.fetch_add(1, Relaxed);
                shared.alarm.notify_one();
            }
        } else if streak != 0 {
            streak = 0;
            shared.streak.store(0, Relaxed);
        }

        // The plant ran with the held voltage until this sample.
        let load = f32::from_bits(shared.load.load(Relaxed)) as f64;
        motor.advance(v, load, (t.now - last_sample).as_secs_f64());
        last_sample = t.now;

        // Setpoint: step or ramp toward the profile's target.
        let (target, rate) = unpack(shared.setpoint.load(Relaxed));
        let mut accel = 0.0;
        if rate == 0.0 {
            if target != last_target {
                settle_left = settle_cycles;
            }
            w_ref = target as f64;
        } else {
            let step = rate as f64 * dt;
            let dw = (target as f64 - w_ref).clamp(-step, step);
            w_ref += dw;
            accel = dw / dt;
        }
        last_target = target;

        // Watchdog trip: safe state.
        if shared.trip.swap(false, Relaxed) {
            safe_left = hold_cycles;
        }
        if safe_left > 0 {
            safe_left -= 1;
            acc.safe_cycles += 1;
            speed_pi.reset();
            current_pi.reset();
            v = 0.0;
            settle_left = settle_cycles;
        } else {
            let i_ref = speed_pi.update(w_ref - motor.w, dt, J * accel / KT);
            v = current_pi.update(i_ref - motor.i, dt, KE * motor.w);
        }

        // Tracking error.
        let e = (w_ref - motor.w).abs();
        acc.sq_error += e * e;
        acc.max_error = acc.max_error.max(e);
        if settle_left > 0 {
            settle_left -= 1;
        } else {
            acc.sq_error_settled += e * e;
            acc.max_error_settled = acc.max_error_settled.max(e);
            acc.settled_cycles += 1;
        }
        acc.max_current = acc.max_current.max(motor.i.abs());

        // Injected overrun: computing too long, on purpose.
        if !o.stall.is_zero() && acc.cycles % stall_every == 0 {
            let until = Instant::now() + o.stall;
            while Instant::now() < until {
                core::hint::spin_loop();
            }
            acc.stalls += 1;
        }
    }
    window.end();
    acc.allocs = window.total();
    shared.stop.store(true, Relaxed);
    acc.final_speed = motor.w;
    Ok(acc)
}

fn print_summary(s: &Summary, backend: evl::Backend, o: &Options) {
    let (sp, cur) = gains(s.rate_hz);
    println!(
        "motor: {:.0} Hz cascaded PI (speed Kp {:.4} A·s/rad Ki {:.3} A/rad; current Kp {:.3} V/A Ki {:.1} V/(A·s)), backend {}, {}, {:.1} s",
        s.rate_hz, sp.kp, sp.ki, cur.kp, cur.ki, backend, s.placement, s.duration.as_secs_f64()
    );
    println!(
        "cycles {}  missed (Tick::missed) {}  late > {} us: {}  profile updates {}  injected overruns {}",
        s.cycles,
        s.missed,
        us(o.threshold.as_nanos() as u64),
        s.misses,
        s.profile_updates,
        s.stalls
    );
    let l = &s.lateness;
    println!(
        "wakeup lateness (us): min {}  avg {}  p50 {}  p99 {}  p99.9 {}  max {}",
        us(l.min),
        report::us_f(l.avg),
        us(l.p50),
        us(l.p99),
        us(l.p999),
        us(l.max)
    );
    println!(
        "tracking error (rad/s): rms {:.2}  max {:.1} (steps included);  settled: rms {:.2}  max {:.2} over {} cycles",
        s.rms_error, s.max_error, s.rms_error_settled, s.max_error_settled, s.settled_cycles
    );
    println!(
        "watchdog: {} trips ({} for a hung loop) at {} consecutive missed cycles, {} alarms, {} cycles in the safe state",
        s.watchdog_trips, s.hang_trips, o.watchdog_cycles, s.alarms, s.safe_cycles
    );
    println!(
        "plant: max |i| {:.2} A, final speed {:.1} rad/s;  heap allocations in the control loop: {}",
        s.max_current,
        s.final_speed,
        allocs_text(s.allocs)
    );
    if !o.quiet {
        println!("histogram of wakeup lateness:");
        print!("{}", report::text_histogram(&[("control", &s.hist)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plant_reaches_its_no_load_speed() {
        // At constant V, steady state: w = Kt V / (R B + Kt Ke).
        let mut m = Motor::default();
        for _ in 0..1_000 {
            m.advance(12.0, 0.0, 1e-3);
        }
        let want = KT * 12.0 / (R * B + KT * KE);
        assert!((m.w - want).abs() / want < 1e-3, "{} vs {want}", m.w);
    }

    #[test]
    fn cascaded_loop_tracks_a_step_offline() {
        // The same controller as the task, at exact sample instants (no runtime involved).
        let fs = 1_000.0;
        let dt = 1.0 / fs;
        let (mut sp, mut cur) = gains(fs);
        let mut m = Motor::default();
        let mut v = 0.0;
        let mut worst_late = 0.0f64;
        for k in 0..1_000 {
            m.advance(v, 0.01, dt);
            let w_ref = 150.0;
            let i_ref = sp.update(w_ref - m.w, dt, 0.0);
            v = cur.update(i_ref - m.i, dt, KE * m.w);
            if k > 50 {
                worst_late = worst_late.max((w_ref - m.w).abs());
            }
        }
        // Settled within 1 % of the step 50 ms after it, at 1 kHz.
        assert!(worst_late < 1.5, "settled error {worst_late}");
    }

    #[test]
    fn pi_stops_integrating_in_saturation() {
        let mut pi = Pi::new(1.0, 100.0, 1.0);
        for _ in 0..1_000 {
            assert_eq!(pi.update(10.0, 1e-3, 0.0), 1.0);
        }
        // No wind-up: it leaves the limit as soon as the error turns.
        assert!(pi.update(-0.5, 1e-3, 0.0) < 1.0);
    }

    #[test]
    fn setpoint_packing_round_trips() {
        assert_eq!(unpack(pack(-150.0, 1_000.0)), (-150.0, 1_000.0));
        assert_eq!(unpack(pack(0.0, 0.0)), (0.0, 0.0));
    }

    #[test]
    fn options() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.period(), Duration::from_millis(1));
        assert_eq!(o.threshold, Duration::from_micros(500));
        let v: Vec<String> = ["--rate-hz", "50"].iter().map(|s| s.to_string()).collect();
        assert!(parse(&v).is_err());
        let v: Vec<String> = ["--stall-ms", "600"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(parse(&v).is_err());
    }
}
