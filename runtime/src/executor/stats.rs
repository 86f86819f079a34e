//! [`Stats`]: what an executor did, for observation and tests.

/// What the executor did, for observation and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Task polls.
    pub polls: u64,
    /// Times the executor blocked on its wake element.
    pub parks: u64,
    /// Tasks taken from the cross-thread inbox.
    pub remote_wakes: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Polls that started after their task's deadline (EDF executors).
    pub late_polls: u64,
    /// Reactor turns that failed: the poll set could not be waited on (see
    /// [`Executor::block_on`](crate::Executor::block_on)). Zero on a healthy executor.
    pub reactor_errors: u64,
    /// Demotions of the executor's thread to the in-band stage reported by the EVL core,
    /// per cause, since the thread started (see [`evl_reactor::core::stage`]; counted when
    /// the thread was attached with stage-switch warnings, the default in debug builds).
    /// In steady state a real-time executor should add none. Always zero on the host backend.
    pub stage_switches: evl_reactor::core::stage::StageSwitches,
}
