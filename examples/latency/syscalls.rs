//! System calls per wakeup of the measuring thread (a count, not a timing).
//!
//! - **host:** a `perf_event_open` counter on the `raw_syscalls:sys_enter` tracepoint,
//!   for the calling thread only. It needs root (or `CAP_PERFMON`) and tracefs: when tracefs
//!   is not mounted and the program runs as root, it is mounted at `/sys/kernel/tracing`
//!   (the program says so).
//! - **EVL:** the core's own count of the thread's out-of-band calls
//!   ([`Thread::current_core_stats`](evl::core::Thread::current_core_stats)); in-band calls
//!   are reported as stage switches.
//!
//! Each reading is itself a system call, counted in the reading: a window from one reading to
//! the next counts one call more than what ran in between, and [`Window`] takes it off.

use std::cell::RefCell;

thread_local! {
    static COUNTER: RefCell<Option<Counter>> = const { RefCell::new(None) };
}

enum Counter {
    Perf(perf_event::Counter),
    Core,
    Unavailable(String),
}

/// Sets up the counter of the calling thread (before its measured loops: this makes system
/// calls and allocates). Returns why it cannot count, if it cannot.
pub fn prepare() -> Option<String> {
    let c = open();
    let why = match &c {
        Counter::Unavailable(why) => Some(why.clone()),
        _ => None,
    };
    COUNTER.with(|k| *k.borrow_mut() = Some(c));
    why
}

fn open() -> Counter {
    if evl::core::backend::current().ok() == Some(evl::Backend::Evl) {
        return match evl::core::Thread::current_core_stats() {
            Ok(Some(_)) => Counter::Core,
            Ok(None) => Counter::Unavailable("the thread is not attached to the core".into()),
            Err(e) => Counter::Unavailable(e.to_string()),
        };
    }
    let id = match tracepoint_id() {
        Ok(id) => id,
        Err(why) => return Counter::Unavailable(why),
    };
    let built = perf_event::Builder::new(perf_event::events::Tracepoint::with_id(id))
        .observe_self()
        .any_cpu()
        .inherit(false)
        // The tracepoint fires in the kernel: the builder's default excludes it.
        .exclude_kernel(false)
        .enabled(true)
        .build();
    match built {
        Ok(c) => Counter::Perf(c),
        Err(e) => Counter::Unavailable(format!(
            "perf_event_open on raw_syscalls:sys_enter: {e} (run as root or grant CAP_PERFMON)"
        )),
    }
}

fn tracepoint_id() -> Result<u64, String> {
    const EVENT: &str = "events/raw_syscalls/sys_enter/id";
    let roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    let read = || {
        roots
            .iter()
            .find_map(|r| std::fs::read_to_string(format!("{r}/{EVENT}")).ok())
    };
    let text = match read() {
        Some(t) => t,
        None => {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return Err("tracefs is not mounted (as root, the meter mounts it)".into());
            }
            let ok = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                eprintln!("syscalls: mounted tracefs at /sys/kernel/tracing to count system calls");
            }
            read().ok_or("tracefs could not be mounted at /sys/kernel/tracing")?
        }
    };
    text.trim()
        .parse()
        .map_err(|e| format!("unreadable tracepoint id {text:?}: {e}"))
}

/// The calling thread's count so far, `None` when it cannot count (or [`prepare`] was not
/// called on this thread).
fn read() -> Option<u64> {
    COUNTER.with(|k| match k.borrow_mut().as_mut()? {
        Counter::Perf(c) => c.read().ok(),
        Counter::Core => evl::core::Thread::current_core_stats()
            .ok()
            .flatten()
            .map(|s| s.oob_syscalls),
        Counter::Unavailable(_) => None,
    })
}

/// Windows of a measured loop: calls from a first wakeup to the last, over the wakeups in
/// between.
#[derive(Debug, Default, Clone, Copy)]
pub struct Window {
    start: Option<u64>,
    wakeups: u64,
    calls: u64,
    counted_wakeups: u64,
    failed: bool,
}

impl Window {
    /// At a wakeup: opens the window at the first one (a reading), counts the others.
    #[inline]
    pub fn wakeup(&mut self) {
        if self.start.is_none() {
            self.start = read();
            self.failed |= self.start.is_none();
            self.wakeups = 0;
        } else {
            self.wakeups += 1;
        }
    }

    /// Closes the window (a reading): adds its calls and wakeups.
    pub fn end(&mut self) {
        if let (Some(s), Some(e)) = (self.start.take(), read()) {
            // The closing reading counted itself.
            self.calls += e.wrapping_sub(s).saturating_sub(1);
            self.counted_wakeups += self.wakeups;
        } else {
            self.failed = true;
        }
    }

    /// System calls per wakeup over the closed windows, `None` if nothing was counted.
    pub fn per_wakeup(&self) -> Option<f64> {
        (!self.failed && self.counted_wakeups > 0)
            .then(|| self.calls as f64 / self.counted_wakeups as f64)
    }
}
