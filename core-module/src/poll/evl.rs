//! Poll sets on the EVL backend: each `open(2)` of `/dev/evl/poll` is a poll group, changed and
//! waited on with out-of-band ioctls only (`EVL_POLIOC_CTL`, `EVL_POLIOC_WAIT`). The group,
//! its registration table and its lock are [`crate::backend::evl::group`] (timers and xbufs
//! wait on private groups too); this file is the set's API on it.
//!
//! What the core gives, and how the documented [`PollSet`](crate::poll::PollSet) API is built on it:
//! - Only EVL files can be watched (the core answers `EBADF` for any other descriptor): such
//!   an `add` fails with [`ErrorKind::Unsupported`] and a hint naming the Proxy bridge. EVL
//!   files without an out-of-band poll handler are reported ready at all times by the core.
//! - Events are the `POLL*` bits; ERR and HUP are always watched, as with epoll. `POLLNVAL`
//!   (a watched file closed during the wait) is reported as ERR|HUP.
//! - The core has no ONESHOT: it is emulated here. The set keeps a table of its
//!   registrations; a ONESHOT registration is taken out of the core's group when it is
//!   reported (at most once, even with concurrent waiters) and put back by `modify`.
//! - A wait on an empty group fails in the core (`EINVAL`): every set holds a private
//!   sentinel (a timer that is never armed), so an empty set waits until its deadline as
//!   epoll does.
//! - The wait timeout is an absolute time on the monotonic clock, with a zero time meaning
//!   "no timeout": `None` is passed as zero, and a deadline at time zero as 1 ns (past, so
//!   it returns at once). A timeout is 0 events, as with epoll.
//! - The core caches, per thread, the watch table built by the last wait, keyed by the
//!   group's generation number only (bumped on every change of that group), not by the
//!   group: a thread moving from one group to another whose generation happens to be equal
//!   would be served the first group's table. Each group here mirrors its generation, each
//!   thread remembers the group (and generation) it last waited on, and a wait on a different
//!   group whose generation may collide first bumps it with a no-op change of the sentinel.
//! - A descriptor closed while still in a group makes the core fail every wait with `EBADF`
//!   (epoll forgets it): the set then drops the registrations whose descriptor is closed
//!   and waits again.
//! - Every change and wait needs a caller attached to the core ([`ErrorKind::PermissionDenied`]
//!   otherwise).
//! - The registration table is sized when the set is made ([`PollSet::with_capacity`]) and
//!   never grows: a registration past its size is [`ErrorKind::CapacityExceeded`], never an
//!   allocation. It (and the serialisation of changes, which keeps the generation mirror
//!   exact) is guarded by a [`RawLock`]: uncontended one compare-and-swap; contended (two
//!   threads changing or waiting on one set, or on one private group, at once) the later
//!   thread sleeps out-of-band in short steps until the holder is done with its few
//!   out-of-band calls. Every caller is attached, so the wait never leaves the out-of-band
//!   stage; there is no priority inheritance, so a set shared between threads of different
//!   priorities can delay the higher one by the lower one's preemption. A set is normally
//!   used by the one thread that owns it (an executor's reactor): then the lock is never
//!   contended.

use super::types::{PollEvent, PollFlags};
use crate::backend::evl::abi36;
use crate::backend::evl::clock::new_timer_fd;
use crate::backend::evl::current::{require_attached, NOT_ATTACHED};
use crate::backend::evl::group::{Group, Refused, Reg};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::{Clock, Timestamp};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Events taken from the core per wait (on the stack).
const BATCH: usize = 64;

/// How each condition the core knows maps to the core's `POLL*` bits (ONESHOT and EDGE are
/// not the core's: ONESHOT is handled here, EDGE refused by the front end).
const CORE_BITS: [(PollFlags, u32); 6] = [
    (PollFlags::IN, (libc::POLLIN | libc::POLLRDNORM) as u32),
    (PollFlags::OUT, (libc::POLLOUT | libc::POLLWRNORM) as u32),
    (PollFlags::PRI, libc::POLLPRI as u32),
    (PollFlags::ERR, libc::POLLERR as u32),
    (PollFlags::HUP, libc::POLLHUP as u32),
    (PollFlags::RDHUP, libc::POLLRDHUP as u32),
];

/// The core's `POLL*` bits for `f`.
fn to_poll(f: PollFlags) -> u32 {
    CORE_BITS
        .iter()
        .filter(|(flag, _)| f.intersects(*flag))
        .fold(0, |b, (_, bits)| b | bits)
}

/// The [`PollFlags`] for the core's `POLL*` bits (`POLLNVAL`, a watched file closed during
/// the wait, reads as ERR|HUP).
fn from_poll(b: u32) -> PollFlags {
    let nval = if b & libc::POLLNVAL as u32 != 0 {
        PollFlags::ERR | PollFlags::HUP
    } else {
        PollFlags::empty()
    };
    CORE_BITS
        .iter()
        .filter(|(_, bits)| b & bits != 0)
        .fold(nval, |f, (flag, _)| f | *flag)
}

/// Whether `fd` is an open descriptor (an in-band `fcntl`: used on error paths only).
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD touches no memory; on a closed descriptor it fails with EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// A poll set on the core.
#[derive(Debug)]
pub(crate) struct PollSet {
    /// Declared first: the group is closed before its sentinel.
    group: Group,
    _sentinel: OwnedFd,
}

impl PollSet {
    /// A set with room for `room` registrations (the sentinel is extra).
    pub(crate) fn with_capacity(room: usize) -> Result<Self> {
        const OP: &str = "PollSet::with_capacity";
        let sentinel = new_timer_fd(Clock::Monotonic, OP)?;
        let group = Group::new(sentinel.as_raw_fd(), room, OP)?;
        Ok(PollSet {
            group,
            _sentinel: sentinel,
        })
    }

    fn ctl_error(e: i32, fd: RawFd, op: &'static str) -> Error {
        match e {
            libc::EPERM => Error::new(ErrorKind::PermissionDenied, op, NOT_ATTACHED),
            libc::EBADF if is_open(fd) => Error::new(
                ErrorKind::Unsupported,
                op,
                "only EVL elements can be polled out-of-band; bridge ordinary fds through a Proxy",
            ),
            libc::EBADF => Error::from_errno(e, op, "not an open file descriptor"),
            libc::ELOOP => Error::from_errno(
                e,
                op,
                "poll sets would watch each other in a loop, or nest more than 4 deep",
            ),
            libc::EEXIST => Error::from_errno(e, op, "this fd is already in the set: use modify"),
            libc::ENOENT => Error::from_errno(e, op, "this fd is not in the set: add it first"),
            _ => Error::from_errno(e, op, ""),
        }
    }

    pub(crate) fn add(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        const OP: &str = "PollSet::add";
        require_attached(OP)?;
        let fd = fd.as_raw_fd();
        let mut st = self.group.lock();
        let st = &mut *st;
        match st.admit(fd, self.group.anchor) {
            Ok(()) => {}
            Err(Refused::Exists) => return Err(Self::ctl_error(libc::EEXIST, fd, OP)),
            Err(Refused::Full) => {
                return Err(Error::new(
                    ErrorKind::CapacityExceeded,
                    OP,
                    "the poll set is full: make it with PollSet::with_capacity for more fds",
                ))
            }
        }
        self.group
            .ensure_anchor(st)
            .map_err(|e| Error::from_errno(e, OP, "cannot set up the poll set"))?;
        self.group
            .ctl(st, abi36::EVL_POLL_CTLADD, fd, to_poll(events), token)
            .map_err(|e| Self::ctl_error(e, fd, OP))?;
        st.regs.push(Reg {
            fd,
            token,
            events,
            parked: false,
        });
        Ok(())
    }

    pub(crate) fn modify(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        const OP: &str = "PollSet::modify";
        require_attached(OP)?;
        let fd = fd.as_raw_fd();
        let mut st = self.group.lock();
        let st = &mut *st;
        let Some(i) = st.regs.iter().position(|r| r.fd == fd) else {
            return Err(Self::ctl_error(libc::ENOENT, fd, OP));
        };
        let action = if st.regs[i].parked {
            abi36::EVL_POLL_CTLADD
        } else {
            abi36::EVL_POLL_CTLMOD
        };
        self.group
            .ctl(st, action, fd, to_poll(events), token)
            .map_err(|e| Self::ctl_error(e, fd, OP))?;
        st.regs[i] = Reg {
            fd,
            token,
            events,
            parked: false,
        };
        Ok(())
    }

    pub(crate) fn remove(&self, fd: BorrowedFd<'_>) -> Result<()> {
        const OP: &str = "PollSet::remove";
        require_attached(OP)?;
        let fd = fd.as_raw_fd();
        let mut st = self.group.lock();
        let st = &mut *st;
        let Some(i) = st.regs.iter().position(|r| r.fd == fd) else {
            return Err(Self::ctl_error(libc::ENOENT, fd, OP));
        };
        if !st.regs[i].parked {
            match self.group.ctl(st, abi36::EVL_POLL_CTLDEL, fd, 0, 0) {
                Ok(()) | Err(libc::ENOENT) => {}
                Err(e) => return Err(Self::ctl_error(e, fd, OP)),
            }
        }
        st.regs.swap_remove(i);
        Ok(())
    }

    /// Drops the registrations whose descriptor was closed; true if there were any.
    fn prune_closed(&self) -> bool {
        let mut st = self.group.lock();
        let st = &mut *st;
        let mut pruned = false;
        let mut i = 0;
        while i < st.regs.len() {
            let r = st.regs[i];
            if is_open(r.fd) {
                i += 1;
                continue;
            }
            if !r.parked {
                let _ = self.group.ctl(st, abi36::EVL_POLL_CTLDEL, r.fd, 0, 0);
            }
            st.regs.swap_remove(i);
            pruned = true;
        }
        pruned
    }

    pub(crate) fn wait(&self, out: &mut [PollEvent], deadline: Option<Timestamp>) -> Result<usize> {
        const OP: &str = "PollSet::wait";
        require_attached(OP)?;
        let mut raw = [abi36::EvlPollEvent::default(); BATCH];
        let max = out.len().min(BATCH);
        loop {
            let n = match self.group.wait_raw(&mut raw[..max], deadline) {
                Ok(n) => n,
                Err(libc::ETIMEDOUT) => return Ok(0),
                Err(libc::EPERM) => {
                    return Err(Error::new(ErrorKind::PermissionDenied, OP, NOT_ATTACHED))
                }
                Err(libc::EBADF) if self.prune_closed() => continue,
                Err(libc::EBADF) => {
                    return Err(Error::from_errno(
                        libc::EBADF,
                        OP,
                        "a descriptor in the set was closed and its number reused by a file \
the core cannot poll: remove fds from a set before closing them",
                    ))
                }
                Err(libc::EIDRM) => {
                    return Err(Error::new(ErrorKind::Closed, OP, "the poll set was closed"))
                }
                Err(e) => return Err(Error::from_errno(e, OP, "")),
            };
            let mut k = 0;
            if n > 0 {
                let mut st = self.group.lock();
                let st = &mut *st;
                for ev in &raw[..n] {
                    let fd = ev.fd as RawFd;
                    if fd == self.group.anchor {
                        continue;
                    }
                    // Removed meanwhile, or ONESHOT and already reported to another waiter.
                    let Some(i) = st.regs.iter().position(|r| r.fd == fd && !r.parked) else {
                        continue;
                    };
                    let r = st.regs[i];
                    if r.events.contains(PollFlags::ONESHOT)
                        && self.group.ctl(st, abi36::EVL_POLL_CTLDEL, fd, 0, 0).is_ok()
                    {
                        st.regs[i].parked = true;
                    }
                    out[k] = PollEvent {
                        token: r.token,
                        ready: from_poll(ev.events),
                    };
                    k += 1;
                }
            }
            if k > 0 {
                return Ok(k);
            }
            // Nothing left for the caller: wait again, unless the deadline has passed.
            if deadline.is_some_and(|d| Clock::Monotonic.now() >= d) {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_bits_round_trip_and_nval_reads_as_err_hup() {
        let all = PollFlags::IN
            | PollFlags::OUT
            | PollFlags::PRI
            | PollFlags::ERR
            | PollFlags::HUP
            | PollFlags::RDHUP;
        assert_eq!(from_poll(to_poll(all)), all);
        assert_eq!(
            to_poll(PollFlags::IN | PollFlags::ONESHOT),
            (libc::POLLIN | libc::POLLRDNORM) as u32,
            "ONESHOT is not the core's"
        );
        assert_eq!(from_poll(libc::POLLRDNORM as u32), PollFlags::IN);
        assert_eq!(
            from_poll(libc::POLLNVAL as u32),
            PollFlags::ERR | PollFlags::HUP
        );
        assert_eq!(from_poll(0), PollFlags::NONE);
    }
}
