//! Host observable: a list of subscribers, each with a fixed ring of notifications and an
//! eventfd bell.
//!
//! Everything a steady-state call touches exists from `subscribe` on: `update` takes the
//! list lock, then each subscriber's lock in turn, and copies the notices into the free
//! slots of its ring; `read` takes only its subscriber's lock. Both locks are
//! priority-inheriting futexes ([`PiLock`]): an ordinary reader holding a subscriber's lock
//! cannot stall a real-time updater behind a medium-priority thread. The bell is rung when a
//! ring goes from empty to non-empty and drained when it goes back to empty, both under the
//! subscriber's lock, so its level is exactly "notifications pending". Lock order: list,
//! then subscriber.

use super::types::{Notice, Notification};
use crate::backend::host::shm::Bell;
use crate::backend::host::sys::{self, PiLock, Scope};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::{Clock, Timestamp};
use core::cell::UnsafeCell;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// A held [`PiLock`], released on drop.
struct Held<'a>(PiLock<'a>);

impl<'a> Held<'a> {
    fn lock(word: &'a AtomicU32, op: &'static str) -> Result<Self> {
        let l = PiLock::new(word, Scope::Process);
        l.lock(None, op)?;
        Ok(Held(l))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

/// A fixed ring of notifications.
struct Ring {
    slots: Box<[Notification]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn free(&self) -> usize {
        self.slots.len() - self.len
    }

    fn push(&mut self, n: Notification) {
        debug_assert!(self.len < self.slots.len());
        let cap = self.slots.len();
        self.slots[(self.head + self.len) % cap] = n;
        self.len += 1;
    }

    fn pop_into(&mut self, out: &mut [Notification]) -> usize {
        let cap = self.slots.len();
        let n = out.len().min(self.len);
        for o in out.iter_mut().take(n) {
            *o = self.slots[self.head];
            self.head = (self.head + 1) % cap;
        }
        self.len -= n;
        n
    }
}

/// One subscriber's state, shared between the observable's list and the [`Subscriber`].
struct Sub {
    lock: AtomicU32,
    /// Guarded by `lock`.
    ring: UnsafeCell<Ring>,
    lost: AtomicU64,
    bell: Bell,
}

// SAFETY: the only non-Sync field, `ring`, is reached only through `Sub::locked`, which holds
// `lock` (a mutual-exclusion lock) for the whole time the `&mut Ring` lives.
unsafe impl Sync for Sub {}

impl Sub {
    /// Runs `f` on the ring with the subscriber's lock held.
    fn locked<R>(&self, op: &'static str, f: impl FnOnce(&mut Ring) -> R) -> Result<R> {
        let _held = Held::lock(&self.lock, op)?;
        // `lock` is held until `_held` drops at the end of this function, after the last use
        // of the reference. Every access to `ring` goes through this function, so no other
        // reference exists: another thread waits for the lock, and a nested call from `f` on
        // this thread fails with Deadlock (PiLock sees it owns the lock) before the cell.
        // SAFETY: exclusive access to the ring, as argued just above.
        let ring = unsafe { &mut *self.ring.get() };
        Ok(f(ring))
    }
}

/// The observable's state, shared with its subscribers.
struct Obs {
    lock: AtomicU32,
    /// Guarded by `lock`.
    subs: UnsafeCell<Vec<Arc<Sub>>>,
    /// Guarded by `lock`.
    next_serial: UnsafeCell<u64>,
    /// Set when the [`Observable`] handle is dropped.
    closed: AtomicBool,
}

// SAFETY: `subs` and `next_serial` are reached only through `Obs::locked`, which holds `lock`
// for the whole life of the references it hands out.
unsafe impl Sync for Obs {}

impl Obs {
    fn locked<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Vec<Arc<Sub>>, &mut u64) -> R,
    ) -> Result<R> {
        let _held = Held::lock(&self.lock, op)?;
        // `lock` is held until `_held` drops, after the last use of both references. Every
        // access to these cells goes through this function, so no other reference exists:
        // another thread waits for the lock, and a nested call from `f` on this thread fails
        // with Deadlock (PiLock sees it owns the lock) before reaching them.
        // SAFETY: exclusive access to both cells, as argued just above.
        let (subs, serial) = unsafe { (&mut *self.subs.get(), &mut *self.next_serial.get()) };
        Ok(f(subs, serial))
    }
}

impl core::fmt::Debug for Obs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Obs")
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Sub {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sub")
            .field("lost", &self.lost.load(Ordering::Relaxed))
            .field("bell", &self.bell)
            .finish_non_exhaustive()
    }
}

/// The host observable.
#[derive(Debug)]
pub(crate) struct Observable {
    obs: Arc<Obs>,
}

/// A host subscription.
#[derive(Debug)]
pub(crate) struct Subscriber {
    obs: Arc<Obs>,
    sub: Arc<Sub>,
    backlog: usize,
}

impl Observable {
    pub(crate) fn new() -> Observable {
        Observable {
            obs: Arc::new(Obs {
                lock: AtomicU32::new(0),
                subs: UnsafeCell::new(Vec::new()),
                next_serial: UnsafeCell::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Tags were checked by the caller.
    pub(crate) fn update(&self, notices: &[Notice]) -> Result<usize> {
        const OP: &str = "Observable::update";
        if notices.is_empty() {
            return Ok(0);
        }
        let date = Clock::Monotonic.now();
        let issuer = sys::gettid();
        self.obs.locked(OP, |subs, next_serial| {
            if subs.is_empty() {
                return Ok(0);
            }
            let base = *next_serial;
            // Each subscriber takes the first `free` notices (none is popped meanwhile), so
            // notice i reached someone exactly when i < the largest take.
            let mut reached = 0;
            for sub in subs.iter() {
                let take = sub.locked(OP, |ring| {
                    let take = ring.free().min(notices.len());
                    let was_empty = ring.len == 0;
                    for (i, n) in notices[..take].iter().enumerate() {
                        ring.push(Notification {
                            tag: n.tag,
                            value: n.value,
                            serial: base + i as u64,
                            issuer,
                            date,
                        });
                    }
                    if was_empty && take > 0 {
                        sub.bell.ring();
                    }
                    take
                })?;
                let lost = notices.len() - take;
                if lost > 0 {
                    sub.lost.fetch_add(lost as u64, Ordering::Relaxed);
                }
                reached = reached.max(take);
            }
            // Serials number the notices someone received, as EVL does.
            *next_serial = base + reached as u64;
            Ok(reached)
        })?
    }

    pub(crate) fn subscribe(&self, backlog: usize) -> Result<Subscriber> {
        const OP: &str = "Observable::subscribe";
        let oom = || {
            Error::new(
                ErrorKind::CapacityExceeded,
                OP,
                "out of memory for the subscriber's backlog: ask for a smaller one",
            )
        };
        let mut slots = Vec::new();
        slots.try_reserve_exact(backlog).map_err(|_| oom())?;
        slots.resize(backlog, Notification::default());
        let sub = Arc::new(Sub {
            lock: AtomicU32::new(0),
            ring: UnsafeCell::new(Ring {
                slots: slots.into_boxed_slice(),
                head: 0,
                len: 0,
            }),
            lost: AtomicU64::new(0),
            bell: Bell::private(OP)?,
        });
        self.obs.locked(OP, |subs, _| {
            subs.try_reserve(1).map_err(|_| oom())?;
            subs.push(sub.clone());
            Ok(())
        })??;
        Ok(Subscriber {
            obs: self.obs.clone(),
            sub,
            backlog,
        })
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.obs
            .locked("Observable::subscribers", |subs, _| subs.len())
            .unwrap_or(0)
    }
}

impl Drop for Observable {
    fn drop(&mut self) {
        self.obs.closed.store(true, Ordering::SeqCst);
        // Wake every subscriber: an empty backlog now reads as Closed.
        let _ = self.obs.locked("Observable::drop", |subs, _| {
            for sub in subs.iter() {
                let _ = sub.locked("Observable::drop", |_| sub.bell.ring());
            }
        });
    }
}

fn closed(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Closed,
        op,
        "the observable was dropped and this subscriber's backlog is empty",
    )
}

impl Subscriber {
    fn read_once(&self, out: &mut [Notification], op: &'static str) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let sub = &*self.sub;
        let n = sub.locked(op, |ring| {
            let n = ring.pop_into(out);
            // Keep the bell ringing while a read would not block: pending notifications, or
            // the observable gone (then reads return Closed at once).
            if ring.len == 0 && n > 0 && !self.obs.closed.load(Ordering::SeqCst) {
                sub.bell.drain();
            }
            n
        })?;
        match n {
            0 if self.obs.closed.load(Ordering::SeqCst) => Err(closed(op)),
            0 => Err(Error::new(
                ErrorKind::WouldBlock,
                op,
                "no notification pending: wait with read/read_until, or poll poll_fd()",
            )),
            n => Ok(n),
        }
    }

    pub(crate) fn try_read(&self, out: &mut [Notification]) -> Result<usize> {
        self.read_once(out, "Subscriber::try_read")
    }

    pub(crate) fn read(
        &self,
        out: &mut [Notification],
        deadline: Option<Timestamp>,
    ) -> Result<usize> {
        const OP: &str = "Subscriber::read";
        loop {
            match self.read_once(out, OP) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            sys::wait_ready(
                self.sub.bell.fd(),
                libc::POLLIN,
                deadline,
                OP,
                "no notification came before the deadline",
            )?;
        }
    }

    pub(crate) fn lost(&self) -> u64 {
        self.sub.lost.load(Ordering::Relaxed)
    }

    pub(crate) fn backlog(&self) -> usize {
        self.backlog
    }

    pub(crate) fn poll_fd(&self) -> BorrowedFd<'_> {
        self.sub.bell.fd()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let me = &self.sub;
        let _ = self.obs.locked("Subscriber::drop", |subs, _| {
            if let Some(i) = subs.iter().position(|s| Arc::ptr_eq(s, me)) {
                subs.swap_remove(i);
            }
        });
    }
}
