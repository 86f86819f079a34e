//! What the timer front end and its backends share: when a timer first fires.

use crate::time::types::Timestamp;
use core::time::Duration;

/// When a timer first fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this absolute time on the timer's clock.
    At(Timestamp),
    /// This long from now.
    After(Duration),
}
