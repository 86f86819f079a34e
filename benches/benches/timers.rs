//! Timer costs, evl side by side with tokio's timer, in one run.
//!
//! `cargo bench -p evl-benches --bench timers`. Cases, each with 10 and with 10,000 other
//! timers armed (far in the future) on the same runtime, blocks interleaved:
//!
//! | case | block | op |
//! |---|---|---|
//! | `arm+cancel (L live)` | 1,000 times: create a 1 h sleep, poll it once (arms it), drop it (cancels it) | one arm+cancel |
//! | `fire 20us (L live)` | 20 times: await a 20 µs sleep | one sleep, from creation to wake |
//!
//! The fire case shows timer *granularity*, not only cost: tokio rounds every deadline up to
//! its 1 ms wheel, evl arms its core timer fd at the exact nanosecond. Both sides run on
//! their runtime's own thread through `block_on`; the background timers are pinned `Sleep`
//! futures polled once (armed) and kept alive for the whole run.

use evl_benches::{report, run, Case, Config, Runner};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

const ARMS: usize = 1_000;
const FIRES: usize = 20;
const FIRE_AFTER: Duration = Duration::from_micros(20);

/// Polls `f` once from inside a task (arming a timer), without awaiting it.
async fn poll_once<F: Future>(f: Pin<&mut F>) {
    let mut f = Some(f);
    poll_fn(|cx| {
        let _ = f.take().expect("polled once").poll(cx);
        Poll::Ready(())
    })
    .await
}

fn evl_runners<'a>(ex: &'a evl::Executor) -> [Runner<'a>; 2] {
    let arm: Runner = Box::new(move || {
        ex.block_on(async {
            let t0 = std::time::Instant::now();
            for _ in 0..ARMS {
                let mut s = std::pin::pin!(evl::time::sleep(Duration::from_secs(3600)));
                poll_once(s.as_mut()).await;
            }
            t0.elapsed()
        })
    });
    let fire: Runner = Box::new(move || {
        ex.block_on(async {
            let t0 = std::time::Instant::now();
            for _ in 0..FIRES {
                evl::time::sleep(FIRE_AFTER).await.expect("evl sleep");
            }
            t0.elapsed()
        })
    });
    [arm, fire]
}

fn tokio_runners<'a>(rt: &'a tokio::runtime::Runtime) -> [Runner<'a>; 2] {
    let arm: Runner = Box::new(move || {
        rt.block_on(async {
            let t0 = std::time::Instant::now();
            for _ in 0..ARMS {
                let mut s = std::pin::pin!(tokio::time::sleep(Duration::from_secs(3600)));
                poll_once(s.as_mut()).await;
            }
            t0.elapsed()
        })
    });
    let fire: Runner = Box::new(move || {
        rt.block_on(async {
            let t0 = std::time::Instant::now();
            for _ in 0..FIRES {
                tokio::time::sleep(FIRE_AFTER).await;
            }
            t0.elapsed()
        })
    });
    [arm, fire]
}

fn main() {
    let cfg = Config::from_env();
    // Fire blocks last ~20 ms on tokio (1 ms granularity): fewer rounds for them.
    let fire_cfg = Config {
        rounds: (cfg.rounds / 10).max(5),
        ..cfg.clone()
    };
    println!(
        "evl timer benchmarks: {} rounds (fire: {}) per case, blocks interleaved; per-op ns; ratios evl/tokio",
        cfg.rounds, fire_cfg.rounds
    );
    let mut results = Vec::new();
    for live in [10usize, 10_000] {
        let ex = evl::Executor::builder()
            .timers(live + 64)
            .name("timers")
            .build()
            .expect("evl executor");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime");
        // The background timers: armed once, alive for the whole measurement.
        let mut evl_bg: Vec<Pin<Box<evl::time::Sleep>>> = (0..live)
            .map(|_| Box::pin(evl::time::sleep(Duration::from_secs(7200))))
            .collect();
        ex.block_on(async {
            for s in evl_bg.iter_mut() {
                poll_once(s.as_mut()).await;
            }
        });
        assert_eq!(ex.reactor().timers(), live, "evl background timers armed");
        let mut tokio_bg: Vec<Pin<Box<tokio::time::Sleep>>> = rt.block_on(async {
            let mut v: Vec<_> = (0..live)
                .map(|_| Box::pin(tokio::time::sleep(Duration::from_secs(7200))))
                .collect();
            for s in v.iter_mut() {
                poll_once(s.as_mut()).await;
            }
            v
        });
        let [ea, ef] = evl_runners(&ex);
        let [ta, tf] = tokio_runners(&rt);
        let arm_name: &'static str = if live == 10 {
            "arm+cancel (10 live)"
        } else {
            "arm+cancel (10000 live)"
        };
        let fire_name: &'static str = if live == 10 {
            "fire 20us (10 live)"
        } else {
            "fire 20us (10000 live)"
        };
        if cfg.selected(arm_name) {
            let r = run(
                &cfg,
                Case {
                    name: arm_name,
                    op: "arm+cancel",
                    ops_per_block: ARMS as u64,
                    runners: vec![("evl", ea), ("tokio", ta)],
                },
            );
            println!("{}", report(&r, "evl"));
            results.push(r);
        }
        if fire_cfg.selected(fire_name) {
            let r = run(
                &fire_cfg,
                Case {
                    name: fire_name,
                    op: "sleep",
                    ops_per_block: FIRES as u64,
                    runners: vec![("evl", ef), ("tokio", tf)],
                },
            );
            println!("{}", report(&r, "evl"));
            results.push(r);
        }
        // Drop the background timers inside their runtimes (evl's disarm on drop).
        ex.block_on(async { evl_bg.clear() });
        rt.block_on(async { tokio_bg.clear() });
    }
    println!("summary (median per op, evl/tokio):");
    for r in &results {
        let (e, t) = (
            r.get("evl").map_or(f64::NAN, |s| s.median_ns),
            r.get("tokio").map_or(f64::NAN, |s| s.median_ns),
        );
        println!(
            "  {:<26} evl {:>10.0} ns   tokio {:>10.0} ns   ratio {:.3}",
            r.name,
            e,
            t,
            e / t
        );
    }
}
