//! EVL monitors on the host: semaphores (COUNT protocol), flags (MASK protocol), events
//! (GATED: condition variables) and mutexes (gates), with EVL's wake-up rules.
//!
//! # Design
//! A monitor is one [`MonitorState`] block of atomics (heap for private elements, `/dev/shm`
//! for public ones, see [`super::shm`]). A short internal priority-inheriting lock (`lock`)
//! serialises changes to the value and to a FIFO wait queue of fixed slots:
//!
//! ```text
//!  waiter                                   poster
//!  lock; try the condition                  lock; update value
//!  no: take a slot (WAITING), enqueue       pick the satisfied waiters in FIFO order,
//!  unlock                                   hand them their grant (slot -> GRANTED)
//!  futex-wait on slot.state == WAITING      sync the bell with the value; unlock
//!  lock; read outcome, free slot; unlock    futex-wake each granted slot
//! ```
//!
//! A grant is decided by the poster under the lock, so "signal wakes exactly one" holds by
//! construction and a timed-out waiter that was granted at the last moment keeps its grant:
//! nothing is lost. The queue holds [`MAX_WAITERS`] threads per element; one more waiter gets
//! [`ErrorKind::CapacityExceeded`]. Pollable monitors (semaphores, flags) keep a [`Bell`]
//! readable exactly while a wait would not block, synced under the lock.

use super::shm::{Bell, Header, Shared, SharedState};
use super::sys::{futex_wait, futex_wake, PiLock, Scope, Woken};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::types::Timestamp;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Threads that may wait on one host monitor at once.
pub(crate) const MAX_WAITERS: usize = 64;

/// The kinds of monitor, stored in the header so that `open` can check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Semaphore = 1,
    Flags = 2,
    Event = 3,
    Mutex = 4,
}

impl Kind {
    fn mismatch_hint(self) -> &'static str {
        match self {
            Kind::Semaphore => "the public element by this name is not a semaphore",
            Kind::Flags => "the public element by this name is not a flag group",
            Kind::Event => "the public element by this name is not an event",
            Kind::Mutex => "the public element by this name is not a mutex",
        }
    }
}

const FREE: u32 = 0;
const WAITING: u32 = 1;
pub(crate) const GRANTED: u32 = 2;
pub(crate) const FLUSHED: u32 = 3;

/// One waiter's record. `state` is the futex word the waiter sleeps on.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) state: AtomicU32,
    /// Bits wanted (flags).
    pub(crate) want: AtomicU32,
    /// Non-zero: all wanted bits at once (flags "exact").
    pub(crate) exact: AtomicU32,
    /// What the grant delivered (flags: the matched bits).
    pub(crate) got: AtomicU32,
}

/// The state block of a host monitor. Field meanings depend on the kind; all-zero is valid.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct MonitorState {
    pub(crate) header: Header,
    /// Internal PI lock word (owner tid), guards everything below but `gate` and `value` reads.
    pub(crate) lock: AtomicU32,
    /// Mutex owner word (PI futex protocol), for `Kind::Mutex`.
    pub(crate) gate: AtomicU32,
    /// Semaphore count or flag bits.
    pub(crate) value: AtomicU32,
    /// Non-zero while the bell is rung.
    pub(crate) bell: AtomicU32,
    /// Number of queued waiters.
    pub(crate) len: AtomicU32,
    /// Slot indices in FIFO order, `order[..len]`.
    pub(crate) order: [AtomicU8; MAX_WAITERS],
    pub(crate) slots: [Slot; MAX_WAITERS],
}

// SAFETY: repr(C), starts with a Header, only atomics, all-zero bytes are a valid value (every
// atomic's zero is a valid integer).
unsafe impl SharedState for MonitorState {
    fn zeroed() -> Self {
        MonitorState {
            header: Header::default(),
            lock: AtomicU32::new(0),
            gate: AtomicU32::new(0),
            value: AtomicU32::new(0),
            bell: AtomicU32::new(0),
            len: AtomicU32::new(0),
            order: [const { AtomicU8::new(0) }; MAX_WAITERS],
            slots: core::array::from_fn(|_| Slot::default()),
        }
    }
    fn header(&self) -> &Header {
        &self.header
    }
}

/// The result of one wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Granted; flags carry the matched bits.
    Granted(u32),
    /// Ended by a semaphore flush.
    Flushed,
}

/// A host monitor: its state, and its bell when pollable.
#[derive(Debug)]
pub(crate) struct Monitor {
    state: Shared<MonitorState>,
    bell: Option<Bell>,
    pub(crate) kind: Kind,
    /// Grants handed out by this handle's posts; a diagnostic for tests.
    wakes: AtomicU64,
}

const CLASS: &str = "monitor";

/// What a wait attempt under the lock came to.
pub(crate) enum Attempt {
    /// Satisfied at once, with this grant.
    Done(u32),
    /// Queued in this slot.
    Queued(usize),
}

/// Up to MAX_WAITERS slot indices to wake after the lock is dropped.
pub(crate) struct WakeList {
    pub(crate) mask: u64,
}

impl Monitor {
    /// Creates a monitor of `kind` with an initial value; `pollable` gives it a bell.
    pub(crate) fn create(
        kind: Kind,
        initial: u32,
        vis: Visibility<'_>,
        op: &'static str,
    ) -> Result<Self> {
        let pollable = matches!(kind, Kind::Semaphore | Kind::Flags);
        let init = |s: &MonitorState| s.value.store(initial, Ordering::Relaxed);
        let (state, bell) = match vis {
            Visibility::Private => {
                let bell = if pollable {
                    Some(Bell::private(op)?)
                } else {
                    None
                };
                (Shared::private(kind as u32, init), bell)
            }
            Visibility::Public(name) => {
                let name = Name::new(name, op)?;
                let state = Shared::create_public(CLASS, name, kind as u32, op, init)?;
                let bell = if pollable {
                    Some(Bell::public(CLASS, name, true, op)?)
                } else {
                    None
                };
                // Openers see the element only once its bell exists.
                state.publish();
                (state, bell)
            }
        };
        let m = Monitor {
            state,
            bell,
            kind,
            wakes: AtomicU64::new(0),
        };
        if pollable {
            m.locked(op, |s| m.sync_bell(s))?;
        }
        Ok(m)
    }

    /// Opens the public monitor `name`, which must be of `kind`.
    pub(crate) fn open(kind: Kind, name: &str, op: &'static str) -> Result<Self> {
        let name = Name::new(name, op)?;
        let state = Shared::open_public(CLASS, name, kind as u32, op, kind.mismatch_hint())?;
        let bell = match kind {
            Kind::Semaphore | Kind::Flags => Some(Bell::public(CLASS, name, false, op)?),
            _ => None,
        };
        Ok(Monitor {
            state,
            bell,
            kind,
            wakes: AtomicU64::new(0),
        })
    }

    pub(crate) fn s(&self) -> &MonitorState {
        self.state.get()
    }

    pub(crate) fn scope(&self) -> Scope {
        self.state.scope()
    }

    /// Runs `f` under the internal lock.
    pub(crate) fn locked<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&MonitorState) -> R,
    ) -> Result<R> {
        let lock = PiLock::new(&self.s().lock, self.scope());
        lock.lock(None, op)?;
        let r = f(self.s());
        lock.unlock();
        Ok(r)
    }

    /// Makes the bell's level match "a wait would not block". Lock held.
    pub(crate) fn sync_bell(&self, s: &MonitorState) {
        let Some(bell) = &self.bell else { return };
        let ready = s.value.load(Ordering::Relaxed) != 0;
        let rung = s.bell.load(Ordering::Relaxed) != 0;
        if ready && !rung {
            bell.ring();
            s.bell.store(1, Ordering::Relaxed);
        } else if !ready && rung {
            bell.drain();
            s.bell.store(0, Ordering::Relaxed);
        }
    }

    /// Queues the caller. Lock held.
    pub(crate) fn enqueue(
        &self,
        s: &MonitorState,
        want: u32,
        exact: bool,
        op: &'static str,
    ) -> Result<usize> {
        // Only an attached thread may wait, as on the EVL core.
        crate::thread::types::require_attached(op)?;
        let len = s.len.load(Ordering::Relaxed) as usize;
        let free = s
            .slots
            .iter()
            .position(|sl| sl.state.load(Ordering::Relaxed) == FREE);
        let (Some(idx), true) = (free, len < MAX_WAITERS) else {
            return Err(Error::new(
                ErrorKind::CapacityExceeded,
                op,
                "more than 64 threads waiting on one element (host backend limit)",
            ));
        };
        let sl = &s.slots[idx];
        sl.want.store(want, Ordering::Relaxed);
        sl.exact.store(exact as u32, Ordering::Relaxed);
        sl.got.store(0, Ordering::Relaxed);
        sl.state.store(WAITING, Ordering::Relaxed);
        s.order[len].store(idx as u8, Ordering::Relaxed);
        s.len.store(len as u32 + 1, Ordering::Relaxed);
        Ok(idx)
    }

    /// Removes queue positions whose slot is no longer WAITING. Lock held.
    pub(crate) fn compact(&self, s: &MonitorState) {
        let len = s.len.load(Ordering::Relaxed) as usize;
        let mut w = 0;
        for r in 0..len {
            let idx = s.order[r].load(Ordering::Relaxed);
            if s.slots[idx as usize].state.load(Ordering::Relaxed) == WAITING {
                s.order[w].store(idx, Ordering::Relaxed);
                w += 1;
            }
        }
        s.len.store(w as u32, Ordering::Relaxed);
    }

    /// Hands `got` to the waiter in slot `idx`. Lock held.
    pub(crate) fn grant(
        &self,
        s: &MonitorState,
        idx: usize,
        state: u32,
        got: u32,
        wl: &mut WakeList,
    ) {
        let sl = &s.slots[idx];
        sl.got.store(got, Ordering::Relaxed);
        sl.state.store(state, Ordering::Release);
        wl.mask |= 1 << idx;
    }

    pub(crate) fn wake(&self, wl: WakeList) {
        let mut m = wl.mask;
        while m != 0 {
            let idx = m.trailing_zeros() as usize;
            m &= m - 1;
            // A slot freed and reused meanwhile gets a spurious wake; its owner rechecks.
            futex_wake(&self.s().slots[idx].state, 1, self.scope());
            self.wakes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sleeps in slot `idx` until granted, flushed or the deadline; frees the slot.
    pub(crate) fn sleep(
        &self,
        idx: usize,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<Outcome> {
        let sl = &self.s().slots[idx];
        let mut why = None;
        while sl.state.load(Ordering::Acquire) == WAITING {
            match futex_wait(&sl.state, WAITING, deadline, self.scope()) {
                Woken::Recheck => {}
                Woken::TimedOut => {
                    why = Some(ErrorKind::TimedOut);
                    break;
                }
                Woken::Interrupted => {
                    why = Some(ErrorKind::Interrupted);
                    break;
                }
            }
        }
        self.locked(op, |s| {
            let st = sl.state.load(Ordering::Acquire);
            let got = sl.got.load(Ordering::Relaxed);
            sl.state.store(FREE, Ordering::Relaxed);
            match st {
                GRANTED => Ok(Outcome::Granted(got)),
                FLUSHED => Ok(Outcome::Flushed),
                _ => {
                    // Still queued: leave the queue without a grant.
                    self.compact(s);
                    Err(Error::new(why.unwrap_or(ErrorKind::TimedOut), op, ""))
                }
            }
        })?
    }

    /// The raw value (count or bits).
    pub(crate) fn value(&self) -> u32 {
        self.s().value.load(Ordering::Acquire)
    }

    /// A semaphore's value as EVL reports it: the count, or minus the number of waiters.
    pub(crate) fn sem_value(&self) -> i32 {
        let s = self.s();
        match s.value.load(Ordering::Acquire) {
            0 => -(s.len.load(Ordering::Acquire) as i32),
            v => v as i32,
        }
    }

    /// The bell's fd; pollable monitors only.
    pub(crate) fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.bell.as_ref().map(Bell::fd)
    }

    /// Grants handed out by this handle so far.
    #[cfg(test)]
    pub(crate) fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on this thread attached (waiting needs it, as on the EVL core).
    fn attached<R>(f: impl FnOnce() -> R) -> R {
        let _me = crate::thread::Thread::attach(
            crate::thread::ThreadConfig::new("monitor-test").lock_memory(false),
        )
        .unwrap();
        f()
    }

    #[test]
    fn grant_goes_to_the_queue_head_and_counts_one_wake() {
        let m = Monitor::create(Kind::Semaphore, 0, Visibility::Private, "t").unwrap();
        std::thread::scope(|sc| {
            let h = sc.spawn(|| attached(|| m.sem_get(None, false, "t")));
            while m.s().len.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            m.sem_put("t").unwrap();
            h.join().unwrap().unwrap();
        });
        assert_eq!(m.wakes(), 1);
        assert_eq!(m.value(), 0);
    }

    fn queued(m: &Monitor, n: u32) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while m.s().len.load(Ordering::Acquire) != n {
            assert!(std::time::Instant::now() < end, "waiters never queued");
            std::thread::yield_now();
        }
    }

    #[test]
    fn flags_post_wakes_the_first_satisfied_waiter_only() {
        let m = Monitor::create(Kind::Flags, 0, Visibility::Private, "t").unwrap();
        std::thread::scope(|sc| {
            // In line: wants bit 2 (all of 0b110), wants bit 0, wants bit 0.
            let a = sc.spawn(|| attached(|| m.flags_wait(0b110, true, None, false, "t")));
            queued(&m, 1);
            let b = sc.spawn(|| attached(|| m.flags_wait(0b001, false, None, false, "t")));
            queued(&m, 2);
            let c = sc.spawn(|| attached(|| m.flags_wait(0b001, false, None, false, "t")));
            queued(&m, 3);
            // Bit 0 satisfies b and c; a signal goes to the first satisfied in line: b.
            m.flags_post(0b001, false, "t").unwrap();
            assert_eq!(b.join().unwrap().unwrap(), 0b001);
            queued(&m, 2);
            assert_eq!(m.value(), 0, "b consumed the bit");
            // Bit 1 alone satisfies nobody: it stays set, nobody wakes.
            m.flags_post(0b010, false, "t").unwrap();
            assert_eq!((m.value(), m.s().len.load(Ordering::Relaxed)), (0b010, 2));
            // Bit 2 completes a's exact set.
            m.flags_post(0b100, false, "t").unwrap();
            assert_eq!(a.join().unwrap().unwrap(), 0b110);
            m.flags_post(0b001, false, "t").unwrap();
            assert_eq!(c.join().unwrap().unwrap(), 0b001);
        });
        assert_eq!(m.value(), 0);
    }

    #[test]
    fn flags_broadcast_wakes_every_satisfied_waiter_with_its_bits() {
        let m = Monitor::create(Kind::Flags, 0, Visibility::Private, "t").unwrap();
        std::thread::scope(|sc| {
            let hs: Vec<_> = [0b01, 0b11, 0b10, 0b100]
                .into_iter()
                .enumerate()
                .map(|(i, want)| {
                    let m = &m;
                    let h =
                        sc.spawn(move || attached(|| m.flags_wait(want, false, None, false, "t")));
                    queued(m, i as u32 + 1);
                    h
                })
                .collect();
            m.flags_post(0b11, true, "t").unwrap();
            let mut hs = hs.into_iter();
            assert_eq!(hs.next().unwrap().join().unwrap().unwrap(), 0b01);
            assert_eq!(hs.next().unwrap().join().unwrap().unwrap(), 0b11);
            assert_eq!(hs.next().unwrap().join().unwrap().unwrap(), 0b10);
            queued(&m, 1);
            assert_eq!(m.value(), 0, "the broadcast bits were consumed");
            m.flags_post(0b100, true, "t").unwrap();
            assert_eq!(hs.next().unwrap().join().unwrap().unwrap(), 0b100);
        });
    }

    #[test]
    fn a_thread_that_is_not_attached_may_not_wait_but_may_take_and_post() {
        let m = Monitor::create(Kind::Semaphore, 1, Visibility::Private, "t").unwrap();
        std::thread::spawn(move || {
            m.sem_get(None, false, "t").unwrap(); // a unit is there: no wait
            let e = m.sem_get(None, false, "t").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(e.to_string().contains("Thread::attach"), "{e}");
            m.sem_put("t").unwrap();
            assert_eq!(m.value(), 1);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_full_wait_queue_is_a_typed_error() {
        let m = Monitor::create(Kind::Semaphore, 0, Visibility::Private, "t").unwrap();
        std::thread::scope(|sc| {
            let hs: Vec<_> = (0..MAX_WAITERS)
                .map(|_| sc.spawn(|| attached(|| m.sem_get(None, false, "t"))))
                .collect();
            queued(&m, MAX_WAITERS as u32);
            let e = attached(|| m.sem_get(None, false, "t")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::CapacityExceeded);
            assert_eq!(m.sem_flush("t").unwrap(), MAX_WAITERS);
            for h in hs {
                assert_eq!(h.join().unwrap().unwrap_err().kind(), ErrorKind::Flushed);
            }
        });
        assert!(
            m.s()
                .slots
                .iter()
                .all(|s| s.state.load(Ordering::Relaxed) == FREE),
            "every slot freed"
        );
    }
}
