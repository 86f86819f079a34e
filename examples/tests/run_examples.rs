//! Runs every example briefly, in-process (each example's `main` is a thin wrapper around
//! the `run` function called here), at SCHED_OTHER without locking memory (no privilege
//! needed), and checks its summary for consistency.
//!
//! No timing assertion: the checks are counts that follow from the semantics (Skip keeps the
//! grid, Burst delivers every tick, every fieldbus cycle ends one way), never how fast this
//! machine was.

use core::time::Duration;
use evl::time::MissedTicks;
use evl_examples::hist::DISPLAY_BUCKETS;
use evl_examples::{fieldbus, latency, motor, timers, xmlcheck, ExampleError};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Counts allocations per thread: the summaries report the measured loops' allocations.
#[global_allocator]
static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;

/// One example at a time: they share two CPUs, and less noise makes the output readable.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    evl_examples::rt::install_alloc_probe();
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

/// No privileges needed.
const PLAIN: [&str; 3] = ["--priority", "0", "--no-mlock"];

fn with_plain(s: &[&str]) -> Vec<String> {
    let mut v = args(s);
    v.extend(args(&PLAIN));
    v
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("evl-examples-{}-{name}", std::process::id()))
}

/// Parses the CSV written by `latency --csv`: the series names and the count columns.
fn read_csv(path: &PathBuf) -> (Vec<String>, Vec<Vec<u64>>) {
    let text = std::fs::read_to_string(path).expect("CSV written");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(&header[..2], ["bucket_lo_us", "bucket_hi_us"]);
    let names = header[2..].to_vec();
    let mut cols = vec![Vec::new(); names.len()];
    let mut rows = 0;
    let mut last_hi = 0.0f64;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 2 + names.len(), "row {l}");
        let lo: f64 = f[0].parse().expect("bucket_lo_us is a number");
        assert_eq!(lo, last_hi, "buckets are contiguous");
        last_hi = if f[1] == "inf" {
            f64::INFINITY
        } else {
            f[1].parse().expect("bucket_hi_us is a number")
        };
        assert!(last_hi > lo);
        for (k, c) in cols.iter_mut().enumerate() {
            c.push(f[2 + k].parse().expect("counts are integers"));
        }
        rows += 1;
    }
    assert_eq!(rows, DISPLAY_BUCKETS);
    assert!(last_hi.is_infinite());
    (names, cols)
}

/// What follows from one side's samples whatever the machine's speed: ordered quantiles
/// between the exact extremes, a mean between them, the histogram holding every sample,
/// misses exactly when the worst wakeup passed the threshold, and skipped periods exactly
/// when it was a whole period late (each wakeup skips `lateness / period` of them).
fn check_side(side: &latency::Side, period_ns: u64, threshold_ns: u64) {
    let st = side.stats();
    let name = side.name;
    assert!(st.count > 0, "{name}");
    assert!(
        st.min <= st.p50 && st.p50 <= st.p99 && st.p99 <= st.p999 && st.p999 <= st.max,
        "{name}: {st:?}"
    );
    assert!(
        st.min as f64 <= st.avg && st.avg <= st.max as f64,
        "{name}: {st:?}"
    );
    assert_eq!(side.hist.count(), st.count, "{name}");
    assert_eq!(
        side.hist.display_counts().iter().sum::<u64>(),
        st.count,
        "{name}: the histogram holds every sample"
    );
    assert!(side.misses <= st.count, "{name}");
    assert_eq!(side.misses > 0, st.max > threshold_ns, "{name}: {st:?}");
    assert_eq!(
        side.misses == st.count,
        st.min > threshold_ns,
        "{name}: {st:?}"
    );
    assert_eq!(side.skipped > 0, st.max >= period_ns, "{name}: {st:?}");
    assert!(side.skipped >= st.max / period_ns, "{name}: {st:?}");
    assert!(
        side.skipped <= st.count * (st.max / period_ns),
        "{name}: {st:?}"
    );
}

#[test]
fn latency_count_mode_writes_csv_and_svg() {
    let _g = serial();
    let (csv, svg) = (tmp("lat.csv"), tmp("lat.svg"));
    let s = latency::run(&with_plain(&[
        "--count",
        "300",
        "--period-us",
        "1000",
        "--quiet",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]))
    .expect("latency runs");
    assert!(!s.interrupted);
    assert_eq!(s.sides.len(), 1);
    let evl = s.side("evl").expect("an evl side");
    let st = evl.stats();
    assert_eq!(st.count, 300, "--count gives exactly that many samples");
    assert_eq!(
        s.threshold,
        Duration::from_micros(500),
        "half the period by default"
    );
    check_side(evl, 1_000_000, 500_000);
    // A skipped period comes from a wakeup a whole period late: also a miss (threshold P/2).
    assert!(evl.skipped == 0 || evl.misses > 0);
    assert_eq!(evl.allocs, Some(0), "the measured loop allocates nothing");

    let (names, cols) = read_csv(&csv);
    assert_eq!(names, ["evl"]);
    assert_eq!(cols[0].iter().sum::<u64>(), 300);
    assert_eq!(&cols[0][..], &evl.hist.display_counts()[..]);

    let doc = std::fs::read_to_string(&svg).expect("SVG written");
    xmlcheck::check(&doc).expect("the SVG is well-formed");
    let nonempty = cols[0].iter().filter(|&&c| c > 0).count();
    assert_eq!(doc.matches(r#"<rect class="bar""#).count(), nonempty);
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(svg);
}

#[test]
fn latency_duration_mode_keeps_the_grid() {
    let _g = serial();
    let s = latency::run(&with_plain(&[
        "--duration-s",
        "0.3",
        "--period-us",
        "500",
        "--quiet",
    ]))
    .expect("latency runs");
    let evl = s.side("evl").unwrap();
    check_side(evl, 500_000, 250_000);
    let expected = 600; // grid points in 0.3 s at 2 kHz
    let ticks = evl.stats().count;
    // Skip: every grid point before the end was either ticked or skipped.
    assert!(ticks <= expected, "{ticks}");
    assert!(ticks + evl.skipped >= expected, "{ticks} + {}", evl.skipped);
}

#[test]
fn latency_compare_runs_three_sides_in_blocks() {
    let _g = serial();
    let csv = tmp("cmp.csv");
    let s = latency::run(&with_plain(&[
        "--compare",
        "--count",
        "120",
        "--block",
        "50",
        "--period-us",
        "1000",
        "--quiet",
        "--csv",
        csv.to_str().unwrap(),
    ]))
    .expect("latency --compare runs");
    let names: Vec<&str> = s.sides.iter().map(|x| x.name).collect();
    assert_eq!(names, ["raw", "evl", "tokio"]);
    for side in &s.sides {
        assert_eq!(
            side.stats().count,
            120,
            "{} measured every period",
            side.name
        );
    }
    assert_eq!(s.side("raw").unwrap().allocs, Some(0));
    assert_eq!(s.side("evl").unwrap().allocs, Some(0));
    for side in &s.sides {
        check_side(side, 1_000_000, 500_000);
    }
    let c = s.comparison.expect("a comparison");
    assert_eq!((c.block, c.rounds), (50, 3));
    let raw = s.side("raw").unwrap().stats();
    let evl = s.side("evl").unwrap().stats();
    let tokio = s.side("tokio").unwrap().stats();
    assert_eq!(c.min_diff_ns, evl.min as i64 - raw.min as i64);
    // The ratios are the sides' own quantiles divided (infinite over a zero raw quantile).
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::INFINITY
        } else {
            a as f64 / b as f64
        }
    };
    assert_eq!(c.evl_raw_p50, ratio(evl.p50, raw.p50), "{c:?}");
    assert_eq!(c.evl_raw_p99, ratio(evl.p99, raw.p99), "{c:?}");
    assert_eq!(c.tokio_raw_p50, ratio(tokio.p50, raw.p50), "{c:?}");
    assert_eq!(c.tokio_raw_p99, ratio(tokio.p99, raw.p99), "{c:?}");
    assert_eq!(c.p50_met(), c.evl_raw_p50 <= 1.05);
    assert_eq!(c.min_met(), c.min_diff_ns <= 2_000);
    let (names, cols) = read_csv(&csv);
    assert_eq!(names, ["raw", "evl", "tokio"]);
    for col in cols {
        assert_eq!(col.iter().sum::<u64>(), 120);
    }
    let _ = std::fs::remove_file(csv);
}

#[test]
fn bad_input_is_refused_with_a_message() {
    for (name, run) in [
        (
            "latency",
            (|a: &[String]| latency::run(a).map(|_| ())) as fn(&[String]) -> _,
        ),
        ("timers", |a| timers::run(a).map(|_| ())),
        ("motor", |a| motor::run(a).map(|_| ())),
        ("fieldbus", |a| fieldbus::run(a).map(|_| ())),
    ] {
        match run(&args(&["--no-such-option"])) {
            Err(ExampleError::Usage(m)) => assert!(m.contains("--no-such-option"), "{name}: {m}"),
            other => panic!("{name}: {other:?}"),
        }
        match run(&args(&["--duration-s", "-1"])) {
            Err(ExampleError::Usage(m)) => assert!(m.contains("--duration-s"), "{name}: {m}"),
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            matches!(run(&args(&["--help"])), Err(ExampleError::Help)),
            "{name}"
        );
    }
}

#[test]
fn timers_show_the_three_policies() {
    let _g = serial();
    let s = timers::run(&with_plain(&[
        "--duration-s",
        "0.5",
        "--stall-ms",
        "12",
        "--stall-every-ms",
        "100",
        "--quiet",
    ]))
    .expect("timers runs");
    assert_eq!(s.rows.len(), 6 * 3);
    assert!((1..=4).contains(&s.stalls), "{} stalls", s.stalls);
    for r in &s.rows {
        let p_ms = r.period.as_secs_f64() * 1e3;
        assert_eq!(r.expected, (500.0 / p_ms).ceil() as u64, "{r:?}");
        match r.policy {
            MissedTicks::Burst => assert_eq!(r.ticks, r.expected, "Burst delivers all: {r:?}"),
            MissedTicks::Delay => assert!(r.ticks <= r.expected, "{r:?}"),
            MissedTicks::Skip => {
                assert!(r.ticks <= r.expected, "{r:?}");
                assert!(
                    r.ticks + r.missed >= r.expected,
                    "Skip keeps the grid: {r:?}"
                );
            }
        }
        assert!(r.late_ticks <= r.ticks);
        assert_eq!(r.missed == 0, r.late_ticks == 0, "{r:?}");
    }
    // A 12 ms busy stall on the executor makes the 1 ms tickers lose ticks.
    let skip_1ms = s.row(Duration::from_millis(1), MissedTicks::Skip).unwrap();
    assert!(skip_1ms.missed >= 11 * s.stalls, "{skip_1ms:?}");
}

#[test]
fn motor_tracks_the_profile() {
    let _g = serial();
    let s = motor::run(&with_plain(&["--duration-s", "1", "--quiet"])).expect("motor runs");
    // Accounting, on any machine: every grid point of the second was run or skipped, every
    // run cycle measured, the watchdog only trips for an alarm or a hung loop.
    assert!(s.cycles <= 1_000 && s.cycles + s.missed >= 1_000, "{s:?}");
    assert_eq!(s.lateness.count, s.cycles);
    assert_eq!(s.hist.count(), s.cycles);
    assert!(s.misses <= s.cycles);
    assert_eq!(s.misses > 0, s.lateness.max > 500_000, "{s:?}");
    assert!(s.settled_cycles + s.safe_cycles <= s.cycles, "{s:?}");
    assert!(s.max_error_settled <= s.max_error, "{s:?}");
    assert!(
        s.rms_error_settled.is_finite() && s.rms_error.is_finite(),
        "{s:?}"
    );
    assert!(s.watchdog_trips <= s.alarms + s.hang_trips, "{s:?}");
    assert_eq!(s.stalls, 0);
    assert_eq!(s.allocs, Some(0), "the control loop allocates nothing");
    // Control quality is a claim about a loop that kept its rate: a lost cycle holds the old
    // voltage on the plant for longer (an emulated or loaded machine loses many). So these
    // are checked for a run that lost none; the loose bounds are for this plant (offline:
    // settled rms 0.4, max 4 rad/s at 1 kHz; the profile spans ±150 rad/s).
    if s.missed == 0 && s.misses == 0 {
        assert_eq!(s.cycles, 1_000);
        assert_eq!(s.watchdog_trips, 0, "{s:?}");
        // Segments start at 0, 100, 400 and 800 ms: the 10 Hz profile task published them.
        assert!(s.profile_updates >= 3, "{}", s.profile_updates);
        assert!(s.settled_cycles > 500, "{}", s.settled_cycles);
        assert!(
            s.rms_error_settled < 10.0,
            "settled rms {}",
            s.rms_error_settled
        );
        assert!(s.rms_error < 60.0, "rms {}", s.rms_error);
        assert!(s.max_current <= motor::I_MAX * 1.2, "{}", s.max_current);
    } else {
        eprintln!(
            "note: the loop lost {} cycles ({} late wakeups): control quality not checked",
            s.missed, s.misses
        );
    }
}

#[test]
fn motor_watchdog_trips_on_overruns() {
    let _g = serial();
    let s = motor::run(&with_plain(&[
        "--duration-s",
        "1",
        "--stall-ms",
        "8",
        "--stall-every-s",
        "0.4",
        "--quiet",
    ]))
    .expect("motor runs");
    // The loop stalls in every 400th cycle it runs (2 in a second, fewer where cycles were
    // lost to a slow machine).
    assert_eq!(s.stalls, s.cycles / 400, "{s:?}");
    // An 8 ms overrun at 1 kHz loses at least 7 cycles in a row: the streak passes the
    // 3-cycle watchdog level, an alarm (two stalls may share one streak on a slow machine).
    assert!(s.missed >= 7 * s.stalls, "{s:?}");
    assert!(s.alarms >= s.stalls.min(1), "{s:?}");
    assert!(s.watchdog_trips <= s.alarms + s.hang_trips, "{s:?}");
    // The safe state is only entered on a trip.
    assert!(s.safe_cycles == 0 || s.watchdog_trips >= 1, "{s:?}");
    // That the supervisor reacts in time (before the run ends and cancels it) is a claim
    // about a machine that kept the loop's rate: checked when no cycle was lost beyond the
    // two stalls (8 each at most).
    if s.stalls == 2 && s.missed <= 16 {
        assert!(s.alarms >= 2, "{s:?}");
        assert!(s.watchdog_trips >= 1, "{s:?}");
    }
}

#[test]
fn fieldbus_accounts_for_every_cycle() {
    let _g = serial();
    let s = fieldbus::run(&with_plain(&[
        "--duration-s",
        "1",
        "--drop-pct",
        "1",
        "--late-pct",
        "1",
        "--corrupt-pct",
        "1",
        "--quiet",
    ]))
    .expect("fieldbus runs");
    assert_eq!(s.ok + s.late + s.lost, s.cycles, "{s:?}");
    assert!(
        s.cycles <= 1_000 && s.cycles + s.missed_ticks >= 1_000,
        "{s:?}"
    );
    let sl = s.slave;
    assert_eq!(
        sl.requests,
        sl.replied + sl.dropped + sl.delayed + sl.corrupted,
        "{sl:?}"
    );
    assert!(sl.requests <= s.cycles);
    assert_eq!(sl.bad_requests, 0);
    assert!(s.corrupt <= sl.corrupted, "{s:?}");
    assert!(s.ok <= sl.replied, "{s:?}");
    // Each faulted response costs its cycle (the last one may still be in flight).
    assert!(
        s.late + s.lost + 1 >= sl.dropped + sl.delayed + sl.corrupted,
        "{s:?}"
    );
    assert_eq!(s.rtt.count, s.ok);
    assert_eq!(s.lateness.count, s.cycles);
    assert_eq!(s.allocs, Some(0), "the master's loop allocates nothing");
}
