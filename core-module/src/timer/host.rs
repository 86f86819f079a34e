//! Timers on the host backend: a Linux timerfd.

use super::types::Start;
use crate::backend::host::sys;
use crate::error::{Error, ErrorKind, Result};
use crate::thread::types::require_attached;
use crate::time::types::{duration_to_timespec, Clock, Timestamp};
use core::time::Duration;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// A timerfd on one of the two clocks.
#[derive(Debug)]
pub(crate) struct Timer {
    fd: OwnedFd,
}

const ZERO: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

impl Timer {
    pub(crate) fn new(clock: Clock) -> Result<Self> {
        // SAFETY: timerfd_create has no memory effects.
        let fd = unsafe {
            libc::timerfd_create(clock.clockid(), libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        let fd = sys::owned_fd(
            fd,
            "Timer::new",
            "cannot create a timerfd (descriptor limit?)",
        )?;
        Ok(Timer { fd })
    }

    /// Arms the timerfd (the front end has checked the period).
    pub(crate) fn set(&self, start: Start, period: Option<Duration>) -> Result<()> {
        let (flags, value) = match start {
            // An absolute zero would disarm a timerfd: fire at the earliest instant instead.
            Start::At(t) => (
                libc::TFD_TIMER_ABSTIME,
                t.max(Timestamp::from_nanos(1)).to_timespec(),
            ),
            Start::After(d) => (0, duration_to_timespec(d.max(Duration::from_nanos(1)))),
        };
        let spec = libc::itimerspec {
            it_interval: duration_to_timespec(period.unwrap_or(Duration::ZERO)),
            it_value: value,
        };
        self.settime(flags, &spec, "Timer::set")
    }

    /// Disarms the timerfd (which discards pending expirations).
    pub(crate) fn disarm(&self) -> Result<()> {
        let spec = libc::itimerspec {
            it_interval: ZERO,
            it_value: ZERO,
        };
        self.settime(0, &spec, "Timer::disarm")
    }

    fn settime(&self, flags: libc::c_int, spec: &libc::itimerspec, op: &'static str) -> Result<()> {
        // SAFETY: a valid timerfd, a valid itimerspec, null old-value pointer.
        let rc = unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), flags, spec, core::ptr::null_mut())
        };
        if rc != 0 {
            return Err(Error::last_os_error(op, "time out of range for this clock"));
        }
        Ok(())
    }

    /// Waits (polling the timerfd) until it fired or `deadline` passed.
    pub(crate) fn read_until(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<u64> {
        require_attached(op)?;
        loop {
            match self.read_now(op) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            sys::wait_ready(
                self.fd.as_fd(),
                libc::POLLIN,
                deadline,
                op,
                "the timer did not fire before the deadline",
            )?;
        }
    }

    /// The expirations pending, without waiting.
    pub(crate) fn try_read(&self) -> Result<u64> {
        require_attached("Timer::try_read")?;
        self.read_now("Timer::try_read")
    }

    fn read_now(&self, op: &'static str) -> Result<u64> {
        let mut buf = [0u8; 8];
        match sys::read_nb(self.fd.as_fd(), &mut buf, op)? {
            8 => Ok(u64::from_ne_bytes(buf)),
            _ => Err(Error::new(
                ErrorKind::Other,
                op,
                "short read from the timer",
            )),
        }
    }

    /// The time left before the next expiry (`None` when disarmed).
    pub(crate) fn remaining(&self) -> Result<Option<Duration>> {
        let mut cur = libc::itimerspec {
            it_interval: ZERO,
            it_value: ZERO,
        };
        // SAFETY: a valid timerfd and a writable itimerspec.
        if unsafe { libc::timerfd_gettime(self.fd.as_raw_fd(), &mut cur) } != 0 {
            return Err(Error::last_os_error("Timer::remaining", ""));
        }
        let d = Duration::new(cur.it_value.tv_sec as u64, cur.it_value.tv_nsec as u32);
        Ok((d != Duration::ZERO).then_some(d))
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
