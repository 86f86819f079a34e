//! The reactor: one blocking wait per executor turn, serving timers, fds and cross-thread
//! wakes.
//!
//! ```text
//!  turn(Block)
//!    next = wheel.next_deadline()          exact ns; re-arm the core timer fd only if changed
//!    poll_set.wait(events)                 THE one blocking call (EVL: oob poll; host: epoll)
//!    for each event:
//!      timer fd  -> note it fired (the next turn's re-arm clears it: no read)
//!      wake elem -> report `woken` (the executor drains its element)
//!      fd token  -> mark readiness, take the waiting wakers
//!    pop every timer with deadline <= now, wake it
//! ```
//! Everything here is allocated in [`Reactor::new`]; a turn allocates nothing.

use crate::io::{Direction, Registrations, Token, Woken};
use crate::timer::{Entry, Full, Wheel};
use evl_core::poll::{PollEvent, PollFlags, PollSet};
use evl_core::timer::{Start, Timer};
use evl_core::{Clock, ErrorKind, Result, Timestamp};
use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Poll, Waker};

const TOKEN_TIMER: u64 = u64::MAX;
const TOKEN_WAKE: u64 = u64::MAX - 1;
const EVENTS: usize = 64;

/// Sizes fixed at start.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Timers that may be armed at once (default 1024; beyond it arming is an error).
    pub timers: usize,
    /// fds that may be registered at once (default 64).
    pub fds: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: 1024,
            fds: 64,
        }
    }
}

/// Whether a turn may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until a timer, an fd or a wake.
    Block,
    /// Look, do not block.
    Poll,
}

/// What one turn did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turn {
    /// Timers that expired.
    pub timers: usize,
    /// fd reports handled.
    pub fds: usize,
    /// The wake element was posted (by another thread).
    pub woken: bool,
}

/// Counters over the reactor's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Turns made.
    pub turns: u64,
    /// Turns that blocked.
    pub blocking: u64,
    /// Times the core timer fd was re-armed.
    pub rearms: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// fd reports handled.
    pub fd_reports: u64,
}

/// An executor's reactor. `!Send`: it belongs to its executor's thread.
#[derive(Debug)]
pub struct Reactor {
    id: u64,
    poll: PollSet,
    timer: Timer,
    armed: Cell<Option<u64>>,
    /// The timer fd fired and was not read: it stays readable until re-armed or disarmed,
    /// which the next turn does (one `timerfd_settime` instead of a read plus a re-arm).
    fired: Cell<bool>,
    wheel: RefCell<Wheel>,
    io: RefCell<Registrations>,
    events: RefCell<[PollEvent; EVENTS]>,
    stats: Cell<Stats>,
}

thread_local! {
    static CURRENT: Cell<*const Reactor> = const { Cell::new(std::ptr::null()) };
}

/// Restores the previously current reactor on drop.
#[derive(Debug)]
pub struct Enter<'a> {
    prev: *const Reactor,
    _r: std::marker::PhantomData<&'a Reactor>,
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// Runs `f` with the reactor current on this thread, if any.
pub fn with_current<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
    let p = CURRENT.with(Cell::get);
    // SAFETY: CURRENT is only set by `Reactor::enter`, whose guard borrows the reactor and
    // resets CURRENT before the borrow ends, so a non-null pointer is a live reactor on this
    // thread.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// The monotonic time in ns, the wheel's time base.
pub fn now_ns() -> u64 {
    Clock::Monotonic.now().as_nanos()
}

impl Reactor {
    /// A reactor whose poll set also watches `wake` (the executor's cross-thread wake
    /// element), if given.
    pub fn new(cfg: Config, wake: Option<BorrowedFd<'_>>) -> Result<Self> {
        let poll = PollSet::new()?;
        let timer = Timer::new(Clock::Monotonic)?;
        poll.add(timer.as_fd(), PollFlags::IN, TOKEN_TIMER)?;
        if let Some(w) = wake {
            poll.add(w, PollFlags::IN, TOKEN_WAKE)?;
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Reactor {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            poll,
            timer,
            armed: Cell::new(None),
            fired: Cell::new(false),
            wheel: RefCell::new(Wheel::new(cfg.timers, now_ns())),
            io: RefCell::new(Registrations::new(cfg.fds)),
            events: RefCell::new([PollEvent::default(); EVENTS]),
            stats: Cell::new(Stats::default()),
        })
    }

    /// A process-unique id: a future that registered with a reactor compares ids (through
    /// [`with_current`]) before touching it again, so a reactor dropped and another one
    /// allocated at the same address are never confused.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Makes this reactor current on this thread until the guard drops.
    ///
    /// # Safety
    /// The guard must be dropped, not leaked (`mem::forget`), before the reactor is dropped;
    /// and the reactor must not move or be dropped while a timer armed through it is armed
    /// (timer futures keep its address). The executor upholds both: its reactor is boxed,
    /// dropped last, and entered only within `block_on` and shutdown.
    pub unsafe fn enter(&self) -> Enter<'_> {
        let prev = CURRENT.with(|c| c.replace(self));
        Enter {
            prev,
            _r: std::marker::PhantomData,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// Timers armed now.
    pub fn timers(&self) -> usize {
        self.wheel.borrow().len()
    }

    /// fds registered now.
    pub fn fds(&self) -> usize {
        self.io.borrow().live()
    }

    /// The deadline the core timer fd is armed at, if any.
    pub fn armed_at(&self) -> Option<u64> {
        self.armed.get()
    }

    /// One turn: re-arm the timer fd if the earliest deadline changed, wait (or look) once,
    /// dispatch what is ready, fire due timers.
    pub fn turn(&self, wait: Wait) -> Result<Turn> {
        self.turn_then(wait, || ())
    }

    /// As [`turn`](Reactor::turn), calling `after_wait` as soon as the wait returns, before
    /// anything ready is dispatched: an executor marks itself running there, so the wakes
    /// the dispatch makes on its own thread need no doorbell.
    pub fn turn_then(&self, wait: Wait, after_wait: impl FnOnce()) -> Result<Turn> {
        let mut st = self.stats.get();
        st.turns += 1;
        let next = self.wheel.borrow_mut().next_deadline();
        if next != self.armed.get() || self.fired.get() {
            self.fired.set(false);
            match next {
                Some(d) => self.timer.set(Start::At(Timestamp::from_nanos(d)), None)?,
                None => self.timer.disarm()?,
            }
            self.armed.set(next);
            st.rearms += 1;
        }
        let deadline = match wait {
            Wait::Block => {
                st.blocking += 1;
                None
            }
            Wait::Poll => Some(Timestamp::ZERO),
        };
        let mut turn = Turn::default();
        let mut events = self.events.borrow_mut();
        let n = match self.poll.wait(&mut events[..], deadline) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => 0,
            Err(e) => {
                after_wait();
                return Err(e);
            }
        };
        after_wait();
        for ev in &events[..n] {
            match ev.token {
                TOKEN_TIMER => {
                    // Not read: the next turn re-arms or disarms it, which also clears it.
                    self.fired.set(true);
                    self.armed.set(None);
                }
                TOKEN_WAKE => turn.woken = true,
                tok => {
                    turn.fds += 1;
                    let woken =
                        self.io
                            .borrow_mut()
                            .dispatch(&self.poll, Token::from_raw(tok), ev.ready);
                    wake(woken);
                }
            }
        }
        drop(events);
        turn.timers = self.fire(now_ns());
        st.timers_fired += turn.timers as u64;
        st.fd_reports += turn.fds as u64;
        self.stats.set(st);
        Ok(turn)
    }

    /// Wakes every timer due at `now`; returns how many.
    fn fire(&self, now: u64) -> usize {
        let mut n = 0;
        loop {
            let popped = self.wheel.borrow_mut().pop_expired(now);
            let Some(e) = popped else { return n };
            // SAFETY: a popped entry is alive (its owner keeps it until it is removed or
            // popped, ground rule 1 of the wheel) and idle now; only this thread touches it.
            let waker = unsafe { e.as_ref() }.take_waker();
            n += 1;
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Arms `entry` to fire at `deadline` (ns, monotonic); re-arms it if armed.
    ///
    /// # Safety
    /// The entry must stay alive at its address until it is cancelled, fired, or this
    /// reactor is dropped (see the wheel's ground rules): its owner cancels it on drop.
    pub unsafe fn arm(&self, entry: Pin<&Entry>, deadline: u64) -> core::result::Result<(), Full> {
        // SAFETY: forwarded contract.
        unsafe { self.wheel.borrow_mut().insert(entry, deadline) }
    }

    /// Disarms `entry` (no-op when idle or armed elsewhere); true when it was armed here.
    pub fn cancel(&self, entry: &Entry) -> bool {
        self.wheel.borrow_mut().remove(entry)
    }

    /// Registers `fd` for readiness. The fd must stay open until [`deregister`]
    /// (`Reactor::deregister`).
    pub fn register(&self, fd: BorrowedFd<'_>) -> Result<Token> {
        self.io.borrow_mut().register(&self.poll, fd)
    }

    /// Removes a registration; its waiting tasks are woken (to see it is gone).
    pub fn deregister(&self, t: Token) {
        let woken = self.io.borrow_mut().deregister(&self.poll, t);
        wake(woken);
    }

    /// Ready in direction `d`? If not, `waker` is woken when it may be.
    pub fn poll_ready(&self, t: Token, d: Direction, waker: &Waker) -> Poll<Result<()>> {
        match self.io.borrow_mut().poll_ready(&self.poll, t, d, waker) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Forgets readiness in direction `d` (after an operation returned `WouldBlock`).
    pub fn clear_ready(&self, t: Token, d: Direction) {
        self.io.borrow_mut().clear_ready(t, d);
    }
}

fn wake(w: Woken) {
    if let Some(w) = w.0 {
        w.wake();
    }
    if let Some(w) = w.1 {
        w.wake();
    }
}
