//! EVL-only checks of timers and poll sets on the real core: timers watched by poll sets,
//! tokens, ONESHOT (emulated over the core), timeouts, refused plain Linux fds, callers that
//! are not attached, and two poll sets used by one thread. Without `/dev/evl/control` every
//! test prints a SKIPPED line and returns.

mod evl_only;
use evl_only::setup;

use evl_core::poll::PollFlags;
use evl_core::timer::Start;
use evl_core::*;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

static N: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on a new thread attached to the core.
fn attached(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let name = format!(
            "tp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let _t = Thread::attach(ThreadConfig::new(&name)).expect("attach to the EVL core");
        f()
    })
    .join()
    .unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn after(d: Duration) -> Timestamp {
    Clock::Monotonic.now().saturating_add(d)
}

fn tokens(ev: &[PollEvent]) -> Vec<u64> {
    let mut t: Vec<u64> = ev.iter().map(|e| e.token).collect();
    t.sort();
    t
}

#[test]
fn timers_in_a_poll_set_come_back_with_their_tokens() {
    if !setup() {
        return;
    }
    attached(|| {
        let a = Timer::new(Clock::Monotonic).unwrap();
        let b = Timer::new(Clock::Monotonic).unwrap();
        let ps = PollSet::new().unwrap();
        ps.add(a.as_fd(), PollFlags::IN, 11).unwrap();
        ps.add(b.as_fd(), PollFlags::IN, u64::MAX - 1).unwrap();
        let mut out = [PollEvent::default(); 4];
        assert_eq!(ps.wait(&mut out, Some(Clock::Monotonic.now())).unwrap(), 0);
        let at = after(ms(10));
        a.set(Start::At(at), None).unwrap();
        b.set(Start::After(ms(200)), None).unwrap();
        let n = ps
            .wait(&mut out, Some(after(Duration::from_secs(5))))
            .unwrap();
        assert_eq!(tokens(&out[..n]), vec![11]);
        assert!(out[0].ready.contains(PollFlags::IN), "{:?}", out[0]);
        assert!(Clock::Monotonic.now() >= at);
        // Level-triggered: still reported until read.
        assert_eq!(ps.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 1);
        assert_eq!(a.try_read().unwrap(), 1);
        let n = ps
            .wait(&mut out, Some(after(Duration::from_secs(5))))
            .unwrap();
        assert_eq!(tokens(&out[..n]), vec![u64::MAX - 1]);
        assert_eq!(b.read().unwrap(), 1);
        eprintln!("timers reported with their tokens");
    });
}

#[test]
fn oneshot_reports_once_until_modified() {
    if !setup() {
        return;
    }
    attached(|| {
        let t = Timer::new(Clock::Monotonic).unwrap();
        let ps = PollSet::new().unwrap();
        ps.add(t.as_fd(), PollFlags::IN | PollFlags::ONESHOT, 5)
            .unwrap();
        t.set(Start::At(Timestamp::ZERO), None).unwrap(); // fires at once, stays unread
        let mut out = [PollEvent::default(); 4];
        assert_eq!(ps.wait(&mut out, None).unwrap(), 1);
        assert_eq!(out[0].token, 5);
        let deadline = after(ms(30));
        assert_eq!(
            ps.wait(&mut out, Some(deadline)).unwrap(),
            0,
            "a ONESHOT fd is silent after its report"
        );
        assert!(Clock::Monotonic.now() >= deadline);
        // Still in the set: add refuses it, modify re-arms it (with a new token).
        assert_eq!(
            ps.add(t.as_fd(), PollFlags::IN, 9).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        ps.modify(t.as_fd(), PollFlags::IN | PollFlags::ONESHOT, 6)
            .unwrap();
        assert_eq!(ps.wait(&mut out, None).unwrap(), 1);
        assert_eq!(out[0].token, 6);
        assert_eq!(ps.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 0);
        // A parked fd can be removed, and added back as a plain registration.
        ps.remove(t.as_fd()).unwrap();
        assert_eq!(
            ps.remove(t.as_fd()).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        ps.add(t.as_fd(), PollFlags::IN, 7).unwrap();
        assert_eq!(ps.wait(&mut out, None).unwrap(), 1);
        assert_eq!(ps.wait(&mut out, None).unwrap(), 1, "not ONESHOT: level");
        assert_eq!(t.try_read().unwrap(), 1);
        eprintln!("ONESHOT honoured");
    });
}

#[test]
fn oneshot_goes_to_one_waiter_only() {
    if !setup() {
        return;
    }
    attached(|| {
        let t = std::sync::Arc::new(Timer::new(Clock::Monotonic).unwrap());
        let ps = std::sync::Arc::new(PollSet::new().unwrap());
        ps.add(t.as_fd(), PollFlags::IN | PollFlags::ONESHOT, 1)
            .unwrap();
        let got = std::sync::Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let (ps, got) = (ps.clone(), got.clone());
                std::thread::spawn(move || {
                    let _a = Thread::attach(ThreadConfig::new(&format!(
                        "tp-w{i}-{}",
                        std::process::id()
                    )))
                    .unwrap();
                    let mut out = [PollEvent::default(); 2];
                    let n = ps.wait(&mut out, Some(after(ms(300)))).unwrap();
                    got.fetch_add(n, Ordering::SeqCst);
                })
            })
            .collect();
        std::thread::sleep(ms(50));
        t.set(Start::At(Timestamp::ZERO), None).unwrap();
        waiters.into_iter().for_each(|w| w.join().unwrap());
        assert_eq!(got.load(Ordering::SeqCst), 1, "exactly one waiter gets it");
    });
}

#[test]
fn plain_linux_fds_are_refused_with_the_proxy_hint() {
    if !setup() {
        return;
    }
    attached(|| {
        let ps = PollSet::new().unwrap();
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: pipe just returned both descriptors; nobody else owns them.
        let (r, _w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let e = ps.add(r.as_fd(), PollFlags::IN, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("Proxy"), "{e}");
        eprintln!("refused: {e}");
        // The set is unharmed.
        assert_eq!(
            ps.wait(&mut [PollEvent::default()], Some(after(ms(5))))
                .unwrap(),
            0
        );
    });
}

#[test]
fn waits_time_out_at_their_deadline() {
    if !setup() {
        return;
    }
    attached(|| {
        let empty = PollSet::new().unwrap();
        let mut out = [PollEvent::default(); 2];
        let deadline = after(ms(20));
        assert_eq!(empty.wait(&mut out, Some(deadline)).unwrap(), 0);
        assert!(Clock::Monotonic.now() >= deadline, "an empty set waits too");
        assert_eq!(empty.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 0);
        assert_eq!(
            empty.wait(&mut [], None).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let t = Timer::new(Clock::Monotonic).unwrap();
        let deadline = after(ms(20));
        assert_eq!(
            t.read_until(deadline).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        assert!(Clock::Monotonic.now() >= deadline);
        assert_eq!(t.try_read().unwrap_err().kind(), ErrorKind::WouldBlock);
        // Realtime timers take realtime start times.
        let rt = Timer::new(Clock::Realtime).unwrap();
        assert_eq!(rt.clock(), Clock::Realtime);
        rt.set(
            Start::At(Clock::Realtime.now().saturating_add(ms(10))),
            None,
        )
        .unwrap();
        let r = rt.remaining().unwrap().expect("armed");
        assert!(r <= ms(10), "{r:?}");
        assert_eq!(rt.read_until(after(Duration::from_secs(5))).unwrap(), 1);
    });
}

#[test]
fn rearming_discards_a_pending_expiry() {
    if !setup() {
        return;
    }
    attached(|| {
        let t = std::sync::Arc::new(Timer::new(Clock::Monotonic).unwrap());
        t.set(Start::At(Timestamp::ZERO), None).unwrap();
        std::thread::sleep(ms(5));
        t.set(Start::After(ms(30)), None).unwrap();
        assert_eq!(t.try_read().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert_eq!(t.read().unwrap(), 1);
        t.set(Start::At(Timestamp::ZERO), None).unwrap();
        std::thread::sleep(ms(5));
        t.disarm().unwrap();
        assert_eq!(t.try_read().unwrap_err().kind(), ErrorKind::WouldBlock);

        // The same from a thread that is not attached (it cannot drain the core's pending
        // expiry; the next read must still not count it).
        t.set(Start::At(Timestamp::ZERO), None).unwrap();
        std::thread::sleep(ms(5));
        let t2 = t.clone();
        std::thread::spawn(move || t2.set(Start::After(ms(40)), None).unwrap())
            .join()
            .unwrap();
        assert_eq!(
            t.read_until(after(ms(10))).unwrap_err().kind(),
            ErrorKind::TimedOut,
            "the stale expiry is not counted"
        );
        assert_eq!(t.read().unwrap(), 1, "the new setting fires");
        let t2 = t.clone();
        t.set(Start::At(Timestamp::ZERO), None).unwrap();
        std::thread::sleep(ms(5));
        std::thread::spawn(move || t2.disarm().unwrap())
            .join()
            .unwrap();
        assert_eq!(t.try_read().unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn callers_not_attached_are_told_to_attach() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        assert!(!Thread::is_attached());
        let ps = PollSet::new().unwrap();
        let t = Timer::new(Clock::Monotonic).unwrap();
        t.set(Start::After(ms(1)), None).unwrap();
        assert!(t.remaining().is_ok());
        let e = ps
            .wait(&mut [PollEvent::default()], Some(Timestamp::ZERO))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("Thread::attach"), "{e}");
        let e = ps.add(t.as_fd(), PollFlags::IN, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let e = t.read().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("Thread::attach"), "{e}");
        eprintln!("denied: {e}");
    })
    .join()
    .unwrap();
}

#[test]
fn one_thread_alternates_between_poll_sets() {
    if !setup() {
        return;
    }
    attached(|| {
        // Both sets have had the same number of changes: the core's per-thread cache must
        // not serve one set's watch table for the other.
        let a = Timer::new(Clock::Monotonic).unwrap();
        let b = Timer::new(Clock::Monotonic).unwrap();
        let pa = PollSet::new().unwrap();
        let pb = PollSet::new().unwrap();
        pa.add(a.as_fd(), PollFlags::IN, 1).unwrap();
        pb.add(b.as_fd(), PollFlags::IN, 2).unwrap();
        a.set(Start::At(Timestamp::ZERO), None).unwrap();
        let mut out = [PollEvent::default(); 4];
        // The expiry is delivered by the core's timer a moment after the set (not within
        // it): wait for it once, with no deadline, so the zero-deadline checks below see it
        // on any machine, emulated or not. Unread, it stays ready.
        assert_eq!(pa.wait(&mut out, None).unwrap(), 1);
        for _ in 0..3 {
            assert_eq!(pb.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 0);
            assert_eq!(pa.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 1);
            assert_eq!(out[0].token, 1);
            // Timer reads wait on a group of their own in between.
            assert_eq!(
                b.read_until(Timestamp::ZERO).unwrap_err().kind(),
                ErrorKind::TimedOut
            );
        }
        // Fresh sets, one change each, as `suite::readable` makes them.
        for round in 0..4 {
            let fresh = PollSet::new().unwrap();
            let (fd, ready) = if round % 2 == 0 { (&a, 1) } else { (&b, 0) };
            fresh.add(fd.as_fd(), PollFlags::IN, 3).unwrap();
            assert_eq!(fresh.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), ready);
        }
    });
}

#[test]
fn a_closed_fd_drops_out_of_the_set() {
    if !setup() {
        return;
    }
    attached(|| {
        let ps = PollSet::new().unwrap();
        let keep = Timer::new(Clock::Monotonic).unwrap();
        ps.add(keep.as_fd(), PollFlags::IN, 1).unwrap();
        {
            let gone = Timer::new(Clock::Monotonic).unwrap();
            ps.add(gone.as_fd(), PollFlags::IN, 2).unwrap();
        }
        let mut out = [PollEvent::default(); 4];
        assert_eq!(ps.wait(&mut out, Some(after(ms(5)))).unwrap(), 0);
        keep.set(Start::At(Timestamp::ZERO), None).unwrap();
        let n = ps.wait(&mut out, None).unwrap();
        assert_eq!(tokens(&out[..n]), vec![1]);
    });
}

#[test]
fn steady_state_timer_and_poll_paths_allocate_nothing() {
    if !setup() {
        return;
    }
    attached(|| {
        let tick = Timer::new(Clock::Monotonic).unwrap();
        let once = Timer::new(Clock::Monotonic).unwrap();
        let ps = PollSet::new().unwrap();
        ps.add(tick.as_fd(), PollFlags::IN, 1).unwrap();
        ps.add(once.as_fd(), PollFlags::IN | PollFlags::ONESHOT, 2)
            .unwrap();
        tick.set(Start::After(ms(1)), Some(ms(1))).unwrap();
        let mut out = [PollEvent::default(); 4];
        let mut round = || {
            once.set(Start::At(Timestamp::ZERO), None).unwrap();
            let n = ps.wait(&mut out, None).unwrap();
            assert!(n >= 1);
            ps.modify(once.as_fd(), PollFlags::IN | PollFlags::ONESHOT, 2)
                .unwrap();
            assert!(tick.read_until(after(Duration::from_secs(5))).unwrap() >= 1);
            let _ = tick.try_read();
            let _ = once.try_read();
            assert!(tick.remaining().unwrap().is_some());
            once.disarm().unwrap();
            assert!(ps.wait(&mut out, Some(Timestamp::ZERO)).unwrap() <= 2);
        };
        round(); // warm-up
        let n = evl_alloc_count::allocations_in(|| {
            for _ in 0..50 {
                round();
            }
        });
        assert_eq!(n, 0, "allocations in the steady state");
    });
}

#[test]
fn a_set_is_sized_once_and_refuses_past_its_capacity_without_allocating() {
    if !setup() {
        return;
    }
    attached(|| {
        let ts: Vec<Timer> = (0..3)
            .map(|_| Timer::new(Clock::Monotonic).unwrap())
            .collect();
        let ps = PollSet::with_capacity(2).unwrap();
        // Warm the set's sentinel and the thread's poll state before counting.
        let mut out = [PollEvent::default(); 2];
        assert_eq!(ps.wait(&mut out, Some(Timestamp::ZERO)).unwrap(), 0);
        evl_alloc_count::start_counting();
        ps.add(ts[0].as_fd(), PollFlags::IN, 0).unwrap();
        ps.add(ts[1].as_fd(), PollFlags::IN, 1).unwrap();
        let e = ps.add(ts[2].as_fd(), PollFlags::IN, 2).unwrap_err();
        ps.remove(ts[0].as_fd()).unwrap();
        ps.add(ts[2].as_fd(), PollFlags::IN, 2).unwrap();
        let allocs = evl_alloc_count::stop_counting();
        assert_eq!(e.kind(), ErrorKind::CapacityExceeded, "{e}");
        assert_eq!(
            allocs, 0,
            "registrations up to the capacity allocate nothing"
        );
    });
}
