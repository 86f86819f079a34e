//! The reactor: one blocking wait per executor turn, serving timers, fds and cross-thread
//! wakes.
//!
//! ```text
//!  turn(Block)
//!    next = wheel.next_deadline()          exact ns, O(1) (cached)
//!    poll_set.wait(events, next)           THE one system call of the turn: its timeout is
//!                                          the earliest deadline (EVL: oob poll wait with an
//!                                          absolute timeout; host: epoll_pwait2, ns timeout)
//!      or, host with no fd registered:
//!    poll_set.park(word, value, next)      a futex wait on the caller's word, absolute
//!                                          CLOCK_MONOTONIC timeout (turn_parked)
//!    for each event:
//!      wake elem -> report `woken` (the executor drains its element)
//!      fd token  -> mark readiness, take the waiting wakers
//!    now = clock read (the turn's one read)
//!    pop timers with deadline <= now (at most `Config::timers_per_turn`), wake each
//! ```
//!
//! There is no timer file: a timer tick costs the wait and nothing else (no re-arm). The wait
//! may return before the deadline (a signal, an fd); timers are fired by comparing their
//! deadline with the clock read after the wait, so a timer never fires early.
//!
//! **The futex wait** ([`Reactor::turn_parked`], host backend only): when no fd is registered
//! (a timer-only control loop), the blocking wait is a futex wait on the executor's parker
//! word with the earliest deadline as an absolute `CLOCK_MONOTONIC` timeout
//! ([`PollSet::park`]): the same absolute hrtimer sleep as a raw `clock_nanosleep` loop, no
//! clock read to make a relative timeout, and a cross-thread wake is one `FUTEX_WAKE` instead
//! of a doorbell post. With an fd registered, or on EVL (where a futex is in-band), the wait is
//! the poll set's. Either way: one system call per blocking turn, and one clock read (after
//! the wait).
//!
//! Everything here is allocated in [`Reactor::new`]; a turn allocates nothing. Wakers are
//! woken only after every internal borrow is released, so a waker (or a `Drop` it triggers)
//! may arm, cancel or deregister on this reactor.

use crate::io::{Direction, Registrations, Token, Woken};
use crate::timer::{Entry, Full, Wheel};
use evl_core::poll::{PollEvent, PollFlags, PollSet};
use evl_core::{Clock, Error, ErrorKind, Result, Timestamp};
use std::cell::{Cell, RefCell};
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::atomic::AtomicU32;
use std::task::{Poll, Waker};

const TOKEN_WAKE: u64 = u64::MAX - 1;
/// Events taken per wait; more ready fds are reported by the next turn.
const EVENTS: usize = 64;

/// Sizes fixed at start.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Timers that may be armed at once (default 1024; beyond it arming is an error).
    pub timers: usize,
    /// fds that may be registered at once (default 64).
    pub fds: usize,
    /// Timers fired per turn at most (default 64): a burst of due timers is served in
    /// deadline order over several turns, so tasks and fds get their turn in between.
    pub timers_per_turn: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: 1024,
            fds: 64,
            timers_per_turn: 64,
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
    /// More timers were due than `Config::timers_per_turn`: the next turn fires them (its
    /// wait does not block, since their deadline has passed).
    pub timers_left: bool,
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
    /// Waits whose timeout was a timer's deadline.
    pub timed_waits: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// fd reports handled.
    pub fd_reports: u64,
    /// Blocking waits that were a futex wait on the executor's word ([`Reactor::turn_parked`],
    /// host backend, no fd registered) rather than a wait on the poll set.
    pub futex_waits: u64,
}

/// An executor's reactor. `!Send`: it belongs to its executor's thread.
#[derive(Debug)]
pub struct Reactor {
    id: u64,
    poll: PollSet,
    /// The deadline the last blocking wait was bounded by.
    last_deadline: Cell<Option<u64>>,
    /// The clock read of the last turn (ns, monotonic).
    last_now: Cell<u64>,
    timers_per_turn: usize,
    wheel: RefCell<Wheel>,
    io: RefCell<Registrations>,
    /// The wait's output, kept between turns (not zeroed anew each turn).
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
    ///
    /// Sizes are checked ([`Config::check`]): a zero `timers_per_turn` or more fds than
    /// [`Config::MAX_FDS`] is [`ErrorKind::InvalidArgument`] naming the field; a table the
    /// system cannot allocate is [`ErrorKind::CapacityExceeded`].
    pub fn new(cfg: Config, wake: Option<BorrowedFd<'_>>) -> Result<Self> {
        cfg.check()?;
        // Room for every registration plus the wake element, fixed now: a registration never
        // grows a table on the real-time path.
        let poll = PollSet::with_capacity(cfg.fds.saturating_add(2))?;
        if let Some(w) = wake {
            poll.add(w, PollFlags::IN, TOKEN_WAKE)?;
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Reactor {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            io: RefCell::new(Registrations::new(&poll, cfg.fds)?),
            poll,
            last_deadline: Cell::new(None),
            last_now: Cell::new(0),
            timers_per_turn: cfg.timers_per_turn,
            wheel: RefCell::new(Wheel::new(cfg.timers, now_ns())),
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

    /// The deadline (ns, monotonic) the last blocking wait was bounded by: the earliest
    /// armed timer then, `None` when no timer was armed.
    pub fn last_deadline(&self) -> Option<u64> {
        self.last_deadline.get()
    }

    /// The clock read (ns, monotonic) of the last turn: the one read a turn makes, after its
    /// wait; every timer that turn fired was due at it (0 before the first turn). A timer
    /// future that this reactor fired reports this instant as when it was seen due, rather
    /// than read the clock again.
    pub fn last_now(&self) -> u64 {
        self.last_now.get()
    }

    /// The earliest armed deadline (ns, monotonic), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.borrow_mut().next_deadline()
    }

    /// One turn: wait (or look) once, bounded by the earliest timer deadline; dispatch what
    /// is ready, fire due timers.
    pub fn turn(&self, wait: Wait) -> Result<Turn> {
        self.turn_then(wait, || ())
    }

    /// As [`turn`](Reactor::turn), calling `after_wait` as soon as the wait returns, before
    /// anything ready is dispatched: an executor marks itself running there, so the wakes
    /// the dispatch makes on its own thread need no doorbell.
    pub fn turn_then(&self, wait: Wait, after_wait: impl FnOnce()) -> Result<Turn> {
        type NoPark = fn() -> Option<(&'static AtomicU32, u32)>;
        self.turn_with(wait, None::<NoPark>, after_wait)
    }

    /// As [`turn_then`](Reactor::turn_then), for a waiter that may block on a word instead
    /// of the poll set. When the turn blocks, no fd is registered and the backend supports
    /// it ([`PollSet::supports_park`]: the host), `park` is called once: `Some((word,
    /// value))` makes the wait a futex wait while `*word == value` (one system call, with the
    /// earliest deadline as its absolute timeout; another thread ends it with
    /// [`evl_core::poll::unpark`]); `None` (a wake arrived meanwhile, whose post is on its
    /// way) makes the turn look at the poll set without blocking. Otherwise the wait is the
    /// poll set's and `park` is not called. A futex turn never reports
    /// [`Turn::woken`]: there is no element to drain.
    pub fn turn_parked<'w>(
        &self,
        wait: Wait,
        park: impl FnOnce() -> Option<(&'w AtomicU32, u32)>,
        after_wait: impl FnOnce(),
    ) -> Result<Turn> {
        self.turn_with(wait, Some(park), after_wait)
    }

    /// The turn behind both: `park`, when given, may make the blocking wait a futex wait.
    fn turn_with<'w>(
        &self,
        wait: Wait,
        park: Option<impl FnOnce() -> Option<(&'w AtomicU32, u32)>>,
        after_wait: impl FnOnce(),
    ) -> Result<Turn> {
        let mut st = self.stats.get();
        st.turns += 1;
        let next = self.wheel.borrow_mut().next_deadline();
        let mut futex = None;
        let deadline = match wait {
            Wait::Block => {
                st.blocking += 1;
                self.last_deadline.set(next);
                if next.is_some() {
                    st.timed_waits += 1;
                }
                let park =
                    park.filter(|_| self.poll.supports_park() && self.io.borrow().live() == 0);
                if let Some(park) = park {
                    match park() {
                        Some(w) => {
                            st.futex_waits += 1;
                            futex = Some(w);
                            next.map(Timestamp::from_nanos)
                        }
                        // Notified since the caller prepared to park: do not block.
                        None => Some(Timestamp::ZERO),
                    }
                } else {
                    next.map(Timestamp::from_nanos)
                }
            }
            Wait::Poll => Some(Timestamp::ZERO),
        };
        self.stats.set(st);
        if let Some((word, value)) = futex {
            let r = self.poll.park(word, value, deadline);
            after_wait();
            r?;
            return Ok(self.fire_due(Turn::default()));
        }
        let mut turn = Turn::default();
        let Ok(mut events) = self.events.try_borrow_mut() else {
            return Err(Error::new(
                ErrorKind::Other,
                "Reactor::turn",
                "a turn was started inside a turn (from a waker the turn woke): turn the \
                 reactor from the executor loop only",
            ));
        };
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
        Ok(self.fire_due(turn))
    }

    /// The end of a turn: reads the clock (the turn's one read) and fires the timers due
    /// then; counts.
    fn fire_due(&self, mut turn: Turn) -> Turn {
        let now = now_ns();
        self.last_now.set(now);
        let (fired, left) = self.fire(now);
        turn.timers = fired;
        turn.timers_left = left;
        let mut st = self.stats.get();
        st.timers_fired += fired as u64;
        st.fd_reports += turn.fds as u64;
        self.stats.set(st);
        turn
    }

    /// Wakes the timers due at `now`, earliest first, at most `timers_per_turn` of them;
    /// returns how many, and whether more were due.
    fn fire(&self, now: u64) -> (usize, bool) {
        for n in 0..self.timers_per_turn {
            let popped = self.wheel.borrow_mut().pop_expired(now);
            let Some(e) = popped else { return (n, false) };
            // SAFETY: a popped entry is alive (its owner keeps it until it is removed or
            // popped, ground rule 1 of the wheel) and idle now; only this thread touches it.
            let waker = unsafe { e.as_ref() }.take_waker();
            if let Some(w) = waker {
                w.wake();
            }
        }
        let more = self
            .wheel
            .borrow_mut()
            .next_deadline()
            .is_some_and(|d| d <= now);
        (self.timers_per_turn, more)
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

    /// Registers `fd` for readiness. The fd must stay open until
    /// [`deregister`](Reactor::deregister).
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
        let mut old = None;
        let r = self
            .io
            .borrow_mut()
            .poll_ready(&self.poll, t, d, waker, &mut old);
        // Dropped with the table released: its Drop may deregister or arm on this reactor.
        drop(old);
        match r {
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
