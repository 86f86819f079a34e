//! Xbuf on the EVL core, plus the small waiting kit the EVL proxy, xbuf and observable
//! modules share (an out-of-band poll set per waiting side, and a "bell" that wakes waiters
//! of both stages when a handle of the same process goes away).
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

use super::poll::Group;
use super::{abi36, sys};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::name::Name;
use crate::time::{Clock, Timestamp};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The largest ring the core can allocate in one piece (`kzalloc`, bounded by
/// `KMALLOC_MAX_SIZE`, 4 MiB on x86_64 with 4 KiB pages); larger rings fail with `ENOMEM`
/// after a kernel warning, so they are refused here first.
pub(super) const MAX_RING: usize = 4 << 20;

/// How long a writer whose message does not fit yet sleeps before trying again. The core
/// signals writability only on the full -> not-full transition, so a writer waiting for
/// more room than "one byte" has nothing to sleep on.
const ROOM_RETRY: Duration = Duration::from_millis(1);

/// The error of an out-of-band call from a thread that is not attached to the core.
pub(super) fn not_attached(op: &'static str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        op,
        crate::thread::NOT_ATTACHED_HINT,
    )
}

/// Maps the errno of an element I/O call; `EPERM` names the way out.
pub(super) fn io_error(e: i32, op: &'static str) -> Error {
    match e {
        libc::EPERM => not_attached(op),
        libc::EBADF => Error::new(
            ErrorKind::Closed,
            op,
            "the core deleted the element while the call was pending",
        ),
        _ => Error::from_errno(e, op, "the EVL core refused the element I/O"),
    }
}

/// Creates an element through `clone_dev` and returns a descriptor on it: public, and
/// opened by name, when `name` is given (see `sys::clone_element`).
///
/// # Safety
/// `attrs` must be 0 or the address of the attribute structure the class expects, live for
/// the call.
pub(super) unsafe fn clone_fd(
    clone_dev: &std::ffi::CStr,
    class: &str,
    name: Option<&str>,
    attrs: usize,
    flags: u32,
    special: &[(i32, Option<ErrorKind>, &'static str)],
    op: &'static str,
) -> Result<OwnedFd> {
    let flags = if name.is_some() {
        flags | abi36::EVL_CLONE_PUBLIC
    } else {
        flags
    };
    // SAFETY: the caller's contract on `attrs`.
    unsafe { sys::clone_element(clone_dev, class, name, attrs, flags, special, op) }
        .map(|(fd, _)| fd)
}

/// Sets `O_NONBLOCK` on an element descriptor (in-band `fcntl`, at creation only).
pub(super) fn set_nonblock(fd: BorrowedFd<'_>, op: &'static str) -> Result<()> {
    // SAFETY: F_GETFL/F_SETFL take and return an int flag word; no memory is touched.
    let rc = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl < 0 {
            fl
        } else {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK)
        }
    };
    if rc < 0 {
        return Err(Error::last_os_error(
            op,
            "cannot make the element descriptor non-blocking",
        ));
    }
    Ok(())
}

/// Wakes the waiters of both stages, once and for good: a private one-byte xbuf whose
/// outbound ring gets a byte (out-of-band POLLIN from then on) and an eventfd that gets a
/// count (in-band POLLIN from then on). Rung from `Drop`, which may run on any thread, so
/// only in-band calls are used to ring it.
#[derive(Debug)]
pub(super) struct Bell {
    oob: OwnedFd,
    inband: OwnedFd,
}

impl Bell {
    pub(super) fn new(op: &'static str) -> Result<Bell> {
        let attrs = abi36::EvlXbufAttrs {
            i_bufsz: 0,
            o_bufsz: 1,
        };
        // SAFETY: `attrs` is the xbuf class's attribute structure, live for the call.
        let oob = unsafe {
            clone_fd(
                abi36::EVL_XBUF_CLONE_DEV_C,
                abi36::EVL_XBUF_DEV,
                None,
                &attrs as *const abi36::EvlXbufAttrs as usize,
                abi36::EVL_CLONE_PRIVATE,
                &[],
                op,
            )
        }?;
        set_nonblock(oob.as_fd(), op)?;
        // SAFETY: eventfd has no memory effects.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let inband = super::super::host::sys::owned_fd(
            fd,
            op,
            "cannot create an eventfd (descriptor limit?)",
        )?;
        Ok(Bell { oob, inband })
    }

    /// Rings: every present and future wait on this bell returns at once.
    pub(super) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is a live 8-byte buffer; both descriptors are non-blocking, so a
        // bell already rung (ring full / counter set) just answers EAGAIN, which is fine.
        unsafe {
            libc::write(self.oob.as_raw_fd(), one.as_ptr().cast(), 1);
            libc::write(self.inband.as_raw_fd(), one.as_ptr().cast(), one.len());
        }
    }

    pub(super) fn oob_fd(&self) -> RawFd {
        self.oob.as_raw_fd()
    }

    pub(super) fn inband_fd(&self) -> RawFd {
        self.inband.as_raw_fd()
    }
}

/// An EVL poll group watching one element descriptor for `events`, and optionally a bell.
/// The group's descriptor is opened with the xbuf (an in-band `open` of `/dev/evl/poll`:
/// never on a real-time thread's steady-state path); the descriptors are added to it by the
/// first out-of-band wait (adding is an out-of-band request: only an attached thread can
/// make it, and it keeps that thread on its stage). Waiting allocates nothing. The group is
/// the poll module's, so the guard against the core's per-thread watch-table cache covers
/// these waits and every `PollSet` alike.
#[derive(Debug)]
pub(super) struct OobWait {
    group: Group,
    /// The bell was added to the group (by the first wait).
    bell_added: AtomicBool,
    bell: Option<RawFd>,
}

/// What an [`OobWait::wait`] or [`inband_wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Woke {
    /// The element reported one of the events (or the wait should simply be retried).
    Ready,
    /// The bell rang.
    Bell,
}

impl OobWait {
    /// A waiter for `events` on `fd` (and `bell`'s out-of-band side); both descriptors must
    /// outlive it. Opens the poll group now.
    pub(super) fn new(
        fd: RawFd,
        events: libc::c_short,
        bell: Option<&Bell>,
        op: &'static str,
    ) -> Result<OobWait> {
        Ok(OobWait {
            group: Group::with_anchor_events(fd, events as u16 as u32, op)?,
            bell_added: AtomicBool::new(false),
            bell: bell.map(Bell::oob_fd),
        })
    }

    /// The group, with the bell in it (added by the first wait, out-of-band).
    fn group(&self, op: &'static str) -> Result<&Group> {
        if let Some(b) = self.bell {
            if !self.bell_added.load(Ordering::Acquire) {
                // Two threads waiting for the first time at once: one add fails with EEXIST,
                // which is as good as success.
                match self.group.add_raw(b, libc::POLLIN as u32, 1) {
                    Ok(()) | Err(libc::EEXIST) => self.bell_added.store(true, Ordering::Release),
                    Err(e) => return Err(io_error(e, op)),
                }
            }
        }
        Ok(&self.group)
    }

    /// Waits out-of-band until the element reports an event or the bell rang, until the
    /// absolute monotonic `deadline` at most. The caller must be attached.
    pub(super) fn wait(
        &self,
        deadline: Option<Timestamp>,
        op: &'static str,
        timeout_hint: &'static str,
    ) -> Result<Woke> {
        let group = self.group(op)?;
        loop {
            let mut events = [abi36::EvlPollEvent::default(); 2];
            match group.wait_raw(&mut events, deadline) {
                Ok(n) => {
                    if events[..n].iter().any(|e| e.pollval.lval() == 1) {
                        return Ok(Woke::Bell);
                    }
                    return Ok(Woke::Ready);
                }
                Err(libc::ETIMEDOUT) => {
                    return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
                }
                Err(libc::EINTR) => continue,
                Err(e) => return Err(io_error(e, op)),
            }
        }
    }
}

/// Waits in-band (`ppoll`) until `fd` reports one of `events` or the bell rang, until the
/// absolute monotonic `deadline` at most.
pub(super) fn inband_wait(
    fd: RawFd,
    events: libc::c_short,
    bell: Option<&Bell>,
    deadline: Option<Timestamp>,
    op: &'static str,
    timeout_hint: &'static str,
) -> Result<Woke> {
    loop {
        let mut pfds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: bell.map_or(-1, Bell::inband_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let rel = deadline.map(|d| {
            crate::time::duration_to_timespec(d.saturating_duration_since(Clock::Monotonic.now()))
        });
        let rel_ptr = rel
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: two valid pollfds (a negative fd is ignored by ppoll), a null-or-valid
        // timeout, no signal mask change.
        let rc = unsafe { libc::ppoll(pfds.as_mut_ptr(), 2, rel_ptr, core::ptr::null()) };
        match rc {
            n if n > 0 => {
                if pfds[1].revents != 0 {
                    return Ok(Woke::Bell);
                }
                return Ok(Woke::Ready);
            }
            0 => {
                if deadline.is_some_and(|d| Clock::Monotonic.now() >= d) {
                    return Err(Error::new(ErrorKind::TimedOut, op, timeout_hint));
                }
            }
            _ => {
                let e = errno();
                if e != libc::EINTR {
                    return Err(Error::from_errno(e, op, "poll failed"));
                }
            }
        }
    }
}

/// Sleeps a little before retrying a write that did not fit (see [`ROOM_RETRY`]), on the
/// caller's stage, but not past `deadline`. Err(TimedOut) once the deadline passed.
pub(super) fn room_retry(
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
        super::sleep_until(Clock::Monotonic, until)
    } else {
        std::thread::sleep(until.saturating_duration_since(now));
        Ok(())
    }
}

// ------------------------------------------------------------------------------------ xbuf

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
        if self.side == Side::Rt && super::thread::current().is_none() {
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
