//! Sleeping on the EVL backend: an out-of-band sleep on the core's clock element.

use super::types::{Clock, Timestamp};
use crate::backend::evl::{abi36, sys};
use crate::error::{Error, Result};
use crate::thread::types::require_attached;

/// Sleeps the calling thread out-of-band until `deadline` on `clock` (`EVL_CLKIOC_SLEEP` on
/// the clock element, an absolute time). The thread must be attached to the core.
pub(super) fn sleep_until(clock: Clock, deadline: Timestamp) -> Result<()> {
    const OP: &str = "Clock::sleep_until";
    require_attached(OP)?;
    let fd = sys::process()?.clock_fd(clock);
    let ns = deadline.as_nanos();
    let ts = abi36::EvlTimespec::new(
        (ns / 1_000_000_000).min(i64::MAX as u64) as i64,
        (ns % 1_000_000_000) as i64,
    );
    // SAFETY: EVL_CLKIOC_SLEEP reads one EvlTimespec at the address passed, `ts`, live for
    // the call.
    match unsafe { sys::oob_ioctl(fd, abi36::EVL_CLKIOC_SLEEP, &ts as *const _ as usize) } {
        Ok(_) => Ok(()),
        Err(libc::EPERM) => Err(Error::from_errno(
            libc::EPERM,
            OP,
            "the core refused the out-of-band sleep: the thread is not attached, or lacks CAP_SYS_NICE",
        )),
        Err(e) => Err(Error::from_errno(e, OP, "")),
    }
}
