//! # evl — async Rust on the EVL real-time core
//!
//! | module | what |
//! |---|---|
//! | [`runtime`] | [`Runtime`]: several executors on attached threads (name, priority, CPU) |
//! | [`executor`] | [`Executor`], [`ExecutorConfig`]: runs tasks on its thread with bounded per-turn work; [`spawn`], [`spawn_local`], [`Spawner`] for other threads |
//! | [`task`](mod@task) | [`JoinHandle`], [`JoinError`], static task pools, EDF deadlines |
//! | [`time`] | [`time::sleep`], [`time::timeout`], [`time::Interval`]: exact ns deadlines |
//! | [`io`] | `AsyncFd` readiness, async byte streams, awaiting EVL elements |
//! | [`sync`] | channels (`mpsc`, `oneshot`, `watch`, `broadcast`), locks (`Mutex`, `RwLock`, `Semaphore`, `Barrier`), `Notify`; RT-safety per call |
//! | [`bridge`] | channels between the real-time side and in-band code (a plain thread, tokio, any reactor): the real-time end never waits and makes no in-band call |
//! | [`trace`](mod@trace) | `tracing` from real-time threads: fixed-size records into per-thread rings, drained in-band |
//! | [`shutdown`] | SIGINT/SIGTERM to a clean shutdown tasks can await |
//! | [`core`] | the EVL elements (re-export of `evl-core`) |
//! | [`guide`] | [coming from tokio](guide::from_tokio) (the builder story, the deliberate differences), [what may block](guide::blocking) |
//!
//! `use evl::...` is meant to be the only import an application writes:
//!
//! ```no_run
//! use evl::time::{self, MissedTicks};
//! use std::time::Duration;
//!
//! #[evl::main(priority = 90, cpu = 1)]
//! async fn main() -> evl::Result<()> {
//!     let mut tick = time::interval(Duration::from_micros(1000))?.with_policy(MissedTicks::Skip);
//!     while !evl::shutdown::is_requested() {
//!         let t = tick.tick().await?; // exact ns deadline
//!         if t.missed > 0 {
//!             // t.lateness and t.missed tell how late this cycle is
//!         }
//!         // ... read sensors, compute, write actuators ...
//!     }
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

pub mod bridge;
pub mod executor;
pub mod guide;
pub mod io;
pub(crate) mod loom;
pub(crate) mod readable;
pub(crate) mod ring;
pub mod runtime;
pub mod shutdown;
pub mod sync;
pub mod task;
pub mod time;
pub mod trace;

pub use evl_macros::{main, task, test};
pub use evl_reactor::core;
pub use evl_reactor::core::{Backend, Clock, Error, ErrorKind, Result, Timestamp, Visibility};
pub use executor::{
    spawn, spawn_local, spawner, Executor, ExecutorConfig, PanicPolicy, SpawnError, Spawner, Stats,
};
pub use runtime::{Runtime, RuntimeBuilder};
pub use task::{JoinError, JoinHandle};

/// Runs `fut` to completion on a fresh default [`Executor`] on this thread: its output, or
/// the error that kept the executor from starting or from waiting
/// ([`Executor::try_block_on`]).
pub fn block_on<F: ::core::future::Future>(fut: F) -> Result<F::Output> {
    Executor::new()?.try_block_on(fut)
}

/// Yields once: lets the executor run other tasks before this one continues.
pub async fn yield_now() {
    let mut yielded = false;
    ::core::future::poll_fn(|cx| {
        if yielded {
            ::core::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            ::core::task::Poll::Pending
        }
    })
    .await
}
