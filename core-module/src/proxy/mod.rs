//! [`Proxy`]: a non-blocking byte channel from real-time threads to an ordinary fd.
//!
//! A real-time thread must not block on, nor even enter, the in-band I/O stack: writing a log
//! line to stdout from a SCHED_FIFO loop would stall it on the terminal. A proxy takes the
//! bytes into a fixed buffer without ever waiting for the target, and the backend drains that
//! buffer to the target fd (stdout, a file, a pipe, a socket) from an ordinary context, as
//! EVL's proxy element does. When the buffer is full the bytes that do not fit are dropped and
//! counted, never queued behind the caller's back.
//!
//! ```no_run
//! use evl_core::proxy::Proxy;
//! let out = Proxy::new(std::io::stdout(), 16 * 1024)?;
//! let w = out.write(b"cycle overrun\n")?;
//! if w.dropped > 0 { /* the buffer was full: the rest of the line is gone, and counted */ }
//! out.flush(None)?; // wait until every accepted byte reached stdout
//! # Ok::<(), evl_core::Error>(())
//! ```

//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Proxy`]: checks arguments, dispatches to the backend |
//! | `types.rs` | [`ProxyWrite`] (shared with the backends) |
//! | `drain.rs` | the drainer thread both backends use: our pipe -> the target |
//! | `host.rs` | a pipe as the buffer |
//! | `evl.rs` | the core's proxy ring, relayed into our pipe |

mod drain;
mod evl;
mod host;
pub(crate) mod types;

pub use types::ProxyWrite;

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::name::Visibility;
use crate::time::Timestamp;
use std::os::fd::{AsFd, BorrowedFd};

/// A non-blocking byte channel to an ordinary file descriptor, drained by the backend.
///
/// Any number of threads may write at once through `&Proxy`; each write's accepted part stays
/// contiguous in the output. Dropping the proxy delivers what was accepted (on the host
/// backend: as long as the target keeps taking bytes; a target that takes nothing for one
/// second is given up on), then releases the buffer, the drainer and the duplicated target fd.
///
/// On the EVL backend the buffer is the core's proxy ring, which the core relays in-band;
/// threads attached to the core write to it out-of-band, others in-band. A write is whole up
/// to the capacity: a longer one is cut into capacity-sized pieces, and the pieces that fit
/// are written (at most 4 MiB of capacity). A thread that is not attached writes in-band,
/// where the core may relay in the writer's context: while the target is stalled such a
/// write may wait. A public proxy is visible as `/dev/evl/proxy/<name>`: other processes may
/// `open(2)` it and write to it (their bytes reach the target too, though only this handle's
/// writes count for [`Proxy::flush`] and [`Proxy::dropped`]).
#[derive(Debug)]
pub struct Proxy {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Host(host::Proxy),
    Evl(evl::Proxy),
}

impl Proxy {
    /// A private proxy to `target` with a buffer of at least `capacity` bytes.
    ///
    /// The target is duplicated: the caller may close its own descriptor at any time.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when `capacity` is 0;
    /// [`ErrorKind::CapacityExceeded`] when the buffer cannot be that large (host: above
    /// `/proc/sys/fs/pipe-max-size` for an unprivileged process) or descriptors ran out.
    pub fn new(target: impl AsFd, capacity: usize) -> Result<Proxy> {
        Self::create(target, capacity, Visibility::Private)
    }

    /// A proxy to `target`, private or public.
    ///
    /// Errors: as [`Proxy::new`]; [`ErrorKind::InvalidArgument`] for a bad name;
    /// [`ErrorKind::Unsupported`] for a public proxy on the host backend (other processes
    /// cannot open a host proxy by name; public proxies need the EVL backend);
    /// [`ErrorKind::AlreadyExists`] when a public proxy of that name exists (EVL).
    pub fn create(target: impl AsFd, capacity: usize, visibility: Visibility<'_>) -> Result<Proxy> {
        const OP: &str = "Proxy::create";
        if capacity == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "a proxy needs a buffer: pass a capacity of at least 1 byte (e.g. 16384)",
            ));
        }
        visibility.validate(OP)?;
        let public = matches!(visibility, Visibility::Public(_));
        match backend::current()? {
            Backend::Host if public => Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                "public proxies need the EVL backend; on the host backend create a private proxy \
                 (Visibility::Private) and share the handle",
            )),
            Backend::Host => Ok(Proxy {
                inner: Inner::Host(host::Proxy::new(target.as_fd(), capacity)?),
            }),
            Backend::Evl => {
                let name = match visibility {
                    Visibility::Public(n) => Some(n),
                    Visibility::Private => None,
                };
                Ok(Proxy {
                    inner: Inner::Evl(evl::create(target.as_fd(), capacity, name)?),
                })
            }
        }
    }

    /// Offers `buf` to the proxy without blocking: the prefix that fits in the buffer is
    /// accepted, the rest is dropped and counted. Never waits for the target.
    ///
    /// On the host backend writes of up to 4096 bytes are all-or-nothing (a log line is
    /// never cut), and concurrent writers wait for each other only for the length of one
    /// non-blocking copy (a priority-inheriting lock).
    ///
    /// Errors: an error of the target (e.g. [`ErrorKind::Closed`] when nobody reads the pipe
    /// the proxy writes to any more): the proxy stopped delivering and accepts nothing more.
    pub fn write(&self, buf: &[u8]) -> Result<ProxyWrite> {
        match &self.inner {
            Inner::Host(p) => p.write(buf),
            Inner::Evl(p) => p.write(buf),
        }
    }

    /// Waits until every byte accepted before this call reached the target, until the
    /// absolute monotonic `deadline` at most (`None`: no limit).
    ///
    /// Errors: [`ErrorKind::TimedOut`] at the deadline; the target's error if delivery
    /// failed.
    pub fn flush(&self, deadline: Option<Timestamp>) -> Result<()> {
        match &self.inner {
            Inner::Host(p) => p.flush(deadline),
            Inner::Evl(p) => p.flush(deadline),
        }
    }

    /// The total number of bytes dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        match &self.inner {
            Inner::Host(p) => p.dropped(),
            Inner::Evl(p) => p.dropped(),
        }
    }

    /// The effective buffer size in bytes (at least the capacity asked for; the host rounds
    /// up to a power-of-two number of pages). How much of it a burst may fill depends on the
    /// write sizes: the host buffer is made of pages, and a small write starts a new page
    /// when it does not fit in the current one.
    pub fn capacity(&self) -> usize {
        match &self.inner {
            Inner::Host(p) => p.capacity(),
            Inner::Evl(p) => p.capacity(),
        }
    }

    /// A descriptor that polls writable when the buffer has room for at least one more
    /// page: a write then accepts at least one byte. (A small write may still be accepted
    /// while it does not poll writable.) For reactors; do not write to it directly.
    ///
    /// On the EVL backend: the core's proxy element, which polls writable (with `poll(2)` or
    /// an EVL poll set) while its ring is not full.
    pub fn write_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Host(p) => p.write_fd(),
            Inner::Evl(p) => p.write_fd(),
        }
    }
}
