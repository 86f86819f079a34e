//! fd registrations: which task waits for which fd, in which direction.
//!
//! Each registered fd has a slot (fixed capacity, set at start) with a read and a write
//! side: a readiness flag and the waker of the task waiting for it. Readiness is cleared
//! only when an operation says `WouldBlock` ([`Reactor::clear_ready`](crate::Reactor)).
//!
//! How the fd sits in the poll set depends on what the backend's set can do:
//! - **Edge-triggered** (host, epoll): added once with `EDGE | IN | OUT | RDHUP` and never
//!   touched again. An fd wakeup costs the wait alone: **one system call** per wakeup, and
//!   none to start or stop awaiting.
//! - **Level-triggered** (EVL): added with `ONESHOT` and armed (`modify`) only while some side
//!   has a waiter and no readiness; a report disarms it, so a ready fd nobody reads cannot
//!   make the executor spin. An fd wakeup costs the wait plus, when a task awaits the fd
//!   again, one re-arm: **two out-of-band calls** per wakeup (the core's poll-set changes are
//!   out-of-band ioctls, so the thread stays on its stage).

use evl_core::poll::{PollFlags, PollSet};
use evl_core::{Error, ErrorKind, Result};
use std::os::fd::{BorrowedFd, RawFd};
use std::task::Waker;

/// Which way an fd is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Readable (or, for an EVL element, "a wait would not block").
    Read,
    /// Writable.
    Write,
}

/// A registration's identity: slot index and generation (a stale token is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u64);

impl Token {
    fn new(idx: usize, gen: u32) -> Self {
        Token(((gen as u64) << 32) | idx as u64)
    }
    fn idx(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    fn gen(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The raw value, as reported by the poll set.
    pub(crate) fn raw(self) -> u64 {
        self.0
    }
    pub(crate) fn from_raw(v: u64) -> Self {
        Token(v)
    }
}

#[derive(Debug, Default)]
struct Side {
    ready: bool,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Slot {
    fd: RawFd,
    gen: u32,
    live: bool,
    read: Side,
    write: Side,
    armed: u32,
}

impl Slot {
    fn side(&mut self, d: Direction) -> &mut Side {
        match d {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }

    /// The conditions to arm: each side with a waiter and no readiness.
    fn wanted(&self) -> u32 {
        let mut m = 0;
        if self.read.waker.is_some() && !self.read.ready {
            m |= PollFlags::IN.bits();
        }
        if self.write.waker.is_some() && !self.write.ready {
            m |= PollFlags::OUT.bits();
        }
        m
    }
}

/// Wakers taken out of a slot, woken after the registrations are released.
#[derive(Debug, Default)]
pub(crate) struct Woken(pub(crate) Option<Waker>, pub(crate) Option<Waker>);

/// The table of registrations.
#[derive(Debug)]
pub(crate) struct Registrations {
    slots: Box<[Slot]>,
    free: Vec<u32>,
    /// The poll set takes edge-triggered registrations: no re-arming.
    edge: bool,
}

impl Registrations {
    /// A table of `capacity` slots (checked by `Config::check`: at most `Config::MAX_FDS`),
    /// or `CapacityExceeded` when the memory is refused: never an allocation abort.
    pub(crate) fn new(ps: &PollSet, capacity: usize) -> Result<Self> {
        let no_memory = |_| {
            Error::new(
                ErrorKind::CapacityExceeded,
                "Reactor::new",
                "cannot allocate the fd registration table: lower Config::fds",
            )
        };
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity).map_err(no_memory)?;
        slots.resize_with(capacity, Slot::default);
        let mut free = Vec::new();
        free.try_reserve_exact(capacity).map_err(no_memory)?;
        // capacity <= Config::MAX_FDS < 2^32: the indices fit a u32.
        free.extend((0..capacity as u32).rev());
        Ok(Registrations {
            slots: slots.into_boxed_slice(),
            free,
            edge: ps.supports_edge(),
        })
    }

    fn slot(&mut self, t: Token, op: &'static str) -> Result<&mut Slot> {
        match self.slots.get_mut(t.idx()) {
            Some(s) if s.live && s.gen == t.gen() => Ok(s),
            _ => Err(Error::new(
                ErrorKind::Closed,
                op,
                "this fd registration was removed",
            )),
        }
    }

    pub(crate) fn register(&mut self, ps: &PollSet, fd: BorrowedFd<'_>) -> Result<Token> {
        const OP: &str = "Reactor::register";
        let Some(idx) = self.free.pop() else {
            return Err(Error::new(
                ErrorKind::CapacityExceeded,
                OP,
                "every fd registration slot is in use: raise reactor Config::fds",
            ));
        };
        let s = &mut self.slots[idx as usize];
        let token = Token::new(idx as usize, s.gen);
        let events = if self.edge {
            PollFlags::EDGE | PollFlags::IN | PollFlags::OUT | PollFlags::RDHUP
        } else {
            PollFlags::ONESHOT
        };
        if let Err(e) = ps.add(fd, events, token.raw()) {
            self.free.push(idx);
            return Err(e);
        }
        use std::os::fd::AsRawFd;
        *s = Slot {
            fd: fd.as_raw_fd(),
            gen: s.gen,
            live: true,
            ..Slot::default()
        };
        Ok(token)
    }

    pub(crate) fn deregister(&mut self, ps: &PollSet, t: Token) -> Woken {
        let Ok(s) = self.slot(t, "Reactor::deregister") else {
            return Woken::default();
        };
        // SAFETY: the registrant keeps the fd open until it deregisters (AsyncFd contract);
        // if it was closed already, the kernel dropped it from the set and remove just fails.
        let _ = ps.remove(unsafe { BorrowedFd::borrow_raw(s.fd) });
        let woken = Woken(s.read.waker.take(), s.write.waker.take());
        s.live = false;
        s.gen = s.gen.wrapping_add(1);
        self.free.push(t.idx() as u32);
        woken
    }

    /// Readiness check; registers `waker` and arms the fd when not ready. A waker it
    /// replaces is handed back in `old`, for the caller to drop once the table is released
    /// (dropping a waker may run any code, which may come back to this reactor).
    pub(crate) fn poll_ready(
        &mut self,
        ps: &PollSet,
        t: Token,
        d: Direction,
        waker: &Waker,
        old: &mut Option<Waker>,
    ) -> Result<bool> {
        const OP: &str = "Reactor::poll_ready";
        let s = self.slot(t, OP)?;
        if s.side(d).ready {
            return Ok(true);
        }
        let side = s.side(d);
        match &side.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => *old = side.waker.replace(waker.clone()),
        }
        if self.edge {
            return Ok(false); // watched for every edge since `register`
        }
        let s = self.slot(t, OP)?;
        let want = s.wanted();
        if want != s.armed {
            // SAFETY: the fd is open while registered (AsyncFd contract).
            let fd = unsafe { BorrowedFd::borrow_raw(s.fd) };
            ps.modify(fd, PollFlags::ONESHOT | flags(want), t.raw())?;
            s.armed = want;
        }
        Ok(false)
    }

    pub(crate) fn clear_ready(&mut self, t: Token, d: Direction) {
        if let Ok(s) = self.slot(t, "Reactor::clear_ready") {
            s.side(d).ready = false;
        }
    }

    /// A report from the poll set for `t`: mark sides ready, hand back their wakers, re-arm
    /// for a side still waiting.
    pub(crate) fn dispatch(&mut self, ps: &PollSet, t: Token, ready: PollFlags) -> Woken {
        let edge = self.edge;
        let Ok(s) = self.slot(t, "Reactor::dispatch") else {
            return Woken::default();
        };
        s.armed = 0; // ONESHOT: the report disarmed it
        let hup = ready.intersects(PollFlags::ERR | PollFlags::HUP);
        let mut woken = Woken::default();
        if hup || ready.intersects(PollFlags::IN | PollFlags::PRI | PollFlags::RDHUP) {
            s.read.ready = true;
            woken.0 = s.read.waker.take();
        }
        if hup || ready.intersects(PollFlags::OUT) {
            s.write.ready = true;
            woken.1 = s.write.waker.take();
        }
        let want = s.wanted();
        if want != 0 && !edge {
            // SAFETY: the fd is open while registered.
            let fd = unsafe { BorrowedFd::borrow_raw(s.fd) };
            match ps.modify(fd, PollFlags::ONESHOT | flags(want), t.raw()) {
                Ok(()) => s.armed = want,
                // Not re-armed (the fd was closed behind the reactor's back): wake the side
                // still waiting, whose next poll_ready meets the error instead of waiting
                // for a report that cannot come.
                Err(_) => {
                    if woken.0.is_none() {
                        woken.0 = s.read.waker.take();
                    }
                    if woken.1.is_none() {
                        woken.1 = s.write.waker.take();
                    }
                }
            }
        }
        woken
    }

    pub(crate) fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// The directions in `bits` as poll conditions (IN and OUT only).
fn flags(bits: u32) -> PollFlags {
    PollFlags::from_bits_truncate(bits) & (PollFlags::IN | PollFlags::OUT)
}
