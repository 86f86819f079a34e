//! Threads on the EVL backend: attaching the caller (a clone request on the thread factory),
//! its scheduling attributes, detaching, and the stage-switch warnings (`SIGDEBUG`). The
//! attached thread's record, which every EVL element reads, is [`crate::backend::evl::current`].

use crate::backend::evl::current::{self, Current};
use crate::backend::evl::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use std::os::fd::{AsRawFd, OwnedFd};

/// The calling thread's attachment: a descriptor on its thread element.
#[derive(Debug)]
pub(crate) struct Attachment {
    efd: OwnedFd,
}

/// The core's statistics of the thread whose element `efd` is (`EVL_THRIOC_GET_STATE`, an
/// out-of-band ioctl: reading them does not demote the caller).
fn state_of(efd: std::os::fd::RawFd) -> Result<abi36::EvlThreadState> {
    let mut st = abi36::EvlThreadState::default();
    // SAFETY: EVL_THRIOC_GET_STATE writes one EvlThreadState at the address passed, `st`,
    // live and writable for the call.
    unsafe {
        sys::oob_ioctl(
            efd,
            abi36::EVL_THRIOC_GET_STATE,
            &mut st as *mut abi36::EvlThreadState as usize,
        )
    }
    .map_err(|e| Error::from_errno(e, "Thread::core_stats", "the core refused GET_STATE"))?;
    Ok(st)
}

/// The core's statistics of the calling thread, `None` when it is not attached.
pub(crate) fn current_state() -> Result<Option<abi36::EvlThreadState>> {
    current::current().map(|c| state_of(c.efd)).transpose()
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
    warn_switches: bool,
) -> Result<Attachment> {
    const OP: &str = "Thread::attach";
    sys::process()?;
    // The core wants element names unique per class, private ones included, across every
    // process. A public thread is known by its name, so it keeps it (and a clash is an
    // error); a private one is only named for diagnostics (`/sys/class/evl`, `evl ps`), so
    // the thread id is appended, as libevl programs customarily do: two runtimes, or two
    // programs, may each have an executor called "main".
    let mut private_name = [0u8; crate::name::MAX_NAME_LEN];
    let core_name = if public {
        name
    } else {
        private_core_name(name, gettid(), &mut private_name)
    };
    // SAFETY: the thread class takes no attributes (0).
    let (efd, eids) = unsafe {
        sys::clone_element(
            abi36::EVL_THREAD_CLONE_DEV_C,
            abi36::EVL_THREAD_DEV,
            Some(core_name),
            0,
            if public {
                abi36::EVL_CLONE_PUBLIC
            } else {
                abi36::EVL_CLONE_PRIVATE
            },
            &[
                (
                    libc::EEXIST,
                    None,
                    "a thread of this name is already attached to the core; pick another name",
                ),
                (
                    libc::EBUSY,
                    Some(ErrorKind::InvalidArgument),
                    "this thread is already attached to the core",
                ),
                (
                    libc::EINVAL,
                    None,
                    "the core refused the attachment (memory not locked with mlockall(MCL_FUTURE)?)",
                ),
                (
                    libc::EPERM,
                    None,
                    "attaching to the EVL core needs access to /dev/evl/thread/clone (run as root)",
                ),
            ],
            OP,
        )
    }?;
    let window = sys::process()?
        .shm
        .at::<abi36::EvlUserWindow>(eids.state_offset, OP)?;
    let me = Attachment { efd };
    current::set(Some(Current {
        fundle: eids.fundle,
        window,
        efd: me.efd.as_raw_fd(),
    }));
    if let Err(e) = me.set_sched(policy, priority) {
        me.detach();
        return Err(e);
    }
    if warn_switches {
        if let Err(e) = me.warn_switches() {
            me.detach();
            return Err(e);
        }
    }
    Ok(me)
}

/// The calling thread's id.
fn gettid() -> u32 {
    // SAFETY: gettid takes no argument and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// `<name>:<tid>` in `buf`, `name` shortened as needed to fit the core's name length.
fn private_core_name<'b>(
    name: &str,
    tid: u32,
    buf: &'b mut [u8; crate::name::MAX_NAME_LEN],
) -> &'b str {
    let mut digits = [0u8; 10];
    let mut n = tid;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &digits[i..];
    let keep = name.len().min(buf.len() - 1 - digits.len());
    buf[..keep].copy_from_slice(&name.as_bytes()[..keep]);
    buf[keep] = b':';
    buf[keep + 1..keep + 1 + digits.len()].copy_from_slice(digits);
    core::str::from_utf8(&buf[..keep + 1 + digits.len()]).expect("ASCII name and digits")
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

    /// Asks the core to notify every demotion of the thread to the in-band stage with
    /// `SIGDEBUG` and its cause (`EVL_T_WOSS`; the core adds `EVL_T_HMSIG`), after making
    /// sure the process counts them ([`install_sigdebug`]).
    fn warn_switches(&self) -> Result<()> {
        const OP: &str = "Thread::attach";
        install_sigdebug()?;
        let mut mode: u32 = abi36::EVL_T_WOSS;
        // SAFETY: EVL_THRIOC_SET_MODE reads and writes one u32 at the address passed,
        // `mode`, live and writable for the call.
        unsafe {
            sys::oob_ioctl(
                self.efd.as_raw_fd(),
                abi36::EVL_THRIOC_SET_MODE,
                &mut mode as *mut u32 as usize,
            )
        }
        .map(|_| ())
        .map_err(|e| Error::from_errno(e, OP, "the core refused to warn of stage switches"))
    }

    /// The core's statistics of the thread (`EVL_THRIOC_GET_STATE`), read out-of-band so
    /// that reading them does not itself demote the caller.
    pub(crate) fn state(&self) -> Result<abi36::EvlThreadState> {
        state_of(self.efd.as_raw_fd())
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
        current::set(None);
        drop(self.efd);
    }
}

/// The `SIGDEBUG` action that was in place before [`install_sigdebug`], for signals that
/// are not the core's.
static PREV_SIGDEBUG: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();

/// Installs, once per process, the `SIGDEBUG` handler that counts the core's stage-switch
/// notifications per cause (see [`crate::stage`]). A `SIGDEBUG` (`SIGXCPU`) that does not
/// carry the core's marker goes to the action that was there before.
pub(crate) fn install_sigdebug() -> Result<()> {
    static DONE: std::sync::OnceLock<core::result::Result<(), i32>> = std::sync::OnceLock::new();
    let r = DONE.get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid "query" buffer and a valid base to fill in:
        // handler, empty mask, flags; sigaction reads `sa` and writes `prev`, both live.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            let mut prev: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_sigdebug as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            // Record the previous action before the new one can run.
            if libc::sigaction(abi36::SIGDEBUG, core::ptr::null(), &mut prev) != 0 {
                return Err(crate::error::errno());
            }
            let _ = PREV_SIGDEBUG.set(prev);
            if libc::sigaction(abi36::SIGDEBUG, &sa, core::ptr::null_mut()) != 0 {
                return Err(crate::error::errno());
            }
        }
        Ok(())
    });
    r.map_err(|e| {
        Error::from_errno(
            e,
            "Thread::attach",
            "cannot install the SIGDEBUG (SIGXCPU) handler that counts stage switches",
        )
    })
}

extern "C" fn on_sigdebug(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the handler is installed with SA_SIGINFO, so the kernel passes a valid
    // siginfo; si_value is meaningful for SI_QUEUE signals, which the core sends, and reading
    // it for another code only yields a value the marker test rejects.
    let (code, value) = unsafe { ((*info).si_code, (*info).si_value().sival_ptr as usize) };
    // The core stores an int in the sigval; on the little-endian targets served here it is
    // the low 32 bits of the pointer-sized union.
    let value = value as u32;
    if code == libc::SI_QUEUE && value & 0xffff_0000 == abi36::SIGDEBUG_MARKER {
        crate::stage::record(crate::stage::Cause::from_diag(
            value & abi36::SIGDEBUG_CAUSE_MASK,
        ));
        return;
    }
    // Not the core's: hand it to the previous action.
    let Some(prev) = PREV_SIGDEBUG.get() else {
        return;
    };
    match prev.sa_sigaction {
        libc::SIG_IGN => {}
        libc::SIG_DFL => {
            // The default action of SIGXCPU ends the process: restore it and re-raise; the
            // signal is blocked while this handler runs, so it is delivered on return.
            crate::process::restore_default_signal(sig);
            // SAFETY: raise is async-signal-safe and touches no memory of ours.
            unsafe { libc::raise(sig) };
        }
        h if prev.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: `h` is the address of the SA_SIGINFO handler that was installed before
            // ours, called with the arguments the kernel gave us.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { core::mem::transmute(h) };
            f(sig, info, ctx);
        }
        h => {
            // SAFETY: `h` is the address of the plain handler that was installed before ours.
            let f: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(h) };
            f(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_threads_get_their_tid_appended_within_the_name_limit() {
        let mut b = [0u8; crate::name::MAX_NAME_LEN];
        assert_eq!(private_core_name("main", 4321, &mut b), "main:4321");
        assert_eq!(private_core_name("x", 0, &mut b), "x:0");
        let long = "n".repeat(crate::name::MAX_NAME_LEN);
        let got = private_core_name(&long, 4_000_000_000, &mut b).to_string();
        assert_eq!(got.len(), crate::name::MAX_NAME_LEN);
        assert!(got.ends_with(":4000000000"), "{got}");
    }
}
