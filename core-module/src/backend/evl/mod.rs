//! The EVL backend: the real core, reached through `/dev/evl` with libc system calls and
//! ioctls on the EVL user ABI (no libevl link).
//!
//! This module is the layer every element's `evl.rs` shares (the elements' own EVL code lives
//! with them: `crate::<element>::evl`):
//!
//! | module | what |
//! |---|---|
//! | `abi36`, `ioctl` | the ABI-36 facts: structs, request numbers, oob call encoding (hidden from the docs: not a stable API; public for the layout tests) |
//! | `sys` | process set-up (control device, clocks, the core's shared memory), the oob and in-band call forms, clone/open of elements |
//! | `current` | the calling thread's attachment record (handle, shared-memory window) |
//! | `clock` | time values in the core's format, reading a clock element, timer files |
//! | `group` | a poll group of the core with its registration table (poll sets, timer and xbuf waits) |
//! | `file` | the waiting kit of the proxy, xbuf and observable: cloning files, oob and in-band waits |
//! | `monitor` | the monitor element's common core (semaphores, flags, mutexes, events, the doorbell) |
//!
//! [`probe`] detects the core and checks its ABI level. Calls are issued in the form that
//! keeps the caller on its stage (out-of-band from an attached thread running out-of-band,
//! in-band otherwise); operations the core serves out-of-band only (blocking waits, poll-set
//! changes) need an attached caller and say so ([`ErrorKind::PermissionDenied`] naming
//! `Thread::attach`). A second ABI level is one more `abiNN` module beside `abi36`.

#[doc(hidden)]
pub mod abi36;
pub(crate) mod clock;
pub(crate) mod current;
pub(crate) mod file;
pub(crate) mod group;
#[doc(hidden)]
pub mod ioctl;
pub(crate) mod monitor;
pub(crate) mod sys;

use crate::error::{Error, ErrorKind, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The control device of the EVL core (`EVL_CONTROL_DEV`).
pub const CONTROL_DEVICE: &str = abi36::EVL_CONTROL_DEV;

/// ABI levels this build can speak.
pub const SUPPORTED_ABI: &[u32] = &[abi36::EVL_ABI_LEVEL];

/// What the core says of itself (`struct evl_core_info`, read with `EVL_CTLIOC_GET_COREINFO`):
/// `abi_base`, `abi_current`, `fpu_features`, `shm_size`. Level 36 keeps the layout this
/// build always assumed (24 bytes, 4 bytes of padding before `shm_size`); see
/// `abi36::EvlCoreInfo`.
pub use abi36::EvlCoreInfo as CoreInfo;

/// Reads the core's information from the control device.
pub fn core_info() -> Result<CoreInfo> {
    const OP: &str = "evl::core_info";
    let path = abi36::EVL_CONTROL_DEV_C;
    // SAFETY: `path` is a NUL-terminated string; open has no other memory effects.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = crate::error::errno();
        let hint = match e {
            libc::ENOENT | libc::ENODEV | libc::ENXIO => {
                "no EVL core here: boot a kernel with the EVL core, or set EVL_BACKEND=host"
            }
            libc::EACCES | libc::EPERM => {
                "cannot open /dev/evl/control: run as root or give your user access to /dev/evl"
            }
            _ => "cannot open /dev/evl/control",
        };
        let err = Error::from_errno(e, OP, hint);
        return Err(if err.kind() == ErrorKind::NotFound {
            Error::new(ErrorKind::NoCore, OP, hint)
        } else {
            err
        });
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = CoreInfo::default();
    // SAFETY: the ioctl writes at most size_of::<CoreInfo>() bytes (encoded in the request
    // number) into `info`, a valid, writable, repr(C) struct of that size.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            abi36::EVL_CTLIOC_GET_COREINFO as _,
            &mut info as *mut CoreInfo,
        )
    };
    if rc < 0 {
        return Err(Error::last_os_error(
            OP,
            "the EVL core rejected GET_COREINFO",
        ));
    }
    Ok(info)
}

/// Checks that an EVL core is present and speaks an ABI level this build supports.
pub fn probe() -> Result<CoreInfo> {
    let info = core_info()?;
    check_abi(&info)?;
    Ok(info)
}

/// Accepts `info` when its ABI range contains a level this build supports.
pub fn check_abi(info: &CoreInfo) -> Result<()> {
    if SUPPORTED_ABI
        .iter()
        .any(|l| (info.abi_base..=info.abi_current).contains(l))
    {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::AbiUnsupported {
                found: (info.abi_base, info.abi_current),
                supported: SUPPORTED_ABI,
            },
            "evl::probe",
            "run a core whose ABI range includes a supported level, or set EVL_BACKEND=host",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_check_names_found_and_supported() {
        let ok = CoreInfo {
            abi_base: 30,
            abi_current: 36,
            ..Default::default()
        };
        assert!(check_abi(&ok).is_ok());
        let old = CoreInfo {
            abi_base: 23,
            abi_current: 26,
            ..Default::default()
        };
        let e = check_abi(&old).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::AbiUnsupported {
                found: (23, 26),
                supported: SUPPORTED_ABI
            }
        );
        assert!(e.to_string().contains("23..=26"), "{e}");
    }

    #[test]
    fn probe_without_core_says_what_to_do() {
        if std::path::Path::new(CONTROL_DEVICE).exists() {
            eprintln!("skipped: an EVL core is present on this machine");
            return;
        }
        let e = probe().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoCore);
        assert!(e.to_string().contains("EVL_BACKEND=host"), "{e}");
    }
}
