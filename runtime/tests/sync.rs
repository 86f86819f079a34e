//! `evl::sync::Notify`: permits, FIFO choice of one waiter, waking all waiters, cancellation
//! (a dropped chosen waiter passes its notification on), wakes from plain threads, wakers
//! that re-enter the Notify, ping-pong between tasks and threads, and no allocation per round.

use evl::sync::{Notified, Notify};
use evl::Executor;
use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

#[path = "support/blocked.rs"]
mod blocked;

#[path = "support/polling.rs"]
mod polling;
use polling::{backend, counter, poll, Count};

// ---- counting allocator: counts allocations made by the measuring thread only ----

use evl_alloc_count::{start_counting, stop_counting};

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

// ---- hand-polling fixtures ----

fn counts(cs: &[Arc<Count>]) -> Vec<usize> {
    cs.iter().map(|c| c.0.load(SeqCst)).collect()
}

#[test]
fn notify_is_send_sync_const_and_usable_in_a_static() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Notify>();
    send_sync::<Notified<'static>>();
    static N: Notify = Notify::new();
    N.notify_one();
    let (c, w) = counter();
    assert_eq!(poll(pin!(N.notified()), &w), Poll::Ready(()));
    assert_eq!(c.0.load(SeqCst), 0);
}

#[test]
fn a_permit_is_stored_once_and_consumed_at_once() {
    let n = Notify::new();
    n.notify_one();
    n.notify_one(); // still one permit
    let (c, w) = counter();
    assert_eq!(poll(pin!(n.notified()), &w), Poll::Ready(()), "the permit");
    let mut b = pin!(n.notified());
    assert_eq!(poll(b.as_mut(), &w), Poll::Pending, "two calls stored one");
    assert_eq!(c.0.load(SeqCst), 0);
    n.notify_one();
    assert_eq!(
        c.0.load(SeqCst),
        1,
        "the waiter was woken, not given a permit"
    );
    assert_eq!(poll(b.as_mut(), &w), Poll::Ready(()));
    assert_eq!(
        poll(pin!(n.notified()), &w),
        Poll::Pending,
        "no permit left"
    );

    // On an executor: a stored permit completes the wait without parking.
    backend();
    let ex = Executor::new().unwrap();
    n.notify_one();
    ex.block_on(async {
        n.notified().await;
    });
    assert_eq!(ex.stats().parks, 0);
}

#[test]
fn notify_one_wakes_exactly_one_of_three_waiters_in_fifo_order() {
    let n = Notify::new();
    let (cs, ws): (Vec<_>, Vec<_>) = (0..3).map(|_| counter()).unzip();
    let mut a = pin!(n.notified());
    let mut b = pin!(n.notified());
    let mut c = pin!(n.notified());
    // Poll order, not creation order, is the queue order: b, a, c.
    assert!(poll(b.as_mut(), &ws[1]).is_pending());
    assert!(poll(a.as_mut(), &ws[0]).is_pending());
    assert!(poll(c.as_mut(), &ws[2]).is_pending());

    n.notify_one();
    assert_eq!(counts(&cs), [0, 1, 0]);
    assert!(poll(a.as_mut(), &ws[0]).is_pending());
    assert!(poll(c.as_mut(), &ws[2]).is_pending());
    assert!(poll(b.as_mut(), &ws[1]).is_ready());

    n.notify_one();
    assert_eq!(counts(&cs), [1, 1, 0]);
    assert!(poll(c.as_mut(), &ws[2]).is_pending());
    assert!(poll(a.as_mut(), &ws[0]).is_ready());

    n.notify_one();
    assert_eq!(counts(&cs), [1, 1, 1]);
    assert!(poll(c.as_mut(), &ws[2]).is_ready());
    assert!(poll(c.as_mut(), &ws[2]).is_ready(), "stays complete");
    let (_, w) = counter();
    assert!(poll(pin!(n.notified()), &w).is_pending(), "no permit left");
}

#[test]
fn notify_one_wakes_tasks_one_at_a_time_in_the_order_they_waited() {
    backend();
    let ex = Executor::new().unwrap();
    let n = Rc::new(Notify::new());
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    for id in 0..3 {
        let (n, log) = (n.clone(), log.clone());
        ex.spawn_local(async move {
            n.notified().await;
            log.borrow_mut().push(id);
        })
        .unwrap();
    }
    ex.block_on(async {
        evl::yield_now().await; // all three wait now
        assert!(log.borrow().is_empty());
        for k in 0..3 {
            n.notify_one();
            for _ in 0..3 {
                evl::yield_now().await;
            }
            assert_eq!(*log.borrow(), (0..=k).collect::<Vec<_>>());
        }
    });
    assert_eq!(ex.tasks(), 0);
}

#[test]
fn notify_waiters_wakes_all_three_and_stores_no_permit() {
    let n = Notify::new();
    let (cs, ws): (Vec<_>, Vec<_>) = (0..3).map(|_| counter()).unzip();
    let mut fs: Vec<_> = (0..3).map(|_| Box::pin(n.notified())).collect();
    for (f, w) in fs.iter_mut().zip(&ws) {
        assert!(poll(f.as_mut(), w).is_pending());
    }
    let mut unpolled = pin!(n.notified()); // created before the call, never polled
    n.notify_waiters();
    assert_eq!(counts(&cs), [1, 1, 1]);
    for (f, w) in fs.iter_mut().zip(&ws) {
        assert!(poll(f.as_mut(), w).is_ready());
    }
    assert!(
        poll(unpolled.as_mut(), &ws[0]).is_ready(),
        "a future created before notify_waiters completes"
    );
    let mut later = pin!(n.notified());
    assert!(poll(later.as_mut(), &ws[0]).is_pending(), "no permit");
    n.notify_waiters();
    n.notify_waiters(); // nobody waits: nothing stored either
    assert!(poll(later.as_mut(), &ws[0]).is_ready());
    assert!(poll(pin!(n.notified()), &ws[0]).is_pending());

    // With tasks: all three complete after one call.
    backend();
    let ex = Executor::new().unwrap();
    let n = Rc::new(Notify::new());
    let woke = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let (n, woke) = (n.clone(), woke.clone());
        ex.spawn_local(async move {
            n.notified().await;
            woke.set(woke.get() + 1);
        })
        .unwrap();
    }
    ex.block_on(async {
        evl::yield_now().await;
        n.notify_waiters();
        evl::yield_now().await;
        evl::yield_now().await;
    });
    assert_eq!(woke.get(), 3);
    assert_eq!(ex.tasks(), 0);
}

#[test]
fn notify_waiters_releases_more_waiters_than_one_batch() {
    let n = Notify::new();
    let (cs, ws): (Vec<_>, Vec<_>) = (0..100).map(|_| counter()).unzip();
    let mut fs: Vec<_> = (0..100).map(|_| Box::pin(n.notified())).collect();
    for (f, w) in fs.iter_mut().zip(&ws) {
        assert!(poll(f.as_mut(), w).is_pending());
    }
    n.notify_waiters();
    assert_eq!(counts(&cs), vec![1; 100]);
    for (f, w) in fs.iter_mut().zip(&ws) {
        assert!(poll(f.as_mut(), w).is_ready());
    }
}

#[test]
fn a_dropped_chosen_waiter_forwards_its_notification() {
    let n = Notify::new();
    let (cs, ws): (Vec<_>, Vec<_>) = (0..2).map(|_| counter()).unzip();
    let mut a = Box::pin(n.notified());
    let mut b = Box::pin(n.notified());
    assert!(poll(a.as_mut(), &ws[0]).is_pending());
    assert!(poll(b.as_mut(), &ws[1]).is_pending());
    n.notify_one();
    assert_eq!(counts(&cs), [1, 0], "a was chosen");
    drop(a); // cancelled before it saw the notification
    assert_eq!(counts(&cs), [1, 1], "the notification went on to b");
    assert!(poll(b.as_mut(), &ws[1]).is_ready());

    // Nobody else waits: the forwarded notification becomes the permit.
    let mut c = Box::pin(n.notified());
    assert!(poll(c.as_mut(), &ws[0]).is_pending());
    n.notify_one();
    drop(c);
    assert!(poll(pin!(n.notified()), &ws[0]).is_ready(), "stored");
    assert!(poll(pin!(n.notified()), &ws[0]).is_pending(), "once");
}

#[test]
fn a_dropped_waiter_that_was_not_chosen_leaves_the_queue() {
    let n = Notify::new();
    let (cs, ws): (Vec<_>, Vec<_>) = (0..3).map(|_| counter()).unzip();
    let mut fs: Vec<_> = (0..3).map(|_| Some(Box::pin(n.notified()))).collect();
    for (f, w) in fs.iter_mut().zip(&ws) {
        assert!(poll(f.as_mut().unwrap().as_mut(), w).is_pending());
    }
    fs[1] = None; // the middle one gives up
    fs[0] = None; // and the head
    n.notify_one();
    assert_eq!(
        counts(&cs),
        [0, 0, 1],
        "nothing was lost on the dropped ones"
    );
    assert!(poll(fs[2].as_mut().unwrap().as_mut(), &ws[2]).is_ready());
    fs[2] = None;
    n.notify_one();
    assert!(
        poll(pin!(n.notified()), &ws[0]).is_ready(),
        "the list emptied cleanly: the next notify_one stored a permit"
    );
}

/// A waker that, when called by `notify_waiters`, re-enters the Notify: it drops a waiter
/// that call has not released yet, starts a new wait, and calls `notify_one`.
struct Reenter {
    notify: &'static Notify,
    victims: &'static Mutex<Vec<Option<Pin<Box<Notified<'static>>>>>>,
    late: Arc<Count>,
    late_future: Mutex<Option<Pin<Box<Notified<'static>>>>>,
    fired: AtomicBool,
}

impl Wake for Reenter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.fired.swap(true, SeqCst) {
            return;
        }
        // The last victim is in the second batch: still linked in the call's drain.
        let victim = self.victims.lock().unwrap().pop().unwrap();
        drop(victim);
        let mut late = Box::pin(self.notify.notified());
        let w = Waker::from(self.late.clone());
        assert!(
            poll(late.as_mut(), &w).is_pending(),
            "joined after the call"
        );
        self.notify.notify_one(); // would deadlock if wakers ran under the lock
        *self.late_future.lock().unwrap() = Some(late);
    }
}

#[test]
fn wakers_may_reenter_the_notify_while_notify_waiters_runs() {
    static N: Notify = Notify::new();
    static VICTIMS: Mutex<Vec<Option<Pin<Box<Notified<'static>>>>>> = Mutex::new(Vec::new());
    let late = Arc::new(Count::default());
    let reenter = Arc::new(Reenter {
        notify: &N,
        victims: &VICTIMS,
        late: late.clone(),
        late_future: Mutex::new(None),
        fired: AtomicBool::new(false),
    });
    let mut first = Box::pin(N.notified());
    assert!(poll(first.as_mut(), &Waker::from(reenter.clone())).is_pending());
    let (cs, ws): (Vec<_>, Vec<_>) = (0..40).map(|_| counter()).unzip();
    for w in &ws {
        let mut f = Box::pin(N.notified());
        assert!(poll(f.as_mut(), w).is_pending());
        VICTIMS.lock().unwrap().push(Some(f));
    }
    N.notify_waiters();
    let got = counts(&cs);
    assert_eq!(got[..39], vec![1; 39], "every waiter but the dropped one");
    assert_eq!(got[39], 0, "dropped before its turn: skipped, not touched");
    assert_eq!(
        late.0.load(SeqCst),
        1,
        "the late waiter got notify_one, not notify_waiters"
    );
    assert!(poll(first.as_mut(), &ws[0]).is_ready());
    let mut late_f = reenter.late_future.lock().unwrap().take().unwrap();
    assert!(poll(late_f.as_mut(), &ws[0]).is_ready());
    assert!(poll(pin!(N.notified()), &ws[0]).is_pending(), "no permit");
    VICTIMS.lock().unwrap().clear();
}

#[test]
fn a_notification_from_a_plain_thread_unparks_a_blocked_executor() {
    backend();
    static N: Notify = Notify::new();
    static PENDING: AtomicBool = AtomicBool::new(false);
    let ex = Executor::new().unwrap();
    let h = ex
        .spawn(async {
            let mut n = std::pin::pin!(N.notified());
            std::future::poll_fn(|cx| {
                let p = n.as_mut().poll(cx);
                if p.is_pending() {
                    PENDING.store(true, SeqCst);
                }
                p
            })
            .await;
            7
        })
        .unwrap();
    let me = blocked::tid();
    let t = std::thread::spawn(move || {
        // Notify once the task waits and the executor blocks in its reactor (its only
        // blocking call once every task is pending).
        while !PENDING.load(SeqCst) {
            std::thread::yield_now();
        }
        blocked::wait_until_blocked(me);
        N.notify_one();
    });
    assert_eq!(ex.block_on(h).unwrap(), 7);
    t.join().unwrap();
    let st = ex.stats();
    // Only where /proc proves a park (support/blocked.rs).
    if blocked::proves_parks() {
        assert!(st.parks >= 1, "the executor blocked while waiting: {st:?}");
    }
    assert!(st.remote_wakes >= 1, "woken through its inbox: {st:?}");
}

const ROUNDS: u32 = 10_000;

#[test]
fn ping_pong_between_two_tasks_completes_every_round() {
    backend();
    let ex = Executor::new().unwrap();
    let pair = Rc::new((Notify::new(), Notify::new()));
    let ball = Rc::new(Cell::new(0u32));
    let (p, b) = (pair.clone(), ball.clone());
    let ping = ex
        .spawn_local(async move {
            for round in 0..ROUNDS {
                assert_eq!(b.get(), round * 2, "pong answered every serve");
                b.set(b.get() + 1);
                p.0.notify_one();
                p.1.notified().await;
            }
            ROUNDS
        })
        .unwrap();
    let (p, b) = (pair.clone(), ball.clone());
    let pong = ex
        .spawn_local(async move {
            let mut returned = 0;
            for _ in 0..ROUNDS {
                p.0.notified().await;
                assert_eq!(b.get() % 2, 1, "a serve is waiting");
                b.set(b.get() + 1);
                returned += 1;
                p.1.notify_one();
            }
            returned
        })
        .unwrap();
    let (a, b) = ex.block_on(async { (ping.await.unwrap(), pong.await.unwrap()) });
    assert_eq!((a, b), (ROUNDS, ROUNDS));
    assert_eq!(ball.get(), 2 * ROUNDS);
}

#[test]
fn ping_pong_between_tasks_allocates_nothing_per_round() {
    backend();
    let ex = Executor::new().unwrap();
    let pair = Rc::new((Notify::new(), Notify::new()));
    let allocs = Rc::new(Cell::new(usize::MAX));
    let (p, a) = (pair.clone(), allocs.clone());
    let ping = ex
        .spawn_local(async move {
            for round in 0..(100 + ROUNDS) {
                if round == 100 {
                    start_counting(); // steady state: everything is built and warm
                }
                p.0.notify_one();
                p.1.notified().await;
            }
            a.set(stop_counting());
        })
        .unwrap();
    let p = pair.clone();
    let pong = ex
        .spawn_local(async move {
            for _ in 0..(100 + ROUNDS) {
                p.0.notified().await;
                p.1.notify_one();
            }
        })
        .unwrap();
    ex.block_on(async {
        ping.await.unwrap();
        pong.await.unwrap();
    });
    assert_eq!(allocs.get(), 0, "allocations in {ROUNDS} rounds");
}

#[test]
fn ping_pong_between_threads_completes_every_round_without_allocating() {
    backend();
    static PING: Notify = Notify::new();
    static PONG: Notify = Notify::new();
    static BALL: AtomicUsize = AtomicUsize::new(0);
    let other = std::thread::spawn(|| {
        let ex = Executor::new().unwrap();
        ex.block_on(async {
            for round in 0..(100 + ROUNDS) {
                if round == 100 {
                    start_counting();
                }
                PING.notified().await;
                BALL.fetch_add(1, SeqCst);
                PONG.notify_one();
            }
            stop_counting()
        })
    });
    let ex = Executor::new().unwrap();
    let mine = ex.block_on(async {
        for round in 0..(100 + ROUNDS) {
            if round == 100 {
                start_counting();
            }
            assert_eq!(BALL.load(SeqCst), round as usize);
            PING.notify_one();
            PONG.notified().await;
        }
        stop_counting()
    });
    let theirs = other.join().unwrap();
    assert_eq!(BALL.load(SeqCst), (100 + ROUNDS) as usize);
    assert_eq!(
        (mine, theirs),
        (0, 0),
        "allocations per thread in {ROUNDS} rounds"
    );
}

#[test]
fn concurrent_waits_drops_and_notifications_leave_a_consistent_notify() {
    static N: Notify = Notify::new();
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let waits = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (stop, completed, waits) = (stop.clone(), completed.clone(), waits.clone());
            std::thread::spawn(move || {
                let (_, w) = counter();
                let mut k = 0usize;
                while !stop.load(SeqCst) {
                    let mut f = Box::pin(N.notified());
                    // Poll once, or twice (the second poll sees a notification that
                    // arrived after the first), then drop.
                    let ready = poll(f.as_mut(), &w).is_ready()
                        || ((k + i) % 3 != 0 && poll(f.as_mut(), &w).is_ready());
                    if ready {
                        completed.fetch_add(1, SeqCst);
                    }
                    k += 1;
                    waits.fetch_add(1, SeqCst);
                    drop(f); // sometimes still linked, sometimes chosen, sometimes released
                }
            })
        })
        .collect();
    // Notify until both threads have waited many times (they may start late).
    let mut k = 0usize;
    while k < 20_000 || waits.load(SeqCst) < 20_000 {
        if k % 2 == 0 {
            N.notify_one();
        } else {
            N.notify_waiters();
        }
        k += 1;
    }
    stop.store(true, SeqCst);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(completed.load(SeqCst) > 0);
    // Quiescent: at most a permit is left; after consuming it the Notify waits again.
    let (c, w) = counter();
    let _ = poll(pin!(N.notified()), &w);
    let mut f = pin!(N.notified());
    assert!(poll(f.as_mut(), &w).is_pending());
    N.notify_one();
    assert_eq!(c.0.load(SeqCst), 1);
    assert!(poll(f.as_mut(), &w).is_ready());
}

// ---- stress: many threads at once (the waiter list is lock-free; these count exactly) ----

/// Runs `f` on `n` new threads and collects their results, failing (instead of hanging) if a
/// lost wakeup leaves one of them waiting for ever; a healthy run takes well under a second.
fn on_threads<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + Clone + 'static,
    diag: impl Fn() -> String,
) -> Vec<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (tx, f) = (tx.clone(), f.clone());
            std::thread::spawn(move || tx.send((i, f(i))).unwrap())
        })
        .collect();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for _ in 0..n {
        let (i, v) = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("a thread is stuck: a wakeup was lost: {}", diag()));
        out[i] = Some(v);
    }
    threads.into_iter().for_each(|t| t.join().unwrap());
    out.into_iter().map(Option::unwrap).collect()
}

/// A counting semaphore built on a Notify ("create, check, await", and a taker that leaves
/// items behind passes the word on): plain threads produce, tasks on two executors consume.
/// Every item is taken exactly once and no consumer is left waiting.
#[test]
fn many_threads_notifying_and_awaiting_hand_over_every_item_exactly_once() {
    backend();
    static N: Notify = Notify::new();
    static ITEMS: AtomicUsize = AtomicUsize::new(0);
    static TAKEN: AtomicUsize = AtomicUsize::new(0);
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 3000;
    const TOTAL: usize = PRODUCERS * PER_PRODUCER;
    const EXECUTORS: usize = 2;
    const TASKS: usize = 3;

    fn take() -> bool {
        ITEMS
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    let results = on_threads(
        PRODUCERS + EXECUTORS,
        |i| {
            if i < PRODUCERS {
                for k in 0..PER_PRODUCER {
                    ITEMS.fetch_add(1, SeqCst);
                    N.notify_one();
                    if k % 64 == 0 {
                        N.notify_waiters(); // wakes waiters spuriously: they must cope
                    }
                }
                return 0;
            }
            backend();
            let ex = Executor::new().unwrap();
            let hs: Vec<_> = (0..TASKS)
                .map(|_| {
                    ex.spawn(async {
                        let mut mine = 0usize;
                        loop {
                            let n = N.notified();
                            if take() {
                                mine += 1;
                                if TAKEN.fetch_add(1, SeqCst) + 1 == TOTAL {
                                    N.notify_waiters(); // the last one: release everybody
                                } else if ITEMS.load(SeqCst) > 0 {
                                    N.notify_one(); // more left: pass the word on
                                }
                                continue;
                            }
                            if TAKEN.load(SeqCst) == TOTAL {
                                return mine;
                            }
                            n.await;
                        }
                    })
                    .unwrap()
                })
                .collect();
            ex.block_on(async {
                let mut sum = 0;
                for h in hs {
                    sum += h.await.unwrap();
                }
                sum
            })
        },
        || {
            format!(
                "{N:?}, items {}, taken {}",
                ITEMS.load(SeqCst),
                TAKEN.load(SeqCst)
            )
        },
    );
    assert_eq!(results[PRODUCERS..].iter().sum::<usize>(), TOTAL);
    assert_eq!(TAKEN.load(SeqCst), TOTAL);
    assert_eq!(ITEMS.load(SeqCst), 0);
}

/// A broadcast barrier: a coordinator thread opens round after round with `notify_waiters`;
/// tasks on two executors and two plain threads (polling by hand, woken by thread unpark)
/// each see every round exactly once.
#[test]
fn notify_waiters_from_a_thread_reaches_every_waiter_every_round() {
    backend();
    static N: Notify = Notify::new();
    static ROUND: AtomicUsize = AtomicUsize::new(0);
    static ACKS: AtomicUsize = AtomicUsize::new(0);
    const ROUNDS: usize = 2000;
    const EXECUTORS: usize = 2;
    const TASKS: usize = 3;
    const PLAIN: usize = 2;
    const WAITERS: usize = EXECUTORS * TASKS + PLAIN;

    /// Waits for every round; returns how many it saw.
    async fn follow() -> usize {
        let mut seen = 0;
        while seen < ROUNDS {
            let n = N.notified();
            let r = ROUND.load(SeqCst);
            if r > seen {
                assert_eq!(r, seen + 1, "rounds wait for every acknowledgement");
                seen = r;
                ACKS.fetch_add(1, SeqCst);
                continue;
            }
            n.await;
        }
        seen
    }

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let results = on_threads(
        1 + EXECUTORS + PLAIN,
        |i| {
            if i == 0 {
                for r in 1..=ROUNDS {
                    while ACKS.load(SeqCst) < (r - 1) * WAITERS {
                        std::thread::yield_now();
                    }
                    ROUND.store(r, SeqCst);
                    N.notify_waiters();
                }
                return 0;
            }
            if i <= EXECUTORS {
                backend();
                let ex = Executor::new().unwrap();
                let hs: Vec<_> = (0..TASKS).map(|_| ex.spawn(follow()).unwrap()).collect();
                return ex.block_on(async {
                    let mut sum = 0;
                    for h in hs {
                        sum += h.await.unwrap();
                    }
                    sum
                });
            }
            let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
            let mut f = pin!(follow());
            loop {
                if let Poll::Ready(seen) = f.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return seen;
                }
                std::thread::park();
            }
        },
        || {
            format!(
                "{N:?}, round {}, acks {}",
                ROUND.load(SeqCst),
                ACKS.load(SeqCst)
            )
        },
    );
    assert_eq!(
        results[1..],
        vec![ROUNDS * TASKS, ROUNDS * TASKS, ROUNDS, ROUNDS]
    );
    assert_eq!(ACKS.load(SeqCst), ROUNDS * WAITERS);
}
