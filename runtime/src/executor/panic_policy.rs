//! [`PanicPolicy`]: what a task panic does.

/// What happens when a task panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanicPolicy {
    /// Report it (task name and message, through `tracing` and the panic hook), hand the
    /// panic to the task's [`JoinHandle`](crate::JoinHandle) as
    /// [`JoinError::Panicked`](crate::JoinError::Panicked), keep running.
    #[default]
    Isolate,
    /// Report it and abort the process (for systems where a panicked control task must
    /// bring everything down).
    Abort,
}
