//! [`Observable`]: publish small values; every [`Subscriber`] reads them as notifications.
//!
//! As EVL's observable element in broadcast mode: an update sends [`Notice`]s (a tag and a
//! 64-bit value); each subscriber receives a copy of each as a [`Notification`], stamped with
//! the observable's serial number, the issuing thread and the date of the update. Each
//! subscriber has its own backlog, set when subscribing; nothing is lost while the backlog
//! has room, and what does not fit is dropped for that subscriber alone and counted
//! ([`Subscriber::lost`]). Updating never blocks.
//!
//! ```no_run
//! use evl_core::observable::{Notice, Notification, Observable, NOTICE_USER};
//! let temp = Observable::new()?;
//! let watcher = temp.subscribe(16)?;
//! temp.update(&[Notice::new(NOTICE_USER, 42)])?;
//! let mut got = [Notification::default(); 4];
//! let n = watcher.read(&mut got)?;
//! assert_eq!((n, got[0].value), (1, 42));
//! # Ok::<(), evl_core::Error>(())
//! ```

//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Observable`], [`Subscriber`]: check arguments, dispatch to the backend |
//! | `types.rs` | [`Notice`], [`Notification`], the limits (shared with the backends) |
//! | `host.rs` | a ring per subscriber under a PI lock, with a bell for readiness |
//! | `evl.rs` | the core's observable element, one subscription per thread |

mod evl;
mod host;
pub(crate) mod types;

pub use types::{Notice, Notification, MAX_BACKLOG, NOTICE_USER};

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;

/// An element that broadcasts notices to its subscribers.
///
/// Share it by reference (or in an `Arc`) between the threads that update it. Dropping it
/// wakes every subscriber: they read what is left in their backlog, then
/// [`ErrorKind::Closed`].
#[derive(Debug)]
pub struct Observable {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(host::Observable),
    Evl(evl::Observable),
}

/// One subscription to an [`Observable`], with its own backlog. Dropping it unsubscribes.
///
/// Reading is for one consumer at a time in spirit, but `&self` reads from several threads
/// are safe: each notification goes to exactly one of them.
///
/// On the EVL backend the core subscribes *threads*: a subscriber belongs to the thread that
/// called [`Observable::subscribe`], reads only there (reads from another thread fail with
/// [`ErrorKind::InvalidArgument`]), and a thread holds at most one subscription to a given
/// observable ([`ErrorKind::AlreadyExists`]). Drop it on that thread too: dropped elsewhere,
/// the core keeps the subscription (its backlog fills up) until the thread exits. Its
/// [`poll_fd`](Subscriber::poll_fd) reports the subscribing thread's readiness and does not
/// show the observable's drop.
#[derive(Debug)]
pub struct Subscriber {
    inner: SubInner,
}

#[derive(Debug)]
enum SubInner {
    Host(host::Subscriber),
    Evl(evl::Subscriber),
}

fn bad_tag(op: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        op,
        "notice tags below NOTICE_USER (64) are reserved to the core: use NOTICE_USER + n",
    )
}

impl Observable {
    /// A private observable with no subscriber yet.
    pub fn new() -> Result<Observable> {
        Self::create(Visibility::Private)
    }

    /// An observable, private or public.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for a bad name; [`ErrorKind::Unsupported`] for
    /// a public observable on the host backend (subscribers in other processes need the EVL
    /// backend; on the host, share the handle between threads); [`ErrorKind::AlreadyExists`]
    /// when a public observable of that name exists (EVL). A public observable is visible as
    /// `/dev/evl/observable/<name>` and opened with [`Observable::open`].
    pub fn create(visibility: Visibility<'_>) -> Result<Observable> {
        const OP: &str = "Observable::create";
        visibility.validate(OP)?;
        let public = matches!(visibility, Visibility::Public(_));
        match backend::current()? {
            Backend::Host if public => Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                "public observables need the EVL backend; on the host backend create a private \
                 one (Visibility::Private) and share it between threads",
            )),
            Backend::Host => Ok(Observable {
                inner: Inner::Host(host::Observable::new()),
            }),
            Backend::Evl => {
                let name = match visibility {
                    Visibility::Public(n) => Some(n),
                    Visibility::Private => None,
                };
                Ok(Observable {
                    inner: Inner::Evl(evl::create(name)?),
                })
            }
        }
    }

    /// Opens the public observable `name` that another handle (of this or another process)
    /// created: updates through either handle reach the subscribers of both.
    ///
    /// On the EVL backend, dropping any handle of a public observable, in any process, makes
    /// the core end every subscription to it (readers attached to the core then get
    /// [`ErrorKind::Closed`]): keep the handles for as long as the observable is in use.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for a bad name; [`ErrorKind::NotFound`] when no
    /// public observable has that name; [`ErrorKind::Unsupported`] on the host backend, which
    /// has no public observables.
    pub fn open(name: &str) -> Result<Observable> {
        const OP: &str = "Observable::open";
        let name = Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                "public observables need the EVL backend; on the host backend share the \
                 Observable between threads",
            )),
            Backend::Evl => Ok(Observable {
                inner: Inner::Evl(evl::open(name.as_str())?),
            }),
        }
    }

    /// Sends `notices`, in order, to every current subscriber, without blocking. A subscriber
    /// whose backlog is full loses the notices that do not fit (see [`Subscriber::lost`]).
    ///
    /// Returns the number of notices queued for at least one subscriber (EVL's count): 0 when
    /// nobody is subscribed or every backlog is full.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when a tag is below [`NOTICE_USER`]; then
    /// nothing is sent.
    pub fn update(&self, notices: &[Notice]) -> Result<usize> {
        const OP: &str = "Observable::update";
        if notices.iter().any(|n| n.tag < NOTICE_USER) {
            return Err(bad_tag(OP));
        }
        match &self.inner {
            Inner::Host(o) => o.update(notices),
            Inner::Evl(o) => o.update(notices),
        }
    }

    /// Subscribes with room for `backlog` unread notifications. The subscriber receives
    /// what is sent from now on.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when `backlog` is 0 or above [`MAX_BACKLOG`];
    /// [`ErrorKind::CapacityExceeded`] when memory or descriptors ran out.
    pub fn subscribe(&self, backlog: usize) -> Result<Subscriber> {
        const OP: &str = "Observable::subscribe";
        if backlog == 0 || backlog > MAX_BACKLOG {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "the backlog must hold 1 to 1048576 notifications (e.g. 16)",
            ));
        }
        match &self.inner {
            Inner::Host(o) => Ok(Subscriber {
                inner: SubInner::Host(o.subscribe(backlog)?),
            }),
            Inner::Evl(o) => Ok(Subscriber {
                inner: SubInner::Evl(o.subscribe(backlog)?),
            }),
        }
    }

    /// How many subscribers there are now (on the EVL backend: made through this handle and
    /// not dropped; subscribers of other handles and processes are not counted).
    pub fn subscribers(&self) -> usize {
        match &self.inner {
            Inner::Host(o) => o.subscribers(),
            Inner::Evl(o) => o.subscribers(),
        }
    }
}

impl Subscriber {
    /// Reads up to `out.len()` notifications, oldest first, waiting for at least one; returns
    /// how many were read (0 only when `out` is empty).
    ///
    /// Errors: [`ErrorKind::Closed`] when the backlog is empty and the observable is gone.
    pub fn read(&self, out: &mut [Notification]) -> Result<usize> {
        match &self.inner {
            SubInner::Host(s) => s.read(out, None),
            SubInner::Evl(s) => s.read(out, None),
        }
    }

    /// As [`Subscriber::read`], waiting until the absolute monotonic `deadline` at most.
    ///
    /// Errors: [`ErrorKind::TimedOut`] when nothing came before the deadline;
    /// [`ErrorKind::Closed`] as for `read`.
    pub fn read_until(&self, out: &mut [Notification], deadline: Timestamp) -> Result<usize> {
        match &self.inner {
            SubInner::Host(s) => s.read(out, Some(deadline)),
            SubInner::Evl(s) => s.read(out, Some(deadline)),
        }
    }

    /// Reads what is pending, up to `out.len()` notifications, without waiting.
    ///
    /// Errors: [`ErrorKind::WouldBlock`] when nothing is pending; [`ErrorKind::Closed`] when
    /// nothing is pending and the observable is gone.
    pub fn try_read(&self, out: &mut [Notification]) -> Result<usize> {
        match &self.inner {
            SubInner::Host(s) => s.try_read(out),
            SubInner::Evl(s) => s.try_read(out),
        }
    }

    /// How many notifications this subscriber lost because its backlog was full.
    ///
    /// On the EVL backend the core does not count losses: they are the gaps in the serials
    /// read, so a loss shows once a later notification has been read.
    pub fn lost(&self) -> u64 {
        match &self.inner {
            SubInner::Host(s) => s.lost(),
            SubInner::Evl(s) => s.lost(),
        }
    }

    /// The backlog size asked for when subscribing.
    pub fn backlog(&self) -> usize {
        match &self.inner {
            SubInner::Host(s) => s.backlog(),
            SubInner::Evl(s) => s.backlog(),
        }
    }

    /// A descriptor that polls readable exactly while a read would not block: while
    /// notifications are pending (or the observable is gone). For reactors; read through
    /// the subscriber, not the fd.
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            SubInner::Host(s) => s.poll_fd(),
            SubInner::Evl(s) => s.poll_fd(),
        }
    }
}
