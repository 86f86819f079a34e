use super::Instant;
use crate::core::{Error, ErrorKind, Result};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use evl_reactor::timer::Entry;
use evl_reactor::Reactor;
use pin_project_lite::pin_project;
use std::cell::Cell;

/// Waits until `deadline`.
///
/// Cancel safety: dropping it disarms the timer; nothing is lost.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        entry: Entry::new(),
        deadline: Cell::new(deadline),
        reactor: Cell::new(core::ptr::null()),
        armed_in: Cell::new(0),
    }
}

/// Waits for `d` from now.
pub fn sleep(d: Duration) -> Sleep {
    sleep_until(Instant::now() + d)
}

pin_project! {
    /// A future that completes at its deadline; `Ok(())`, or an error when the timer could
    /// not be armed (capacity, no executor).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    #[project_ref = SleepRef]
    pub struct Sleep {
        // Pinned: the reactor's wheel points to it while it is armed.
        #[pin]
        entry: Entry,
        deadline: Cell<Instant>,
        // The reactor the entry is armed in: its wheel outlives the arming (a dropped wheel
        // disarms every entry), and the reactor is boxed in its executor, so while the entry
        // is armed this pointer is valid; Sleep is `!Send`, so it is used on that thread only.
        reactor: Cell<*const Reactor>,
        // The id of the reactor the entry was last armed in (0: never armed).
        armed_in: Cell<u64>,
    }

    impl PinnedDrop for Sleep {
        fn drop(this: Pin<&mut Self>) {
            this.disarm();
        }
    }
}

impl Sleep {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline.get()
    }

    /// Moves the deadline (re-arms on the next poll).
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.deadline.set(deadline);
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline.get()
    }

    fn disarm(&self) {
        if self.entry.is_queued() {
            let r = self.reactor.get();
            debug_assert!(!r.is_null());
            // SAFETY: the entry is armed, so the reactor it was armed in is alive at this
            // address (see the field's doc), and we are on its thread.
            unsafe { (*r).cancel(&self.entry) };
        }
    }

    /// When the current reactor fired this sleep's entry (armed there for the present
    /// deadline, and no longer queued): the clock read of its last turn, which is at or after
    /// the deadline. `None` when it did not (never armed, moved, or another reactor).
    fn fired_at(&self) -> Option<Instant> {
        let id = self.armed_in.get();
        let deadline = self.deadline.get();
        if id == 0 || self.entry.is_queued() || self.entry.deadline() != deadline.as_nanos() {
            return None;
        }
        let now = evl_reactor::with_current(|r| (r.id() == id).then(|| r.last_now()))??;
        (now >= deadline.as_nanos())
            .then(|| Instant::from_timestamp(crate::Timestamp::from_nanos(now)))
    }

    /// `Ready` with the instant the deadline was seen passed: the firing reactor's clock read
    /// (no new read) when the entry fired, else a clock read.
    pub(crate) fn poll_sleep(self: Pin<&Self>, cx: &mut Context<'_>) -> Poll<Result<Instant>> {
        let deadline = self.deadline.get();
        if let Some(at) = self.fired_at() {
            self.entry.take_waker();
            return Poll::Ready(Ok(at));
        }
        let now = Instant::now();
        if now >= deadline {
            self.disarm();
            self.entry.take_waker();
            return Poll::Ready(Ok(now));
        }
        let armed = evl_reactor::with_current(|r| {
            self.entry.register(cx.waker());
            if self.entry.is_queued()
                && self.entry.deadline() == deadline.as_nanos()
                && core::ptr::eq(self.reactor.get(), r)
            {
                return Ok(());
            }
            self.disarm();
            let entry = self.project_ref().entry;
            // SAFETY: the entry is pinned inside this Sleep, which disarms it on drop (and on
            // re-arm above), so it stays alive at its address while armed.
            match unsafe { r.arm(entry, deadline.as_nanos()) } {
                Ok(()) => {
                    self.reactor.set(r);
                    self.armed_in.set(r.id());
                    Ok(())
                }
                Err(full) => Err(Error::new(
                    ErrorKind::CapacityExceeded,
                    "evl::time::sleep",
                    if full.capacity() == 0 {
                        "this executor has no timer capacity: set ExecutorConfig::timers"
                    } else {
                        "too many timers armed at once: raise the executor's ExecutorConfig::timers"
                    },
                )),
            }
        });
        match armed {
            Some(Ok(())) => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => Poll::Ready(Err(Error::new(
                ErrorKind::Unsupported,
                "evl::time::sleep",
                "timers are served by an evl executor: await them inside Executor::block_on or a spawned task",
            ))),
        }
    }
}

impl Future for Sleep {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.into_ref().poll_sleep(cx).map_ok(|_| ())
    }
}

/// Runs `fut` until `deadline`: its output, or [`ErrorKind::TimedOut`].
pub fn timeout_at<F: Future>(deadline: Instant, fut: F) -> Timeout<F> {
    Timeout {
        fut,
        sleep: sleep_until(deadline),
    }
}

/// Runs `fut` for at most `d`: its output, or [`ErrorKind::TimedOut`].
///
/// Cancel safety: as `fut`'s; the timer is disarmed on drop.
pub fn timeout<F: Future>(d: Duration, fut: F) -> Timeout<F> {
    timeout_at(Instant::now() + d, fut)
}

pin_project! {
    /// See [`timeout`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        fut: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match this.sleep.into_ref().poll_sleep(cx) {
            Poll::Ready(Ok(_)) => Poll::Ready(Err(Error::new(
                ErrorKind::TimedOut,
                "evl::time::timeout",
                "",
            ))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
