//! Real-time placement (SCHED_FIFO priority, CPU, memory locking) with a printed fallback to
//! SCHED_OTHER, and a progress line printed by an ordinary thread off the measured path.

use crate::args::RtOpts;
use evl::core::thread::{CpuSet, SchedPolicy, Thread, ThreadConfig};
use evl::{ErrorKind, ExecutorConfig};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Where the real-time part runs, after checking what this process may do.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The policy it will get.
    pub policy: SchedPolicy,
    /// The CPU it is pinned to, if any.
    pub cpu: Option<usize>,
    /// Whether attaching locks memory.
    pub lock_memory: bool,
    /// What had to change from the request, and why (already printed by [`Placement::probe`]).
    pub notes: Vec<String>,
}

impl Placement {
    /// Tries `opts` on the calling thread (attach, then detach at once) and falls back: first
    /// to no memory locking, then to SCHED_OTHER, when the privilege is missing. Each fallback
    /// is printed as a `note:` line on stderr. The calling thread must not be attached.
    pub fn probe(opts: &RtOpts) -> evl::Result<Placement> {
        let mut p = Placement {
            policy: if opts.priority == 0 {
                SchedPolicy::Other
            } else {
                SchedPolicy::Fifo(opts.priority)
            },
            cpu: opts.cpu,
            lock_memory: opts.lock_memory && opts.priority > 0,
            notes: Vec::new(),
        };
        loop {
            match p.attach("probe") {
                Ok(t) => {
                    drop(t);
                    break;
                }
                Err(e)
                    if e.kind() == ErrorKind::PermissionDenied
                        && p.lock_memory
                        && e.hint().contains("locking memory") =>
                {
                    p.notes.push(format!("{e}; running with memory unlocked"));
                    p.lock_memory = false;
                }
                Err(e)
                    if e.kind() == ErrorKind::PermissionDenied
                        && p.policy != SchedPolicy::Other =>
                {
                    p.notes.push(format!(
                        "{e}; running at SCHED_OTHER instead, which measures the machine's load, not the real-time path"
                    ));
                    p.policy = SchedPolicy::Other;
                }
                Err(e) => return Err(e),
            }
        }
        for n in &p.notes {
            eprintln!("note: {n}");
        }
        Ok(p)
    }

    /// The same placement at another priority (kept at SCHED_OTHER if this one is), for a
    /// helper executor; `None` leaves the CPU free.
    pub fn with_priority(&self, prio: u8, cpu: Option<usize>) -> Placement {
        Placement {
            policy: match self.policy {
                SchedPolicy::Fifo(_) => SchedPolicy::Fifo(prio.clamp(1, 99)),
                SchedPolicy::Other => SchedPolicy::Other,
            },
            cpu,
            lock_memory: self.lock_memory,
            notes: Vec::new(),
        }
    }

    /// The SCHED_FIFO priority, 0 at SCHED_OTHER.
    pub fn priority(&self) -> u8 {
        match self.policy {
            SchedPolicy::Fifo(p) => p,
            SchedPolicy::Other => 0,
        }
    }

    /// An executor config for this placement.
    pub fn executor(&self, name: &'static str) -> ExecutorConfig {
        // Stage-switch reports cost nothing until a switch happens; the examples always
        // want to see them.
        let mut c = ExecutorConfig::new(name)
            .policy(self.policy)
            .lock_memory(self.lock_memory)
            .warn_stage_switches(true);
        if let Some(cpu) = self.cpu {
            c = c.cpu(cpu);
        }
        c
    }

    /// Attaches the calling thread with this placement.
    pub fn attach(&self, name: &str) -> evl::Result<Thread> {
        let mut cfg = ThreadConfig::new(name)
            .policy(self.policy)
            .lock_memory(self.lock_memory)
            .warn_stage_switches(true);
        if let Some(cpu) = self.cpu {
            cfg = cfg.cpus(CpuSet::single(cpu)?);
        }
        Thread::attach(cfg)
    }

    /// E.g. `SCHED_FIFO 80, CPU 1, memory locked`.
    pub fn describe(&self) -> String {
        let pol = match self.policy {
            SchedPolicy::Fifo(p) => format!("SCHED_FIFO {p}"),
            SchedPolicy::Other => "SCHED_OTHER".to_string(),
        };
        let cpu = match self.cpu {
            Some(c) => format!("CPU {c}"),
            None => "any CPU".to_string(),
        };
        let mem = if self.lock_memory {
            "memory locked"
        } else {
            "memory not locked"
        };
        format!("{pol}, {cpu}, {mem}")
    }
}

/// Counters a measured loop updates with relaxed stores (no system call, no allocation) and
/// a [`Progress`] thread reads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Samples so far.
    pub samples: AtomicU64,
    /// Largest lateness so far, ns.
    pub max_ns: AtomicU64,
    /// Deadline misses so far.
    pub misses: AtomicU64,
}

impl Counters {
    /// Records one sample (called by the loop).
    #[inline]
    pub fn sample(&self, lateness_ns: u64, miss: bool) {
        self.samples.fetch_add(1, Relaxed);
        if lateness_ns > self.max_ns.load(Relaxed) {
            self.max_ns.store(lateness_ns, Relaxed);
        }
        if miss {
            self.misses.fetch_add(1, Relaxed);
        }
    }
}

/// Prints `label  12.0 s  12000/60000 samples  max 85.3 us  misses 2` once a second on
/// stderr, overwritten with `\r`, from an ordinary thread, so the measured loop does no I/O.
/// Only when enabled and stderr is a terminal; the line is erased when it stops.
#[derive(Debug)]
pub struct Progress {
    counters: Arc<Counters>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts it (a thread) when `enabled` and stderr is a terminal.
    pub fn start(label: &str, total: u64, enabled: bool) -> Progress {
        let counters = Arc::new(Counters::default());
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                counters,
                stop: None,
                thread: None,
            };
        }
        let (tx, rx) = mpsc::channel::<()>();
        let c = counters.clone();
        let label = label.to_string();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let t0 = std::time::Instant::now();
                let mut printed = false;
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(Duration::from_secs(1))
                {
                    let line = format!(
                        "{label}  {:.0} s  {}/{} samples  max {} us  misses {}",
                        t0.elapsed().as_secs_f64(),
                        c.samples.load(Relaxed),
                        total,
                        crate::report::us(c.max_ns.load(Relaxed)),
                        c.misses.load(Relaxed)
                    );
                    let mut e = std::io::stderr().lock();
                    let _ = write!(e, "\r{line:<78}");
                    let _ = e.flush();
                    printed = true;
                }
                if printed {
                    let _ = write!(std::io::stderr(), "\r{:78}\r", "");
                }
            })
            .ok();
        Progress {
            counters,
            stop: Some(tx),
            thread,
        }
    }

    /// The counters the loop updates.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Stops the thread and erases the line.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The counting allocator the example programs install (per-thread totals, see
/// `evl_alloc_count::thread_total`), so every report can say how many allocations the
/// measured loop made:
///
/// ```text
/// #[global_allocator]
/// static ALLOC: evl_examples::rt::CountingAlloc = evl_examples::rt::CountingAlloc;
/// ```
pub use evl_alloc_count::CountingAlloc;

/// Makes [`alloc_count`] report the counting allocator's per-thread total (call it from
/// `main` of a program that installed [`CountingAlloc`]).
pub fn install_alloc_probe() {
    let _ = ALLOC_PROBE.set(evl_alloc_count::thread_total);
}

static ALLOC_PROBE: std::sync::OnceLock<fn() -> u64> = std::sync::OnceLock::new();

/// The calling thread's allocation count, when a counting allocator is installed (see
/// [`install_alloc_probe`]); `None` otherwise.
#[inline]
pub fn alloc_count() -> Option<u64> {
    ALLOC_PROBE.get().map(|f| f())
}

/// Counts the allocations a loop makes between [`begin`](AllocWindow::begin) (call it after
/// the first wakeup, once everything is set up) and [`end`](AllocWindow::end), over several
/// windows. Reports `None` without a counting allocator.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocWindow {
    start: Option<u64>,
    total: Option<u64>,
}

impl AllocWindow {
    /// Opens a window (a no-op if one is open).
    #[inline]
    pub fn begin(&mut self) {
        if self.start.is_none() {
            self.start = alloc_count();
        }
    }

    /// Closes the open window, adding its allocations.
    #[inline]
    pub fn end(&mut self) {
        if let (Some(s), Some(e)) = (self.start.take(), alloc_count()) {
            self.total = Some(self.total.unwrap_or(0) + (e - s));
        }
    }

    /// Allocations counted in the windows so far, or `None` if nothing could be counted.
    pub fn total(&self) -> Option<u64> {
        self.total
    }
}

/// `"0"`-style text for a report line: the count, or why there is none.
pub fn allocs_text(a: Option<u64>) -> String {
    match a {
        Some(n) => n.to_string(),
        None => "not counted (no counting allocator)".to_string(),
    }
}
