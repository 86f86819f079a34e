//! Real-time by default: an executor whose config names no policy runs SCHED_FIFO at
//! `evl::runtime::DEFAULT_PRIORITY` where the process may, SCHED_OTHER otherwise; priority 0
//! is the explicit SCHED_OTHER.

use evl::core::backend::Selection;
use evl::runtime::DEFAULT_PRIORITY;
use evl::{Backend, ExecutorConfig, Runtime};

/// The calling thread's policy and priority.
fn policy() -> (i32, i32) {
    let mut p = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `p` is a writable sched_param.
    let r = unsafe { libc::sched_getparam(0, &mut p) };
    assert_eq!(r, 0);
    // SAFETY: pid 0, no memory involved.
    (unsafe { libc::sched_getscheduler(0) }, p.sched_priority)
}

/// Whether this process may run a thread at SCHED_FIFO `prio`, asked of the kernel on a
/// scratch thread (root without CAP_SYS_NICE, in a container, may not).
fn fifo_permitted(prio: u8) -> bool {
    std::thread::spawn(move || {
        let p = libc::sched_param {
            sched_priority: prio.into(),
        };
        // SAFETY: pid 0 is this scratch thread, which ends right after.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) == 0 }
    })
    .join()
    .unwrap()
}

fn runtime(main: ExecutorConfig) -> evl::Runtime {
    Runtime::builder()
        .backend(Selection::Force(Backend::Host))
        .handle_signals(false)
        .main(main.lock_memory(false))
        .executor(ExecutorConfig::new("rt-default-helper").lock_memory(false))
        .build()
        .unwrap()
}

#[test]
fn the_default_is_sched_fifo_at_the_default_priority_where_permitted() {
    let permitted = fifo_permitted(DEFAULT_PRIORITY);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && !permitted {
        eprintln!("note: root without CAP_SYS_NICE here: checking the SCHED_OTHER fallback");
    }
    let before = policy();
    let rt = runtime(ExecutorConfig::new("rt-default"));
    let helper = rt.spawner("rt-default-helper").unwrap();
    let (main, other) = rt
        .block_on(async move {
            let other = helper.spawn(async { policy() }).unwrap().await.unwrap();
            (policy(), other)
        })
        .unwrap();
    let want = if permitted {
        (libc::SCHED_FIFO, i32::from(DEFAULT_PRIORITY))
    } else {
        (libc::SCHED_OTHER, 0)
    };
    assert_eq!(main, want, "the main executor");
    assert_eq!(other, want, "an executor on its own thread");
    assert_eq!(policy(), before, "detaching restores the thread's policy");
}

#[test]
fn priority_zero_is_sched_other_and_an_explicit_priority_is_exact() {
    let rt = runtime(ExecutorConfig::new("rt-zero").priority(0));
    assert_eq!(
        rt.block_on(async { policy().0 }).unwrap(),
        libc::SCHED_OTHER
    );
    if fifo_permitted(7) {
        let rt = runtime(ExecutorConfig::new("rt-seven").priority(7));
        assert_eq!(
            rt.block_on(async { policy() }).unwrap(),
            (libc::SCHED_FIFO, 7)
        );
    } else {
        // Not permitted and asked for explicitly: an error, no fallback.
        let e = Runtime::builder()
            .backend(Selection::Force(Backend::Host))
            .handle_signals(false)
            .main(
                ExecutorConfig::new("rt-seven")
                    .priority(7)
                    .lock_memory(false),
            )
            .build()
            .unwrap()
            .block_on(async {})
            .unwrap_err();
        assert_eq!(e.kind(), evl::ErrorKind::PermissionDenied, "{e}");
    }
}

const CHILD: &str = "EVL_RT_DEFAULT_CHILD";

/// Run as an unprivileged child by the test below: two runtimes with the default policy.
#[test]
fn unprivileged_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // only meaningful in the child
    }
    for name in ["first", "second"] {
        let (pol, prio) = runtime(ExecutorConfig::new(name))
            .block_on(async { policy() })
            .unwrap();
        println!("CHILD {name} {pol} {prio}");
    }
}

#[test]
fn without_the_privilege_the_default_falls_back_to_sched_other_and_says_so_once() {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Not root: the default test above already checks the fallback in this process.
        return;
    }
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "unprivileged_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1");
    // SAFETY: only async-signal-safe calls between fork and exec (setrlimit, setgid, setuid).
    unsafe {
        cmd.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_RTPRIO, &zero) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("note: cannot run the test binary as nobody ({e}): not checked");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let other = libc::SCHED_OTHER;
    assert!(
        stdout.contains(&format!("CHILD first {other} 0")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("CHILD second {other} 0")),
        "{stdout}"
    );
    let notes = stderr.matches("runs at SCHED_OTHER").count();
    assert_eq!(notes, 1, "said once per process:\n{stderr}");
    // The first executor to attach is the helper (started by `build`, before the main one).
    assert!(
        stderr.contains("executor \"rt-default-helper\""),
        "{stderr}"
    );
    assert!(stderr.contains("CAP_SYS_NICE"), "{stderr}");
}
