//! System-call plumbing of the EVL backend: the out-of-band ioctl (carried by `prctl(2)`),
//! the in-band ioctl, and the process-wide state every EVL call needs (the control device
//! and the two clock elements), set up once per process.

use super::abi36;
use crate::error::{errno, Error, ErrorKind, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// Issues `oob_ioctl(fd, request, arg)`: EVL system call [`abi36::SYS_EVL_IOCTL`] folded into
/// `prctl(PR_OOB_SYSCALL, nr, fd, request, arg)`, the only form the level-36 core accepts.
///
/// Returns the call's non-negative result or the `errno` it failed with. The core answers
/// `EPERM` when the caller is not attached to it (or lacks `CAP_SYS_NICE`).
///
/// # Safety
/// `arg` must be what `request` expects on `fd`: for a request that reads or writes memory,
/// the address of a live object of the size the request encodes, writable when the core
/// writes it, for the whole call.
pub(crate) unsafe fn oob_ioctl(
    fd: RawFd,
    request: u32,
    arg: usize,
) -> core::result::Result<i32, i32> {
    // prctl with PR_OOB_SYSCALL is routed by Dovetail to the EVL core, which reads the four
    // following words as (nr, fd, request, arg); a kernel without Dovetail rejects the
    // unknown option with EINVAL and touches no memory. Every argument is passed as a full
    // `unsigned long`, as the variadic prctl reads them.
    // SAFETY: as argued above; what the core does with `arg` is the caller's contract.
    let rc = unsafe {
        libc::prctl(
            abi36::PR_OOB_SYSCALL,
            abi36::SYS_EVL_IOCTL as libc::c_ulong,
            fd as libc::c_ulong,
            request as libc::c_ulong,
            arg as libc::c_ulong,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// Issues the in-band `ioctl(fd, request, arg)`.
///
/// # Safety
/// As for [`oob_ioctl`]: `arg` must match what `request` expects on `fd`.
pub(crate) unsafe fn ioctl(fd: RawFd, request: u32, arg: usize) -> core::result::Result<i32, i32> {
    // SAFETY: the memory contract on `arg` is the caller's (see above); the request number
    // is passed zero-extended, as both glibc and musl keep its 32-bit pattern.
    let rc = unsafe { libc::ioctl(fd, request as _, arg) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// Opens `path` read-write, close-on-exec.
pub(crate) fn open_rw(path: &CStr) -> core::result::Result<OwnedFd, i32> {
    // SAFETY: `path` is NUL-terminated; open has no other memory effects.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What a process needs once before any EVL call: the control device open (the core ties
/// attachment to it), and the two clock elements, on which sleeps and timers are issued.
#[derive(Debug)]
pub(crate) struct Process {
    /// `/dev/evl/control`, kept open for the life of the process.
    #[allow(dead_code)]
    pub control: OwnedFd,
    /// `/dev/evl/clock/monotonic`.
    pub monotonic: OwnedFd,
    /// `/dev/evl/clock/realtime`.
    pub realtime: OwnedFd,
}

static PROCESS: OnceLock<core::result::Result<Process, Error>> = OnceLock::new();

fn init() -> core::result::Result<Process, Error> {
    const OP: &str = "evl::init";
    let control = open_rw(abi36::EVL_CONTROL_DEV_C).map_err(|e| {
        if e == libc::ENOENT {
            Error::new(
                ErrorKind::NoCore,
                OP,
                "no EVL core here: boot a kernel with the EVL core, or set EVL_BACKEND=host",
            )
        } else {
            Error::from_errno(
                e,
                OP,
                "cannot open /dev/evl/control: run as root or give your user access to /dev/evl",
            )
        }
    })?;
    let clock = |path: &CStr| {
        open_rw(path).map_err(|e| {
            Error::from_errno(
                e,
                OP,
                "cannot open the core's clock element under /dev/evl/clock",
            )
        })
    };
    Ok(Process {
        control,
        monotonic: clock(abi36::EVL_CLOCK_MONOTONIC_DEV_C)?,
        realtime: clock(abi36::EVL_CLOCK_REALTIME_DEV_C)?,
    })
}

/// The process-wide EVL state, set up on first call (the result, success or error, is kept).
pub(crate) fn process() -> Result<&'static Process> {
    PROCESS.get_or_init(init).as_ref().map_err(|e| *e)
}

impl Process {
    /// The clock element for `clock`.
    pub(crate) fn clock_fd(&self, clock: crate::time::Clock) -> RawFd {
        match clock {
            crate::time::Clock::Monotonic => self.monotonic.as_raw_fd(),
            crate::time::Clock::Realtime => self.realtime.as_raw_fd(),
        }
    }
}
