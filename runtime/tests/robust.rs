//! Errors, not panics: sizes out of range, fds closed behind the reactor's back and a reactor
//! that can no longer wait come back as typed errors; the executor and its other tasks go on.

use evl::io::AsyncFd;
use evl::{ErrorKind, Executor};
use std::time::Duration;

#[path = "support/fds.rs"]
mod fds;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

fn build_err(b: evl::ExecutorConfig) -> evl::Error {
    match b.build() {
        Ok(_) => panic!("the builder accepted a size out of range"),
        Err(e) => e,
    }
}

#[test]
fn task_capacity_extremes_are_typed_errors() {
    backend();
    for cap in [0, usize::MAX, (1 << 24) + 1] {
        let e = build_err(Executor::builder().capacity(cap));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "capacity {cap}: {e}");
        assert!(e.hint().contains("ExecutorConfig::capacity"), "{e}");
    }
}

#[test]
fn slot_size_extremes_are_typed_errors() {
    backend();
    for size in [usize::MAX, usize::MAX - 63, (1 << 30) + 1] {
        let e = build_err(Executor::builder().slot_size(size));
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidArgument,
            "slot size {size}: {e}"
        );
        assert!(e.hint().contains("ExecutorConfig::slot_size"), "{e}");
    }
    // 0 rounds up to one 64-byte line: a larger task is refused with the sizes.
    let ex = Executor::builder().slot_size(0).build().unwrap();
    let big = [1u8; 256];
    match ex.spawn(async move { big[0] }) {
        Err(evl::SpawnError::TooBig {
            slot_size, size, ..
        }) => {
            assert_eq!(slot_size, 64);
            assert!(size > 256);
        }
        other => panic!("expected TooBig, got {:?}", other.map(drop)),
    }
}

#[cfg(target_pointer_width = "64")]
#[test]
fn an_arena_the_system_cannot_give_is_an_error_not_an_abort() {
    backend();
    // 2^24 slots of 2^30 bytes: 16 PiB, more than any address space maps.
    let e = build_err(Executor::builder().capacity(1 << 24).slot_size(1 << 30));
    assert_eq!(e.kind(), ErrorKind::CapacityExceeded, "{e}");
    assert!(e.hint().contains("lower ExecutorConfig::capacity"), "{e}");
}

#[test]
fn reactor_size_extremes() {
    backend();
    // At most 2^20 fds (evl_reactor::Config::MAX_FDS).
    for fds in [usize::MAX, (1 << 20) + 1] {
        let e = build_err(Executor::builder().fds(fds));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "fds {fds}: {e}");
        assert!(e.hint().contains("fds"), "{e}");
    }
    // No timer capacity: arming fails with a typed error, the executor runs on.
    let ex = Executor::builder().timers(0).build().unwrap();
    // An hour: on any machine the deadline is still ahead when the sleep arms its timer.
    let e = ex
        .block_on(evl::time::sleep(Duration::from_secs(3600)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CapacityExceeded, "{e}");
    assert_eq!(ex.block_on(async { 5 }), 5);
    // Unlimited timers: the wheel allocates nothing per timer.
    let ex = Executor::builder().timers(usize::MAX).build().unwrap();
    ex.block_on(evl::time::sleep(Duration::from_micros(10)))
        .unwrap();
    // No fd slot: registering fails with a typed error.
    let ex = Executor::builder().fds(0).build().unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let e = ex
        .block_on(async { AsyncFd::new(a).map(drop) })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CapacityExceeded, "{e}");
}

/// Atomically replaces `fd` by a write-only `/dev/null`: the old file is closed behind its
/// owner's back (the poll set forgets it), and a read on the number now fails with `EBADF`.
/// No window where the number is free (other tests of this binary open fds concurrently).
fn close_behind_its_back(fd: std::os::fd::RawFd) {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    // SAFETY: dup2 onto a number we own (the AsyncFd's); it stays open (now /dev/null), so
    // its owner closes a valid fd when it drops.
    let r = unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
    assert_eq!(r, fd);
}

#[test]
fn an_fd_closed_behind_the_reactors_back_is_an_error_for_its_task_only() {
    use std::os::fd::AsRawFd;
    backend();
    if !fds::ordinary_fds("an_fd_closed_behind_the_reactors_back_is_an_error_for_its_task_only") {
        return;
    }
    let ex = Executor::new().unwrap();
    let (done, e) = ex.block_on(async {
        // Another task on the same executor: it must keep running, before and after.
        let other = evl::spawn_local(async {
            let mut n = 0;
            for _ in 0..20 {
                evl::time::sleep(Duration::from_micros(200)).await.unwrap();
                n += 1;
            }
            n
        })
        .unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut a = AsyncFd::new_nonblocking(a).unwrap();
        // One read that works, so the fd is known to the poll set and has been waited on.
        std::io::Write::write_all(&mut b, b"x").unwrap();
        let mut buf = [0u8; 8];
        let n = read(&mut a, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"x");
        close_behind_its_back(a.get_ref().as_raw_fd());
        let e = read(&mut a, &mut buf).await.unwrap_err();
        // The task goes on: the same error on every use, no panic anywhere.
        let e2 = a
            .async_io(evl::io::Direction::Read, |s| {
                std::io::Read::read(&mut &*s, &mut buf)
            })
            .await
            .unwrap_err();
        // UnixStream's own Read is recv(2): on the non-socket now behind the number.
        assert_eq!(e2.raw_os_error(), Some(libc::ENOTSOCK), "{e2}");
        drop(a);
        (other.await.unwrap(), e)
    });
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    assert_eq!(done, 20, "the other task ran to its end");
    assert_eq!(ex.reactor().fds(), 0, "the registration was removed");
    assert_eq!(
        ex.stats().reactor_errors,
        0,
        "nothing failed in the reactor itself"
    );
    assert_eq!(ex.stats().panicked, 0);
    // The executor still works.
    assert_eq!(ex.block_on(async { 3 }), 3);
}

async fn read(
    a: &mut AsyncFd<std::os::unix::net::UnixStream>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        futures_io::AsyncRead::poll_read(std::pin::Pin::new(&mut *a), cx, buf)
    })
    .await
}
