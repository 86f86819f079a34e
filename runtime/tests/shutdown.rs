//! SIGINT leads to a clean shutdown that tasks on every executor observe. (Its own test
//! binary: the shutdown flag is process-wide.)

use evl::{ExecutorConfig, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn sigint_is_observed_by_tasks_on_every_executor() {
    let rt = Runtime::builder()
        .backend(
            evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
        )
        .handle_signals(true)
        .main(ExecutorConfig::new("main").lock_memory(false))
        .executor(ExecutorConfig::new("other").lock_memory(false))
        .build()
        .unwrap();
    let other = rt.spawner("other").unwrap();
    let observed = Arc::new(AtomicUsize::new(0));
    let o2 = observed.clone();
    assert!(!evl::shutdown::is_requested());
    let out = rt
        .block_on(async move {
            let o3 = o2.clone();
            let remote = other
                .spawn_with(move || async move {
                    evl::shutdown::requested().await.unwrap();
                    o3.fetch_add(1, SeqCst);
                })
                .unwrap();
            let local = evl::spawn_local(async move {
                evl::shutdown::requested().await.unwrap();
                o2.fetch_add(1, SeqCst);
            })
            .unwrap();
            evl::time::sleep(std::time::Duration::from_millis(20))
                .await
                .unwrap();
            // SAFETY: raise has no memory effects; our handler turns SIGINT into a request.
            unsafe { libc::raise(libc::SIGINT) };
            local.await.unwrap();
            remote.await.unwrap();
            "clean"
        })
        .unwrap();
    assert_eq!(out, "clean");
    assert_eq!(observed.load(SeqCst), 2);
    assert!(evl::shutdown::is_requested());
}
