//! For tokio users: where evl names things the same, and where it differs on purpose.
//!
//! # The builder story
//!
//! | tokio | evl |
//! |---|---|
//! | `runtime::Builder::new_current_thread().enable_all().build()` | [`ExecutorConfig::new("name")`](crate::ExecutorConfig::new)`.build()` (or [`Executor::new`](crate::Executor::new), [`Executor::builder`](crate::Executor::builder)): an executor on the calling thread, which drives it with [`block_on`](crate::Executor::block_on) |
//! | `runtime::Builder::new_multi_thread()...build()` | [`Runtime::builder()`](crate::Runtime::builder)`.main(cfg).executor(cfg)...build()`: one executor per thread, each described by an [`ExecutorConfig`](crate::ExecutorConfig) (name, priority, CPU, task storage, timers, fds, EDF) |
//! | `#[tokio::main]`, `#[tokio::test]` | [`#[evl::main]`](crate::main), [`#[evl::test]`](crate::test): their keys (`priority`, `cpu`, `capacity`, `slot_size`, ...) are the `ExecutorConfig` settings |
//! | `enable_io()`, `enable_time()` | nothing to enable: every executor has its reactor (timers, fds, elements) |
//!
//! There is one description of an executor, [`ExecutorConfig`](crate::ExecutorConfig); the
//! [`RuntimeBuilder`](crate::RuntimeBuilder) only adds what is process-wide (the backend,
//! SIGINT/SIGTERM handling) and the list of executors.
//!
//! # Same names, same meaning
//! [`spawn`](crate::spawn) (`Send + 'static`), [`spawn_local`](crate::spawn_local) (`!Send`),
//! [`JoinHandle`](crate::JoinHandle) (await it, [`abort`](crate::JoinHandle::abort) it, drop
//! it to detach), [`JoinError`](crate::JoinError) (`is_cancelled`, `is_panic`),
//! [`yield_now`](crate::yield_now), [`time::sleep`](crate::time::sleep),
//! [`time::timeout`](crate::time::timeout), [`time::interval`](crate::time::interval),
//! [`sync::Notify`](crate::sync::Notify) (`notify_one` leaves a permit, `notify_waiters`
//! does not). Dropping an executor cancels its tasks, as dropping a tokio runtime does.
//!
//! # Deliberate differences, and why
//!
//! | evl | tokio | why |
//! |---|---|---|
//! | The first tick of [`time::interval`](crate::time::interval) is due one period from now ([`interval_at`](crate::time::interval_at) to choose) | the first tick completes at once | a control loop's first cycle should be one period after start, on the same grid as every other cycle, not a burst at start-up |
//! | [`MissedTicks::Skip`](crate::time::MissedTicks::Skip) is the default | `MissedTickBehavior::Burst` | after an overrun a control loop wants the next grid point, not a burst of stale cycles; each [`Tick`](crate::time::Tick) says how many were missed and how late it is |
//! | [`Interval::tick`](crate::time::Interval::tick) yields a `Result<Tick>` (deadline, now, lateness, missed) | an `Instant` | lateness and missed ticks are what a real-time loop monitors |
//! | Timers fire at their exact ns deadline | a 1 ms wheel | a 20 µs sleep must not last 1 ms |
//! | Timer futures resolve to `Result` ([`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded) when the executor's timers are all armed, `Unsupported` outside an executor); [`timeout`](crate::time::timeout) gives [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut); a zero [`interval`](crate::time::interval) period is an error | `()`, `Elapsed`, panics | fixed capacities (no allocation in steady state), and no panic at run time: errors are values |
//! | Spawning returns `Result<JoinHandle, SpawnError>`: [`Full`](crate::SpawnError::Full), [`TooBig`](crate::SpawnError::TooBig) (its message names the `slot_size` that fits), [`Shutdown`](crate::SpawnError::Shutdown), [`NoExecutor`](crate::SpawnError::NoExecutor); it converts into [`evl::Error`](crate::Error), so `?` mixes them | spawning panics outside a runtime, allocates each task | tasks live in a pre-allocated arena of `capacity` slots of `slot_size` bytes (or in `#[evl::task]` static pools, sized at compile time; `#[evl::main(slot_size = evl::task::slot_size(my_task))]` sizes the arena's slots from a task function at compile time): no heap allocation per spawn |
//! | [`spawn`](crate::spawn) needs `Send` but runs the task on the *current* executor's thread | the task may run on any worker | an evl executor is one thread, with its priority and CPU; tasks never migrate (no work stealing: no cross-CPU cache traffic, bounded latency) |
//! | Timer and readiness futures are `!Send`, so tasks that await them use [`spawn_local`](crate::spawn_local) (no `LocalSet` needed), or [`Spawner::spawn_with`](crate::Spawner::spawn_with) from another thread | `Send` | they link into their executor's reactor without a lock; a lock would be a priority-inversion point on the real-time path |
//! | `#[evl::main]` runs at SCHED_FIFO 40 where permitted (a note on stderr otherwise), locks memory, and turns SIGINT/SIGTERM into [`shutdown`](crate::shutdown) | SCHED_OTHER, no signal handling | real time by default is the point of the crate; memory locking keeps page faults off the real-time path. `#[evl::test]` runs at SCHED_OTHER without locking or signals |
//! | No `spawn_blocking`, no blocking pool | a blocking pool | nothing may block an executor thread but its one reactor wait; run blocking work on a plain thread and hand results back through [`sync::Notify`](crate::sync::Notify) or a [`Spawner`](crate::Spawner) |
//! | [`Runtime::block_on`](crate::Runtime::block_on) takes the runtime by value and stops every executor when the future ends | `&self`, the runtime lives on | the runtime's executor threads are real-time threads: they stop, detach and are joined deterministically |
//! | [`Executor::block_on`](crate::Executor::block_on) inside another `block_on` on the same thread panics; [`try_block_on`](crate::Executor::try_block_on) returns the error instead | panics | the panic is tokio's rule; `try_block_on` is there for code that must not panic |
//! | One error type, [`evl::Error`](crate::Error): a kind, the operation, an errno, and a hint that says what to do; `Copy`, no allocation | `io::Error` and per-module errors | errors are returned from steady-state paths, where nothing may allocate |
//! | An EDF option ([`ExecutorConfig::edf`](crate::ExecutorConfig::edf), [`task::set_deadline`](crate::task::set_deadline)) and per-task deadlines | FIFO only | earliest-deadline-first is the classic real-time order |
