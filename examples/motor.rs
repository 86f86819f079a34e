//! Motor control: a cascaded PI loop (speed around current) drives a simulated DC motor at
//! 1 kHz, a 10 Hz task feeds it a setpoint profile, and a watchdog trips the drive into a safe
//! state when the loop misses cycles.
//!
//! ```text
//! cargo run --release --example motor -- [--duration-s 2] [--rate-hz 1000]
//!     [--watchdog-cycles 3] [--stall-ms 8 --stall-every-s 0.5]
//! ```
//! Three tasks on one real-time executor (`#[evl::main]`), sharing atomics and a `Notify`,
//! and a tokio task on an ordinary thread, reached over two `evl::bridge`s:
//! ```text
//!  profile, 10 Hz ── setpoint, load ──▶ control, 1 kHz (Skip): plant.advance(until Tick::now)
//!                                         ramp -> w_ref, speed PI -> i_ref, current PI -> V
//!  watchdog ◀── Notify: N missed cycles ──┘  │ ▲
//!           ── trip ──▶ safe state (0 V)     │ │ setpoint overrides (bridge::to_rt)
//!  tokio task (other thread) ◀── telemetry, every cycle (bridge::to_inband, newest kept)
//!  stdout ◀── drain thread ◀── tracing::info!, 10 Hz (evl::trace: the control thread's ring)
//! ```
//! The control loop never waits for the tokio side and never allocates: telemetry goes into
//! a preallocated ring (a lagging reader loses the oldest samples, counted), overrides are
//! taken with a non-blocking `try_recv`, and the state lines are fixed-size trace records
//! that a drain thread formats later. Halfway through, the tokio task sends a 100 rad/s
//! override, and 300 samples later releases it (NaN): the loop follows the profile again.
//! The plant is integrated inside the control task from one sample instant to the next with
//! the previous voltage held (a zero-order hold), so a late wakeup delays the next voltage as
//! it would on a real drive and jitter shows up as tracking error. `--stall-ms` makes the loop
//! overrun on purpose. Plant: `L di/dt = V - R i - Ke w`, `J dw/dt = Kt i - B w - load`.

use evl::bridge::{self, Overflow, RtReceiver, RtSender};
use evl::sync::Notify;
use evl::time::{interval_at, timeout, Instant, MissedTicks};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tracing::level_filters::LevelFilter;

/// Counts allocations per thread: the report shows the control loop makes none.
#[global_allocator]
static ALLOC: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const USAGE: &str = "\
usage: motor [--duration-s S (default 2)] [--rate-hz F (default 1000; 100 to 20000)]
             [--watchdog-cycles N (default 3)] [--trip-hold-ms N (default 20)]
             [--stall-ms N (default 0: never) --stall-every-s S (default 0.5)]";

// The motor (SI units): electrical time constant L/R = 1.67 ms, mechanical J R/(Kt Ke) = 9.6 ms.
const R: f64 = 1.2; // armature resistance [Ω]
const L: f64 = 2.0e-3; // armature inductance [H]
const KE: f64 = 0.05; // back-EMF constant [V·s/rad]
const KT: f64 = 0.05; // torque constant [N·m/A]
const J: f64 = 2.0e-5; // rotor and load inertia [kg·m²]
const B: f64 = 1.0e-5; // viscous friction [N·m·s/rad]
const V_MAX: f64 = 24.0; // supply: the drive's output saturates at ±V_MAX [V]
const I_MAX: f64 = 10.0; // current limit: the speed loop's output saturation [A]
const SIM_STEP: f64 = 10e-6; // plant integration step [s]
const SETTLE_S: f64 = 0.05; // after a step or a trip, this long is not "settled" [s]

/// The setpoint profile, repeated every 1.4 s: (start ms, target rad/s, slew rad/s² (0: a
/// step), load torque N·m). Rest, a step up, a ramp through zero, a step under load, a ramp
/// back to rest.
const PROFILE: [(u64, f32, f32, f32); 5] = [
    (0, 0.0, 0.0, 0.0),
    (100, 150.0, 0.0, 0.0),
    (400, -150.0, 1_000.0, 0.0),
    (800, 50.0, 0.0, 0.02),
    (1_100, 0.0, 500.0, 0.0),
];
const PROFILE_CYCLE_MS: u64 = 1_400;

#[derive(Clone, Copy)]
struct Args {
    duration: Duration,
    rate_hz: f64,
    watchdog_cycles: u64,
    trip_hold: Duration,
    stall: Duration,
    stall_every: Duration,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        duration: Duration::from_secs(2),
        rate_hz: 1_000.0,
        watchdog_cycles: 3,
        trip_hold: Duration::from_millis(20),
        stall: Duration::ZERO,
        stall_every: Duration::from_millis(500),
    };
    let mut p = lexopt::Parser::from_env();
    let seconds = |p: &mut lexopt::Parser, flag: &str| -> Result<Duration, lexopt::Error> {
        let s: f64 = p.value()?.parse()?;
        match s > 0.0 && s <= 86_400.0 {
            true => Ok(Duration::from_secs_f64(s)),
            false => Err(format!("{flag} must be between 0 and 86400").into()),
        }
    };
    while let Some(arg) = p.next()? {
        match arg {
            Long("duration-s") => args.duration = seconds(&mut p, "--duration-s")?,
            Long("rate-hz") => args.rate_hz = p.value()?.parse()?,
            Long("watchdog-cycles") => args.watchdog_cycles = p.value()?.parse()?,
            Long("trip-hold-ms") => args.trip_hold = Duration::from_millis(p.value()?.parse()?),
            Long("stall-ms") => args.stall = Duration::from_millis(p.value()?.parse()?),
            Long("stall-every-s") => args.stall_every = seconds(&mut p, "--stall-every-s")?,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if !(100.0..=20_000.0).contains(&args.rate_hz) {
        return Err("--rate-hz must be between 100 and 20000".into());
    }
    if !args.stall.is_zero() && args.stall >= args.stall_every {
        return Err("--stall-ms must be shorter than --stall-every-s".into());
    }
    Ok(args)
}

/// A PI controller with an output limit; the integral stops while the output saturates
/// (anti-windup).
#[derive(Clone, Copy)]
struct Pi {
    kp: f64,
    ki: f64,
    limit: f64,
    integral: f64,
}

impl Pi {
    /// The output for error `e` after `dt` seconds, `ff` (feed-forward) added before the limit.
    fn update(&mut self, e: f64, dt: f64, ff: f64) -> f64 {
        let integral = self.integral + self.ki * e * dt;
        let u = self.kp * e + integral + ff;
        let out = u.clamp(-self.limit, self.limit);
        if u == out || (u > self.limit && e < 0.0) || (u < -self.limit && e > 0.0) {
            self.integral = integral;
        }
        out
    }
}

/// The two loops' gains at loop rate `fs`, by pole-zero cancellation: current loop crossover
/// `wc_i = 2 pi min(fs/10, 500 Hz)`, speed loop `wc_s = wc_i / 3`.
fn gains(fs: f64) -> (Pi, Pi) {
    let wc_i = 2.0 * std::f64::consts::PI * (fs / 10.0).min(500.0);
    let wc_s = wc_i / 3.0;
    let kp_s = J * wc_s / KT;
    let pi = |kp, ki, limit| Pi {
        kp,
        ki,
        limit,
        integral: 0.0,
    };
    (
        pi(kp_s, kp_s * wc_s / 3.0, I_MAX),
        pi(L * wc_i, R * wc_i, V_MAX),
    )
}

/// The simulated motor: current [A], speed [rad/s].
#[derive(Default)]
struct Motor {
    i: f64,
    w: f64,
}

impl Motor {
    /// Integrates `dt` seconds at voltage `v` and load torque `load` (semi-implicit Euler).
    fn advance(&mut self, v: f64, load: f64, dt: f64) {
        let n = (dt / SIM_STEP).ceil().max(1.0);
        let h = dt / n;
        for _ in 0..n as u64 {
            self.i += h * (v - R * self.i - KE * self.w) / L;
            self.w += h * (KT * self.i - B * self.w - load) / J;
        }
    }
}

/// What the tasks share: atomics and a `Notify`, no lock, no allocation.
struct Shared {
    /// Target speed (f32 bits, high half) and slew rate (low half), stored together so the
    /// loop never sees half an update.
    setpoint: AtomicU64,
    load: AtomicU32, // f32 bits
    profile_updates: AtomicU64,
    cycles: AtomicU64, // the loop's heartbeat
    alarms: AtomicU64, // missed-cycle streaks that reached --watchdog-cycles
    alarm: Notify,     // loop -> watchdog
    trip: AtomicBool,  // watchdog -> loop: enter the safe state
    trips: AtomicU64,
    hang_trips: AtomicU64,
    stop: AtomicBool,
}

static SHARED: Shared = Shared {
    setpoint: AtomicU64::new(0),
    load: AtomicU32::new(0),
    profile_updates: AtomicU64::new(0),
    cycles: AtomicU64::new(0),
    alarms: AtomicU64::new(0),
    alarm: Notify::new(),
    trip: AtomicBool::new(false),
    trips: AtomicU64::new(0),
    hang_trips: AtomicU64::new(0),
    stop: AtomicBool::new(false),
};

/// Publishes the profile segment due at each 100 ms tick.
#[evl::task]
async fn profile(start: Instant) -> evl::Result<()> {
    let mut tick = interval_at(start, Duration::from_millis(100))?.with_policy(MissedTicks::Skip);
    let mut current = usize::MAX;
    while !SHARED.stop.load(Relaxed) {
        let t = tick.tick().await?;
        let ms = (t.deadline - start).as_millis() as u64 % PROFILE_CYCLE_MS;
        let seg = PROFILE.iter().rposition(|s| s.0 <= ms).unwrap_or(0);
        if seg != current {
            current = seg;
            let (_, target, rate, load) = PROFILE[seg];
            let packed = ((target.to_bits() as u64) << 32) | rate.to_bits() as u64;
            SHARED.setpoint.store(packed, Relaxed);
            SHARED.load.store(load.to_bits(), Relaxed);
            SHARED.profile_updates.fetch_add(1, Relaxed);
        }
    }
    Ok(())
}

/// Trips the drive on each alarm from the loop, and when the loop stops ticking for a whole
/// `hang_window` (a loop stuck awaiting something reports nothing). It shares the executor
/// with the loop: a loop that hogs the thread holds it up too; a supervisor that must
/// preempt the loop runs on an executor of its own, at a higher priority
/// (`evl::Runtime::builder().executor(...)`).
#[evl::task]
async fn watchdog(hang_window: Duration) {
    let (mut handled, mut last_cycles) = (0, 0);
    while !SHARED.stop.load(Relaxed) {
        let alarmed = timeout(hang_window, SHARED.alarm.notified()).await.is_ok();
        let (alarms, cycles) = (SHARED.alarms.load(Relaxed), SHARED.cycles.load(Relaxed));
        if alarms > handled {
            // Count alarms, not wakeups: the loop may have raised several meanwhile.
            SHARED.trips.fetch_add(alarms - handled, Relaxed);
            SHARED.trip.store(true, Relaxed);
            handled = alarms;
        } else if !alarmed && cycles == last_cycles && cycles > 0 && !SHARED.stop.load(Relaxed) {
            SHARED.hang_trips.fetch_add(1, Relaxed);
            SHARED.trips.fetch_add(1, Relaxed);
            SHARED.trip.store(true, Relaxed);
        }
        last_cycles = cycles;
    }
}

/// One cycle's state, streamed to the tokio task.
#[derive(Clone, Copy, Default)]
struct Telemetry {
    cycle: u64,
    w_ref: f32,
    w: f32,
    i: f32,
    v: f32,
}

/// The state line, 10 times a second, through `tracing` (a record in the control thread's
/// ring; the drain thread prints it).
fn log_state(t: &Telemetry, setpoint_override: Option<f32>) {
    tracing::info!(
        cycle = t.cycle,
        w_ref = t.w_ref,
        w = t.w,
        i = t.i,
        v = t.v,
        setpoint_override = setpoint_override.unwrap_or(f32::NAN),
        "state"
    );
}

/// The tokio side, on a thread of its own: counts the telemetry and, halfway (`half`
/// samples), sends a 100 rad/s override, released (NaN) 300 samples later. Returns the
/// samples received.
fn tokio_side(
    telemetry: bridge::Receiver<Telemetry>,
    setpoints: bridge::Sender<f32>,
    half: u64,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let mut telemetry = bridge::AsyncReceiver::new(telemetry).expect("in tokio");
            let mut setpoints = bridge::AsyncSender::new(setpoints).expect("in tokio");
            let mut plan = [(half, 100.0), (half + 300, f32::NAN)]
                .into_iter()
                .peekable();
            let mut n = 0;
            while let Some(t) = telemetry.recv().await {
                n += 1;
                if let Some(&(at, sp)) = plan.peek() {
                    if t.cycle >= at {
                        plan.next();
                        let _ = setpoints.send(sp).await; // the loop may be done: fine
                    }
                }
            }
            n
        })
    })
}

/// What the control loop measured.
#[derive(Default)]
struct Report {
    cycles: u64,
    missed: u64, // cycles lost to overruns (sum of Tick::missed)
    late: u64,   // wakeups later than half a period
    sq_error: f64,
    max_error: f64,
    settled_sq_error: f64,
    settled_max_error: f64,
    settled_cycles: u64,
    safe_cycles: u64,
    stalls: u64,
    max_current: f64,
    final_speed: f64,
    allocs: u64,
    telemetry_replaced: u64, // samples the tokio task lagged too much to see
    setpoints_taken: u64,
    state_lines: u64,
}

/// The control loop: one cycle per tick from `start` until `end`.
#[evl::task]
async fn control(
    args: Args,
    start: Instant,
    end: Instant,
    mut telemetry: RtSender<Telemetry>,
    mut setpoints: RtReceiver<f32>,
) -> evl::Result<(Report, Histogram<u64>)> {
    let period = Duration::from_secs_f64(1.0 / args.rate_hz);
    let dt = period.as_secs_f64();
    let cycles_in = |d: Duration| (d.as_secs_f64() / dt).round() as u64;
    let (mut speed_pi, mut current_pi) = gains(args.rate_hz);
    let mut motor = Motor::default();
    let mut r = Report::default();
    // Recording into a histogram sized up front does not allocate.
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
    let (mut v, mut w_ref, mut last_target) = (0.0, 0.0, 0.0f32);
    let (mut settle_left, mut safe_left, mut streak) = (0, 0, 0);
    let mut last_sample = start;
    let mut allocs_at_first_cycle = None;
    let log_every = cycles_in(Duration::from_millis(100)).max(1);
    let mut setpoint_override = None;
    log_state(&Telemetry::default(), None); // its first use registers the callsite (allocates)
    let mut tick = interval_at(start, period)?.with_policy(MissedTicks::Skip);
    loop {
        let t = tick.tick().await?;
        if t.deadline >= end || evl::shutdown::is_requested() {
            break;
        }
        allocs_at_first_cycle.get_or_insert_with(evl_alloc_count::thread_total);
        // Timing: lateness, lost cycles, and the watchdog's missed-cycle streak.
        lateness.saturating_record(t.lateness.as_nanos() as u64);
        r.cycles += 1;
        r.missed += t.missed;
        r.late += (t.lateness > period / 2) as u64;
        SHARED.cycles.store(r.cycles, Relaxed);
        let before = streak;
        streak = if t.missed > 0 { streak + t.missed } else { 0 };
        if before < args.watchdog_cycles && streak >= args.watchdog_cycles {
            SHARED.alarms.fetch_add(1, Relaxed);
            SHARED.alarm.notify_one();
        }

        // The plant ran with the held voltage until this sample.
        let load = f32::from_bits(SHARED.load.load(Relaxed)) as f64;
        motor.advance(v, load, (t.now - last_sample).as_secs_f64());
        last_sample = t.now;

        // Setpoint: a step, or a ramp toward the profile's target; or the tokio side's
        // override (a step), until it sends NaN.
        if let Ok(sp) = setpoints.try_recv() {
            setpoint_override = (!sp.is_nan()).then_some(sp);
            r.setpoints_taken += 1;
        }
        let packed = SHARED.setpoint.load(Relaxed);
        let (target, rate) = match setpoint_override {
            Some(sp) => (sp, 0.0),
            None => (
                f32::from_bits((packed >> 32) as u32),
                f32::from_bits(packed as u32),
            ),
        };
        let mut accel = 0.0;
        if rate == 0.0 {
            if target != last_target {
                settle_left = cycles_in(Duration::from_secs_f64(SETTLE_S));
            }
            w_ref = target as f64;
        } else {
            let dw = (target as f64 - w_ref).clamp(-rate as f64 * dt, rate as f64 * dt);
            w_ref += dw;
            accel = dw / dt;
        }
        last_target = target;

        // The two loops, or the safe state after a watchdog trip.
        if SHARED.trip.swap(false, Relaxed) {
            safe_left = cycles_in(args.trip_hold);
        }
        if safe_left > 0 {
            safe_left -= 1;
            r.safe_cycles += 1;
            speed_pi.integral = 0.0;
            current_pi.integral = 0.0;
            v = 0.0;
            settle_left = cycles_in(Duration::from_secs_f64(SETTLE_S));
        } else {
            let i_ref = speed_pi.update(w_ref - motor.w, dt, J * accel / KT);
            v = current_pi.update(i_ref - motor.i, dt, KE * motor.w);
        }

        // Tracking error, overall and once settled after a step or a trip.
        let e = (w_ref - motor.w).abs();
        r.sq_error += e * e;
        r.max_error = r.max_error.max(e);
        if settle_left > 0 {
            settle_left -= 1;
        } else {
            r.settled_sq_error += e * e;
            r.settled_max_error = r.settled_max_error.max(e);
            r.settled_cycles += 1;
        }
        r.max_current = r.max_current.max(motor.i.abs());

        // Telemetry every cycle (never waits: a lagging reader loses the oldest), the state
        // line at 10 Hz.
        let state = Telemetry {
            cycle: r.cycles,
            w_ref: w_ref as f32,
            w: motor.w as f32,
            i: motor.i as f32,
            v: v as f32,
        };
        let _ = telemetry.try_send(state);
        if r.cycles % log_every == 0 {
            log_state(&state, setpoint_override);
            r.state_lines += 1;
        }

        // An overrun on purpose: computing too long.
        if !args.stall.is_zero() && r.cycles % cycles_in(args.stall_every).max(1) == 0 {
            let until = Instant::now() + args.stall;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            r.stalls += 1;
        }
    }
    r.allocs = evl_alloc_count::thread_total() - allocs_at_first_cycle.unwrap_or(0);
    r.final_speed = motor.w;
    r.telemetry_replaced = telemetry.dropped();
    SHARED.stop.store(true, Relaxed);
    SHARED.alarm.notify_one(); // the watchdog sees `stop` now, not after its hang window
    Ok((r, lateness))
}

#[evl::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("motor: {e}\n{USAGE}");
        std::process::exit(2)
    });
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + args.duration;
    let hang_window = Duration::from_secs_f64(20.0 / args.rate_hz).max(Duration::from_millis(100));
    // tracing from this (the executor's) thread: fixed-size records into its ring, drained
    // to stdout by a thread. The ring is allocated here, before the loop.
    let tracer = evl::trace::Tracer::new(LevelFilter::INFO);
    tracing::subscriber::set_global_default(tracer.subscriber())?;
    tracer.register_thread("control", 1024);
    let drain = tracer.spawn_drain(std::io::stdout(), Duration::from_millis(100));
    // Telemetry out to tokio (the newest kept), setpoint overrides back.
    let (telemetry_tx, telemetry_rx) = bridge::to_inband(1024, Overflow::DropOldest)?;
    let (setpoints_tx, setpoints_rx) = bridge::to_rt(8)?;
    let half = (args.duration.as_secs_f64() * args.rate_hz / 2.0) as u64;
    let tokio_thread = tokio_side(telemetry_rx, setpoints_tx, half);

    profile(start).spawn()?;
    let watchdog = watchdog(hang_window).spawn()?;
    let (r, lateness) = control(args, start, end, telemetry_tx, setpoints_rx)
        .spawn()?
        .await??;
    watchdog.await?;
    let telemetry_received = tokio_thread.join().expect("the tokio side ran");
    drop(drain); // the last state lines reach stdout before the report

    let (sp, cur) = gains(args.rate_hz);
    println!(
        "motor: {:.0} Hz cascaded PI (speed Kp {:.4} Ki {:.3}; current Kp {:.3} Ki {:.1}), backend {}, {:?}, {:.1} s",
        args.rate_hz, sp.kp, sp.ki, cur.kp, cur.ki,
        evl::core::backend::current()?,
        evl::core::thread::current_policy()?,
        args.duration.as_secs_f64()
    );
    println!(
        "cycles {}  missed {}  late {}  profile-updates {}  stalls {}",
        r.cycles,
        r.missed,
        r.late,
        SHARED.profile_updates.load(Relaxed),
        r.stalls
    );
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
    let rms = |sq: f64, n: u64| (sq / n.max(1) as f64).sqrt();
    println!(
        "tracking error (rad/s): rms {:.2}  max {:.1}  (steps included)",
        rms(r.sq_error, r.cycles),
        r.max_error
    );
    println!(
        "settled (rad/s): rms {:.2}  max {:.2}  cycles {}",
        rms(r.settled_sq_error, r.settled_cycles),
        r.settled_max_error,
        r.settled_cycles
    );
    println!(
        "watchdog: alarms {}  trips {}  hang-trips {}  safe-cycles {}  (at {} missed cycles in a row)",
        SHARED.alarms.load(Relaxed),
        SHARED.trips.load(Relaxed),
        SHARED.hang_trips.load(Relaxed),
        r.safe_cycles,
        args.watchdog_cycles
    );
    println!(
        "plant: max-current {:.2} A  final-speed {:.1} rad/s",
        r.max_current, r.final_speed
    );
    println!(
        "bridge: telemetry-received {}  telemetry-replaced {}  setpoints-taken {}",
        telemetry_received, r.telemetry_replaced, r.setpoints_taken
    );
    println!(
        "tracing: state-lines {}  dropped {}",
        r.state_lines,
        tracer.dropped()
    );
    println!("heap allocations in the control loop: {}", r.allocs);
    Ok(())
}
