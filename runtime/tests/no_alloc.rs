//! The runtime's steady state allocates nothing: spawn/join, yields, interval ticks,
//! timeouts, sleeps, cross-thread wakes and parking, counted by a global allocator on the
//! executor's thread.

use evl::time::{self, Instant};
use evl::Executor;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[test]
fn counting_allocator_sees_allocations() {
    assert!(evl_alloc_count::allocations_in(|| drop(std::hint::black_box(vec![0u8; 32]))) >= 1);
}

#[test]
fn steady_state_runtime_paths_allocate_nothing() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
    let ex = Executor::new().unwrap();
    // A thread that wakes a waiting task from outside, repeatedly.
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let flag = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, f2, st2) = (slot.clone(), flag.clone(), stop.clone());
    let waker_thread = std::thread::spawn(move || {
        while !st2.load(SeqCst) {
            if let Some(w) = s2.lock().unwrap().take() {
                f2.store(true, SeqCst);
                w.wake();
            }
            std::thread::yield_now();
        }
    });
    let remote_wait = move || {
        let (flag, slot) = (flag.clone(), slot.clone());
        std::future::poll_fn(move |cx| {
            if flag.swap(false, SeqCst) {
                return Poll::Ready(());
            }
            *slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        })
    };
    // The loop runs in a task, so that the remote wakes go through the executor's inbox.
    let task = ex.spawn_local(async move {
        let mut iv = time::interval(Duration::from_micros(300)).unwrap();
        let round = || async {
            let h = evl::spawn(async { 3u32 }).unwrap();
            assert_eq!(h.await.unwrap(), 3);
            evl::yield_now().await;
            // Arms and disarms a timer; the limit is far enough that a loaded machine (a
            // stall of a few ms between the yield and the re-poll) cannot reach it.
            time::timeout(Duration::from_secs(10), evl::yield_now())
                .await
                .unwrap();
            time::sleep_until(Instant::now() + Duration::from_micros(50))
                .await
                .unwrap();
        };
        for _ in 0..30 {
            iv.tick().await.unwrap();
            round().await;
            remote_wait().await;
        }
        evl_alloc_count::start_counting();
        for _ in 0..100 {
            iv.tick().await.unwrap();
            round().await;
            remote_wait().await;
        }
        evl_alloc_count::stop_counting()
    });
    let allocated = ex.block_on(task.unwrap()).unwrap();
    stop.store(true, SeqCst);
    waker_thread.join().unwrap();
    assert!(
        ex.stats().parks > 0 && ex.stats().remote_wakes > 0,
        "{:?}",
        ex.stats()
    );
    assert_eq!(allocated, 0);
}
