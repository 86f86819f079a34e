//! One fd registered in the current executor's reactor, and the claim a waiting future holds
//! on one of its directions.
//!
//! Lifetime argument (why nothing here can touch a freed reactor): a [`Registration`] keeps
//! the reactor's [`id`](Reactor::id), never a pointer. Every access goes through
//! [`evl_reactor::with_current`], which hands out the reactor current on this thread (alive
//! for the duration of the call, see its SAFETY argument), and proceeds only when that
//! reactor's id is the one registered with. Ids are process-unique, so a reactor dropped and
//! another allocated at the same address are never confused. If the executor is gone, or
//! not current, the registration does nothing (and its owner reports an error on use, or
//! logs a leaked slot on drop).

use super::WouldBlock;
use crate::core::{Error, ErrorKind, Result};
use core::cell::Cell;
use core::marker::PhantomData;
use core::task::{Context, Poll};
use evl_reactor::{Direction, Reactor, Token};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

fn slot(d: Direction) -> usize {
    match d {
        Direction::Read => 0,
        Direction::Write => 1,
    }
}

pub(crate) fn no_executor(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        op,
        "evl I/O objects belong to an executor: create and use them inside Executor::block_on \
         or a spawned task",
    )
}

fn other_executor(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        op,
        "this I/O object is registered with another executor: use it (and drop it) in the \
         executor it was created in",
    )
}

fn busy(op: &'static str) -> Error {
    Error::new(
        ErrorKind::CapacityExceeded,
        op,
        "another future is already waiting in this direction on this object (one waiter per \
         direction): give each waiting task its own object (wrappers accept &T or Arc<T>)",
    )
}

/// An fd registered with one executor's reactor. `!Send` and `!Sync`: it belongs to that
/// executor's thread. Deregisters on drop (when its executor is current), then closes the
/// duplicate fd it may hold.
#[derive(Debug)]
pub(crate) struct Registration {
    token: Token,
    /// The [`Reactor::id`] registered with; compared, never dereferenced.
    reactor: u64,
    /// Whether a future holds the claim on each direction (see [`Claim`]).
    busy: [Cell<bool>; 2],
    /// A duplicate of the fd, registered when the fd itself already was (same executor,
    /// another wrapper of the same element). Fields drop after `Drop::drop`, so it closes
    /// only once deregistered.
    _dup: Option<OwnedFd>,
    _not_send: PhantomData<*const ()>,
}

impl Registration {
    /// Registers `fd` with the current executor's reactor. The caller keeps `fd` open until
    /// this registration is dropped (it owns both, registration declared first).
    pub(crate) fn new(fd: BorrowedFd<'_>, op: &'static str) -> Result<Self> {
        evl_reactor::with_current(|r| {
            let (token, dup) = match r.register(fd) {
                Ok(t) => (t, None),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let dup = fd.try_clone_to_owned().map_err(|e| {
                        Error::from_errno(
                            e.raw_os_error().unwrap_or(0),
                            op,
                            "cannot duplicate an fd already registered with this executor \
                             (descriptor limit?)",
                        )
                    })?;
                    (r.register(dup.as_fd())?, Some(dup))
                }
                Err(e) => return Err(e),
            };
            Ok(Registration {
                token,
                reactor: r.id(),
                busy: [Cell::new(false), Cell::new(false)],
                _dup: dup,
                _not_send: PhantomData,
            })
        })
        .unwrap_or(Err(no_executor(op)))
    }

    /// Runs `f` with our reactor, if it is the current one.
    fn with<R>(&self, op: &'static str, f: impl FnOnce(&Reactor) -> R) -> Result<R> {
        match evl_reactor::with_current(|r| (r.id() == self.reactor).then(|| f(r))) {
            Some(Some(v)) => Ok(v),
            Some(None) => Err(other_executor(op)),
            None => Err(no_executor(op)),
        }
    }

    /// Ready in direction `d`? If not, the task of `cx` is woken when it may be. Does not
    /// claim the direction, and fails if a future claimed it.
    pub(crate) fn poll_ready(
        &self,
        d: Direction,
        cx: &mut Context<'_>,
        op: &'static str,
    ) -> Poll<Result<()>> {
        if self.busy[slot(d)].get() {
            return Poll::Ready(Err(busy(op)));
        }
        self.poll_ready_unchecked(d, cx, op)
    }

    fn poll_ready_unchecked(
        &self,
        d: Direction,
        cx: &mut Context<'_>,
        op: &'static str,
    ) -> Poll<Result<()>> {
        match self.with(op, |r| r.poll_ready(self.token, d, cx.waker())) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Forgets readiness in direction `d` (no-op outside our executor).
    pub(crate) fn clear_ready(&self, d: Direction) {
        let _ = self.with("clear_ready", |r| r.clear_ready(self.token, d));
    }

    /// Runs `f` until it does not say "would block", waiting for readiness in direction `d`
    /// in between: `Ready` with `f`'s result, or `Pending` with the task's waker registered.
    /// `claim`: the waiting future's claim on `d` (taken here before the waker is
    /// registered), or `None` for poll-style callers.
    pub(crate) fn poll_io<R, E>(
        &self,
        d: Direction,
        cx: &mut Context<'_>,
        op: &'static str,
        mut claim: Option<&mut bool>,
        mut f: impl FnMut() -> core::result::Result<R, E>,
    ) -> Poll<core::result::Result<R, E>>
    where
        E: WouldBlock + From<Error>,
    {
        loop {
            match f() {
                Err(e) if e.would_block() => {}
                r => return Poll::Ready(r),
            }
            self.clear_ready(d);
            let held = match claim.as_deref_mut() {
                Some(held) => {
                    if !*held {
                        if let Err(e) = self.acquire(d, op) {
                            return Poll::Ready(Err(e.into()));
                        }
                        *held = true;
                    }
                    true
                }
                None => false,
            };
            let ready = if held {
                self.poll_ready_unchecked(d, cx, op)
            } else {
                self.poll_ready(d, cx, op)
            };
            match ready {
                Poll::Pending => return Poll::Pending,
                // An event came between the clear and the arming: try again.
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    /// Takes the claim on `d` for a waiting future.
    pub(crate) fn acquire(&self, d: Direction, op: &'static str) -> Result<()> {
        let b = &self.busy[slot(d)];
        if b.get() {
            return Err(busy(op));
        }
        b.set(true);
        Ok(())
    }

    /// Gives a claim back.
    pub(crate) fn release(&self, d: Direction) {
        self.busy[slot(d)].set(false);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (token, id) = (self.token, self.reactor);
        let done = evl_reactor::with_current(|r| {
            if r.id() == id {
                r.deregister(token);
                true
            } else {
                false
            }
        });
        if done != Some(true) {
            tracing::warn!(
                reactor = id,
                "an evl I/O object was dropped outside its executor: its fd registration \
                 slot stays taken until that executor is dropped"
            );
        }
        // `self._dup` (if any) closes after this, once the poll set no longer watches it.
    }
}

/// A waiting future's claim on one direction of a registration: taken when it first has to
/// wait, given back when it completes or is dropped.
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    reg: &'a Registration,
    dir: Direction,
    held: bool,
}

impl<'a> Claim<'a> {
    pub(crate) fn new(reg: &'a Registration, dir: Direction) -> Self {
        Claim {
            reg,
            dir,
            held: false,
        }
    }

    pub(crate) fn dir(&self) -> Direction {
        self.dir
    }

    /// [`Registration::poll_io`] under this claim; the claim is given back once `Ready`.
    pub(crate) fn poll_io<R, E>(
        &mut self,
        cx: &mut Context<'_>,
        op: &'static str,
        f: impl FnMut() -> core::result::Result<R, E>,
    ) -> Poll<core::result::Result<R, E>>
    where
        E: WouldBlock + From<Error>,
    {
        let p = self.reg.poll_io(self.dir, cx, op, Some(&mut self.held), f);
        if p.is_ready() {
            self.release();
        }
        p
    }

    /// Readiness under this claim (no operation): `Ready` once the reactor reported it.
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        op: &'static str,
    ) -> Poll<Result<()>> {
        if !self.held {
            if let Err(e) = self.reg.acquire(self.dir, op) {
                return Poll::Ready(Err(e));
            }
            self.held = true;
        }
        let p = self.reg.poll_ready_unchecked(self.dir, cx, op);
        if p.is_ready() {
            self.release();
        }
        p
    }

    /// Takes the claim now (to wait on something other than the fd while keeping others
    /// out).
    pub(crate) fn hold(&mut self, op: &'static str) -> Result<()> {
        if !self.held {
            self.reg.acquire(self.dir, op)?;
            self.held = true;
        }
        Ok(())
    }

    pub(crate) fn release(&mut self) {
        if self.held {
            self.reg.release(self.dir);
            self.held = false;
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.release();
    }
}
