//! A timer-only executor (no fd registered: the common control loop) on the host backend
//! parks on its parker word: its one blocking call is a futex wait, and other threads wake it
//! with a futex wake. The seccomp allow-list admits `futex` on that word's address only, so a
//! futex anywhere else (a contended std `Mutex`) is still caught.
//!
//! One round: an interval tick, a sleep, a timeout that completes and one that expires, a
//! cross-thread `Notify` and a task spawned through a `Spawner` from another thread.
//!
//! - `timer_only_executor_parks_on_its_futex`: the rounds' blocking waits are futex waits.
//! - `timer_only_loop_makes_no_call_outside_the_allow_list`: under the guard (child process).
//! - `the_guard_names_a_futex_on_another_address`: a contended std `Mutex` in the same loop
//!   is named (`futex`), although `futex` on the parker word is allowed.

use evl::sync::Notify;
use evl::time::{self, MissedTicks};
use evl::Executor;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const WARM: u32 = 20;
const ROUNDS: u32 = 100;
const FAULT_ENV: &str = "EVL_PARK_FAULT";

static PEER_NOTE: Notify = Notify::new();
static SPAWNED: Notify = Notify::new();

#[path = "support/steady.rs"]
mod steady;
use steady::{host, Window};

/// The rounds; returns `w.stop()` and the executor's futex waits and blocking waits during
/// the measured rounds.
fn steady_state(w: &mut dyn Window) -> (usize, u64, u64) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let ex = Executor::new().unwrap();
    let round = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = ex.spawner();
    let peer = {
        let (round, stop) = (round.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut done = 0;
            while !stop.load(SeqCst) {
                let r = round.load(SeqCst);
                if r == done {
                    std::thread::yield_now();
                    continue;
                }
                PEER_NOTE.notify_one();
                drop(spawner.spawn(async { SPAWNED.notify_one() }).unwrap());
                done = r;
            }
        })
    };
    let out = ex.block_on(async {
        let mut iv = time::interval(Duration::from_micros(500))
            .unwrap()
            .with_policy(MissedTicks::Skip);
        let mut before = ex.reactor().stats();
        for r in 1..=WARM + ROUNDS {
            if r == WARM + 1 {
                before = ex.reactor().stats();
                w.start();
            }
            if r > WARM {
                w.fault();
            }
            steady::timers_round(&mut iv).await;
            round.store(r, SeqCst);
            PEER_NOTE.notified().await;
            SPAWNED.notified().await;
        }
        let after = ex.reactor().stats();
        (
            w.stop(),
            after.futex_waits - before.futex_waits,
            after.blocking - before.blocking,
        )
    });
    stop.store(true, SeqCst);
    peer.join().unwrap();
    out
}

struct Nothing;
impl Window for Nothing {
    fn stop(&mut self) -> usize {
        0
    }
}

#[test]
fn timer_only_executor_parks_on_its_futex() {
    if evl_syscall_guard::is_child() {
        return;
    }
    host();
    let (_, futex_waits, blocking) = steady_state(&mut Nothing);
    // Each round blocks at least for its tick, its sleep and its expiring timeout; a wait
    // that a wake beat to the park looks without blocking (counted blocking, not futex).
    assert!(
        futex_waits >= u64::from(ROUNDS),
        "{futex_waits} futex waits in {ROUNDS} rounds ({blocking} blocking turns)"
    );
    assert!(futex_waits <= blocking);
}

fn guard_child() {
    host();
    // Another thread holds the lock for good: the guarded thread's lock contends.
    let held = (std::env::var(FAULT_ENV).unwrap_or_default() == "mutex").then(steady::held_mutex);
    // The seccomp window, with the fault `EVL_PARK_FAULT` names: the futex wait and its
    // wakes on the parker word only; a wake that beats the park to it is a look at the poll
    // set without blocking, and the doorbell's drain.
    let fault = move || {
        if let Some(m) = held {
            drop(m.lock());
        }
    };
    steady_state(&mut steady::Guard::new().with_fault(fault));
    unreachable!("the guard's window ends the process");
}

#[test]
fn timer_only_loop_makes_no_call_outside_the_allow_list() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    steady::assert_child_passes(
        "timer_only_loop_makes_no_call_outside_the_allow_list",
        &[(FAULT_ENV, "")],
    );
}

#[test]
fn the_guard_names_a_futex_on_another_address() {
    if evl_syscall_guard::is_child() {
        guard_child();
    }
    steady::assert_child_named(
        "the_guard_names_a_futex_on_another_address",
        &[(FAULT_ENV, "mutex")],
        "contended mutex",
        &["futex"],
    );
}
