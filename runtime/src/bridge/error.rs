//! The bridges' errors: what happened, and the value that could not be delivered.

use core::fmt;

/// Why a non-blocking send did not take its value (the value is given back).
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The ring holds `capacity` values: try again later, or (real-time side) create the
    /// bridge with [`Overflow::DropOldest`](super::Overflow::DropOldest) to keep the newest.
    Full(T),
    /// The receiving end was dropped: nothing sent from now on is received.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("bridge full: the receiver is behind; retry later or drop the value")
            }
            TrySendError::Closed(_) => f.write_str("bridge closed: the receiving end was dropped"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// A blocking or async send failed: the receiving end was dropped. The value is given back.
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bridge closed: the receiving end was dropped")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a non-blocking receive returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing there yet.
    Empty,
    /// Nothing there, and the sending end was dropped: nothing more will come.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("bridge empty: nothing received yet"),
            TryRecvError::Closed => f.write_str("bridge closed: the sending end was dropped"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// Why a blocking receive with a timeout returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing came before the timeout.
    Timeout,
    /// Nothing there, and the sending end was dropped: nothing more will come.
    Closed,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("nothing came over the bridge in time"),
            RecvTimeoutError::Closed => f.write_str("bridge closed: the sending end was dropped"),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

/// The other end of the bridge was dropped (a blocking receive, or an async sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bridge closed: the other end was dropped")
    }
}

impl std::error::Error for Closed {}
