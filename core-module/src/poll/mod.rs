//! Poll sets (EVL: the oob poll element; host: epoll).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`PollSet`]: checks arguments, dispatches to the backend |
//! | `types.rs` | [`PollFlags`], [`PollEvent`] (shared with the backends) |
//! | `host.rs` | an epoll set |
//! | `evl.rs` | the core's poll element, with ONESHOT, closed fds and empty sets handled here |
//!
//! On the host backend a set also offers [`PollSet::park`]: a wait on a word instead of the
//! set (a futex wait with an absolute deadline), for a waiter that watches no fd; another
//! thread ends it with [`unpark`].

mod evl;
mod host;
pub(crate) mod types;

pub use types::{PollEvent, PollFlags};

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;
use std::sync::atomic::AtomicU32;

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
    Host(host::PollSet),
    Evl(evl::PollSet),
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
        let inner = match backend::current()? {
            Backend::Host => Inner::Host(host::PollSet::new()?),
            Backend::Evl => Inner::Evl(evl::PollSet::with_capacity(fds)?),
        };
        Ok(PollSet { inner })
    }

    /// Whether this set takes [`PollFlags::EDGE`] registrations (host: yes; EVL: no, the
    /// core's poll sets are level-triggered, so waiters use [`PollFlags::ONESHOT`] and
    /// re-arm with [`modify`](PollSet::modify)).
    pub fn supports_edge(&self) -> bool {
        matches!(self.inner, Inner::Host(_))
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

    /// Adds `fd`, watched for `events`, reported with `token`.
    ///
    /// Errors include [`ErrorKind::CapacityExceeded`] when the set is full (EVL backend; see
    /// [Size](PollSet#size)).
    pub fn add(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.refuse_edge(events, "PollSet::add")?;
        match &self.inner {
            Inner::Host(ps) => ps.add(fd, events, token),
            Inner::Evl(ps) => ps.add(fd, events, token),
        }
    }

    /// Changes what `fd` is watched for, and its token.
    pub fn modify(&self, fd: BorrowedFd<'_>, events: PollFlags, token: u64) -> Result<()> {
        self.refuse_edge(events, "PollSet::modify")?;
        match &self.inner {
            Inner::Host(ps) => ps.modify(fd, events, token),
            Inner::Evl(ps) => ps.modify(fd, events, token),
        }
    }

    /// Removes `fd`.
    pub fn remove(&self, fd: BorrowedFd<'_>) -> Result<()> {
        match &self.inner {
            Inner::Host(ps) => ps.remove(fd),
            Inner::Evl(ps) => ps.remove(fd),
        }
    }

    /// Waits until at least one fd is ready or the absolute monotonic `deadline` passes; fills
    /// `out` with the ready entries and returns how many (0 on timeout). `out` must not be
    /// empty. Never allocates.
    pub fn wait(&self, out: &mut [PollEvent], deadline: Option<Timestamp>) -> Result<usize> {
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "PollSet::wait",
                "pass a buffer of at least one PollEvent",
            ));
        }
        match &self.inner {
            Inner::Host(ps) => ps.wait(out, deadline),
            Inner::Evl(ps) => ps.wait(out, deadline),
        }
    }

    /// Whether [`park`](PollSet::park) is available: on the host backend (a futex wait); not
    /// on EVL, where a futex is an in-band call (wait on the set there).
    pub fn supports_park(&self) -> bool {
        matches!(self.inner, Inner::Host(_))
    }

    /// Waits on `word` instead of the set: blocks while `*word == expected`, until
    /// [`unpark`] on the same word, a signal, or the absolute monotonic `deadline`, whichever
    /// comes first. One system call on the host: `futex(FUTEX_WAIT_BITSET |
    /// FUTEX_PRIVATE_FLAG)` with an absolute `CLOCK_MONOTONIC` deadline (an absolute hrtimer
    /// sleep, as `clock_nanosleep`), so no clock is read to compute it. It returns early for
    /// any of these reasons, and spuriously: the caller compares the clock with its deadline.
    /// The fds of the set are not watched meanwhile: park only a waiter that watches none.
    ///
    /// Errors: [`ErrorKind::Unsupported`] on the EVL backend ([`supports_park`] is false);
    /// [`ErrorKind::PermissionDenied`] from a thread that is not attached (the core's rule
    /// for waits, kept on the host).
    ///
    /// [`supports_park`]: PollSet::supports_park
    pub fn park(&self, word: &AtomicU32, expected: u32, deadline: Option<Timestamp>) -> Result<()> {
        match &self.inner {
            Inner::Host(ps) => ps.park(word, expected, deadline),
            Inner::Evl(_) => Err(Error::new(
                ErrorKind::Unsupported,
                "PollSet::park",
                "a futex wait is in-band on the EVL core: wait on the poll set",
            )),
        }
    }
}

/// Ends a [`PollSet::park`] on `word` (after the caller changed the word): one
/// `futex(FUTEX_WAKE | FUTEX_PRIVATE_FLAG)` system call, which never blocks, takes no lock and
/// is async-signal-safe. A wake with no waiter is a no-op. Host backend only: nothing parks on
/// EVL.
pub fn unpark(word: &AtomicU32) {
    host::unpark(word);
}
