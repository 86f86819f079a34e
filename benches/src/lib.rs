//! Shared measurement helpers of the benchmarks (see `benches/` and README.md).
//!
//! The machines these run on are noisy 2-vCPU VMs, so the harness does not try to measure
//! an absolute cost; it compares runtimes *under the same noise*:
//!
//! * a case is a set of runners (one per runtime), each of which performs one **block** of
//!   work (say 10,000 yields) and returns the time it took, measured by the runtime itself;
//! * blocks are **interleaved**: round 0 runs A B C D, round 1 runs B C D A, and so on (the
//!   rotation keeps any one runtime from always following the same other one), so a burst
//!   of noise or a frequency change hits every runtime alike;
//! * each runtime's result is the median and the 90th percentile of its per-op times over
//!   the blocks (a block's time divided by its op count), after warm-up rounds are dropped;
//! * the verdict is a **ratio** against a reference runtime measured in the same run.
//!
//! No criterion: its statistics assume a quiet machine and it takes minutes per case.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How much to measure. [`Config::from_env`] reads the knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Measured rounds per case (each round runs one block of every runtime).
    pub rounds: usize,
    /// Rounds run first and thrown away (caches, allocator pools, CPU frequency).
    pub warmup: usize,
    /// Only cases whose name contains this run.
    pub filter: Option<String>,
}

impl Config {
    /// Default rounds (the whole `executor` bench then takes well under a minute).
    pub const ROUNDS: usize = 501;
    /// Default warm-up rounds.
    pub const WARMUP: usize = 5;

    /// `EVL_BENCH_SCALE` (a positive number, default 1) multiplies the rounds;
    /// `EVL_BENCH_FILTER` keeps only the cases whose name contains it.
    pub fn from_env() -> Config {
        let scale = match std::env::var("EVL_BENCH_SCALE") {
            Ok(s) => match s.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => v,
                _ => {
                    eprintln!("EVL_BENCH_SCALE={s:?} is not a positive number; using 1");
                    1.0
                }
            },
            Err(_) => 1.0,
        };
        Config {
            rounds: ((Self::ROUNDS as f64 * scale).round() as usize).max(3),
            warmup: Self::WARMUP,
            filter: std::env::var("EVL_BENCH_FILTER")
                .ok()
                .filter(|f| !f.is_empty()),
        }
    }

    /// Whether the case `name` is selected.
    pub fn selected(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }
}

/// One runtime's way of running one block of a case; returns the block's duration, as
/// measured inside the runtime (so setup and hand-off costs stay out of it).
pub type Runner<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// A case: the same work, once per runtime.
pub struct Case<'a> {
    /// Short name, shown in the tables.
    pub name: &'static str,
    /// What one op is (shown with the per-op times).
    pub op: &'static str,
    /// Ops in one block (the divisor for per-op times).
    pub ops_per_block: u64,
    /// `(runtime, runner)` pairs.
    pub runners: Vec<(&'static str, Runner<'a>)>,
}

impl std::fmt::Debug for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("ops_per_block", &self.ops_per_block)
            .field(
                "runtimes",
                &self.runners.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Per-op statistics of one runtime in one case.
#[derive(Debug, Clone)]
pub struct Stats {
    /// The runtime.
    pub runtime: &'static str,
    /// Median per-op time over the blocks, ns.
    pub median_ns: f64,
    /// 90th percentile per-op time over the blocks, ns.
    pub p90_ns: f64,
    /// Per-op time of each measured block, ns, in round order.
    pub blocks_ns: Vec<f64>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: &'static str,
    /// What one op is.
    pub op: &'static str,
    /// Ops per block.
    pub ops_per_block: u64,
    /// One entry per runtime, in the case's order.
    pub stats: Vec<Stats>,
}

impl CaseResult {
    /// The statistics of `runtime`.
    pub fn get(&self, runtime: &str) -> Option<&Stats> {
        self.stats.iter().find(|s| s.runtime == runtime)
    }

    /// `subject`'s median over `reference`'s median (below 1: `subject` is faster).
    pub fn ratio(&self, subject: &str, reference: &str) -> Option<f64> {
        Some(self.get(subject)?.median_ns / self.get(reference)?.median_ns)
    }

    /// `subject`'s p90 over `reference`'s p90.
    pub fn ratio_p90(&self, subject: &str, reference: &str) -> Option<f64> {
        Some(self.get(subject)?.p90_ns / self.get(reference)?.p90_ns)
    }
}

/// The value below which a fraction `q` (0..=1) of `sorted` lies (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `case` as interleaved, rotated blocks and returns its statistics.
pub fn run(cfg: &Config, mut case: Case<'_>) -> CaseResult {
    let n = case.runners.len();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(cfg.rounds); n];
    for round in 0..cfg.warmup + cfg.rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let took = (case.runners[i].1)();
            if round >= cfg.warmup {
                samples[i].push(took.as_nanos() as f64 / case.ops_per_block as f64);
            }
        }
    }
    let stats = case
        .runners
        .iter()
        .zip(samples)
        .map(|((runtime, _), blocks_ns)| {
            let mut sorted = blocks_ns.clone();
            sorted.sort_by(f64::total_cmp);
            Stats {
                runtime,
                median_ns: percentile(&sorted, 0.5),
                p90_ns: percentile(&sorted, 0.9),
                blocks_ns,
            }
        })
        .collect();
    CaseResult {
        name: case.name,
        op: case.op,
        ops_per_block: case.ops_per_block,
        stats,
    }
}

/// Times `f`: a helper for runners that measure inside their runtime.
pub fn time<R>(f: impl FnOnce() -> R) -> (Duration, R) {
    let t0 = Instant::now();
    let r = f();
    (t0.elapsed(), r)
}

/// One case's table: per-op median and p90 of each runtime, and `reference`'s ratio
/// against each other runtime (`reference/peer`: below 1 means the reference is faster).
pub fn report(r: &CaseResult, reference: &str) -> String {
    let mut s = String::new();
    let blocks = r.stats.first().map_or(0, |s| s.blocks_ns.len());
    let _ = writeln!(
        s,
        "\n{}  ({} {} per block, {blocks} blocks each)",
        r.name, r.ops_per_block, r.op
    );
    let _ = writeln!(
        s,
        "  {:<16} {:>12} {:>12}   {:>16} {:>12}",
        "runtime",
        "median ns/op",
        "p90 ns/op",
        format!("{reference}/x median"),
        "p90 ratio"
    );
    for st in &r.stats {
        let (m, p) = if st.runtime == reference {
            ("reference".to_string(), String::new())
        } else {
            (
                format!("{:.2}", r.ratio(reference, st.runtime).unwrap_or(f64::NAN)),
                format!(
                    "{:.2}",
                    r.ratio_p90(reference, st.runtime).unwrap_or(f64::NAN)
                ),
            )
        };
        let _ = writeln!(
            s,
            "  {:<16} {:>12.1} {:>12.1}   {:>16} {:>12}",
            st.runtime, st.median_ns, st.p90_ns, m, p
        );
    }
    s
}

/// A target of the form "`subject`/`peer` median ratio at most `limit`".
#[derive(Debug, Clone)]
pub struct Target {
    /// The case it applies to.
    pub case: &'static str,
    /// The runtime it compares against.
    pub peer: &'static str,
    /// The largest acceptable ratio.
    pub limit: f64,
}

/// The closing table: each target, the ratio this run measured, and whether it was met.
/// A report, not an assertion: one noisy run decides nothing on its own.
pub fn targets_table(results: &[CaseResult], subject: &str, targets: &[Target]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {:<28} {:<26} {:>10} {:>6}",
        "case", "target", "measured", "met"
    );
    for t in targets {
        let measured = results
            .iter()
            .find(|r| r.name == t.case)
            .and_then(|r| r.ratio(subject, t.peer));
        let (m, met) = match measured {
            Some(v) => (format!("{v:.2}"), if v <= t.limit { "yes" } else { "NO" }),
            None => ("-".to_string(), "not run"),
        };
        let _ = writeln!(
            s,
            "  {:<28} {:<26} {:>10} {:>6}",
            t.case,
            format!("{subject}/{} <= {:.2}", t.peer, t.limit),
            m,
            met
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&v, 1.0), 10.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[3.0], 0.9), 3.0);
    }

    #[test]
    fn blocks_are_interleaved_and_rotated() {
        let order = std::cell::RefCell::new(Vec::new());
        let runner = |name: &'static str| -> Runner<'_> {
            let order = &order;
            Box::new(move || {
                order.borrow_mut().push(name);
                Duration::from_nanos(match name {
                    "a" => 100,
                    "b" => 200,
                    _ => 400,
                })
            })
        };
        let cfg = Config {
            rounds: 3,
            warmup: 1,
            filter: None,
        };
        let r = run(
            &cfg,
            Case {
                name: "case",
                op: "ops",
                ops_per_block: 10,
                runners: vec![("a", runner("a")), ("b", runner("b")), ("c", runner("c"))],
            },
        );
        assert_eq!(
            *order.borrow(),
            ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
        );
        assert_eq!(r.get("a").unwrap().blocks_ns, [10.0; 3], "warm-up dropped");
        assert_eq!(r.get("b").unwrap().median_ns, 20.0);
        assert_eq!(r.ratio("a", "c"), Some(0.25));
        let table = targets_table(
            &[r],
            "a",
            &[
                Target {
                    case: "case",
                    peer: "b",
                    limit: 0.8,
                },
                Target {
                    case: "case",
                    peer: "c",
                    limit: 0.2,
                },
            ],
        );
        let lines: Vec<_> = table.lines().collect();
        assert!(
            lines[1].contains("0.50") && lines[1].ends_with("yes"),
            "{table}"
        );
        assert!(
            lines[2].contains("0.25") && lines[2].ends_with("NO"),
            "{table}"
        );
    }
}
