//! EVL-only checks of thread attachment and out-of-band sleeps on the real core. Without
//! `/dev/evl/control` every test prints a SKIPPED line and returns.

mod evl_only;
use evl_only::setup;

use evl_core::*;
use std::path::Path;
use std::time::Duration;

#[test]
fn public_thread_shows_in_dev_evl_while_attached() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        let name = format!("evl-pub-{}", std::process::id());
        let dev = format!("/dev/evl/thread/{name}");
        assert!(!Path::new(&dev).exists());
        let t = Thread::attach(ThreadConfig::new(&name).public(true)).unwrap();
        assert!(Thread::is_attached());
        assert!(Path::new(&dev).exists(), "{dev} missing while attached");
        eprintln!("attached: {dev} exists, policy {:?}", t.policy().unwrap());
        // The name is taken while attached: a second thread cannot attach under it.
        let dup = name.clone();
        let e = std::thread::spawn(move || {
            Thread::attach(ThreadConfig::new(&dup).public(true)).map(|_| ())
        })
        .join()
        .unwrap()
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        drop(t);
        assert!(!Thread::is_attached());
        // The core removes the device once the thread is gone; devtmpfs may lag a little.
        for _ in 0..100 {
            if !Path::new(&dev).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!Path::new(&dev).exists(), "{dev} still there after detach");
        eprintln!("detached: {dev} gone");
        // And the name is free again.
        drop(Thread::attach(ThreadConfig::new(&name).public(true)).unwrap());
    })
    .join()
    .unwrap();
}

#[test]
fn private_thread_has_no_device_node() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        let name = format!("evl-priv-{}", std::process::id());
        let t = Thread::attach(ThreadConfig::new(&name)).unwrap();
        assert!(!Path::new(&format!("/dev/evl/thread/{name}")).exists());
        assert_eq!(t.policy().unwrap(), SchedPolicy::Other);
        drop(t);
    })
    .join()
    .unwrap();
}

#[test]
fn attached_thread_sleeps_until_an_absolute_deadline() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        // Not attached: the core would refuse (EPERM); the crate says so first.
        let e = Clock::Monotonic
            .sleep_until(Clock::Monotonic.now())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("Thread::attach"), "{e}");

        let _t = Thread::attach(ThreadConfig::new(&format!(
            "evl-sleep-{}",
            std::process::id()
        )))
        .unwrap();
        let start = Clock::Monotonic.now();
        let mut deadline = start;
        for _ in 0..5 {
            deadline = deadline.saturating_add(Duration::from_millis(10));
            Clock::Monotonic.sleep_until(deadline).unwrap();
            let now = Clock::Monotonic.now();
            assert!(
                now >= deadline,
                "woke {} ns early",
                deadline.signed_nanos_since(now)
            );
        }
        let late = Clock::Monotonic.now().saturating_duration_since(deadline);
        eprintln!("5 x 10 ms absolute sleeps: last wake-up {late:?} after its deadline");
        // A passed deadline returns at once.
        Clock::Monotonic.sleep_until(Timestamp::ZERO).unwrap();
        // The realtime clock element works too.
        let rt = Clock::Realtime
            .now()
            .saturating_add(Duration::from_millis(5));
        Clock::Realtime.sleep_until(rt).unwrap();
        assert!(Clock::Realtime.now() >= rt);
    })
    .join()
    .unwrap();
}

#[test]
fn fifo_attach_is_seen_by_the_core() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        let t = Thread::attach(
            ThreadConfig::new(&format!("evl-fifo-{}", std::process::id()))
                .policy(SchedPolicy::Fifo(10)),
        )
        .unwrap();
        assert_eq!(t.policy().unwrap(), SchedPolicy::Fifo(10));
        let d = Clock::Monotonic
            .now()
            .saturating_add(Duration::from_millis(2));
        Clock::Monotonic.sleep_until(d).unwrap();
        drop(t);
    })
    .join()
    .unwrap();
}

/// An in-band system call from an attached thread running out-of-band demotes it; with
/// stage-switch warnings on, the core reports it as `Cause::Syscall`, and its own count
/// (`inband_switches`) moves too.
#[test]
fn an_inband_syscall_is_reported_as_a_stage_switch() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        let name = format!("evl-woss-{}", std::process::id());
        // SCHED_OTHER threads are "weak" on the core (they go back in-band after each oob
        // call by design); real-time ones stay out-of-band.
        let t = Thread::attach(
            ThreadConfig::new(&name)
                .policy(SchedPolicy::Fifo(10))
                .warn_stage_switches(true),
        )
        .unwrap();
        // An out-of-band sleep puts the thread on the oob stage.
        let soon = Clock::Monotonic
            .now()
            .saturating_add(Duration::from_micros(100));
        Clock::Monotonic.sleep_until(soon).unwrap();
        let before = stage::thread_switches();
        let isw_before = t.inband_switches().unwrap();
        // SAFETY: getppid takes no argument and cannot fail; issued as a raw system call so
        // that no library cache answers it.
        unsafe { libc::syscall(libc::SYS_getppid) };
        let d = stage::thread_switches().since(&before);
        assert_eq!(d.get(stage::Cause::Syscall), 1, "{d}");
        assert_eq!(d.total(), 1, "{d}");
        assert!(stage::switches().get(stage::Cause::Syscall) >= 1);
        assert!(t.inband_switches().unwrap() > isw_before);
        eprintln!("reported: {d}");
    })
    .join()
    .unwrap();
}

/// A loop of out-of-band calls only (sleeps on the core's clock, reading the time through
/// the vDSO) never leaves the oob stage: no warning, and the core's own count stays put.
#[test]
fn an_oob_only_loop_makes_no_stage_switch() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        let name = format!("evl-quiet-{}", std::process::id());
        let t = Thread::attach(
            ThreadConfig::new(&name)
                .policy(SchedPolicy::Fifo(10))
                .warn_stage_switches(true),
        )
        .unwrap();
        let period = Duration::from_micros(200);
        let mut next = Clock::Monotonic.now().saturating_add(period);
        Clock::Monotonic.sleep_until(next).unwrap();
        let before = stage::thread_switches();
        let isw_before = t.inband_switches().unwrap();
        for _ in 0..200 {
            next = next.saturating_add(period);
            Clock::Monotonic.sleep_until(next).unwrap();
        }
        let d = stage::thread_switches().since(&before);
        let isw = t.inband_switches().unwrap() - isw_before;
        assert_eq!(d.total(), 0, "{d}");
        assert_eq!(isw, 0, "the core counted {isw} in-band switch(es)");
    })
    .join()
    .unwrap();
}

/// Private threads are named for diagnostics only: two of them may share a name (two
/// runtimes with a "main" executor), while public names stay exclusive.
#[test]
fn private_threads_may_share_a_name() {
    if !setup() {
        return;
    }
    let name = format!("evl-same-{}", std::process::id());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (n1, n2) = (name.clone(), name.clone());
    let first = std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&n1)).unwrap();
        rx.recv().unwrap(); // stay attached until the second one is
    });
    std::thread::spawn(move || {
        let t = Thread::attach(ThreadConfig::new(&n2)).unwrap();
        assert_eq!(t.name(), n2, "the thread keeps the name it asked for");
        tx.send(()).unwrap();
    })
    .join()
    .unwrap();
    first.join().unwrap();
}
