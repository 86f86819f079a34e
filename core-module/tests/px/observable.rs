//! Behaviour of `Observable`: every notification up to the backlog, in
//! order, with serials, issuer and date; losses counted; several subscribers; readiness;
//! blocking and timed reads; closing; argument errors; no allocation in update/try_read.

use evl_core::observable::{Notice, Notification, Observable, Subscriber, NOTICE_USER};
use evl_core::{Clock, ErrorKind, Timestamp, Visibility};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evl_alloc_count::allocations_in;

// ---- helpers ----

fn in_secs(secs: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_secs(secs))
}

fn readable(s: &Subscriber) -> bool {
    let mut pfd = libc::pollfd {
        fd: s.poll_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0);
    rc == 1
}

fn tid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Reads everything pending without blocking.
fn drain(s: &Subscriber) -> Vec<Notification> {
    let mut all = Vec::new();
    let mut buf = [Notification::default(); 3];
    loop {
        match s.try_read(&mut buf) {
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                return all;
            }
        }
    }
}

// ---- tests ----

pub fn a_subscriber_sees_every_update_up_to_its_backlog_then_counts_losses(evl: bool) {
    const N: u32 = 8;
    let obs = Observable::new().unwrap();
    let sub = obs.subscribe(N as usize).unwrap();
    assert_eq!(sub.backlog(), N as usize);
    let before = Clock::Monotonic.now();
    for i in 0..N {
        let queued = obs
            .update(&[Notice::new(NOTICE_USER + i, 1000 + u64::from(i))])
            .unwrap();
        assert_eq!(queued, 1);
    }
    // The (N+1)th does not fit: dropped for this subscriber, and counted.
    assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 0)]).unwrap(), 0);
    if !evl {
        // (On EVL a loss shows once a later notification is read: checked below.)
        assert_eq!(sub.lost(), 1);
    }
    let after = Clock::Monotonic.now();

    let got = drain(&sub);
    assert_eq!(got.len(), N as usize);
    for (i, n) in got.iter().enumerate() {
        assert_eq!(n.tag, NOTICE_USER + i as u32);
        assert_eq!(n.value, 1000 + i as u64);
        assert_eq!(n.issuer, tid());
        assert!(n.date >= before && n.date <= after);
        if i > 0 {
            assert_eq!(n.serial, got[i - 1].serial + 1, "serials increase by one");
            assert!(n.date >= got[i - 1].date);
        }
    }
    // Room again: nothing else is lost.
    assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 7)]).unwrap(), 1);
    let next = drain(&sub);
    assert_eq!(next.len(), 1);
    assert!(next[0].serial > got[N as usize - 1].serial);
    assert_eq!(sub.lost(), 1);
}

pub fn two_subscribers_each_see_everything(evl: bool) {
    let obs = Observable::new().unwrap();
    let a = obs.subscribe(16).unwrap();
    let batch: Vec<Notice> = (0..5)
        .map(|i| Notice::new(NOTICE_USER + 100 + i, u64::MAX - u64::from(i)))
        .collect();
    // On EVL a thread holds one subscription per observable: b subscribes on its own thread.
    let (ga, gb, b_lost) = std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let obs = &obs;
        let other = evl.then(|| {
            s.spawn(move || {
                let _a = super::attach_test_thread();
                let b = obs.subscribe(64).unwrap();
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                (drain(&b), b.lost())
            })
        });
        let local_b = if evl {
            ready_rx.recv().unwrap();
            None
        } else {
            Some(obs.subscribe(64).unwrap())
        };
        assert_eq!(obs.subscribers(), 2);
        assert_eq!(obs.update(&batch).unwrap(), 5);
        assert_eq!(obs.update(&batch[..2]).unwrap(), 2);
        let ga = drain(&a);
        let (gb, b_lost) = match (other, local_b) {
            (Some(t), _) => {
                go_tx.send(()).unwrap();
                t.join().unwrap()
            }
            (None, Some(b)) => (drain(&b), b.lost()),
            (None, None) => unreachable!(),
        };
        (ga, gb, b_lost)
    });
    assert_eq!(ga.len(), 7);
    assert_eq!(
        ga, gb,
        "both got the same notifications, serials and dates included"
    );
    for (n, want) in ga.iter().zip(batch.iter().chain(&batch[..2])) {
        assert_eq!((n.tag, n.value), (want.tag, want.value));
    }
    assert!(ga.windows(2).all(|w| w[1].serial == w[0].serial + 1));
    assert!(
        ga[..5].iter().all(|n| n.date == ga[0].date),
        "one date per update"
    );
    assert_eq!((a.lost(), b_lost), (0, 0));
}

pub fn a_full_backlog_only_costs_its_own_subscriber(evl: bool) {
    let obs = Observable::new().unwrap();
    let small = obs.subscribe(2).unwrap();
    let batch: Vec<Notice> = (0..5).map(|i| Notice::new(NOTICE_USER, i)).collect();
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let obs = &obs;
        // On EVL the big subscriber lives on its own thread (one subscription per thread).
        let big = s.spawn(move || {
            let _a = super::attach_test_thread();
            let big = obs.subscribe(10).unwrap();
            ready_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            (drain(&big).len(), big.lost())
        });
        ready_rx.recv().unwrap();
        // Queued for at least one subscriber: all 5 (the big one).
        assert_eq!(obs.update(&batch).unwrap(), 5);
        if !evl {
            assert_eq!(small.lost(), 3);
        }
        let got = drain(&small);
        assert_eq!(got.iter().map(|n| n.value).collect::<Vec<_>>(), [0, 1]);
        if evl {
            // The core counts no loss: it shows as a serial gap once a later one is read.
            obs.update(&[Notice::new(NOTICE_USER, 9)]).unwrap();
            assert_eq!(drain(&small).len(), 1);
            assert_eq!(small.lost(), 3);
        }
        go_tx.send(()).unwrap();
        let (n, lost) = big.join().unwrap();
        assert_eq!(n, if evl { 6 } else { 5 });
        assert_eq!(lost, 0);
    });
}

pub fn poll_fd_is_readable_exactly_while_notifications_are_pending(_evl: bool) {
    let obs = Observable::new().unwrap();
    let sub = obs.subscribe(4).unwrap();
    assert!(!readable(&sub));
    obs.update(&[Notice::new(NOTICE_USER, 1), Notice::new(NOTICE_USER, 2)])
        .unwrap();
    assert!(readable(&sub));
    let mut one = [Notification::default(); 1];
    assert_eq!(sub.try_read(&mut one).unwrap(), 1);
    assert!(readable(&sub), "one left");
    assert_eq!(sub.try_read(&mut one).unwrap(), 1);
    assert!(!readable(&sub));
    assert_eq!(
        sub.try_read(&mut one).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    obs.update(&[Notice::new(NOTICE_USER, 3)]).unwrap();
    assert!(readable(&sub));
}

pub fn bad_tags_zero_backlog_and_public_names_are_typed_errors(evl: bool) {
    let obs = Observable::new().unwrap();
    let sub = obs.subscribe(4).unwrap();
    let e = obs
        .update(&[Notice::new(NOTICE_USER, 1), Notice::new(NOTICE_USER - 1, 2)])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.hint().contains("NOTICE_USER"), "{e}");
    assert!(!readable(&sub), "a rejected batch sends nothing");
    assert_eq!(
        obs.update(&[Notice::new(0, 0)]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let e = obs.subscribe(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(!e.hint().is_empty());
    assert_eq!(
        obs.subscribe(usize::MAX).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(obs.update(&[]).unwrap(), 0);
    assert_eq!(
        Observable::create(Visibility::Public("a/b"))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    if evl {
        let name = super::unique("obs-fine");
        let o = Observable::create(Visibility::Public(&name)).unwrap();
        let e = Observable::create(Visibility::Public(&name)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        drop(o);
    } else {
        let e = Observable::create(Visibility::Public("fine")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.hint().contains("EVL backend"), "{e}");
        let e = Observable::open("fine").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }
}

pub fn without_subscribers_updates_reach_nobody_and_drop_unsubscribes(evl: bool) {
    let obs = Observable::new().unwrap();
    assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 1)]).unwrap(), 0);
    let mut a = Some(obs.subscribe(4).unwrap());
    if evl {
        // One subscription per thread: dropping it lets the thread subscribe again.
        drop(a.take());
        assert_eq!(obs.subscribers(), 0);
        assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 2)]).unwrap(), 0);
    }
    let b = obs.subscribe(4).unwrap();
    drop(a);
    assert_eq!(obs.subscribers(), 1);
    assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 2)]).unwrap(), 1);
    assert_eq!(drain(&b).len(), 1);
    drop(b);
    assert_eq!(obs.subscribers(), 0);
    assert_eq!(obs.update(&[Notice::new(NOTICE_USER, 3)]).unwrap(), 0);
}

pub fn a_blocked_read_wakes_on_update_and_read_until_times_out(evl: bool) {
    let obs = Observable::new().unwrap();
    let sub = obs.subscribe(4).unwrap();
    let start = Instant::now();
    let deadline = Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(100));
    let mut buf = [Notification::default(); 2];
    let e = sub.read_until(&mut buf, deadline).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(Clock::Monotonic.now() >= deadline);
    assert!(start.elapsed() < Duration::from_secs(20));

    // (On EVL a subscription is read on its thread: the reader subscribes there.)
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let (obs, sub) = (&obs, &sub);
        let t = s.spawn(move || {
            let _a = super::attach_test_thread();
            let own = evl.then(|| obs.subscribe(4).unwrap());
            ready_tx.send(()).unwrap();
            let mut buf = [Notification::default(); 2];
            let n = own
                .as_ref()
                .unwrap_or(sub)
                .read_until(&mut buf, in_secs(60))
                .unwrap();
            buf[..n].to_vec()
        });
        ready_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        obs.update(&[Notice::new(NOTICE_USER + 9, 99)]).unwrap();
        let got = t.join().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].tag, got[0].value), (NOTICE_USER + 9, 99));
    });
}

pub fn dropping_the_observable_closes_its_subscribers_after_their_backlog(evl: bool) {
    let obs = Arc::new(Observable::new().unwrap());
    let sub = obs.subscribe(4).unwrap();
    obs.update(&[Notice::new(NOTICE_USER, 5)]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let waiter = {
        // On EVL the waiter subscribes on its own thread; on the host it is handed over.
        let early = (!evl).then(|| obs.subscribe(4).unwrap());
        let obs2 = obs.clone();
        super::spawn(move || {
            let sub2 = early.unwrap_or_else(|| obs2.subscribe(4).unwrap());
            drop(obs2);
            ready_tx.send(()).unwrap();
            let mut buf = [Notification::default(); 1];
            tx.send(sub2.read(&mut buf).map_err(|e| e.kind())).unwrap();
        })
    };
    // sub2 subscribed after the update: its backlog is empty, so its reader waits.
    ready_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(obs);
    let r = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the blocked reader was not woken");
    assert_eq!(r, Err(ErrorKind::Closed));
    waiter.join().unwrap();
    let mut buf = [Notification::default(); 4];
    assert_eq!(
        sub.try_read(&mut buf).unwrap(),
        1,
        "the backlog is still read"
    );
    assert_eq!(buf[0].value, 5);
    assert_eq!(
        sub.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(sub.read(&mut buf).unwrap_err().kind(), ErrorKind::Closed);
    if !evl {
        // (On EVL the observable's drop does not show in poll(2).)
        assert!(readable(&sub), "a read would not block: it returns Closed");
    }
}

pub fn concurrent_updaters_lose_nothing_within_the_backlog(_evl: bool) {
    const THREADS: u64 = 4;
    const EACH: u64 = 250;
    let obs = Observable::new().unwrap();
    let sub = obs.subscribe((THREADS * EACH) as usize).unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let obs = &obs;
            s.spawn(move || {
                let _a = super::attach_test_thread();
                for i in 0..EACH {
                    let tag = NOTICE_USER + t as u32;
                    assert_eq!(obs.update(&[Notice::new(tag, i)]).unwrap(), 1);
                }
            });
        }
    });
    let got = drain(&sub);
    assert_eq!(got.len(), (THREADS * EACH) as usize);
    assert!(got.windows(2).all(|w| w[1].serial == w[0].serial + 1));
    let mut next = [0u64; THREADS as usize];
    for n in &got {
        let t = (n.tag - NOTICE_USER) as usize;
        assert_eq!(n.value, next[t], "updates of thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(sub.lost(), 0);
}

pub fn steady_state_update_and_try_read_allocate_nothing(evl: bool) {
    let obs = Observable::new().unwrap();
    let a = obs.subscribe(32).unwrap();
    // (On EVL one thread holds one subscription: `b` is a second read of `a` there.)
    let b_own = (!evl).then(|| obs.subscribe(32).unwrap());
    let b = b_own.as_ref().unwrap_or(&a);
    let batch = [Notice::new(NOTICE_USER, 1), Notice::new(NOTICE_USER + 1, 2)];
    let mut buf = [Notification::default(); 8];
    for _ in 0..10 {
        obs.update(&batch).unwrap();
        a.try_read(&mut buf).unwrap();
        if !evl {
            b.try_read(&mut buf).unwrap();
        }
    }
    let mut bad = 0;
    let n = allocations_in(|| {
        for _ in 0..1000 {
            bad += usize::from(obs.update(&batch) != Ok(2));
            bad += usize::from(a.try_read(&mut buf) != Ok(2));
            if !evl {
                bad += usize::from(b.try_read(&mut buf) != Ok(2));
            }
            // The error paths too.
            bad += usize::from(a.try_read(&mut buf).is_ok());
            bad += usize::from(obs.update(&[Notice::new(1, 0)]).is_ok());
            let _ = a.lost();
        }
    });
    assert_eq!(n, 0, "observable update/try_read allocated");
    assert_eq!(bad, 0);
}

/// EVL only: a public observable is a device under /dev/evl/observable, opened by name;
/// updates through either handle reach subscribers of both.
pub fn evl_a_public_observable_is_opened_by_name(_evl: bool) {
    let name = super::unique("obs");
    let creator = Observable::create(Visibility::Public(&name)).unwrap();
    assert!(std::path::Path::new(&format!("/dev/evl/observable/{name}")).exists());
    let opened = Observable::open(&name).unwrap();
    let sub = opened.subscribe(8).unwrap();
    assert_eq!(creator.update(&[Notice::new(NOTICE_USER, 1)]).unwrap(), 1);
    assert_eq!(opened.update(&[Notice::new(NOTICE_USER, 2)]).unwrap(), 1);
    let got = drain(&sub);
    assert_eq!(got.iter().map(|n| n.value).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(got[1].serial, got[0].serial + 1);
    assert_eq!(
        Observable::open(&super::unique("nobody"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    drop(sub);
    drop(opened);
    drop(creator);
}

/// EVL only: the core subscribes threads: one subscription per thread and observable, read
/// on that thread.
pub fn evl_a_subscription_belongs_to_its_thread(_evl: bool) {
    let obs = Observable::new().unwrap();
    let mine = obs.subscribe(4).unwrap();
    assert_eq!(
        obs.subscribe(4).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            let _a = super::attach_test_thread();
            let mut buf = [Notification::default(); 1];
            let e = mine.try_read(&mut buf).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            let theirs = obs.subscribe(4).unwrap();
            obs.update(&[Notice::new(NOTICE_USER, 3)]).unwrap();
            assert_eq!(theirs.try_read(&mut buf).unwrap(), 1);
        });
    });
    let mut buf = [Notification::default(); 1];
    assert_eq!(mine.try_read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0].value, 3);
}
