//! The calling thread's attachment record on the EVL core: its handle (`fundle`) and its
//! window in the core's shared memory. Set by `thread::evl` on attach and detach, read by
//! every EVL element (fast paths, and which call form keeps the caller on its stage).

use super::abi36;
use crate::error::{Error, ErrorKind, Result};

/// What the element fast paths need to know of the calling thread when it is attached: its
/// handle in the core (the owner word of a mutex it holds) and its window in the core's
/// shared memory (whether it runs in-band right now).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Current {
    /// The thread's fast handle (`fundle`).
    pub fundle: abi36::Fundle,
    /// The thread's [`abi36::EvlUserWindow`] in the core's shared memory (never unmapped).
    pub window: *const abi36::EvlUserWindow,
    /// The descriptor of the thread's element (open while attached).
    pub efd: std::os::fd::RawFd,
}

impl Current {
    /// The thread's `EVL_T_*` state word, which the core keeps current in the thread's
    /// window.
    pub(crate) fn state(&self) -> u32 {
        // SAFETY: `window` points into the core's shared memory, mapped for the life of the
        // process, at the offset the core gave this thread; the core updates the word
        // atomically, so it is read atomically here.
        unsafe {
            (*(core::ptr::addr_of!((*self.window).state) as *const core::sync::atomic::AtomicU32))
                .load(core::sync::atomic::Ordering::Relaxed)
        }
    }

    /// True while the thread runs on the in-band stage (`EVL_T_INBAND`). An in-band thread
    /// issues plain system calls; an out-of-band one must use the oob forms.
    pub(crate) fn is_inband(&self) -> bool {
        self.state() & abi36::EVL_T_INBAND != 0
    }

    /// Whether user-space lock fast paths may be used: not for a thread running in-band, nor
    /// for a weak (`SCHED_OTHER`) one, which the core keeps out-of-band only while it knows
    /// of the locks it holds, nor when lock-inconsistency checks (`EVL_T_WOLI`) are on, which
    /// need the core to see every lock.
    pub(crate) fn may_lock_fast(&self) -> bool {
        self.state() & (abi36::EVL_T_INBAND | abi36::EVL_T_WEAK | abi36::EVL_T_WOLI) == 0
    }

    /// Whether a lock may be released in user space (see [`Current::may_lock_fast`]; an
    /// in-band owner may, as libevl does).
    pub(crate) fn may_unlock_fast(&self) -> bool {
        self.state() & (abi36::EVL_T_WEAK | abi36::EVL_T_WOLI) == 0
    }
}

std::thread_local! {
    static CURRENT: core::cell::Cell<Option<Current>> = const { core::cell::Cell::new(None) };
}

/// The calling thread's handle and window, if it is attached to the core.
pub(crate) fn current() -> Option<Current> {
    CURRENT.with(core::cell::Cell::get)
}

/// Records (`Some`) or forgets (`None`) the calling thread's attachment.
pub(crate) fn set(c: Option<Current>) {
    CURRENT.with(|cell| cell.set(c));
}

/// The hint given to callers that are not attached when an operation needs an oob call: the
/// one both backends give.
pub(crate) use crate::thread::types::NOT_ATTACHED_HINT as NOT_ATTACHED;

/// Fails with [`ErrorKind::PermissionDenied`] unless the calling thread is attached.
pub(crate) fn require_attached(op: &'static str) -> Result<()> {
    if current().is_none() {
        return Err(Error::new(ErrorKind::PermissionDenied, op, NOT_ATTACHED));
    }
    Ok(())
}
