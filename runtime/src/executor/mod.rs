//! The executor: runs tasks on the thread that drives it, with bounded per-turn work.
//!
//! | file | what |
//! |---|---|
//! | `config` | [`ExecutorConfig`]: the one description of an executor (thread, task storage, reactor, run loop), and building it |
//! | `panic_policy` | [`PanicPolicy`] |
//! | `run` | [`Executor`]: spawning onto it, its counters, the run loop (`block_on`) |
//! | `shutdown` | cancelling every task and running them to completion when it is dropped |
//! | `shared` | the state tasks, wakers and spawners share (counted), the thread's current executor, the executor's side of the task interface (`task::raw::Schedule`) |
//! | `queue` | the local run queue: FIFO, or EDF (a leftist heap) |
//! | `inbox` | cross-thread wake handoff and the parked/notified word |
//! | `arena` | pre-sized task slots, claimed lock-free |
//! | `pool_list` | the static-pool tasks alive, for shutdown |
//! | `spawn` | writing a task into a slot and scheduling it; [`spawn`], [`spawn_local`] |
//! | `spawn_error` | [`SpawnError`] and its conversion into `evl::Error` |
//! | `spawner` | [`Spawner`] (spawns from any thread), [`spawner`] |
//! | `main_waker` | the waker of the future `block_on` runs |
//! | `stats` | [`Stats`] |
//! | `attach` | attaching the executor's thread (both backends): runtime threads real-time by default, plain threads as they are |
//!
//! The executor reaches its tasks through the task modules; tasks reach their executor only
//! through the `task::raw::Schedule` interface, which `shared` implements.
//!
//! One executor per thread. Tasks woken on the executor's own thread go to a local run queue
//! (no atomics beyond the task state): a FIFO, or with [`ExecutorConfig::edf`] an intrusive leftist
//! heap in deadline order, O(log n) per push and pop in the worst case (see `queue`);
//! tasks woken elsewhere go through the inbox, and the executor is woken only if it is
//! parked, by the one call that ends the wait it makes: its wake element (an evl-core
//! [`Doorbell`](crate::core::Doorbell)) is rung when it waits on its reactor's poll set; on the
//! host backend with no fd registered (a timer-only loop) it waits on its parker word instead
//! (a futex wait with the earliest deadline as an absolute timeout), and the waker makes one
//! `FUTEX_WAKE` on that word ([`Executor::park_word_address`]). The parker's word says which
//! wait is in progress, so a wake makes one call, never both. Every step of a wake (task
//! state CAS, inbox CAS, parker swap, one `write(2)` or `futex(2)`) is lock-free and
//! async-signal-safe, so a task may be woken from a signal handler with
//! `Waker::wake_by_ref` — on a waker that is not the task's last reference: dropping the last
//! one (or `wake` by value on it) may release the task, which runs its `Drop` code and is not
//! async-signal-safe. When nothing is runnable the executor makes one blocking call: a turn of its
//! [`Reactor`](evl_reactor::Reactor), which waits on timers, registered fds and the wake element at once. A busy
//! executor looks at its reactor without blocking after every `budget` polls, so timers and
//! fds are served even when tasks keep each other runnable.

pub(crate) mod arena;
pub(crate) mod attach;
mod config;
pub(crate) mod inbox;
mod main_waker;
mod panic_policy;
mod pool_list;
mod queue;
mod run;
pub(crate) mod shared;
mod shutdown;
mod spawn;
mod spawn_error;
mod spawner;
mod stats;

pub use attach::DEFAULT_PRIORITY;
pub use config::{ExecutorConfig, DEFAULT_CAPACITY, DEFAULT_SLOT_SIZE};
pub use panic_policy::PanicPolicy;
pub use run::Executor;
pub use spawn::{spawn, spawn_local};
pub use spawn_error::SpawnError;
pub use spawner::{spawner, Spawner};
pub use stats::Stats;
