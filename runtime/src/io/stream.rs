//! Sources that yield items: [`Notifications`] (an observable subscriber) and
//! [`TimerTicks`] (an evl-core timer).

use super::registration::Registration;
use crate::core::{ErrorKind, Notification, Result, Subscriber, Timer};
use core::cell::Cell;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::Direction;
use futures_core::Stream;
use std::borrow::Borrow;
use std::os::fd::AsFd;

/// The notifications of an observable [`Subscriber`], as a `Stream` that waits on the
/// executor.
///
/// Yields every notification in the order the subscriber's backlog holds them
/// (`Ok(notification)`), ends (`None`) once the observable is gone and the backlog is empty,
/// and yields `Err` for any other failure. Notifications the backlog had no room for are not
/// yielded; [`Subscriber::lost`] counts them. `S` is the subscriber or anything that borrows
/// it. `!Send`: it belongs to the executor it was created in.
#[derive(Debug)]
pub struct Notifications<S: Borrow<Subscriber> = Subscriber> {
    // Declared before `sub`: deregistered before the subscriber's fd closes.
    reg: Registration,
    done: Cell<bool>,
    sub: S,
}

impl<S: Borrow<Subscriber>> Notifications<S> {
    /// Registers the subscriber's `poll_fd` with the current executor's reactor.
    ///
    /// Errors: [`ErrorKind::Unsupported`] outside an executor;
    /// [`ErrorKind::CapacityExceeded`] when the reactor's fd slots are taken.
    pub fn new(sub: S) -> Result<Self> {
        let reg = Registration::new(sub.borrow().poll_fd(), "Notifications::new")?;
        Ok(Notifications {
            reg,
            done: Cell::new(false),
            sub,
        })
    }

    /// The subscriber, as given.
    pub fn get_ref(&self) -> &S {
        &self.sub
    }

    /// Deregisters the fd and gives the subscriber back.
    pub fn into_inner(self) -> S {
        let Notifications { reg, sub, .. } = self;
        drop(reg);
        sub
    }

    /// The next notification (`Stream::poll_next` as a future, for callers without
    /// `StreamExt`). Cancel safety: safe.
    pub async fn next(&mut self) -> Option<Result<Notification>> {
        let this = &*self;
        poll_fn(|cx| this.poll_item(cx)).await
    }

    /// `&self` so that pinning does not matter; callers hold `&mut` (one waiter).
    fn poll_item(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Notification>>> {
        if self.done.get() {
            return Poll::Ready(None);
        }
        let sub = self.sub.borrow();
        let mut one = [Notification::default()];
        let r = self.reg.poll_io(
            Direction::Read,
            cx,
            "Notifications::poll_next",
            None,
            || sub.try_read(&mut one),
        );
        match r {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(_)) => Poll::Ready(Some(Ok(one[0]))),
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::Closed => {
                self.done.set(true);
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<S: Borrow<Subscriber>> Stream for Notifications<S> {
    type Item = Result<Notification>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.into_ref().get_ref().poll_item(cx)
    }
}

/// The expirations of an evl-core [`Timer`], as a `Stream` that waits on the executor.
///
/// Each item is the number of expirations since the previous one (`Ok(1)` when on time,
/// more when ticks were missed); a disarmed timer yields nothing until it is armed again
/// (through [`timer`](TimerTicks::timer), e.g. `ticks.timer().set(..)`). The stream never
/// ends. (For deadlines inside the executor, [`evl::time`](crate::time) needs no fd at all;
/// this is for an element timer, e.g. on another clock.) `!Send`: it belongs to the
/// executor it was created in.
#[derive(Debug)]
pub struct TimerTicks<T: Borrow<Timer> = Timer> {
    // Declared before `timer`: deregistered before the timer's fd closes.
    reg: Registration,
    timer: T,
}

impl<T: Borrow<Timer>> TimerTicks<T> {
    /// Registers the timer's fd with the current executor's reactor.
    ///
    /// Errors: [`ErrorKind::Unsupported`] outside an executor;
    /// [`ErrorKind::CapacityExceeded`] when the reactor's fd slots are taken.
    pub fn new(timer: T) -> Result<Self> {
        let reg = Registration::new(timer.borrow().as_fd(), "TimerTicks::new")?;
        Ok(TimerTicks { reg, timer })
    }

    /// The timer (to arm, re-arm or disarm it).
    pub fn timer(&self) -> &Timer {
        self.timer.borrow()
    }

    /// Deregisters the fd and gives the timer back.
    pub fn into_inner(self) -> T {
        let TimerTicks { reg, timer } = self;
        drop(reg);
        timer
    }

    /// The next expiration count (`Stream::poll_next` as a future). Cancel safety: safe.
    pub async fn next(&mut self) -> Result<u64> {
        let this = &*self;
        poll_fn(|cx| this.poll_tick(cx)).await
    }

    /// `&self` so that pinning does not matter; callers hold `&mut` (one waiter).
    fn poll_tick(&self, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        let timer = self.timer.borrow();
        self.reg
            .poll_io(Direction::Read, cx, "TimerTicks::poll_next", None, || {
                timer.try_read()
            })
    }
}

impl<T: Borrow<Timer>> Stream for TimerTicks<T> {
    type Item = Result<u64>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.into_ref().get_ref().poll_tick(cx).map(Some)
    }
}
