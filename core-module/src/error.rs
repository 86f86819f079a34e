//! One error type for every element and backend.
//!
//! An [`Error`] carries a [`ErrorKind`] that says what happened, the operation that failed, an
//! optional OS error number, and a static hint that says what to do about it. Formatting an
//! error allocates nothing; building one allocates nothing either, so errors may be returned
//! from the steady-state paths.

use core::fmt;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No EVL core on this machine (no `/dev/evl/control`), or the selected backend cannot run.
    NoCore,
    /// The EVL core speaks an ABI level this build does not support.
    AbiUnsupported {
        /// The ABI range the core reported (`abi_base..=abi_current`).
        found: (u32, u32),
        /// The levels this build supports.
        supported: &'static [u32],
    },
    /// The caller lacks a privilege (CAP_SYS_NICE, RLIMIT_RTPRIO, RLIMIT_MEMLOCK, file mode).
    PermissionDenied,
    /// An argument was rejected: a bad name, a zero capacity, an out-of-range priority...
    InvalidArgument,
    /// The operation would have blocked and the caller asked not to.
    WouldBlock,
    /// The absolute timeout passed before the wait was satisfied.
    TimedOut,
    /// A signal interrupted the wait.
    Interrupted,
    /// A fixed capacity (waiters, backlog, pipe size, poll set size) is exhausted.
    CapacityExceeded,
    /// The peer end or the element is gone.
    Closed,
    /// A semaphore wait was ended by a broadcast (flush) without granting a unit.
    Flushed,
    /// A public element with this name already exists.
    AlreadyExists,
    /// No public element with this name exists.
    NotFound,
    /// Locking would deadlock (the caller already owns the mutex).
    Deadlock,
    /// The operation is not available on this backend.
    Unsupported,
    /// Any other OS error; see [`Error::os_error`].
    Other,
}

/// The error of every fallible call in this crate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    op: &'static str,
    errno: Option<i32>,
    hint: &'static str,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// An error of `kind` raised by operation `op`, with a hint on what to do.
    pub const fn new(kind: ErrorKind, op: &'static str, hint: &'static str) -> Self {
        Error {
            kind,
            op,
            errno: None,
            hint,
        }
    }

    /// An error from an OS error number, classified into a kind, with a hint.
    pub fn from_errno(errno: i32, op: &'static str, hint: &'static str) -> Self {
        let kind = match errno {
            libc::EAGAIN => ErrorKind::WouldBlock,
            libc::ETIMEDOUT => ErrorKind::TimedOut,
            libc::EINTR => ErrorKind::Interrupted,
            libc::EPERM | libc::EACCES => ErrorKind::PermissionDenied,
            libc::EINVAL | libc::ENAMETOOLONG | libc::ERANGE | libc::EBADF => {
                ErrorKind::InvalidArgument
            }
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::ENOENT | libc::ENXIO | libc::ENODEV => ErrorKind::NotFound,
            libc::EPIPE | libc::ECONNRESET => ErrorKind::Closed,
            libc::EDEADLK => ErrorKind::Deadlock,
            libc::ENOSPC | libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EOVERFLOW => {
                ErrorKind::CapacityExceeded
            }
            libc::ENOSYS | libc::EOPNOTSUPP => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        };
        Error {
            kind,
            op,
            errno: Some(errno),
            hint,
        }
    }

    /// The error of the last failed libc call (`errno`), classified.
    pub fn last_os_error(op: &'static str, hint: &'static str) -> Self {
        Self::from_errno(errno(), op, hint)
    }

    /// What happened.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The operation that failed, e.g. `"Semaphore::get"`.
    pub const fn op(&self) -> &'static str {
        self.op
    }

    /// The OS error number behind this error, if any.
    pub const fn os_error(&self) -> Option<i32> {
        self.errno
    }

    /// What a person can do about it (may be empty).
    pub const fn hint(&self) -> &'static str {
        self.hint
    }

    /// The same error with a different hint.
    pub const fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }
}

/// The calling thread's `errno`.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NoCore => f.write_str("no usable EVL core"),
            ErrorKind::AbiUnsupported { found, supported } => write!(
                f,
                "EVL core ABI not supported: the core speaks levels {}..={}, this build supports {:?}",
                found.0, found.1, supported
            ),
            ErrorKind::PermissionDenied => f.write_str("permission denied"),
            ErrorKind::InvalidArgument => f.write_str("invalid argument"),
            ErrorKind::WouldBlock => f.write_str("operation would block"),
            ErrorKind::TimedOut => f.write_str("timed out"),
            ErrorKind::Interrupted => f.write_str("interrupted by a signal"),
            ErrorKind::CapacityExceeded => f.write_str("capacity exceeded"),
            ErrorKind::Closed => f.write_str("closed"),
            ErrorKind::Flushed => f.write_str("wait flushed without a grant"),
            ErrorKind::AlreadyExists => f.write_str("element already exists"),
            ErrorKind::NotFound => f.write_str("element not found"),
            ErrorKind::Deadlock => f.write_str("operation would deadlock"),
            ErrorKind::Unsupported => f.write_str("not supported on this backend"),
            ErrorKind::Other => f.write_str("system error"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.kind)?;
        if let Some(e) = self.errno {
            write!(f, " ({})", std::io::Error::from_raw_os_error(e))?;
        }
        if !self.hint.is_empty() {
            write!(f, "; {}", self.hint)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("op", &self.op)
            .field("errno", &self.errno)
            .field("hint", &self.hint)
            .finish()
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind {
            ErrorKind::WouldBlock => std::io::ErrorKind::WouldBlock,
            ErrorKind::TimedOut => std::io::ErrorKind::TimedOut,
            ErrorKind::Interrupted => std::io::ErrorKind::Interrupted,
            ErrorKind::PermissionDenied => std::io::ErrorKind::PermissionDenied,
            ErrorKind::InvalidArgument => std::io::ErrorKind::InvalidInput,
            ErrorKind::AlreadyExists => std::io::ErrorKind::AlreadyExists,
            ErrorKind::NotFound => std::io::ErrorKind::NotFound,
            ErrorKind::Closed => std::io::ErrorKind::BrokenPipe,
            ErrorKind::Unsupported => std::io::ErrorKind::Unsupported,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_classification() {
        let cases = [
            (libc::EAGAIN, ErrorKind::WouldBlock),
            (libc::ETIMEDOUT, ErrorKind::TimedOut),
            (libc::EINTR, ErrorKind::Interrupted),
            (libc::EPERM, ErrorKind::PermissionDenied),
            (libc::EEXIST, ErrorKind::AlreadyExists),
            (libc::ENOENT, ErrorKind::NotFound),
            (libc::EDEADLK, ErrorKind::Deadlock),
            (libc::EPIPE, ErrorKind::Closed),
            (libc::EIO, ErrorKind::Other),
        ];
        for (errno, kind) in cases {
            assert_eq!(
                Error::from_errno(errno, "t", "").kind(),
                kind,
                "errno {errno}"
            );
        }
    }

    #[test]
    fn display_names_op_kind_cause_and_hint() {
        let e = Error::from_errno(libc::EPERM, "Thread::attach", "grant CAP_SYS_NICE");
        let s = e.to_string();
        assert!(s.starts_with("Thread::attach: permission denied ("), "{s}");
        assert!(s.ends_with("; grant CAP_SYS_NICE"), "{s}");
        let abi = Error::new(
            ErrorKind::AbiUnsupported {
                found: (23, 26),
                supported: &[36],
            },
            "probe",
            "",
        );
        assert_eq!(
            abi.to_string(),
            "probe: EVL core ABI not supported: the core speaks levels 23..=26, this build supports [36]"
        );
    }
}
