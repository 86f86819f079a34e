//! Runs every example as a user would (`cargo build --example`, then the program with a few
//! flags, briefly) and checks what it prints: its exit status, the usage errors, and the
//! counts in its report.
//!
//! No timing assertion: the checks are counts that follow from the semantics (Skip keeps the
//! grid, Burst delivers every tick, every fieldbus cycle ends one way, the loops allocate
//! nothing), never how fast this machine was. The examples run at their own placement
//! (`#[evl::main]`: SCHED_FIFO 40 where permitted, else SCHED_OTHER); the latency meter is
//! asked for SCHED_OTHER (`--priority 0`), which needs no privilege.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// One example at a time: they share few CPUs, and less noise keeps the runs short.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The example's executable, built once per test process in this test's profile; where
/// cargo cannot build (tools/evl-vm runs the test binaries in a guest with a read-only
/// tree), the one `cargo test` built next to this test.
fn program(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    built
        .entry(name.to_string())
        .or_insert_with(|| {
            let build = escargot::CargoBuild::new()
                .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .example(name)
                .current_release()
                .current_target()
                .run();
            match build {
                Ok(run) => run.path().to_path_buf(),
                Err(e) => prebuilt(name).unwrap_or_else(|| {
                    panic!("cannot build example {name} ({e}), and none was built before")
                }),
            }
        })
        .clone()
}

/// `target/<profile>/examples/<name>`, beside this test's `deps/` or in the workspace.
fn prebuilt(name: &str) -> Option<PathBuf> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")).join(profile);
    let beside = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .to_path_buf();
    [beside, workspace]
        .into_iter()
        .map(|dir| dir.join("examples").join(name))
        .find(|p| p.is_file())
}

/// Runs example `name` with `args`; its output.
fn run(name: &str, args: &[&str]) -> Output {
    let out = std::process::Command::new(program(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs example `name` with `args`, expecting success; its standard output.
fn report(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("$ {name} {}\n{stdout}", args.join(" "));
    assert!(out.status.success(), "{name} {args:?}: {}", out.status);
    stdout
}

/// The number after the word `key` on the first line of `out` that starts with `line`
/// (punctuation around words and numbers ignored).
fn field(out: &str, line: &str, key: &str) -> f64 {
    let l = out
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no line starting {line:?} in\n{out}"));
    let words: Vec<&str> = l
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| ",:;()".contains(c)))
        .collect();
    let at = words
        .iter()
        .position(|w| *w == key)
        .unwrap_or_else(|| panic!("no {key:?} in {l:?}"));
    words
        .get(at + 1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {l:?}"))
}

fn count(out: &str, line: &str, key: &str) -> u64 {
    let v = field(out, line, key);
    assert!(v >= 0.0 && v.fract() == 0.0, "{key}: {v} is not a count");
    v as u64
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let _g = serial();
    for name in ["periodic", "timers", "motor", "fieldbus", "latency"] {
        let out = run(name, &["--no-such-option"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            err.contains("--no-such-option") && err.contains("usage"),
            "{name}: {err}"
        );
        let out = run(name, &["--help"]);
        assert!(out.status.success(), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("usage"),
            "{name}"
        );
    }
    for name in ["timers", "motor", "fieldbus", "latency"] {
        let out = run(name, &["--duration-s", "-1"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(err.contains("--duration-s"), "{name}: {err}");
    }
}

#[test]
fn periodic_counts_every_cycle() {
    let _g = serial();
    let out = report("periodic", &["--cycles", "200", "--period-us", "1000"]);
    assert_eq!(count(&out, "cycles", "cycles"), 200);
    let lat = |k| field(&out, "lateness", k);
    assert!(lat("min") <= lat("p50") && lat("p50") <= lat("p99") && lat("p99") <= lat("max"));
}

#[test]
fn timers_show_the_three_policies() {
    let _g = serial();
    let out = report(
        "timers",
        &[
            "--duration-s",
            "0.5",
            "--stall-ms",
            "12",
            "--stall-every-ms",
            "100",
        ],
    );
    let stalls = count(&out, "timers", "stalls");
    assert!((1..=4).contains(&stalls), "{stalls} stalls");
    // Rows: `  1 ms  500 |  ticks missed max-late ms | (Delay) | (Skip)`.
    let mut rows = 0;
    for line in out
        .lines()
        .filter(|l| l.contains(" ms ") && l.contains('|'))
    {
        let cols: Vec<Vec<&str>> = line
            .split('|')
            .map(|c| c.split_whitespace().collect())
            .collect();
        let period_ms: f64 = cols[0][0].parse().unwrap();
        let grid: u64 = cols[0][2].parse().unwrap();
        assert_eq!(grid, (500.0 / period_ms).ceil() as u64, "{line}");
        let [burst, delay, skip] = [1, 2, 3]
            .map(|k| -> (u64, u64) { (cols[k][0].parse().unwrap(), cols[k][1].parse().unwrap()) });
        assert_eq!(burst.0, grid, "Burst delivers every tick: {line}");
        assert!(delay.0 <= grid, "{line}");
        assert!(
            skip.0 <= grid && skip.0 + skip.1 >= grid,
            "Skip keeps the grid: {line}"
        );
        if period_ms == 1.0 {
            // A 12 ms busy stall on the executor makes the 1 ms tickers lose ticks.
            assert!(skip.1 >= 11 * stalls, "{line}");
        }
        rows += 1;
    }
    assert_eq!(rows, 6, "{out}");
}

#[test]
fn motor_tracks_the_profile() {
    let _g = serial();
    let out = report("motor", &["--duration-s", "1"]);
    let c = |k| count(&out, "cycles", k);
    let (cycles, missed, late) = (c("cycles"), c("missed"), c("late"));
    // Accounting, on any machine: every grid point of the second was run or skipped.
    assert!(cycles <= 1_000 && cycles + missed >= 1_000, "{out}");
    assert!(late <= cycles);
    assert_eq!(
        count(&out, "heap allocations", "loop"),
        0,
        "the control loop allocates nothing"
    );
    let w = |k| count(&out, "watchdog", k);
    assert!(w("trips") <= w("alarms") + w("hang-trips"), "{out}");
    assert_eq!(c("stalls"), 0);
    let settled = count(&out, "settled", "cycles");
    assert!(settled + w("safe-cycles") <= cycles, "{out}");
    // The bridge: every sample reached the tokio task, or was replaced (and counted) while
    // it lagged; its overrides (one, then its release) came back.
    let b = |k| count(&out, "bridge", k);
    assert_eq!(
        b("telemetry-received") + b("telemetry-replaced"),
        cycles,
        "{out}"
    );
    assert!(b("setpoints-taken") <= 2, "{out}");
    // tracing: a state line per 100 cycles, each printed by the drain (and the initial one).
    let t = |k| count(&out, "tracing", k);
    assert_eq!(t("state-lines"), cycles / 100, "{out}");
    assert_eq!(t("dropped"), 0, "{out}");
    let printed = out
        .lines()
        .filter(|l| l.contains(" INFO control: motor: state cycle="))
        .count() as u64;
    assert_eq!(printed, t("state-lines") + 1, "{out}");
    assert!(field(&out, "settled", "max") <= field(&out, "tracking error", "max"));
    // Control quality is a claim about a loop that kept its rate: a lost cycle holds the old
    // voltage on the plant for longer (an emulated or loaded machine loses many). The loose
    // bounds are for this plant (offline: settled rms 0.4, max 4 rad/s at 1 kHz).
    if missed == 0 && late == 0 {
        assert_eq!(cycles, 1_000);
        assert_eq!(w("trips"), 0, "{out}");
        // Segments start at 0, 100, 400 and 800 ms: the 10 Hz profile task published them.
        assert!(c("profile-updates") >= 3, "{out}");
        assert!(settled > 500, "{out}");
        assert!(field(&out, "settled", "rms") < 10.0, "{out}");
        assert!(field(&out, "tracking error", "rms") < 60.0, "{out}");
        assert!(field(&out, "plant", "max-current") <= 12.0, "{out}");
    } else {
        eprintln!("note: the loop lost {missed} cycles ({late} late wakeups): control quality not checked");
    }
}

#[test]
fn motor_watchdog_trips_on_overruns() {
    let _g = serial();
    let out = report(
        "motor",
        &[
            "--duration-s",
            "1",
            "--stall-ms",
            "8",
            "--stall-every-s",
            "0.4",
        ],
    );
    let c = |k| count(&out, "cycles", k);
    let w = |k| count(&out, "watchdog", k);
    // The loop stalls in every 400th cycle it runs (2 in a second, fewer where cycles were
    // lost to a slow machine); an 8 ms overrun at 1 kHz loses at least 7 cycles in a row,
    // past the 3-cycle watchdog level: an alarm (two stalls may share one streak).
    assert_eq!(c("stalls"), c("cycles") / 400, "{out}");
    assert!(c("missed") >= 7 * c("stalls"), "{out}");
    assert!(w("alarms") >= c("stalls").min(1), "{out}");
    assert!(w("trips") <= w("alarms") + w("hang-trips"), "{out}");
    // The safe state is only entered on a trip.
    assert!(w("safe-cycles") == 0 || w("trips") >= 1, "{out}");
    if c("stalls") == 2 && c("missed") <= 16 {
        assert!(w("alarms") >= 2 && w("trips") >= 1, "{out}");
    }
    assert_eq!(count(&out, "heap allocations", "loop"), 0);
}

#[test]
fn fieldbus_accounts_for_every_cycle() {
    let _g = serial();
    let out = report(
        "fieldbus",
        &[
            "--duration-s",
            "1",
            "--drop-pct",
            "1",
            "--late-pct",
            "1",
            "--corrupt-pct",
            "1",
        ],
    );
    let m = |k| count(&out, "cycles", k);
    let (cycles, ok, late, lost) = (m("cycles"), m("ok"), m("late"), m("lost"));
    assert_eq!(ok + late + lost, cycles, "{out}");
    let master = |k| count(&out, "master", k);
    assert!(
        cycles <= 1_000 && cycles + master("missed-ticks") >= 1_000,
        "{out}"
    );
    assert_eq!(
        master("allocations"),
        0,
        "the master's loop allocates nothing"
    );
    let s = |k| count(&out, "slave", k);
    let faults = s("dropped") + s("delayed") + s("corrupted");
    assert_eq!(s("requests"), s("replied") + faults, "{out}");
    assert!(s("requests") <= cycles);
    assert_eq!(s("bad"), 0);
    assert!(m("corrupt") <= s("corrupted"), "{out}");
    assert!(ok <= s("replied"), "{out}");
    // Each faulted response costs its cycle (the last one may still be in flight).
    assert!(late + lost + 1 >= faults, "{out}");
    assert_eq!(count(&out, "response", "count"), ok);
    assert_eq!(count(&out, "lateness", "count"), cycles);
}

/// One side's row of the latency table: samples, min, avg, p50, p99, p99.9, max (us),
/// misses, skipped; checked for what holds whatever the machine's speed.
fn side(out: &str, name: &str) -> [f64; 9] {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row in\n{out}"));
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let r: [f64; 9] = v.try_into().unwrap();
    let [n, min, avg, p50, p99, p999, max, misses, skipped] = r;
    assert!(n > 0.0, "{line}");
    assert!(
        min <= p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{line}"
    );
    assert!(min <= avg && avg <= max, "{line}");
    assert!(misses <= n, "{line}");
    // A skipped period comes from a wakeup a whole period late: also a miss (threshold P/2).
    assert!(skipped == 0.0 || misses > 0.0, "{line}");
    r
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("evl-examples-{}-{name}", std::process::id()))
}

/// The CSV written by `latency --csv`: its side names and count columns.
fn read_csv(path: &PathBuf) -> (Vec<String>, Vec<Vec<u64>>) {
    let text = std::fs::read_to_string(path).expect("CSV written");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(&header[..2], ["bucket_lo_us", "bucket_hi_us"]);
    let mut cols = vec![Vec::new(); header.len() - 2];
    let mut last_hi = 0.0f64;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), header.len(), "row {l}");
        assert_eq!(
            f[0].parse::<f64>().unwrap(),
            last_hi,
            "buckets are contiguous"
        );
        last_hi = f[1].parse().unwrap(); // "inf" parses as infinity
        for (k, c) in cols.iter_mut().enumerate() {
            c.push(f[2 + k].parse().expect("counts are integers"));
        }
    }
    assert!(last_hi.is_infinite());
    (header[2..].to_vec(), cols)
}

#[test]
fn latency_count_mode_writes_csv_and_svg() {
    let _g = serial();
    let (csv, svg) = (tmp("lat.csv"), tmp("lat.svg"));
    let out = report(
        "latency",
        &[
            "--count",
            "300",
            "--period-us",
            "1000",
            "--priority",
            "0",
            "--quiet",
            "--csv",
            csv.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert_eq!(
        field(&out, "latency", "threshold"),
        500.0,
        "half the period by default"
    );
    let evl = side(&out, "evl");
    assert_eq!(evl[0], 300.0, "--count gives exactly that many samples");
    assert_eq!(
        count(&out, "heap allocations", "evl"),
        0,
        "the measured loop allocates nothing"
    );

    let (names, cols) = read_csv(&csv);
    assert_eq!(names, ["evl"]);
    assert_eq!(cols[0].iter().sum::<u64>(), 300);

    let doc = std::fs::read_to_string(&svg).expect("SVG written");
    let xml = roxmltree::Document::parse(&doc).expect("the SVG is well-formed XML");
    assert_eq!(xml.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = xml.descendants().filter_map(|n| n.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("wakeup lateness")),
        "a title"
    );
    assert!(
        texts.iter().any(|t| t.trim() == "evl"),
        "a legend entry for the side"
    );
    // One bar per occupied bucket, drawn in the side's colour (as is its legend swatch).
    let nonempty = cols[0].iter().filter(|&&c| c > 0).count();
    let legend = xml
        .descendants()
        .find(|n| n.tag_name().name() == "rect" && n.attribute("width") == Some("10"));
    let fill = legend
        .and_then(|n| n.attribute("fill"))
        .expect("a legend swatch");
    let bars = xml
        .descendants()
        .filter(|n| n.tag_name().name() == "rect" && n.attribute("fill") == Some(fill))
        .count();
    assert_eq!(bars, nonempty + 1, "{doc}");
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(svg);
}

#[test]
fn latency_duration_mode_keeps_the_grid() {
    let _g = serial();
    let out = report(
        "latency",
        &[
            "--duration-s",
            "0.3",
            "--period-us",
            "500",
            "--priority",
            "0",
            "--quiet",
        ],
    );
    let evl = side(&out, "evl");
    let (ticks, skipped) = (evl[0], evl[8]);
    // Skip: every grid point before the end (600 at 2 kHz in 0.3 s) was ticked or skipped.
    assert!(ticks <= 600.0 && ticks + skipped >= 600.0, "{out}");
}

#[test]
fn latency_compare_runs_three_sides_in_blocks() {
    let _g = serial();
    let csv = tmp("cmp.csv");
    let out = report(
        "latency",
        &[
            "--compare",
            "--count",
            "120",
            "--block",
            "50",
            "--period-us",
            "1000",
            "--priority",
            "0",
            "--quiet",
            "--csv",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(count(&out, "compare", "rounds"), 3);
    for name in ["raw", "evl", "tokio"] {
        assert_eq!(side(&out, name)[0], 120.0, "{name} measured every period");
    }
    assert_eq!(count(&out, "heap allocations", "raw"), 0);
    assert_eq!(count(&out, "heap allocations", "evl"), 0);
    assert!(field(&out, "ratios", "evl/raw") >= 0.0);
    let (names, cols) = read_csv(&csv);
    assert_eq!(names, ["raw", "evl", "tokio"]);
    for col in cols {
        assert_eq!(col.iter().sum::<u64>(), 120);
    }
    let _ = std::fs::remove_file(csv);
}
