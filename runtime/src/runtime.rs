//! A runtime: several executors, each on its own thread attached to the core with a name, a
//! scheduling policy and a CPU — e.g. a 1 kHz control executor at priority 90 on CPU 1 and a
//! housekeeping executor at priority 10.
//!
//! ```no_run
//! use evl::{Runtime, ExecutorConfig};
//! let rt = Runtime::builder()
//!     .main(ExecutorConfig::new("control").priority(90).cpu(1))
//!     .executor(ExecutorConfig::new("housekeeping").priority(10))
//!     .build()?;
//! let hk = rt.spawner("housekeeping").unwrap();
//! rt.block_on(async move {
//!     hk.spawn(async { /* logging, telemetry */ }).unwrap();
//!     // the control loop runs here, on the calling thread
//! })?;
//! # Ok::<(), evl::Error>(())
//! ```
//! Executors share no lock: spawning onto another one claims a slot in its arena and pushes
//! to its inbox (both lock-free), then rings its doorbell if it is parked.

use crate::core::backend::{self, Selection};
use crate::core::thread::{CpuSet, SchedPolicy, Thread, ThreadConfig};
use crate::core::{Doorbell, Error, ErrorKind, Result};
use crate::executor::{Builder, PanicPolicy, Spawner};
use crate::readable::Readable;
use core::future::Future;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The SCHED_FIFO priority of an executor whose config names no policy.
///
/// Why 40: on the EVL core, priorities only order out-of-band threads among themselves (every
/// one of them preempts all of Linux), so any value serves a program with one real-time
/// executor, and the middle of the scale leaves room above it for a more urgent loop (the
/// examples measure at 80) and below it for housekeeping (10). On the host backend
/// (PREEMPT_RT) the kernel's threaded interrupt handlers run at SCHED_FIFO 50: a default
/// below them cannot, when a loop runs away, starve the interrupts the machine needs (disk,
/// network, the console); a loop that must preempt interrupt handling asks for more with
/// [`ExecutorConfig::priority`].
pub const DEFAULT_PRIORITY: u8 = 40;

/// Where and how one executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    name: &'static str,
    /// `None`: SCHED_FIFO at [`DEFAULT_PRIORITY`] where permitted, else SCHED_OTHER with a
    /// note. `Some`: exactly this, or an error.
    policy: Option<SchedPolicy>,
    cpu: Option<usize>,
    attach: bool,
    lock_memory: bool,
    warn_stage_switches: Option<bool>,
    builder: Builder,
}

impl ExecutorConfig {
    /// An executor called `name` (also its thread's name), any CPU, real-time by default:
    /// SCHED_FIFO at [`DEFAULT_PRIORITY`] when the process may use it (root, CAP_SYS_NICE,
    /// or an RLIMIT_RTPRIO of at least that priority), otherwise SCHED_OTHER, and the
    /// executor says so once per process on stderr, with how to grant it. Ask for a policy
    /// explicitly with [`priority`](ExecutorConfig::priority) (0 for SCHED_OTHER, without
    /// a note) or [`policy`](ExecutorConfig::policy): then there is no fallback, and a
    /// policy the process may not use is an error from `build`/`block_on`.
    pub fn new(name: &'static str) -> Self {
        ExecutorConfig {
            name,
            policy: None,
            cpu: None,
            attach: true,
            lock_memory: true,
            warn_stage_switches: None,
            builder: Builder::default().name(name),
        }
    }
    /// SCHED_FIFO at `prio` (1-99), or SCHED_OTHER for 0 (the explicit opt-out of the
    /// real-time default). Not permitted is an error, not a fallback.
    pub fn priority(mut self, prio: u8) -> Self {
        self.policy = Some(match prio {
            0 => SchedPolicy::Other,
            p => SchedPolicy::Fifo(p),
        });
        self
    }
    /// Any scheduling policy, exactly (no fallback).
    pub fn policy(mut self, p: SchedPolicy) -> Self {
        self.policy = Some(p);
        self
    }
    /// The policy asked for: `None` for the default (SCHED_FIFO at [`DEFAULT_PRIORITY`]
    /// where permitted, SCHED_OTHER otherwise).
    pub fn requested_policy(&self) -> Option<SchedPolicy> {
        self.policy
    }
    /// Whether the EVL core reports each demotion of the executor thread to the in-band
    /// stage (counted in [`Stats::stage_switches`](crate::Stats)); default: on in debug
    /// builds, off in release builds.
    pub fn warn_stage_switches(mut self, on: bool) -> Self {
        self.warn_stage_switches = Some(on);
        self
    }
    /// Pinned to `cpu`.
    pub fn cpu(mut self, cpu: usize) -> Self {
        self.cpu = Some(cpu);
        self
    }
    /// Whether to attach the thread to the core (default yes). A thread already attached by
    /// the application must say no.
    pub fn attach(mut self, on: bool) -> Self {
        self.attach = on;
        self
    }
    /// Whether attaching locks the process memory (default yes).
    pub fn lock_memory(mut self, on: bool) -> Self {
        self.lock_memory = on;
        self
    }
    /// Task slots.
    pub fn capacity(mut self, n: usize) -> Self {
        self.builder = self.builder.capacity(n);
        self
    }
    /// Bytes per task slot.
    pub fn slot_size(mut self, bytes: usize) -> Self {
        self.builder = self.builder.slot_size(bytes);
        self
    }
    /// Timers armed at once.
    pub fn timers(mut self, n: usize) -> Self {
        self.builder = self.builder.timers(n);
        self
    }
    /// fds registered at once.
    pub fn fds(mut self, n: usize) -> Self {
        self.builder = self.builder.fds(n);
        self
    }
    /// Polls per turn.
    pub fn budget(mut self, polls: usize) -> Self {
        self.builder = self.builder.budget(polls);
        self
    }
    /// Earliest-deadline-first order among runnable tasks.
    pub fn edf(mut self, on: bool) -> Self {
        self.builder = self.builder.edf(on);
        self
    }
    /// What a task panic does.
    pub fn panic_policy(mut self, p: PanicPolicy) -> Self {
        self.builder = self.builder.panic_policy(p);
        self
    }

    fn attach_here(&self) -> Result<Option<Thread>> {
        if !self.attach {
            return Ok(None);
        }
        match self.policy {
            Some(p) => self.attach_as(p).map(Some),
            None => match self.attach_as(SchedPolicy::Fifo(DEFAULT_PRIORITY)) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    // Either the priority or the memory locking was refused: SCHED_OTHER
                    // tells which (it fails the same way if memory locking was the cause,
                    // and that error is the one to report).
                    let t = self.attach_as(SchedPolicy::Other)?;
                    if let Some(note) = fallback_once(self.name, &e) {
                        eprintln!("{note}");
                    }
                    Ok(Some(t))
                }
                Err(e) => Err(e),
            },
        }
    }

    fn attach_as(&self, policy: SchedPolicy) -> Result<Thread> {
        let mut cfg = ThreadConfig::new(self.name)
            .policy(policy)
            .lock_memory(self.lock_memory);
        if let Some(on) = self.warn_stage_switches {
            cfg = cfg.warn_stage_switches(on);
        }
        if let Some(c) = self.cpu {
            cfg = cfg.cpus(CpuSet::single(c)?);
        }
        Thread::attach(cfg)
    }
}

/// Whether the SCHED_OTHER fallback was reported in this process.
static FALLBACK_SAID: AtomicBool = AtomicBool::new(false);

/// The note for the first fallback to SCHED_OTHER in this process (`None` afterwards: said
/// once, whichever executor falls back first).
fn fallback_once(executor: &str, refused: &Error) -> Option<String> {
    if FALLBACK_SAID.swap(true, Ordering::Relaxed) {
        return None;
    }
    Some(fallback_note(executor, refused))
}

/// What an executor fell back to, why, and how to grant real-time scheduling.
fn fallback_note(executor: &str, refused: &Error) -> String {
    let p = DEFAULT_PRIORITY;
    let why = match refused.os_error() {
        Some(errno) => format!(
            "{} ({})",
            refused.kind(),
            std::io::Error::from_raw_os_error(errno)
        ),
        None => refused.kind().to_string(),
    };
    format!(
        "note: evl: executor \"{executor}\" runs at SCHED_OTHER, without real-time guarantees: \
         its default, SCHED_FIFO priority {p}, was refused: {why}. To run it real-time: run as \
         root, give the program CAP_SYS_NICE (setcap cap_sys_nice+ep <program>), or raise \
         RLIMIT_RTPRIO to {p} or more (ulimit -r {p}; or '<user> - rtprio {p}' in \
         /etc/security/limits.conf, then log in again). To choose SCHED_OTHER and silence \
         this note: ExecutorConfig::priority(0), or #[evl::main(priority = 0)]."
    )
}

/// How to build a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    selection: Option<Selection>,
    main: ExecutorConfig,
    others: Vec<ExecutorConfig>,
    signals: bool,
}

impl RuntimeBuilder {
    /// Forces a backend (default: `EVL_BACKEND`, then auto-detection).
    pub fn backend(mut self, s: Selection) -> Self {
        self.selection = Some(s);
        self
    }
    /// The executor that runs [`Runtime::block_on`] on the calling thread.
    pub fn main(mut self, cfg: ExecutorConfig) -> Self {
        self.main = cfg;
        self
    }
    /// One more executor, on a thread of its own.
    pub fn executor(mut self, cfg: ExecutorConfig) -> Self {
        self.others.push(cfg);
        self
    }
    /// Route SIGINT/SIGTERM to [`crate::shutdown::request`] (default yes).
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.signals = on;
        self
    }

    /// Selects the backend, starts and attaches the executor threads. Errors from any of
    /// them (no core, no privilege, bad CPU) come back here, and nothing is left running.
    pub fn build(self) -> Result<Runtime> {
        if let Some(s) = self.selection {
            backend::select(s)?;
        }
        backend::current()?;
        let mut names: Vec<&str> = vec![self.main.name];
        for o in &self.others {
            if names.contains(&o.name) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "Runtime::build",
                    "two executors share a name: name each one differently",
                ));
            }
            names.push(o.name);
        }
        if self.signals {
            crate::shutdown::install_signal_handlers()?;
        }
        let stop = Arc::new(Doorbell::new()?);
        let mut rt = Runtime {
            main: self.main,
            others: Vec::new(),
            stop: stop.clone(),
        };
        for cfg in self.others {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Spawner>>(1);
            let stop = stop.clone();
            let name = cfg.name;
            let thread = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let attached = match cfg.attach_here() {
                        Ok(t) => t,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    let ex = match cfg.builder.clone().build() {
                        Ok(ex) => ex,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    // Register the stop wait before reporting success, so that a failure
                    // (e.g. no fd registration slot) comes back from build(), not later.
                    let fd = stop.as_fd().as_raw_fd();
                    let mut stop_wait = Box::pin(Readable::new(fd));
                    let first = ex.try_block_on(core::future::poll_fn(|cx| {
                        core::task::Poll::Ready(stop_wait.as_mut().poll(cx))
                    }));
                    match first {
                        Err(e) | Ok(core::task::Poll::Ready(Err(e))) => {
                            return drop(tx.send(Err(e)))
                        }
                        Ok(_) => {}
                    }
                    if tx.send(Ok(ex.spawner())).is_err() {
                        return;
                    }
                    // Runs tasks until the runtime stops, or its reactor fails.
                    if let Err(e) = ex.try_block_on(stop_wait).and_then(|r| r) {
                        tracing::error!(executor = name, "executor stopped: {e}");
                    }
                    // Pass the stop on: the EVL core wakes one poller per post, so with
                    // several executors each one that saw it rings once more for the next.
                    stop.ring();
                    drop(ex); // cancels what is left, on this thread
                    drop(attached);
                })
                .map_err(|_| {
                    Error::new(
                        ErrorKind::CapacityExceeded,
                        "Runtime::build",
                        "cannot start an executor thread (thread or memory limit reached?)",
                    )
                })?;
            let started = rx.recv().unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Other,
                    "Runtime::build",
                    "an executor thread died while starting",
                ))
            });
            match started {
                Ok(spawner) => rt.others.push(Remote {
                    name,
                    spawner,
                    thread: Some(thread),
                }),
                Err(e) => {
                    let _ = thread.join();
                    return Err(e); // rt's Drop stops and joins the ones already started
                }
            }
        }
        Ok(rt)
    }
}

#[derive(Debug)]
struct Remote {
    name: &'static str,
    spawner: Spawner,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Executors on attached threads. See the [module docs](self).
#[derive(Debug)]
pub struct Runtime {
    main: ExecutorConfig,
    others: Vec<Remote>,
    stop: Arc<Doorbell>,
}

impl Runtime {
    /// How to build one: a main executor called "main", no other, signals handled.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            selection: None,
            main: ExecutorConfig::new("main"),
            others: Vec::new(),
            signals: true,
        }
    }

    /// A spawner for the executor called `name` (the main one has none before `block_on`:
    /// spawn onto it with `evl::spawn`/`evl::spawn_local` from its tasks).
    pub fn spawner(&self, name: &str) -> Option<Spawner> {
        self.others
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.spawner.clone())
    }

    /// Attaches the calling thread as the main executor, runs `fut` to completion, then stops
    /// every executor (their remaining tasks are cancelled on their own threads) and detaches.
    /// A main executor whose reactor fails stops the same way, with the reactor's error
    /// ([`Executor::try_block_on`](crate::Executor::try_block_on)).
    pub fn block_on<F: Future>(mut self, fut: F) -> Result<F::Output> {
        let attached = self.main.attach_here()?;
        let ex = self.main.builder.clone().build()?;
        let out = ex.try_block_on(fut);
        drop(ex);
        self.stop_all();
        drop(attached);
        out
    }

    fn stop_all(&mut self) {
        self.stop.ring();
        for r in &mut self.others {
            if let Some(t) = r.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_note_says_what_and_how_and_is_said_once() {
        let refused = Error::from_errno(libc::EPERM, "Thread::attach", "needs privileges");
        let note = fallback_note("control", &refused);
        for part in [
            "executor \"control\" runs at SCHED_OTHER",
            "SCHED_FIFO priority 40",
            "permission denied",
            "run as root",
            "CAP_SYS_NICE",
            "RLIMIT_RTPRIO",
            "ulimit -r 40",
            "rtprio 40' in /etc/security/limits.conf",
            "priority(0)",
            "priority = 0",
        ] {
            assert!(note.contains(part), "{part:?} missing from: {note}");
        }
        // Once per process: the first caller gets the note, nobody after it.
        let first = fallback_once("a", &refused);
        let second = fallback_once("b", &refused);
        assert!(second.is_none());
        // (A runtime of another test may have said it first.)
        if let Some(n) = first {
            assert!(n.contains("executor \"a\""), "{n}");
        }
        assert!(fallback_once("c", &refused).is_none());
    }

    #[test]
    fn priority_zero_is_the_explicit_sched_other() {
        assert_eq!(ExecutorConfig::new("x").requested_policy(), None);
        assert_eq!(
            ExecutorConfig::new("x").priority(0).requested_policy(),
            Some(SchedPolicy::Other)
        );
        assert_eq!(
            ExecutorConfig::new("x").priority(7).requested_policy(),
            Some(SchedPolicy::Fifo(7))
        );
    }
}
