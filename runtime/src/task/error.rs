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

/// So that `h.await?` works in a function returning [`evl::Result`](crate::Result): a
/// cancelled task becomes [`Closed`](crate::ErrorKind::Closed), a panicked one
/// [`Other`](crate::ErrorKind::Other) with op `"join"`. The panic message is not carried (the
/// error holds static text only); the executor reported it when the task panicked, and
/// matching on the `JoinError` first keeps it.
impl From<JoinError> for crate::Error {
    fn from(e: JoinError) -> Self {
        use crate::ErrorKind as K;
        match e {
            JoinError::Cancelled => crate::Error::new(
                K::Closed,
                "join",
                "the task was cancelled (JoinHandle::abort, or its executor shut down)",
            ),
            JoinError::Panicked { .. } => crate::Error::new(
                K::Other,
                "join",
                "the task panicked: its message went to the panic report (match on the \
                 JoinError before `?` to keep it)",
            ),
        }
    }
}
