//! evl::time on the executor: order, exactness bounds (generous), cancellation, capacity,
//! interval policies under a forced stall.

use evl::time::{self, Instant, MissedTicks};
use evl::{ErrorKind, Executor};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn sleeps_complete_in_deadline_order_never_early() {
    backend();
    let ex = Executor::new().unwrap();
    // (deadline offset, whether the sleep had to wait: it was armed before its deadline)
    let order = Rc::new(RefCell::new(Vec::new()));
    ex.block_on(async {
        // One base for all three: their deadlines are ordered whenever the tasks start.
        let base = Instant::now();
        let hs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|d| {
                let order = order.clone();
                evl::spawn_local(async move {
                    let deadline = base + ms(d);
                    let mut sleep = std::pin::pin!(time::sleep_until(deadline));
                    let mut waited = false;
                    std::future::poll_fn(|cx| {
                        let p = sleep.as_mut().poll(cx);
                        waited |= p.is_pending();
                        p
                    })
                    .await
                    .unwrap();
                    assert!(Instant::now() >= deadline, "woke early");
                    order.borrow_mut().push((d, waited));
                })
                .unwrap()
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Sleeps that waited were armed before their deadline, so they fire in deadline order
    // (a sleep polled after its deadline completes at once, in poll order: only on a
    // machine stalled for 10 ms or more between spawning and polling).
    let waited: Vec<u64> = order.borrow().iter().filter(|o| o.1).map(|o| o.0).collect();
    let mut sorted = waited.clone();
    sorted.sort();
    assert_eq!(waited, sorted, "{:?}", order.borrow());
    assert_eq!(order.borrow().len(), 3);
    if waited.len() == 3 {
        assert_eq!(waited, vec![10, 20, 30]);
    }
    assert_eq!(ex.reactor().timers(), 0);
    assert_eq!(ex.reactor().stats().timers_fired, waited.len() as u64);
}

#[test]
fn a_past_deadline_completes_without_blocking() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        time::sleep_until(Instant::now()).await.unwrap();
        time::sleep(Duration::ZERO).await.unwrap();
    });
    assert_eq!(ex.reactor().stats().blocking, 0);
}

#[test]
fn timeout_elapses_or_passes_through_and_disarms_its_timer() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let start = Instant::now();
        let e = time::timeout(ms(20), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() >= ms(20));
        assert_eq!(time::timeout(ms(1000), async { 9 }).await.unwrap(), 9);
    });
    assert_eq!(
        ex.reactor().timers(),
        0,
        "the passed-through timeout's timer was disarmed"
    );
}

#[test]
fn dropping_a_pending_sleep_disarms_it() {
    backend();
    let ex = Executor::new().unwrap();
    let h = ex
        .spawn_local(async { time::sleep(Duration::from_secs(3600)).await })
        .unwrap();
    ex.block_on(evl::yield_now());
    assert_eq!(ex.reactor().timers(), 1);
    h.abort();
    ex.block_on(evl::yield_now());
    assert_eq!(ex.reactor().timers(), 0);
}

#[test]
fn timer_capacity_and_missing_executor_are_typed_errors() {
    backend();
    let ex = Executor::builder().timers(2).build().unwrap();
    ex.block_on(async {
        let a = evl::spawn_local(time::sleep(Duration::from_secs(60))).unwrap();
        let b = evl::spawn_local(time::sleep(Duration::from_secs(60))).unwrap();
        evl::yield_now().await;
        let e = time::sleep(Duration::from_secs(60)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CapacityExceeded);
        assert!(e.hint().contains("ExecutorConfig::timers"), "{e}");
        a.abort();
        b.abort();
    });
    // Polled outside any executor.
    let mut s = std::pin::pin!(time::sleep(ms(5)));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match s.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Unsupported),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        time::interval(Duration::ZERO).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

use std::future::Future;

/// A stall of 35 ms in a 10 ms interval, under each policy: the tick before the stall and
/// the three after it, with the next deadline after each.
fn stalled(policy: MissedTicks) -> (time::Tick, Vec<(time::Tick, Instant)>) {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let period = ms(10);
        let start = Instant::now() + period;
        let mut iv = time::interval_at(start, period)
            .unwrap()
            .with_policy(policy);
        let t0 = iv.tick().await.unwrap();
        assert_eq!(t0.deadline, start);
        std::thread::sleep(ms(35)); // a deliberate stall of the executor thread
        let mut out = Vec::new();
        for _ in 0..3 {
            let t = iv.tick().await.unwrap();
            assert!(t.now >= t.deadline);
            out.push((t, iv.next_deadline()));
        }
        (t0, out)
    })
}

/// Whole 10 ms periods between `a` and `b`.
fn periods(a: Instant, b: Instant) -> u64 {
    ((b - a).as_nanos() / ms(10).as_nanos()) as u64
}

/// The first point of the 10 ms grid through `origin` that is after `now`.
fn grid_after(origin: Instant, now: Instant) -> Instant {
    origin + ms(10 * (periods(origin, now) + 1))
}

// Each check below follows from the policy and the ticks' own `now`: they hold on a machine
// of any speed (the tick before the stall may itself be late; the stall is at least 35 ms).

#[test]
fn interval_skip_reports_missed_ticks_and_keeps_the_grid() {
    let (t0, out) = stalled(MissedTicks::Skip);
    let start = t0.deadline;
    let (t1, next1) = out[0];
    assert_eq!(t1.deadline, grid_after(start, t0.now), "{t0:?} {t1:?}");
    assert_eq!(t1.missed, periods(t1.deadline, t1.now));
    assert!(
        t1.missed >= 2,
        "a 35 ms stall misses at least 2 ticks of 10 ms: {t1:?}"
    );
    assert_eq!(
        next1,
        grid_after(start, t1.now),
        "the next deadline stays on the grid"
    );
    for w in out.windows(2) {
        assert_eq!(w[1].0.deadline, w[0].1, "each tick is due when announced");
        assert_eq!(w[1].1, grid_after(start, w[1].0.now));
    }
}

#[test]
fn interval_burst_delivers_every_missed_tick() {
    let (t0, out) = stalled(MissedTicks::Burst);
    let start = t0.deadline;
    let dues: Vec<Instant> = out.iter().map(|o| o.0.deadline).collect();
    let want: Vec<Instant> = (1..=3).map(|k| start + ms(10 * k)).collect();
    assert_eq!(dues, want, "every tick is delivered, in order, on the grid");
    assert!(out[0].0.missed >= 2, "{out:?}");
    for (t, next) in &out {
        assert_eq!(*next, t.deadline + ms(10));
        assert_eq!(t.missed, periods(t.deadline, t.now));
    }
}

#[test]
fn interval_delay_restarts_the_schedule_from_the_late_tick() {
    let (t0, out) = stalled(MissedTicks::Delay);
    let (t1, _) = out[0];
    // The tick after the on-time one is one period after that one was seen.
    assert_eq!(t1.deadline, t0.now + ms(10), "{t0:?} {t1:?}");
    assert!(t1.missed >= 2, "{t1:?}");
    // And every later one is one period after its predecessor was seen: off the grid.
    for (t, next) in &out {
        assert_eq!(*next, t.now + ms(10));
    }
    for w in out.windows(2) {
        assert_eq!(w[1].0.deadline, w[0].1);
    }
}

#[test]
fn spawn_with_runs_a_timer_task_from_another_thread() {
    backend();
    let ex = Executor::new().unwrap();
    let sp = ex.spawner();
    let h = std::thread::spawn(move || {
        sp.spawn_with(|| async {
            let rc = Rc::new(5); // a !Send future: fine, it is built on the executor
            time::sleep(ms(5)).await.unwrap();
            *rc + 1
        })
        .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(ex.block_on(h).unwrap(), 6);
}

#[test]
fn a_timer_wake_costs_one_blocking_wait() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        // Until 20 sleeps actually waited (a sleep whose deadline passed before the executor
        // got to wait completes without a timer; on a slow machine some may).
        for _ in 0..10_000 {
            if ex.reactor().stats().timers_fired >= 20 {
                break;
            }
            time::sleep(ms(1)).await.unwrap();
        }
    });
    let st = ex.reactor().stats();
    assert!(st.timers_fired >= 20, "{st:?}");
    // Each blocking wait ended with exactly the timer it waited for: a wake that rang the
    // doorbell on its own executor would add a wait, an early return would add one too.
    assert_eq!(st.blocking, st.timers_fired, "{st:?}");
    assert_eq!(ex.stats().remote_wakes, 0, "{:?}", ex.stats());
}

#[test]
fn a_main_future_spinning_on_yield_does_not_starve_timers() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let d2 = done.clone();
        let _h = evl::spawn_local(async move {
            time::sleep(ms(10)).await.unwrap();
            d2.set(true);
        })
        .unwrap();
        while !done.get() {
            evl::yield_now().await;
        }
    });
}

#[test]
fn interval_skip_after_a_stall_of_many_periods_lands_on_the_first_grid_point_after_now() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        // A 3 ns period: any stall is thousands of periods (the arithmetic is the same as
        // for more than 2^32 of them, which the unit tests of the schedule cover).
        let period = Duration::from_nanos(3);
        let start = Instant::now();
        let mut iv = time::interval_at(start, period).unwrap();
        // Stall until at least 10 µs (3333 periods) have passed: a clock condition, not a
        // sleep of some length.
        while Instant::now() < start + Duration::from_micros(10) {
            std::hint::spin_loop();
        }
        let t = iv.tick().await.unwrap();
        assert_eq!(t.deadline, start);
        let (seen, next) = (t.now.as_nanos(), iv.next_deadline().as_nanos());
        assert!(t.missed >= 3333, "{t:?}");
        assert_eq!(
            t.missed,
            (seen - start.as_nanos()) / 3,
            "whole periods missed"
        );
        assert!(
            next > seen,
            "the next deadline is after now: {next} <= {seen}"
        );
        assert!(next - 3 <= seen, "and it is the first grid point after now");
        assert_eq!((next - start.as_nanos()) % 3, 0, "on the grid");
        let t2 = iv.tick().await.unwrap();
        assert_eq!(t2.deadline.as_nanos(), next);
    });
}
