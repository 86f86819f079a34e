//! Xbuf on the EVL backend (the waiting kit it shares with the EVL proxy and observable is
//! [`crate::backend::evl::file`]).
//!
//! How the core's cross-buffer works (kernel/evl/xbuf.c, ABI 36): one element, two rings.
//! The inbound ring is filled by `oob_write` and drained by the in-band `read`; the outbound
//! ring is filled by the in-band `write` and drained by `oob_read`. So the real-time end
//! issues only `oob_read`/`oob_write` (the caller must be attached) and the in-band end only
//! `read`/`write`. Every write is all-or-nothing (no short write: it fits whole or it waits /
//! fails with `EAGAIN`); a blocking read waits until the *whole* requested length is there,
//! which is not what [`XbufEnd::read`](crate::xbuf::XbufEnd::read) promises ("at least one
//! byte"). The descriptor is therefore kept `O_NONBLOCK` (a non-blocking read returns what is
//! there) and every wait is a poll: `poll(2)` for the in-band end, an EVL poll set (absolute
//! timeout, `EVL_POLIOC_WAIT`) for the real-time end, as the core reports each end's
//! readiness on its own stage (in-band poll: data for the in-band side, room towards the
//! real-time side; out-of-band poll: the converse).

use crate::backend::evl::current::current;
use crate::backend::evl::file::{
    clone_fd, inband_wait, io_error, not_attached, set_nonblock, Bell, OobWait, Woke, MAX_RING,
};
use crate::backend::evl::{abi36, sys};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::name::Name;
use crate::time::{Clock, Timestamp};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a writer whose message does not fit yet sleeps before trying again. The core
/// signals writability only on the full -> not-full transition, so a writer waiting for
/// more room than "one byte" has nothing to sleep on.
const ROOM_RETRY: Duration = Duration::from_millis(1);

/// Sleeps a little before retrying a write that did not fit (see [`ROOM_RETRY`]), on the
/// caller's stage, but not past `deadline`. Err(TimedOut) once the deadline passed.
fn room_retry(
    oob: bool,
    deadline: Option<Timestamp>,
    op: &'static str,
    timeout_hint: &'static str,
) -> Result<()> {
    let now = Clock::Monotonic.now();
    if deadline.is_some_and(|d| now >= d) {
        return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
    }
    let mut until = now.saturating_add(ROOM_RETRY);
    if let Some(d) = deadline {
        until = until.min(d);
    }
    if oob {
        Clock::Monotonic.sleep_until(until)
    } else {
        std::thread::sleep(until.saturating_duration_since(now));
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Rt,
    Inband,
}

/// What both ends share: the element descriptor (non-blocking) and, for a private xbuf,
/// which end is gone and the bell that tells the other one.
#[derive(Debug)]
struct Shared {
    /// Private xbufs only: ends see each other go (public ones never see a close).
    bell: Option<Bell>,
    rt_gone: AtomicBool,
    inband_gone: AtomicBool,
    /// Size of the ring the real-time end writes (inbound), 0 when unknown.
    rt_writes: usize,
    /// Size of the ring the in-band end writes (outbound), 0 when unknown.
    inband_writes: usize,
    fd: OwnedFd,
}

/// One end of an EVL xbuf.
#[derive(Debug)]
pub(crate) struct End {
    side: Side,
    /// Out-of-band waits of the real-time end (unused by the in-band end).
    /// The real-time end's waits (`None` for the in-band end, which waits with `ppoll`).
    read_wait: Option<OobWait>,
    write_wait: Option<OobWait>,
    shared: Arc<Shared>,
}

fn check_size(n: usize, op: &'static str) -> Result<u32> {
    if n > MAX_RING {
        return Err(Error::new(
            ErrorKind::CapacityExceeded,
            op,
            "an EVL xbuf ring holds at most 4 MiB (the core allocates it in one piece)",
        ));
    }
    Ok(n as u32)
}

/// The two ends of the xbuf `fd` (rings of `to_inband` and `to_rt` bytes), with the bell a
/// private xbuf has.
fn ends(
    fd: OwnedFd,
    bell: Option<Bell>,
    to_inband: usize,
    to_rt: usize,
    op: &'static str,
) -> Result<(End, End)> {
    let shared = Arc::new(Shared {
        bell,
        rt_gone: AtomicBool::new(false),
        inband_gone: AtomicBool::new(false),
        rt_writes: to_inband,
        inband_writes: to_rt,
        fd,
    });
    let fd = shared.fd.as_raw_fd();
    let rt = End {
        side: Side::Rt,
        read_wait: Some(OobWait::new(fd, libc::POLLIN, shared.bell.as_ref(), op)?),
        write_wait: Some(OobWait::new(fd, libc::POLLOUT, shared.bell.as_ref(), op)?),
        shared: shared.clone(),
    };
    let inband = End {
        side: Side::Inband,
        read_wait: None,
        write_wait: None,
        shared,
    };
    Ok((rt, inband))
}

/// A new xbuf: private (split ends see each other go) or public (visible as
/// `/dev/evl/xbuf/<name>`).
pub(crate) fn create(name: Option<Name<'_>>, to_rt: usize, to_inband: usize) -> Result<(End, End)> {
    const OP: &str = "Xbuf::create";
    // Outbound (in-band write -> oob read) carries bytes to the real-time side; inbound
    // (oob write -> in-band read) carries them to the in-band side.
    let attrs = abi36::EvlXbufAttrs {
        i_bufsz: check_size(to_inband, OP)?,
        o_bufsz: check_size(to_rt, OP)?,
    };
    let special = [(
        libc::EEXIST,
        None,
        "a public xbuf of this name exists: open it with Xbuf::open, or pick another name",
    )];
    // SAFETY: `attrs` is the xbuf class's attribute structure, live for the call.
    let fd = unsafe {
        clone_fd(
            abi36::EVL_XBUF_CLONE_DEV_C,
            abi36::EVL_XBUF_DEV,
            name.as_ref().map(Name::as_str),
            &attrs as *const abi36::EvlXbufAttrs as usize,
            if name.is_some() {
                abi36::EVL_CLONE_PUBLIC
            } else {
                abi36::EVL_CLONE_PRIVATE
            },
            &special,
            OP,
        )
    }
    .map_err(|e| {
        if e.kind() == ErrorKind::InvalidArgument {
            Error::new(
                ErrorKind::CapacityExceeded,
                OP,
                "the core refused the ring sizes (at most 1 GiB each, and memory permitting)",
            )
        } else {
            e
        }
    })?;
    set_nonblock(fd.as_fd(), OP)?;
    let bell = match name {
        None => Some(Bell::new(OP)?),
        Some(_) => None,
    };
    ends(fd, bell, to_inband, to_rt, OP)
}

/// Opens the public xbuf `name`.
pub(crate) fn open(name: Name<'_>) -> Result<(End, End)> {
    const OP: &str = "Xbuf::open";
    let fd = sys::open_element(abi36::EVL_XBUF_DEV, name.as_str(), OP)?;
    set_nonblock(fd.as_fd(), OP)?;
    let (to_inband, to_rt) = ring_sizes(name.as_str()).unwrap_or((0, 0));
    ends(fd, None, to_inband, to_rt, OP)
}

/// The ring sizes of the public xbuf `name`, (inbound, outbound), from the `rings` attribute
/// the core exports in sysfs ("<in fill> <in size> <out fill> <out size>"). Only read when
/// opening by name (it allocates).
fn ring_sizes(name: &str) -> Option<(usize, usize)> {
    let text = std::fs::read_to_string(format!("/sys/devices/virtual/xbuf/{name}/rings"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/class/xbuf/{name}/rings")))
        .ok()?;
    let v: Vec<usize> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (v.len() == 4).then(|| (v[1], v[3]))
}

const TIMEOUT_HINT: &str = "nothing came before the deadline";
const CLOSED_READ: &str = "the other end of this private xbuf was dropped and the ring is empty";
const CLOSED_WRITE: &str = "the other end of this private xbuf was dropped: nobody reads";

impl End {
    fn fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }

    /// The size of the ring this end writes; an unknown size (an xbuf opened by name whose
    /// sizes sysfs did not tell) counts as unlimited.
    fn write_ring(&self) -> usize {
        let n = match self.side {
            Side::Rt => self.shared.rt_writes,
            Side::Inband => self.shared.inband_writes,
        };
        if n == 0 {
            usize::MAX
        } else {
            n
        }
    }

    fn peer_gone(&self) -> bool {
        let s = &self.shared;
        match self.side {
            Side::Rt => s.inband_gone.load(Ordering::Acquire),
            Side::Inband => s.rt_gone.load(Ordering::Acquire),
        }
    }

    /// The real-time end must be attached (its calls are out-of-band).
    fn check_stage(&self, op: &'static str) -> Result<()> {
        if self.side == Side::Rt && current().is_none() {
            return Err(not_attached(op));
        }
        Ok(())
    }

    fn raw_read(&self, buf: &mut [u8]) -> core::result::Result<usize, i32> {
        match self.side {
            Side::Rt => sys::oob_read(self.fd(), buf),
            Side::Inband => {
                // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the call.
                let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(errno())
                } else {
                    Ok(n as usize)
                }
            }
        }
    }

    fn raw_write(&self, buf: &[u8]) -> core::result::Result<usize, i32> {
        match self.side {
            Side::Rt => sys::oob_write(self.fd(), buf),
            Side::Inband => {
                // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call.
                let n = unsafe { libc::write(self.fd(), buf.as_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(errno())
                } else {
                    Ok(n as usize)
                }
            }
        }
    }

    fn wait(
        &self,
        events: libc::c_short,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<Woke> {
        match self.side {
            Side::Rt => {
                let w = if events == libc::POLLIN {
                    &self.read_wait
                } else {
                    &self.write_wait
                };
                match w {
                    Some(w) => w.wait(deadline, op, TIMEOUT_HINT),
                    None => Err(Error::new(ErrorKind::Other, op, "no poll group")),
                }
            }
            Side::Inband => inband_wait(
                self.fd(),
                events,
                self.shared.bell.as_ref(),
                deadline,
                op,
                TIMEOUT_HINT,
            ),
        }
    }

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Result<usize> {
        const OP: &str = "XbufEnd::try_read";
        self.check_stage(OP)?;
        self.try_read_as(buf, OP)
    }

    fn try_read_as(&self, buf: &mut [u8], op: &'static str) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.raw_read(buf) {
            Ok(n) => Ok(n),
            Err(libc::EAGAIN) => {
                if self.peer_gone() {
                    // The peer's last bytes happen-before its `gone` store: read once more.
                    return match self.raw_read(buf) {
                        Ok(n) => Ok(n),
                        Err(libc::EAGAIN) => Err(Error::new(ErrorKind::Closed, op, CLOSED_READ)),
                        Err(e) => Err(io_error(e, op)),
                    };
                }
                Err(Error::new(
                    ErrorKind::WouldBlock,
                    op,
                    "the ring is empty: nothing to read yet",
                ))
            }
            Err(e) => Err(io_error(e, op)),
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8], deadline: Option<Timestamp>) -> Result<usize> {
        let op = if deadline.is_some() {
            "XbufEnd::read_until"
        } else {
            "XbufEnd::read"
        };
        self.check_stage(op)?;
        loop {
            match self.try_read_as(buf, op) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.wait(libc::POLLIN, deadline, op)?;
                }
                r => return r,
            }
        }
    }

    pub(crate) fn try_write(&self, buf: &[u8]) -> Result<usize> {
        const OP: &str = "XbufEnd::try_write";
        self.check_stage(OP)?;
        if self.peer_gone() {
            return Err(Error::new(ErrorKind::Closed, OP, CLOSED_WRITE));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // The core takes a message whole or not at all: offer the longest prefix that can
        // ever fit, i.e. at most the ring size (a longer write fails with EAGAIN forever).
        let buf = &buf[..buf.len().min(self.write_ring())];
        match self.raw_write(buf) {
            Ok(n) => Ok(n),
            Err(libc::EAGAIN) => Err(Error::new(
                ErrorKind::WouldBlock,
                OP,
                "the ring has no room for this message yet (EVL xbuf writes are whole)",
            )),
            Err(libc::ENOBUFS) => Err(Error::new(
                ErrorKind::WouldBlock,
                OP,
                "this direction of the xbuf has no ring",
            )),
            Err(e) => Err(io_error(e, OP)),
        }
    }

    pub(crate) fn write(&self, buf: &[u8]) -> Result<usize> {
        const OP: &str = "XbufEnd::write";
        self.check_stage(OP)?;
        let mut off = 0;
        // Pieces no longer than the ring (the core refuses larger ones for good) and, for a
        // write above 4096 bytes (which may interleave with others), no longer than 4096, so
        // that it makes progress as room frees up. Writes up to 4096 bytes stay whole.
        let max = if buf.len() <= 4096 {
            self.write_ring()
        } else {
            self.write_ring().min(4096)
        };
        while off < buf.len() {
            if self.peer_gone() {
                return Err(Error::new(ErrorKind::Closed, OP, CLOSED_WRITE));
            }
            let rest = &buf[off..];
            let piece = &rest[..rest.len().min(max)];
            match self.raw_write(piece) {
                Ok(n) => off += n,
                Err(libc::EAGAIN) => {
                    if self.wait(libc::POLLOUT, None, OP)? == Woke::Ready {
                        // Writable means "not full": our message may still not fit.
                        match self.raw_write(piece) {
                            Ok(n) => off += n,
                            Err(libc::EAGAIN) => {
                                room_retry(self.side == Side::Rt, None, OP, TIMEOUT_HINT)?
                            }
                            Err(e) => return Err(io_error(e, OP)),
                        }
                    }
                }
                Err(e) => return Err(io_error(e, OP)),
            }
        }
        Ok(buf.len())
    }

    pub(crate) fn fd_ref(&self) -> BorrowedFd<'_> {
        self.shared.fd.as_fd()
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let s = &self.shared;
        if let Some(bell) = &s.bell {
            match self.side {
                Side::Rt => s.rt_gone.store(true, Ordering::Release),
                Side::Inband => s.inband_gone.store(true, Ordering::Release),
            }
            bell.ring();
        }
    }
}
