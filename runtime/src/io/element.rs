//! EVL elements awaited from a task: [`AsyncSemaphore`], [`AsyncFlags`].

use super::registration::{Claim, Registration};
use super::WouldBlock;
use crate::core::{Flags, FlagsMode, Result, Semaphore};
use crate::time::{self, Instant};
use core::cell::Cell;
use core::future::poll_fn;
use core::time::Duration;
use evl_reactor::Direction;
use std::borrow::Borrow;

/// A [`Semaphore`] awaited from a task, through its pollable fd.
///
/// [`get`](AsyncSemaphore::get) takes a unit if one is there; otherwise the task waits on
/// the executor (the semaphore's fd is readable exactly while its count is positive) and
/// tries again when the reactor reports it. A [`put`](Semaphore::put) from another thread,
/// another task, or (public semaphores) another process wakes it; the executor thread never
/// blocks. `S` is the semaphore or anything that borrows it (`&Semaphore`,
/// `Arc<Semaphore>` shared with the threads that post it).
///
/// Semantics to know: an async waiter is not queued *in* the semaphore, so a thread blocked
/// in [`Semaphore::get`] is served before it (a `put` hands the unit straight to a queued
/// thread), and [`Semaphore::flush`] does not reach it. One future per `AsyncSemaphore`
/// waits at a time (another one gets `CapacityExceeded`): wrap the semaphore once per
/// waiting task.
///
/// `!Send`: it belongs to the executor it was created in (see the [module docs](super)).
#[derive(Debug)]
pub struct AsyncSemaphore<S: Borrow<Semaphore> = Semaphore> {
    // Declared before `sem`: deregistered before the semaphore's fd closes.
    reg: Registration,
    sem: S,
}

impl<S: Borrow<Semaphore>> AsyncSemaphore<S> {
    /// Registers the semaphore's `poll_fd` with the current executor's reactor.
    ///
    /// Errors: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) outside an
    /// executor; [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded) when the
    /// reactor's fd slots are taken.
    pub fn new(sem: S) -> Result<Self> {
        let reg = Registration::new(sem.borrow().poll_fd(), "AsyncSemaphore::new")?;
        Ok(AsyncSemaphore { reg, sem })
    }

    /// The semaphore, as given.
    pub fn get_ref(&self) -> &S {
        &self.sem
    }

    /// Deregisters the fd and gives the semaphore back.
    pub fn into_inner(self) -> S {
        let AsyncSemaphore { reg, sem } = self;
        drop(reg);
        sem
    }

    /// Takes one unit, waiting on the executor while the count is zero.
    ///
    /// Errors: [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded) when
    /// another future of this `AsyncSemaphore` is waiting; `Unsupported` outside its executor.
    /// Cancel safety: safe (a unit is taken only when it completes).
    pub async fn get(&self) -> Result<()> {
        let sem = self.sem.borrow();
        let mut claim = Claim::new(&self.reg, Direction::Read);
        poll_fn(|cx| claim.poll_io(cx, "AsyncSemaphore::get", || sem.try_get())).await
    }

    /// As [`get`](AsyncSemaphore::get), until `deadline` at most
    /// ([`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) then).
    pub async fn get_until(&self, deadline: Instant) -> Result<()> {
        time::timeout_at(deadline, self.get()).await.and_then(|r| r)
    }

    /// As [`get`](AsyncSemaphore::get), for `d` at most.
    pub async fn get_timeout(&self, d: Duration) -> Result<()> {
        self.get_until(Instant::now() + d).await
    }

    /// Takes one unit if one is there ([`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock)
    /// otherwise).
    pub fn try_get(&self) -> Result<()> {
        self.sem.borrow().try_get()
    }

    /// Releases one unit (wakes whoever waits, here or elsewhere).
    pub fn put(&self) -> Result<()> {
        self.sem.borrow().put()
    }
}

impl<S: Borrow<Semaphore>> AsRef<Semaphore> for AsyncSemaphore<S> {
    fn as_ref(&self) -> &Semaphore {
        self.sem.borrow()
    }
}

/// How long [`AsyncFlags`] waits before looking again while bits are set that do not
/// satisfy its wait (see there): 250 µs.
pub const DEFAULT_RECHECK: Duration = Duration::from_micros(250);

/// A [`Flags`] group awaited from a task, through its pollable fd.
///
/// [`wait`](AsyncFlags::wait) returns (and clears) the matching bits if they are set;
/// otherwise the task waits on the executor and tries again when the reactor reports the
/// fd. A [`post`](Flags::post) or [`broadcast`](Flags::broadcast) from another thread,
/// task, or process wakes it. `F` is the group or anything that borrows it.
///
/// The fd is readable while *any* bit is set, so it cannot tell a waiter whose bits are not
/// all there (mode `All`, or `Any` over other bits) about the next post: re-arming it would
/// report at once, forever, and spin the executor. While such unrelated bits are set, the
/// waiter therefore looks again every [`recheck`](AsyncFlags::recheck) period (a timer on
/// the executor, [`DEFAULT_RECHECK`] unless changed), and goes back to waiting on the fd as
/// soon as no bit is set. Async waiters are not queued in the group: a thread blocked in
/// [`Flags::wait`] may take bits first. One future per `AsyncFlags` waits at a time.
///
/// `!Send`: it belongs to the executor it was created in (see the [module docs](super)).
#[derive(Debug)]
pub struct AsyncFlags<F: Borrow<Flags> = Flags> {
    // Declared before `flags`: deregistered before the group's fd closes.
    reg: Registration,
    recheck: Cell<Duration>,
    flags: F,
}

impl<F: Borrow<Flags>> AsyncFlags<F> {
    /// Registers the group's `poll_fd` with the current executor's reactor.
    ///
    /// Errors: as [`AsyncSemaphore::new`].
    pub fn new(flags: F) -> Result<Self> {
        let reg = Registration::new(flags.borrow().poll_fd(), "AsyncFlags::new")?;
        Ok(AsyncFlags {
            reg,
            recheck: Cell::new(DEFAULT_RECHECK),
            flags,
        })
    }

    /// The group, as given.
    pub fn get_ref(&self) -> &F {
        &self.flags
    }

    /// Deregisters the fd and gives the group back.
    pub fn into_inner(self) -> F {
        let AsyncFlags { reg, flags, .. } = self;
        drop(reg);
        flags
    }

    /// The period of the re-check while unrelated bits are set.
    pub fn recheck(&self) -> Duration {
        self.recheck.get()
    }

    /// Sets the period of the re-check while unrelated bits are set (at least 1 µs).
    pub fn set_recheck(&self, d: Duration) {
        self.recheck.set(d.max(Duration::from_micros(1)));
    }

    /// Waits for `bits` per `mode` (`0`: every bit); returns and clears the bits that
    /// matched.
    ///
    /// Errors: [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded) when
    /// another future of this `AsyncFlags` is waiting; a timer error of the executor (timer
    /// capacity) while re-checking. Cancel safety: safe (bits are consumed only when it
    /// completes).
    pub async fn wait(&self, bits: u32, mode: FlagsMode) -> Result<u32> {
        const OP: &str = "AsyncFlags::wait";
        let flags = self.flags.borrow();
        let mask = if bits == 0 { u32::MAX } else { bits };
        let satisfied = |v: u32| match mode {
            FlagsMode::Any => v & mask != 0,
            FlagsMode::All => v & mask == mask,
        };
        // One attempt: Ok(Some(bits)), Ok(None) when unrelated bits keep the fd readable,
        // WouldBlock when no bit is set (then the fd tells us about the next post).
        let attempt = || -> Result<Option<u32>> {
            for _ in 0..3 {
                match flags.try_wait(bits, mode) {
                    Ok(v) => return Ok(Some(v)),
                    Err(e) if e.would_block() => {}
                    Err(e) => return Err(e),
                }
                let v = flags.peek();
                if v == 0 {
                    return Err(crate::Error::new(crate::ErrorKind::WouldBlock, OP, ""));
                }
                if !satisfied(v) {
                    return Ok(None);
                }
                // Bits that satisfy us arrived (or were taken) meanwhile: try again.
            }
            Ok(None)
        };
        let mut claim = Claim::new(&self.reg, Direction::Read);
        loop {
            match poll_fn(|cx| claim.poll_io(cx, OP, &attempt)).await? {
                Some(v) => return Ok(v),
                None => {
                    claim.hold(OP)?;
                    time::sleep(self.recheck.get()).await?;
                }
            }
        }
    }

    /// As [`wait`](AsyncFlags::wait), until `deadline` at most
    /// ([`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) then).
    pub async fn wait_until(&self, bits: u32, mode: FlagsMode, deadline: Instant) -> Result<u32> {
        time::timeout_at(deadline, self.wait(bits, mode))
            .await
            .and_then(|r| r)
    }

    /// As [`wait`](AsyncFlags::wait), for `d` at most.
    pub async fn wait_timeout(&self, bits: u32, mode: FlagsMode, d: Duration) -> Result<u32> {
        self.wait_until(bits, mode, Instant::now() + d).await
    }

    /// As [`wait`](AsyncFlags::wait), without waiting
    /// ([`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock)).
    pub fn try_wait(&self, bits: u32, mode: FlagsMode) -> Result<u32> {
        self.flags.borrow().try_wait(bits, mode)
    }

    /// Sets `bits` (non-zero) and wakes the first waiter they satisfy.
    pub fn post(&self, bits: u32) -> Result<()> {
        self.flags.borrow().post(bits)
    }

    /// Sets `bits` (non-zero) and wakes every waiter they satisfy.
    pub fn broadcast(&self, bits: u32) -> Result<()> {
        self.flags.borrow().broadcast(bits)
    }

    /// The bits set now.
    pub fn peek(&self) -> u32 {
        self.flags.borrow().peek()
    }
}

impl<F: Borrow<Flags>> AsRef<Flags> for AsyncFlags<F> {
    fn as_ref(&self) -> &Flags {
        self.flags.borrow()
    }
}
