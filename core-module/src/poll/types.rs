//! What the poll front end and its backends share: readiness conditions ([`PollFlags`], the
//! `epoll` bits) and ready entries ([`PollEvent`]).

bitflags::bitflags! {
    /// Readiness conditions, as `poll(2)` spells them (the bits are `epoll`'s).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PollFlags: u32 {
        /// Readable (or a semaphore/flags/timer that would not block).
        const IN = libc::EPOLLIN as u32;
        /// Writable.
        const OUT = libc::EPOLLOUT as u32;
        /// Urgent data.
        const PRI = libc::EPOLLPRI as u32;
        /// Error (always reported).
        const ERR = libc::EPOLLERR as u32;
        /// Hang-up (always reported).
        const HUP = libc::EPOLLHUP as u32;
        /// Peer closed its writing end.
        const RDHUP = libc::EPOLLRDHUP as u32;
        /// Report once, then stay silent until re-armed with
        /// [`PollSet::modify`](crate::poll::PollSet::modify) (so a ready fd nobody is waiting
        /// for cannot make a waiter spin).
        const ONESHOT = libc::EPOLLONESHOT as u32;
        /// Edge-triggered: report when a condition becomes true, not while it is (host only:
        /// the EVL core's poll sets are level-triggered; see
        /// [`PollSet::supports_edge`](crate::poll::PollSet::supports_edge)).
        const EDGE = libc::EPOLLET as u32;
    }
}

impl PollFlags {
    /// No condition (the same as [`PollFlags::empty`]).
    pub const NONE: PollFlags = PollFlags::empty();
}

/// One ready entry: the token given at [`PollSet::add`](crate::poll::PollSet::add) and what is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollEvent {
    /// The caller's token for the fd.
    pub token: u64,
    /// The ready conditions.
    pub ready: PollFlags,
}
