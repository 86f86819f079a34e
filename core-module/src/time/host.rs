//! Sleeping on the host backend: `clock_nanosleep` with an absolute deadline.

use super::types::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::thread::types::require_attached;

/// Sleeps the calling thread until `deadline` on `clock` (the host keeps the EVL core's rule:
/// only attached threads sleep on the core's clocks).
pub(super) fn sleep_until(clock: Clock, deadline: Timestamp) -> Result<()> {
    require_attached("Clock::sleep_until")?;
    let ts = deadline.to_timespec();
    // SAFETY: `ts` is a valid timespec; the remainder pointer may be null with
    // TIMER_ABSTIME.
    let rc = unsafe {
        libc::clock_nanosleep(
            clock.clockid(),
            libc::TIMER_ABSTIME,
            &ts,
            core::ptr::null_mut(),
        )
    };
    match rc {
        0 => Ok(()),
        e => Err(Error::from_errno(e, "Clock::sleep_until", "")),
    }
}
