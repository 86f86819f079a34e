//! EVL-only checks of the monitor elements (semaphores, flags, mutexes, events, doorbell) on
//! the real core: what the element suite cannot see from the API alone (no system call on the
//! fast paths, refusals for non-attached threads, kind checks on open, doorbell rings from
//! any context). Without `/dev/evl/control` every test prints a SKIPPED line and returns.

mod evl_only;
use evl_only::setup;

use evl_core::backend::evl::abi36;
use evl_core::*;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "m-{tag}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

fn kind<T: core::fmt::Debug>(r: Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// The core's count of EVL system calls of the public thread `name` (`EVL_THRIOC_GET_STATE`).
fn syscalls_of(thread_dev: BorrowedFd<'_>) -> u32 {
    let mut st = abi36::EvlThreadState::default();
    // SAFETY: GET_STATE writes one EvlThreadState (its size is in the request number) at the
    // address passed, `st`, live and writable for the call.
    let rc = unsafe {
        libc::ioctl(
            thread_dev.as_raw_fd(),
            abi36::EVL_THRIOC_GET_STATE as _,
            &mut st as *mut abi36::EvlThreadState,
        )
    };
    assert_eq!(rc, 0, "GET_STATE: {}", std::io::Error::last_os_error());
    st.sc
}

/// Runs `N` rounds of uncontended lock/unlock/put/get on a thread attached with `policy`;
/// returns the EVL system calls the rounds took (lock/unlock), and those of put/get alone.
fn syscalls_per_rounds(policy: SchedPolicy) -> (u32, u32) {
    std::thread::spawn(move || {
        let name = unique("fast");
        let _t = Thread::attach(ThreadConfig::new(&name).public(true).policy(policy)).unwrap();
        let dev = std::fs::File::open(format!("/dev/evl/thread/{name}")).unwrap();
        let m = Mutex::new().unwrap();
        let s = Semaphore::new(0).unwrap();
        let before = syscalls_of(dev.as_fd());
        for _ in 0..N {
            drop(m.lock().unwrap());
        }
        let locks = syscalls_of(dev.as_fd());
        for _ in 0..N {
            s.put().unwrap();
            s.try_get().unwrap();
        }
        let after = syscalls_of(dev.as_fd());
        (locks.wrapping_sub(before), after.wrapping_sub(locks))
    })
    .join()
    .unwrap()
}

const N: u32 = 1000;

#[test]
fn uncontended_fast_paths_make_no_system_call() {
    if !setup() {
        return;
    }
    // A real-time thread stays out-of-band: after its first lock (the GET_STATE above left
    // it in-band: ENTER moves it out-of-band, and the core's grant makes that unlock an
    // EXIT), every lock and unlock is a compare-and-swap.
    match Thread::attach(ThreadConfig::new(&unique("probe")).policy(SchedPolicy::Fifo(1))) {
        Ok(t) => {
            drop(t);
            let (locks, sems) = syscalls_per_rounds(SchedPolicy::Fifo(1));
            eprintln!("SCHED_FIFO: {N} lock/unlock: {locks} EVL calls; {N} put/get: {sems}");
            assert!(locks <= 2, "{locks} system calls for {N} uncontended locks");
            assert_eq!(sems, 0, "uncontended put/get went to the core");
        }
        Err(e) => eprintln!("note: SCHED_FIFO attach refused ({e}): fast lock path not checked"),
    }
    // A SCHED_OTHER (EVL weak) thread runs in-band: it locks through the core, which keeps
    // it out-of-band while it holds the lock (one ENTER and one EXIT a round, as libevl);
    // the semaphore's fast paths need no stage at all.
    let (locks, sems) = syscalls_per_rounds(SchedPolicy::Other);
    eprintln!("SCHED_OTHER: {N} lock/unlock: {locks} EVL calls; {N} put/get: {sems}");
    assert!(locks <= 2 * N, "{locks} system calls for {N} locks");
    assert_eq!(sems, 0, "uncontended put/get went to the core");
}

#[test]
fn threads_not_attached_are_told_to_attach() {
    if !setup() {
        return;
    }
    std::thread::spawn(|| {
        assert!(!Thread::is_attached());
        let m = Mutex::new().unwrap();
        for e in [
            m.lock().unwrap_err(),
            m.try_lock().unwrap_err(),
            Semaphore::new(0).unwrap().get().unwrap_err(),
            Flags::new(0).unwrap().wait(1, FlagsMode::Any).unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(e.hint().contains("Thread::attach"), "{e}");
        }
        // What needs no sleep works from any thread: fast paths, and in-band core calls.
        let s = Semaphore::new(1).unwrap();
        s.get().unwrap();
        s.put().unwrap();
        s.try_get().unwrap();
        assert_eq!(s.flush().unwrap(), 0);
        let f = Flags::new(0).unwrap();
        f.post(0b101).unwrap();
        f.broadcast(0b10).unwrap();
        assert_eq!(f.try_wait(0b11, FlagsMode::All).unwrap(), 0b11);
        assert_eq!(f.peek(), 0b100);
    })
    .join()
    .unwrap();
}

#[test]
fn a_put_from_a_thread_not_attached_wakes_an_attached_waiter() {
    if !setup() {
        return;
    }
    let s = Arc::new(Semaphore::new(0).unwrap());
    let s2 = s.clone();
    let waiter = std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&unique("sw"))).unwrap();
        s2.get()
    });
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while s.value() != -1 {
        assert!(std::time::Instant::now() < end, "the waiter never slept");
        std::thread::sleep(Duration::from_millis(1));
    }
    // This thread is not attached: the put goes to the core in-band.
    s.put().unwrap();
    waiter.join().unwrap().unwrap();
    assert_eq!(s.value(), 0);
}

#[test]
fn open_refuses_monitors_of_another_kind() {
    if !setup() {
        return;
    }
    let (sn, fname, mn, en) = (unique("s"), unique("f"), unique("m"), unique("e"));
    let _s = Semaphore::create(0, Visibility::Public(&sn)).unwrap();
    let _f = Flags::create(0, Visibility::Public(&fname)).unwrap();
    let _m = Mutex::create(Visibility::Public(&mn)).unwrap();
    let _e = Event::create(Visibility::Public(&en)).unwrap();
    for other in [&fname, &mn, &en] {
        let e = Semaphore::open(other).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{other}: {e}");
        assert!(e.hint().contains("not a semaphore"), "{e}");
    }
    for other in [&sn, &mn, &en] {
        assert_eq!(kind(Flags::open(other)), ErrorKind::InvalidArgument);
    }
    for other in [&sn, &fname, &en] {
        assert_eq!(kind(Mutex::open(other)), ErrorKind::InvalidArgument);
    }
    for other in [&sn, &fname, &mn] {
        assert_eq!(kind(Event::open(other)), ErrorKind::InvalidArgument);
    }
    Semaphore::open(&sn).unwrap();
    Flags::open(&fname).unwrap();
    Mutex::open(&mn).unwrap();
    Event::open(&en).unwrap();
}

#[test]
fn public_monitors_created_here_show_under_dev_evl_monitor() {
    if !setup() {
        return;
    }
    let name = unique("dev");
    let s = Semaphore::create(3, Visibility::Public(&name)).unwrap();
    assert!(Path::new(&format!("/dev/evl/monitor/{name}")).exists());
    // The core's own view of the count.
    let state = std::fs::read_to_string(format!("/sys/class/evl/monitor/{name}/state"));
    if let Ok(state) = state {
        assert_eq!(state.trim(), "3");
    }
    s.try_get().unwrap();
    assert_eq!(Semaphore::open(&name).unwrap().value(), 2);
}

/// Whether `fd` is readable now, by the in-band poll(2) (flags monitors serve it).
fn inband_readable(fd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, live for the call.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}

#[test]
fn doorbell_rings_coalesce_into_one_drain() {
    if !setup() {
        return;
    }
    let d = Doorbell::new().unwrap();
    assert_eq!(d.drain(), 0);
    assert!(!inband_readable(d.as_fd(), 0));
    d.ring();
    d.ring();
    d.ring();
    assert!(inband_readable(d.as_fd(), 0));
    assert_eq!(
        d.drain(),
        1,
        "EVL rings set one bit: they cannot be counted"
    );
    assert_eq!(d.drain(), 0);
    assert!(!inband_readable(d.as_fd(), 0));
}

#[test]
fn doorbell_rung_from_a_thread_not_attached_wakes_an_attached_poller() {
    if !setup() {
        return;
    }
    let d = Arc::new(Doorbell::new().unwrap());
    let d2 = d.clone();
    let ringer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        assert!(!Thread::is_attached());
        d2.ring();
    });
    std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&unique("bell"))).unwrap();
        // Out-of-band, through the core's poll element.
        let set = PollSet::new().unwrap();
        set.add(d.as_fd(), PollFlags::IN, 9).unwrap();
        let mut out = [PollEvent::default(); 1];
        let deadline = Clock::Monotonic
            .now()
            .saturating_add(Duration::from_secs(5));
        assert_eq!(set.wait(&mut out, Some(deadline)).unwrap(), 1);
        assert_eq!(out[0].token, 9);
        assert_eq!(d.drain(), 1);
        assert_eq!(d.drain(), 0);
    })
    .join()
    .unwrap();
    ringer.join().unwrap();
}

#[test]
fn doorbell_wakes_an_inband_poller() {
    if !setup() {
        return;
    }
    let d = Arc::new(Doorbell::new().unwrap());
    let d2 = d.clone();
    let ringer = std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&unique("ring"))).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        d2.ring();
    });
    assert!(inband_readable(d.as_fd(), 5000), "the ring never came");
    assert_eq!(d.drain(), 1);
    ringer.join().unwrap();
}

static BELL: OnceLock<Doorbell> = OnceLock::new();

extern "C" fn ring_from_handler(_: libc::c_int) {
    if let Some(d) = BELL.get() {
        d.ring();
    }
}

#[test]
fn doorbell_rings_from_a_signal_handler() {
    if !setup() {
        return;
    }
    let d = BELL.get_or_init(|| Doorbell::new().unwrap());
    // SAFETY: installs a handler that only reads an initialised OnceLock and rings (one
    // write(2)): async-signal-safe.
    let prev = unsafe {
        libc::signal(
            libc::SIGUSR2,
            ring_from_handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    assert_ne!(prev, libc::SIG_ERR);
    std::thread::spawn(|| {
        let _t = Thread::attach(ThreadConfig::new(&unique("sig"))).unwrap();
        // SAFETY: raise has no memory effects; the handler is installed above.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
    })
    .join()
    .unwrap();
    assert_eq!(d.drain(), 1);
    // SAFETY: restores the default disposition.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_DFL) };
}

#[test]
fn event_signal_without_the_mutex_needs_a_handle_that_waited() {
    if !setup() {
        return;
    }
    let _t = Thread::attach(ThreadConfig::new(&unique("ev"))).unwrap();
    let (m, ev) = (
        Arc::new(Mutex::new().unwrap()),
        Arc::new(Event::new().unwrap()),
    );
    // Nobody waits: nothing to wake, whoever calls.
    assert_eq!(ev.signal().unwrap(), 0);
    assert_eq!(ev.broadcast().unwrap(), 0);
    let woken = Arc::new(AtomicUsize::new(0));
    let (m2, ev2, woken2) = (m.clone(), ev.clone(), woken.clone());
    let h = std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&unique("evw"))).unwrap();
        let mut g = m2.lock().unwrap();
        while woken2.load(Ordering::SeqCst) == 0 {
            ev2.wait(&mut g).unwrap();
            woken2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // Under the mutex: two signals in one hold coalesce.
        let g = m.lock().unwrap();
        let n = ev.signal().unwrap();
        if n == 1 {
            assert_eq!(ev.signal().unwrap(), 0, "signals coalesce until the unlock");
            drop(g);
            break;
        }
        drop(g);
        assert!(std::time::Instant::now() < end, "the waiter never waited");
        std::thread::sleep(Duration::from_millis(1));
    }
    h.join().unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 1);
}

#[test]
fn a_public_monitor_lives_while_any_handle_is_open() {
    if !setup() {
        return;
    }
    let _t = Thread::attach(ThreadConfig::new(&unique("pub"))).unwrap();
    let name = unique("life");
    let a = Semaphore::create(0, Visibility::Public(&name)).unwrap();
    let b = Semaphore::open(&name).unwrap();
    a.put().unwrap();
    assert_eq!(b.value(), 1);
    b.try_get().unwrap();
    assert_eq!(a.value(), 0);
    assert_eq!(
        kind(Semaphore::create(0, Visibility::Public(&name))),
        ErrorKind::AlreadyExists
    );
    assert_eq!(kind(Flags::open(&name)), ErrorKind::InvalidArgument);
    let mname = unique("mx");
    let m = Mutex::create(Visibility::Public(&mname)).unwrap();
    let m2 = Mutex::open(&mname).unwrap();
    let g = m.lock().unwrap();
    assert_eq!(
        kind(m2.lock()),
        ErrorKind::Deadlock,
        "same lock word, same owner"
    );
    assert_eq!(kind(m2.try_lock()), ErrorKind::WouldBlock);
    drop(g);
    drop(m2.lock().unwrap());
    // EVL keeps an element (and its name) as long as any descriptor of it is open: the
    // creator's handle is not special.
    drop(a);
    let again = Semaphore::open(&name);
    eprintln!(
        "open after the creator dropped, while another handle lives: {:?}",
        again.as_ref().map(|s| s.value())
    );
    drop(again);
    b.put().unwrap();
    assert_eq!(b.value(), 1, "an opened handle outlives the creator's");
    drop(b);
    let end = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match Semaphore::open(&name) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
                break;
            }
            Ok(_) => {
                assert!(
                    std::time::Instant::now() < end,
                    "the name outlived every handle"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn soon(ms: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(ms))
}

#[test]
fn steady_state_monitor_paths_allocate_nothing_on_the_core() {
    if !setup() {
        return;
    }
    let _t = Thread::attach(ThreadConfig::new(&unique("alloc"))).unwrap();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let flags = Flags::new(0).unwrap();
    let mutex = Arc::new(Mutex::new().unwrap());
    let event = Arc::new(Event::new().unwrap());
    let bell = Doorbell::new().unwrap();
    // Another thread keeps a waiter on the event and posts units, so the blocking and
    // core-assisted paths run too.
    let (m2, ev2, s2) = (mutex.clone(), event.clone(), sem.clone());
    let helper = std::thread::spawn(move || {
        let _t = Thread::attach(ThreadConfig::new(&unique("help"))).unwrap();
        for _ in 0..50 {
            let mut g = m2.lock().unwrap();
            let _ = ev2.wait_until(&mut g, soon(20));
            drop(g);
            s2.put().unwrap();
        }
    });
    let run = || {
        for _ in 0..50 {
            sem.put().unwrap();
            sem.try_get().unwrap();
            // Blocks: times out, or takes a unit the helper posts.
            let _ = sem.get_until(soon(1));
            let _ = sem.value();
            flags.post(0b101).unwrap();
            flags.try_wait(0b1, FlagsMode::Any).unwrap();
            flags.wait(0b100, FlagsMode::All).unwrap();
            flags.broadcast(0b10).unwrap();
            flags.wait_until(0b10, FlagsMode::Any, soon(10)).unwrap();
            let _ = flags.peek();
            let mut g = mutex.lock().unwrap();
            let _ = event.signal().unwrap();
            let _ = event.wait_until(&mut g, soon(1));
            drop(g);
            drop(mutex.try_lock());
            let _ = event.broadcast().unwrap();
            bell.ring();
            bell.drain();
        }
    };
    run();
    let n = evl_alloc_count::allocations_in(run);
    helper.join().unwrap();
    assert_eq!(n, 0, "{n} allocations on steady-state monitor paths");
}
