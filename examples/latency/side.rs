//! One measured side (raw, evl or tokio): its lateness histogram and counts, recorded in the
//! measured loop without allocating or making a system call, and the progress line an
//! ordinary thread prints from counters the loop updates.

use crate::syscalls;
use evl::core::stage::{self, StageSwitches};
use hdrhistogram::Histogram;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Lateness histograms: 1 ns to 10 s at 3 significant digits. Recording a sample into one
/// (`saturating_record`) is index arithmetic on the counts allocated here, never an allocation
/// or a lock, so it may run in the measured loop (the tests check the loop's allocation count).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid histogram bounds")
}

/// One measured side.
pub struct Side {
    /// `raw`, `evl` or `tokio`.
    pub name: &'static str,
    /// Lateness of every wakeup, ns.
    pub hist: Histogram<u64>,
    /// Wakeups later than the threshold.
    pub misses: u64,
    /// Periods lost to late wakeups (Skip: a wakeup a whole period late skips what it overran).
    pub skipped: u64,
    /// Heap allocations of the measuring thread inside the loops, first wakeup of each block
    /// to its last.
    pub allocs: u64,
    /// Demotions of the measuring thread to the in-band stage inside the loops, as the EVL
    /// core reported them (none on the host backend, which has no stages).
    pub stage_switches: StageSwitches,
    /// System calls per wakeup inside the loops, where they can be counted.
    pub syscalls_per_wakeup: Option<f64>,
    syscalls: syscalls::Window,
    /// At the first sample of the open block: the allocation count and the stage switches.
    block: Option<(u64, StageSwitches)>,
    threshold_ns: u64,
}

impl Side {
    pub fn new(name: &'static str, threshold: Duration) -> Side {
        Side {
            name,
            hist: new_histogram(),
            misses: 0,
            skipped: 0,
            allocs: 0,
            stage_switches: StageSwitches::default(),
            syscalls_per_wakeup: None,
            syscalls: syscalls::Window::default(),
            block: None,
            threshold_ns: threshold.as_nanos() as u64,
        }
    }

    /// Records one wakeup `late_ns` late that skipped `skipped` periods.
    #[inline]
    pub fn record(&mut self, late_ns: u64, skipped: u64, counters: &Counters) {
        let miss = late_ns > self.threshold_ns;
        self.hist.saturating_record(late_ns);
        self.misses += miss as u64;
        self.skipped += skipped;
        counters.sample(late_ns, miss);
        // Opens the system-call window at the first sample of a block (one reading), before
        // the allocation window, which must not see the reading.
        self.syscalls.wakeup();
        if self.block.is_none() {
            // Thread-local reads: no system call.
            self.block = Some((evl_alloc_count::thread_total(), stage::thread_switches()));
        }
    }

    /// Closes the block's windows.
    pub fn end_block(&mut self) {
        if let Some((allocs, switches)) = self.block.take() {
            self.allocs += evl_alloc_count::thread_total() - allocs;
            let d = stage::thread_switches().since(&switches);
            for (t, v) in self.stage_switches.by_cause.iter_mut().zip(d.by_cause) {
                *t += v;
            }
        }
        self.syscalls.end();
        self.syscalls_per_wakeup = self.syscalls.per_wakeup();
    }
}

/// Counters the measured loops update with relaxed atomics and [`Progress`] reads.
#[derive(Default)]
pub struct Counters {
    samples: AtomicU64,
    max_ns: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    #[inline]
    fn sample(&self, late_ns: u64, miss: bool) {
        self.samples.fetch_add(1, Relaxed);
        self.max_ns.fetch_max(late_ns, Relaxed);
        self.misses.fetch_add(miss as u64, Relaxed);
    }
}

/// `latency  12 s  12000/60000 samples  max 85.3 us  misses 2`, once a second on stderr
/// (when it is a terminal and not `--quiet`), from an ordinary thread: the loop does no I/O.
pub struct Progress {
    pub counters: Arc<Counters>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &'static str, total: u64, enabled: bool) -> Progress {
        let counters = Arc::new(Counters::default());
        let mut p = Progress {
            counters: counters.clone(),
            stop: None,
            thread: None,
        };
        if !enabled || !std::io::stderr().is_terminal() {
            return p;
        }
        let (tx, rx) = mpsc::channel::<()>();
        let t0 = Instant::now();
        p.stop = Some(tx);
        p.thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                while rx.recv_timeout(Duration::from_secs(1))
                    == Err(mpsc::RecvTimeoutError::Timeout)
                {
                    let line = format!(
                        "{label}  {:.0} s  {}/{total} samples  max {:.1} us  misses {}",
                        t0.elapsed().as_secs_f64(),
                        counters.samples.load(Relaxed),
                        counters.max_ns.load(Relaxed) as f64 / 1e3,
                        counters.misses.load(Relaxed)
                    );
                    let _ = write!(std::io::stderr(), "\r{line:<78}");
                }
                let _ = write!(std::io::stderr(), "\r{:78}\r", "");
            })
            .ok();
        p
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
