//! The meter's report, after the measured loops (so it may allocate): the summary table, a
//! text histogram, the CSV file and the SVG plot, on a 1-2-5 log scale of lateness buckets.

use crate::side::Side;
use crate::Summary;
use hdrhistogram::Histogram;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Upper edges (exclusive) of the display buckets, ns: 100 ns, 200 ns, 500 ns, 1 us, ... 10 s.
const EDGES_NS: [u64; 25] = [
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// One bucket below the first edge, one between each pair, one above the last.
pub const BUCKETS: usize = EDGES_NS.len() + 1;

/// Samples per display bucket.
pub fn display_counts(h: &Histogram<u64>) -> [u64; BUCKETS] {
    let mut counts = [0; BUCKETS];
    for v in h.iter_recorded() {
        let value = h.lowest_equivalent(v.value_iterated_to());
        counts[EDGES_NS.partition_point(|&e| e <= value)] += v.count_at_value();
    }
    counts
}

/// `[lo, hi)` of display bucket `i` in ns; `hi` is `None` for the last one.
fn bounds(i: usize) -> (u64, Option<u64>) {
    let lo = if i == 0 { 0 } else { EDGES_NS[i - 1] };
    (lo, EDGES_NS.get(i).copied())
}

/// `500ns`, `2us`, `10ms`, `1s`.
fn short(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{}us", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{}ms", ns / 1_000_000),
        _ => format!("{}s", ns / 1_000_000_000),
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// The summary table, the counts the house rules care about, the text histogram and the
/// `--compare` ratios, on stdout.
pub fn print(s: &Summary, quiet: bool) {
    println!(
        "latency: backend {}, {}, period {} us ({:.0} Hz), miss threshold {} us",
        s.backend,
        s.placement,
        us(s.period.as_nanos() as u64),
        1e9 / s.period.as_nanos() as f64,
        us(s.threshold.as_nanos() as u64)
    );
    if let Some((rounds, block)) = s.rounds {
        println!("compare: rounds {rounds} of one {block}-period block per side, order rotating (raw evl tokio, evl tokio raw, tokio raw evl), one thread");
    }
    if s.interrupted {
        println!("(interrupted: partial results)");
    }
    let row = |c: [&str; 10]| {
        println!(
            "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
        )
    };
    row([
        "side", "samples", "min", "avg", "p50", "p99", "p99.9", "max", "misses", "skipped",
    ]);
    for x in &s.sides {
        let h = &x.hist;
        let q = |q| us(h.value_at_quantile(q));
        let avg = format!("{:.1}", h.mean() / 1e3);
        let (n, misses, skipped) = (
            h.len().to_string(),
            x.misses.to_string(),
            x.skipped.to_string(),
        );
        row([
            x.name,
            &n,
            &us(h.min()),
            &avg,
            &q(0.5),
            &q(0.99),
            &q(0.999),
            &us(h.max()),
            &misses,
            &skipped,
        ]);
    }
    println!("(lateness in us; misses: wakeups later than the threshold; skipped: periods lost to late wakeups)");
    let each = |f: &dyn Fn(&Side) -> String| -> String {
        let v: Vec<String> = s
            .sides
            .iter()
            .map(|x| format!("{} {}", x.name, f(x)))
            .collect();
        v.join(", ")
    };
    println!(
        "heap allocations inside the measured loops: {}",
        each(&|x| x.allocs.to_string())
    );
    match &s.syscalls_not_counted {
        Some(why) => println!("system calls per wakeup: not counted ({why})"),
        None => {
            let how = match s.backend {
                evl::Backend::Evl => "out-of-band calls, counted by the core",
                _ => "raw_syscalls:sys_enter of the measuring thread",
            };
            let per = |x: &Side| {
                x.syscalls_per_wakeup
                    .map_or("-".into(), |v| format!("{v:.2}"))
            };
            println!("system calls per wakeup ({how}): {}", each(&per));
        }
    }
    if s.backend == evl::Backend::Evl {
        // The tokio side's thread is not attached: the core counts nothing for it.
        let sw: Vec<String> = (s.sides.iter().filter(|x| x.name != "tokio"))
            .map(|x| format!("{} {}", x.name, x.stage_switches))
            .collect();
        println!(
            "in-band stage switches inside the measured loops (reported by the core): {}",
            sw.join(", ")
        );
    }
    if !quiet {
        println!("histogram of lateness:");
        print!("{}", text_histogram(&s.sides));
    }
    if s.rounds.is_some() {
        compare(&s.sides);
    }
}

/// `--compare`: evl and tokio over raw at p50 and p99, against the target "evl/raw within
/// 1.05 at p50 and p99, min within +2 us of raw".
fn compare(sides: &[Side]) {
    let q = |i: usize, q: f64| sides[i].hist.value_at_quantile(q) as f64;
    let ratio = |i: usize, p: f64| q(i, p) / q(0, p); // infinite over a zero raw quantile
    let (evl50, evl99) = (ratio(1, 0.5), ratio(1, 0.99));
    println!(
        "ratios at p50: evl/raw {evl50:.3}  tokio/raw {:.3};  at p99: evl/raw {evl99:.3}  tokio/raw {:.3}",
        ratio(2, 0.5),
        ratio(2, 0.99)
    );
    let min_diff_us = (sides[1].hist.min() as f64 - sides[0].hist.min() as f64) / 1e3;
    println!("min(evl) - min(raw) = {min_diff_us:+.1} us");
    let verdict = |met: bool| if met { "met" } else { "not met" };
    println!(
        "target \"evl/raw within 1.05 at p50 and p99, min within +2 us of raw\": p50 {} ({evl50:.3}), p99 {} ({evl99:.3}), min {} ({min_diff_us:+.1} us) [one run on this machine, not a pass/fail]",
        verdict(evl50 <= 1.05),
        verdict(evl99 <= 1.05),
        verdict(min_diff_us <= 2.0),
    );
}

fn bucket_label(i: usize) -> String {
    match bounds(i) {
        (lo, Some(hi)) => format!("[{:>5}, {:>5})", short(lo), short(hi)),
        (lo, None) => format!("[{:>5},   inf)", short(lo)),
    }
}

/// Display buckets from the first to the last occupied one: a bar per bucket for one side
/// (log-scaled, so a single outlier still shows), a count column per side for several.
fn text_histogram(sides: &[Side]) -> String {
    let counts: Vec<[u64; BUCKETS]> = sides.iter().map(|x| display_counts(&x.hist)).collect();
    let used = |i: usize| counts.iter().any(|c| c[i] > 0);
    let (Some(first), Some(last)) = (
        (0..BUCKETS).find(|&i| used(i)),
        (0..BUCKETS).rfind(|&i| used(i)),
    ) else {
        return "  (no samples)\n".into();
    };
    let mut out = String::new();
    if let [one] = &counts[..] {
        let top = (*one.iter().max().unwrap_or(&1)).max(2) as f64;
        for (i, &c) in one.iter().enumerate().take(last + 1).skip(first) {
            let bar = if c == 0 {
                0
            } else {
                1 + (49.0 * (c as f64).ln() / top.ln()).round() as usize
            };
            let _ = writeln!(out, "  {} {c:>10} {}", bucket_label(i), "#".repeat(bar));
        }
        return out;
    }
    let _ = write!(out, "  {:<16}", "lateness");
    for x in sides {
        let _ = write!(out, " {:>10}", x.name);
    }
    for i in first..=last {
        let _ = write!(out, "\n  {:<16}", bucket_label(i));
        for c in &counts {
            let _ = write!(out, " {:>10}", c[i]);
        }
    }
    out.push('\n');
    out
}

/// `bucket_lo_us,bucket_hi_us,<side>...`, then a row per display bucket (all of them; the
/// last `bucket_hi_us` is `inf`).
pub fn csv(sides: &[Side]) -> String {
    let counts: Vec<[u64; BUCKETS]> = sides.iter().map(|x| display_counts(&x.hist)).collect();
    let mut out = String::from("bucket_lo_us,bucket_hi_us");
    for x in sides {
        out = out + "," + x.name;
    }
    for i in 0..BUCKETS {
        let (lo, hi) = bounds(i);
        let hi = hi.map_or("inf".into(), |h| (h as f64 / 1e3).to_string());
        let _ = write!(out, "\n{},{hi}", lo as f64 / 1e3);
        for c in &counts {
            let _ = write!(out, ",{}", c[i]);
        }
    }
    out.push('\n');
    out
}

/// The display histogram as an SVG bar chart (plotters): occupied buckets along x, counts on
/// a log y axis, one bar per side and bucket.
pub fn svg(title: &str, sides: &[Side]) -> Result<String, Box<dyn std::error::Error>> {
    let counts: Vec<[u64; BUCKETS]> = sides.iter().map(|x| display_counts(&x.hist)).collect();
    let used = |i: &usize| counts.iter().any(|c| c[*i] > 0);
    let first = (0..BUCKETS).find(used).unwrap_or(0);
    let last = (0..BUCKETS).rfind(used).unwrap_or(0);
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut doc = String::new();
    {
        let root = SVGBackend::with_string(&mut doc, (900, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                first as f64..(last + 1) as f64,
                (0.5..top * 2.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(last - first + 2)
            .x_label_formatter(&|x| short(bounds(*x as usize).0))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("lateness (bucket lower bounds, log scale)")
            .y_desc("samples (log scale)")
            .draw()?;
        let width = 0.8 / sides.len() as f64;
        for (k, (side, c)) in sides.iter().zip(&counts).enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let bars = (first..=last).filter(|&i| c[i] > 0).map(|i| {
                let x = i as f64 + 0.1 + width * k as f64;
                Rectangle::new([(x, 0.5), (x + width, c[i] as f64)], color.filled())
            });
            chart
                .draw_series(bars)?
                .label(side.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(doc)
}
