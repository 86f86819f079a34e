//! The steady state of the `evl::sync` primitives between two executors on two threads:
//! every round uses a `Mutex`, an `RwLock`, a `Semaphore`, a `Barrier`, `mpsc` both ways,
//! `watch` and `broadcast`. On the measured executor's thread it allocates nothing, and
//! makes no system call outside the allow-list of tests/support/steady.rs (the one
//! wait, reads and writes on doorbell and element fds, PI futex operations): no std futex,
//! no sleep, nothing in-band on the EVL core.

use evl::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, RwLock, Semaphore};
use evl::Executor;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[path = "support/steady.rs"]
mod steady;
use steady::{host, park_word, Count, Window};

const WARM: u64 = 100;
const ROUNDS: u64 = 2_000;

static M: Mutex<u64> = Mutex::new(0);
static RW: RwLock<u64> = RwLock::new(0);
static SEM: Semaphore = Semaphore::new(0);
static BAR: Barrier = Barrier::new(2);

/// Runs the steady state; `w` brackets the measured rounds on this thread.
fn steady_state(w: &mut dyn Window) -> usize {
    let (to_peer, mut from_me) = mpsc::channel::<u64>(2);
    let (to_me, mut from_peer) = mpsc::channel::<u64>(2);
    let (wtx, mut wrx) = watch::channel(0u64);
    let (btx, mut brx) = broadcast::channel::<u64>(4);
    let peer = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            PEER_WORD.store(park_word(), std::sync::atomic::Ordering::SeqCst);
            while let Some(r) = from_me.recv().await {
                *M.lock().await += 1;
                *RW.write().await += 1;
                SEM.acquire().await.unwrap().forget();
                wrx.changed().await.unwrap();
                assert_eq!(wrx.borrow_and_update(), r);
                assert_eq!(brx.recv().await, Ok(r));
                to_me.send(r).await.unwrap();
                BAR.wait().await;
            }
        })
    });
    let ex = Executor::new().unwrap();
    let n = ex.block_on(async move {
        let mut n = 0;
        for r in 1..=(WARM + ROUNDS) {
            if r == WARM + 1 {
                w.start();
            }
            *M.lock().await += 1;
            let _ = *RW.read().await;
            wtx.send(r).unwrap();
            btx.send(r).unwrap();
            SEM.add_permits(1);
            to_peer.send(r).await.unwrap();
            if from_peer.recv().await != Some(r) {
                break;
            }
            BAR.wait().await;
            n += 1;
        }
        let out = w.stop();
        drop(to_peer);
        (n, out)
    });
    peer.join().unwrap();
    assert_eq!(n.0, WARM + ROUNDS);
    assert_eq!(*M.try_lock().unwrap(), 2 * (WARM + ROUNDS));
    assert_eq!(*RW.try_read().unwrap(), WARM + ROUNDS);
    n.1
}

#[test]
fn sync_steady_state_allocates_nothing() {
    if evl_syscall_guard::is_child() {
        return guard_child();
    }
    host();
    assert_eq!(
        steady_state(&mut Count),
        0,
        "allocations in the steady state"
    );
}

fn guard_child() {
    if std::env::var("EVL_SYNC_GUARD").is_err() {
        return; // a child run for another test of this binary
    }
    host();
    // The seccomp window (in a child process); the peer executor is woken (FUTEX_WAKE) on
    // its own word.
    steady_state(&mut steady::Guard::new().with_pi_locks().waking_peer(&PEER_WORD));
}

#[test]
fn sync_steady_state_makes_no_system_call_outside_the_allow_list() {
    if evl_syscall_guard::is_child() {
        return guard_child();
    }
    steady::assert_child_passes(
        "sync_steady_state_makes_no_system_call_outside_the_allow_list",
        &[("EVL_SYNC_GUARD", "1")],
    );
}

/// `oneshot` between two executors on two threads: the channels are made first (one
/// allocation each); then each round the measured executor awaits a value from the peer
/// and sends one back: no allocation on its thread.
#[test]
fn oneshot_send_and_receive_allocate_nothing_after_channel() {
    host();
    const N: u64 = 500;
    let (to_me, from_peer): (Vec<_>, Vec<_>) = (0..N).map(|_| oneshot::channel::<u64>()).unzip();
    let (to_peer, from_me): (Vec<_>, Vec<_>) = (0..N).map(|_| oneshot::channel::<u64>()).unzip();
    let peer = std::thread::spawn(move || {
        Executor::new().unwrap().block_on(async move {
            for (i, (tx, rx)) in to_me.into_iter().zip(from_me).enumerate() {
                tx.send(i as u64).unwrap();
                assert_eq!(rx.await, Ok(i as u64 + 1000));
            }
        })
    });
    let (allocs, got) = Executor::new().unwrap().block_on(async move {
        evl_alloc_count::start_counting();
        let mut got = 0;
        for (rx, tx) in from_peer.into_iter().zip(to_peer) {
            let v = rx.await.unwrap();
            tx.send(v + 1000).unwrap();
            got += 1;
        }
        (evl_alloc_count::stop_counting(), got)
    });
    peer.join().unwrap();
    assert_eq!(got, N);
    assert_eq!(allocs, 0, "allocations after channel()");
}

/// The peer executor's parker word, published by the peer.
static PEER_WORD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
