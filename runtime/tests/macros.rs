//! The macros as an application uses them: `#[evl::test]` runs an async test on a fresh
//! runtime; `#[evl::task]` gives a function a static pool of task slots. (`#[evl::main]` and
//! every misuse are compile tests: runtime/macros/tests/ui.rs.)
//!
//! Every test here names the host backend: the backend is chosen once per process, and the
//! tests of this file share one.

use core::time::Duration;
use evl::time::Instant;
use evl::{ExecutorConfig, Runtime, SpawnError};

#[evl::test]
async fn evl_test_spawns_sleeps_and_returns_ok() -> Result<(), evl::Error> {
    let answer = evl::spawn(async { 6 * 7 }).expect("a free task slot");
    let start = Instant::now();
    evl::time::sleep(Duration::from_millis(2)).await?;
    assert!(start.elapsed() >= Duration::from_millis(2));
    assert_eq!(answer.await.expect("the task finished"), 42);
    Ok(())
}

#[evl::test(capacity = 4, name = "small")]
async fn evl_test_applies_the_executor_config() {
    let handles: Vec<_> = (0..4)
        .map(|i| evl::spawn(async move { i }).expect("4 slots"))
        .collect();
    assert_eq!(
        evl::spawn(async {}).err(),
        Some(SpawnError::Full { capacity: 4 }),
        "capacity = 4 sets the executor's capacity"
    );
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), i);
    }
}

/// Sleeps `ms`, then returns `id`.
#[evl::task(pool_size = 2)]
async fn worker(id: u32, ms: u64) -> u32 {
    evl::time::sleep(Duration::from_millis(ms))
        .await
        .expect("a free timer");
    id
}

#[evl::test]
async fn task_pool_holds_pool_size_tasks_and_reuses_finished_slots() {
    let a = worker(1, 1).spawn().expect("slot 1 of 2");
    let b = worker(2, 20).spawn().expect("slot 2 of 2");
    assert_eq!(
        worker(3, 1).spawn().err(),
        Some(SpawnError::Full { capacity: 2 }),
        "a third task does not fit a pool of 2"
    );
    assert_eq!(a.await.unwrap(), 1);
    // The first task has ended and its handle is gone: its slot takes a new task.
    let c = worker(4, 1).spawn().expect("the finished task's slot");
    assert_eq!(c.await.unwrap(), 4);
    assert_eq!(b.await.unwrap(), 2);
    let d = worker(5, 0).spawn().expect("both slots free again");
    assert_eq!(d.await.unwrap(), 5);
}

/// Argument patterns other than a plain name, a default pool of 1, a `'static` borrow.
#[evl::task]
async fn patterns((a, b): (u32, u32), mut n: u32, _: (), label: &'static str) -> (u32, usize) {
    n += a + b;
    (n, label.len())
}

#[evl::test]
async fn task_keeps_argument_patterns() {
    let h = patterns((1, 2), 3, (), "four")
        .spawn()
        .expect("the one slot");
    assert_eq!(
        patterns((0, 0), 0, (), "").spawn().err(),
        Some(SpawnError::Full { capacity: 1 }),
        "pool_size defaults to 1"
    );
    assert_eq!(h.await.unwrap(), (6, 4));
}

const REMOTE_POOL: usize = 3;

/// A pool sized by a const expression, spawned onto another executor's thread.
#[evl::task(pool_size = REMOTE_POOL)]
async fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn task_spawns_onto_another_executor_and_not_outside_one() {
    assert_eq!(
        thread_name().spawn().err(),
        Some(SpawnError::NoExecutor),
        "spawn() needs a current executor"
    );
    let rt = Runtime::builder()
        .backend(
            evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
        )
        .handle_signals(false)
        .main(ExecutorConfig::new("macros-main").lock_memory(false))
        .executor(ExecutorConfig::new("macros-other").lock_memory(false))
        .build()
        .unwrap();
    let other = rt.spawner("macros-other").unwrap();
    let names = rt
        .block_on(async move {
            let hs: Vec<_> = (0..REMOTE_POOL)
                .map(|_| thread_name().spawn_on(&other).expect("3 slots"))
                .collect();
            let mut names = Vec::new();
            for h in hs {
                names.push(h.await.unwrap());
            }
            names
        })
        .unwrap();
    assert_eq!(names, ["macros-other"; REMOTE_POOL]);
}

/// Holds a buffer larger than the default slot across an await.
async fn big_task(buf: [u8; 3000]) -> usize {
    evl::yield_now().await;
    buf.iter().map(|&b| usize::from(b)).sum()
}

#[evl::test(slot_size = evl::task::slot_size(big_task), name = "sized")]
async fn slot_size_takes_the_size_of_a_task_function_at_compile_time() {
    const NEEDED: usize = evl::task::slot_size(big_task);
    const { assert!(NEEDED > evl::executor::DEFAULT_SLOT_SIZE) };
    let h = evl::spawn(big_task([1; 3000])).expect("sized to fit");
    assert_eq!(h.await.unwrap(), 3000);
}

#[evl::test(name = "unsized")]
async fn without_it_the_default_slot_is_too_small_and_says_what_to_write() {
    let e = evl::spawn(big_task([1; 3000])).unwrap_err();
    let SpawnError::TooBig { size, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(size, evl::task::slot_size(big_task));
    assert!(
        e.to_string()
            .contains(&format!("slot_size = {}", size.next_multiple_of(64))),
        "{e}"
    );
}
