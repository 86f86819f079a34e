//! Element names and visibility.
//!
//! EVL elements are private (reachable only through the handle that created them) or public:
//! named, and then reachable by that name from other processes (`/dev/evl/<class>/<name>` on
//! the EVL core; a file under `/dev/shm` on the host backend).

use crate::error::{Error, ErrorKind, Result};

/// The longest name accepted, in bytes. EVL device names and `/dev/shm` file names both fit.
pub const MAX_NAME_LEN: usize = 63;

/// Whether an element can be found by name from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility<'a> {
    /// Reachable only through the returned handle (and its clones/fds).
    Private,
    /// Created under `name`; others open it with the element type's `open(name)`.
    ///
    /// How long the name lives differs between backends: on the EVL core a public element
    /// and its name live as long as any handle on it is open, in any process; on the host
    /// backend the creator removes the name when its handle drops (handles already open keep
    /// working, new opens fail with `NotFound`).
    Public(&'a str),
}

impl Visibility<'_> {
    /// Checks a public element's name (every backend refuses a bad one the same way).
    pub(crate) fn validate(&self, op: &'static str) -> Result<()> {
        match self {
            Visibility::Private => Ok(()),
            Visibility::Public(n) => Name::new(n, op).map(|_| ()),
        }
    }
}

/// A validated element name: 1 to [`MAX_NAME_LEN`] printable ASCII bytes, no `/`, no space,
/// not starting with `.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name<'a>(&'a str);

impl<'a> Name<'a> {
    /// Validates `name`.
    pub fn new(name: &'a str, op: &'static str) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "element names must not be empty",
            ));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "element name too long: use at most 63 bytes",
            ));
        }
        if name.starts_with('.') {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "element names must not start with '.'",
            ));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "element names use printable ASCII without '/' or spaces (e.g. \"motor-sync.1\")",
            ));
        }
        Ok(Name(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_libevl_style_names() {
        for n in [
            "a",
            "motor-sync.1",
            "test:1234",
            "A_b-c.d:e",
            &"x".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(Name::new(n, "t").unwrap().as_str(), n);
        }
    }

    #[test]
    fn rejects_bad_names_with_invalid_argument() {
        let long = "x".repeat(MAX_NAME_LEN + 1);
        for n in [
            "",
            "a/b",
            "has space",
            ".hidden",
            "tab\t",
            "é",
            long.as_str(),
        ] {
            let e = Name::new(n, "t").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{n:?}");
            assert!(!e.hint().is_empty());
        }
    }
}
