//! Timers (EVL: a timer element on a clock; host: timerfd).

use crate::backend::host::sys;
use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::time::{duration_to_timespec, Clock, Timestamp};
use core::time::Duration;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// When a timer first fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this absolute time on the timer's clock.
    At(Timestamp),
    /// This long from now.
    After(Duration),
}

/// An fd-backed timer on a [`Clock`]: one-shot, or periodic with overruns counted.
///
/// [`read`](Timer::read) returns how many times the timer expired since the last read (more
/// than 1 means ticks were missed: the reader was late). The fd is readable while expirations
/// are pending, so a reactor can wait on it among other fds.
#[derive(Debug)]
pub struct Timer {
    clock: Clock,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(OwnedFd),
    Evl(crate::backend::evl::timer::Timer),
}

impl Timer {
    /// A disarmed timer on `clock`.
    pub fn new(clock: Clock) -> Result<Self> {
        const OP: &str = "Timer::new";
        match backend::current()? {
            Backend::Host => {
                // SAFETY: timerfd_create has no memory effects.
                let fd = unsafe {
                    libc::timerfd_create(clock.clockid(), libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
                };
                let fd = sys::owned_fd(fd, OP, "cannot create a timerfd (descriptor limit?)")?;
                Ok(Timer {
                    clock,
                    inner: Inner::Host(fd),
                })
            }
            Backend::Evl => Ok(Timer {
                clock,
                inner: Inner::Evl(crate::backend::evl::timer::Timer::new(clock)?),
            }),
        }
    }

    /// The clock the timer runs on.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Arms the timer: first expiry at `start`, then every `period` if given. Re-arming
    /// replaces the previous setting and discards pending expirations. A zero period is
    /// rejected (use `None` for one-shot); a start in the past fires at once.
    pub fn set(&self, start: Start, period: Option<Duration>) -> Result<()> {
        const OP: &str = "Timer::set";
        if period == Some(Duration::ZERO) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "a periodic timer needs a non-zero period; pass None for one-shot",
            ));
        }
        if let Inner::Evl(t) = &self.inner {
            return t.set(start, period);
        }
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
        self.settime(flags, &spec, OP)
    }

    /// Disarms the timer and discards pending expirations.
    pub fn disarm(&self) -> Result<()> {
        if let Inner::Evl(t) = &self.inner {
            return t.disarm();
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        self.settime(
            0,
            &libc::itimerspec {
                it_interval: zero,
                it_value: zero,
            },
            "Timer::disarm",
        )
    }

    /// Sets a host timerfd (EVL timers are set by their backend, see `set` and `disarm`).
    fn settime(&self, flags: libc::c_int, spec: &libc::itimerspec, op: &'static str) -> Result<()> {
        let fd = match &self.inner {
            Inner::Host(fd) => fd,
            Inner::Evl(_) => return Err(Error::new(ErrorKind::Other, op, "not a host timer")),
        };
        // SAFETY: a valid timerfd, a valid itimerspec, null old-value pointer.
        let rc =
            unsafe { libc::timerfd_settime(fd.as_raw_fd(), flags, spec, core::ptr::null_mut()) };
        if rc != 0 {
            return Err(Error::last_os_error(op, "time out of range for this clock"));
        }
        Ok(())
    }

    /// Waits for the next expiry; returns the expirations since the last read (>= 1).
    pub fn read(&self) -> Result<u64> {
        self.read_until_inner(None, "Timer::read")
    }

    /// As [`read`](Timer::read), until the absolute monotonic `deadline` at most.
    pub fn read_until(&self, deadline: Timestamp) -> Result<u64> {
        self.read_until_inner(Some(deadline), "Timer::read_until")
    }

    fn read_until_inner(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<u64> {
        if let Inner::Evl(t) = &self.inner {
            return t.read_until(deadline, op);
        }
        crate::thread::require_attached(op)?;
        loop {
            match self.try_read() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            sys::wait_ready(
                self.as_fd(),
                libc::POLLIN,
                deadline,
                op,
                "the timer did not fire before the deadline",
            )?;
        }
    }

    /// The expirations pending, without waiting ([`ErrorKind::WouldBlock`] when none).
    pub fn try_read(&self) -> Result<u64> {
        if let Inner::Evl(t) = &self.inner {
            return t.try_read();
        }
        crate::thread::require_attached("Timer::try_read")?;
        let mut buf = [0u8; 8];
        match sys::read_nb(self.as_fd(), &mut buf, "Timer::try_read")? {
            8 => Ok(u64::from_ne_bytes(buf)),
            _ => Err(Error::new(
                ErrorKind::Other,
                "Timer::try_read",
                "short read from the timer",
            )),
        }
    }

    /// The time left before the next expiry (`None` when disarmed).
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match &self.inner {
            Inner::Host(fd) => {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let mut cur = libc::itimerspec {
                    it_interval: zero,
                    it_value: zero,
                };
                // SAFETY: a valid timerfd and a writable itimerspec.
                if unsafe { libc::timerfd_gettime(fd.as_raw_fd(), &mut cur) } != 0 {
                    return Err(Error::last_os_error("Timer::remaining", ""));
                }
                let d = Duration::new(cur.it_value.tv_sec as u64, cur.it_value.tv_nsec as u32);
                Ok((d != Duration::ZERO).then_some(d))
            }
            Inner::Evl(t) => t.remaining(),
        }
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(fd) => fd.as_fd(),
            Inner::Evl(t) => t.as_fd(),
        }
    }
}
