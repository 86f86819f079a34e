//! Static task pools, declared by hand exactly as `#[evl::task(pool_size = N)]` expands.

use evl::task::{PoolSpawn, TaskPoolHolder};
use evl::{Executor, JoinError, SpawnError};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

async fn double(x: u32, gate: Arc<AtomicBool>) -> u32 {
    while !gate.load(SeqCst) {
        evl::yield_now().await;
    }
    x * 2
}

fn double_task(
    x: u32,
    gate: Arc<AtomicBool>,
) -> PoolSpawn<impl std::future::Future<Output = u32> + 'static> {
    const N: usize = 2;
    static POOL: TaskPoolHolder<{ evl::task::task_pool_size::<_, _, _, N>(double) }> =
        TaskPoolHolder::new();
    // SAFETY: the holder was sized by task_pool_size for `double` and N.
    let pool = unsafe { POOL.pool::<_, _, _, N>(double) };
    pool.spawner(double(x, gate), "double")
}

async fn forever(flag: Arc<AtomicBool>) {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let _g = SetOnDrop(flag);
    std::future::pending::<()>().await
}

fn forever_task(
    flag: Arc<AtomicBool>,
) -> PoolSpawn<impl std::future::Future<Output = ()> + 'static> {
    static POOL: TaskPoolHolder<{ evl::task::task_pool_size::<_, _, _, 1>(forever) }> =
        TaskPoolHolder::new();
    // SAFETY: sized for `forever` and 1 slot.
    unsafe { POOL.pool::<_, _, _, 1>(forever) }.spawner(forever(flag), "forever")
}

#[test]
fn a_pool_holds_n_tasks_and_reuses_released_slots() {
    backend();
    let ex = Executor::new().unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    ex.block_on(async {
        let a = double_task(1, gate.clone()).spawn().unwrap();
        let b = double_task(2, gate.clone()).spawn().unwrap();
        let e = double_task(3, gate.clone()).spawn().unwrap_err();
        assert_eq!(e, SpawnError::Full { capacity: 2 });
        gate.store(true, SeqCst);
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 6);
        let c = double_task(5, gate.clone()).spawn().unwrap();
        assert_eq!(c.await.unwrap(), 10, "a released slot is reused");
    });
    assert_eq!(ex.tasks(), 0, "pool tasks use no arena slot");
    assert_eq!(
        double_task(0, gate.clone()).spawn().unwrap_err(),
        SpawnError::NoExecutor
    );
}

#[test]
// block_on hands the JoinHandle of a task spawned inside it back out, on purpose.
#[allow(clippy::async_yields_async)]
fn shutdown_cancels_pool_tasks_and_frees_their_slot() {
    backend();
    let dropped = Arc::new(AtomicBool::new(false));
    let ex = Executor::new().unwrap();
    let h = ex.block_on(async { forever_task(dropped.clone()).spawn().unwrap() });
    ex.block_on(evl::yield_now());
    drop(ex);
    assert!(
        dropped.load(SeqCst),
        "the pool task's future was dropped at shutdown"
    );
    let r = evl::block_on(h).unwrap();
    assert!(matches!(r, Err(JoinError::Cancelled)));
    // The slot is free again: a new executor can use the one-slot pool.
    let ex2 = Executor::new().unwrap();
    let flag2 = Arc::new(AtomicBool::new(false));
    let h2 = ex2.block_on(async { forever_task(flag2.clone()).spawn().unwrap() });
    h2.abort();
    assert!(matches!(ex2.block_on(h2), Err(JoinError::Cancelled)));
}

async fn triple(x: u32) -> u32 {
    x * 3
}

/// Its own pool: tests run in parallel, and the `double` pool is filled by another test.
fn triple_task(x: u32) -> PoolSpawn<impl std::future::Future<Output = u32> + 'static> {
    static POOL: TaskPoolHolder<{ evl::task::task_pool_size::<_, _, _, 1>(triple) }> =
        TaskPoolHolder::new();
    // SAFETY: sized for `triple` and 1 slot.
    unsafe { POOL.pool::<_, _, _, 1>(triple) }.spawner(triple(x), "triple")
}

#[test]
fn pool_tasks_spawn_onto_another_executor() {
    backend();
    let ex = Executor::new().unwrap();
    let sp = ex.spawner();
    let h = std::thread::spawn(move || triple_task(14).spawn_on(&sp).unwrap())
        .join()
        .unwrap();
    assert_eq!(ex.block_on(h).unwrap(), 42);
}
