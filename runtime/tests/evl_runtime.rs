//! The runtime on the real EVL core: a steady-state control loop (timer ticks, task
//! wake-ups, a semaphore posted by an ordinary Linux thread) never leaves the out-of-band
//! stage, and a public semaphore made by one process is awaited by another. Without
//! `/dev/evl/control` every test prints a SKIPPED line and returns.

use evl::core::backend::{evl as evl_backend, Selection};
use evl::core::stage;
use evl::io::AsyncSemaphore;
use evl::sync::Notify;
use evl::time::{interval, Instant};
use evl::{Backend, ExecutorConfig, Runtime, Visibility};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn have_core() -> bool {
    if std::path::Path::new(evl_backend::CONTROL_DEVICE).exists() {
        return true;
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (evl only): no EVL core on this machine (/dev/evl/control missing)"
    );
    false
}

fn builder() -> evl::RuntimeBuilder {
    Runtime::builder()
        .backend(Selection::Force(Backend::Evl))
        .handle_signals(false)
}

#[test]
fn a_steady_state_control_loop_makes_no_stage_switch() {
    if !have_core() {
        return;
    }
    // SCHED_FIFO: a SCHED_OTHER thread is "weak" on the core and goes back in-band after
    // every out-of-band call by design.
    let rt = builder()
        .main(
            ExecutorConfig::new("ctl")
                .priority(80)
                .warn_stage_switches(true),
        )
        .build()
        .unwrap();
    let sem = Arc::new(evl::core::Semaphore::new(0).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // An ordinary Linux thread (not attached) posts the semaphore every 2 ms.
    let poster = {
        let (sem, stop) = (sem.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                sem.put().unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let (warm, steady) = rt
        .block_on(async move {
            let sem = AsyncSemaphore::new(sem).unwrap();
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let echo = {
                let (ping, pong) = (ping.clone(), pong.clone());
                evl::spawn(async move {
                    loop {
                        ping.notified().await;
                        pong.notify_one();
                    }
                })
                .unwrap()
            };
            let mut tick = interval(Duration::from_millis(1)).unwrap();
            let mut got = 0u32;
            // Warm-up: first touches of memory, first arming of everything.
            cycle(50, &ping, &pong, &sem, &mut tick, &mut got).await;
            let warm = stage::thread_switches();
            cycle(300, &ping, &pong, &sem, &mut tick, &mut got).await;
            assert!(got > 0, "the poster's units arrived");
            // The semaphore, awaited this time.
            sem.get().await.unwrap();
            let steady = stage::thread_switches().since(&warm);
            echo.abort();
            (warm, steady)
        })
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    poster.join().unwrap();
    eprintln!("warm-up: {warm}; steady state: {steady}");
    assert_eq!(steady.total(), 0, "steady state: {steady}");
}

/// `n` control cycles: wait for the tick, wake another task and wait for its answer, take a
/// unit of the semaphore if one is there.
async fn cycle(
    n: u32,
    ping: &Notify,
    pong: &Notify,
    sem: &AsyncSemaphore<Arc<evl::core::Semaphore>>,
    tick: &mut evl::time::Interval,
    got: &mut u32,
) {
    for _ in 0..n {
        tick.tick().await.unwrap();
        ping.notify_one();
        pong.notified().await;
        if sem.try_get().is_ok() {
            *got += 1;
        }
    }
}

const CHILD_ENV: &str = "EVL_TEST_CHILD_SEM";

#[test]
fn child_awaits_the_public_semaphore() {
    // Does nothing unless started by `a_public_semaphore_is_awaited_from_another_process`.
    let Ok(name) = std::env::var(CHILD_ENV) else {
        return;
    };
    builder()
        .main(ExecutorConfig::new("child"))
        .build()
        .unwrap()
        .block_on(async move {
            let sem = AsyncSemaphore::new(evl::core::Semaphore::open(&name).unwrap()).unwrap();
            for _ in 0..3 {
                sem.get_until(Instant::now() + Duration::from_secs(20))
                    .await
                    .expect("the parent's put arrives");
            }
        })
        .unwrap();
}

#[test]
fn a_public_semaphore_is_awaited_from_another_process() {
    if !have_core() {
        return;
    }
    let rt = builder()
        .main(ExecutorConfig::new("parent"))
        .build()
        .unwrap();
    let name = format!("rt-xproc-{}", std::process::id());
    let sem = evl::core::Semaphore::create(0, Visibility::Public(&name)).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_awaits_the_public_semaphore",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            // Late enough that the child is already awaiting it (it starts, opens by name,
            // then awaits), so each put wakes a parked future rather than adding to a count.
            evl::time::sleep(Duration::from_millis(100)).await.unwrap();
            sem.put().unwrap();
        }
    })
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sem.value(), 0);
}
