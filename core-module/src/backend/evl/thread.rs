//! Threads on the EVL core: attaching the caller (a clone request on the thread factory),
//! its scheduling attributes, and detaching.

use super::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::name::MAX_NAME_LEN;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The calling thread's attachment: a descriptor on its thread element.
#[derive(Debug)]
pub(crate) struct Attachment {
    efd: OwnedFd,
}

/// The core's scheduling attributes for (`policy`, `priority`), as libevl derives them from
/// the in-band ones: SCHED_FIFO keeps its priority, SCHED_OTHER is priority 0.
fn sched_attrs(policy: libc::c_int, priority: libc::c_int) -> abi36::EvlSchedAttrs {
    abi36::EvlSchedAttrs {
        sched_policy: policy,
        sched_priority: priority,
        sched_u: abi36::EvlSchedParam::NONE,
    }
}

/// Attaches the calling thread to the core as `name` (public: visible as
/// `/dev/evl/thread/<name>`), then gives it the core policy (`policy`, `priority`).
///
/// The caller has already done the process-wide set-up the core requires: `mlockall` with
/// `MCL_FUTURE` (the core refuses to attach otherwise, with `EINVAL`).
pub(crate) fn attach(
    name: &str,
    public: bool,
    policy: libc::c_int,
    priority: libc::c_int,
) -> Result<Attachment> {
    const OP: &str = "Thread::attach";
    sys::process()?;
    let factory = sys::open_rw(abi36::EVL_THREAD_CLONE_DEV_C)
        .map_err(|e| Error::from_errno(e, OP, "cannot open /dev/evl/thread/clone"))?;
    let mut cname = [0u8; MAX_NAME_LEN + 1];
    cname[..name.len()].copy_from_slice(name.as_bytes());
    let mut req = abi36::EvlCloneReq {
        name_ptr: cname.as_ptr() as u64,
        attrs_ptr: 0,
        clone_flags: if public {
            abi36::EVL_CLONE_PUBLIC
        } else {
            abi36::EVL_CLONE_PRIVATE
        },
        ..Default::default()
    };
    // SAFETY: EVL_IOC_CLONE reads and writes one EvlCloneReq (its size is encoded in the
    // request number) at the address passed, `req`, live and writable for the call; the core
    // reads the NUL-terminated name at `name_ptr` (`cname`, live for the call).
    if let Err(e) = unsafe {
        sys::ioctl(
            factory.as_raw_fd(),
            abi36::EVL_IOC_CLONE,
            &mut req as *mut abi36::EvlCloneReq as usize,
        )
    } {
        return Err(match e {
            libc::EEXIST => Error::from_errno(
                e,
                OP,
                "a thread of this name is already attached to the core; pick another name",
            ),
            libc::EBUSY => Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "this thread is already attached to the core",
            ),
            libc::EINVAL => Error::from_errno(
                e,
                OP,
                "the core refused the attachment (memory not locked with mlockall(MCL_FUTURE)?)",
            ),
            libc::EPERM | libc::EACCES => Error::from_errno(
                e,
                OP,
                "attaching to the EVL core needs access to /dev/evl/thread/clone (run as root)",
            ),
            _ => Error::from_errno(e, OP, "the core refused to attach the thread"),
        });
    }
    drop(factory);
    let efd = if public {
        // A public element gets no descriptor from the clone request (the core installs
        // one only for private elements): open its device, as any other process would.
        let mut path = Vec::with_capacity(32 + name.len());
        path.extend_from_slice(b"/dev/evl/thread/");
        path.extend_from_slice(name.as_bytes());
        path.push(0);
        let path = std::ffi::CStr::from_bytes_with_nul(&path).expect("validated name");
        match sys::open_rw(path) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(Error::from_errno(
                    e,
                    OP,
                    "attached, but cannot open the thread's device under /dev/evl/thread",
                ));
            }
        }
    } else {
        // SAFETY: for a private element the core installed `req.efd` in this process's
        // descriptor table (close-on-exec) and hands it over to the caller; nobody else owns it.
        unsafe { OwnedFd::from_raw_fd(req.efd as i32) }
    };
    let me = Attachment { efd };
    me.set_sched(policy, priority)?;
    Ok(me)
}

impl Attachment {
    /// Sets the core's scheduling attributes of the calling (attached) thread.
    pub(crate) fn set_sched(&self, policy: libc::c_int, priority: libc::c_int) -> Result<()> {
        let attrs = sched_attrs(policy, priority);
        // SAFETY: EVL_THRIOC_SET_SCHEDPARAM reads one EvlSchedAttrs at the address passed,
        // `attrs`, live for the call.
        unsafe {
            sys::oob_ioctl(
                self.efd.as_raw_fd(),
                abi36::EVL_THRIOC_SET_SCHEDPARAM,
                &attrs as *const abi36::EvlSchedAttrs as usize,
            )
        }
        .map(|_| ())
        .map_err(|e| {
            Error::from_errno(
                e,
                "Thread::attach",
                "the core refused the scheduling attributes",
            )
        })
    }

    /// The core's scheduling attributes of the thread: (policy, priority).
    pub(crate) fn sched(&self) -> Result<(libc::c_int, libc::c_int)> {
        let mut attrs = abi36::EvlSchedAttrs::default();
        // SAFETY: EVL_THRIOC_GET_SCHEDPARAM writes one EvlSchedAttrs at the address passed,
        // `attrs`, live and writable for the call.
        unsafe {
            sys::ioctl(
                self.efd.as_raw_fd(),
                abi36::EVL_THRIOC_GET_SCHEDPARAM,
                &mut attrs as *mut abi36::EvlSchedAttrs as usize,
            )
        }
        .map_err(|e| Error::from_errno(e, "Thread::policy", "the core refused GET_SCHEDPARAM"))?;
        Ok((attrs.sched_policy, attrs.sched_priority))
    }

    /// Detaches the calling thread from the core and closes its element descriptor.
    pub(crate) fn detach(self) {
        let mut mode: u32 = abi36::EVL_T_WOSS;
        // SAFETY: EVL_THRIOC_CLEAR_MODE reads and writes one u32 at the address passed,
        // `mode`, live and writable for the call. Stage-switch warnings are of no use while
        // leaving the core (libevl clears them too); a failure here changes nothing.
        let _ = unsafe {
            sys::oob_ioctl(
                self.efd.as_raw_fd(),
                abi36::EVL_THRIOC_CLEAR_MODE,
                &mut mode as *mut u32 as usize,
            )
        };
        // SAFETY: EVL_THRIOC_DETACH_SELF takes no argument.
        let _ = unsafe { sys::ioctl(self.efd.as_raw_fd(), abi36::EVL_THRIOC_DETACH_SELF, 0) };
        drop(self.efd);
    }
}
