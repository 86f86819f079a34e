//! The core's clocks: time values in its format, reading a clock element, making timer
//! files on it.

use super::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::Clock;
use core::time::Duration;
use std::os::fd::{FromRawFd, OwnedFd};

/// Converts nanoseconds to the core's time value.
pub(crate) fn ns_to_timespec(ns: u64) -> abi36::EvlTimespec {
    abi36::EvlTimespec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64)
}

pub(crate) fn duration_to_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn timespec_to_ns(ts: &abi36::EvlTimespec) -> u64 {
    (ts.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec.max(0) as u64)
}

/// A new, disarmed timer file on `clock` (close-on-exec, as the core makes it).
pub(crate) fn new_timer_fd(clock: Clock, op: &'static str) -> Result<OwnedFd> {
    let clock_fd = sys::process()?.clock_fd(clock);
    let mut fd: libc::c_int = -1;
    // SAFETY: EVL_CLKIOC_NEW_TIMER writes one int (the new descriptor) at the address
    // passed, `fd`, live and writable for the call. It is served in-band only.
    unsafe {
        sys::ioctl(
            clock_fd,
            abi36::EVL_CLKIOC_NEW_TIMER,
            &mut fd as *mut _ as usize,
        )
    }
    .map_err(|e| {
        Error::from_errno(
            e,
            op,
            "the core refused to create a timer (descriptor limit or core memory?)",
        )
    })?;
    if fd < 0 {
        return Err(Error::new(
            ErrorKind::Other,
            op,
            "the core returned no descriptor for the new timer",
        ));
    }
    // SAFETY: the core installed `fd` in this process's descriptor table for the caller,
    // who owns it from now on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The current time of the core's `clock` (`EVL_CLKIOC_GET_TIME`, served on both stages).
pub(crate) fn clock_now(clock: Clock, op: &'static str) -> Result<u64> {
    let mut ts = abi36::EvlTimespec::default();
    // SAFETY: EVL_CLKIOC_GET_TIME writes one EvlTimespec at the address passed, `ts`, live
    // and writable for the call.
    unsafe {
        sys::ioctl_here(
            sys::process()?.clock_fd(clock),
            abi36::EVL_CLKIOC_GET_TIME,
            &mut ts as *mut _ as usize,
        )
    }
    .map_err(|e| Error::from_errno(e, op, "the core refused to read its clock"))?;
    Ok(timespec_to_ns(&ts))
}
