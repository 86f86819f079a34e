//! # evl — async Rust on the EVL real-time core
//!
//! | module | what |
//! |---|---|
//! | [`runtime`] | [`Runtime`]: several executors on attached threads (name, priority, CPU) |
//! | [`shutdown`] | SIGINT/SIGTERM to a clean shutdown tasks can await |
//! | [`executor`] | [`Executor`]: runs tasks on its thread with bounded per-turn work; [`Spawner`] for other threads |
//! | [`task`](mod@task) | [`JoinHandle`], [`JoinError`] |
//! | [`io`] | `AsyncFd` readiness, async byte streams, awaiting EVL elements |
//! | [`sync`] | notification between tasks and threads |
//! | [`time`] | [`time::sleep`], [`time::timeout`], [`time::Interval`]: exact ns deadlines |
//! | [`core`] | the EVL elements (re-export of `evl-core`) |
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

//! # What may block, and on what
//! "Block" means wait for another thread or for the kernel. In steady state none of these
//! allocates.
//!
//! | call | blocks? | on what |
//! |---|---|---|
//! | [`Executor::block_on`], [`block_on`], [`Runtime::block_on`] | yes: that is their job | the executor's one wait, a reactor turn (EVL: the out-of-band poll wait; host: epoll), only when no task is runnable; `Runtime::block_on` then joins its executor threads |
//! | dropping an [`Executor`] | briefly | it cancels and runs every task to completion; a wake or spawn still half-way on another thread is waited for on its doorbell, never spun on |
//! | `.await` on timers, [`io`] readiness and elements, [`sync::Notified`], [`JoinHandle`], [`shutdown::requested`] | never blocks the thread | the task returns Pending; the executor's one wait covers it |
//! | [`spawn`], [`Spawner`] spawns, static-pool spawns, `Waker::wake`, [`JoinHandle::abort`] | never | compare-and-swaps (slot claim, task state, inbox push, pool list push) and at most one doorbell `write` (out-of-band on EVL) |
//! | [`sync::Notify::notify_one`], [`sync::Notify::notify_waiters`], polling a `Notified` with the same waker | never | atomic operations; may do the waiter-list work of operations racing on the same `Notify` (bounded by what they added) and calls the released waiters' wakers |
//! | dropping a still-waiting `Notified`, polling it with a different waker, `notify_waiters` racing a `notify_one` nobody has handed on yet | only while another thread is inside that `Notify`'s list work | an evl-core [`RawLock`](crate::core::lock): host, a priority-inheriting futex; EVL, out-of-band sleeps for an attached thread, in-band ones for a plain thread |
//! | `AsyncSemaphore::put`, `AsyncFlags::post`/`broadcast` (evl-core `Semaphore::put`, `Flags::post`) | host: only when contended | host: the element's priority-inheriting futex lock, held for a few memory operations; EVL: never (a user-space compare-and-swap or one out-of-band call) |
//! | evl-core waits (`Semaphore::get`, `Flags::wait`, `Event::wait`, `Mutex::lock`, `Timer::read`, `PollSet::wait`, blocking xbuf reads and writes) | yes, by design | the element, in the kernel (out-of-band on EVL; `Mutex` with priority inheritance) |
//! | evl-core `PollSet::add`/`modify`/`remove`/`wait` on the EVL backend | only when two threads use one set at once | its table's `RawLock` (out-of-band sleeps) |
//! | `Doorbell::ring`, [`shutdown::request`] | never | one non-blocking `write` |
//! | dropping the last `JoinHandle` or `Waker` of a finished task | never | runs the output's `Drop` on that thread, and frees the slot with a compare-and-swap |
//!
//! First uses that still do set-up work on the calling thread: the first
//! [`shutdown::requested`] creates the shutdown doorbell (an element: in-band on EVL), and
//! the first out-of-band blocking wait on an xbuf end opens its poll group.

pub mod bridge;
pub mod executor;
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
pub use executor::{spawn, spawner, Builder, Executor, PanicPolicy, SpawnError, Spawner, Stats};
pub use runtime::{ExecutorConfig, Runtime, RuntimeBuilder};
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
