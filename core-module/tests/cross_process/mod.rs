//! Public elements shared across processes, written once for both backends: the parent
//! creates a semaphore and a flag group by name, a child process (the same test binary
//! re-run with a filter) opens them by name, awaits the semaphore and answers on the flags.

use evl_core::backend::{self, Backend, Selection};
use evl_core::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "EVL_TEST_CHILD_NAMES";

fn deadline(secs: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_secs(secs))
}

/// Waits need an attached thread (on both backends).
fn attach(_backend: Backend, who: &str) -> Option<Thread> {
    let name = format!("xproc-{who}-{}", std::process::id());
    Some(Thread::attach(ThreadConfig::new(&name).lock_memory(false)).expect("attach"))
}

/// The child's side: does nothing unless started by [`parent`].
pub fn child(backend: Backend) {
    let Ok(names) = std::env::var(CHILD_ENV) else {
        return;
    };
    backend::select(Selection::Force(backend)).unwrap();
    let _t = attach(backend, "child");
    let (sem, flags) = names.split_once(',').unwrap();
    let sem = Semaphore::open(sem).expect("child opens the semaphore by name");
    let flags = Flags::open(flags).expect("child opens the flags by name");
    for round in 0..3u32 {
        sem.get_until(deadline(20))
            .expect("child awaits the parent's put");
        flags.post(1 << round).unwrap();
    }
}

/// The parent's side; `child_test` is the name of the test that calls [`child`].
pub fn parent(backend: Backend, child_test: &str) {
    backend::select(Selection::Force(backend)).unwrap();
    let _t = attach(backend, "parent");
    let pid = std::process::id();
    let (sn, fnm) = (format!("xproc-sem-{pid}"), format!("xproc-flags-{pid}"));
    let sem = Semaphore::create(0, Visibility::Public(&sn)).unwrap();
    let flags = Flags::create(0, Visibility::Public(&fnm)).unwrap();
    // The child's own test report goes to a pipe, not into this run's output.
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child_test, "--test-threads=1"])
        .env(CHILD_ENV, format!("{sn},{fnm}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for round in 0..3u32 {
        sem.put().unwrap();
        let bits = flags
            .wait_until(1 << round, FlagsMode::All, deadline(20))
            .expect("the child answers");
        assert_eq!(bits, 1 << round);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sem.value(), 0);
    assert_eq!(flags.peek(), 0);
}
