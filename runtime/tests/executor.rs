//! Executor behaviour: spawn/join, FIFO order, wakes from everywhere, abort, panics,
//! capacity, shutdown.

use evl::{Executor, JoinError, PanicPolicy, SpawnError};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

#[path = "support/blocked.rs"]
mod blocked;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

/// A one-shot flag another thread sets, with the waker of whoever awaits it.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.set.store(true, SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
    async fn wait(&self) {
        poll_fn(|cx| {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn block_on_and_join_return_outputs() {
    backend();
    let ex = Executor::new().unwrap();
    let out = ex.block_on(async {
        let a = evl::spawn(async { 20 }).unwrap();
        let b = evl::spawn(async { 22 }).unwrap();
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(out, 42);
    assert_eq!(ex.tasks(), 0, "finished and joined tasks free their slots");
    assert_eq!(evl::block_on(async { 7 }).unwrap(), 7);
}

#[test]
fn tasks_run_in_fifo_order_and_yield_round_robin() {
    backend();
    let ex = Executor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    ex.block_on(async {
        let hs: Vec<_> = (0..3)
            .map(|id| {
                let log = log.clone();
                evl::spawn(async move {
                    for round in 0..3 {
                        log.lock().unwrap().push((round, id));
                        evl::yield_now().await;
                    }
                })
                .unwrap()
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |id| (r, id))).collect();
    assert_eq!(*log.lock().unwrap(), expected);
}

#[test]
fn a_wake_from_another_thread_unparks_the_executor() {
    backend();
    let ex = Executor::new().unwrap();
    let sig = Arc::new(Signal::default());
    let pending = Arc::new(AtomicBool::new(false));
    let (s2, p2) = (sig.clone(), pending.clone());
    let me = blocked::tid();
    let t = std::thread::spawn(move || {
        // Fire only once the task waits and the executor thread blocks: with every task
        // pending, the only blocking call left to it is its reactor's wait.
        while !p2.load(SeqCst) {
            std::thread::yield_now();
        }
        blocked::wait_until_blocked(me);
        s2.fire();
    });
    let h = ex
        .spawn(poll_fn(move |cx| {
            *sig.waker.lock().unwrap() = Some(cx.waker().clone());
            if sig.set.load(SeqCst) {
                return Poll::Ready(5);
            }
            pending.store(true, SeqCst);
            Poll::Pending
        }))
        .unwrap();
    assert_eq!(ex.block_on(h).unwrap(), 5);
    t.join().unwrap();
    let st = ex.stats();
    // Only where /proc proves a park (support/blocked.rs).
    if blocked::proves_parks() {
        assert!(st.parks >= 1, "the executor blocked while waiting: {st:?}");
    }
    assert!(st.remote_wakes >= 1, "woken through its inbox: {st:?}");
}

#[test]
fn waking_many_times_queues_once_and_waking_a_finished_task_is_harmless() {
    backend();
    let ex = Executor::new().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let stash: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (p2, s2) = (polls.clone(), stash.clone());
    let h = ex
        .spawn(poll_fn(move |cx| {
            let n = p2.fetch_add(1, SeqCst) + 1;
            *s2.lock().unwrap() = Some(cx.waker().clone());
            if n == 2 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }))
        .unwrap();
    ex.block_on(async {
        evl::yield_now().await; // the task runs once and parks
        let w = stash.lock().unwrap().clone().unwrap();
        for _ in 0..1000 {
            w.wake_by_ref();
        }
        let w2 = w.clone();
        std::thread::spawn(move || (0..1000).for_each(|_| w2.wake_by_ref()))
            .join()
            .unwrap();
        h.await.unwrap();
    });
    assert_eq!(
        polls.load(SeqCst),
        2,
        "2000 wakes of an idle task gave one poll"
    );
    // The task is done; its waker still pins the slot, and waking it does nothing.
    let w = stash.lock().unwrap().take().unwrap();
    assert_eq!(ex.tasks(), 1);
    w.wake_by_ref();
    ex.block_on(evl::yield_now());
    assert_eq!(polls.load(SeqCst), 2);
    drop(w);
    assert_eq!(ex.tasks(), 0, "the last waker frees the slot");
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn abort_drops_the_future_and_the_handle_reports_cancelled() {
    backend();
    let ex = Executor::new().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let h = ex
        .spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        })
        .unwrap();
    ex.block_on(evl::yield_now());
    assert!(!h.is_finished());
    h.abort();
    let r = ex.block_on(h);
    assert!(matches!(r, Err(JoinError::Cancelled)), "{r:?}");
    assert!(dropped.load(SeqCst), "the future was dropped");
    assert_eq!(ex.tasks(), 0);
}

#[test]
fn a_panicking_task_is_contained_and_reported() {
    backend();
    let ex = Executor::builder()
        .panic_policy(PanicPolicy::Isolate)
        .build()
        .unwrap();
    let out = ex.block_on(async {
        let bad = evl::spawn(async { panic!("motor overcurrent") }).unwrap();
        let good = evl::spawn(async { 1 }).unwrap();
        (bad.await, good.await)
    });
    let err = out.0.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("motor overcurrent"));
    assert!(
        err.to_string().contains("panicked: motor overcurrent"),
        "{err}"
    );
    assert_eq!(out.1.unwrap(), 1, "the executor kept running");
    assert_eq!(ex.stats().panicked, 1);
}

#[test]
fn capacity_and_slot_size_are_typed_errors() {
    backend();
    let ex = Executor::builder()
        .capacity(2)
        .slot_size(256)
        .build()
        .unwrap();
    let a = ex.spawn(std::future::pending::<()>()).unwrap();
    let _b = ex.spawn(std::future::pending::<()>()).unwrap();
    assert_eq!(
        ex.spawn(async {}).unwrap_err(),
        SpawnError::Full { capacity: 2 }
    );
    let big = [0u8; 4096];
    let e = ex.spawn(async move { big.len() }).unwrap_err();
    assert!(
        matches!(e, SpawnError::TooBig { slot_size: 256, .. }),
        "{e:?}"
    );
    // The message names the exact argument that makes it fit.
    let SpawnError::TooBig { size, .. } = e else {
        unreachable!()
    };
    let fits = size.next_multiple_of(64);
    for arg in [
        format!("#[evl::main(slot_size = {fits})]"),
        format!("ExecutorConfig::slot_size({fits})"),
    ] {
        assert!(e.to_string().contains(&arg), "{arg} missing from: {e}");
    }
    // As an evl::Error (`?`), the hint names a power-of-two slot size that fits.
    let as_error: evl::Error = e.into();
    assert_eq!(as_error.kind(), evl::ErrorKind::CapacityExceeded);
    let pow2 = size.next_power_of_two();
    assert!(
        as_error
            .hint()
            .contains(&format!("#[evl::main(slot_size = {pow2})]")),
        "{as_error}"
    );
    a.abort();
    ex.block_on(evl::yield_now()); // one turn: the cancelled task is dropped
    assert!(a.is_finished());
    assert!(
        ex.spawn(async {}).is_err(),
        "the handle still holds the finished task's output"
    );
    drop(a);
    assert!(
        ex.spawn(async {}).is_ok(),
        "an aborted task's slot is reusable once its handle is gone"
    );
    assert!(Executor::builder().capacity(0).build().is_err());
    assert_eq!(evl::spawn(async {}).unwrap_err(), SpawnError::NoExecutor);
}

#[test]
fn dropping_the_executor_cancels_live_tasks() {
    backend();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let ex = Executor::new().unwrap();
    let spawner = ex.spawner();
    let h = ex
        .spawn(async move {
            let _flag = flag;
            std::future::pending::<u8>().await
        })
        .unwrap();
    ex.block_on(evl::yield_now());
    drop(ex);
    assert!(dropped.load(SeqCst), "shutdown dropped the future");
    assert!(h.is_finished());
    let r = evl::block_on(h).unwrap();
    assert!(matches!(r, Err(JoinError::Cancelled)), "{r:?}");
    assert_eq!(spawner.spawn(async {}).unwrap_err(), SpawnError::Shutdown);
}

#[test]
fn detached_tasks_keep_running() {
    backend();
    let ex = Executor::new().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let r2 = ran.clone();
    drop(ex.spawn(async move {
        evl::yield_now().await;
        r2.store(true, SeqCst);
        String::from("output nobody reads")
    }));
    ex.block_on(async {
        evl::yield_now().await;
        evl::yield_now().await;
    });
    assert!(ran.load(SeqCst));
    assert_eq!(ex.tasks(), 0);
}

#[test]
fn spawners_on_other_threads_feed_the_executor() {
    backend();
    let ex = Executor::builder().capacity(256).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Signal::default());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (sp, done, all) = (ex.spawner(), done.clone(), all.clone());
            std::thread::spawn(move || {
                for _ in 0..100 {
                    loop {
                        let (done, all) = (done.clone(), all.clone());
                        match sp.spawn(async move {
                            if done.fetch_add(1, SeqCst) + 1 == 200 {
                                all.fire();
                            }
                        }) {
                            Ok(h) => break drop(h),
                            Err(SpawnError::Full { .. }) => std::thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    ex.block_on(all.wait());
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(done.load(SeqCst), 200);
}

#[test]
fn no_wake_is_lost_under_a_cross_thread_storm() {
    backend();
    const THREADS: usize = 3;
    const PER: usize = 3000;
    let ex = Executor::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (count, waker) = (count.clone(), waker.clone());
            std::thread::spawn(move || {
                for _ in 0..PER {
                    count.fetch_add(1, SeqCst);
                    if let Some(w) = waker.lock().unwrap().as_ref() {
                        w.wake_by_ref();
                    }
                }
            })
        })
        .collect();
    // The task only finishes if it observes the final count: a lost wake would hang it
    // (the test harness would time out), never pass.
    let seen = ex.block_on(poll_fn(|cx| {
        *waker.lock().unwrap() = Some(cx.waker().clone());
        let n = count.load(SeqCst);
        if n == THREADS * PER {
            Poll::Ready(n)
        } else {
            Poll::Pending
        }
    }));
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(seen, THREADS * PER);
}

mod signal_wake {
    use super::*;
    use std::sync::OnceLock;

    static WAKER: OnceLock<Waker> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    static PENDING: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_sigusr1(_: libc::c_int) {
        // Async-signal-safe: atomics, and a task wake (state CAS, queue push, parker swap,
        // at most one write(2) to the executor's doorbell).
        FIRED.store(true, SeqCst);
        if let Some(w) = WAKER.get() {
            w.wake_by_ref();
        }
    }

    /// A task is woken from a signal handler running on the executor's own thread, while the
    /// executor is parked in its reactor: it must notice and run the task.
    #[test]
    fn a_wake_from_a_signal_handler_is_not_lost() {
        backend();
        // SAFETY: installing a handler that only touches atomics and a waker whose wake path
        // is async-signal-safe; the sigaction struct is fully initialised.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
        }
        let ex = Executor::new().unwrap();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let task = ex
            .spawn(poll_fn(|cx| {
                let _ = WAKER.set(cx.waker().clone());
                if FIRED.load(SeqCst) {
                    Poll::Ready(())
                } else {
                    PENDING.store(true, SeqCst);
                    Poll::Pending
                }
            }))
            .unwrap();
        let tid = blocked::tid();
        let killer = std::thread::spawn(move || {
            // The task waits, then the executor blocks in its reactor (its only blocking
            // call once every task is pending): the signal lands on a parked executor.
            while !PENDING.load(SeqCst) {
                std::thread::yield_now();
            }
            blocked::wait_until_blocked(tid);
            // SAFETY: `me` is the live test thread, blocked in block_on below.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
        });
        ex.block_on(task).unwrap();
        killer.join().unwrap();
        assert!(ex.stats().parks >= 1);
    }
}

#[test]
fn edf_runs_the_earliest_deadline_first_and_counts_late_polls() {
    backend();
    use evl::time::Instant;
    let ex = Executor::builder().edf(true).build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let now = Instant::now();
    let spec: [(&str, Option<Duration>); 4] = [
        ("a", Some(Duration::from_secs(30))),
        ("b", Some(Duration::from_secs(10))),
        ("none", None),
        ("c", Some(Duration::from_secs(20))),
    ];
    // Every task declares its deadline, then parks until main wakes them all at once, in
    // spawn order; EDF must then run them by deadline.
    let parked: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let go = Arc::new(AtomicBool::new(false));
    ex.block_on(async {
        let hs: Vec<_> = spec
            .iter()
            .map(|&(name, d)| {
                let (log, parked, go) = (log.clone(), parked.clone(), go.clone());
                evl::spawn(async move {
                    if let Some(d) = d {
                        assert!(evl::task::set_deadline(now + d));
                        assert_eq!(evl::task::deadline(), Some(now + d));
                    }
                    poll_fn(|cx| {
                        if go.load(SeqCst) {
                            return Poll::Ready(());
                        }
                        parked.lock().unwrap().push(cx.waker().clone());
                        Poll::Pending
                    })
                    .await;
                    log.lock().unwrap().push(name);
                })
                .unwrap()
            })
            .collect();
        while parked.lock().unwrap().len() < 4 {
            evl::yield_now().await;
        }
        go.store(true, SeqCst);
        parked.lock().unwrap().drain(..).for_each(Waker::wake);
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.lock().unwrap(), vec!["b", "c", "a", "none"]);
    assert_eq!(ex.stats().late_polls, 0);
    // A task whose deadline has passed when its poll starts is counted.
    ex.block_on(async {
        evl::spawn(async {
            evl::task::set_deadline(Instant::now());
            evl::yield_now().await;
        })
        .unwrap()
        .await
        .unwrap()
    });
    assert!(ex.stats().late_polls >= 1);
    assert!(!evl::task::set_deadline(Instant::now()), "outside a task");
}

/// `PanicPolicy::Abort` ends the process: checked in a child process (this test binary,
/// re-run with a filter), which must die of SIGABRT after reporting the panic.
#[test]
fn abort_policy_ends_the_process() {
    use std::os::unix::process::ExitStatusExt;
    if std::env::var_os("EVL_TEST_ABORT_CHILD").is_some() {
        backend();
        let ex = Executor::builder()
            .panic_policy(PanicPolicy::Abort)
            .build()
            .unwrap();
        let _ = ex.block_on(async {
            evl::spawn(async { panic!("fatal in control task") })
                .unwrap()
                .await
        });
        unreachable!("the panic policy must have aborted the process");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "abort_policy_ends_the_process",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("EVL_TEST_ABORT_CHILD", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "child: {:?}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fatal in control task"),
        "the panic is reported: {stderr}"
    );
}

#[test]
fn a_panicking_drop_is_contained_at_cancel_and_completion() {
    backend();
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop bomb");
        }
    }
    let ex = Executor::new().unwrap();
    let h = ex
        .spawn(async {
            let _b = Bomb;
            std::future::pending::<()>().await
        })
        .unwrap();
    ex.block_on(evl::yield_now());
    h.abort();
    let r = ex.block_on(h);
    assert!(matches!(r, Err(JoinError::Cancelled)), "{r:?}");
    // An output nobody reads, whose drop panics.
    drop(ex.spawn(async { Bomb }).unwrap());
    ex.block_on(async {
        evl::yield_now().await;
        evl::yield_now().await;
    });
    assert_eq!(ex.tasks(), 0);
    assert_eq!(ex.stats().panicked, 2, "both drops were reported");
}

#[test]
#[should_panic(expected = "block_on called from inside a block_on")]
fn nested_block_on_is_refused() {
    backend();
    let ex = Executor::new().unwrap();
    ex.block_on(async { ex.block_on(async {}) });
}

#[test]
fn shutdown_racing_remote_wakes_and_spawns_finishes_every_task() {
    backend();
    for _ in 0..30 {
        let ex = Executor::new().unwrap();
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let w = wakers.clone();
                ex.spawn(poll_fn(move |cx| {
                    w.lock().unwrap().push(cx.waker().clone());
                    Poll::<()>::Pending
                }))
                .unwrap()
            })
            .collect();
        ex.block_on(evl::yield_now());
        let stop = Arc::new(AtomicBool::new(false));
        let sp = ex.spawner();
        let (w2, s2) = (wakers.clone(), stop.clone());
        let storm = std::thread::spawn(move || {
            let mut spawned = Vec::new();
            while !s2.load(SeqCst) {
                let ws: Vec<Waker> = w2.lock().unwrap().drain(..).collect();
                ws.iter().for_each(Waker::wake_by_ref);
                if let Ok(h) = sp.spawn(async {}) {
                    spawned.push(h);
                }
                std::thread::yield_now();
            }
            spawned
        });
        std::thread::sleep(Duration::from_millis(2));
        drop(ex); // shutdown while wakes and spawns are in flight
        stop.store(true, SeqCst);
        let spawned = storm.join().unwrap();
        assert!(
            handles.iter().all(|h| h.is_finished()),
            "a task was left behind"
        );
        assert!(
            spawned.iter().all(|h| h.is_finished()),
            "a spawned task was left behind"
        );
    }
}

#[test]
fn spawn_errors_mix_with_evl_errors_through_question_mark() {
    backend();
    let ex = Executor::builder().capacity(1).build().unwrap();
    let r: evl::Result<u32> = ex.block_on(async {
        let a = evl::spawn(async { 1u32 })?;
        let full = evl::spawn(async { 2u32 }).map(drop);
        assert_eq!(full, Err(SpawnError::Full { capacity: 1 }));
        let e: evl::Error = full.unwrap_err().into();
        assert_eq!(e.kind(), evl::ErrorKind::CapacityExceeded);
        assert!(e.hint().contains("capacity = N"), "{e}");
        Ok(a.await.expect("ran"))
    });
    assert_eq!(r.unwrap(), 1);
    let outside: evl::Error = evl::spawn(async {}).map(drop).unwrap_err().into();
    assert_eq!(outside.kind(), evl::ErrorKind::InvalidArgument);
    let closed: evl::Error = SpawnError::Shutdown.into();
    assert_eq!(closed.kind(), evl::ErrorKind::Closed);
}

#[test]
fn join_errors_mix_with_evl_errors_through_question_mark() {
    backend();
    let ex = Executor::new().unwrap();
    let r: evl::Result<u32> = ex.block_on(async {
        let ok = evl::spawn(async { 1u32 })?.await?;
        let aborted = evl::spawn(std::future::pending::<u32>())?;
        aborted.abort();
        let e = aborted.await.map_err(evl::Error::from).unwrap_err();
        assert_eq!(e.kind(), evl::ErrorKind::Closed);
        assert_eq!(e.op(), "join");
        Ok(ok)
    });
    assert_eq!(r.unwrap(), 1);
    let panicked: evl::Result<()> = ex.block_on(async {
        evl::spawn(async { panic!("on purpose") })?.await?;
        Ok(())
    });
    let e = panicked.unwrap_err();
    assert_eq!((e.kind(), e.op()), (evl::ErrorKind::Other, "join"));
}

#[test]
fn spawn_local_takes_futures_that_are_not_send() {
    backend();
    let ex = Executor::new().unwrap();
    let shared = std::rc::Rc::new(std::cell::Cell::new(0));
    let s2 = shared.clone();
    let h = ex
        .spawn_local(async move {
            let inner = s2.clone();
            evl::spawn_local(async move { inner.set(inner.get() + 1) })
                .expect("a slot")
                .await
                .expect("ran");
            s2.set(s2.get() + 10);
        })
        .unwrap();
    ex.block_on(h).unwrap();
    assert_eq!(shared.get(), 11);
}
