//! `evl::sync` locks: `Semaphore`, `Mutex`, `RwLock`, `Barrier`. Values, FIFO order,
//! errors, cancellation (a dropped waiter hands on what it had, leaves no waiter behind, and
//! the order of the others holds), tasks on two executors on two threads, and no allocation
//! in the steady state.

use evl::sync::{Barrier, Mutex, RwLock, Semaphore, TryAcquireError};
use evl::Executor;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;

#[path = "support/polling.rs"]
mod polling;
use polling::{backend, counter, poll};

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[test]
fn semaphore_counts_and_closes() {
    let s = Semaphore::new(3);
    let a = s.try_acquire_many(2).unwrap();
    assert_eq!(a.num_permits(), 2);
    assert_eq!(s.available_permits(), 1);
    assert_eq!(
        s.try_acquire_many(2).err(),
        Some(TryAcquireError::NoPermits)
    );
    drop(a);
    assert_eq!(s.available_permits(), 3);
    s.try_acquire().unwrap().forget();
    assert_eq!(s.available_permits(), 2);
    s.add_permits(5);
    assert_eq!(s.available_permits(), 7);
    s.close();
    assert!(s.is_closed());
    assert_eq!(s.try_acquire().err(), Some(TryAcquireError::Closed));
    let (_, w) = counter();
    let mut f = pin!(s.acquire());
    assert!(matches!(poll(f.as_mut(), &w), Poll::Ready(Err(_))));
}

#[test]
fn semaphore_serves_waiters_in_fifo_order_and_close_fails_them() {
    let s = Semaphore::new(0);
    let (c1, w1) = counter();
    let (c2, w2) = counter();
    let (c3, w3) = counter();
    let mut big = pin!(s.acquire_many(2));
    let mut small = pin!(s.acquire());
    let mut last = pin!(s.acquire());
    assert!(poll(big.as_mut(), &w1).is_pending());
    assert!(poll(small.as_mut(), &w2).is_pending());
    assert!(poll(last.as_mut(), &w3).is_pending());
    s.add_permits(1); // partial: goes to `big`, not to `small` behind it
    assert_eq!(c1.0.load(SeqCst) + c2.0.load(SeqCst), 0);
    assert!(s.try_acquire().is_err(), "no barging past waiters");
    s.add_permits(2); // completes big, then small
    assert_eq!((c1.0.load(SeqCst), c2.0.load(SeqCst)), (1, 1));
    let p = match poll(big.as_mut(), &w1) {
        Poll::Ready(Ok(p)) => p,
        _ => panic!("big granted"),
    };
    assert_eq!(p.num_permits(), 2);
    let p2 = poll(small.as_mut(), &w2);
    assert!(matches!(p2, Poll::Ready(Ok(_))));
    assert!(poll(last.as_mut(), &w3).is_pending());
    s.close();
    assert_eq!(c3.0.load(SeqCst), 1);
    assert!(matches!(poll(last.as_mut(), &w3), Poll::Ready(Err(_))));
}

#[test]
fn a_dropped_waiter_hands_on_its_partial_permits_and_keeps_the_order() {
    let s = Semaphore::new(0);
    let (_, w1) = counter();
    let (c2, w2) = counter();
    let (c3, w3) = counter();
    let mut a = Box::pin(s.acquire_many(3));
    let mut b = pin!(s.acquire());
    let mut c = pin!(s.acquire());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    assert!(poll(c.as_mut(), &w3).is_pending());
    s.add_permits(2); // both assigned to `a`
    assert_eq!(c2.0.load(SeqCst), 0);
    drop(a); // hands its 2 to b then c, in order
    assert_eq!((c2.0.load(SeqCst), c3.0.load(SeqCst)), (1, 1));
    let pb = poll(b.as_mut(), &w2);
    let pc = poll(c.as_mut(), &w3);
    assert!(matches!(
        (&pb, &pc),
        (Poll::Ready(Ok(_)), Poll::Ready(Ok(_)))
    ));
    assert_eq!(s.available_permits(), 0, "both hold theirs");
    drop((pb, pc));
    assert_eq!(s.available_permits(), 2);
}

#[test]
fn a_granted_but_dropped_waiter_gives_its_permit_back() {
    let s = Semaphore::new(0);
    let (_, w1) = counter();
    let (c2, w2) = counter();
    let mut a = Box::pin(s.acquire());
    let mut b = pin!(s.acquire());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    s.add_permits(1); // granted to a, which never sees it
    drop(a);
    assert_eq!(c2.0.load(SeqCst), 1, "passed on to b");
    assert!(poll(b.as_mut(), &w2).is_ready());
}

#[test]
fn a_waiter_repolled_with_a_new_waker_gets_the_new_one_woken() {
    let s = Semaphore::new(0);
    let (c1, w1) = counter();
    let (c2, w2) = counter();
    let mut a = pin!(s.acquire());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(a.as_mut(), &w2).is_pending());
    s.add_permits(1);
    assert_eq!((c1.0.load(SeqCst), c2.0.load(SeqCst)), (0, 1));
}

#[test]
fn mutex_is_fifo_and_its_guard_crosses_awaits() {
    backend();
    let ex = Executor::new().unwrap();
    let m = std::rc::Rc::new(Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for i in 0..5 {
        let m = m.clone();
        hs.push(
            ex.spawn_local(async move {
                let mut g = m.lock().await;
                evl::yield_now().await;
                g.push(i);
            })
            .unwrap(),
        );
    }
    ex.block_on(async {
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*m.try_lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn mutex_try_lock_and_cancelled_lock() {
    let m = Mutex::new(1);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    let (_, w1) = counter();
    let (c2, w2) = counter();
    let mut a = Box::pin(m.lock());
    let mut b = pin!(m.lock());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    drop(a); // cancelled while queued: no waiter left behind
    drop(g);
    assert_eq!(c2.0.load(SeqCst), 1);
    match poll(b.as_mut(), &w2) {
        Poll::Ready(mut g) => *g += 1,
        Poll::Pending => panic!("b gets the lock"),
    }
    assert_eq!(*m.try_lock().unwrap(), 2);
}

#[test]
fn rwlock_readers_share_writers_exclude_and_a_waiting_writer_blocks_new_readers() {
    let l = RwLock::new(0);
    let r1 = l.try_read().unwrap();
    let r2 = l.try_read().unwrap();
    assert!(l.try_write().is_err());
    let (cw, ww) = counter();
    let (cr, wr) = counter();
    let mut w = pin!(l.write());
    assert!(poll(w.as_mut(), &ww).is_pending());
    assert!(l.try_read().is_err(), "a writer waits: no new reader");
    let mut r3 = pin!(l.read());
    assert!(poll(r3.as_mut(), &wr).is_pending());
    drop(r1);
    assert_eq!(cw.0.load(SeqCst), 0);
    drop(r2);
    assert_eq!(cw.0.load(SeqCst), 1);
    match poll(w.as_mut(), &ww) {
        Poll::Ready(mut g) => {
            *g = 7;
            assert_eq!(cr.0.load(SeqCst), 0);
        }
        Poll::Pending => panic!("writer"),
    }
    assert_eq!(cr.0.load(SeqCst), 1);
    match poll(r3.as_mut(), &wr) {
        Poll::Ready(g) => assert_eq!(*g, 7),
        Poll::Pending => panic!("reader"),
    };
}

#[test]
fn a_cancelled_writer_lets_the_readers_behind_it_in() {
    let l = RwLock::new(());
    let r1 = l.try_read().unwrap();
    let (_, ww) = counter();
    let (cr, wr) = counter();
    let mut w = Box::pin(l.write());
    assert!(poll(w.as_mut(), &ww).is_pending());
    let mut r = pin!(l.read());
    assert!(poll(r.as_mut(), &wr).is_pending());
    drop(w);
    assert_eq!(cr.0.load(SeqCst), 1);
    assert!(poll(r.as_mut(), &wr).is_ready());
    drop(r1);
}

#[test]
fn barrier_releases_all_with_one_leader_per_round() {
    backend();
    let ex = Executor::new().unwrap();
    let b = std::rc::Rc::new(Barrier::new(3));
    let leaders = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut hs = Vec::new();
    for _ in 0..3 {
        let (b, leaders) = (b.clone(), leaders.clone());
        hs.push(
            ex.spawn_local(async move {
                for _ in 0..4 {
                    if b.wait().await.is_leader() {
                        leaders.set(leaders.get() + 1);
                    }
                }
            })
            .unwrap(),
        );
    }
    ex.block_on(async {
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(leaders.get(), 4);
}

const ROUNDS: usize = 2000;

#[test]
fn a_mutex_shared_by_two_executors_on_two_threads_loses_no_increment() {
    backend();
    static M: Mutex<u64> = Mutex::new(0);
    static B: Barrier = Barrier::new(2);
    let work = || {
        let ex = Executor::new().unwrap();
        ex.block_on(async {
            for _ in 0..ROUNDS {
                let mut g = M.lock().await;
                let v = *g;
                evl::yield_now().await;
                *g = v + 1;
            }
            B.wait().await;
        });
    };
    let t = std::thread::spawn(work);
    work();
    t.join().unwrap();
    assert_eq!(*M.try_lock().unwrap(), 2 * ROUNDS as u64);
}

#[test]
fn a_semaphore_ping_pong_between_executors_allocates_nothing_in_steady_state() {
    backend();
    static PING: Semaphore = Semaphore::new(0);
    static PONG: Semaphore = Semaphore::new(0);
    let t = std::thread::spawn(|| {
        Executor::new().unwrap().block_on(async {
            for _ in 0..(100 + ROUNDS) {
                PING.acquire().await.unwrap().forget();
                PONG.add_permits(1);
            }
        })
    });
    let ex = Executor::new().unwrap();
    let allocs = ex.block_on(async {
        for round in 0..(100 + ROUNDS) {
            if round == 100 {
                evl_alloc_count::start_counting();
            }
            PING.add_permits(1);
            PONG.acquire().await.unwrap().forget();
        }
        evl_alloc_count::stop_counting()
    });
    t.join().unwrap();
    assert_eq!(allocs, 0);
}

/// Tasks on three executors on three threads lock one `Mutex`, and half of their attempts
/// are raced against a yield and cancelled when the yield wins: every lock that completed
/// counted once, no waiter is left behind (the final `try_lock` succeeds), and a
/// `Semaphore` used the same way ends with all its permits.
#[test]
fn cancelled_locks_racing_across_three_executors_lose_nothing() {
    use futures_util::future::{select, Either};
    backend();
    static M: Mutex<u64> = Mutex::new(0);
    static S: Semaphore = Semaphore::new(2);
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let work = || {
        Executor::new().unwrap().block_on(async {
            let mut mine = 0u64;
            for i in 0..ROUNDS {
                if i % 2 == 0 {
                    *M.lock().await += 1;
                    mine += 1;
                } else {
                    match select(pin!(M.lock()), pin!(evl::yield_now())).await {
                        Either::Left((mut g, _)) => {
                            *g += 1;
                            mine += 1;
                        }
                        Either::Right(_) => {} // cancelled while queued (or not yet)
                    }
                }
                if let Either::Left((p, _)) =
                    select(pin!(S.acquire()), pin!(evl::yield_now())).await
                {
                    let _p = p.unwrap();
                    evl::yield_now().await;
                }
            }
            DONE.fetch_add(1, SeqCst);
            mine
        })
    };
    let a = std::thread::spawn(work);
    let b = std::thread::spawn(work);
    let total = work() + a.join().unwrap() + b.join().unwrap();
    assert_eq!(DONE.load(SeqCst), 3);
    assert_eq!(
        *M.try_lock().unwrap(),
        total,
        "every completed lock counted once"
    );
    assert_eq!(S.available_permits(), 2, "every permit back");
    assert!(S.try_acquire_many(2).is_ok(), "no waiter left queued");
}

/// Three executors on three threads meet at one `Barrier` for many rounds: nobody leaves a
/// round before all three arrived in it, and each round has exactly one leader.
#[test]
fn a_barrier_across_three_threads_holds_every_round_with_one_leader() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    backend();
    const N: usize = 3;
    const R: usize = 500;
    static B: Barrier = Barrier::new(N as u32);
    static ARRIVED: AtomicUsize = AtomicUsize::new(0);
    static LEADERS: AtomicUsize = AtomicUsize::new(0);
    let work = || {
        Executor::new().unwrap().block_on(async {
            for k in 0..R {
                ARRIVED.fetch_add(1, SeqCst);
                if B.wait().await.is_leader() {
                    LEADERS.fetch_add(1, SeqCst);
                }
                assert!(ARRIVED.load(SeqCst) >= N * (k + 1), "left round {k} early");
            }
        })
    };
    let ts: Vec<_> = (1..N).map(|_| std::thread::spawn(work)).collect();
    work();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(ARRIVED.load(SeqCst), N * R);
    assert_eq!(LEADERS.load(SeqCst), R, "one leader per round");
}
