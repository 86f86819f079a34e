//! Why a task produced no output.

use core::any::Any;
use core::fmt;

/// Why a task produced no output.
pub enum JoinError {
    /// Aborted through [`JoinHandle::abort`](crate::JoinHandle::abort) (or its executor shut down).
    Cancelled,
    /// The task panicked; the executor kept running.
    Panicked {
        /// The task's name.
        task: &'static str,
        /// The panic payload.
        payload: Box<dyn Any + Send + 'static>,
    },
}

impl JoinError {
    pub(crate) fn panicked(task: &'static str, payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError::Panicked { task, payload }
    }

    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked { .. })
    }

    /// The panic message, when the payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked { payload, .. } => payload
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str)),
            JoinError::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("Cancelled"),
            JoinError::Panicked { task, .. } => f
                .debug_struct("Panicked")
                .field("task", task)
                .field("message", &self.panic_message())
                .finish(),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task cancelled"),
            JoinError::Panicked { task, .. } => {
                write!(
                    f,
                    "task '{task}' panicked: {}",
                    self.panic_message().unwrap_or("<non-string payload>")
                )
            }
        }
    }
}

impl std::error::Error for JoinError {}
