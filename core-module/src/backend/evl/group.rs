//! A poll group of the EVL core (one `open(2)` of `/dev/evl/poll`) with its anchor and its
//! registration table: what the poll set, the timer's blocking reads and the xbuf's
//! real-time waits are built on. Changed and waited on with out-of-band ioctls only
//! (`EVL_POLIOC_CTL`, `EVL_POLIOC_WAIT`); see `poll::evl` for the core's quirks it works
//! around (the per-thread cache keyed by generation, waits on empty groups).

use super::clock::ns_to_timespec;
use super::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::lock::RawLock;
use crate::poll::types::PollFlags;
use crate::time::types::Timestamp;
use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

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
pub(crate) struct Reg {
    pub(crate) fd: RawFd,
    pub(crate) token: u64,
    pub(crate) events: PollFlags,
    /// Taken out of the core's group after a ONESHOT report, until `modify`.
    pub(crate) parked: bool,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Whether the anchor is in the core's group yet (it is added by the first attached call).
    anchored: bool,
    /// The registrations; its capacity (`room`) is reserved when the set is made, and `add`
    /// refuses to go past it, so it never reallocates.
    pub(crate) regs: Vec<Reg>,
    /// How many registrations the table was sized for.
    room: usize,
}

/// Why [`State::admit`] refused a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
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
    pub(crate) fn admit(&self, fd: RawFd, anchor: RawFd) -> core::result::Result<(), Refused> {
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
pub(crate) struct Locked<'a> {
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
        // SAFETY: the lock is held for this guard's life, so no other thread reaches the state;
        // `&mut self` borrows the guard exclusively, so this is the only reference it hands out.
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
    pub(crate) anchor: RawFd,
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

    pub(crate) fn lock(&self) -> Locked<'_> {
        self.lock.lock();
        Locked { group: self }
    }

    /// One `EVL_POLIOC_CTL`; mirrors the generation bump the core makes on success. The
    /// caller holds the state lock (`_st`), which serialises changes.
    pub(crate) fn ctl(
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

    pub(crate) fn bump_mirror(&self) {
        let mut g = self.generation.load(Ordering::Relaxed).wrapping_add(1);
        if g == 0 {
            g = 1; // the core keeps 0 for "never built"
        }
        self.generation.store(g, Ordering::Release);
    }

    pub(crate) fn ensure_anchor(&self, st: &mut State) -> core::result::Result<(), i32> {
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
