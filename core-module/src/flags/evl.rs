//! Flag groups on the EVL backend: an event monitor with the MASK protocol (see
//! [`crate::backend::evl::monitor`]).

use crate::backend::evl::abi36;
use crate::backend::evl::monitor::{Kind, Monitor};
use crate::error::{Error, ErrorKind, Result};
use crate::name::Visibility;
use crate::time::types::Timestamp;
use core::sync::atomic::Ordering;
use std::os::fd::BorrowedFd;

/// A flag group: an event monitor with the MASK protocol.
#[derive(Debug)]
pub(crate) struct FlagGroup(Monitor);

impl FlagGroup {
    pub(crate) fn create(initial: u32, vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Flags, initial, vis, op).map(FlagGroup)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Flags, name, op).map(FlagGroup)
    }

    /// Waits for any (`all == false`) or all of `bits`; consumes and returns the matched
    /// bits. `bits == 0` is passed as is: the core reads it as every bit, as the API does.
    pub(crate) fn wait(
        &self,
        bits: u32,
        all: bool,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<u32> {
        if try_only {
            let request = if all {
                abi36::EVL_MONIOC_TRYWAIT_EXACT
            } else {
                abi36::EVL_MONIOC_TRYWAIT
            };
            return match self.0.try_wait(request, bits as i32, op)? {
                Some(got) => Ok(got as u32),
                None => Err(Error::new(ErrorKind::WouldBlock, op, "")),
            };
        }
        let request = if all {
            abi36::EVL_MONIOC_WAIT_EXACT
        } else {
            abi36::EVL_MONIOC_WAIT
        };
        self.0
            .wait(request, bits as i32, deadline, op)
            .map(|got| got as u32)
    }

    /// Sets `bits` and wakes the first satisfied waiter, or all of them.
    pub(crate) fn post(&self, bits: u32, broadcast: bool, op: &'static str) -> Result<()> {
        if bits == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "post at least one bit",
            ));
        }
        let request = if broadcast {
            abi36::EVL_MONIOC_BROADCAST
        } else {
            abi36::EVL_MONIOC_SIGNAL
        };
        self.0.post(request, bits as i32, op)
    }

    pub(crate) fn peek(&self) -> u32 {
        self.0.value().load(Ordering::Acquire)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}
