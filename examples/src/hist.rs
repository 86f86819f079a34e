//! Latency histograms of fixed size: recording a sample is index arithmetic on arrays that
//! were allocated when the histogram was built, never an allocation.
//!
//! Two views of the same samples:
//! - **fine** buckets, log-linear (HDR style): values below 128 ns have a bucket each, above
//!   that every power of two is split into 128 equal buckets, so a bucket is at most 1/128
//!   (0.8 %) of its value wide. Percentiles come from these, to within half a bucket
//!   (0.4 %); min, max and mean are exact.
//! - **display** buckets on a 1-2-5 log scale (100 ns, 200 ns, 500 ns, 1 µs, ... 10 s): the
//!   text histogram, the CSV file and the SVG plot.

use core::fmt;

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Number of fine buckets: every `u64` has one.
pub const FINE_BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

/// Upper edges (exclusive) of the display buckets, in ns; the last bucket is open-ended.
pub const DISPLAY_EDGES_NS: [u64; 25] = [
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
/// Number of display buckets: one below the first edge, one between each pair, one above.
pub const DISPLAY_BUCKETS: usize = DISPLAY_EDGES_NS.len() + 1;

/// The fine bucket of `v` ns.
pub fn fine_index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let sub = (v >> shift) as usize - SUB; // v >> shift is in [SUB, 2 SUB)
    SUB + shift as usize * SUB + sub
}

/// The values `[lo, hi]` (both inclusive) of fine bucket `i`.
pub fn fine_bounds(i: usize) -> (u64, u64) {
    assert!(i < FINE_BUCKETS, "fine bucket {i} out of range");
    if i < SUB {
        return (i as u64, i as u64);
    }
    let shift = ((i - SUB) / SUB) as u32;
    let sub = (i - SUB) % SUB;
    let lo = ((SUB + sub) as u64) << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

/// The display bucket of `v` ns.
pub fn display_index(v: u64) -> usize {
    DISPLAY_EDGES_NS.partition_point(|&edge| edge <= v)
}

/// The range `[lo, hi)` of display bucket `i` in ns; `hi` is `None` for the last one.
pub fn display_bounds(i: usize) -> (u64, Option<u64>) {
    assert!(i < DISPLAY_BUCKETS, "display bucket {i} out of range");
    let lo = if i == 0 { 0 } else { DISPLAY_EDGES_NS[i - 1] };
    (lo, DISPLAY_EDGES_NS.get(i).copied())
}

/// A short label for a duration in ns on the display scale: `500ns`, `2us`, `10ms`, `1s`.
pub fn short_label(ns: u64) -> String {
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{}us", ns / 1_000)
    } else if ns < 1_000_000_000 {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{}s", ns / 1_000_000_000)
    }
}

/// Summary statistics of a histogram, in ns (zero when it is empty).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Samples.
    pub count: u64,
    /// Smallest sample (exact).
    pub min: u64,
    /// Mean (exact).
    pub avg: f64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample (exact).
    pub max: u64,
}

/// A latency histogram in nanoseconds. See the [module docs](self).
#[derive(Clone)]
pub struct Histogram {
    fine: Box<[u64]>,
    display: [u64; DISPLAY_BUCKETS],
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("stats", &self.stats())
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

impl Histogram {
    /// An empty histogram; all its memory is allocated here.
    pub fn new() -> Self {
        Histogram {
            fine: vec![0; FINE_BUCKETS].into_boxed_slice(),
            display: [0; DISPLAY_BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one sample of `ns` nanoseconds. Never allocates.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.fine[fine_index(ns)] += 1;
        self.display[display_index(ns)] += 1;
        self.count += 1;
        self.sum += ns as u128;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.fine.iter_mut().zip(other.fine.iter()) {
            *a += b;
        }
        for (a, b) in self.display.iter_mut().zip(other.display.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Smallest sample, 0 when empty.
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest sample, 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean, 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The `q`-quantile (`q` in 0..=1) by the nearest-rank method: the value of the sample of
    /// rank `ceil(q * count)`. Exact for values below 256 ns and for the smallest and the
    /// largest sample; otherwise the middle of its fine bucket (within 0.4 %). 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank == 1 {
            return self.min;
        }
        if rank == self.count {
            return self.max;
        }
        let mut seen = 0u64;
        for (i, &c) in self.fine.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = fine_bounds(i);
                return (lo + (hi - lo) / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Count, min, mean, p50, p99, p99.9, max.
    pub fn stats(&self) -> Stats {
        Stats {
            count: self.count,
            min: self.min(),
            avg: self.mean(),
            p50: self.quantile(0.5),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: self.max,
        }
    }

    /// Counts per display bucket (see [`display_bounds`]).
    pub fn display_counts(&self) -> &[u64; DISPLAY_BUCKETS] {
        &self.display
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_buckets_cover_every_value_in_order() {
        assert_eq!(fine_index(0), 0);
        assert_eq!(fine_index(127), 127);
        assert_eq!(fine_index(128), 128);
        assert_eq!(fine_index(255), 255);
        assert_eq!(fine_index(256), 256);
        assert_eq!(fine_index(257), 256); // width 2 from 256 on
        assert_eq!(fine_index(u64::MAX), FINE_BUCKETS - 1);
        assert_eq!(fine_bounds(FINE_BUCKETS - 1).1, u64::MAX);
        // Buckets tile the line: each one starts right after the previous one ends.
        let mut next = 0u64;
        for i in 0..FINE_BUCKETS {
            let (lo, hi) = fine_bounds(i);
            assert_eq!(lo, next, "bucket {i}");
            assert!(hi >= lo);
            assert_eq!(fine_index(lo), i);
            assert_eq!(fine_index(hi), i);
            // At most 1/128 of the value wide.
            assert!(
                (hi - lo) as u128 * 128 <= lo as u128 + 127,
                "bucket {i} too wide"
            );
            next = hi.wrapping_add(1);
        }
        assert_eq!(next, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn display_buckets_follow_the_edges() {
        assert_eq!(display_index(0), 0);
        assert_eq!(display_index(99), 0);
        assert_eq!(display_index(100), 1);
        assert_eq!(display_index(999), 3);
        assert_eq!(display_index(1_000), 4);
        assert_eq!(display_index(1_999), 4);
        assert_eq!(display_index(10_000_000_000), DISPLAY_BUCKETS - 1);
        assert_eq!(display_index(u64::MAX), DISPLAY_BUCKETS - 1);
        assert_eq!(display_bounds(0), (0, Some(100)));
        assert_eq!(display_bounds(4), (1_000, Some(2_000)));
        assert_eq!(display_bounds(DISPLAY_BUCKETS - 1), (10_000_000_000, None));
        for v in [0, 1, 150, 999, 1_000, 49_999, 3_000_000, 7_000_000_000] {
            let (lo, hi) = display_bounds(display_index(v));
            assert!(lo <= v && hi.is_none_or(|h| v < h), "{v} in [{lo}, {hi:?})");
        }
        assert_eq!(short_label(500), "500ns");
        assert_eq!(short_label(20_000), "20us");
        assert_eq!(short_label(5_000_000), "5ms");
        assert_eq!(short_label(2_000_000_000), "2s");
    }

    #[test]
    fn percentiles_of_known_inputs() {
        // 1..=100: small values are exact.
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        let s = h.stats();
        assert_eq!((s.count, s.min, s.max), (100, 1, 100));
        assert_eq!(s.avg, 50.5);
        assert_eq!(s.p50, 50);
        assert_eq!(s.p99, 99);
        assert_eq!(s.p999, 100);
        assert_eq!(h.quantile(0.0), 1);
        assert_eq!(h.quantile(0.25), 25);

        // 1..=100_000 ns: percentiles within half a fine bucket.
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let s = h.stats();
        for (got, want) in [(s.p50, 50_000u64), (s.p99, 99_000), (s.p999, 99_900)] {
            let err = (got as f64 - want as f64).abs() / want as f64;
            assert!(err <= 0.004, "got {got}, want {want}");
        }
        assert_eq!((s.min, s.max), (1, 100_000));
        assert_eq!(s.avg, 50_000.5);

        // A tail: 990 samples at 10 us, 10 at 5 ms -> p99 is 10 us, p99.9 5 ms (to within
        // half a fine bucket), max exactly 5 ms.
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(10_000);
        }
        for _ in 0..10 {
            h.record(5_000_000);
        }
        let s = h.stats();
        assert!((9_960..=10_040).contains(&s.p50), "{}", s.p50);
        assert!((9_960..=10_040).contains(&s.p99), "{}", s.p99);
        assert!((4_980_000..=5_000_000).contains(&s.p999), "{}", s.p999);
        assert_eq!(s.max, 5_000_000);
        assert_eq!(h.display_counts()[display_index(10_000)], 990);
        assert_eq!(h.display_counts()[display_index(5_000_000)], 10);
    }

    #[test]
    fn empty_and_merge() {
        let h = Histogram::new();
        assert_eq!(h.stats(), Stats::default());
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(5);
        b.record(7_000);
        b.record(3);
        a.merge(&b);
        let s = a.stats();
        assert_eq!((s.count, s.min, s.max), (3, 3, 7_000));
        assert_eq!(a.display_counts().iter().sum::<u64>(), 3);
    }
}
