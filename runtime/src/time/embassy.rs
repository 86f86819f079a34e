//! An [`embassy-time`](https://docs.rs/embassy-time) driver on evl timers (feature
//! `embassy-time`): any embassy-time user (`Timer`, `Ticker`, `with_timeout`, and crates built
//! on them, such as ethercrab without its `std` feature) runs on evl executors.
//!
//! Linking `evl` with this feature *is* the driver: it provides the `embassy-time-driver`
//! symbols, so a program must not enable another driver (embassy-time's `std` or
//! `mock-driver`). The tick rate is whatever the program chose through embassy-time's
//! `tick-hz-*` features (1 MHz when none is chosen); the driver converts to and from the
//! nanoseconds of the monotonic clock.
//!
//! - `now()` reads the core's monotonic clock (a vDSO read, no system call), the same base
//!   as [`Instant`](super::Instant).
//! - `schedule_wake(at, waker)` on a thread whose evl executor is running (inside
//!   `block_on` or a task it polls) arms an entry of the calling thread's wake table in that
//!   executor's timer wheel: the waker is woken by the executor's own wait, to the ns, with
//!   no other thread involved. The table holds [`SLOTS`] entries per thread, lives in
//!   thread-local storage and allocates nothing; a waker that is already waiting (the same
//!   task, [`Waker::will_wake`]) keeps its one entry, moved to the earlier of the two
//!   deadlines (embassy's timers re-check the time when woken and schedule again, so waking
//!   at the earlier deadline is enough). A deadline already passed wakes at once.
//! - **Full table** (more than [`SLOTS`] tasks of one thread waiting on embassy timers at
//!   once, or the executor's timer capacity reached): the waker is woken at once and the
//!   event counted in [`Stats::overflows`]. embassy-time allows early wakes; the task polls
//!   again and re-schedules, so time still works, at the price of a busy task. It is a
//!   sizing error: the counter says so.
//! - **No executor on the calling thread** (a plain thread, smol, tokio, a `futures`
//!   `block_on`): the wake goes to one shared fallback thread (`evl-embassy-timer`, started
//!   at the first such call, SCHED_OTHER) that keeps a table of [`FALLBACK_SLOTS`] entries
//!   under a lock and sleeps on a condition variable until the earliest deadline. Why a
//!   thread rather than "wake at once": code that is not on an evl executor is not on the
//!   real-time path, and it must still sleep rather than spin (ethercrab's set-up, tests,
//!   other runtimes in the same process). Counted in [`Stats::fallback`]; a full fallback
//!   table wakes at once and counts in [`Stats::overflows`].

use crate::core::Clock;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use core::task::Waker;
use evl_reactor::timer::Entry;
use evl_reactor::Reactor;
use std::cell::Cell;
use std::sync::{Condvar, Mutex, OnceLock};

/// Wake-table entries per thread: tasks of one executor thread that may wait on embassy
/// timers at once.
pub const SLOTS: usize = 64;

/// Entries of the shared fallback thread's table (wakes scheduled from threads without an
/// evl executor).
pub const FALLBACK_SLOTS: usize = 256;

const NS_PER_S: u64 = 1_000_000_000;

/// What the driver did since the process started (all threads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Wakes armed in an executor's wheel (a new entry, or an existing one moved earlier).
    pub armed: u64,
    /// Wakes already covered by an entry of the same task at an earlier or equal deadline.
    pub merged: u64,
    /// Deadlines already passed: woken at once.
    pub immediate: u64,
    /// Wakes scheduled from a thread without a running evl executor (the fallback thread).
    pub fallback: u64,
    /// Wakes made at once because a table (or the executor's timer capacity) was full.
    pub overflows: u64,
}

static ARMED: AtomicU64 = AtomicU64::new(0);
static MERGED: AtomicU64 = AtomicU64::new(0);
static IMMEDIATE: AtomicU64 = AtomicU64::new(0);
static FALLBACK: AtomicU64 = AtomicU64::new(0);
static OVERFLOWS: AtomicU64 = AtomicU64::new(0);

/// The driver's counters so far.
pub fn stats() -> Stats {
    Stats {
        armed: ARMED.load(Relaxed),
        merged: MERGED.load(Relaxed),
        immediate: IMMEDIATE.load(Relaxed),
        fallback: FALLBACK.load(Relaxed),
        overflows: OVERFLOWS.load(Relaxed),
    }
}

/// Monotonic ns to embassy ticks (rounded down).
pub fn ns_to_ticks(ns: u64) -> u64 {
    let hz = embassy_time_driver::TICK_HZ;
    if hz == NS_PER_S {
        ns
    } else if NS_PER_S % hz == 0 {
        ns / (NS_PER_S / hz)
    } else {
        u64::try_from(u128::from(ns) * u128::from(hz) / u128::from(NS_PER_S)).unwrap_or(u64::MAX)
    }
}

/// Embassy ticks to monotonic ns (rounded up, saturating): the first ns at which `now()`
/// reads `ticks` or more, so a wake is never early.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    let hz = u128::from(embassy_time_driver::TICK_HZ);
    let ns = (u128::from(ticks) * u128::from(NS_PER_S)).div_ceil(hz);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

struct EvlDriver;

embassy_time_driver::time_driver_impl!(static DRIVER: EvlDriver = EvlDriver);

impl embassy_time_driver::Driver for EvlDriver {
    fn now(&self) -> u64 {
        ns_to_ticks(Clock::Monotonic.now().as_nanos())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        if at == u64::MAX {
            // embassy's "never" (Instant::MAX): nothing to arm.
            return;
        }
        schedule(ticks_to_ns(at), waker);
    }
}

/// Schedules `waker` at `deadline` (monotonic ns) as described in the module docs.
fn schedule(deadline: u64, waker: &Waker) {
    if Clock::Monotonic.now().as_nanos() >= deadline {
        IMMEDIATE.fetch_add(1, Relaxed);
        waker.wake_by_ref();
        return;
    }
    let on_executor = evl_reactor::with_current(|r| {
        // `try_with`: during thread exit the table may be gone; the fallback serves then.
        TABLE.try_with(|t| t.schedule(r, deadline, waker)).is_ok()
    });
    if on_executor != Some(true) {
        FALLBACK.fetch_add(1, Relaxed);
        fallback().schedule(deadline, waker);
    }
}

/// One entry of a thread's wake table and the reactor it is armed in.
struct Slot {
    entry: Entry,
    /// The reactor the entry is armed in: valid while the entry is queued (a dropped wheel
    /// marks its entries idle first), used on this thread only.
    reactor: Cell<*const Reactor>,
}

struct Table {
    slots: [Slot; SLOTS],
}

thread_local! {
    static TABLE: Table = const {
        Table {
            slots: [const {
                Slot {
                    entry: Entry::new(),
                    reactor: Cell::new(core::ptr::null()),
                }
            }; SLOTS],
        }
    };
}

impl Table {
    /// Arms a free entry, or moves this task's entry earlier; a full table wakes at once.
    fn schedule(&self, r: &Reactor, deadline: u64, waker: &Waker) {
        let mut free = None;
        for slot in &self.slots {
            if slot.entry.is_queued() {
                if core::ptr::eq(slot.reactor.get(), r) && slot.entry.will_wake(waker) {
                    if slot.entry.deadline() <= deadline {
                        MERGED.fetch_add(1, Relaxed);
                        return;
                    }
                    self.arm(slot, r, deadline);
                    return;
                }
            } else if free.is_none() {
                free = Some(slot);
            }
        }
        match free {
            Some(slot) => {
                slot.entry.register(waker);
                self.arm(slot, r, deadline);
            }
            None => overflow(waker),
        }
    }

    fn arm(&self, slot: &Slot, r: &Reactor, deadline: u64) {
        // SAFETY: the table lives in this thread's TLS at a fixed address until the thread's
        // TLS destructors run, and `Table::drop` cancels every queued entry before the
        // entries drop; so the entry stays alive and unmoved while armed (the wheel's ground
        // rule 1). It is armed only in reactors of this thread.
        let entry = unsafe { Pin::new_unchecked(&slot.entry) };
        // SAFETY: `entry` stays alive and unmoved while armed (TLS table at a fixed address,
        // cancelled in `Table::drop` before the entries drop), and `r` is a reactor of this
        // thread, the only one the entry is ever armed in.
        match unsafe { r.arm(entry, deadline) } {
            Ok(()) => {
                slot.reactor.set(r);
                ARMED.fetch_add(1, Relaxed);
            }
            Err(_) => {
                if let Some(w) = slot.entry.take_waker() {
                    overflow(&w);
                }
            }
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        for slot in &self.slots {
            if slot.entry.is_queued() {
                // SAFETY: a queued entry's reactor is alive (see `Slot::reactor`), and we are
                // on its thread.
                unsafe { (*slot.reactor.get()).cancel(&slot.entry) };
            }
        }
    }
}

fn overflow(waker: &Waker) {
    OVERFLOWS.fetch_add(1, Relaxed);
    waker.wake_by_ref();
}

/// The shared timer thread for wakes scheduled off evl executors.
struct Fallback {
    table: Mutex<Vec<(u64, Waker)>>,
    changed: Condvar,
}

fn fallback() -> &'static Fallback {
    static FB: OnceLock<&'static Fallback> = OnceLock::new();
    FB.get_or_init(|| {
        let fb: &'static Fallback = Box::leak(Box::new(Fallback {
            table: Mutex::new(Vec::with_capacity(FALLBACK_SLOTS)),
            changed: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("evl-embassy-timer".into())
            .spawn(move || fb.run());
        if let Err(e) = spawned {
            tracing::error!("evl: cannot start the embassy-time fallback thread: {e}");
        }
        fb
    })
}

impl Fallback {
    fn schedule(&self, deadline: u64, waker: &Waker) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = t.iter_mut().find(|e| e.1.will_wake(waker)) {
            if deadline < e.0 {
                e.0 = deadline;
                self.changed.notify_one();
            }
            return;
        }
        if t.len() == FALLBACK_SLOTS {
            drop(t);
            overflow(waker);
            return;
        }
        t.push((deadline, waker.clone()));
        self.changed.notify_one();
    }

    fn run(&self) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Clock::Monotonic.now().as_nanos();
            if let Some(i) = t.iter().position(|e| e.0 <= now) {
                let (_, w) = t.swap_remove(i);
                drop(t);
                w.wake();
                t = self.table.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            t = match t.iter().map(|e| e.0).min() {
                None => self.changed.wait(t).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let dur = core::time::Duration::from_nanos(d - now);
                    self.changed
                        .wait_timeout(t, dur)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_conversions_round_trip_without_early_wakes() {
        for ns in [0u64, 1, 999, 1_000, 1_001, 123_456_789, u64::MAX / 2] {
            let ticks = ns_to_ticks(ns);
            // The first ns reading `ticks` is not after `ns`.
            assert!(ticks_to_ns(ticks) <= ns);
            // And `now()` at ticks_to_ns(t) reads at least t.
            assert!(ns_to_ticks(ticks_to_ns(ticks)) >= ticks);
        }
    }
}
