//! `evl::sync` channels: `mpsc` (heap and static storage), `oneshot`, `watch`, `broadcast`.
//! Values, order, full/closed errors, cancellation (a dropped send/recv loses nothing and
//! leaves no waiter behind; senders keep their FIFO order), two executors on two threads,
//! and no allocation in the steady state.

use evl::sync::{broadcast, mpsc, oneshot, watch};
use evl::Executor;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;

#[path = "support/polling.rs"]
mod polling;
use polling::{backend, counter, poll, wakes};

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

// ---- mpsc ----

#[test]
fn mpsc_try_send_is_full_then_closed_and_values_come_in_order() {
    let (tx, mut rx) = mpsc::channel(2);
    assert_eq!(tx.max_capacity(), 2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert!(matches!(tx.try_send(3), Err(mpsc::TrySendError::Full(3))));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    let tx2 = tx.clone();
    tx2.try_send(4).unwrap();
    drop(tx);
    drop(tx2);
    assert_eq!(rx.try_recv(), Ok(4), "queued values outlive the senders");
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    let (tx, rx) = mpsc::channel::<u8>(1);
    drop(rx);
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(9), Err(mpsc::TrySendError::Closed(9))));
}

#[test]
fn mpsc_waiting_senders_get_room_in_fifo_order_and_a_cancelled_one_leaves_the_queue() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (ca, wa) = counter();
    let (_, wb) = counter();
    let (cc, wc) = counter();
    let mut a = pin!(tx.send(1));
    let mut b = Box::pin(tx.send(2));
    let mut c = pin!(tx.send(3));
    assert!(poll(a.as_mut(), &wa).is_pending());
    assert!(poll(b.as_mut(), &wb).is_pending());
    assert!(poll(c.as_mut(), &wc).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes(&ca), 1, "the oldest sender gets the room");
    drop(b); // cancelled while waiting: its value goes with it, nobody is left behind
    assert!(matches!(poll(a.as_mut(), &wa), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&cc), 1);
    assert!(matches!(poll(c.as_mut(), &wc), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
}

#[test]
fn mpsc_reserve_keeps_the_value_and_closing_fails_waiting_senders() {
    let (tx, mut rx) = mpsc::channel(1);
    let p = tx.try_send(1);
    assert!(p.is_ok());
    let (c, w) = counter();
    let mut r = pin!(tx.reserve());
    assert!(poll(r.as_mut(), &w).is_pending());
    rx.close();
    assert_eq!(wakes(&c), 1);
    assert!(matches!(poll(r.as_mut(), &w), Poll::Ready(Err(_))));
    assert_eq!(rx.try_recv(), Ok(1), "queued values can still be received");
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
}

#[test]
fn mpsc_a_cancelled_recv_loses_nothing() {
    let (tx, mut rx) = mpsc::channel(4);
    let (_, w) = counter();
    {
        let mut r = pin!(rx.recv());
        assert!(poll(r.as_mut(), &w).is_pending());
    }
    tx.try_send(5).unwrap();
    assert_eq!(rx.try_recv(), Ok(5));
}

#[test]
fn mpsc_static_channel_splits_once_and_works() {
    backend();
    static CH: mpsc::StaticChannel<u32, 3> = mpsc::StaticChannel::new();
    let (tx, mut rx) = CH.split().unwrap();
    assert!(CH.split().is_none());
    let ex = Executor::new().unwrap();
    let got = ex.block_on(async move {
        let t = evl::spawner().unwrap().spawn(async move {
            for i in 0..10 {
                tx.send(i).await.unwrap();
            }
        });
        let mut v = Vec::new();
        while let Some(x) = rx.recv().await {
            v.push(x);
        }
        t.unwrap().await.unwrap();
        v
    });
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

const N: u64 = 20_000;

#[test]
fn mpsc_between_two_executors_on_two_threads_delivers_every_value_in_order() {
    backend();
    let (tx, mut rx) = mpsc::channel::<u64>(8);
    let (tx2, mut rx2) = mpsc::channel::<u64>(8);
    let t = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            // Two producers on this executor: each one's values arrive in its order.
            let tx_b = tx.clone();
            let a = evl::spawner().unwrap().spawn(async move {
                for i in 0..N {
                    tx.send(i * 2).await.unwrap();
                }
            });
            let b = evl::spawner().unwrap().spawn(async move {
                for i in 0..N {
                    tx_b.send(i * 2 + 1).await.unwrap();
                }
            });
            a.unwrap().await.unwrap();
            b.unwrap().await.unwrap();
            // Echo back.
            let mut n = 0;
            while let Some(x) = rx2.recv().await {
                assert_eq!(x, n);
                n += 1;
            }
            n
        })
    });
    let ex = Executor::new().unwrap();
    let (even, odd) = ex.block_on(async move {
        let (mut even, mut odd) = (0u64, 0u64);
        while let Some(x) = rx.recv().await {
            if x % 2 == 0 {
                assert_eq!(x / 2, even);
                even += 1;
            } else {
                assert_eq!(x / 2, odd);
                odd += 1;
            }
        }
        for i in 0..N {
            tx2.send(i).await.unwrap();
        }
        (even, odd)
    });
    assert_eq!((even, odd), (N, N));
    assert_eq!(t.join().unwrap(), N);
}

#[test]
fn mpsc_round_trips_between_executors_allocate_nothing_in_steady_state() {
    backend();
    static PING: mpsc::StaticChannel<u64, 4> = mpsc::StaticChannel::new();
    static PONG: mpsc::StaticChannel<u64, 4> = mpsc::StaticChannel::new();
    let (ping_tx, mut ping_rx) = PING.split().unwrap();
    let (pong_tx, mut pong_rx) = PONG.split().unwrap();
    let t = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            while let Some(x) = ping_rx.recv().await {
                pong_tx.send(x + 1).await.unwrap();
            }
        })
    });
    let ex = Executor::new().unwrap();
    let allocs = ex.block_on(async move {
        for round in 0..(100 + N) {
            if round == 100 {
                evl_alloc_count::start_counting();
            }
            ping_tx.send(round).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(round + 1));
        }
        evl_alloc_count::stop_counting()
    });
    t.join().unwrap();
    assert_eq!(allocs, 0);
}

// ---- oneshot ----

#[test]
fn oneshot_delivers_once_and_reports_both_closed_ends() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
    tx.send(String::from("x")).unwrap();
    assert_eq!(rx.try_recv().as_deref(), Ok("x"));
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));

    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    let (_, w) = counter();
    let mut rx = pin!(rx);
    assert!(matches!(poll(rx.as_mut(), &w), Poll::Ready(Err(_))));
}

#[test]
fn oneshot_send_to_a_dropped_receiver_gives_the_value_back() {
    let (mut tx, rx) = oneshot::channel::<Box<u32>>();
    let (c, w) = counter();
    {
        let mut closed = pin!(tx.closed());
        assert!(poll(closed.as_mut(), &w).is_pending());
        drop(rx);
        assert_eq!(wakes(&c), 1);
        assert!(poll(closed.as_mut(), &w).is_ready());
    }
    assert_eq!(*tx.send(Box::new(3)).unwrap_err(), 3);
}

#[test]
fn oneshot_wakes_a_receiver_on_another_executor_thread() {
    backend();
    for i in 0..200u32 {
        let (tx, rx) = oneshot::channel();
        let t = std::thread::spawn(move || tx.send(i).unwrap());
        assert_eq!(Executor::new().unwrap().block_on(rx), Ok(i));
        t.join().unwrap();
    }
}

// ---- watch ----

#[test]
fn watch_changed_sees_the_latest_value_and_the_senders_end() {
    backend();
    let (mut tx, mut rx) = watch::channel(0u32);
    assert_eq!(rx.has_changed(), Ok(false));
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.has_changed(), Ok(true));
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow(), 2, "the latest, not every value");
    });
    assert_eq!(rx.has_changed(), Ok(false));
    tx.send_modify(|v| *v += 10);
    assert_eq!(rx.has_changed(), Ok(true));
    assert_eq!(rx.borrow_and_update(), 12);
    assert_eq!(rx.has_changed(), Ok(false));
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(rx.has_changed(), Ok(false), "not modified: not told");
    let (c, w) = counter();
    {
        let mut ch = pin!(rx.changed());
        assert!(poll(ch.as_mut(), &w).is_pending());
        // cancelled here: nothing marked seen, no waiter left
    }
    assert_eq!(tx.send_replace(20), 12);
    assert_eq!(wakes(&c), 0, "the dropped future's waker is not called");
    let mut rx2 = rx.clone();
    assert_eq!(tx.receiver_count(), 2);
    drop(tx);
    assert_eq!(rx.has_changed(), Err(err(&mut rx2)));
    assert_eq!(rx.borrow(), 20);
}

fn err(rx: &mut watch::Receiver<u32>) -> watch::RecvError {
    Executor::new().unwrap().block_on(async {
        loop {
            if let Err(e) = rx.changed().await {
                return e;
            }
        }
    })
}

#[test]
fn watch_send_fails_without_receivers() {
    let (tx, rx) = watch::channel(1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(2).unwrap_err().0, 2);
    let rx = tx.subscribe();
    assert_eq!(rx.borrow(), 1);
}

#[test]
fn watch_across_executors_reaches_the_final_value() {
    backend();
    let (tx, mut rx) = watch::channel(0u64);
    let t = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            for i in 1..=N {
                tx.send(i).unwrap();
                if i % 64 == 0 {
                    evl::yield_now().await;
                }
            }
        })
    });
    let last = Executor::new().unwrap().block_on(async move {
        let mut last = 0;
        while rx.changed().await.is_ok() {
            let v = rx.borrow_and_update();
            assert!(v >= last, "never goes back");
            last = v;
        }
        rx.borrow()
    });
    t.join().unwrap();
    assert_eq!(last, N);
}

/// Reading and writing the value in any order on one thread (a read inside a modification,
/// a send right after a read, the sender's own read) never waits for itself: no guard
/// holds the lock, and no caller closure runs under it.
#[test]
fn watch_reads_and_writes_on_one_thread_in_any_order() {
    let (mut tx, mut rx) = watch::channel(vec![1u32]);
    let v = rx.borrow();
    tx.send(vec![v[0] + 1]).unwrap();
    assert_eq!(tx.borrow(), [2]);
    tx.send_modify(|v| {
        // The receiver and the sender's old value, read while modifying.
        let seen = rx.borrow();
        v.push(seen[0] * 10);
    });
    assert_eq!(rx.borrow_and_update(), [2, 20]);
    let changed = tx.send_if_modified(|v| {
        let now = rx.borrow();
        v.push(now.len() as u32);
        now.len() == 2
    });
    assert!(changed);
    assert_eq!(rx.has_changed(), Ok(true));
    assert_eq!(rx.borrow(), [2, 20, 2]);
    assert_eq!(tx.send_replace(vec![]), [2, 20, 2]);
    assert_eq!(rx.borrow_and_update(), Vec::<u32>::new());
}

/// Senders and readers on several threads hammer one channel; every read is a whole value
/// (the two halves written together agree) and never older than one read before it.
#[test]
fn watch_reads_are_whole_values_across_threads() {
    let (mut tx, rx) = watch::channel((0u64, !0u64));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..20_000 {
                    let (a, b) = rx.borrow();
                    assert_eq!(a, !b, "a torn value");
                    assert!(a >= last, "went back");
                    last = a;
                }
            })
        })
        .collect();
    for i in 1..=20_000u64 {
        if i % 2 == 0 {
            tx.send((i, !i)).unwrap();
        } else {
            tx.send_modify(|v| *v = (i, !i));
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(rx.borrow(), (20_000, !20_000));
}

// ---- broadcast ----

#[test]
fn broadcast_every_receiver_gets_every_value_and_a_slow_one_is_told_it_lagged() {
    let (tx, mut a) = broadcast::channel(2);
    let mut b = tx.subscribe();
    assert_eq!(tx.send(1), Ok(2));
    assert_eq!(a.try_recv(), Ok(1));
    tx.send(2).unwrap();
    tx.send(3).unwrap();
    assert_eq!(a.try_recv(), Ok(2));
    assert_eq!(a.try_recv(), Ok(3));
    assert_eq!(b.len(), 3);
    assert_eq!(b.try_recv(), Err(broadcast::TryRecvError::Lagged(1)));
    assert_eq!(b.try_recv(), Ok(2));
    assert_eq!(b.try_recv(), Ok(3));
    assert_eq!(b.try_recv(), Err(broadcast::TryRecvError::Empty));
    let mut c = b.resubscribe();
    drop(tx);
    assert_eq!(a.try_recv(), Err(broadcast::TryRecvError::Closed));
    assert_eq!(c.try_recv(), Err(broadcast::TryRecvError::Closed));
    let (tx, rx) = broadcast::channel::<u8>(1);
    drop(rx);
    assert_eq!(tx.send(5).unwrap_err().0, 5);
}

#[test]
fn broadcast_a_cancelled_recv_loses_nothing() {
    let (tx, mut rx) = broadcast::channel(4);
    let (_, w) = counter();
    {
        let mut r = pin!(rx.recv());
        assert!(poll(r.as_mut(), &w).is_pending());
    }
    tx.send(7).unwrap();
    assert_eq!(rx.try_recv(), Ok(7));
}

#[test]
fn broadcast_to_receivers_on_two_executors() {
    backend();
    let (tx, rx1) = broadcast::channel::<u64>(16);
    let rx2 = tx.subscribe();
    let recv_all = |mut rx: broadcast::Receiver<u64>| {
        Executor::new().unwrap().block_on(async move {
            let (mut got, mut lagged) = (0u64, 0u64);
            let mut last = None;
            loop {
                match rx.recv().await {
                    Ok(v) => {
                        assert!(last.is_none_or(|l| v > l), "in order");
                        last = Some(v);
                        got += 1;
                    }
                    Err(broadcast::RecvError::Lagged(n)) => lagged += n,
                    Err(broadcast::RecvError::Closed) => return got + lagged,
                }
            }
        })
    };
    let t1 = std::thread::spawn(move || recv_all(rx1));
    let t2 = std::thread::spawn(move || recv_all(rx2));
    Executor::new().unwrap().block_on(async move {
        for i in 0..N {
            tx.send(i).unwrap();
            if i % 8 == 0 {
                evl::yield_now().await;
            }
        }
    });
    assert_eq!(t1.join().unwrap(), N, "received + reported lagged = sent");
    assert_eq!(t2.join().unwrap(), N);
}

/// A oneshot send racing the receiver's drop on another thread, many times: the value is
/// either given back to the sender or dropped with the channel, exactly once, never both.
#[test]
fn oneshot_send_racing_the_receivers_drop_drops_the_value_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct D;
    impl Drop for D {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    const N: usize = 2_000;
    let mut back = 0;
    for _ in 0..N {
        let (tx, rx) = oneshot::channel::<D>();
        let t = std::thread::spawn(move || drop(rx));
        if let Err(d) = tx.send(D) {
            back += 1;
            drop(d);
        }
        t.join().unwrap();
    }
    assert_eq!(
        DROPS.load(SeqCst),
        N,
        "each value dropped once ({back} came back)"
    );
}

/// A oneshot send racing `Receiver::close` on another thread: the value is received after
/// the close, or given back to the sender, exactly one of the two.
#[test]
fn oneshot_send_racing_close_gives_the_value_to_exactly_one_side() {
    for _ in 0..2_000 {
        let (tx, mut rx) = oneshot::channel::<Box<u32>>();
        let t = std::thread::spawn(move || tx.send(Box::new(1)).is_ok());
        rx.close();
        let sent = t.join().unwrap();
        match rx.try_recv() {
            Ok(v) => assert!(sent && *v == 1),
            Err(e) => {
                assert!(!sent, "sent, but not received");
                assert_eq!(e, oneshot::TryRecvError::Closed);
            }
        }
    }
}
