//! The ranges of [`Config`]: checked before anything is allocated, so that an extreme value
//! is a typed error, never a capacity-overflow panic or an allocation abort.
//!
//! Kept apart from `reactor.rs` so that the check can be read (and tested) on its own;
//! [`Reactor::new`](crate::Reactor::new) and the runtime's executor builder call it first.

use crate::reactor::Config;
use evl_core::{Error, ErrorKind, Result};

impl Config {
    /// The most fds one reactor may have registered at once: 2^20, the kernel's default
    /// ceiling on a process's descriptors (`fs.nr_open`), so no ordinary process could
    /// register more anyway. Each slot is allocated up front (about 64 bytes).
    pub const MAX_FDS: usize = 1 << 20;

    /// Checks the sizes: `fds` at most [`Config::MAX_FDS`], `timers_per_turn` at least 1.
    /// Any `timers` is accepted: the
    /// wheel allocates nothing per timer (entries live in the futures that await them), so
    /// `usize::MAX` means "no limit" and 0 means every arming fails with
    /// [`Full`](crate::timer::Full). `fds = 0` makes every registration fail with
    /// [`ErrorKind::CapacityExceeded`].
    pub fn check(&self) -> Result<()> {
        if self.timers_per_turn == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Reactor::new",
                "Config::timers_per_turn must be at least 1",
            ));
        }
        if self.fds > Self::MAX_FDS {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Reactor::new",
                "at most 1048576 (2^20) fds may be registered with one reactor: lower Config::fds \
                 (ExecutorConfig::fds on an executor)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_typed_errors_or_accepted() {
        let ok = |timers, fds| {
            Config {
                timers,
                fds,
                ..Config::default()
            }
            .check()
        };
        assert_eq!(ok(0, 0), Ok(()));
        assert_eq!(ok(usize::MAX, 0), Ok(()));
        assert_eq!(ok(1, Config::MAX_FDS), Ok(()));
        let e = ok(1, Config::MAX_FDS + 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.hint().contains("Config::fds"), "{e}");
        assert_eq!(
            ok(1, usize::MAX).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
