//! The reactor's wait point: exact timer arming, fd readiness, wake element.

use evl_reactor::core::{Semaphore, Xbuf};
use evl_reactor::timer::Entry;
use evl_reactor::{now_ns, Config, Direction, Reactor, Wait};
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

#[path = "support/waker.rs"]
mod waker;
use waker::counter;

fn host() -> evl_reactor::core::Thread {
    waker::host("reactor-test")
}

#[test]
fn the_blocking_wait_is_bounded_by_the_exact_earliest_deadline() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let (a, b) = (pin!(Entry::new()), pin!(Entry::new()));
    let (ca, wa) = counter();
    let (cb, wb) = counter();
    a.register(&wa);
    b.register(&wb);
    let base = now_ns();
    // Odd nanoseconds: any rounding of the deadline would show.
    let (da, db) = (base + 3_600_000_000_123, base + 2_000_077);
    // SAFETY: both entries are pinned here and fired or cancelled before they drop.
    unsafe {
        r.arm(a.as_ref(), da).unwrap();
        r.arm(b.as_ref(), db).unwrap();
    }
    assert_eq!(r.next_deadline(), Some(db));
    let before = r.stats();
    // Only `b` can end this wait (nothing else is registered); spurious returns just turn again.
    while cb.0.load(SeqCst) == 0 {
        r.turn(Wait::Block).unwrap();
        assert_eq!(
            r.last_deadline(),
            Some(db),
            "bounded by b's deadline, to the ns"
        );
    }
    assert!(now_ns() >= db, "never early");
    assert_eq!(ca.0.load(SeqCst), 0);
    let st = r.stats();
    assert_eq!(st.timed_waits - before.timed_waits, st.turns - before.turns);
    assert_eq!(r.next_deadline(), Some(da));
    assert!(r.cancel(&a));
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_burst_of_due_timers_fires_over_several_turns_in_deadline_order() {
    let _me = host();
    let cfg = Config {
        timers_per_turn: 4,
        ..Config::default()
    };
    let r = Reactor::new(cfg, None).unwrap();
    let entries: Vec<_> = (0..10).map(|_| Box::pin(Entry::new())).collect();
    let counters: Vec<_> = (0..10).map(|_| counter()).collect();
    let base = now_ns();
    for (i, e) in entries.iter().enumerate() {
        e.register(&counters[i].1);
        // Reverse order of arming; all already due.
        // SAFETY: boxed and pinned for the whole test; fired before they drop.
        unsafe { r.arm(e.as_ref(), base - 1_000 + (9 - i) as u64).unwrap() };
    }
    let fired = |r: &Reactor| {
        let t = r.turn(Wait::Block).unwrap();
        let woken: Vec<usize> = (0..10)
            .filter(|&i| counters[i].0 .0.load(SeqCst) > 0)
            .collect();
        (t, woken)
    };
    let (t, woken) = fired(&r);
    assert_eq!((t.timers, t.timers_left), (4, true));
    assert_eq!(woken, vec![6, 7, 8, 9], "earliest deadlines first");
    let (t, woken) = fired(&r);
    assert_eq!((t.timers, t.timers_left), (4, true));
    assert_eq!(woken, vec![2, 3, 4, 5, 6, 7, 8, 9]);
    let (t, woken) = fired(&r);
    assert_eq!((t.timers, t.timers_left), (2, false));
    assert_eq!(woken.len(), 10);
    assert_eq!(r.stats().timers_fired, 10);
}

#[test]
fn sizes_are_checked() {
    let _me = host();
    let cfg = Config {
        timers_per_turn: 0,
        ..Config::default()
    };
    let e = Reactor::new(cfg, None).unwrap_err();
    assert_eq!(e.kind(), evl_reactor::core::ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("timers_per_turn"), "{e}");
}

/// Logs, in firing order, which timer woke and when (the clock read inside the wake).
struct Fired {
    id: usize,
    log: Arc<std::sync::Mutex<Vec<(usize, u64)>>>,
}
impl Wake for Fired {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push((self.id, now_ns()));
    }
}

#[test]
fn timers_fire_in_deadline_order_never_early() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let entries = [pin!(Entry::new()), pin!(Entry::new()), pin!(Entry::new())];
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let wakers: Vec<Waker> = (0..3)
        .map(|id| {
            Waker::from(Arc::new(Fired {
                id,
                log: log.clone(),
            }))
        })
        .collect();
    let now = now_ns();
    let deadlines = [now + 30_000_000, now + 10_000_000, now + 20_000_000];
    for i in 0..3 {
        entries[i].register(&wakers[i]);
        // SAFETY: pinned for the whole test; fired or cancelled before drop.
        unsafe { r.arm(entries[i].as_ref(), deadlines[i]).unwrap() };
    }
    // However late a turn comes (a loaded machine may serve two deadlines in one turn), the
    // wakes come in deadline order, each at or after its deadline.
    while log.lock().unwrap().len() < 3 {
        r.turn(Wait::Block).unwrap();
    }
    let log = log.lock().unwrap().clone();
    let order: Vec<usize> = log.iter().map(|&(i, _)| i).collect();
    assert_eq!(order, vec![1, 2, 0]);
    for (i, t) in log {
        assert!(
            t >= deadlines[i],
            "timer {i} fired {} ns early",
            deadlines[i] - t
        );
    }
    assert_eq!(r.timers(), 0);
    assert_eq!(r.stats().timers_fired, 3);
}

#[test]
fn fd_readiness_wakes_exactly_the_ready_fds() {
    let _me = host();
    let r = Reactor::new(
        Config {
            timers: 4,
            fds: 8,
            ..Config::default()
        },
        None,
    )
    .unwrap();
    let bufs: Vec<_> = (0..5).map(|_| Xbuf::new(4096, 4096).unwrap()).collect();
    let tokens: Vec<_> = bufs
        .iter()
        .map(|x| r.register(x.rt().read_fd()).unwrap())
        .collect();
    let counters: Vec<_> = (0..5).map(|_| counter()).collect();
    for (t, c) in tokens.iter().zip(&counters) {
        assert!(r.poll_ready(*t, Direction::Read, &c.1).is_pending());
    }
    bufs[1].inband().write(b"x").unwrap();
    bufs[3].inband().write(b"y").unwrap();
    let turn = r.turn(Wait::Block).unwrap();
    assert_eq!(turn.fds, 2);
    let woken: Vec<usize> = counters.iter().map(|c| c.0 .0.load(SeqCst)).collect();
    assert_eq!(woken, vec![0, 1, 0, 1, 0]);
    assert!(r
        .poll_ready(tokens[1], Direction::Read, &counters[1].1)
        .is_ready());
    // Consume, then the fd is not ready any more: clear and wait again.
    let mut b = [0u8; 4];
    assert_eq!(bufs[1].rt().try_read(&mut b).unwrap(), 1);
    r.clear_ready(tokens[1], Direction::Read);
    assert!(r
        .poll_ready(tokens[1], Direction::Read, &counters[1].1)
        .is_pending());
    // Ready but unread fds with no waiter do not make a non-blocking turn report again.
    assert_eq!(r.turn(Wait::Poll).unwrap().fds, 0);
    // Writable readiness.
    let (wc, ww) = counter();
    let wt = r.register(bufs[0].rt().write_fd()).unwrap();
    assert!(r.poll_ready(wt, Direction::Write, &ww).is_pending());
    r.turn(Wait::Block).unwrap();
    assert_eq!(wc.0.load(SeqCst), 1);
    // A removed registration refuses its stale token and wakes its waiter.
    r.deregister(tokens[4]);
    assert_eq!(counters[4].0 .0.load(SeqCst), 1);
    match r.poll_ready(tokens[4], Direction::Read, &counters[4].1) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), evl_reactor::core::ErrorKind::Closed),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.fds(), 5);
}

#[test]
fn registration_capacity_is_a_typed_error() {
    let _me = host();
    let r = Reactor::new(
        Config {
            timers: 1,
            fds: 1,
            ..Config::default()
        },
        None,
    )
    .unwrap();
    let x = Xbuf::new(4096, 4096).unwrap();
    let _t = r.register(x.rt().read_fd()).unwrap();
    let e = r.register(x.inband().read_fd()).unwrap_err();
    assert_eq!(e.kind(), evl_reactor::core::ErrorKind::CapacityExceeded);
    let (a, b) = (pin!(Entry::new()), pin!(Entry::new()));
    // SAFETY: pinned here, cancelled before drop.
    unsafe {
        r.arm(a.as_ref(), now_ns() + 1_000_000_000).unwrap();
        assert!(r.arm(b.as_ref(), now_ns() + 1_000_000_000).is_err());
    }
    r.cancel(&a);
}

#[test]
fn the_wake_element_ends_a_blocking_turn() {
    let _me = host();
    let wake = Arc::new(Semaphore::new(0).unwrap());
    let r = Reactor::new(Config::default(), Some(wake.poll_fd())).unwrap();
    let w2 = wake.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        w2.put().unwrap();
    });
    let turn = r.turn(Wait::Block).unwrap();
    assert!(turn.woken);
    t.join().unwrap();
    wake.try_get().unwrap();
    assert!(!r.turn(Wait::Poll).unwrap().woken);
    let _ = wake.as_ref().poll_fd().as_fd();
}
