//! A reactor that can no longer wait (its poll set broken behind its back) is counted and
//! reported, never a panic: `try_block_on` returns the error, `block_on` goes on serving
//! what needs no reactor, and dropping the executor (shutdown) completes.
//!
//! Each executor here watches a pipe: with an fd registered its blocking wait is the poll
//! set's (a timer-only executor on the host parks on a futex instead, and never waits on
//! its poll set).
//!
//! One test in its own binary: it finds the executor's epoll fd as the one that appeared
//! in `/proc/self/fd` when the executor was built, which needs no other executor around.

use evl::{ErrorKind, Executor};
use std::collections::BTreeSet;
use std::future::poll_fn;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

fn epoll_fds() -> BTreeSet<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target.to_str()? == "anon_inode:[eventpoll]")
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// An executor and its epoll fd, which `break_it` replaces by a write-only `/dev/null` (the
/// number stays open, so the poll set's own close at drop is still a valid close).
fn executor_with_poll_fd() -> (Executor, RawFd) {
    let before = epoll_fds();
    let ex = Executor::new().unwrap();
    let new: Vec<RawFd> = epoll_fds().difference(&before).copied().collect();
    assert_eq!(new.len(), 1, "the executor made one poll set: {new:?}");
    (ex, new[0])
}

/// Registers a pipe's read end with `ex`'s reactor (a registration that outlives the
/// `block_on`, as a long-lived I/O object's would): `ex` then waits on its poll set.
fn watch_a_pipe(ex: &Executor) -> (evl::io::AsyncFd<std::fs::File>, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just returned them; nothing else owns them.
    let (r, w) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    let fd = ex
        .block_on(async { evl::io::AsyncFd::new_nonblocking(r) })
        .unwrap();
    (fd, w)
}

fn break_it(fd: RawFd) {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    // SAFETY: dup2 onto the poll set's number: it stays an open fd (now /dev/null), which the
    // poll set closes when it drops. No memory is involved.
    assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), fd) }, fd);
}

#[test]
fn a_broken_reactor_is_an_error_value_and_never_a_panic() {
    let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));

    // try_block_on: the first wait that fails ends it with the poll set's error.
    let (ex, fd) = executor_with_poll_fd();
    let watched = watch_a_pipe(&ex);
    assert_eq!(ex.block_on(async { 1 }), 1);
    // A task parked on a timer: shutdown has to cancel it without the reactor.
    let parked = ex
        .spawn_local(evl::time::sleep(Duration::from_secs(3600)))
        .unwrap();
    break_it(fd);
    let e = ex
        .try_block_on(evl::time::sleep(Duration::from_millis(1)))
        .unwrap_err();
    assert_eq!(e.op(), "PollSet::wait", "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(e.os_error(), Some(libc::EINVAL), "{e}");
    assert_eq!(ex.stats().reactor_errors, 1);
    assert_eq!(ex.stats().panicked, 0);
    assert_eq!(ex.tasks(), 1, "the parked task is still there");
    drop(parked);
    ex.block_on(async move { drop(watched) });
    drop(ex); // shutdown cancels it: no panic, no abort

    // block_on: goes on. Tasks woken by each other and from another thread still run.
    let (ex, fd) = executor_with_poll_fd();
    let watched = watch_a_pipe(&ex);
    break_it(fd);
    let flag = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
    let f2 = flag.clone();
    let out = ex.block_on(async {
        let h = evl::spawn(async {
            evl::yield_now().await;
            7
        })
        .unwrap();
        let seven = h.await.unwrap();
        // A main future that keeps waking itself makes the executor look at its reactor
        // without blocking: that look fails, and is counted.
        poll_fn(|cx| {
            if ex.stats().reactor_errors > 0 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        // A wake from another thread still reaches the main future.
        let t = std::thread::spawn(move || {
            f2.0.store(true, SeqCst);
            if let Some(w) = f2.1.lock().unwrap().take() {
                w.wake();
            }
        });
        poll_fn(|cx| {
            *flag.1.lock().unwrap() = Some(cx.waker().clone());
            if flag.0.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        t.join().unwrap();
        seven
    });
    assert_eq!(out, 7);
    assert_eq!(ex.stats().panicked, 0);
    // A timer cannot fire without the reactor: it is an error value for try_block_on.
    assert!(ex
        .try_block_on(evl::time::sleep(Duration::from_millis(1)))
        .is_err());
    ex.block_on(async move { drop(watched) });
    drop(ex);

    // Nested block_on: an error from try_block_on, not a panic.
    let ex = Executor::new().unwrap();
    let e = ex
        .block_on(async { Executor::new().unwrap().try_block_on(async {}) })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}
