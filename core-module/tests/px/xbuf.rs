//! Behaviour of `Xbuf`: both directions in order across threads,
//! non-blocking and timed variants, fd readiness, public xbufs by name, peer drop, argument
//! errors, and no allocation in try_write/try_read.

use evl_core::xbuf::{Xbuf, XbufEnd};
use evl_core::{Clock, ErrorKind, Timestamp, Visibility};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use evl_alloc_count::allocations_in;

// ---- helpers ----

fn in_secs(secs: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_secs(secs))
}

/// A public name no other test (or concurrent test run) uses.
fn unique_name(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "evl-test-{what}.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn ready(fd: BorrowedFd<'_>, events: libc::c_short) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0);
    rc == 1
}

fn readable(e: &XbufEnd) -> bool {
    ready(e.read_fd(), libc::POLLIN)
}

fn writable(e: &XbufEnd) -> bool {
    ready(e.write_fd(), libc::POLLOUT)
}

fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seed * 131 + i * 7 + i / 251) as u8)
        .collect()
}

/// Reads exactly `len` bytes with a generous deadline.
fn read_exactly(e: &XbufEnd, len: usize) -> Vec<u8> {
    let deadline = in_secs(60);
    let mut got = vec![0u8; len];
    let mut at = 0;
    while at < len {
        at += e
            .read_until(&mut got[at..], deadline)
            .unwrap_or_else(|err| panic!("after {at} of {len} bytes: {err}"));
    }
    got
}

/// Writes with try_write until nothing fits; returns how many bytes went in.
fn fill(e: &XbufEnd) -> usize {
    let chunk = [0x5au8; 1000];
    let mut total = 0;
    loop {
        match e.try_write(&chunk) {
            Ok(n) => total += n,
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
                break;
            }
        }
        assert!(total < 64 << 20, "the ring never filled");
    }
    // Small writes may still fit in the last page: fill that too.
    while e.try_write(&chunk[..1]).is_ok() {
        total += 1;
    }
    total
}

/// Waits until no public xbuf has `name` (the core releases elements asynchronously).
fn gone(name: &str) {
    let start = Instant::now();
    loop {
        match Xbuf::open(name) {
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} never went"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- tests ----

pub fn bytes_round_trip_in_both_directions_across_threads(_evl: bool) {
    const LEN: usize = 300 * 1000; // several times each ring: writers must wait for readers
    let (rt, inband) = Xbuf::new(8192, 4096).unwrap().into_ends();
    let down = pattern(1, LEN);
    let up = pattern(2, LEN);
    let rt_thread = {
        let down = down.clone();
        let up = up.clone();
        super::spawn(move || {
            assert!(read_exactly(&rt, LEN) == down, "in-band -> rt bytes differ");
            for chunk in up.chunks(777) {
                assert_eq!(rt.write(chunk).unwrap(), chunk.len());
            }
            rt
        })
    };
    for chunk in down.chunks(1234) {
        assert_eq!(inband.write(chunk).unwrap(), chunk.len());
    }
    assert!(
        read_exactly(&inband, LEN) == up,
        "rt -> in-band bytes differ"
    );
    let rt = rt_thread.join().unwrap();
    // Nothing extra in either ring.
    let mut b = [0u8; 1];
    assert_eq!(
        rt.try_read(&mut b).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        inband.try_read(&mut b).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

pub fn try_read_on_empty_and_try_write_on_full_would_block(_evl: bool) {
    let x = Xbuf::new(4096, 4096).unwrap();
    let mut buf = [0u8; 64];
    let e = x.rt().try_read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert!(!e.hint().is_empty());
    assert_eq!(
        x.inband().try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );

    let n = fill(x.inband());
    assert!(n >= 4096, "a 4096-byte ring took only {n} bytes");
    let e = x.inband().try_write(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    // The other direction is independent.
    assert_eq!(x.rt().try_write(b"up").unwrap(), 2);
    // Everything written is there, in order, and then nothing.
    let mut total = 0;
    loop {
        match x.rt().try_read(&mut buf) {
            Ok(k) => {
                assert!(buf[..k].iter().all(|&b| b == 0x5a));
                total += k;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock);
                break;
            }
        }
    }
    assert_eq!(total, n);
    assert_eq!(x.inband().try_read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"up");
    assert_eq!(x.rt().try_read(&mut []).unwrap(), 0);
    assert_eq!(x.rt().try_write(&[]).unwrap(), 0);
}

pub fn read_until_times_out_at_the_deadline(_evl: bool) {
    let x = Xbuf::new(4096, 4096).unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    let deadline = Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(100));
    let e = x.rt().read_until(&mut buf, deadline).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(
        Clock::Monotonic.now() >= deadline,
        "returned before the deadline"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    // A deadline in the past still reads what is there.
    x.inband().write(b"now").unwrap();
    assert_eq!(x.rt().read_until(&mut buf, Timestamp::ZERO).unwrap(), 3);
    assert_eq!(
        x.rt()
            .read_until(&mut buf, Timestamp::ZERO)
            .unwrap_err()
            .kind(),
        ErrorKind::TimedOut
    );
}

pub fn a_blocked_read_wakes_when_bytes_arrive(_evl: bool) {
    let (rt, inband) = Xbuf::new(4096, 4096).unwrap().into_ends();
    let t = super::spawn(move || {
        let mut buf = [0u8; 16];
        let n = rt.read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    std::thread::sleep(Duration::from_millis(20));
    inband.write(b"wake").unwrap();
    assert_eq!(t.join().unwrap(), b"wake");
}

pub fn fds_poll_readable_and_writable_exactly_when_operations_would_not_block(evl: bool) {
    let x = Xbuf::new(4096, 4096).unwrap();
    let (rt, inband) = (x.rt(), x.inband());
    if evl {
        // On EVL poll(2) reports the in-band end's readiness only (the real-time end's shows
        // in an EVL poll set): check that one.
        assert!(!readable(inband) && writable(inband));
        x.rt().write(b"abc").unwrap();
        assert!(readable(inband));
        let mut buf = [0u8; 2];
        assert_eq!(inband.try_read(&mut buf).unwrap(), 2);
        assert!(readable(inband), "one byte left");
        assert_eq!(inband.try_read(&mut buf).unwrap(), 1);
        assert!(!readable(inband));
        fill(inband);
        assert!(!writable(inband));
        let mut big = vec![0u8; 1 << 20];
        while rt.try_read(&mut big).is_ok() {}
        assert!(writable(inband));
        return;
    }
    assert!(!readable(rt) && !readable(inband));
    assert!(writable(rt) && writable(inband));

    inband.write(b"abc").unwrap();
    assert!(readable(rt));
    assert!(!readable(inband), "directions are independent");
    let mut buf = [0u8; 2];
    assert_eq!(rt.try_read(&mut buf).unwrap(), 2);
    assert!(readable(rt), "one byte left");
    assert_eq!(rt.try_read(&mut buf).unwrap(), 1);
    assert!(!readable(rt));

    fill(inband);
    assert!(!writable(inband));
    assert!(writable(rt), "directions are independent");
    let mut big = vec![0u8; 1 << 20];
    while rt.try_read(&mut big).is_ok() {}
    assert!(writable(inband));
    assert!(!readable(rt));
}

pub fn a_public_xbuf_opened_by_name_shares_the_creators_rings(evl: bool) {
    let name = unique_name("xbuf");
    let creator = Xbuf::create(4096, 8192, Visibility::Public(&name)).unwrap();
    let fifo = if evl {
        format!("/dev/evl/xbuf/{name}")
    } else {
        format!("/dev/shm/evl.xbuf.{name}.to-rt")
    };
    assert!(std::path::Path::new(&fifo).exists());
    let opened = Xbuf::open(&name).unwrap();

    creator.inband().write(b"hello rt").unwrap();
    assert_eq!(read_exactly(opened.rt(), 8), b"hello rt");
    opened.rt().write(b"hello in-band").unwrap();
    assert_eq!(read_exactly(creator.inband(), 13), b"hello in-band");
    // Readiness is shared too.
    creator.inband().write(b"!").unwrap();
    if !evl {
        assert!(readable(opened.rt()) && readable(creator.rt()));
    }
    assert_eq!(read_exactly(creator.rt(), 1), b"!");
    if !evl {
        assert!(!readable(opened.rt()));
    }

    // The creator removes the name; the opener keeps working rings.
    drop(creator);
    if evl {
        // EVL: the element and its name live until the last handle goes.
        opened.inband().write(b"still").unwrap();
        assert_eq!(read_exactly(opened.rt(), 5), b"still");
        drop(opened);
        gone(&name);
        return;
    }
    assert!(!std::path::Path::new(&fifo).exists());
    assert!(!std::path::Path::new(&format!("/dev/shm/evl.xbuf.{name}.to-inband")).exists());
    assert_eq!(Xbuf::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
    opened.inband().write(b"still").unwrap();
    assert_eq!(read_exactly(opened.rt(), 5), b"still");
}

pub fn creating_a_public_xbuf_twice_is_already_exists(_evl: bool) {
    let name = unique_name("xbuf-twice");
    let first = Xbuf::create(4096, 4096, Visibility::Public(&name)).unwrap();
    let e = Xbuf::create(4096, 4096, Visibility::Public(&name)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert!(e.hint().contains("Xbuf::open"), "{e}");
    // The failed attempt removed nothing of the first.
    let again = Xbuf::open(&name).unwrap();
    first.rt().write(b"ok").unwrap();
    assert_eq!(read_exactly(again.inband(), 2), b"ok");
    drop((first, again));
    gone(&name);
}

pub fn bad_names_and_zero_sizes_are_invalid_arguments(_evl: bool) {
    for (a, b) in [(0, 4096), (4096, 0), (0, 0)] {
        let e = Xbuf::new(a, b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{a} {b}");
        assert!(!e.hint().is_empty());
    }
    for bad in ["", "a/b", "has space", ".hidden", &"x".repeat(64)] {
        assert_eq!(
            Xbuf::create(4096, 4096, Visibility::Public(bad))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
        assert_eq!(
            Xbuf::open(bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    let e = Xbuf::open(&unique_name("nobody")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!e.hint().is_empty());
    let e = Xbuf::new(1 << 40, 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CapacityExceeded);
}

pub fn dropping_one_end_closes_the_other_after_the_remaining_bytes(evl: bool) {
    let (rt, inband) = Xbuf::new(4096, 4096).unwrap().into_ends();
    inband.write(b"last words").unwrap();
    drop(inband);
    assert_eq!(read_exactly(&rt, 10), b"last words");
    let mut buf = [0u8; 4];
    assert_eq!(rt.try_read(&mut buf).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(rt.read(&mut buf).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(rt.try_write(b"x").unwrap_err().kind(), ErrorKind::Closed);
    if !evl {
        // (On EVL the drop of the other end does not show in poll(2).)
        assert!(readable(&rt), "a read would not block: it returns Closed");
    }
}

pub fn a_writer_blocked_on_a_full_ring_wakes_when_the_reader_end_goes(_evl: bool) {
    let (rt, inband) = Xbuf::new(4096, 4096).unwrap().into_ends();
    fill(&rt);
    let (tx, rx) = std::sync::mpsc::channel();
    let t = super::spawn(move || {
        let r = rt.write(&[1u8; 100]);
        tx.send(r.map_err(|e| e.kind())).unwrap();
    });
    std::thread::sleep(Duration::from_millis(30));
    drop(inband);
    let r = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the blocked writer was not woken");
    assert_eq!(r, Err(ErrorKind::Closed));
    t.join().unwrap();
}

pub fn steady_state_try_write_and_try_read_allocate_nothing(_evl: bool) {
    let x = Xbuf::new(4096, 4096).unwrap();
    let msg = [42u8; 64];
    let mut buf = [0u8; 256];
    for _ in 0..10 {
        x.inband().try_write(&msg).unwrap();
        x.rt().try_read(&mut buf).unwrap();
        x.rt().try_write(&msg).unwrap();
        x.inband().try_read(&mut buf).unwrap();
    }
    let mut bad = 0;
    let n = allocations_in(|| {
        for _ in 0..1000 {
            bad += usize::from(x.inband().try_write(&msg).is_err());
            bad += usize::from(x.rt().try_read(&mut buf).is_err());
            bad += usize::from(x.rt().try_write(&msg).is_err());
            bad += usize::from(x.inband().try_read(&mut buf).is_err());
            // The error path too: empty ring.
            bad += usize::from(x.rt().try_read(&mut buf).is_ok());
        }
    });
    assert_eq!(n, 0, "xbuf try_write/try_read allocated");
    assert_eq!(bad, 0);
}

/// EVL only: the real-time end makes out-of-band calls, which need an attached thread; the
/// in-band end works from any thread.
pub fn evl_the_rt_end_needs_an_attached_thread(_evl: bool) {
    let x = Xbuf::new(4096, 4096).unwrap();
    x.rt().write(b"up").unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 8];
            let e = x.rt().try_read(&mut buf).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(e.hint().contains("Thread::attach"), "{e}");
            assert_eq!(
                x.rt().write(b"x").unwrap_err().kind(),
                ErrorKind::PermissionDenied
            );
            assert_eq!(x.inband().read(&mut buf).unwrap(), 2);
            x.inband().write(b"down").unwrap();
        });
    });
    assert_eq!(read_exactly(x.rt(), 4), b"down");
}
