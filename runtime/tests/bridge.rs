//! Bridges between an evl executor and in-band code (a plain thread, a tokio runtime, the
//! async-io reactor of smol and async-std):
//! exact counts and order over 100,000 values each way, full and closed behaviour, wake-up
//! coalescing, and the real-time side's steady state: no allocation, no system call outside
//! the allow-list (host, seccomp), no switch to the in-band stage (EVL core).

use evl::bridge::{self, Overflow, TryRecvError, TrySendError};
use std::io;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const N: u64 = 100_000;

#[path = "support/steady.rs"]
mod steady;
use steady::{assert_child_passes, auto, host, Count, Guard, StageCount, Window};

/// The real-time side of the outbound tests: sends 0..N, yielding while the ring is full.
fn rt_send_all(mut tx: bridge::RtSender<u64>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        evl::block_on(async move {
            let mut fulls = 0;
            let mut i = 0;
            while i < N {
                match tx.try_send(i) {
                    Ok(()) => i += 1,
                    Err(TrySendError::Full(v)) => {
                        assert_eq!(v, i, "the refused value comes back");
                        fulls += 1;
                        evl::yield_now().await;
                    }
                    Err(TrySendError::Closed(_)) => panic!("receiver gone early"),
                }
            }
            fulls
        })
        .unwrap()
    })
}

/// The real-time side of the inbound tests: receives until closed, checks the order.
fn rt_recv_all(mut rx: bridge::RtReceiver<u64>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        evl::block_on(async move {
            let mut next = 0;
            while let Some(v) = rx.recv().await {
                assert_eq!(v, next, "in order, none lost, none duplicated");
                next += 1;
            }
            next
        })
        .unwrap()
    })
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .unwrap()
}

#[test]
fn rt_to_tokio_100k_in_order_through_async_fd() {
    auto();
    let (tx, rx) = bridge::to_inband::<u64>(256, Overflow::Reject).unwrap();
    let rt_side = rt_send_all(tx);
    // Any reactor: the descriptor in tokio's AsyncFd, driven by poll_recv_io.
    let got = tokio_rt().block_on(async move {
        // SAFETY: the receiver owns its descriptor for as long as the AsyncFd owns it.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(rx, tokio::io::Interest::READABLE)
        }
        .unwrap();
        let mut next = 0u64;
        loop {
            // Try first; wait for readable only after WouldBlock (which armed the ring).
            match fd.get_ref().poll_recv_io() {
                Ok(Some(v)) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                Ok(None) => return next,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    fd.readable().await.unwrap().clear_ready();
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(got, N, "exactly N values, then closed");
    rt_side.join().unwrap();
}

#[cfg(feature = "tokio")]
#[test]
fn rt_to_tokio_100k_in_order_as_a_stream() {
    use futures_util::StreamExt;
    auto();
    let (tx, rx) = bridge::to_inband::<u64>(256, Overflow::Reject).unwrap();
    let rt_side = rt_send_all(tx);
    let got = tokio_rt().block_on(async move {
        let mut rx = bridge::AsyncReceiver::new(rx).unwrap();
        let mut next = 0u64;
        while let Some(v) = rx.next().await {
            assert_eq!(v, next);
            next += 1;
        }
        assert_eq!(rx.get_ref().lost(), 0);
        next
    });
    assert_eq!(got, N);
    rt_side.join().unwrap();
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_to_rt_100k_in_order_through_send_and_sink() {
    use futures_util::SinkExt;
    auto();
    let (tx, rx) = bridge::to_rt::<u64>(256).unwrap();
    let rt_side = rt_recv_all(rx);
    tokio_rt().block_on(async move {
        let mut tx = bridge::AsyncSender::new(tx).unwrap();
        for i in 0..N / 2 {
            tx.send(i).await.unwrap();
        }
        for i in N / 2..N {
            SinkExt::send(&mut tx, i).await.unwrap();
        }
        // Dropping it closes the bridge: the receiver ends after the last value.
    });
    assert_eq!(rt_side.join().unwrap(), N, "exactly N values, then closed");
}

#[test]
fn tokio_to_rt_100k_in_order_through_async_fd() {
    auto();
    let (tx, rx) = bridge::to_rt::<u64>(256).unwrap();
    let rt_side = rt_recv_all(rx);
    tokio_rt().block_on(async move {
        // SAFETY: the sender owns its descriptor for as long as the AsyncFd owns it.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(tx, tokio::io::Interest::READABLE)
        }
        .unwrap();
        for i in 0..N {
            let mut slot = Some(i);
            while slot.is_some() {
                match fd.get_ref().poll_send_io(&mut slot) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        fd.readable().await.unwrap().clear_ready();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    assert_eq!(rt_side.join().unwrap(), N);
}

#[test]
fn plain_threads_100k_each_way() {
    auto();
    let (tx, rx) = bridge::to_inband::<u64>(64, Overflow::Reject).unwrap();
    let rt_side = rt_send_all(tx);
    let mut next = 0;
    while let Ok(v) = rx.recv() {
        assert_eq!(v, next);
        next += 1;
    }
    assert_eq!(next, N);
    rt_side.join().unwrap();

    let (tx, rx) = bridge::to_rt::<u64>(64).unwrap();
    let rt_side = rt_recv_all(rx);
    for i in 0..N {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert_eq!(rt_side.join().unwrap(), N);
}

#[test]
fn a_full_ring_rejects_or_drops_the_oldest() {
    auto();
    // Reject: the value comes back, nothing is lost.
    let (mut tx, rx) = bridge::to_inband::<u32>(4, Overflow::Reject).unwrap();
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(4), Err(TrySendError::Full(4)));
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(4).unwrap();
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, [1, 2, 3, 4]);
    assert_eq!((tx.dropped(), rx.lost()), (0, 0));

    // DropOldest: the newest 4 stay, 6 replaced, counted on both sides.
    let (mut tx, rx) = bridge::to_inband::<u32>(4, Overflow::DropOldest).unwrap();
    for i in 0..10 {
        tx.try_send(i).unwrap();
    }
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, [6, 7, 8, 9]);
    assert_eq!((tx.dropped(), rx.lost()), (6, 6));
    // Taking one in the middle of overwrites keeps the order.
    tx.try_send(10).unwrap();
    tx.try_send(11).unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
    for i in 12..20 {
        tx.try_send(i).unwrap();
    }
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, [16, 17, 18, 19]);
    assert_eq!(rx.lost(), 6 + 5);

    // In-band to real-time: the in-band sender is refused, or waits.
    let (tx, mut rx) = bridge::to_rt::<u32>(2).unwrap();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(
        tx.send_timeout(3, Duration::from_millis(20)),
        Err(TrySendError::Full(3))
    );
    assert_eq!(rx.try_recv(), Ok(1));
    tx.send_timeout(3, Duration::from_secs(10)).unwrap();
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(2), Ok(3)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn closed_ends_give_values_back_and_drain_first() {
    auto();
    let (mut tx, rx) = bridge::to_inband::<u32>(4, Overflow::Reject).unwrap();
    tx.try_send(1).unwrap();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));

    let (mut tx, rx) = bridge::to_inband::<u32>(4, Overflow::Reject).unwrap();
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1), "what was sent is still received");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.recv(), Err(bridge::Closed));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Err(bridge::RecvTimeoutError::Closed)
    );

    let (tx, rx) = bridge::to_rt::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    // A sender blocked on a full ring is woken by the receiver's drop.
    let t = std::thread::spawn(move || tx.send(2));
    std::thread::sleep(Duration::from_millis(20));
    drop(rx);
    assert_eq!(t.join().unwrap(), Err(bridge::SendError(2)));

    let (tx, mut rx) = bridge::to_rt::<u32>(2).unwrap();
    tx.try_send(7).unwrap();
    drop(tx);
    let got = evl::block_on(async move { (rx.recv().await, rx.recv().await) }).unwrap();
    assert_eq!(got, (Some(7), None));

    let (_tx, rx) = bridge::to_inband::<u32>(1, Overflow::Reject).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(bridge::RecvTimeoutError::Timeout)
    );
    assert!(bridge::to_rt::<u8>(0).is_err());
}

#[test]
fn a_sleeping_receiver_is_rung_once_per_sleep_and_a_busy_one_never() {
    auto();
    let (mut tx, rx) = bridge::to_inband::<u32>(256, Overflow::Reject).unwrap();
    for i in 0..100 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.rings(), 0, "the receiver never said it sleeps");
    for i in 0..100 {
        assert_eq!(rx.poll_recv_io().unwrap(), Some(i));
    }
    // Now it goes to sleep: a burst rings once.
    assert_eq!(
        rx.poll_recv_io().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    for i in 0..100 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.rings(), 1, "one ring for a burst");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(0));

    // In-band sender asleep on a full ring: the real-time receiver rings once per sleep.
    let (tx, mut rx) = bridge::to_rt::<u32>(4).unwrap();
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    let mut slot = Some(4);
    assert_eq!(
        tx.poll_send_io(&mut slot).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    for i in 0..4 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert_eq!(rx.rings(), 1);
    tx.poll_send_io(&mut slot).unwrap();
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.rings(), 1, "a sender that is not waiting is not rung");
}

// ---- The real-time side's steady state ----

const WARM: u64 = 50;
const ROUNDS: u64 = 500;

/// An executor on this thread exchanges values with a plain peer thread over both bridges:
/// each round sends one (rung: the peer sleeps), awaits the answer (woken by the peer), then
/// a burst of 8 each way.
fn steady_state(w: &mut dyn Window) -> usize {
    let (mut out, peer_rx) = bridge::to_inband::<u64>(64, Overflow::Reject).unwrap();
    let (peer_tx, mut inb) = bridge::to_rt::<u64>(64).unwrap();
    let peer = std::thread::spawn(move || {
        while let Ok(v) = peer_rx.recv() {
            if peer_tx.send(v + 1).is_err() {
                return;
            }
        }
    });
    let ex = evl::Executor::new().unwrap();
    let n = ex.block_on(async {
        for r in 0..WARM + ROUNDS {
            if r == WARM {
                w.start();
            }
            out.try_send(r).unwrap();
            assert_eq!(inb.recv().await, Some(r + 1));
            for k in 0..8 {
                out.try_send(r + k).unwrap();
            }
            for k in 0..8 {
                assert_eq!(inb.recv().await, Some(r + k + 1));
            }
        }
        w.stop()
    });
    drop(out);
    drop(inb);
    peer.join().unwrap();
    n
}

#[test]
fn rt_side_allocates_nothing() {
    if evl_syscall_guard::is_child() {
        return;
    }
    auto();
    assert_eq!(
        steady_state(&mut Count),
        0,
        "allocations on the real-time side"
    );
}

#[test]
fn rt_side_makes_no_call_outside_the_allow_list() {
    if evl_syscall_guard::is_child() {
        host();
        steady_state(&mut Guard::new().with_pi_locks());
        unreachable!("the window ends the process");
    }
    assert_child_passes("rt_side_makes_no_call_outside_the_allow_list", &[]);
}

#[test]
fn rt_side_stays_out_of_band_on_the_core() {
    if evl_syscall_guard::is_child() {
        return;
    }
    // A real-time thread on the core, kept by the executor; skipped elsewhere.
    let Some(_me) = steady::attach_rt_on_core("bridge-rt") else {
        return;
    };
    assert_eq!(
        steady_state(&mut StageCount::default()),
        0,
        "switches to the in-band stage on the real-time side"
    );
}

#[test]
fn rt_to_async_io_and_back_100k_each_way() {
    // async-io (smol's and async-std's reactor): the documented `read_with` loops.
    auto();
    let (tx, rx) = bridge::to_inband::<u64>(256, Overflow::Reject).unwrap();
    let rt_side = rt_send_all(tx);
    let got = async_io::block_on(async move {
        let rx = async_io::Async::new_nonblocking(rx).unwrap();
        let mut next = 0u64;
        while let Some(v) = rx.read_with(|rx| rx.poll_recv_io()).await.unwrap() {
            assert_eq!(v, next);
            next += 1;
        }
        next
    });
    assert_eq!(got, N);
    rt_side.join().unwrap();

    let (tx, rx) = bridge::to_rt::<u64>(256).unwrap();
    let rt_side = rt_recv_all(rx);
    async_io::block_on(async move {
        let tx = async_io::Async::new_nonblocking(tx).unwrap();
        for i in 0..N {
            let mut v = Some(i);
            tx.read_with(|tx| tx.poll_send_io(&mut v)).await.unwrap();
        }
    });
    assert_eq!(rt_side.join().unwrap(), N);
}
