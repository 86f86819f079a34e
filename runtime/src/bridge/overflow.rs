//! [`Overflow`]: the real-time sender's choice on a full ring, and the capacity check.

use crate::core::{Error, ErrorKind, Result};

/// What the real-time sender does when the ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse the new value: [`TrySendError::Full`](super::TrySendError::Full) gives it back.
    Reject,
    /// Keep the newest: the oldest value is replaced (and counted:
    /// [`RtSender::dropped`](super::RtSender::dropped), [`Receiver::lost`](super::Receiver::lost)).
    DropOldest,
}

pub(crate) fn check_capacity(capacity: usize, op: &'static str) -> Result<()> {
    if capacity == 0 || capacity > crate::ring::MAX_CAPACITY {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            op,
            "a bridge holds 1 to 2^30 values: pick a capacity in that range (e.g. 1024)",
        ));
    }
    Ok(())
}
