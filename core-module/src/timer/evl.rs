//! Timers on the EVL backend: a timer file made by a clock element (`EVL_CLKIOC_NEW_TIMER`),
//! armed and read back with the timerfd requests (`EVL_TFDIOC_SET`/`GET`), its expirations
//! read out-of-band as a `u64`.
//!
//! What the core gives, and how the documented [`Timer`](crate::timer::Timer) API is built on it:
//! - The core only knows absolute first expiries: [`Start::After`] is turned into an absolute
//!   time read from the timer's own clock element (`EVL_CLKIOC_GET_TIME`).
//! - A timer file has no in-band `read`, and its `oob_read` either blocks with no time limit or,
//!   on an `O_NONBLOCK` file, fails with `EAGAIN`. The file is made non-blocking once, so
//!   [`Timer::try_read`] is one `oob_read`; blocking reads (with or without a deadline) wait on
//!   a private poll group watching the timer alone, then read. Reading needs an attached caller.
//! - The core keeps a fired-but-unread expiry across `EVL_TFDIOC_SET`, while the API promises
//!   that re-arming or disarming discards it. An attached caller disarms, drains the pending
//!   expiry with a non-blocking `oob_read`, then arms: exact. A caller that is not attached
//!   cannot issue `oob_read`; then the timer remembers that a stale expiry may be pending, and
//!   the next read checks, from the timer's setting, whether the current setting really fired
//!   before counting it (the poll readiness of such a stale expiry stays visible until read).

use super::types::Start;
use crate::backend::evl::clock::{
    clock_now, duration_to_ns, new_timer_fd, ns_to_timespec, timespec_to_ns,
};
use crate::backend::evl::current::{current, require_attached, NOT_ATTACHED};
use crate::backend::evl::group::Group;
use crate::backend::evl::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::{Clock, Timestamp};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// An EVL timer and what it needs to honour the documented API.
#[derive(Debug)]
pub(crate) struct Timer {
    /// The private poll group blocking reads wait on (declared first: closed first).
    waiter: Group,
    fd: OwnedFd,
    clock: Clock,
    /// Set by a re-arm or disarm that could not drain a pending expiry.
    stale: AtomicBool,
    /// Absolute first expiry of the current setting (ns on `clock`), 0 when disarmed.
    first_ns: AtomicU64,
    /// Period of the current setting (ns), 0 for one-shot.
    period_ns: AtomicU64,
}

impl Timer {
    pub(crate) fn new(clock: Clock) -> Result<Self> {
        const OP: &str = "Timer::new";
        let fd = new_timer_fd(clock, OP)?;
        set_nonblocking(fd.as_raw_fd(), OP)?;
        let waiter = Group::new(fd.as_raw_fd(), 0, OP)?;
        Ok(Timer {
            waiter,
            fd,
            clock,
            stale: AtomicBool::new(false),
            first_ns: AtomicU64::new(0),
            period_ns: AtomicU64::new(0),
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn set_raw(&self, spec: &abi36::EvlItimerspec, op: &'static str) -> Result<()> {
        let req = abi36::EvlTimerfdSetReq {
            value_ptr: spec as *const abi36::EvlItimerspec as u64,
            ovalue_ptr: 0,
        };
        // SAFETY: EVL_TFDIOC_SET reads one EvlTimerfdSetReq at the address passed, `req`, and
        // the EvlItimerspec it points to, `spec`; both live for the call; no old value is
        // asked for (null `ovalue_ptr`). The request is served on both stages.
        unsafe { sys::ioctl_here(self.raw(), abi36::EVL_TFDIOC_SET, &req as *const _ as usize) }
            .map(|_| ())
            .map_err(|e| Error::from_errno(e, op, "time out of range for this clock"))
    }

    fn get_raw(&self, op: &'static str) -> Result<abi36::EvlItimerspec> {
        let mut cur = abi36::EvlItimerspec::default();
        // SAFETY: EVL_TFDIOC_GET writes one EvlItimerspec at the address passed, `cur`, live
        // and writable for the call; served on both stages.
        unsafe {
            sys::ioctl_here(
                self.raw(),
                abi36::EVL_TFDIOC_GET,
                &mut cur as *mut _ as usize,
            )
        }
        .map_err(|e| Error::from_errno(e, op, "the core refused to read the timer"))?;
        Ok(cur)
    }

    /// Disarms, then discards a fired-but-unread expiry (exactly when the caller is
    /// attached; see the module notes otherwise).
    fn stop_and_drain(&self, op: &'static str) -> Result<()> {
        self.set_raw(&abi36::EvlItimerspec::default(), op)?;
        if current().is_some() {
            let mut buf = [0u8; 8];
            // The file is non-blocking: this returns at once, with EAGAIN when nothing was
            // pending. Nothing can fire any more, so one read empties it.
            match sys::oob_read(self.raw(), &mut buf) {
                Ok(_) | Err(libc::EAGAIN) => {}
                Err(e) => return Err(Error::from_errno(e, op, "cannot drain the timer")),
            }
            self.stale.store(false, Ordering::Release);
        } else {
            self.stale.store(true, Ordering::Release);
        }
        Ok(())
    }

    pub(crate) fn set(&self, start: Start, period: Option<Duration>) -> Result<()> {
        const OP: &str = "Timer::set";
        // A zero first expiry would disarm: fire at the earliest instant instead.
        let first = match start {
            Start::At(t) => t.as_nanos().max(1),
            Start::After(d) => clock_now(self.clock, OP)?.saturating_add(duration_to_ns(d).max(1)),
        };
        let period = period.map_or(0, duration_to_ns);
        if period >= i64::MAX as u64 || first >= i64::MAX as u64 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "time out of range for this clock",
            ));
        }
        let spec = abi36::EvlItimerspec {
            it_interval: ns_to_timespec(period),
            it_value: ns_to_timespec(first),
        };
        self.stop_and_drain(OP)?;
        self.first_ns.store(first, Ordering::Release);
        self.period_ns.store(period, Ordering::Release);
        self.set_raw(&spec, OP)
    }

    pub(crate) fn disarm(&self) -> Result<()> {
        const OP: &str = "Timer::disarm";
        self.first_ns.store(0, Ordering::Release);
        self.period_ns.store(0, Ordering::Release);
        self.stop_and_drain(OP)
    }

    /// One non-blocking read: `Ok(Some(n))`, `Ok(None)` when nothing is pending.
    fn read_once(&self, op: &'static str) -> Result<Option<u64>> {
        let mut buf = [0u8; 8];
        match sys::oob_read(self.raw(), &mut buf) {
            Ok(8) => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Other,
                    op,
                    "short read from the timer",
                ));
            }
            Err(libc::EAGAIN) => return Ok(None),
            Err(libc::EPERM) => {
                return Err(Error::new(ErrorKind::PermissionDenied, op, NOT_ATTACHED));
            }
            Err(e) => return Err(Error::from_errno(e, op, "")),
        }
        let n = u64::from_ne_bytes(buf);
        if self.stale.swap(false, Ordering::AcqRel) && !self.current_setting_fired(op)? {
            // The expiry read was left over from a setting replaced by a caller that could
            // not drain it: the documented API says it was discarded.
            return Ok(None);
        }
        Ok(Some(n))
    }

    /// Whether the current setting has expired at least once (used only to tell a stale
    /// expiry from a fresh one).
    fn current_setting_fired(&self, op: &'static str) -> Result<bool> {
        let first = self.first_ns.load(Ordering::Acquire);
        if first == 0 {
            return Ok(false); // disarmed: nothing of the current setting can have fired
        }
        let cur = self.get_raw(op)?;
        let left = timespec_to_ns(&cur.it_value);
        if left == 0 {
            return Ok(true); // a one-shot no longer running has fired
        }
        let period = self.period_ns.load(Ordering::Acquire);
        if period == 0 {
            return Ok(false); // a one-shot still running has not
        }
        // Periodic: it fired once its next expiry is past the first one.
        let next = clock_now(self.clock, op)?.saturating_add(left);
        Ok(next > first.saturating_add(period / 2))
    }

    pub(crate) fn try_read(&self) -> Result<u64> {
        const OP: &str = "Timer::try_read";
        require_attached(OP)?;
        self.read_once(OP)?.ok_or(Error::new(
            ErrorKind::WouldBlock,
            OP,
            "the timer has not expired since the last read",
        ))
    }

    pub(crate) fn read_until(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<u64> {
        require_attached(op)?;
        let mut ev = [abi36::EvlPollEvent::default(); 1];
        loop {
            if let Some(n) = self.read_once(op)? {
                return Ok(n);
            }
            match self.waiter.wait_raw(&mut ev, deadline) {
                Ok(_) => {}
                Err(libc::ETIMEDOUT) => {
                    return Err(Error::new(
                        ErrorKind::TimedOut,
                        op,
                        "the timer did not fire before the deadline",
                    ))
                }
                Err(e) => return Err(Error::from_errno(e, op, "waiting for the timer failed")),
            }
        }
    }

    pub(crate) fn remaining(&self) -> Result<Option<Duration>> {
        let cur = self.get_raw("Timer::remaining")?;
        let left = timespec_to_ns(&cur.it_value);
        Ok((left != 0).then(|| Duration::from_nanos(left)))
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Makes `fd` non-blocking (its `oob_read` then fails with `EAGAIN` instead of waiting).
fn set_nonblocking(fd: RawFd, op: &'static str) -> Result<()> {
    // SAFETY: fcntl F_GETFL/F_SETFL on an open descriptor touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: fcntl F_SETFL on an open descriptor with an integer argument touches no memory.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(Error::last_os_error(
            op,
            "cannot make the timer non-blocking",
        ));
    }
    Ok(())
}
