//! The small waiting kit the EVL proxy, xbuf and observable share: cloning and opening their
//! files, non-blocking mode, errno mapping, an out-of-band poll set per waiting side
//! ([`OobWait`]), a poll(2) wait for the in-band side, and a "bell" that wakes waiters of both
//! stages when a handle of the same process goes away.

use super::group::Group;
use super::{abi36, sys};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::types::{Clock, Timestamp};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The largest ring the core can allocate in one piece (`kzalloc`, bounded by
/// `KMALLOC_MAX_SIZE`, 4 MiB on x86_64 with 4 KiB pages); larger rings fail with `ENOMEM`
/// after a kernel warning, so they are refused here first.
pub(crate) const MAX_RING: usize = 4 << 20;

/// The error of an out-of-band call from a thread that is not attached to the core.
pub(crate) fn not_attached(op: &'static str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        op,
        crate::thread::types::NOT_ATTACHED_HINT,
    )
}

/// Maps the errno of an element I/O call; `EPERM` names the way out.
pub(crate) fn io_error(e: i32, op: &'static str) -> Error {
    match e {
        libc::EPERM => not_attached(op),
        libc::EBADF => Error::new(
            ErrorKind::Closed,
            op,
            "the core deleted the element while the call was pending",
        ),
        _ => Error::from_errno(e, op, "the EVL core refused the element I/O"),
    }
}

/// Creates an element through `clone_dev` and returns a descriptor on it: public, and
/// opened by name, when `name` is given (see `sys::clone_element`).
///
/// # Safety
/// `attrs` must be 0 or the address of the attribute structure the class expects, live for
/// the call.
pub(crate) unsafe fn clone_fd(
    clone_dev: &std::ffi::CStr,
    class: &str,
    name: Option<&str>,
    attrs: usize,
    flags: u32,
    special: &[(i32, Option<ErrorKind>, &'static str)],
    op: &'static str,
) -> Result<OwnedFd> {
    let flags = if name.is_some() {
        flags | abi36::EVL_CLONE_PUBLIC
    } else {
        flags
    };
    // SAFETY: the caller's contract on `attrs`.
    unsafe { sys::clone_element(clone_dev, class, name, attrs, flags, special, op) }
        .map(|(fd, _)| fd)
}

/// Sets `O_NONBLOCK` on an element descriptor (in-band `fcntl`, at creation only).
pub(crate) fn set_nonblock(fd: BorrowedFd<'_>, op: &'static str) -> Result<()> {
    // SAFETY: F_GETFL/F_SETFL take and return an int flag word; no memory is touched.
    let rc = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl < 0 {
            fl
        } else {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK)
        }
    };
    if rc < 0 {
        return Err(Error::last_os_error(
            op,
            "cannot make the element descriptor non-blocking",
        ));
    }
    Ok(())
}

/// Wakes the waiters of both stages, once and for good: a private one-byte xbuf whose
/// outbound ring gets a byte (out-of-band POLLIN from then on) and an eventfd that gets a
/// count (in-band POLLIN from then on). Rung from `Drop`, which may run on any thread, so
/// only in-band calls are used to ring it.
#[derive(Debug)]
pub(crate) struct Bell {
    oob: OwnedFd,
    inband: OwnedFd,
}

impl Bell {
    pub(crate) fn new(op: &'static str) -> Result<Bell> {
        let attrs = abi36::EvlXbufAttrs {
            i_bufsz: 0,
            o_bufsz: 1,
        };
        // SAFETY: `attrs` is the xbuf class's attribute structure, live for the call.
        let oob = unsafe {
            clone_fd(
                abi36::EVL_XBUF_CLONE_DEV_C,
                abi36::EVL_XBUF_DEV,
                None,
                &attrs as *const abi36::EvlXbufAttrs as usize,
                abi36::EVL_CLONE_PRIVATE,
                &[],
                op,
            )
        }?;
        set_nonblock(oob.as_fd(), op)?;
        // SAFETY: eventfd has no memory effects.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let inband = crate::backend::host::sys::owned_fd(
            fd,
            op,
            "cannot create an eventfd (descriptor limit?)",
        )?;
        Ok(Bell { oob, inband })
    }

    /// Rings: every present and future wait on this bell returns at once.
    pub(crate) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is a live 8-byte buffer; both descriptors are non-blocking, so a
        // bell already rung (ring full / counter set) just answers EAGAIN, which is fine.
        unsafe {
            libc::write(self.oob.as_raw_fd(), one.as_ptr().cast(), 1);
            libc::write(self.inband.as_raw_fd(), one.as_ptr().cast(), one.len());
        }
    }

    pub(crate) fn oob_fd(&self) -> RawFd {
        self.oob.as_raw_fd()
    }

    pub(crate) fn inband_fd(&self) -> RawFd {
        self.inband.as_raw_fd()
    }
}

/// An EVL poll group watching one element descriptor for `events`, and optionally a bell.
/// The group's descriptor is opened with the xbuf (an in-band `open` of `/dev/evl/poll`:
/// never on a real-time thread's steady-state path); the descriptors are added to it by the
/// first out-of-band wait (adding is an out-of-band request: only an attached thread can
/// make it, and it keeps that thread on its stage). Waiting allocates nothing. The group is
/// the poll module's, so the guard against the core's per-thread watch-table cache covers
/// these waits and every `PollSet` alike.
#[derive(Debug)]
pub(crate) struct OobWait {
    group: Group,
    /// The bell was added to the group (by the first wait).
    bell_added: AtomicBool,
    bell: Option<RawFd>,
}

/// What an [`OobWait::wait`] or [`inband_wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The element reported one of the events (or the wait should simply be retried).
    Ready,
    /// The bell rang.
    Bell,
}

impl OobWait {
    /// A waiter for `events` on `fd` (and `bell`'s out-of-band side); both descriptors must
    /// outlive it. Opens the poll group now.
    pub(crate) fn new(
        fd: RawFd,
        events: libc::c_short,
        bell: Option<&Bell>,
        op: &'static str,
    ) -> Result<OobWait> {
        Ok(OobWait {
            group: Group::with_anchor_events(fd, events as u16 as u32, op)?,
            bell_added: AtomicBool::new(false),
            bell: bell.map(Bell::oob_fd),
        })
    }

    /// The group, with the bell in it (added by the first wait, out-of-band).
    fn group(&self, op: &'static str) -> Result<&Group> {
        if let Some(b) = self.bell {
            if !self.bell_added.load(Ordering::Acquire) {
                // Two threads waiting for the first time at once: one add fails with EEXIST,
                // which is as good as success.
                match self.group.add_raw(b, libc::POLLIN as u32, 1) {
                    Ok(()) | Err(libc::EEXIST) => self.bell_added.store(true, Ordering::Release),
                    Err(e) => return Err(io_error(e, op)),
                }
            }
        }
        Ok(&self.group)
    }

    /// Waits out-of-band until the element reports an event or the bell rang, until the
    /// absolute monotonic `deadline` at most. The caller must be attached.
    pub(crate) fn wait(
        &self,
        deadline: Option<Timestamp>,
        op: &'static str,
        timeout_hint: &'static str,
    ) -> Result<Woke> {
        let group = self.group(op)?;
        loop {
            let mut events = [abi36::EvlPollEvent::default(); 2];
            match group.wait_raw(&mut events, deadline) {
                Ok(n) => {
                    if events[..n].iter().any(|e| e.pollval.lval() == 1) {
                        return Ok(Woke::Bell);
                    }
                    return Ok(Woke::Ready);
                }
                Err(libc::ETIMEDOUT) => {
                    return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
                }
                Err(libc::EINTR) => continue,
                Err(e) => return Err(io_error(e, op)),
            }
        }
    }
}

/// Waits in-band (`ppoll`) until `fd` reports one of `events` or the bell rang, until the
/// absolute monotonic `deadline` at most.
pub(crate) fn inband_wait(
    fd: RawFd,
    events: libc::c_short,
    bell: Option<&Bell>,
    deadline: Option<Timestamp>,
    op: &'static str,
    timeout_hint: &'static str,
) -> Result<Woke> {
    loop {
        let mut pfds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: bell.map_or(-1, Bell::inband_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let rel = deadline.map(|d| {
            crate::time::types::duration_to_timespec(
                d.saturating_duration_since(Clock::Monotonic.now()),
            )
        });
        let rel_ptr = rel
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: two valid pollfds (a negative fd is ignored by ppoll), a null-or-valid
        // timeout, no signal mask change.
        let rc = unsafe { libc::ppoll(pfds.as_mut_ptr(), 2, rel_ptr, core::ptr::null()) };
        match rc {
            n if n > 0 => {
                if pfds[1].revents != 0 {
                    return Ok(Woke::Bell);
                }
                return Ok(Woke::Ready);
            }
            0 => {
                if deadline.is_some_and(|d| Clock::Monotonic.now() >= d) {
                    return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
                }
            }
            _ => {
                let e = errno();
                if e != libc::EINTR {
                    return Err(Error::from_errno(e, op, "poll failed"));
                }
            }
        }
    }
}
