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
use crate::core::{Doorbell, Error, ErrorKind, Result};
use crate::executor::{ExecutorConfig, Spawner};
use crate::readable::Readable;
use core::future::Future;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

pub use crate::executor::DEFAULT_PRIORITY;

/// How to build a [`Runtime`]: the process-wide choices (backend, signals) and the
/// executors, each an [`ExecutorConfig`].
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
        let mut names: Vec<&str> = vec![self.main.name_str()];
        for o in &self.others {
            if names.contains(&o.name_str()) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "Runtime::build",
                    "two executors share a name: name each one differently",
                ));
            }
            names.push(o.name_str());
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
            let name = cfg.name_str();
            let thread = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let attached = match cfg.attach_runtime_thread() {
                        Ok(t) => t,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    let ex = match cfg.build_on_runtime_thread() {
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
        let attached = self.main.attach_runtime_thread()?;
        let ex = self.main.build_on_runtime_thread()?;
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
