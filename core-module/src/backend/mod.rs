//! The backend boundary: which core serves the elements of this process.
//!
//! Two backends give the same element API:
//! - [`Backend::Evl`]: the real EVL core, through `/dev/evl` ([`evl`]).
//! - [`Backend::Host`]: stock or PREEMPT_RT Linux: timerfd, eventfd, epoll, futex,
//!   SCHED_FIFO ([`host`]).
//!
//! The choice is made once per process, on first use: an explicit [`select`] wins, then the
//! `EVL_BACKEND` environment variable (`host`, `evl` or `auto`), then auto-detection (the EVL
//! core when `/dev/evl/control` exists, else host). Each element type keeps a private enum of
//! per-backend handles and dispatches on it; callers never see which.
//!
//! Where the code is: each element is a directory, `crate::<element>/` with `mod.rs` (the
//! front end: the documented type, argument checks, dispatch), `types.rs` where the front end
//! and its backends share types, `host.rs` and `evl.rs` (the backends). What several
//! elements' backends share is here: [`evl`] (the EVL system-call layer) and [`host`] (the
//! host one). Backends import `types` modules and these layers, never a front end, so no two
//! modules import each other.

pub mod evl;
pub mod host;

use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicU8, Ordering};

/// A core that can serve elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Stock or PREEMPT_RT Linux.
    Host,
    /// The EVL real-time core.
    Evl,
}

/// How the backend was (or will be) chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// `/dev/evl/control` present: EVL, else host.
    Auto,
    /// This backend, no matter what.
    Force(Backend),
}

const UNSET: u8 = 0;
const HOST: u8 = 1;
const EVL: u8 = 2;

static CHOSEN: AtomicU8 = AtomicU8::new(UNSET);

impl Backend {
    /// Its name as `EVL_BACKEND` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Host => "host",
            Backend::Evl => "evl",
        }
    }

    const fn code(self) -> u8 {
        match self {
            Backend::Host => HOST,
            Backend::Evl => EVL,
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Selection {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "host" => Ok(Selection::Force(Backend::Host)),
            "evl" => Ok(Selection::Force(Backend::Evl)),
            "auto" | "" => Ok(Selection::Auto),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                "EVL_BACKEND",
                "EVL_BACKEND must be one of: host, evl, auto",
            )),
        }
    }
}

/// What auto-detection picks on this machine: EVL when `/dev/evl/control` exists.
pub fn detect() -> Backend {
    if std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        Backend::Evl
    } else {
        Backend::Host
    }
}

/// The selection the environment asks for (`EVL_BACKEND`), `Auto` when unset.
pub fn selection_from_env() -> Result<Selection> {
    match std::env::var("EVL_BACKEND") {
        Ok(v) => v.parse(),
        Err(std::env::VarError::NotPresent) => Ok(Selection::Auto),
        Err(std::env::VarError::NotUnicode(_)) => "?".parse(),
    }
}

/// Chooses the backend for this process. Call it before creating any element; choosing the
/// same backend again is a no-op, choosing another one once elements exist is an error.
/// Choosing EVL checks the core first (present, ABI level supported).
pub fn select(selection: Selection) -> Result<Backend> {
    let want = match selection {
        Selection::Auto => detect(),
        Selection::Force(b) => b,
    };
    if want == Backend::Evl {
        evl::probe()?;
    }
    match CHOSEN.compare_exchange(UNSET, want.code(), Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(want),
        Err(code) if code == want.code() => Ok(want),
        Err(_) => Err(Error::new(
            ErrorKind::InvalidArgument,
            "backend::select",
            "the backend is already chosen for this process; select it before creating any element",
        )),
    }
}

/// The backend serving this process, choosing it on first call (environment, then
/// auto-detection).
pub fn current() -> Result<Backend> {
    match CHOSEN.load(Ordering::Acquire) {
        HOST => Ok(Backend::Host),
        EVL => Ok(Backend::Evl),
        _ => select(selection_from_env()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_selection() {
        assert_eq!(
            "host".parse::<Selection>().unwrap(),
            Selection::Force(Backend::Host)
        );
        assert_eq!(
            " evl ".parse::<Selection>().unwrap(),
            Selection::Force(Backend::Evl)
        );
        assert_eq!("auto".parse::<Selection>().unwrap(), Selection::Auto);
        let e = "rtai".parse::<Selection>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("host, evl, auto"), "{e}");
    }

    #[test]
    fn detection_follows_the_control_device() {
        let has_core = std::path::Path::new(evl::CONTROL_DEVICE).exists();
        assert_eq!(detect() == Backend::Evl, has_core);
    }
}
