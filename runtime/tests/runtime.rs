//! Several executors on attached threads: placement, cross-executor spawning, shutdown of
//! the others when main returns, errors at build.

use evl::core::thread::SchedPolicy;
use evl::{ErrorKind, ExecutorConfig, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

fn builder() -> evl::RuntimeBuilder {
    Runtime::builder()
        .backend(
            evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
        )
        .handle_signals(false)
}

fn cfg(name: &'static str) -> ExecutorConfig {
    ExecutorConfig::new(name).lock_memory(false)
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn tasks_run_on_the_executor_they_were_spawned_onto() {
    let rt = builder()
        .main(cfg("ctl"))
        .executor(cfg("hk"))
        .executor(cfg("log"))
        .build()
        .unwrap();
    let (hk, log) = (rt.spawner("hk").unwrap(), rt.spawner("log").unwrap());
    assert!(rt.spawner("nope").is_none());
    let names = rt
        .block_on(async move {
            let a = hk.spawn(async { thread_name() }).unwrap();
            let b = log.spawn(async { thread_name() }).unwrap();
            let c = evl::spawn(async { thread_name() }).unwrap();
            (a.await.unwrap(), b.await.unwrap(), c.await.unwrap())
        })
        .unwrap();
    let main_name = thread_name();
    assert_eq!((names.0.as_str(), names.1.as_str()), ("hk", "log"));
    assert_eq!(names.2, main_name, "main's tasks run on the calling thread");
}

#[test]
// The task on w2 deliberately returns the JoinHandle of the task it spawned back on main.
#[allow(clippy::async_yields_async)]
fn executors_spawn_onto_each_other_without_a_shared_lock() {
    let rt = builder()
        .main(cfg("m2"))
        .executor(cfg("w2"))
        .build()
        .unwrap();
    let w = rt.spawner("w2").unwrap();
    let sum = rt
        .block_on(async move {
            let back = evl::spawner().unwrap();
            let mut total = 0;
            for i in 0..100u64 {
                let back = back.clone();
                // Spawned onto w2, which spawns back onto main.
                let h = w
                    .spawn(async move {
                        assert_eq!(thread_name(), "w2");
                        back.spawn(async move { i * 2 }).unwrap()
                    })
                    .unwrap();
                total += h.await.unwrap().await.unwrap();
            }
            total
        })
        .unwrap();
    assert_eq!(sum, 2 * (0..100).sum::<u64>());
}

struct OnDrop(Arc<Mutex<Vec<String>>>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(thread_name());
    }
}

#[test]
fn returning_from_main_stops_the_others_and_cancels_their_tasks_on_their_threads() {
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let rt = builder()
        .main(cfg("m3"))
        .executor(cfg("w3"))
        .build()
        .unwrap();
    let w = rt.spawner("w3").unwrap();
    let d = dropped.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s2 = started.clone();
    rt.block_on(async move {
        let _h = w.spawn(async move {
            let _guard = OnDrop(d);
            s2.fetch_add(1, SeqCst);
            std::future::pending::<()>().await
        });
        while started.load(SeqCst) == 0 {
            evl::time::sleep(std::time::Duration::from_millis(1))
                .await
                .unwrap();
        }
    })
    .unwrap();
    assert_eq!(*dropped.lock().unwrap(), vec!["w3".to_string()]);
}

#[test]
fn build_errors_leave_nothing_running() {
    let e = builder()
        .main(cfg("x"))
        .executor(cfg("x"))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = builder()
        .main(cfg("y"))
        .executor(cfg("ok"))
        .executor(cfg("bad").cpu(1023))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A runtime dropped without block_on stops its threads.
    drop(
        builder()
            .main(cfg("z"))
            .executor(cfg("z1"))
            .build()
            .unwrap(),
    );
}

#[test]
fn executor_threads_get_their_scheduling_policy() {
    let r = builder()
        .main(cfg("m5"))
        .executor(cfg("rt5").priority(20))
        .build();
    let rt = match r {
        Ok(rt) => rt,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            eprintln!("skipped: SCHED_FIFO not permitted here ({e})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let w = rt.spawner("rt5").unwrap();
    let pol = rt
        .block_on(async move {
            w.spawn(async {
                // SAFETY: pid 0 is the calling thread.
                let p = unsafe { libc::sched_getscheduler(0) };
                let mut sp = libc::sched_param { sched_priority: 0 };
                // SAFETY: pid 0 is the calling thread, and `sp` is a valid, writable sched_param
                // that outlives the call.
                unsafe { libc::sched_getparam(0, &mut sp) };
                (p, sp.sched_priority)
            })
            .unwrap()
            .await
            .unwrap()
        })
        .unwrap();
    assert_eq!(pol, (libc::SCHED_FIFO, 20));
    let _ = SchedPolicy::Other;
}

#[test]
fn an_executor_that_cannot_wait_for_its_stop_signal_fails_the_build() {
    let e = builder()
        .main(cfg("m6"))
        .executor(cfg("nofd").fds(0))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CapacityExceeded, "{e}");
}

/// Every executor sleeps on the one stop bell when main returns: each must wake (the EVL
/// core wakes one sleeping poller per post, so the stop is passed on from one to the next).
#[test]
fn main_returning_stops_every_idle_executor() {
    let rt = builder()
        .main(cfg("m5"))
        .executor(cfg("i1"))
        .executor(cfg("i2"))
        .executor(cfg("i3"))
        .executor(cfg("i4"))
        .build()
        .unwrap();
    // block_on consumes the runtime and joins all four: a lost stop would hang here.
    rt.block_on(async {}).unwrap();
}
