//! Poll sets (EVL: the oob poll element; host: epoll).

use crate::backend::host::sys;
use crate::backend::{self, Backend};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::{duration_to_timespec, Clock, Timestamp};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// Readiness conditions, as `poll(2)` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PollFlags(u32);

impl PollFlags {
    /// Readable (or a semaphore/flags/timer that would not block).
    pub const IN: PollFlags = PollFlags(libc::EPOLLIN as u32);
    /// Writable.
    pub const OUT: PollFlags = PollFlags(libc::EPOLLOUT as u32);
    /// Urgent data.
    pub const PRI: PollFlags = PollFlags(libc::EPOLLPRI as u32);
    /// Error (always reported).
    pub const ERR: PollFlags = PollFlags(libc::EPOLLERR as u32);
    /// Hang-up (always reported).
    pub const HUP: PollFlags = PollFlags(libc::EPOLLHUP as u32);
    /// Peer closed its writing end.
    pub const RDHUP: PollFlags = PollFlags(libc::EPOLLRDHUP as u32);
    /// Report once, then stay silent until re-armed with [`PollSet::modify`] (so a ready fd
    /// nobody is waiting for cannot make a waiter spin).
    pub const ONESHOT: PollFlags = PollFlags(libc::EPOLLONESHOT as u32);
    /// Edge-triggered: report when a condition becomes true, not while it is (host only:
    /// the EVL core's poll sets are level-triggered; see [`PollSet::supports_edge`]).
    pub const EDGE: PollFlags = PollFlags(libc::EPOLLET as u32);
    /// No condition.
    pub const NONE: PollFlags = PollFlags(0);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// Whether every condition of `other` is in `self`.
    pub const fn contains(self, other: PollFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any condition of `other` is in `self`.
    pub const fn intersects(self, other: PollFlags) -> bool {
        self.0 & other.0 != 0
    }
    /// Whether no condition is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for PollFlags {
    type Output = PollFlags;
    fn bitor(self, rhs: PollFlags) -> PollFlags {
        PollFlags(self.0 | rhs.0)
    }
}

/// One ready entry: the token given at [`PollSet::add`] and what is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollEvent {
    /// The caller's token for the fd.
    pub token: u64,
    /// The ready conditions.
    pub ready: PollFlags,
}

/// A set of fds waited on together: one call returns every ready one.
///
/// # Size
/// On the EVL backend a set keeps a table of its registrations (the core has no ONESHOT, and
/// a closed fd must be found again), sized when the set is made: [`PollSet::with_capacity`]
/// `(n)` has room for `n` registrations, [`PollSet::new`] for
/// [`PollSet::DEFAULT_CAPACITY`]; one more [`add`](PollSet::add) fails with
/// [`ErrorKind::CapacityExceeded`] rather than allocate. The host backend's epoll set needs no
/// table and does not enforce the size.
///
/// # Threads
/// A set may be shared between threads (`Sync`); [`wait`](PollSet::wait) may be called by
/// several at once (a ONESHOT readiness goes to one of them). Changes and waits never block
/// on each other on the host (the kernel's epoll serialises them); on the EVL backend they
/// take the set's table lock (an [`evl_core::RawLock`](crate::RawLock), held for a few
/// out-of-band calls, never during the wait itself), which is only contended when two
/// threads use one set at once.
#[derive(Debug)]
pub struct PollSet {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(OwnedFd),
    Evl(crate::backend::evl::poll::PollSet),
}

impl PollSet {
    /// The room of a set made with [`PollSet::new`]: enough for an executor's reactor with
    /// its default 64 fds, its timer and its wake element.
    pub const DEFAULT_CAPACITY: usize = 66;

    /// An empty poll set with room for [`PollSet::DEFAULT_CAPACITY`] registrations.
    pub fn new() -> Result<Self> {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty poll set with room for `fds` registrations (see [Size](PollSet#size)): all
    /// of its memory is allocated here.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when a table that large cannot be allocated.
    pub fn with_capacity(fds: usize) -> Result<Self> {
        const OP: &str = "PollSet::with_capacity";
        match backend::current()? {
            Backend::Host => {
                // SAFETY: epoll_create1 has no memory effects.
                let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
                Ok(PollSet {
                    inner: Inner::Host(sys::owned_fd(
                        fd,
                        OP,
                        "cannot create an epoll set (descriptor limit?)",
                    )?),
                })
            }
            Backend::Evl => Ok(PollSet {
                inner: Inner::Evl(crate::backend::evl::poll::PollSet::with_capacity(fds)?),
            }),
        }
    }

    /// Whether this set takes [`PollFlags::EDGE`] registrations (host: yes; EVL: no, the
    /// core's poll sets are level-triggered, so waiters use [`PollFlags::ONESHOT`] and
    /// re-arm with [`modify`](PollSet::modify)).
    pub fn supports_edge(&self) -> bool {
        matches!(self.inner, Inner::Host(_))
    }

    /// The EVL core's rule, kept on the host: changes and waits need an attached thread.
    fn host_requires_attached(&self, op: &'static str) -> Result<()> {
        match self.inner {
            Inner::Host(_) => crate::thread::require_attached(op),
            Inner::Evl(_) => Ok(()), // the core refuses by itself
        }
    }

    fn refuse_edge(&self, events: PollFlags, op: &'static str) -> Result<()> {
        if events.contains(PollFlags::EDGE) && !self.supports_edge() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                op,
                "the EVL core's poll sets are level-triggered: use PollFlags::ONESHOT and modify",
            ));
        }
        Ok(())
    }

    fn ctl(
        &self,
        op_code: libc::c_int,
        fd: BorrowedFd<'_>,
        events: PollFlags,
        token: u64,
        op: &'static str,
    ) -> Result<()> {
        let ep = match &self.inner {
            Inner::Host(ep) => ep,
            Inner::Evl(_) => return Err(Error::new(ErrorKind::Other, op, "not a host poll set")),
        };
        let mut ev = libc::epoll_event {
            events: events.0,
            u64: token,
        };
        // SAFETY: valid epoll fd and target fd; `ev` is a valid epoll_event for the call.
        let rc = unsafe { libc::epoll_ctl(ep.as_raw_fd(), op_code, fd.as_raw_fd(), &mut ev) };
        if rc != 0 {
            let hint = match errno() {
                libc::EEXIST => "this fd is already in the set: use modify",
                libc::ENOENT => "this fd is not in the set: add it first",
                libc::EPERM => {
                    "this kind of fd cannot be polled (regular files and directories cannot)"
                }
                _ => "",
            };
            return Err(Error::last_os_error(op, hint));
        }
        Ok(())
    }

    /// Adds `fd`, watched for `events`, reported with `token`.
    ///
    /// Errors include [`ErrorKind::CapacityExceeded`] when the set is full (EVL backend; see
    /// [Size](PollSet#size)).
    pub fn add(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.refuse_edge(events, "PollSet::add")?;
        self.host_requires_attached("PollSet::add")?;
        if let Inner::Evl(ps) = &self.inner {
            return ps.add(fd, events, token);
        }
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token, "PollSet::add")
    }

    /// Changes what `fd` is watched for, and its token.
    pub fn modify(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.refuse_edge(events, "PollSet::modify")?;
        self.host_requires_attached("PollSet::modify")?;
        if let Inner::Evl(ps) = &self.inner {
            return ps.modify(fd, events, token);
        }
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token, "PollSet::modify")
    }

    /// Removes `fd`.
    pub fn remove(&self, fd: BorrowedFd<'_>) -> Result<()> {
        self.host_requires_attached("PollSet::remove")?;
        if let Inner::Evl(ps) = &self.inner {
            return ps.remove(fd);
        }
        self.ctl(
            libc::EPOLL_CTL_DEL,
            fd,
            PollFlags::NONE,
            0,
            "PollSet::remove",
        )
    }

    /// Waits until at least one fd is ready or the absolute monotonic `deadline` passes; fills
    /// `out` with the ready entries and returns how many (0 on timeout). `out` must not be
    /// empty. Never allocates.
    pub fn wait(&self, out: &mut [PollEvent], deadline: Option<Timestamp>) -> Result<usize> {
        const OP: &str = "PollSet::wait";
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "pass a buffer of at least one PollEvent",
            ));
        }
        let ep = match &self.inner {
            Inner::Host(ep) => ep,
            Inner::Evl(ps) => return ps.wait(out, deadline),
        };
        crate::thread::require_attached(OP)?;
        // epoll_event is packed on x86_64; gather into a stack batch then copy out. Not
        // initialised: the kernel writes the first `n` entries, and only those are read.
        const BATCH: usize = 64;
        let mut raw = [const { core::mem::MaybeUninit::<libc::epoll_event>::uninit() }; BATCH];
        let max = out.len().min(BATCH);
        let rel = deadline
            .map(|d| duration_to_timespec(d.saturating_duration_since(Clock::Monotonic.now())));
        let rel_ptr = rel
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `raw` has room for `max` events; `rel_ptr` is null or a valid timespec; a
        // null sigmask leaves the mask unchanged. epoll_pwait2 (Linux 5.11+) takes a
        // nanosecond relative timeout, so nothing is rounded to milliseconds.
        let mut n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                ep.as_raw_fd(),
                raw.as_mut_ptr().cast::<libc::epoll_event>(),
                max as libc::c_int,
                rel_ptr,
                core::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 && errno() == libc::ENOSYS {
            // Kernels before 5.11: millisecond timeout, rounded up so it never fires early.
            let ms = rel.map_or(-1, |t| {
                let ns = t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
                ((ns + 999_999) / 1_000_000).min(i32::MAX as i128) as libc::c_int
            });
            // SAFETY: as above, with a millisecond timeout.
            n = unsafe {
                libc::epoll_wait(
                    ep.as_raw_fd(),
                    raw.as_mut_ptr().cast::<libc::epoll_event>(),
                    max as libc::c_int,
                    ms,
                )
            } as libc::c_long;
        }
        if n < 0 {
            return Err(Error::last_os_error(OP, ""));
        }
        let n = n as usize;
        for (o, r) in out.iter_mut().zip(raw.iter()).take(n) {
            // SAFETY: epoll_pwait2/epoll_wait returned `n`: the first `n` entries are written.
            let r = unsafe { r.assume_init_read() };
            let (events, token) = (r.events, r.u64);
            *o = PollEvent {
                token,
                ready: PollFlags(events),
            };
        }
        Ok(n)
    }
}
