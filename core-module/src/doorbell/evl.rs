//! The doorbell on the EVL backend: a private flag group's bit (see
//! [`crate::backend::evl::monitor`]).

use crate::backend::evl::monitor::{Kind, Monitor};
use crate::backend::evl::{abi36, sys};
use crate::error::Result;
use crate::name::Visibility;
use std::os::fd::BorrowedFd;

/// A doorbell: a private flag group whose bit 0 is the bell.
#[derive(Debug)]
pub(crate) struct Bell(Monitor);

/// The bit a ring posts, as the 4 bytes a write of a MASK monitor carries.
const BELL_BIT: [u8; 4] = 1i32.to_ne_bytes();

impl Bell {
    pub(crate) fn new(op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Flags, 0, Visibility::Private, op).map(Bell)
    }

    /// Posts the bell bit: `oob_write` from a thread on the oob stage, `write(2)` otherwise
    /// (attached or not, signal handlers included: signals are handled in-band). Both are one
    /// system call, allocate nothing and take no user-space lock (async-signal-safe).
    pub(crate) fn ring(&self) {
        // The only failures are a bad descriptor (impossible while `self` lives) or a
        // signal before the post; either way there is nothing a ringer could do.
        let _ = sys::write_here(self.0.raw(), &BELL_BIT);
    }

    /// Takes every bit without waiting; true if the bell was rung.
    pub(crate) fn drain(&self) -> bool {
        matches!(
            self.0
                .try_wait(abi36::EVL_MONIOC_TRYWAIT, 0, "Doorbell::drain"),
            Ok(Some(_))
        )
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}
