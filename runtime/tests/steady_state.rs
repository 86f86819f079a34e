//! The steady state of every runtime feature, on one executor thread, makes only the system
//! calls that map to out-of-band calls on the EVL core, and allocates nothing.
//!
//! One round exercises: an interval tick, a sleep, a timeout that completes and one that
//! expires, `AsyncFd` reads and writes on an EVL file (an xbuf's real-time end: `oob_read`
//! and `oob_write` on the core) and, on the host, on a pipe and a Unix socket, an
//! `AsyncSemaphore` and an `AsyncFlags` posted by another thread, an xbuf stream both ways,
//! a cross-thread `Notify`, a task spawned through a `Spawner` from another thread (its
//! handle dropped there), local spawn/join, a static-pool spawn/join, and EDF-ordered tasks.
//!
//! The backend is the auto-detected one (`EVL_BACKEND` overrides); the seccomp tests force
//! the host backend.
//!
//! - `no_system_call_outside_the_allow_list` runs that steady state in a child process whose
//!   executor thread is under a seccomp allow-list (`evl-syscall-guard`): the one wait
//!   (`epoll_pwait2`), reads and writes on the descriptors it watches (the doorbell, the
//!   element bells, pipes, sockets), and the priority-inheritance futex operations of the
//!   host's element locks (the EVL core's monitor gates are out-of-band). Any other call
//!   fails the test, named.
//! - `the_guard_names_*` put a timer re-arm, a `std::thread::sleep` and a contended std
//!   `Mutex` into the same loop and check the guard fails naming the call: the allow-list
//!   has teeth.
//! - `steady_state_allocates_nothing` runs it under the counting allocator.
//! - `steady_state_stays_out_of_band_on_the_core` (EVL only) runs it on the real core and
//!   reads the core's own counts for the executor thread: no switch to the in-band stage.

use evl::core::{Flags, FlagsMode, Semaphore, Xbuf};
use evl::io::{AsyncFd, AsyncFlags, AsyncSemaphore, XbufStream};
use evl::sync::Notify;
use evl::time::{self, Instant, MissedTicks};
use evl::Executor;
use futures_io::{AsyncRead, AsyncWrite};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const WARM: u32 = 30;
const ROUNDS: u32 = 200;
const FAULT_ENV: &str = "EVL_STEADY_FAULT";

#[path = "support/steady.rs"]
mod steady;
use steady::{assert_child_named, auto, host, Count, StageCount, Window};

static PEER_NOTE: Notify = Notify::new();
static SPAWNED: Notify = Notify::new();
static GATE: Notify = Notify::new();
static SPAWNED_RUNS: AtomicU32 = AtomicU32::new(0);

#[evl::task(pool_size = 2)]
async fn pooled(x: u32) -> u32 {
    evl::yield_now().await;
    x + 1
}

/// The other thread's half of a round: posts, notifies, spawns, echoes the xbuf bytes.
struct Peer {
    round: AtomicU32,
    stop: AtomicBool,
}

fn peer_thread(
    peer: Arc<Peer>,
    sem: Arc<Semaphore>,
    flags: Arc<Flags>,
    inband: evl::core::XbufEnd,
    echo: evl::core::XbufEnd,
    spawner: evl::Spawner,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut done = 0;
        let mut back = [0u8; 16];
        loop {
            let r = peer.round.load(SeqCst);
            if r == done {
                if peer.stop.load(SeqCst) {
                    return;
                }
                std::thread::yield_now();
                continue;
            }
            sem.put().unwrap();
            flags.post(1 << (r % 8)).unwrap();
            inband.write(&[r as u8; 16]).unwrap();
            PEER_NOTE.notify_one();
            // The handle is dropped here, on this thread.
            drop(
                spawner
                    .spawn(async {
                        SPAWNED_RUNS.fetch_add(1, SeqCst);
                        SPAWNED.notify_one();
                    })
                    .unwrap(),
            );
            let mut at = 0;
            while at < 16 {
                at += inband.read(&mut back[at..]).unwrap();
            }
            assert_eq!(back, [!(r as u8); 16]);
            // Echo what the executor's AsyncFd wrote on the other xbuf.
            let mut e = [0u8; 4];
            let mut at = 0;
            while at < 4 {
                at += echo.read(&mut e[at..]).unwrap();
            }
            assert_eq!(echo.write(&e).unwrap(), 4);
            done = r;
        }
    })
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) {
    let mut at = 0;
    while at < buf.len() {
        let n = std::future::poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf[at..]))
            .await
            .unwrap();
        assert!(n > 0, "end of stream");
        at += n;
    }
}

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, buf: &[u8]) {
    let mut at = 0;
    while at < buf.len() {
        at += std::future::poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, &buf[at..]))
            .await
            .unwrap();
    }
}

/// Runs the steady state: `WARM` rounds, `w.start()`, `ROUNDS` rounds (each calling
/// `w.fault()`), `w.stop()`, whose result it returns.
fn steady_state(w: &mut dyn Window) -> usize {
    // The statics above serve one run at a time: tests of this binary that run it in one
    // process take turns (the lock is taken before, and released after, the window).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let spawned_before = SPAWNED_RUNS.load(SeqCst);
    let ex = Executor::builder().edf(true).build().unwrap();
    let peer = Arc::new(Peer {
        round: AtomicU32::new(0),
        stop: AtomicBool::new(false),
    });
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let flags = Arc::new(Flags::new(0).unwrap());
    let (rt, inband) = Xbuf::new(4096, 4096).unwrap().into_ends();
    let (echo_rt, echo_inband) = Xbuf::new(4096, 4096).unwrap().into_ends();
    let peer_t = peer_thread(
        peer.clone(),
        sem.clone(),
        flags.clone(),
        inband,
        echo_inband,
        ex.spawner(),
    );
    let on_host = evl::core::backend::current().unwrap() == evl::Backend::Host;
    let (pipe_r, pipe_w) = {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: pipe2 just returned these two descriptors; nothing else owns them.
        unsafe {
            use std::os::fd::FromRawFd;
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    };
    let (sock_a, sock_b) = UnixStream::pair().unwrap();
    let out = ex.block_on(async {
        let asem = AsyncSemaphore::new(&*sem).unwrap();
        let aflags = AsyncFlags::new(&*flags).unwrap();
        let mut x = XbufStream::new(rt).unwrap();
        // An EVL file through AsyncFd: the xbuf's real-time end (one descriptor on the core,
        // a pipe each way on the host). Reads and writes go straight to the fd.
        let (rfd, wfd) = (echo_rt.read_fd(), echo_rt.write_fd());
        let mut er = AsyncFd::new(rfd).unwrap();
        let mut ew = (wfd.as_raw_fd() != rfd.as_raw_fd()).then(|| AsyncFd::new(wfd).unwrap());
        // Pipes and sockets: ordinary fds, which only the host's poll sets watch.
        let mut host_fds = on_host.then(|| {
            (
                AsyncFd::new_nonblocking(pipe_r).unwrap(),
                AsyncFd::new_nonblocking(pipe_w).unwrap(),
                AsyncFd::new_nonblocking(sock_a).unwrap(),
                AsyncFd::new_nonblocking(sock_b).unwrap(),
            )
        });
        let mut iv = time::interval(Duration::from_micros(500))
            .unwrap()
            .with_policy(MissedTicks::Skip);
        let order = std::rc::Rc::new(std::cell::RefCell::new([0u8; 2]));
        let at = std::rc::Rc::new(AtomicUsize::new(0));
        let arrived = std::rc::Rc::new(AtomicUsize::new(0));
        for r in 1..=WARM + ROUNDS {
            if r == WARM + 1 {
                w.start();
            }
            if r > WARM {
                w.fault();
            }
            steady::timers_round(&mut iv).await;
            // The other thread's half.
            peer.round.store(r, SeqCst);
            asem.get().await.unwrap();
            assert_eq!(
                aflags.wait(1 << (r % 8), FlagsMode::Any).await.unwrap(),
                1 << (r % 8)
            );
            let mut b = [0u8; 16];
            read_exact(&mut x, &mut b).await;
            assert_eq!(b, [r as u8; 16]);
            write_all(&mut x, &[!(r as u8); 16]).await;
            PEER_NOTE.notified().await;
            SPAWNED.notified().await;
            // AsyncFd: the EVL file, echoed by the peer; pipes and sockets on the host.
            let msg = r.to_le_bytes();
            let mut got = [0u8; 4];
            match ew.as_mut() {
                Some(w) => write_all(w, &msg).await,
                None => write_all(&mut er, &msg).await,
            }
            read_exact(&mut er, &mut got).await;
            assert_eq!(got, msg);
            if let Some((pr, pw, sa, sb)) = host_fds.as_mut() {
                write_all(pw, &msg).await;
                read_exact(pr, &mut got).await;
                assert_eq!(got, msg);
                write_all(sa, &msg).await;
                read_exact(sb, &mut got).await;
                assert_eq!(got, msg);
            }
            // Spawn and join: local, from a static pool, and two EDF tasks released
            // together: the one with the earlier deadline runs first.
            assert_eq!(
                evl::spawn(async move { r * 2 }).unwrap().await.unwrap(),
                r * 2
            );
            assert_eq!(pooled(r).spawn().unwrap().await.unwrap(), r + 1);
            at.store(0, SeqCst);
            arrived.store(0, SeqCst);
            let now = Instant::now();
            let mk = |id: u8, due: Duration| {
                let (order, at, arrived) = (order.clone(), at.clone(), arrived.clone());
                async move {
                    evl::task::set_deadline(now + due);
                    let gate = GATE.notified();
                    arrived.fetch_add(1, SeqCst);
                    gate.await;
                    order.borrow_mut()[at.fetch_add(1, SeqCst)] = id;
                }
            };
            let late = evl::spawn_local(mk(1, Duration::from_secs(2))).unwrap();
            let early = evl::spawn_local(mk(2, Duration::from_secs(1))).unwrap();
            while arrived.load(SeqCst) < 2 {
                evl::yield_now().await;
            }
            GATE.notify_waiters();
            late.await.unwrap();
            early.await.unwrap();
            assert_eq!(*order.borrow(), [2, 1], "earliest deadline first");
        }
        w.stop()
    });
    peer.stop.store(true, SeqCst);
    peer_t.join().unwrap();
    assert_eq!(SPAWNED_RUNS.load(SeqCst) - spawned_before, WARM + ROUNDS);
    out
}

fn guard_child() {
    host();
    let fault = std::env::var(FAULT_ENV).unwrap_or_default();
    let timer = (fault == "timer").then(|| evl::core::Timer::new(evl::Clock::Monotonic).unwrap());
    // Another thread holds the lock for good: the guarded thread's lock contends.
    let held = (fault == "mutex").then(steady::held_mutex);
    // The seccomp window, with the fault `EVL_STEADY_FAULT` names.
    let fault = move || match fault.as_str() {
        "sleep" => std::thread::sleep(Duration::from_micros(1)),
        "timer" => {
            let t = timer.as_ref().unwrap();
            t.set(evl::core::Start::After(Duration::from_secs(60)), None)
                .unwrap();
        }
        "mutex" => drop(held.unwrap().lock()),
        _ => {}
    };
    steady_state(&mut steady::Guard::new().with_pi_locks().with_fault(fault));
    unreachable!("the guard's window ends the process");
}

#[test]
fn no_system_call_outside_the_allow_list() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    steady::assert_child_passes("no_system_call_outside_the_allow_list", &[(FAULT_ENV, "")]);
}

fn assert_named(test: &str, fault: &str, names: &[&str]) {
    assert_child_named(test, &[(FAULT_ENV, fault)], fault, names);
}

#[test]
fn the_guard_names_a_sleep() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    assert_named(
        "the_guard_names_a_sleep",
        "sleep",
        &["clock_nanosleep", "nanosleep"],
    );
}

#[test]
fn the_guard_names_a_timer_rearm() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    assert_named(
        "the_guard_names_a_timer_rearm",
        "timer",
        &["timerfd_settime"],
    );
}

#[test]
fn the_guard_names_a_contended_std_mutex() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    assert_named("the_guard_names_a_contended_std_mutex", "mutex", &["futex"]);
}

#[test]
fn steady_state_allocates_nothing() {
    if evl_syscall_guard::is_child() {
        return; // a child run for another test
    }
    auto();
    assert_eq!(
        steady_state(&mut Count),
        0,
        "allocations in the steady state"
    );
}

#[test]
fn steady_state_stays_out_of_band_on_the_core() {
    if evl_syscall_guard::is_child() {
        return;
    }
    // A real-time thread on the core, kept by the executor; skipped elsewhere.
    let Some(_me) = steady::attach_rt_on_core("steady") else {
        return;
    };
    assert_eq!(
        steady_state(&mut StageCount::default()),
        0,
        "switches to the in-band stage in the steady state"
    );
}
