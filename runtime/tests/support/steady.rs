//! The measured window around a test's steady state, and the seccomp child runs.
//!
//! A steady-state test runs its rounds once per [`Window`]: counting allocations
//! ([`Count`]), under the seccomp allow-list of an executor thread ([`Guard`], in a child
//! process that [`assert_child_passes`] / [`assert_child_named`] run), or reading the EVL
//! core's count of switches to the in-band stage ([`StageCount`]).
//!
//! Included by `#[path]` from several test binaries; each uses a part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

/// What happens once, between the warm-up and the measured rounds (on the executor thread),
/// during each measured round, and after them.
pub trait Window {
    /// Before the measured rounds.
    fn start(&mut self) {}
    /// In each measured round.
    fn fault(&mut self) {}
    /// After the measured rounds: the measure.
    fn stop(&mut self) -> usize;
}

/// Forces the host backend.
pub fn host() {
    let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
}

/// The auto-detected backend (or the one `EVL_BACKEND` names).
pub fn auto() -> evl::Backend {
    let sel = evl::core::backend::selection_from_env().unwrap();
    evl::core::backend::select(sel).unwrap()
}

/// The address of the running executor's parker word (see `Executor::park_word_address`).
pub fn park_word() -> u64 {
    evl::Executor::current_park_word_address().expect("inside block_on") as u64
}

/// The counting window: allocations of this thread (the test binary's global allocator is
/// `evl_alloc_count::CountingAlloc`).
pub struct Count;

impl Window for Count {
    fn start(&mut self) {
        evl_alloc_count::start_counting();
    }
    fn stop(&mut self) -> usize {
        evl_alloc_count::stop_counting()
    }
}

/// The core's count of the executor thread's switches to the in-band stage over the window;
/// when there were any, the causes the core reported for them go to standard error.
#[derive(Default)]
pub struct StageCount(u64, evl::core::stage::StageSwitches);

fn inband_switches() -> u64 {
    evl::core::Thread::current_core_stats()
        .unwrap()
        .expect("the executor attached its thread")
        .inband_switches
}

impl Window for StageCount {
    fn start(&mut self) {
        self.1 = evl::core::stage::thread_switches();
        self.0 = inband_switches();
    }
    fn stop(&mut self) -> usize {
        let n = inband_switches() - self.0;
        if n > 0 {
            let causes = evl::core::stage::thread_switches().since(&self.1);
            eprintln!("in-band switches in the steady state: {n}; causes reported: {causes}");
        }
        n as usize
    }
}

/// The seccomp window (in a child process): the allow-list of an executor thread in its
/// steady state. The one wait (`epoll_pwait2`; `epoll_pwait`, and `epoll_wait` on x86_64,
/// for kernels before 5.11), reads and writes on the descriptors it watches (the doorbell,
/// the element bells, pipes, sockets), and the executor's futex wait (host backend, no fd
/// registered) and its wakes: on its parker word only, so any other futex (a contended
/// lock) is still caught.
#[derive(Default)]
pub struct Guard {
    pi_locks: bool,
    peer_word: Option<&'static AtomicU64>,
    fault: Option<Box<dyn FnMut()>>,
    window: Option<evl_syscall_guard::Window>,
}

impl Guard {
    /// The allow-list above.
    pub fn new() -> Self {
        Guard::default()
    }

    /// Also the priority-inheritance futex operations of the host's element locks (the EVL
    /// core's monitor gates are out-of-band).
    pub fn with_pi_locks(mut self) -> Self {
        self.pi_locks = true;
        self
    }

    /// Also futex wakes of a peer executor on its own parker word, which the peer publishes
    /// in `word` before the window starts.
    pub fn waking_peer(mut self, word: &'static AtomicU64) -> Self {
        self.peer_word = Some(word);
        self
    }

    /// Runs `fault` in each measured round, inside the window: a call the guard must name.
    pub fn with_fault(mut self, fault: impl FnMut() + 'static) -> Self {
        self.fault = Some(Box::new(fault));
        self
    }
}

impl Window for Guard {
    fn start(&mut self) {
        use libc::*;
        // The PI futex operations (FUTEX_CMD_MASK: 0x7f).
        const PI_OPS: [u64; 4] = [6, 7, 8, 13]; // LOCK_PI, UNLOCK_PI, TRYLOCK_PI, LOCK_PI2
        let fds = evl_syscall_guard::io_fds();
        let words = [park_word(), self.peer_word.map_or(0, |w| w.load(SeqCst))];
        let words = &words[..1 + usize::from(self.peer_word.is_some())];
        let mut allowed = evl_syscall_guard::Allowed::new()
            .call(SYS_epoll_pwait2)
            .call(SYS_epoll_pwait)
            .on_fds(SYS_read, &fds)
            .on_fds(SYS_write, &fds)
            .with_arg(SYS_futex, 0, u64::MAX, words);
        if self.pi_locks {
            allowed = allowed.with_arg(SYS_futex, 1, 0x7f, &PI_OPS);
        }
        #[cfg(target_arch = "x86_64")]
        {
            allowed = allowed.call(SYS_epoll_wait);
        }
        self.window = Some(evl_syscall_guard::enter(allowed).unwrap());
    }

    fn fault(&mut self) {
        if let Some(f) = self.fault.as_mut() {
            f();
        }
    }

    fn stop(&mut self) -> usize {
        self.window.take().expect("started").finish()
    }
}

/// A std `Mutex` that another thread holds for good: locking it contends (a futex wait),
/// the call a guard must name.
pub fn held_mutex() -> &'static std::sync::Mutex<()> {
    static M: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static HELD: AtomicBool = AtomicBool::new(false);
    std::thread::spawn(|| {
        let _g = M.lock().unwrap();
        HELD.store(true, SeqCst);
        loop {
            std::thread::park();
        }
    });
    while !HELD.load(SeqCst) {
        std::thread::yield_now();
    }
    &M
}

/// Runs `test` of this binary in a child process (with `env`) and asserts that its guarded
/// window saw no call outside the allow-list.
pub fn assert_child_passes(test: &str, env: &[(&str, &str)]) {
    let out = evl_syscall_guard::run_child(test, env);
    assert!(out.ok(), "{}", out.explain());
}

/// Runs `test` of this binary in a child process (with `env`, which sets up a `fault`) and
/// asserts that the guard ended it naming one of `names`.
pub fn assert_child_named(test: &str, env: &[(&str, &str)], fault: &str, names: &[&str]) {
    let out = evl_syscall_guard::run_child(test, env);
    let v = out
        .violation()
        .unwrap_or_else(|| panic!("the guard let a {fault} fault pass: {}", out.explain()));
    assert!(
        names.iter().any(|n| v.contains(&format!(" {n} "))),
        "expected one of {names:?}: {v}"
    );
    assert_eq!(out.code, Some(evl_syscall_guard::VIOLATION_EXIT));
}

/// For a test of the EVL core only: on the core (the auto-detected backend, or the one
/// `EVL_BACKEND` names), attaches the calling thread as a real-time thread named `name`
/// that warns on stage switches; elsewhere says the test was skipped and returns `None`.
///
/// A real-time thread: the core moves a weak (SCHED_OTHER) one back in-band after every
/// out-of-band call, by design. An executor started on this thread keeps this attachment.
pub fn attach_rt_on_core(name: &str) -> Option<evl::core::Thread> {
    if auto() != evl::Backend::Evl {
        eprintln!("SKIPPED (evl only): no EVL core on this machine (/dev/evl/control missing)");
        return None;
    }
    let me = evl::core::Thread::attach(
        evl::core::ThreadConfig::new(name)
            .policy(evl::core::SchedPolicy::Fifo(10))
            .warn_stage_switches(true),
    )
    .unwrap();
    Some(me)
}

/// The timers of one round: an interval tick, a sleep, a timeout that completes and one
/// that expires.
pub async fn timers_round(iv: &mut evl::time::Interval) {
    use evl::time;
    use std::time::Duration;
    iv.tick().await.unwrap();
    time::sleep(Duration::from_micros(20)).await.unwrap();
    time::timeout(Duration::from_millis(50), evl::yield_now())
        .await
        .unwrap();
    let e = time::timeout(Duration::from_micros(30), std::future::pending::<()>()).await;
    assert!(e.is_err(), "a pending future times out");
}
