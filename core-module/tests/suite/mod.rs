//! The element suite, written once and instantiated per backend (see `suite_tests!`): each
//! test binary picks its backend with a `setup` function that returns `false` (after saying
//! so on the terminal) when the backend cannot run on this machine.

#![allow(dead_code)]

use evl_core::backend;
use evl_core::poll::PollFlags;
use evl_core::timer::Start;
use evl_core::*;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Instantiates every suite test in the calling test binary, gated by `$setup()`.
#[macro_export]
macro_rules! suite_tests {
    ($setup:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if $setup() {
                    let _attached = suite::attach_test_thread();
                    suite::$name();
                }
            }
        )*
    };
}

/// Writes past libtest's output capture, so skip notices show in every run.
pub fn notice(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn after(d: Duration) -> Timestamp {
    Clock::Monotonic.now().saturating_add(d)
}

/// Spins (sleeping briefly) until `cond` holds; panics after a generous 10 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(ms(1));
    }
}

/// Whether `fd` is readable right now, as a [`PollSet`] of the current backend sees it (on
/// the EVL core, element descriptors are only pollable out-of-band, through its poll element).
pub fn readable(fd: BorrowedFd<'_>) -> bool {
    let set = PollSet::new().unwrap();
    set.add(fd, PollFlags::IN, 7).unwrap();
    let mut out = [PollEvent {
        token: 0,
        ready: PollFlags::NONE,
    }; 1];
    match set.wait(&mut out, Some(Clock::Monotonic.now())) {
        Ok(n) => n == 1 && out[0].token == 7 && out[0].ready.contains(PollFlags::IN),
        Err(e) if e.kind() == ErrorKind::TimedOut => false,
        Err(e) => panic!("poll failed: {e}"),
    }
}

/// Attaches the calling thread (blocking waits, lock, timer reads and poll sets need an
/// attached caller, on both backends) unless it is attached already. Keep the result alive
/// for as long as the thread uses elements.
pub fn attach_test_thread() -> Option<Thread> {
    if !Thread::is_attached() {
        let name = unique("w");
        Some(
            Thread::attach(ThreadConfig::new(&name).lock_memory(false))
                .expect("attach a suite thread"),
        )
    } else {
        None
    }
}

/// `std::thread::spawn` for threads that use elements: attached.
pub fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let _attached = attach_test_thread();
        f()
    })
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A public name no other test (or concurrent run) uses.
pub fn unique(tag: &str) -> String {
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

fn kind<T: core::fmt::Debug>(r: Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

// ---------------------------------------------------------------- semaphores

pub fn semaphore_counts() {
    let s = Semaphore::new(2).unwrap();
    assert_eq!(s.value(), 2);
    s.try_get().unwrap();
    s.try_get().unwrap();
    assert_eq!(kind(s.try_get()), ErrorKind::WouldBlock);
    s.put().unwrap();
    s.put().unwrap();
    s.put().unwrap();
    assert_eq!(s.value(), 3);
    s.get().unwrap();
    s.get_until(after(ms(10))).unwrap();
    assert_eq!(s.value(), 1);
}

pub fn semaphore_put_wakes_exactly_one_waiter() {
    let s = Arc::new(Semaphore::new(0).unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let (s, done) = (s.clone(), done.clone());
            spawn(move || {
                s.get().unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    eventually("3 waiters queued", || s.value() == -3);
    s.put().unwrap();
    eventually("one waiter released", || done.load(Ordering::SeqCst) == 1);
    std::thread::sleep(ms(50));
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "one put released more than one waiter"
    );
    assert_eq!(s.value(), -2);
    s.put().unwrap();
    s.put().unwrap();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(s.value(), 0);
}

pub fn semaphore_flush_wakes_every_waiter_without_a_grant() {
    let s = Arc::new(Semaphore::new(0).unwrap());
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            spawn(move || s.get().map_err(|e| e.kind()))
        })
        .collect();
    eventually("3 waiters queued", || s.value() == -3);
    assert_eq!(s.flush().unwrap(), 3);
    for h in hs {
        assert_eq!(h.join().unwrap(), Err(ErrorKind::Flushed));
    }
    assert_eq!(s.value(), 0, "a flush grants nothing");
    assert_eq!(s.flush().unwrap(), 0);
}

pub fn semaphore_timed_wait_times_out_at_the_deadline() {
    let s = Semaphore::new(0).unwrap();
    let deadline = after(ms(50));
    assert_eq!(kind(s.get_until(deadline)), ErrorKind::TimedOut);
    let now = Clock::Monotonic.now();
    assert!(
        now >= deadline,
        "returned {} ns early",
        deadline.signed_nanos_since(now)
    );
    assert!(
        now.saturating_duration_since(deadline) < Duration::from_secs(2),
        "far too late"
    );
    assert_eq!(s.value(), 0, "the timed-out waiter left the queue");
    // A deadline already past still takes an available unit, and otherwise fails at once.
    s.put().unwrap();
    s.get_until(Timestamp::ZERO).unwrap();
    assert_eq!(kind(s.get_until(Timestamp::ZERO)), ErrorKind::TimedOut);
}

pub fn semaphore_poll_fd_is_readable_exactly_while_count_positive() {
    let s = Semaphore::new(0).unwrap();
    assert!(!readable(s.poll_fd()));
    s.put().unwrap();
    assert!(readable(s.poll_fd()));
    s.put().unwrap();
    s.try_get().unwrap();
    assert!(readable(s.poll_fd()));
    s.try_get().unwrap();
    assert!(!readable(s.poll_fd()));
    assert!(!readable(Semaphore::new(0).unwrap().poll_fd()));
    assert!(readable(Semaphore::new(1).unwrap().poll_fd()));
}

pub fn semaphore_stress_loses_no_unit() {
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    const UNITS: usize = 2000;
    let s = Arc::new(Semaphore::new(0).unwrap());
    let got = Arc::new(AtomicUsize::new(0));
    let mut hs = Vec::new();
    for _ in 0..CONSUMERS {
        let (s, got) = (s.clone(), got.clone());
        hs.push(spawn(move || {
            for _ in 0..UNITS {
                s.get_until(after(Duration::from_secs(20)))
                    .expect("a unit was lost");
                got.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for _ in 0..PRODUCERS {
        let s = s.clone();
        hs.push(spawn(move || (0..UNITS).for_each(|_| s.put().unwrap())));
    }
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(got.load(Ordering::Relaxed), CONSUMERS * UNITS);
    assert_eq!(s.value(), 0);
    assert!(!readable(s.poll_fd()));
}

// ---------------------------------------------------------------- flags

pub fn flags_wait_any_and_all() {
    let f = Flags::new(0).unwrap();
    assert_eq!(
        kind(f.try_wait(0b11, FlagsMode::Any)),
        ErrorKind::WouldBlock
    );
    f.post(0b01).unwrap();
    assert_eq!(
        kind(f.try_wait(0b11, FlagsMode::All)),
        ErrorKind::WouldBlock,
        "all needs both bits"
    );
    assert_eq!(f.peek(), 0b01, "a failed wait consumes nothing");
    assert_eq!(f.try_wait(0b11, FlagsMode::Any).unwrap(), 0b01);
    assert_eq!(f.peek(), 0);
    f.post(0b10).unwrap();
    f.post(0b101).unwrap();
    assert_eq!(
        f.try_wait(0b11, FlagsMode::All).unwrap(),
        0b11,
        "consumes only the bits asked for"
    );
    assert_eq!(f.peek(), 0b100);
    assert_eq!(
        f.try_wait(0, FlagsMode::Any).unwrap(),
        0b100,
        "0 asks for every bit"
    );
}

pub fn flags_blocking_wait_gets_the_posted_bits() {
    let f = Arc::new(Flags::new(0).unwrap());
    let f2 = f.clone();
    let h = spawn(move || f2.wait(0b1100, FlagsMode::All));
    std::thread::sleep(ms(20));
    f.post(0b0100).unwrap();
    std::thread::sleep(ms(20));
    assert!(!h.is_finished(), "an all-wait returned with half its bits");
    f.post(0b1001).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), 0b1100);
    assert_eq!(f.peek(), 0b0001);
}

pub fn flags_timed_wait_and_poll_fd() {
    let f = Flags::new(0).unwrap();
    let deadline = after(ms(30));
    assert_eq!(
        kind(f.wait_until(1, FlagsMode::Any, deadline)),
        ErrorKind::TimedOut
    );
    assert!(Clock::Monotonic.now() >= deadline);
    assert!(!readable(f.poll_fd()));
    f.post(0b10).unwrap();
    assert!(readable(f.poll_fd()));
    assert_eq!(
        kind(f.try_wait(0b01, FlagsMode::Any)),
        ErrorKind::WouldBlock
    );
    assert!(readable(f.poll_fd()), "bits still set");
    f.try_wait(0b10, FlagsMode::Any).unwrap();
    assert!(!readable(f.poll_fd()));
    assert_eq!(kind(f.post(0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(f.broadcast(0)), ErrorKind::InvalidArgument);
}

// ---------------------------------------------------------------- mutex + event

pub fn mutex_excludes_times_out_and_detects_relock() {
    let m = Arc::new(Mutex::new().unwrap());
    let g = m.lock().unwrap();
    assert_eq!(kind(m.lock()), ErrorKind::Deadlock);
    let m2 = m.clone();
    // The holder lets go only once the other thread has seen its timed lock time out, however
    // late that thread starts (a fixed sleep failed on the emulated core).
    let (timed_out, seen) = std::sync::mpsc::channel();
    let h = spawn(move || {
        assert_eq!(kind(m2.try_lock()), ErrorKind::WouldBlock);
        let deadline = after(ms(30));
        assert_eq!(kind(m2.lock_until(deadline)), ErrorKind::TimedOut);
        assert!(Clock::Monotonic.now() >= deadline);
        timed_out.send(()).unwrap();
        let _g = m2.lock().unwrap();
    });
    seen.recv().unwrap();
    drop(g);
    h.join().unwrap();
    drop(m.try_lock().unwrap());
}

pub fn mutex_serialises_a_counter() {
    let m = Arc::new(Mutex::new().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (m, count) = (m.clone(), count.clone());
            spawn(move || {
                for _ in 0..2000 {
                    let _g = m.lock().unwrap();
                    // A non-atomic read-modify-write: only exclusion keeps it exact.
                    let v = count.load(Ordering::Relaxed);
                    count.store(v + 1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(count.load(Ordering::Relaxed), 8000);
}

/// Starts `n` threads that each lock `m`, count themselves in `ready`, wait on `ev` (which
/// releases `m` atomically), count themselves in `woken`, unlock.
fn event_waiters(
    n: usize,
    m: &Arc<Mutex>,
    ev: &Arc<Event>,
    ready: &Arc<AtomicUsize>,
    woken: &Arc<AtomicUsize>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (m, ev, ready, woken) = (m.clone(), ev.clone(), ready.clone(), woken.clone());
            spawn(move || {
                let mut g = m.lock().unwrap();
                ready.fetch_add(1, Ordering::SeqCst);
                ev.wait(&mut g).unwrap();
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect()
}

/// Waits until all `n` waiters are inside `wait`: they counted themselves under the mutex
/// and queued before releasing it, so once we hold it and see `n`, all are queued.
fn all_waiting<'a>(m: &'a Mutex, ready: &AtomicUsize, n: usize) -> MutexGuard<'a> {
    loop {
        let g = m.lock().unwrap();
        if ready.load(Ordering::SeqCst) == n {
            return g;
        }
        drop(g);
        std::thread::sleep(ms(1));
    }
}

pub fn event_signal_wakes_exactly_one() {
    let (m, ev) = (
        Arc::new(Mutex::new().unwrap()),
        Arc::new(Event::new().unwrap()),
    );
    let (ready, woken) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hs = event_waiters(3, &m, &ev, &ready, &woken);
    let g = all_waiting(&m, &ready, 3);
    assert_eq!(ev.signal().unwrap(), 1);
    drop(g);
    eventually("one waiter woken", || woken.load(Ordering::SeqCst) == 1);
    std::thread::sleep(ms(50));
    assert_eq!(woken.load(Ordering::SeqCst), 1, "signal woke more than one");
    assert_eq!(ev.signal().unwrap(), 1);
    assert_eq!(ev.signal().unwrap(), 1);
    assert_eq!(ev.signal().unwrap(), 0, "nobody left to wake");
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(woken.load(Ordering::SeqCst), 3);
}

pub fn event_broadcast_wakes_every_waiter() {
    let (m, ev) = (
        Arc::new(Mutex::new().unwrap()),
        Arc::new(Event::new().unwrap()),
    );
    let (ready, woken) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hs = event_waiters(4, &m, &ev, &ready, &woken);
    let g = all_waiting(&m, &ready, 4);
    assert_eq!(ev.broadcast().unwrap(), 4);
    drop(g);
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(woken.load(Ordering::SeqCst), 4);
}

pub fn event_timed_wait_relocks_the_mutex() {
    let (m, ev) = (Arc::new(Mutex::new().unwrap()), Event::new().unwrap());
    let mut g = m.lock().unwrap();
    let deadline = after(ms(30));
    assert_eq!(kind(ev.wait_until(&mut g, deadline)), ErrorKind::TimedOut);
    assert!(Clock::Monotonic.now() >= deadline);
    let m2 = m.clone();
    let held = spawn(move || m2.try_lock().is_err()).join().unwrap();
    assert!(
        held,
        "the mutex must be locked again after a timed-out wait"
    );
    drop(g);
}

// ---------------------------------------------------------------- timers and clocks

pub fn timer_one_shot_absolute_fires_once_at_its_time() {
    let t = Timer::new(Clock::Monotonic).unwrap();
    assert_eq!(t.remaining().unwrap(), None);
    assert_eq!(kind(t.try_read()), ErrorKind::WouldBlock);
    let at = after(ms(20));
    t.set(Start::At(at), None).unwrap();
    assert!(t.remaining().unwrap().is_some());
    assert_eq!(t.read().unwrap(), 1);
    assert!(Clock::Monotonic.now() >= at);
    assert_eq!(
        kind(t.read_until(after(ms(30)))),
        ErrorKind::TimedOut,
        "one-shot fires once"
    );
    t.set(Start::At(Timestamp::ZERO), None).unwrap();
    assert_eq!(t.read().unwrap(), 1, "a past start fires at once");
}

pub fn timer_periodic_counts_overruns_after_a_stall() {
    let t = Timer::new(Clock::Monotonic).unwrap();
    let period = ms(10);
    let start = after(period);
    t.set(Start::At(start), Some(period)).unwrap();
    // Expiries due by `x`. Each is counted once, by the first read after it, and never
    // before it is due: so what the reads returned so far is at most what was due when the
    // last one returned. These hold however late any read or wakeup comes.
    let due = |x: Timestamp| -> u64 {
        if x < start {
            0
        } else {
            (x.saturating_duration_since(start).as_nanos() / period.as_nanos()) as u64 + 1
        }
    };
    let r1 = t.read().unwrap();
    let a1 = Clock::Monotonic.now();
    assert!(r1 >= 1 && r1 <= due(a1), "first read {r1}, {} due", due(a1));
    std::thread::sleep(ms(65)); // a deliberate stall: 6 periods pass after the first read
    let r2 = t.read().unwrap();
    let a2 = Clock::Monotonic.now();
    // At least 6 came due during the stall (one may still be in flight where the timer
    // interrupt lags): the missed periods are counted, not lost.
    assert!(
        r2 >= 5,
        "expected the missed periods to be counted, got {r2}"
    );
    assert!(r1 + r2 <= due(a2), "{r1} + {r2} counted, {} due", due(a2));
    let r3 = t.read().unwrap();
    let a3 = Clock::Monotonic.now();
    assert!(r3 >= 1, "a read waits for the next expiry");
    assert!(
        r1 + r2 + r3 <= due(a3),
        "no expiry counted twice or early: {r1} + {r2} + {r3} counted, {} due",
        due(a3)
    );
    t.disarm().unwrap();
    assert_eq!(t.remaining().unwrap(), None);
    assert_eq!(
        kind(t.set(Start::After(period), Some(Duration::ZERO))),
        ErrorKind::InvalidArgument
    );
}

pub fn clock_sleep_until_is_absolute() {
    // On the EVL core only attached threads sleep on its clocks; attaching is harmless on
    // the host backend.
    std::thread::spawn(|| {
        let _t = Thread::attach(ThreadConfig::new("suite-sleep").lock_memory(false)).unwrap();
        let deadline = after(ms(15));
        Clock::Monotonic.sleep_until(deadline).unwrap();
        assert!(Clock::Monotonic.now() >= deadline);
        Clock::Monotonic.sleep_until(Timestamp::ZERO).unwrap();
        let before = Clock::Monotonic.now();
        Clock::Monotonic.sleep(ms(5)).unwrap();
        assert!(Clock::Monotonic.now().saturating_duration_since(before) >= ms(5));
    })
    .join()
    .unwrap();
}

// ---------------------------------------------------------------- poll sets

pub fn poll_reports_every_ready_fd_and_none_spuriously() {
    let sems: Vec<_> = (0..4).map(|_| Semaphore::new(0).unwrap()).collect();
    let timer = Timer::new(Clock::Monotonic).unwrap();
    let ps = PollSet::new().unwrap();
    for (i, s) in sems.iter().enumerate() {
        ps.add(s.poll_fd(), PollFlags::IN, i as u64).unwrap();
    }
    ps.add(timer.as_fd(), PollFlags::IN, 100).unwrap();
    let mut out = [PollEvent::default(); 8];
    assert_eq!(
        ps.wait(&mut out, Some(Clock::Monotonic.now())).unwrap(),
        0,
        "nothing is ready"
    );

    sems[0].put().unwrap();
    sems[2].put().unwrap();
    let n = ps.wait(&mut out, None).unwrap();
    let mut tokens: Vec<u64> = out[..n].iter().map(|e| e.token).collect();
    tokens.sort();
    assert_eq!(tokens, vec![0, 2]);
    assert!(out[..n].iter().all(|e| e.ready.contains(PollFlags::IN)));

    sems[0].try_get().unwrap();
    sems[2].try_get().unwrap();
    assert_eq!(
        ps.wait(&mut out, Some(Clock::Monotonic.now())).unwrap(),
        0,
        "consumed: not ready"
    );

    let deadline = after(ms(20));
    timer.set(Start::At(deadline), None).unwrap();
    let n = ps
        .wait(&mut out, Some(after(Duration::from_secs(5))))
        .unwrap();
    assert_eq!((n, out[0].token), (1, 100));
    assert!(Clock::Monotonic.now() >= deadline);

    // A small buffer takes what fits; the rest stays ready for the next wait.
    sems.iter().for_each(|s| s.put().unwrap());
    let mut one = [PollEvent::default(); 1];
    assert_eq!(ps.wait(&mut one, None).unwrap(), 1);

    ps.modify(sems[1].poll_fd(), PollFlags::IN, 7).unwrap();
    ps.remove(sems[3].poll_fd()).unwrap();
    let n = ps.wait(&mut out, None).unwrap();
    let mut tokens: Vec<u64> = out[..n].iter().map(|e| e.token).collect();
    tokens.sort();
    assert_eq!(tokens, vec![0, 2, 7, 100]);
}

pub fn poll_timeout_and_bad_input() {
    let ps = PollSet::new().unwrap();
    let s = Semaphore::new(0).unwrap();
    ps.add(s.poll_fd(), PollFlags::IN, 1).unwrap();
    let deadline = after(ms(25));
    let mut out = [PollEvent::default(); 4];
    assert_eq!(ps.wait(&mut out, Some(deadline)).unwrap(), 0);
    assert!(Clock::Monotonic.now() >= deadline);
    assert_eq!(
        kind(ps.add(s.poll_fd(), PollFlags::IN, 1)),
        ErrorKind::AlreadyExists
    );
    let other = Semaphore::new(0).unwrap();
    assert_eq!(kind(ps.remove(other.poll_fd())), ErrorKind::NotFound);
    assert_eq!(
        kind(ps.modify(other.poll_fd(), PollFlags::IN, 0)),
        ErrorKind::NotFound
    );
    assert_eq!(kind(ps.wait(&mut [], None)), ErrorKind::InvalidArgument);
}

// ---------------------------------------------------------------- public elements

pub fn public_elements_are_shared_by_name() {
    let name = unique("sem");
    let a = Semaphore::create(0, Visibility::Public(&name)).unwrap();
    let b = Semaphore::open(&name).unwrap();
    a.put().unwrap();
    assert_eq!(b.value(), 1);
    assert!(readable(b.poll_fd()), "the bell is shared too");
    b.try_get().unwrap();
    assert!(!readable(a.poll_fd()));
    assert_eq!(
        kind(Semaphore::create(0, Visibility::Public(&name))),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind(Flags::open(&name)),
        ErrorKind::InvalidArgument,
        "a semaphore is not a flag group"
    );

    let fname = unique("flags");
    let f = Flags::create(0b1, Visibility::Public(&fname)).unwrap();
    assert_eq!(
        Flags::open(&fname)
            .unwrap()
            .try_wait(0, FlagsMode::Any)
            .unwrap(),
        0b1
    );
    assert_eq!(f.peek(), 0);

    let mname = unique("mutex");
    let m = Mutex::create(Visibility::Public(&mname)).unwrap();
    let m2 = Mutex::open(&mname).unwrap();
    let g = m.lock().unwrap();
    assert_eq!(
        kind(m2.lock()),
        ErrorKind::Deadlock,
        "same lock word, same owner"
    );
    drop(g);

    drop(a);
    if backend::current().unwrap() == Backend::Evl {
        // The core keeps a public element, and its name, while any handle is open.
        drop(Semaphore::open(&name).expect("the name lives while a handle is open"));
    } else {
        assert_eq!(
            kind(Semaphore::open(&name)),
            ErrorKind::NotFound,
            "the creator removes the name"
        );
    }
    assert_eq!(b.value(), 0, "an opened handle outlives the creator's");
    drop(b);
    eventually("the name goes with the last handle", || {
        Semaphore::open(&name).map(|_| ()).err().map(|e| e.kind()) == Some(ErrorKind::NotFound)
    });
}

pub fn bad_names_and_values_are_invalid_arguments() {
    let long = "n".repeat(64);
    for bad in ["", "a/b", "sp ace", ".dot", long.as_str()] {
        assert_eq!(
            kind(Semaphore::create(0, Visibility::Public(bad))),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
        assert_eq!(
            kind(Flags::open(bad)),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
        assert_eq!(
            kind(Event::create(Visibility::Public(bad))),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
        assert_eq!(
            kind(Mutex::open(bad)),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
    }
    assert_eq!(kind(Semaphore::new(u32::MAX)), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(Semaphore::open(&unique("nobody"))),
        ErrorKind::NotFound
    );
    let e = Semaphore::open(&unique("nobody")).unwrap_err();
    assert!(!e.hint().is_empty(), "errors say what to do: {e}");
}

// ---------------------------------------------------------------- threads

pub fn thread_attach_reports_policy_and_restores_on_detach() {
    std::thread::spawn(|| {
        let t = Thread::attach(ThreadConfig::new("suite-other").lock_memory(false)).unwrap();
        assert_eq!(t.name(), "suite-other");
        assert!(Thread::is_attached());
        assert_eq!(t.policy().unwrap(), SchedPolicy::Other);
        assert_eq!(
            kind(Thread::attach(
                ThreadConfig::new("again").lock_memory(false)
            )),
            ErrorKind::InvalidArgument
        );
        drop(t);
        assert!(!Thread::is_attached());

        let before = CpuSet::online().unwrap();
        let cpu0 = before.iter().next().unwrap();
        let cfg = ThreadConfig::new("suite-fifo")
            .policy(SchedPolicy::Fifo(42))
            .cpus(CpuSet::single(cpu0).unwrap());
        match Thread::attach(cfg) {
            Ok(t) => {
                assert_eq!(t.policy().unwrap(), SchedPolicy::Fifo(42));
                assert_eq!(t.cpus().unwrap().iter().collect::<Vec<_>>(), vec![cpu0]);
                drop(t);
                assert_eq!(
                    CpuSet::online().unwrap(),
                    before,
                    "detach restores the affinity"
                );
                let pol = current_policy();
                assert_eq!(pol, libc::SCHED_OTHER, "detach restores the policy");
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
                assert!(
                    e.to_string().contains("CAP_SYS_NICE")
                        || e.to_string().contains("CAP_IPC_LOCK"),
                    "{e}"
                );
                notice("note: SCHED_FIFO attach not permitted here; checked the error instead");
            }
        }
    })
    .join()
    .unwrap();
}

/// The calling thread's scheduling policy, read straight from the kernel.
fn current_policy() -> libc::c_int {
    // SAFETY: pid 0 names the calling thread; no memory is passed.
    unsafe { libc::sched_getscheduler(0) }
}

pub fn thread_attach_rejects_bad_input() {
    std::thread::spawn(|| {
        let base = || ThreadConfig::new("suite-bad").lock_memory(false);
        assert_eq!(
            kind(Thread::attach(base().policy(SchedPolicy::Fifo(0)))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(Thread::attach(base().policy(SchedPolicy::Fifo(100)))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(Thread::attach(ThreadConfig::new("bad/name"))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(Thread::attach(base().cpus(CpuSet::new()))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(Thread::attach(base().cpus(CpuSet::single(1023).unwrap()))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(kind(CpuSet::single(1024)), ErrorKind::InvalidArgument);
        assert!(
            !Thread::is_attached(),
            "failed attaches leave the thread detached"
        );
    })
    .join()
    .unwrap();
}

/// Every test of the suite, for `suite_tests!`.
#[macro_export]
macro_rules! all_suite_tests {
    ($setup:path) => {
        suite_tests!($setup;
            semaphore_counts,
            semaphore_put_wakes_exactly_one_waiter,
            semaphore_flush_wakes_every_waiter_without_a_grant,
            semaphore_timed_wait_times_out_at_the_deadline,
            semaphore_poll_fd_is_readable_exactly_while_count_positive,
            semaphore_stress_loses_no_unit,
            flags_wait_any_and_all,
            flags_blocking_wait_gets_the_posted_bits,
            flags_timed_wait_and_poll_fd,
            mutex_excludes_times_out_and_detects_relock,
            mutex_serialises_a_counter,
            event_signal_wakes_exactly_one,
            event_broadcast_wakes_every_waiter,
            event_timed_wait_relocks_the_mutex,
            timer_one_shot_absolute_fires_once_at_its_time,
            timer_periodic_counts_overruns_after_a_stall,
            clock_sleep_until_is_absolute,
            poll_reports_every_ready_fd_and_none_spuriously,
            poll_timeout_and_bad_input,
            public_elements_are_shared_by_name,
            bad_names_and_values_are_invalid_arguments,
            thread_attach_reports_policy_and_restores_on_detach,
            thread_attach_rejects_bad_input,
        );
    };
}
