//! Poll sets on the EVL core: each `open(2)` of `/dev/evl/poll` is a poll group, changed and
//! waited on with out-of-band ioctls only (`EVL_POLIOC_CTL`, `EVL_POLIOC_WAIT`).
//!
//! What the core gives, and how the documented [`crate::poll::PollSet`] API is built on it:
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

use super::timer::{ns_to_timespec, require_attached, NOT_ATTACHED};
use super::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::lock::RawLock;
use crate::poll::{PollEvent, PollFlags};
use crate::time::{Clock, Timestamp};
use core::cell::Cell;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Events taken from the core per wait (on the stack).
const BATCH: usize = 64;
/// The events the sentinel is registered with (it never fires).
const ANCHOR_EVENTS: u32 = libc::POLLIN as u32;

static NEXT_UID: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// The group this thread last waited on (its uid, 0: none) and the range its generation
    /// was in during that wait: the core's cached watch table for this thread was built at
    /// one of those generations.
    static LAST: Cell<(u64, u32, u32)> = const { Cell::new((0, 0, 0)) };
}

/// One registration of a set.
#[derive(Debug, Clone, Copy)]
struct Reg {
    fd: RawFd,
    token: u64,
    events: PollFlags,
    /// Taken out of the core's group after a ONESHOT report, until `modify`.
    parked: bool,
}

#[derive(Debug)]
struct State {
    /// Whether the anchor is in the core's group yet (it is added by the first attached call).
    anchored: bool,
    /// The registrations; its capacity (`room`) is reserved when the set is made, and `add`
    /// refuses to go past it, so it never reallocates.
    regs: Vec<Reg>,
    /// How many registrations the table was sized for.
    room: usize,
}

/// Why [`State::admit`] refused a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The fd is in the set already (or is its anchor).
    Exists,
    /// The table is full.
    Full,
}

impl State {
    /// An empty table with room for `room` registrations, allocated now.
    fn with_room(room: usize) -> core::result::Result<State, ()> {
        let mut regs = Vec::new();
        regs.try_reserve_exact(room).map_err(|_| ())?;
        Ok(State {
            anchored: false,
            regs,
            room,
        })
    }

    /// Whether `fd` may be added: not there yet, not the anchor, and room left (so the push
    /// that follows does not reallocate).
    fn admit(&self, fd: RawFd, anchor: RawFd) -> core::result::Result<(), Refused> {
        if fd == anchor || self.regs.iter().any(|r| r.fd == fd) {
            return Err(Refused::Exists);
        }
        if self.regs.len() >= self.room {
            return Err(Refused::Full);
        }
        debug_assert!(self.regs.len() < self.regs.capacity());
        Ok(())
    }
}

/// The state of a [`Group`], locked: unlocks on drop (also while unwinding).
struct Locked<'a> {
    group: &'a Group,
}

impl core::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        // SAFETY: the lock is held for this guard's life: no other reference to the state
        // exists meanwhile (the guard hands out at most one, through &self / &mut self).
        unsafe { &*self.group.state.get() }
    }
}

impl core::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        // SAFETY: as in deref; `&mut self` makes this reference the only one.
        unsafe { &mut *self.group.state.get() }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard was made by `Group::lock` on this thread, which took the lock.
        unsafe { self.group.lock.unlock() };
    }
}

/// A poll group of the core, with its anchor: a descriptor that stays in the group for its
/// whole life (the set's sentinel, or the timer a private group watches).
#[derive(Debug)]
pub(crate) struct Group {
    fd: OwnedFd,
    anchor: RawFd,
    anchor_events: u32,
    uid: u64,
    /// The core's generation number of the group, mirrored (changed under `lock`).
    generation: AtomicU32,
    /// Guards `state` and serialises changes to the core's group.
    lock: RawLock,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `Locked`, which holds `lock`; the rest is
// descriptors and atomics.
unsafe impl Sync for Group {}

fn in_range(g: u32, lo: u32, hi: u32) -> bool {
    g.wrapping_sub(lo) <= hi.wrapping_sub(lo)
}

impl Group {
    /// A new group that will watch `anchor` (which must outlive it) for input, with room
    /// for `room` registrations in its table (reserved now: the table never grows).
    pub(crate) fn new(anchor: RawFd, room: usize, op: &'static str) -> Result<Self> {
        let st = State::with_room(room).map_err(|()| {
            Error::new(
                ErrorKind::InvalidArgument,
                op,
                "no memory for a poll set that large: ask for fewer fds",
            )
        })?;
        let g = Self::with_anchor_events(anchor, ANCHOR_EVENTS, op)?;
        // SAFETY: not shared yet: this is the only reference.
        unsafe { *g.state.get() = st };
        Ok(g)
    }

    /// A new group that will watch `anchor` (which must outlive it) for the core's `POLL*`
    /// bits `events`, reported with token 0.
    pub(crate) fn with_anchor_events(
        anchor: RawFd,
        anchor_events: u32,
        op: &'static str,
    ) -> Result<Self> {
        sys::process()?;
        let fd = sys::open_rw(abi36::EVL_POLL_DEV_C)
            .map_err(|e| Error::from_errno(e, op, "cannot open /dev/evl/poll"))?;
        Ok(Group {
            fd,
            anchor,
            anchor_events,
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU32::new(0),
            lock: RawLock::new(),
            state: UnsafeCell::new(State {
                anchored: false,
                regs: Vec::new(),
                room: 0,
            }),
        })
    }

    fn lock(&self) -> Locked<'_> {
        self.lock.lock();
        Locked { group: self }
    }

    /// One `EVL_POLIOC_CTL`; mirrors the generation bump the core makes on success. The
    /// caller holds the state lock (`_st`), which serialises changes.
    fn ctl(
        &self,
        _st: &mut State,
        action: u32,
        fd: RawFd,
        events: u32,
        token: u64,
    ) -> core::result::Result<(), i32> {
        let req = abi36::EvlPollCtlReq {
            action,
            fd: fd as u32,
            events,
            pollval: abi36::EvlValue::from_i64(token as i64),
        };
        // SAFETY: EVL_POLIOC_CTL reads one EvlPollCtlReq at the address passed, `req`, live
        // for the call. It is served out-of-band only.
        unsafe {
            sys::oob_ioctl(
                self.fd.as_raw_fd(),
                abi36::EVL_POLIOC_CTL,
                &req as *const _ as usize,
            )
        }?;
        self.bump_mirror();
        Ok(())
    }

    fn bump_mirror(&self) {
        let mut g = self.generation.load(Ordering::Relaxed).wrapping_add(1);
        if g == 0 {
            g = 1; // the core keeps 0 for "never built"
        }
        self.generation.store(g, Ordering::Release);
    }

    fn ensure_anchor(&self, st: &mut State) -> core::result::Result<(), i32> {
        if !st.anchored {
            self.ctl(
                st,
                abi36::EVL_POLL_CTLADD,
                self.anchor,
                self.anchor_events,
                0,
            )?;
            st.anchored = true;
        }
        Ok(())
    }

    /// Adds `fd` for the core's `POLL*` bits `events`, reported with `token` (a fixed
    /// extra member of a private group: not tracked for ONESHOT or closing).
    pub(crate) fn add_raw(
        &self,
        fd: RawFd,
        events: u32,
        token: u64,
    ) -> core::result::Result<(), i32> {
        let mut st = self.lock();
        self.ensure_anchor(&mut st)?;
        self.ctl(&mut st, abi36::EVL_POLL_CTLADD, fd, events, token)
    }

    /// `EVL_POLIOC_WAIT` into `buf` until `deadline` (absolute, monotonic; `None`: no
    /// limit): the number of events written, or the errno (`ETIMEDOUT` on timeout).
    pub(crate) fn wait_raw(
        &self,
        buf: &mut [abi36::EvlPollEvent],
        deadline: Option<Timestamp>,
    ) -> core::result::Result<usize, i32> {
        let lo = {
            let mut st = self.lock();
            self.ensure_anchor(&mut st)?;
            let (last, llo, lhi) = LAST.with(Cell::get);
            if last != self.uid {
                // Make sure the core cannot take this thread's cached table (built for
                // another group) for this one. Bounded: the range is as wide as the changes
                // made to that other group during this thread's last wait on it.
                let mut tries = 0;
                while in_range(self.generation.load(Ordering::Acquire), llo, lhi) && tries < 256 {
                    self.ctl(
                        &mut st,
                        abi36::EVL_POLL_CTLMOD,
                        self.anchor,
                        self.anchor_events,
                        0,
                    )?;
                    tries += 1;
                }
            }
            self.generation.load(Ordering::Acquire)
        };
        // A zero time means "no timeout" to the core.
        let ts = deadline.map_or(abi36::EvlTimespec::default(), |d| {
            ns_to_timespec(d.as_nanos().clamp(1, i64::MAX as u64))
        });
        let mut req = abi36::EvlPollWaitReq {
            timeout_ptr: &ts as *const abi36::EvlTimespec as u64,
            pollset_ptr: buf.as_mut_ptr() as u64,
            nrset: buf.len().min(i32::MAX as usize) as i32,
        };
        // SAFETY: EVL_POLIOC_WAIT reads and writes one EvlPollWaitReq at the address passed,
        // `req`, live and writable for the call; the core reads the EvlTimespec at
        // `timeout_ptr` (`ts`, live) and writes at most `nrset` EvlPollEvent entries at
        // `pollset_ptr` (`buf`, live, writable, that long).
        let r = unsafe {
            sys::oob_ioctl(
                self.fd.as_raw_fd(),
                abi36::EVL_POLIOC_WAIT,
                &mut req as *mut _ as usize,
            )
        };
        if r == Err(libc::EBADF) {
            // The core bumps the generation when it finds a stale descriptor.
            let _st = self.lock();
            self.bump_mirror();
        }
        let hi = self.generation.load(Ordering::Acquire);
        LAST.with(|l| l.set((self.uid, lo, hi)));
        r.map(|_| (req.nrset.max(0) as usize).min(buf.len()))
    }
}

/// The core's `POLL*` bits for `f` (ONESHOT is handled here, not by the core).
fn to_poll(f: PollFlags) -> u32 {
    let mut b = 0u32;
    let map: [(PollFlags, u32); 6] = [
        (PollFlags::IN, (libc::POLLIN | libc::POLLRDNORM) as u32),
        (PollFlags::OUT, (libc::POLLOUT | libc::POLLWRNORM) as u32),
        (PollFlags::PRI, libc::POLLPRI as u32),
        (PollFlags::ERR, libc::POLLERR as u32),
        (PollFlags::HUP, libc::POLLHUP as u32),
        (PollFlags::RDHUP, libc::POLLRDHUP as u32),
    ];
    for (flag, bits) in map {
        if f.intersects(flag) {
            b |= bits;
        }
    }
    b
}

/// The [`PollFlags`] for the core's `POLL*` bits.
fn from_poll(b: u32) -> PollFlags {
    let map: [(u32, PollFlags); 7] = [
        ((libc::POLLIN | libc::POLLRDNORM) as u32, PollFlags::IN),
        ((libc::POLLOUT | libc::POLLWRNORM) as u32, PollFlags::OUT),
        (libc::POLLPRI as u32, PollFlags::PRI),
        (libc::POLLERR as u32, PollFlags::ERR),
        (libc::POLLHUP as u32, PollFlags::HUP),
        (libc::POLLRDHUP as u32, PollFlags::RDHUP),
        (libc::POLLNVAL as u32, PollFlags::ERR | PollFlags::HUP),
    ];
    let mut f = PollFlags::NONE;
    for (bits, flag) in map {
        if b & bits != 0 {
            f = f | flag;
        }
    }
    f
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
        let sentinel = super::timer::new_timer_fd(Clock::Monotonic, OP)?;
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

    fn reg(fd: RawFd) -> Reg {
        Reg {
            fd,
            token: fd as u64,
            events: PollFlags::IN,
            parked: false,
        }
    }

    /// The table admits up to its room, then refuses without growing; duplicates and the
    /// anchor are refused as existing; a removal makes room again.
    #[test]
    fn the_table_is_sized_once_and_refuses_past_its_room() {
        let mut st = State::with_room(3).unwrap();
        let cap = st.regs.capacity();
        assert!(cap >= 3);
        for fd in [10, 11, 12] {
            assert_eq!(st.admit(fd, 99), Ok(()));
            st.regs.push(reg(fd));
        }
        assert_eq!(st.admit(13, 99), Err(Refused::Full));
        assert_eq!(st.admit(11, 99), Err(Refused::Exists));
        assert_eq!(st.admit(99, 99), Err(Refused::Exists), "the anchor");
        assert_eq!(st.regs.capacity(), cap, "never reallocated");
        st.regs.swap_remove(0);
        assert_eq!(st.admit(13, 99), Ok(()));
        let empty = State::with_room(0).unwrap();
        assert_eq!(empty.admit(1, 99), Err(Refused::Full));
        assert!(
            State::with_room(usize::MAX).is_err(),
            "a typed error, not a panic"
        );
    }
}
