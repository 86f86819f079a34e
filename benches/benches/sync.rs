//! `evl::sync` primitives side by side with their `tokio::sync` equivalents, in one run.
//!
//! `cargo bench -p evl-benches --bench sync` (knobs: see benches/README.md). Every block
//! runs on one executor thread (evl `Executor`, tokio current_thread runtime), timed inside
//! the runtime; blocks are interleaved round by round. Each line: evl and tokio per-op
//! medians, measured in the same run, and their ratio (below 1: evl is faster).
//!
//! | case | block | op |
//! |---|---|---|
//! | `mpsc round trip` | two tasks bounce a value over two `channel(1)`s 2,000 times | one round trip |
//! | `oneshot` | create a channel, send, await the receiver, 10,000 times | one channel |
//! | `mutex uncontended` | one task locks and unlocks 10,000 times | one lock+unlock |
//! | `mutex contended` | 4 tasks lock, yield while holding, unlock, 500 times each | one lock+unlock |

use evl_benches::{report, run, Case, Config, Runner};
use std::sync::Arc;
use std::time::Instant;

const ROUND_TRIPS: usize = 2_000;
const ONESHOTS: usize = 10_000;
const LOCKS: usize = 10_000;
const CONTENDERS: usize = 4;
const CONTENDED_LOCKS: usize = 500;

fn evl_runners(ex: &evl::Executor) -> Vec<Runner<'_>> {
    let mpsc: Runner = Box::new(move || {
        let (ping_tx, mut ping_rx) = evl::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = evl::sync::mpsc::channel::<u64>(1);
        let echo = ex
            .spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        break;
                    }
                }
            })
            .expect("spawn");
        ex.block_on(async move {
            let t0 = Instant::now();
            for i in 0..ROUND_TRIPS as u64 {
                ping_tx.send(i).await.expect("send");
                assert_eq!(pong_rx.recv().await, Some(i));
            }
            let d = t0.elapsed();
            drop(ping_tx);
            echo.await.expect("echo");
            d
        })
    });
    let oneshot: Runner = Box::new(move || {
        ex.block_on(async {
            let t0 = Instant::now();
            let mut sum = 0u64;
            for i in 0..ONESHOTS as u64 {
                let (tx, rx) = evl::sync::oneshot::channel();
                tx.send(i).expect("send");
                sum += rx.await.expect("recv");
            }
            assert_eq!(sum, (ONESHOTS as u64 - 1) * ONESHOTS as u64 / 2);
            t0.elapsed()
        })
    });
    let m = Arc::new(evl::sync::Mutex::new(0u64));
    let m1 = m.clone();
    let uncontended: Runner = Box::new(move || {
        let m = m1.clone();
        ex.block_on(async move {
            let t0 = Instant::now();
            for _ in 0..LOCKS {
                *m.lock().await += 1;
            }
            t0.elapsed()
        })
    });
    let contended: Runner = Box::new(move || {
        let m = m.clone();
        let hs: Vec<_> = (0..CONTENDERS)
            .map(|_| {
                let m = m.clone();
                ex.spawn(async move {
                    for _ in 0..CONTENDED_LOCKS {
                        let mut g = m.lock().await;
                        evl::yield_now().await;
                        *g += 1;
                    }
                })
                .expect("spawn")
            })
            .collect();
        ex.block_on(async move {
            let t0 = Instant::now();
            for h in hs {
                h.await.expect("join");
            }
            t0.elapsed()
        })
    });
    vec![mpsc, oneshot, uncontended, contended]
}

fn tokio_runners(rt: &tokio::runtime::Runtime) -> Vec<Runner<'_>> {
    let mpsc: Runner = Box::new(move || {
        rt.block_on(async {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let echo = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        break;
                    }
                }
            });
            let t0 = Instant::now();
            for i in 0..ROUND_TRIPS as u64 {
                ping_tx.send(i).await.expect("send");
                assert_eq!(pong_rx.recv().await, Some(i));
            }
            let d = t0.elapsed();
            drop(ping_tx);
            echo.await.expect("echo");
            d
        })
    });
    let oneshot: Runner = Box::new(move || {
        rt.block_on(async {
            let t0 = Instant::now();
            let mut sum = 0u64;
            for i in 0..ONESHOTS as u64 {
                let (tx, rx) = tokio::sync::oneshot::channel();
                tx.send(i).expect("send");
                sum += rx.await.expect("recv");
            }
            assert_eq!(sum, (ONESHOTS as u64 - 1) * ONESHOTS as u64 / 2);
            t0.elapsed()
        })
    });
    let m = Arc::new(tokio::sync::Mutex::new(0u64));
    let m1 = m.clone();
    let uncontended: Runner = Box::new(move || {
        let m = m1.clone();
        rt.block_on(async move {
            let t0 = Instant::now();
            for _ in 0..LOCKS {
                *m.lock().await += 1;
            }
            t0.elapsed()
        })
    });
    let contended: Runner = Box::new(move || {
        let m = m.clone();
        rt.block_on(async move {
            let hs: Vec<_> = (0..CONTENDERS)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move {
                        for _ in 0..CONTENDED_LOCKS {
                            let mut g = m.lock().await;
                            tokio::task::yield_now().await;
                            *g += 1;
                        }
                    })
                })
                .collect();
            let t0 = Instant::now();
            for h in hs {
                h.await.expect("join");
            }
            t0.elapsed()
        })
    });
    vec![mpsc, oneshot, uncontended, contended]
}

fn main() {
    let cfg = Config::from_env();
    println!(
        "evl::sync benchmarks: {} rounds per case, blocks interleaved; per-op ns; ratios evl/tokio",
        cfg.rounds
    );
    let ex = evl::Executor::new().expect("evl executor");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let cases: [(&'static str, &'static str, u64); 4] = [
        ("mpsc round trip", "round trip", ROUND_TRIPS as u64),
        ("oneshot", "channel", ONESHOTS as u64),
        ("mutex uncontended", "lock+unlock", LOCKS as u64),
        (
            "mutex contended",
            "lock+unlock",
            (CONTENDERS * CONTENDED_LOCKS) as u64,
        ),
    ];
    let mut results = Vec::new();
    for ((e, t), (name, op, ops)) in evl_runners(&ex)
        .into_iter()
        .zip(tokio_runners(&rt))
        .zip(cases)
    {
        if !cfg.selected(name) {
            continue;
        }
        let r = run(
            &cfg,
            Case {
                name,
                op,
                ops_per_block: ops,
                runners: vec![("evl", e), ("tokio", t)],
            },
        );
        println!("{}", report(&r, "evl"));
        results.push(r);
    }
    println!("summary (median per op, evl/tokio):");
    for r in &results {
        let (e, t) = (
            r.get("evl").map_or(f64::NAN, |s| s.median_ns),
            r.get("tokio").map_or(f64::NAN, |s| s.median_ns),
        );
        println!(
            "  {:<20} evl {:>10.0} ns   tokio {:>10.0} ns   ratio {:.3}",
            r.name,
            e,
            t,
            e / t
        );
    }
}
