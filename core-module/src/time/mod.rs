//! Clocks and absolute time.
//!
//! Every deadline in this crate is absolute: a [`Timestamp`] on a [`Clock`], in nanoseconds,
//! never rounded. The EVL core's monotonic clock and Linux's `CLOCK_MONOTONIC` share one time
//! base, so a timestamp read on one backend means the same instant on the other.
//!
//! | file | what |
//! |---|---|
//! | `types.rs` | [`Timestamp`], [`Clock`] and reading a clock (shared with the backends) |
//! | `host.rs` | sleeping with `clock_nanosleep` |
//! | `evl.rs` | sleeping out-of-band on the core's clock element |

mod evl;
mod host;
pub(crate) mod types;

pub use types::{Clock, Timestamp};

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use core::time::Duration;

impl Clock {
    /// Sleeps the calling thread until `deadline` on this clock (absolute: no drift from the
    /// time spent computing it). Returns at once if `deadline` has passed.
    ///
    /// On the EVL backend this is an out-of-band sleep on the core's clock element, and the
    /// calling thread must be attached ([`crate::thread::Thread::attach`]).
    ///
    /// Errors: [`ErrorKind::Interrupted`] when a signal handler ran before the deadline;
    /// [`ErrorKind::PermissionDenied`] on the EVL backend when the thread is not attached.
    pub fn sleep_until(self, deadline: Timestamp) -> Result<()> {
        match backend::current()? {
            Backend::Host => host::sleep_until(self, deadline),
            Backend::Evl => evl::sleep_until(self, deadline),
        }
    }

    /// Sleeps for `d` (relative). Prefer [`Clock::sleep_until`] in periodic loops.
    pub fn sleep(self, d: Duration) -> Result<()> {
        let deadline = self.now().checked_add(d).ok_or(Error::new(
            ErrorKind::InvalidArgument,
            "Clock::sleep",
            "duration too large",
        ))?;
        self.sleep_until(deadline)
    }
}
