//! Executor overhead, evl side by side with tokio, embassy and async-executor, in one run.
//!
//! `cargo bench -p evl-benches --bench executor` (see benches/README.md for the knobs and
//! how to read the output). Cases, each one block per runtime per round, interleaved:
//!
//! | case | block | op |
//! |---|---|---|
//! | `spawn+join` | spawn 1,000 trivial tasks, then join them all | one spawn+join |
//! | `yield (1 task)` | one task yields 10,000 times | one yield |
//! | `yield (10 tasks)` | 10 tasks yield 1,000 times each | one yield |
//! | `ping-pong` | two tasks hand a notification back and forth 10,000 times | one round trip |
//!
//! Each runtime runs with its own primitives:
//!
//! | runtime | executor | yield | ping-pong notification | join |
//! |---|---|---|---|---|
//! | evl | `evl::Executor` (default settings, 1,100 task slots) | `evl::yield_now` | `evl::sync::Notify` | `JoinHandle` |
//! | tokio | current_thread runtime | `tokio::task::yield_now` | `tokio::sync::Notify` | `JoinHandle` |
//! | embassy | `embassy_executor::Executor` (std platform, thread mode) | `futures_lite::future::yield_now` | `embassy_sync::signal::Signal<NoopRawMutex, ()>` | countdown + `Signal` |
//! | async-executor | `LocalExecutor` under `futures_lite::future::block_on` | `futures_lite::future::yield_now` | `async_channel::bounded(1)` pair | `Task` |
//!
//! # Fairness
//! * Every block's time is taken *inside* its runtime, by the code that runs the block:
//!   from just before the first spawn to just after the last join. Building runtimes,
//!   channels and Notifys, and handing a command to a runtime, stay outside.
//! * evl, tokio and async-executor run their blocks on the main thread through their
//!   `block_on`. embassy's std executor never returns from `run` (its `run_until` needs a
//!   fresh `&'static mut` per call), so it runs forever on a thread of its own: a driver task
//!   there receives a command, times the block exactly like the others do (first spawn to
//!   last completion), and sends the duration back. While the other runtimes measure, that
//!   thread sleeps on its condvar; while embassy measures, the main thread sleeps in `recv`.
//!   So each block runs alone on the machine, whichever thread it is on.
//! * embassy has no join handles: its tasks count down a shared counter and the last one
//!   signals. That is cheaper than joining 1,000 handles, so it favours embassy.
//! * embassy's `Signal` uses `NoopRawMutex` (same-thread only, no lock at all), the cheapest
//!   configuration embassy offers; evl's `Notify` and tokio's are usable across threads and
//!   pay for a lock. That also favours embassy.
//! * embassy's std platform wakes its executor through a `Mutex` + `Condvar` pender whenever
//!   its run queue goes from empty to non-empty, even for a wake from the executor's own
//!   thread; that is what embassy costs on std (not on a microcontroller), and it shows in the
//!   ping-pong.
//! * All trivial tasks return a value that is summed and checked, so no work can be elided.

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use evl_benches::{report, run, targets_table, Case, Config, Runner, Target};
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Tasks per `spawn+join` block.
const SPAWNS: usize = 1_000;
/// Yields per `yield (1 task)` block.
const YIELDS: usize = 10_000;
/// Tasks, and yields per task, in a `yield (10 tasks)` block.
const YIELD_TASKS: usize = 10;
const YIELDS_EACH: usize = 1_000;
/// Round trips per `ping-pong` block.
const ROUND_TRIPS: usize = 10_000;

const SPAWN: &str = "spawn+join";
const YIELD1: &str = "yield (1 task)";
const YIELD10: &str = "yield (10 tasks)";
const PING_PONG: &str = "ping-pong";

/// The sum of the outputs of the trivial tasks of one spawn block.
const SPAWN_SUM: usize = SPAWNS * (SPAWNS - 1) / 2;

// ---------------------------------------------------------------------------------------
// evl

fn evl_runners(ex: &evl::Executor) -> [Runner<'_>; 4] {
    let mut handles: Vec<evl::JoinHandle<usize>> = Vec::with_capacity(SPAWNS);
    let pair = Rc::new((evl::sync::Notify::new(), evl::sync::Notify::new()));
    [
        Box::new(move || {
            let (took, sum) = ex.block_on(async {
                let t0 = Instant::now();
                for i in 0..SPAWNS {
                    handles.push(evl::spawn(async move { i }).expect("task slots"));
                }
                let mut sum = 0;
                for h in handles.drain(..) {
                    sum += h.await.expect("trivial task");
                }
                (t0.elapsed(), sum)
            });
            assert_eq!(sum, SPAWN_SUM);
            took
        }),
        Box::new(move || {
            ex.block_on(async {
                let t0 = Instant::now();
                let h = evl::spawn(async {
                    for _ in 0..YIELDS {
                        evl::yield_now().await;
                    }
                })
                .expect("task slot");
                h.await.expect("yield task");
                t0.elapsed()
            })
        }),
        Box::new(move || {
            ex.block_on(async {
                let t0 = Instant::now();
                let hs: [_; YIELD_TASKS] = std::array::from_fn(|_| {
                    evl::spawn(async {
                        for _ in 0..YIELDS_EACH {
                            evl::yield_now().await;
                        }
                    })
                    .expect("task slot")
                });
                for h in hs {
                    h.await.expect("yield task");
                }
                t0.elapsed()
            })
        }),
        Box::new(move || {
            let (p, q) = (pair.clone(), pair.clone());
            let ping = async move {
                for _ in 0..ROUND_TRIPS {
                    p.0.notify_one();
                    p.1.notified().await;
                }
            };
            let pong = async move {
                for _ in 0..ROUND_TRIPS {
                    q.0.notified().await;
                    q.1.notify_one();
                }
            };
            ex.block_on(async {
                let t0 = Instant::now();
                let a = evl::spawn_local(ping).expect("task slot");
                let b = evl::spawn_local(pong).expect("task slot");
                a.await.expect("ping");
                b.await.expect("pong");
                t0.elapsed()
            })
        }),
    ]
}

// ---------------------------------------------------------------------------------------
// tokio

fn tokio_runners(rt: &tokio::runtime::Runtime) -> [Runner<'_>; 4] {
    let mut handles: Vec<tokio::task::JoinHandle<usize>> = Vec::with_capacity(SPAWNS);
    let pair = Arc::new((tokio::sync::Notify::new(), tokio::sync::Notify::new()));
    [
        Box::new(move || {
            let (took, sum) = rt.block_on(async {
                let t0 = Instant::now();
                for i in 0..SPAWNS {
                    handles.push(tokio::spawn(async move { i }));
                }
                let mut sum = 0;
                for h in handles.drain(..) {
                    sum += h.await.expect("trivial task");
                }
                (t0.elapsed(), sum)
            });
            assert_eq!(sum, SPAWN_SUM);
            took
        }),
        Box::new(move || {
            rt.block_on(async {
                let t0 = Instant::now();
                tokio::spawn(async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                })
                .await
                .expect("yield task");
                t0.elapsed()
            })
        }),
        Box::new(move || {
            rt.block_on(async {
                let t0 = Instant::now();
                let hs: [_; YIELD_TASKS] = std::array::from_fn(|_| {
                    tokio::spawn(async {
                        for _ in 0..YIELDS_EACH {
                            tokio::task::yield_now().await;
                        }
                    })
                });
                for h in hs {
                    h.await.expect("yield task");
                }
                t0.elapsed()
            })
        }),
        Box::new(move || {
            let (p, q) = (pair.clone(), pair.clone());
            let ping = async move {
                for _ in 0..ROUND_TRIPS {
                    p.0.notify_one();
                    p.1.notified().await;
                }
            };
            let pong = async move {
                for _ in 0..ROUND_TRIPS {
                    q.0.notified().await;
                    q.1.notify_one();
                }
            };
            rt.block_on(async {
                let t0 = Instant::now();
                let a = tokio::spawn(ping);
                let b = tokio::spawn(pong);
                a.await.expect("ping");
                b.await.expect("pong");
                t0.elapsed()
            })
        }),
    ]
}

// ---------------------------------------------------------------------------------------
// async-executor

fn smol_runners<'a>(ex: &'a async_executor::LocalExecutor<'static>) -> [Runner<'a>; 4] {
    use futures_lite::future::{block_on, yield_now};
    let mut handles: Vec<async_executor::Task<usize>> = Vec::with_capacity(SPAWNS);
    let (tx1, rx1) = async_channel::bounded::<()>(1);
    let (tx2, rx2) = async_channel::bounded::<()>(1);
    [
        Box::new(move || {
            let (took, sum) = block_on(ex.run(async {
                let t0 = Instant::now();
                for i in 0..SPAWNS {
                    handles.push(ex.spawn(async move { i }));
                }
                let mut sum = 0;
                for h in handles.drain(..) {
                    sum += h.await;
                }
                (t0.elapsed(), sum)
            }));
            assert_eq!(sum, SPAWN_SUM);
            took
        }),
        Box::new(move || {
            block_on(ex.run(async {
                let t0 = Instant::now();
                ex.spawn(async {
                    for _ in 0..YIELDS {
                        yield_now().await;
                    }
                })
                .await;
                t0.elapsed()
            }))
        }),
        Box::new(move || {
            block_on(ex.run(async {
                let t0 = Instant::now();
                let hs: [_; YIELD_TASKS] = std::array::from_fn(|_| {
                    ex.spawn(async {
                        for _ in 0..YIELDS_EACH {
                            yield_now().await;
                        }
                    })
                });
                for h in hs {
                    h.await;
                }
                t0.elapsed()
            }))
        }),
        Box::new(move || {
            let (tx1, rx2) = (tx1.clone(), rx2.clone());
            let (rx1, tx2) = (rx1.clone(), tx2.clone());
            let ping = async move {
                for _ in 0..ROUND_TRIPS {
                    tx1.send(()).await.expect("open");
                    rx2.recv().await.expect("open");
                }
            };
            let pong = async move {
                for _ in 0..ROUND_TRIPS {
                    rx1.recv().await.expect("open");
                    tx2.send(()).await.expect("open");
                }
            };
            block_on(ex.run(async {
                let t0 = Instant::now();
                let a = ex.spawn(ping);
                let b = ex.spawn(pong);
                a.await;
                b.await;
                t0.elapsed()
            }))
        }),
    ]
}

// ---------------------------------------------------------------------------------------
// embassy: an executor thread that runs forever, driven through a mailbox

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Spawn,
    Yield1,
    Yield10,
    PingPong,
}

/// A one-slot command mailbox from the measuring thread to embassy's driver task.
#[derive(Default)]
struct Mailbox {
    slot: Mutex<(Option<Cmd>, Option<Waker>)>,
}

impl Mailbox {
    fn send(&self, cmd: Cmd) {
        let mut s = self.slot.lock().expect("mailbox");
        assert!(s.0.is_none(), "one command at a time");
        s.0 = Some(cmd);
        if let Some(w) = s.1.take() {
            w.wake();
        }
    }

    fn recv(&self) -> impl Future<Output = Cmd> + '_ {
        poll_fn(|cx| {
            let mut s = self.slot.lock().expect("mailbox");
            match s.0.take() {
                Some(cmd) => Poll::Ready(cmd),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}

/// State shared by the embassy tasks (all on the embassy thread).
struct EmbassyCtx {
    /// Tasks of the current block still running.
    left: Cell<usize>,
    /// Sum of the trivial tasks' outputs.
    sum: Cell<usize>,
    /// Signalled by the last task of a block.
    done: Signal<NoopRawMutex, ()>,
    ping: Signal<NoopRawMutex, ()>,
    pong: Signal<NoopRawMutex, ()>,
}

impl EmbassyCtx {
    fn finish(&self) {
        let left = self.left.get() - 1;
        self.left.set(left);
        if left == 0 {
            self.done.signal(());
        }
    }
}

#[embassy_executor::task(pool_size = 1000)]
async fn embassy_trivial(ctx: &'static EmbassyCtx, i: usize) {
    ctx.sum.set(ctx.sum.get() + i);
    ctx.finish();
}

#[embassy_executor::task(pool_size = 10)]
async fn embassy_yielder(ctx: &'static EmbassyCtx, n: usize) {
    for _ in 0..n {
        futures_lite::future::yield_now().await;
    }
    ctx.finish();
}

#[embassy_executor::task]
async fn embassy_ping(ctx: &'static EmbassyCtx) {
    for _ in 0..ROUND_TRIPS {
        ctx.ping.signal(());
        ctx.pong.wait().await;
    }
    ctx.finish();
}

#[embassy_executor::task]
async fn embassy_pong(ctx: &'static EmbassyCtx) {
    for _ in 0..ROUND_TRIPS {
        ctx.ping.wait().await;
        ctx.pong.signal(());
    }
    ctx.finish();
}

#[embassy_executor::task]
async fn embassy_driver(
    spawner: Spawner,
    mailbox: &'static Mailbox,
    ctx: &'static EmbassyCtx,
    out: SyncSender<Duration>,
) {
    loop {
        let cmd = mailbox.recv().await;
        ctx.done.reset();
        ctx.sum.set(0);
        let t0 = Instant::now();
        match cmd {
            Cmd::Spawn => {
                ctx.left.set(SPAWNS);
                for i in 0..SPAWNS {
                    spawner.spawn(embassy_trivial(ctx, i).expect("task pool"));
                }
            }
            Cmd::Yield1 => {
                ctx.left.set(1);
                spawner.spawn(embassy_yielder(ctx, YIELDS).expect("task pool"));
            }
            Cmd::Yield10 => {
                ctx.left.set(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    spawner.spawn(embassy_yielder(ctx, YIELDS_EACH).expect("task pool"));
                }
            }
            Cmd::PingPong => {
                ctx.left.set(2);
                spawner.spawn(embassy_ping(ctx).expect("task pool"));
                spawner.spawn(embassy_pong(ctx).expect("task pool"));
            }
        }
        ctx.done.wait().await;
        let took = t0.elapsed();
        if matches!(cmd, Cmd::Spawn) {
            assert_eq!(ctx.sum.get(), SPAWN_SUM);
        }
        out.send(took).expect("the measuring thread waits");
    }
}

/// Starts embassy's executor on its own thread; returns its mailbox and result channel.
fn start_embassy() -> (&'static Mailbox, Receiver<Duration>) {
    let mailbox: &'static Mailbox = Box::leak(Box::default());
    let (tx, rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("embassy".into())
        .spawn(move || {
            let ex = Box::leak(Box::new(embassy_executor::Executor::new()));
            ex.run(move |spawner| {
                let ctx: &'static EmbassyCtx = Box::leak(Box::new(EmbassyCtx {
                    left: Cell::new(0),
                    sum: Cell::new(0),
                    done: Signal::new(),
                    ping: Signal::new(),
                    pong: Signal::new(),
                }));
                spawner.spawn(embassy_driver(spawner, mailbox, ctx, tx).expect("task pool"));
            })
        })
        .expect("embassy thread");
    (mailbox, rx)
}

fn embassy_runners<'a>(mailbox: &'static Mailbox, rx: &'a Receiver<Duration>) -> [Runner<'a>; 4] {
    [Cmd::Spawn, Cmd::Yield1, Cmd::Yield10, Cmd::PingPong].map(|cmd| -> Runner<'a> {
        Box::new(move || {
            mailbox.send(cmd);
            rx.recv().expect("embassy thread alive")
        })
    })
}

// ---------------------------------------------------------------------------------------

fn main() {
    let cfg = Config::from_env();
    let backend = evl::core::backend::current()
        .map(|b| format!("{b:?}"))
        .unwrap_or_else(|e| format!("unavailable ({e})"));
    println!(
        "evl executor benchmarks: {} rounds (+{} warm-up) per case, blocks interleaved A B C D / B C D A ...",
        cfg.rounds, cfg.warmup
    );
    println!(
        "evl backend: {backend}; {} CPUs online; per-op times in ns; ratios are evl/peer (below 1: evl faster)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let evl_ex = evl::Executor::builder()
        .capacity(SPAWNS + 100)
        .name("bench")
        .build()
        .expect("evl executor");
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let smol_ex = async_executor::LocalExecutor::new();
    let (mailbox, embassy_rx) = start_embassy();

    let [e0, e1, e2, e3] = evl_runners(&evl_ex);
    let [t0, t1, t2, t3] = tokio_runners(&tokio_rt);
    let [m0, m1, m2, m3] = embassy_runners(mailbox, &embassy_rx);
    let [s0, s1, s2, s3] = smol_runners(&smol_ex);
    let cases = [
        (SPAWN, "spawn+join", SPAWNS, [e0, t0, m0, s0]),
        (YIELD1, "yields", YIELDS, [e1, t1, m1, s1]),
        (
            YIELD10,
            "yields",
            YIELD_TASKS * YIELDS_EACH,
            [e2, t2, m2, s2],
        ),
        (PING_PONG, "round trips", ROUND_TRIPS, [e3, t3, m3, s3]),
    ];

    let started = Instant::now();
    let mut results = Vec::new();
    for (name, op, ops, [e, t, m, s]) in cases {
        if !cfg.selected(name) {
            continue;
        }
        let r = run(
            &cfg,
            Case {
                name,
                op,
                ops_per_block: ops as u64,
                runners: vec![
                    ("evl", e),
                    ("tokio", t),
                    ("embassy", m),
                    ("async-executor", s),
                ],
            },
        );
        print!("{}", report(&r, "evl"));
        results.push(r);
    }

    let mut targets = Vec::new();
    for case in [PING_PONG, YIELD1, YIELD10] {
        targets.push(Target {
            case,
            peer: "embassy",
            limit: 1.0,
        });
        targets.push(Target {
            case,
            peer: "tokio",
            limit: 0.8,
        });
    }
    println!(
        "\ntargets (issue: \"ping-pong and yield no slower than embassy and at most 0.8x tokio\"),\n\
         median ratios of this run; a report, not an assertion:"
    );
    print!("{}", targets_table(&results, "evl", &targets));
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
}
