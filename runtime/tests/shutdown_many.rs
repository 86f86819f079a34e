//! Many tasks of one executor await the shutdown request (its own test binary: the flag is
//! process-wide). They all register the same doorbell fd: the second and later ones must
//! not fail with "already registered".

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn many_tasks_of_one_executor_await_the_request() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
    let ex = evl::Executor::new().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    ex.block_on(async {
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let d = done.clone();
                evl::spawn_local(async move {
                    evl::shutdown::requested().await.unwrap();
                    d.fetch_add(1, SeqCst);
                })
                .unwrap()
            })
            .collect();
        evl::yield_now().await;
        evl::shutdown::request();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(SeqCst), 5);
}
