//! [`Xbuf`]: a bidirectional byte buffer between a real-time thread and an ordinary thread.
//!
//! Two independent rings, as in EVL's cross-buffer element: one carries bytes from the
//! in-band (ordinary) side to the real-time side, the other from the real-time side to the
//! in-band side. Each side holds an [`XbufEnd`]: it reads the ring that comes to it and
//! writes the ring that goes to the other side.
//!
//! ```no_run
//! use evl_core::xbuf::Xbuf;
//! let (rt, inband) = Xbuf::new(4096, 4096)?.into_ends();
//! let t = std::thread::spawn(move || {
//!     let mut cmd = [0u8; 64];
//!     let n = rt.read(&mut cmd).unwrap(); // the real-time side waits for a command
//!     rt.write(&cmd[..n]).unwrap(); // and echoes it
//! });
//! inband.write(b"start")?;
//! let mut echo = [0u8; 5];
//! inband.read(&mut echo)?;
//! t.join().unwrap();
//! # Ok::<(), evl_core::Error>(())
//! ```
//!
//! A public xbuf is reachable by name from another process ([`Xbuf::open`]), which gets the
//! same two rings: typically the creator uses one end and the opener the other.

mod evl;
mod host;

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;

/// A bidirectional byte buffer: a ring to the real-time side and a ring to the in-band side.
///
/// Dropping it releases both rings; a public one's name is removed when its creator drops
/// it (processes that opened it keep using the rings until they drop them).
///
/// On the EVL backend: the real-time end issues out-of-band calls only, so the threads using
/// it must be attached to the core ([`Thread::attach`](crate::thread::Thread::attach));
/// otherwise its methods fail with [`ErrorKind::PermissionDenied`]. The in-band end uses
/// ordinary system calls and works from any thread. Ring sizes are exact (at most 4 MiB
/// each), every write of up to the ring size is whole (never split), and a public xbuf's
/// name stays until the last handle to it, in any process, is dropped.
#[derive(Debug)]
pub struct Xbuf {
    rt: XbufEnd,
    inband: XbufEnd,
}

/// One side of an [`Xbuf`]: reads the ring that comes to this side, writes the ring that goes
/// to the other side. Usable from several threads at once (`&self`); `Send` and `Sync`.
///
/// When the other end of a private xbuf split with [`Xbuf::into_ends`] is dropped, reads
/// return the bytes still in the ring, then [`ErrorKind::Closed`]; writes return
/// [`ErrorKind::Closed`]. The ends of a public xbuf never see a close: other processes may
/// open it at any time, as with EVL.
#[derive(Debug)]
pub struct XbufEnd {
    inner: EndInner,
}

#[derive(Debug)]
enum EndInner {
    Host(host::End),
    Evl(evl::End),
}

impl Xbuf {
    /// A private xbuf whose ring to the real-time side holds at least `to_rt` bytes and whose
    /// ring to the in-band side holds at least `to_inband` bytes.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when a size is 0;
    /// [`ErrorKind::CapacityExceeded`] when a ring cannot be that large (host: above
    /// `/proc/sys/fs/pipe-max-size` for an unprivileged process) or descriptors ran out.
    pub fn new(to_rt: usize, to_inband: usize) -> Result<Xbuf> {
        Self::create(to_rt, to_inband, Visibility::Private)
    }

    /// An xbuf, private or public (then others open it with [`Xbuf::open`]).
    ///
    /// Errors: as [`Xbuf::new`]; [`ErrorKind::InvalidArgument`] for a bad name;
    /// [`ErrorKind::AlreadyExists`] when a public xbuf of that name exists.
    pub fn create(to_rt: usize, to_inband: usize, visibility: Visibility<'_>) -> Result<Xbuf> {
        const OP: &str = "Xbuf::create";
        if to_rt == 0 || to_inband == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "both ring sizes must be at least 1 byte (e.g. Xbuf::new(4096, 4096))",
            ));
        }
        let name = match visibility {
            Visibility::Private => None,
            Visibility::Public(n) => Some(Name::new(n, OP)?),
        };
        match backend::current()? {
            Backend::Host => {
                let (rt, inband) = match name {
                    None => host::private(to_rt, to_inband)?,
                    Some(name) => host::create_public(name, to_rt, to_inband)?,
                };
                Ok(Xbuf::from_host(rt, inband))
            }
            Backend::Evl => {
                let (rt, inband) = evl::create(name, to_rt, to_inband)?;
                Ok(Xbuf::from_evl(rt, inband))
            }
        }
    }

    /// Opens the public xbuf `name` that another handle (of this or another process)
    /// created. The returned xbuf shares both rings with the creator.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for a bad name or when `name` is not an xbuf;
    /// [`ErrorKind::NotFound`] when no public xbuf has that name.
    pub fn open(name: &str) -> Result<Xbuf> {
        const OP: &str = "Xbuf::open";
        let name = Name::new(name, OP)?;
        match backend::current()? {
            Backend::Host => {
                let (rt, inband) = host::open_public(name)?;
                Ok(Xbuf::from_host(rt, inband))
            }
            Backend::Evl => {
                let (rt, inband) = evl::open(name)?;
                Ok(Xbuf::from_evl(rt, inband))
            }
        }
    }

    fn from_evl(rt: evl::End, inband: evl::End) -> Xbuf {
        Xbuf {
            rt: XbufEnd {
                inner: EndInner::Evl(rt),
            },
            inband: XbufEnd {
                inner: EndInner::Evl(inband),
            },
        }
    }

    fn from_host(rt: host::End, inband: host::End) -> Xbuf {
        Xbuf {
            rt: XbufEnd {
                inner: EndInner::Host(rt),
            },
            inband: XbufEnd {
                inner: EndInner::Host(inband),
            },
        }
    }

    /// The real-time side: reads what the in-band side wrote, writes to the in-band side.
    pub fn rt(&self) -> &XbufEnd {
        &self.rt
    }

    /// The in-band side: reads what the real-time side wrote, writes to the real-time side.
    pub fn inband(&self) -> &XbufEnd {
        &self.inband
    }

    /// Splits the xbuf into its (real-time, in-band) ends, to move each to its thread.
    pub fn into_ends(self) -> (XbufEnd, XbufEnd) {
        (self.rt, self.inband)
    }
}

impl XbufEnd {
    /// Reads at least one byte into `buf`, waiting for the other side if the ring is empty;
    /// returns how many were read (0 only when `buf` is empty).
    ///
    /// Errors: [`ErrorKind::Closed`] when the ring is empty and the other end is gone.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        match &self.inner {
            EndInner::Host(e) => e.read(buf, None),
            EndInner::Evl(e) => e.read(buf, None),
        }
    }

    /// As [`XbufEnd::read`], waiting until the absolute monotonic `deadline` at most.
    ///
    /// Errors: [`ErrorKind::TimedOut`] when nothing came before the deadline;
    /// [`ErrorKind::Closed`] as for `read`.
    pub fn read_until(&self, buf: &mut [u8], deadline: Timestamp) -> Result<usize> {
        match &self.inner {
            EndInner::Host(e) => e.read(buf, Some(deadline)),
            EndInner::Evl(e) => e.read(buf, Some(deadline)),
        }
    }

    /// Reads what is there, up to `buf.len()` bytes, without waiting.
    ///
    /// Errors: [`ErrorKind::WouldBlock`] when the ring is empty; [`ErrorKind::Closed`] when
    /// it is empty and the other end is gone.
    pub fn try_read(&self, buf: &mut [u8]) -> Result<usize> {
        match &self.inner {
            EndInner::Host(e) => e.try_read(buf),
            EndInner::Evl(e) => e.try_read(buf),
        }
    }

    /// Writes all of `buf`, waiting for the other side to make room when the ring is full.
    /// Returns `buf.len()`. (Two threads writing more than 4096 bytes at once through the
    /// same end may see their bytes interleaved; smaller writes stay whole.)
    ///
    /// Errors: [`ErrorKind::Closed`] when the other end is gone (some bytes may have been
    /// written before it went).
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        match &self.inner {
            EndInner::Host(e) => e.write(buf),
            EndInner::Evl(e) => e.write(buf),
        }
    }

    /// Writes what fits without waiting; returns how many bytes were written.
    ///
    /// On the host backend a write of up to 4096 bytes is all-or-nothing, as on a pipe.
    ///
    /// Errors: [`ErrorKind::WouldBlock`] when nothing fits; [`ErrorKind::Closed`] when the
    /// other end is gone.
    pub fn try_write(&self, buf: &[u8]) -> Result<usize> {
        match &self.inner {
            EndInner::Host(e) => e.try_write(buf),
            EndInner::Evl(e) => e.try_write(buf),
        }
    }

    /// A descriptor that polls readable exactly when a read would not block (bytes in the
    /// ring, or the other end gone). For reactors; read through this end, not the fd.
    ///
    /// On the EVL backend both ends return the xbuf's descriptor, whose readiness depends on
    /// the stage of the poller: `poll(2)` reports the in-band end's, an EVL poll set (the
    /// real-time side) the real-time end's. The other end's drop does not show there.
    pub fn read_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            EndInner::Host(e) => e.read_fd(),
            EndInner::Evl(e) => e.fd_ref(),
        }
    }

    /// A descriptor that polls writable when a write would not block: the ring has room for
    /// at least one more page. (On the host a small write may still fit in the last page
    /// while it does not poll writable.) For reactors; write through this end, not the fd.
    ///
    /// On the EVL backend: the xbuf's descriptor (see [`XbufEnd::read_fd`]); it polls
    /// writable while the ring is not full, which does not promise room for a whole message.
    pub fn write_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            EndInner::Host(e) => e.write_fd(),
            EndInner::Evl(e) => e.fd_ref(),
        }
    }
}
