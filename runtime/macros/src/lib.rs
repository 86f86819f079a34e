//! # evl-macros — `#[evl::main]`, `#[evl::test]`, `#[evl::task]`
//!
//! Use them through `evl` (`#[evl::main]`, not `#[evl_macros::main]`): the expansions name
//! `::evl::...` paths. Each one expands to plain calls of the public `evl` API — nothing an
//! application could not write by hand — and each misuse is a compile error that says what to
//! write instead.
//!
//! | macro | on | becomes |
//! |---|---|---|
//! | [`macro@main`] | `async fn main()` | `fn main()` that builds a [`Runtime`] and `block_on`s the body |
//! | [`macro@test`] | `async fn name()` | a `#[test] fn name()` doing the same, without privileges |
//! | [`macro@task`] | `async fn name(args) -> T` | `fn name(args) -> PoolSpawn<..>` backed by a static pool of task slots |
//!
//! ## Attribute grammar
//! ```text
//! main-attr  := ( entry-key "=" value ),*          (each key at most once)
//! test-attr  := ( entry-key "=" value ),*
//! entry-key  := priority    = INT in 0..=99     SCHED_FIFO priority, 0 for SCHED_OTHER
//!                                               absent, main: SCHED_FIFO 40 where permitted,
//!                                               else SCHED_OTHER and a note on stderr
//!                                               (evl::runtime::DEFAULT_PRIORITY);
//!                                               absent, test: SCHED_OTHER
//!             | cpu         = INT               pin the executor thread to this CPU
//!             | capacity    = INT in 1..=2^24   task slots of the executor (tasks alive at once),
//!                                               default 64 (evl::executor::DEFAULT_CAPACITY)
//!             | slot_size   = INT in 1..=2^30   bytes per task slot (rounded up to 64), default
//!                                               1024 (evl::executor::DEFAULT_SLOT_SIZE): the
//!                                               largest task `evl::spawn` takes;
//!                                               a larger one is `SpawnError::TooBig`, whose
//!                                               message names the `slot_size` that fits
//!                                               (`#[evl::task]` pools are sized at compile time)
//!                         | const usize expression, e.g. `evl::task::slot_size(control)`: the
//!                                               slot the `async fn control` needs, computed
//!                                               at compile time (range checked there)
//!             | backend     = "host" | "evl" | "auto"
//!                                               absent: EVL_BACKEND, then auto-detection
//!             | name        = STRING            executor/thread name (1..=63 printable ASCII, no '/')
//!                                               default "main" (main) / the test's name (test)
//!             | signals     = BOOL              SIGINT/SIGTERM -> evl::shutdown (main: true, test: false)
//!             | lock_memory = BOOL              mlockall when attaching (main: true, test: false)
//! task-attr  := [ pool_size "=" ( INT >= 1 | const usize expression ) ]      default 1
//! ```
//!
//! Every key but `backend` and `signals` is the `evl::ExecutorConfig` setting of the same name
//! (`capacity = 16` is `.capacity(16)`); `backend` and `signals` go to the `RuntimeBuilder`.
//!
//! The backend is chosen once per process: every runtime (and element) in a process uses the
//! first choice, and a runtime that asks for a different one fails to build. Tests of one
//! binary share a process, so give `backend = ...` on all of them or on none.
//!
//! [`Runtime`]: ../evl/struct.Runtime.html

#![warn(missing_docs)]

mod attr;
mod entry;
mod task;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Runs `async fn main()` on an evl [`Runtime`](../evl/struct.Runtime.html) whose main
/// executor is the calling thread.
///
/// ```no_run
/// #[evl::main(priority = 80, cpu = 1, capacity = 16, slot_size = 1024, name = "control")]
/// async fn main() -> Result<(), evl::Error> {
///     let mut tick = evl::time::interval(core::time::Duration::from_millis(1))?;
///     while !evl::shutdown::is_requested() {
///         tick.tick().await;
///         /* one control cycle */
///     }
///     Ok(())
/// }
/// ```
/// expands to
/// ```no_run
/// fn main() -> Result<(), evl::Error> {
///     async fn __evl_main() -> Result<(), evl::Error> {
///         /* the body */
/// #       Ok(())
///     }
///     let __rt = ::evl::Runtime::builder()
///         .handle_signals(true)
///         .main(
///             ::evl::ExecutorConfig::new("control").priority(80).cpu(1).capacity(16).slot_size(1024),
///         )
///         .build();
///     let __rt = match __rt {
///         Ok(rt) => rt,
///         Err(e) => {
///             eprintln!("evl: cannot start the runtime: {}", e);
///             std::process::exit(1)
///         }
///     };
///     match __rt.block_on(__evl_main()) {
///         Ok(v) => v,
///         Err(e) => {
///             eprintln!("evl: runtime failed: {}", e);
///             std::process::exit(1)
///         }
///     }
/// }
/// ```
/// `backend = "host"` adds `.backend(Selection::Force(Backend::Host))` (`"auto"`:
/// `Selection::Auto`), `lock_memory = false` adds `.lock_memory(false)` to the config. The
/// function's attributes stay on `fn main`; lint attributes (`#[allow(..)]`, ...) are copied
/// onto the inner `async fn` too, where the body is. See the [crate docs](crate) for every key.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Main, attr.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh evl runtime: a `#[test] fn` that builds a
/// [`Runtime`](../evl/struct.Runtime.html) and `block_on`s the body.
///
/// Takes the keys of [`macro@main`], with test defaults: `signals = false`,
/// `lock_memory = false` (no memlock privilege needed), `priority = 0` (SCHED_OTHER, where
/// `#[evl::main]` defaults to SCHED_FIFO: tests run many at once on few CPUs, and a busy
/// real-time test would starve the others; ask with `priority = N`), and the test's name as
/// executor name.
/// The test may return a `Result`. A runtime that cannot start panics with the reason.
///
/// ```no_run
/// #[evl::test(backend = "host")]
/// async fn sleeps() -> Result<(), evl::Error> {
///     evl::time::sleep(core::time::Duration::from_micros(100)).await?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
/// expands to
/// ```no_run
/// #[test]
/// fn sleeps() -> Result<(), evl::Error> {
///     async fn __evl_test() -> Result<(), evl::Error> {
///         /* the body */
/// #       Ok(())
///     }
///     let __rt = ::evl::Runtime::builder()
///         .backend(::evl::core::backend::Selection::Force(::evl::Backend::Host))
///         .handle_signals(false)
///         .main(::evl::ExecutorConfig::new("sleeps").priority(0).lock_memory(false))
///         .build();
///     let __rt = match __rt {
///         Ok(rt) => rt,
///         Err(e) => panic!("#[evl::test]: cannot start the runtime: {}", e),
///     };
///     match __rt.block_on(__evl_test()) {
///         Ok(v) => v,
///         Err(e) => panic!("#[evl::test]: the runtime failed: {}", e),
///     }
/// }
/// # fn main() {}
/// ```
/// The backend is chosen once per process (see the [crate docs](crate)): with
/// `backend = "host"` on one test and `backend = "evl"` on another, whichever runs second
/// fails to start.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Test, attr.into(), item.into()).into()
}

/// Gives an `async fn` a static pool of `pool_size` task slots (default 1), in `.bss`: no
/// heap. Calling the function claims nothing yet; it returns an `evl::task::PoolSpawn`, whose
/// `spawn()` (onto the current executor) or `spawn_on(&spawner)` claims a free slot or
/// returns `SpawnError::Full` when all of them run. A slot is free again once its task ends.
///
/// ```no_run
/// #[evl::task(pool_size = 2)]
/// async fn blink(led: u32, period_us: u64) {
///     /* ... */
/// }
///
/// #[evl::main]
/// async fn main() -> Result<(), evl::SpawnError> {
///     let a = blink(1, 500).spawn()?; // Ok
///     let b = blink(2, 250).spawn()?; // Ok
///     assert!(blink(3, 100).spawn().is_err()); // SpawnError::Full: both slots run
///     let _ = (a.await, b.await);
///     blink(3, 100).spawn()?; // Ok: the slots are free again
///     Ok(())
/// }
/// ```
/// expands to
/// ```no_run
/// fn blink(led: u32, period_us: u64)
///     -> ::evl::task::PoolSpawn<impl ::core::future::Future<Output = ()> + 'static>
/// {
///     async fn __evl_task(led: u32, period_us: u64) { /* ... */ }
///     const __POOL_SIZE: usize = 2;
///     static __POOL: ::evl::task::TaskPoolHolder<
///         { ::evl::task::task_pool_size::<_, _, _, __POOL_SIZE>(__evl_task) },
///     > = ::evl::task::TaskPoolHolder::new();
///     // SAFETY: the holder was sized by task_pool_size for this very function and pool size.
///     let __pool = unsafe { __POOL.pool::<_, _, _, __POOL_SIZE>(__evl_task) };
///     __pool.spawner(__evl_task(led, period_us), "blink")
/// }
/// # fn main() {}
/// ```
/// Arguments are moved into the task, so they must be `'static` (owned values or
/// `&'static T`); the function cannot be generic, take `impl Trait` or `self`. Argument
/// patterns other than a plain name (`(a, b): (u32, u32)`, `_`) are kept on the inner
/// function; the outer one names them `__evl_argN`. `pool_size` may also be a `usize` const
/// expression (`pool_size = MOTORS`), checked to be at least 1 at compile time.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(attr.into(), item.into()).into()
}
