//! Ecosystem crates, unchanged, on an evl executor: `futures-util` combinators (join,
//! select, `FuturesUnordered`), `async-channel`, `embassy-sync` (`Channel`, `Signal`) and
//! `tokio::sync` (`mpsc`, `oneshot`, `Notify`). They only need a `Waker`, which an evl task
//! has; each test asserts the values that come through, on one executor and, where the crate
//! allows it, between two executors on two threads. Which of them are real-time safe is in
//! the `evl::sync` module docs.

use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex};
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use evl::Executor;
use futures_util::future::{self, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::pin::pin;

fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

#[test]
fn futures_util_join_select_and_futures_unordered() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let (a, b) = future::join(async { 1 }, async {
            evl::yield_now().await;
            2
        })
        .await;
        assert_eq!((a, b), (1, 2));

        let (tx, rx) = evl::sync::oneshot::channel::<u8>();
        drop(tx);
        let never = pin!(future::pending::<()>());
        match future::select(rx, never).await {
            Either::Left((v, _)) => assert!(v.is_err(), "the sender is gone"),
            Either::Right(_) => unreachable!(),
        }

        let mut set: FuturesUnordered<_> = (0..10u64)
            .map(|i| async move {
                for _ in 0..i {
                    evl::yield_now().await;
                }
                i
            })
            .collect();
        let mut order = Vec::new();
        while let Some(i) = set.next().await {
            order.push(i);
        }
        assert_eq!(order, (0..10).collect::<Vec<_>>(), "fewest yields first");
    });
}

#[test]
fn async_channel_between_tasks_and_between_executors() {
    backend();
    let ex = Executor::new().unwrap();
    let (tx, rx) = async_channel::bounded::<u32>(2);
    let p = ex
        .spawn(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        })
        .unwrap();
    let sum = ex.block_on(async {
        let mut s = 0;
        while let Ok(v) = rx.recv().await {
            s += v;
        }
        p.await.unwrap();
        s
    });
    assert_eq!(sum, 4950);

    let (tx, rx) = async_channel::bounded::<u32>(1);
    let t = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        })
    });
    let got = Executor::new().unwrap().block_on(async move {
        let mut n = 0;
        while let Ok(v) = rx.recv().await {
            assert_eq!(v, n);
            n += 1;
        }
        n
    });
    t.join().unwrap();
    assert_eq!(got, 1000);
}

#[test]
fn embassy_sync_channel_and_signal_on_one_executor_and_across_threads() {
    backend();
    let ex = Executor::new().unwrap();
    let ch: std::rc::Rc<Channel<NoopRawMutex, u32, 4>> = std::rc::Rc::new(Channel::new());
    let sig: std::rc::Rc<Signal<NoopRawMutex, u32>> = std::rc::Rc::new(Signal::new());
    let (c, s) = (ch.clone(), sig.clone());
    let p = ex
        .spawn_local(async move {
            for i in 0..50 {
                c.send(i).await;
            }
            s.signal(99);
        })
        .unwrap();
    let sum = ex.block_on(async {
        let mut sum = 0;
        for _ in 0..50 {
            sum += ch.receive().await;
        }
        assert_eq!(sig.wait().await, 99);
        p.await.unwrap();
        sum
    });
    assert_eq!(sum, 1225);

    static CH: Channel<CriticalSectionRawMutex, u32, 4> = Channel::new();
    static SIG: Signal<CriticalSectionRawMutex, u32> = Signal::new();
    let t = std::thread::spawn(|| {
        Executor::new().unwrap().block_on(async {
            for i in 0..500 {
                CH.send(i).await;
            }
            SIG.signal(7);
        })
    });
    let got = Executor::new().unwrap().block_on(async {
        let mut n = 0;
        for i in 0..500 {
            assert_eq!(CH.receive().await, i);
            n += 1;
        }
        (n, SIG.wait().await)
    });
    t.join().unwrap();
    assert_eq!(got, (500, 7));
}

#[test]
fn tokio_sync_mpsc_oneshot_and_notify_on_evl() {
    backend();
    let ex = Executor::new().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(2);
    let (otx, orx) = tokio::sync::oneshot::channel::<u32>();
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    let n2 = notify.clone();
    let p = ex
        .spawn(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
            otx.send(5).unwrap();
            n2.notify_one();
        })
        .unwrap();
    let (sum, o) = ex.block_on(async {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        notify.notified().await;
        let o = orx.await.unwrap();
        p.await.unwrap();
        (sum, o)
    });
    assert_eq!((sum, o), (4950, 5));

    // Across two executors on two threads.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
    let t = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        })
    });
    let got = Executor::new().unwrap().block_on(async move {
        let mut n = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, n);
            n += 1;
        }
        n
    });
    t.join().unwrap();
    assert_eq!(got, 1000);
}
