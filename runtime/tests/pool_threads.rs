//! Static-pool tasks started and released from many threads at once: every start runs
//! exactly once, every slot comes back, and shutdown cancels exactly the tasks still alive.
//! (The executor's list of live pool tasks is lock-free: starts push onto a CAS stack from
//! any thread, completion and shutdown work on the executor thread only.)

use evl::task::{PoolSpawn, TaskPoolHolder};
use evl::{Executor, JoinError, SpawnError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

const SLOTS: usize = 8;

async fn count(ran: Arc<AtomicUsize>, x: usize) -> usize {
    evl::yield_now().await;
    ran.fetch_add(1, SeqCst);
    x
}

static COUNT_POOL: TaskPoolHolder<{ evl::task::task_pool_size::<_, _, _, SLOTS>(count) }> =
    TaskPoolHolder::new();

fn count_task(
    ran: Arc<AtomicUsize>,
    x: usize,
) -> PoolSpawn<impl std::future::Future<Output = usize> + Send + 'static> {
    // SAFETY: the holder was sized by task_pool_size for `count` and SLOTS.
    unsafe { COUNT_POOL.pool::<_, _, _, SLOTS>(count) }.spawner(count(ran, x), "count")
}

fn count_pool_in_use() -> usize {
    // SAFETY: COUNT_POOL was sized by task_pool_size for `count` and SLOTS, the same function and N
    // as here, and it is viewed as no other pool.
    unsafe { COUNT_POOL.pool::<_, _, _, SLOTS>(count) }.in_use()
}

/// A waker that does nothing (the joining threads poll in a loop).
struct Noop;
impl std::task::Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Sets its flag when dropped (the future was dropped: completed or cancelled).
struct OnDrop(Arc<AtomicUsize>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

async fn park(dropped: Arc<AtomicUsize>) {
    let _g = OnDrop(dropped);
    std::future::pending::<()>().await
}

static PARK_POOL: TaskPoolHolder<{ evl::task::task_pool_size::<_, _, _, SLOTS>(park) }> =
    TaskPoolHolder::new();

fn park_task(
    dropped: Arc<AtomicUsize>,
) -> PoolSpawn<impl std::future::Future<Output = ()> + Send + 'static> {
    // SAFETY: sized for `park` and SLOTS.
    unsafe { PARK_POOL.pool::<_, _, _, SLOTS>(park) }.spawner(park(dropped), "park")
}

fn park_pool_in_use() -> usize {
    // SAFETY: PARK_POOL was sized by task_pool_size for `park` and SLOTS, the same function and N
    // as here, and it is viewed as no other pool.
    unsafe { PARK_POOL.pool::<_, _, _, SLOTS>(park) }.in_use()
}

#[test]
fn starts_and_releases_from_many_threads_balance_exactly() {
    backend();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 500;
    let ex = Executor::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sp, ran, sum) = (ex.spawner(), ran.clone(), sum.clone());
            std::thread::spawn(move || {
                let mut full = 0usize;
                for k in 0..PER_THREAD {
                    let x = t * PER_THREAD + k;
                    let h = loop {
                        match count_task(ran.clone(), x).spawn_on(&sp) {
                            Ok(h) => break h,
                            Err(SpawnError::Full { capacity }) => {
                                assert_eq!(capacity, SLOTS);
                                full += 1;
                                std::thread::yield_now();
                            }
                            Err(e) => panic!("{e}"),
                        }
                    };
                    if k % 2 == 0 {
                        // Detached: the last reference goes wherever the task ends.
                        drop(h);
                        sum.fetch_add(x, SeqCst);
                    } else {
                        // Joined here: the last reference is dropped on this thread.
                        let mut h = std::pin::pin!(h);
                        let waker = std::task::Waker::from(Arc::new(Noop));
                        let out = loop {
                            let mut cx = std::task::Context::from_waker(&waker);
                            if let std::task::Poll::Ready(r) =
                                std::future::Future::poll(h.as_mut(), &mut cx)
                            {
                                break r.unwrap();
                            }
                            std::thread::yield_now();
                        };
                        assert_eq!(out, x);
                        sum.fetch_add(out, SeqCst);
                    }
                }
                full
            })
        })
        .collect();
    let total = THREADS * PER_THREAD;
    {
        let (ran, done) = (ran.clone(), done.clone());
        ex.block_on(async move {
            while ran.load(SeqCst) < total {
                evl::yield_now().await;
            }
            done.store(true, SeqCst);
        });
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(done.load(SeqCst));
    assert_eq!(ran.load(SeqCst), total, "every start ran exactly once");
    assert_eq!(sum.load(SeqCst), (0..total).sum::<usize>());
    assert_eq!(count_pool_in_use(), 0, "every slot came back");
    assert_eq!(ex.tasks(), 0, "pool tasks use no arena slot");
}

#[test]
fn shutdown_cancels_exactly_the_pool_tasks_started_from_other_threads() {
    backend();
    const ROUNDS: usize = 20;
    for _ in 0..ROUNDS {
        let ex = Executor::new().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        // Fill the pool from two threads (half each), while the executor runs a little.
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (sp, dropped) = (ex.spawner(), dropped.clone());
                std::thread::spawn(move || {
                    (0..SLOTS / 2)
                        .map(|_| park_task(dropped.clone()).spawn_on(&sp).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let handles: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        ex.block_on(evl::yield_now());
        assert_eq!(park_pool_in_use(), SLOTS);
        assert_eq!(dropped.load(SeqCst), 0, "parked tasks are alive");
        // Some handles are dropped on another thread before shutdown: their tasks stay alive
        // (detached) and are cancelled with the rest.
        let (early, late): (Vec<_>, Vec<_>) = handles
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 3 == 0);
        std::thread::spawn(move || drop(early)).join().unwrap();
        drop(ex);
        assert_eq!(
            dropped.load(SeqCst),
            SLOTS,
            "shutdown dropped every pool task's future once"
        );
        for (_, h) in late {
            assert!(matches!(
                evl::block_on(h).unwrap(),
                Err(JoinError::Cancelled)
            ));
        }
        assert_eq!(park_pool_in_use(), 0, "every slot came back");
    }
}
