//! evl::time on the executor: order, exactness bounds (generous), cancellation, capacity,
//! interval policies under a forced stall.

use evl::time::{self, Instant, MissedTicks};
use evl::{ErrorKind, Executor};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

fn host() {
    let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn sleeps_complete_in_deadline_order_never_early() {
    host();
    let ex = Executor::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    ex.block_on(async {
        let hs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|d| {
                let order = order.clone();
                evl::spawn(async move {
                    let deadline = Instant::now() + ms(d);
                    time::sleep_until(deadline).await.unwrap();
                    assert!(Instant::now() >= deadline, "woke early");
                    order.borrow_mut().push(d);
                })
                .unwrap()
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), vec![10, 20, 30]);
    assert_eq!(ex.reactor().timers(), 0);
    assert!(ex.reactor().stats().timers_fired >= 3);
}

#[test]
fn a_past_deadline_completes_without_blocking() {
    host();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        time::sleep_until(Instant::now()).await.unwrap();
        time::sleep(Duration::ZERO).await.unwrap();
    });
    assert_eq!(ex.reactor().stats().blocking, 0);
}

#[test]
fn timeout_elapses_or_passes_through_and_disarms_its_timer() {
    host();
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
    host();
    let ex = Executor::new().unwrap();
    let h = ex
        .spawn(async { time::sleep(Duration::from_secs(3600)).await })
        .unwrap();
    ex.block_on(evl::yield_now());
    assert_eq!(ex.reactor().timers(), 1);
    h.abort();
    ex.block_on(evl::yield_now());
    assert_eq!(ex.reactor().timers(), 0);
}

#[test]
fn timer_capacity_and_missing_executor_are_typed_errors() {
    host();
    let ex = Executor::builder().timers(2).build().unwrap();
    ex.block_on(async {
        let a = evl::spawn(time::sleep(Duration::from_secs(60))).unwrap();
        let b = evl::spawn(time::sleep(Duration::from_secs(60))).unwrap();
        evl::yield_now().await;
        let e = time::sleep(Duration::from_secs(60)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CapacityExceeded);
        assert!(e.hint().contains("Builder::timers"), "{e}");
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

/// A stall of 35 ms in a 10 ms interval, under each policy.
fn stalled(policy: MissedTicks) -> Vec<(u64, u64, u64)> {
    host();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let period = ms(10);
        let start = Instant::now() + period;
        let mut iv = time::interval_at(start, period)
            .unwrap()
            .with_policy(policy);
        let mut out = Vec::new();
        let t = iv.tick().await.unwrap();
        assert_eq!(t.deadline, start);
        std::thread::sleep(ms(35)); // a deliberate stall of the executor thread
        for _ in 0..3 {
            let t = iv.tick().await.unwrap();
            assert!(t.now >= t.deadline);
            let offset = (t.deadline.as_nanos() - start.as_nanos()) / 1_000_000;
            out.push((
                offset,
                t.missed,
                (iv.next_deadline().as_nanos() - start.as_nanos()) % 10_000_000,
            ));
        }
        out
    })
}

#[test]
fn interval_skip_reports_missed_ticks_and_keeps_the_grid() {
    let out = stalled(MissedTicks::Skip);
    let (due, missed, phase) = out[0];
    assert_eq!(due, 10, "the late tick reports the deadline it was due");
    assert!(
        missed >= 2,
        "a 35 ms stall misses at least 2 ticks of 10 ms, got {missed}"
    );
    assert_eq!(phase, 0, "the next deadline stays on the original grid");
    assert!(
        out[1].0 >= 10 * (missed + 2),
        "skipped ticks are not delivered: {out:?}"
    );
}

#[test]
fn interval_burst_delivers_every_missed_tick() {
    let out = stalled(MissedTicks::Burst);
    let dues: Vec<u64> = out.iter().map(|o| o.0).collect();
    assert_eq!(dues, vec![10, 20, 30], "every tick is delivered, in order");
    assert!(out[0].1 >= 2, "{out:?}");
    assert!(
        out.iter().all(|o| o.2 == 0),
        "burst stays on the grid: {out:?}"
    );
}

#[test]
fn interval_delay_restarts_the_schedule_from_the_late_tick() {
    let out = stalled(MissedTicks::Delay);
    assert_eq!(out[0].0, 10);
    assert!(out[0].1 >= 2);
    // The tick after the late one is one period after it was seen, not on the grid.
    assert!(out[1].0 >= 45, "{out:?}");
}

#[test]
fn spawn_with_runs_a_timer_task_from_another_thread() {
    host();
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
    host();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        for _ in 0..50 {
            time::sleep(ms(1)).await.unwrap();
        }
    });
    let st = ex.reactor().stats();
    // One wait per sleep (a few spare for the machine); a wake that rang the doorbell on
    // its own executor would make it two.
    assert!(st.blocking <= 55, "{st:?}");
    assert!(st.blocking >= 50, "{st:?}");
}

#[test]
fn a_main_future_spinning_on_yield_does_not_starve_timers() {
    host();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let d2 = done.clone();
        let _h = evl::spawn(async move {
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
    host();
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
