//! The embassy-time driver (feature `embassy-time`): embassy's `Timer` and `Ticker` on evl
//! executors and off them. Values and orderings, not timing: a wake is never early, timers
//! fire in deadline order, ticks keep their grid, the table's limits are counted.
#![cfg(feature = "embassy-time")]

use embassy_time::{Duration, Instant, Ticker, Timer};
use evl::time::embassy::{stats, SLOTS};
use evl::Executor;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[test]
fn now_follows_the_monotonic_clock() {
    let a = evl::time::Instant::now().as_nanos();
    let e = Instant::now().as_ticks();
    let b = evl::time::Instant::now().as_nanos();
    let hz = embassy_time::TICK_HZ;
    let to_ticks = |ns: u64| (u128::from(ns) * u128::from(hz) / 1_000_000_000) as u64;
    assert!(to_ticks(a) <= e && e <= to_ticks(b), "{a} {e} {b}");
}

#[test]
fn a_timer_on_an_executor_is_never_early_and_is_armed_in_its_wheel() {
    let ex = Executor::new().unwrap();
    let before = stats();
    let (start, end) = ex.block_on(async {
        let start = Instant::now();
        Timer::after(Duration::from_millis(3)).await;
        (start, Instant::now())
    });
    assert!(end >= start + Duration::from_millis(3), "{start} -> {end}");
    assert!(stats().armed > before.armed);
}

#[test]
fn timers_of_several_tasks_fire_in_deadline_order() {
    let ex = Executor::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut handles = Vec::new();
    for (id, ms) in [(3u32, 9u64), (1, 3), (2, 6), (0, 1)] {
        let order = order.clone();
        handles.push(
            ex.spawn_local(async move {
                Timer::after(Duration::from_millis(ms)).await;
                order.borrow_mut().push(id);
            })
            .unwrap(),
        );
    }
    ex.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), [0, 1, 2, 3]);
}

#[test]
fn a_ticker_keeps_its_grid() {
    let ex = Executor::new().unwrap();
    let period = Duration::from_millis(2);
    let seen = ex.block_on(async {
        let start = Instant::now();
        let mut t = Ticker::every(period);
        let mut seen = Vec::new();
        for _ in 0..5 {
            t.next().await;
            seen.push(Instant::now());
        }
        (start, seen)
    });
    let (start, seen) = seen;
    for (k, at) in seen.iter().enumerate() {
        // Tick k is due at start + (k + 1) * period at the latest of the ticker's creation.
        assert!(
            *at >= start + period * (k as u32 + 1),
            "tick {k} at {at}, start {start}"
        );
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn one_task_waiting_on_two_timers_keeps_one_entry() {
    let ex = Executor::new().unwrap();
    let before = stats();
    ex.block_on(async {
        // Polled together: both schedule with the same waker; the later one merges into
        // the earlier entry.
        let short = Timer::after(Duration::from_millis(2));
        let long = Timer::after(Duration::from_millis(40));
        futures_select(short, long).await;
    });
    let after = stats();
    assert!(after.merged > before.merged, "{before:?} -> {after:?}");
}

/// Completes when the first of two futures does (polled in order).
async fn futures_select(a: Timer, b: Timer) {
    let (mut a, mut b) = (a, b);
    std::future::poll_fn(|cx| {
        if std::pin::Pin::new(&mut a).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if std::pin::Pin::new(&mut b).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await
}

use std::future::Future;

#[test]
fn more_waiting_tasks_than_slots_still_complete_and_are_counted() {
    let ex = Executor::builder().capacity(2 * SLOTS).build().unwrap();
    let before = stats();
    let done = Rc::new(RefCell::new(0usize));
    let n = SLOTS + 8;
    let mut handles = Vec::new();
    for _ in 0..n {
        let done = done.clone();
        handles.push(
            ex.spawn_local(async move {
                Timer::after(Duration::from_millis(5)).await;
                *done.borrow_mut() += 1;
            })
            .unwrap(),
        );
    }
    ex.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*done.borrow(), n);
    assert!(stats().overflows > before.overflows);
}

/// A minimal block_on for a thread without an evl executor.
fn plain_block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn without_an_executor_the_fallback_thread_serves_the_wake() {
    let before = stats();
    let (start, end) = plain_block_on(async {
        let start = Instant::now();
        Timer::after(Duration::from_millis(3)).await;
        (start, Instant::now())
    });
    assert!(end >= start + Duration::from_millis(3));
    assert!(stats().fallback > before.fallback);
}

#[test]
fn a_steady_ticker_allocates_nothing() {
    let ex = Executor::new().unwrap();
    let allocs = ex.block_on(async {
        let mut t = Ticker::every(Duration::from_micros(500));
        // Warm up: the first ticks may touch lazily made state.
        for _ in 0..5 {
            t.next().await;
        }
        evl_alloc_count::start_counting();
        for _ in 0..200 {
            t.next().await;
            embassy_time::with_timeout(Duration::from_millis(50), async {})
                .await
                .unwrap();
        }
        evl_alloc_count::stop_counting()
    });
    assert_eq!(allocs, 0);
}
