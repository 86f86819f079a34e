use super::{sleep_until, Instant};
use crate::core::{Error, ErrorKind, Result};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

/// What an [`Interval`] does after a tick came late by one period or more.
///
/// With a 10 ms period, ticks due at 10, 20, 30, 40 ms, and a stall until 35 ms:
/// ```text
/// Burst: ticks at 35 (due 10), 35 (due 20), 35 (due 30), 40, 50 ...   catch up at once
/// Delay: tick  at 35 (due 10), then 45, 55 ...                        restart from now
/// Skip:  tick  at 35 (due 10, 2 missed), then 40, 50 ...              stay on the grid
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTicks {
    /// Deliver every missed tick, back to back.
    Burst,
    /// Shift the schedule: the next tick is one period after this late one.
    Delay,
    /// Drop the missed ticks and keep the original grid (the control-loop default).
    #[default]
    Skip,
}

/// One tick: when it was due, how late it came, how many ticks were missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// The deadline this tick was scheduled for.
    pub deadline: Instant,
    /// When the executor saw it due.
    pub now: Instant,
    /// `now - deadline`: the wakeup latency plus any stall.
    pub lateness: Duration,
    /// Whole periods that passed beyond this tick's deadline: ticks skipped (Skip), still to
    /// be delivered at once (Burst), or dropped from the schedule (Delay). No threshold: one
    /// full period late counts.
    pub missed: u64,
}

/// Periodic ticks on an absolute grid. See [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Instant,
    policy: MissedTicks,
    ticks: u64,
    missed: u64,
}

/// Ticks every `period`, the first one `period` from now, with the [`MissedTicks::Skip`]
/// policy. A zero period is an error.
pub fn interval(period: Duration) -> Result<Interval> {
    interval_at(Instant::now() + period, period)
}

/// Ticks every `period` from `start` (the first tick is due at `start`).
pub fn interval_at(start: Instant, period: Duration) -> Result<Interval> {
    if period.is_zero() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "evl::time::interval",
            "the period must be positive",
        ));
    }
    Ok(Interval {
        period,
        next: start,
        policy: MissedTicks::default(),
        ticks: 0,
        missed: 0,
    })
}

impl Interval {
    /// With a missed-tick policy.
    pub fn with_policy(mut self, policy: MissedTicks) -> Self {
        self.policy = policy;
        self
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The deadline of the next tick.
    pub fn next_deadline(&self) -> Instant {
        self.next
    }

    /// Ticks delivered so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Missed ticks counted so far (sum of [`Tick::missed`]).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Waits for the next tick. Cancel safety: dropping the future before it completes
    /// leaves the schedule unchanged.
    pub fn tick(&mut self) -> TickFuture<'_> {
        let sleep = sleep_until(self.next);
        TickFuture {
            interval: self,
            sleep,
        }
    }

    fn advance(&mut self, now: Instant) -> Tick {
        let deadline = self.next;
        let lateness = now.saturating_duration_since(deadline);
        let p = self.period.as_nanos();
        let missed = (lateness.as_nanos() / p).min(u64::MAX as u128) as u64;
        self.next = match self.policy {
            MissedTicks::Burst => deadline + self.period,
            MissedTicks::Delay => now + self.period,
            MissedTicks::Skip => {
                let steps = (missed as u128 + 1).min(u32::MAX as u128) as u32;
                deadline + self.period.saturating_mul(steps)
            }
        };
        self.ticks += 1;
        self.missed += missed;
        Tick {
            deadline,
            now,
            lateness,
            missed,
        }
    }
}

/// The future of [`Interval::tick`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct TickFuture<'a> {
    interval: &'a mut Interval,
    sleep: super::Sleep,
}

impl Future for TickFuture<'_> {
    type Output = Result<Tick>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Tick>> {
        // SAFETY: `sleep` is structurally pinned (never moved out; no Drop on TickFuture);
        // `interval` is a plain reference we may use mutably.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let sleep = unsafe { Pin::new_unchecked(&this.sleep) };
        match sleep.poll_sleep(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(this.interval.advance(Instant::now()))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
