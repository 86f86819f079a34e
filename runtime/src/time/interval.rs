use super::{sleep_until, Instant};
use crate::core::{Error, ErrorKind, Result, Timestamp};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use pin_project_lite::pin_project;

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
    /// When the executor saw it due: the clock read its reactor made after the wait that
    /// ended at the deadline (the turn that fired the timer; no further read is made), or
    /// the read at the poll when the tick was already due then.
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
        let (next, missed) = schedule(
            self.policy,
            deadline.as_nanos(),
            now.as_nanos(),
            self.period.as_nanos(),
        );
        self.next = Instant::from_timestamp(Timestamp::from_nanos(next));
        self.ticks += 1;
        self.missed = self.missed.saturating_add(missed);
        Tick {
            deadline,
            now,
            lateness: now.saturating_duration_since(deadline),
            missed,
        }
    }
}

/// The schedule after a tick due at `deadline` was seen at `now` (ns on the monotonic clock),
/// for a `period` of at least 1 ns: the next deadline, and the whole periods missed (saturated
/// at `u64::MAX`). Exact for any stall: the arithmetic is in `u128`, and a deadline past the
/// end of time saturates there (a timer that never fires).
///
/// - Burst: the next grid point after `deadline`.
/// - Delay: `now + period`.
/// - Skip: the first grid point strictly after `now` (`deadline + (missed + 1) * period`).
fn schedule(policy: MissedTicks, deadline: u64, now: u64, period: u128) -> (u64, u64) {
    let period = period.max(1);
    let late = u128::from(now.saturating_sub(deadline));
    // The common case, a tick less than a period late, needs no 128-bit division.
    let missed = if late < period { 0 } else { late / period };
    let next = match policy {
        MissedTicks::Burst => u128::from(deadline) + period,
        MissedTicks::Delay => u128::from(now) + period,
        // missed * period <= late < 2^64 and period < 2^95: no overflow in u128.
        MissedTicks::Skip => u128::from(deadline) + (missed + 1) * period,
    };
    (
        u64::try_from(next).unwrap_or(u64::MAX),
        u64::try_from(missed).unwrap_or(u64::MAX),
    )
}

pin_project! {
    /// The future of [`Interval::tick`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct TickFuture<'a> {
        interval: &'a mut Interval,
        #[pin]
        sleep: super::Sleep,
    }
}

impl Future for TickFuture<'_> {
    type Output = Result<Tick>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Tick>> {
        let this = self.project();
        match this.sleep.into_ref().poll_sleep(cx) {
            // `now`: when the executor saw the tick due (the reactor's clock read after its
            // wait, when it fired the timer): no further clock read.
            Poll::Ready(Ok(now)) => Poll::Ready(Ok(this.interval.advance(now))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKIP: MissedTicks = MissedTicks::Skip;

    #[test]
    fn skip_lands_on_the_first_grid_point_after_now() {
        // On time, late by less than a period, exactly on a grid point, between two.
        assert_eq!(schedule(SKIP, 100, 100, 10), (110, 0));
        assert_eq!(schedule(SKIP, 100, 109, 10), (110, 0));
        assert_eq!(schedule(SKIP, 100, 110, 10), (120, 1));
        assert_eq!(schedule(SKIP, 100, 135, 10), (140, 3));
        // Seen early (a clock read before the deadline): the next period.
        assert_eq!(schedule(SKIP, 100, 90, 10), (110, 0));
    }

    #[test]
    fn skip_keeps_the_grid_after_stalls_longer_than_2_pow_32_periods() {
        for (period, stall) in [
            (1u128, (1u64 << 32) + 5),
            (1, 1 << 40),
            (3, (1 << 34) + 2),
            (7, u64::MAX / 2),
        ] {
            let deadline = 1_000;
            let now = deadline + stall;
            let (next, missed) = schedule(SKIP, deadline, now, period);
            let p = period as u64;
            assert!(
                next > now,
                "period {period}, stall {stall}: {next} <= {now}"
            );
            assert!(next - p <= now, "not the first grid point after now");
            assert_eq!((next - deadline) % p, 0, "off the grid");
            assert_eq!(missed, stall / p);
        }
    }

    #[test]
    fn the_end_of_time_saturates() {
        // A grid point past u64::MAX: the next deadline is the end of time (never fires).
        assert_eq!(schedule(SKIP, u64::MAX - 5, u64::MAX, 10).0, u64::MAX);
        assert_eq!(
            schedule(MissedTicks::Burst, u64::MAX - 1, u64::MAX, 1 << 80).0,
            u64::MAX
        );
        assert_eq!(
            schedule(MissedTicks::Delay, 0, u64::MAX, 2),
            (u64::MAX, u64::MAX / 2)
        );
        // The largest Duration (about 2^94 ns) does not overflow.
        let huge = Duration::MAX.as_nanos();
        assert_eq!(schedule(SKIP, 0, u64::MAX, huge), (u64::MAX, 0));
    }

    #[test]
    fn burst_and_delay() {
        assert_eq!(schedule(MissedTicks::Burst, 100, 135, 10), (110, 3));
        assert_eq!(schedule(MissedTicks::Delay, 100, 135, 10), (145, 3));
    }
}
