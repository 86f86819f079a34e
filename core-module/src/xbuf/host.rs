//! Host xbuf: each ring is a pipe (private) or a FIFO under `/dev/shm` (public).
//!
//! The kernel's pipe gives exactly the semantics and the readiness an xbuf needs: a read end
//! that polls readable exactly while the ring holds bytes, a write end that polls writable
//! while a page of the ring is free, non-blocking partial writes, and all-or-nothing writes
//! of up to `PIPE_BUF` bytes. Both descriptors are `O_NONBLOCK`; blocking calls wait in
//! `ppoll`.
//!
//! Private: the read ends of both pipes are shared by the two ends (so a write never meets a
//! pipe without readers: no EPIPE, no SIGPIPE), and each end owns the write end of the pipe
//! it writes to. Dropping an end closes that write end, so the peer reads what is left, then
//! end-of-file ([`ErrorKind::Closed`]), and a peer waiting to write is woken by the hang-up
//! on its own read end. Public: every handle opens both FIFOs read-write, so they never
//! close while it lives (EVL semantics: the element lives while any handle does).

use crate::backend::host::shm::public_path;
use crate::backend::host::sys;
use crate::error::{Error, ErrorKind, Result};
use crate::name::Name;
use crate::time::types::Timestamp;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const CLASS: &str = "xbuf";
const TO_RT: &str = ".to-rt";
const TO_INBAND: &str = ".to-inband";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Rt = 0,
    Inband = 1,
}

/// What both ends share.
#[derive(Debug)]
struct Rings {
    /// Private: the read end of the ring to the real-time side. Public: that FIFO, read-write.
    to_rt: OwnedFd,
    /// Private: the read end of the ring to the in-band side. Public: that FIFO, read-write.
    to_inband: OwnedFd,
    /// Whether each end (indexed by `Side`) was dropped; private xbufs only.
    gone: [AtomicBool; 2],
    /// Public xbuf created by this handle: the FIFOs to remove on drop.
    unlink: Option<[CString; 2]>,
}

impl Drop for Rings {
    fn drop(&mut self) {
        if let Some(paths) = &self.unlink {
            for p in paths {
                // SAFETY: `p` is NUL-terminated.
                unsafe { libc::unlink(p.as_ptr()) };
            }
        }
    }
}

/// One end of a host xbuf.
#[derive(Debug)]
pub(crate) struct End {
    rings: Arc<Rings>,
    side: Side,
    /// Private: the write end of the pipe going to the other side (owned: closing it tells
    /// the peer this end is gone). Public: `None`, the shared FIFO is used.
    write: Option<OwnedFd>,
}

/// The (real-time, in-band) ends of a new private xbuf.
pub(crate) fn private(to_rt: usize, to_inband: usize) -> Result<(End, End)> {
    const OP: &str = "Xbuf::new";
    let (to_rt_r, to_rt_w) = sys::pipe(libc::O_NONBLOCK, OP)?;
    let (to_inband_r, to_inband_w) = sys::pipe(libc::O_NONBLOCK, OP)?;
    sys::size_pipe(to_rt_w.as_fd(), to_rt, OP)?;
    sys::size_pipe(to_inband_w.as_fd(), to_inband, OP)?;
    let rings = Arc::new(Rings {
        to_rt: to_rt_r,
        to_inband: to_inband_r,
        gone: [AtomicBool::new(false), AtomicBool::new(false)],
        unlink: None,
    });
    Ok((
        End {
            rings: rings.clone(),
            side: Side::Rt,
            write: Some(to_inband_w),
        },
        End {
            rings,
            side: Side::Inband,
            write: Some(to_rt_w),
        },
    ))
}

fn open_fifo(path: &CString, op: &'static str) -> Result<OwnedFd> {
    // O_RDWR on a FIFO never blocks on Linux and keeps both directions open.
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    let fd = sys::owned_fd(
        fd,
        op,
        "no public xbuf by this name: create it first, or check the name",
    )?;
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable stat buffer; fstat fills it on success.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Err(Error::last_os_error(op, ""));
    }
    // SAFETY: fstat returned 0, so `st` is initialised.
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            op,
            "this name belongs to something that is not an xbuf",
        ));
    }
    Ok(fd)
}

fn mkfifo(path: &CString, op: &'static str) -> Result<()> {
    // SAFETY: `path` is NUL-terminated.
    if unsafe { libc::mkfifo(path.as_ptr(), 0o660) } == 0 {
        return Ok(());
    }
    let e = crate::error::errno();
    Err(if e == libc::EEXIST {
        Error::from_errno(
            e,
            op,
            "a public xbuf with this name already exists: open it with Xbuf::open, or pick \
             another name",
        )
    } else {
        Error::from_errno(e, op, "cannot create the xbuf's FIFOs under /dev/shm")
    })
}

/// Creates the public xbuf `name`: two FIFOs under `/dev/shm`, sized, removed on drop.
pub(crate) fn create_public(name: Name<'_>, to_rt: usize, to_inband: usize) -> Result<(End, End)> {
    const OP: &str = "Xbuf::create";
    let paths = [
        public_path(CLASS, name, TO_RT),
        public_path(CLASS, name, TO_INBAND),
    ];
    // The first FIFO is the claim on the name: it is created exclusively.
    mkfifo(&paths[0], OP)?;
    let unlink_all = |paths: &[CString; 2], upto: usize| {
        for p in &paths[..upto] {
            // SAFETY: `p` is NUL-terminated.
            unsafe { libc::unlink(p.as_ptr()) };
        }
    };
    if let Err(e) = mkfifo(&paths[1], OP) {
        unlink_all(&paths, 1);
        return Err(e);
    }
    let opened = (|| {
        let a = open_fifo(&paths[0], OP)?;
        let b = open_fifo(&paths[1], OP)?;
        sys::size_pipe(a.as_fd(), to_rt, OP)?;
        sys::size_pipe(b.as_fd(), to_inband, OP)?;
        Ok::<_, Error>((a, b))
    })();
    let (a, b) = match opened {
        Ok(fds) => fds,
        Err(e) => {
            unlink_all(&paths, 2);
            return Err(e);
        }
    };
    Ok(public_ends(a, b, Some(paths)))
}

/// Opens the public xbuf `name`.
pub(crate) fn open_public(name: Name<'_>) -> Result<(End, End)> {
    const OP: &str = "Xbuf::open";
    let a = open_fifo(&public_path(CLASS, name, TO_RT), OP)?;
    let b = open_fifo(&public_path(CLASS, name, TO_INBAND), OP)?;
    Ok(public_ends(a, b, None))
}

fn public_ends(to_rt: OwnedFd, to_inband: OwnedFd, unlink: Option<[CString; 2]>) -> (End, End) {
    let rings = Arc::new(Rings {
        to_rt,
        to_inband,
        gone: [AtomicBool::new(false), AtomicBool::new(false)],
        unlink,
    });
    (
        End {
            rings: rings.clone(),
            side: Side::Rt,
            write: None,
        },
        End {
            rings,
            side: Side::Inband,
            write: None,
        },
    )
}

fn closed(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Closed,
        op,
        "the other end of this xbuf was dropped: nothing more will come or be read",
    )
}

impl End {
    pub(crate) fn read_fd(&self) -> BorrowedFd<'_> {
        match self.side {
            Side::Rt => self.rings.to_rt.as_fd(),
            Side::Inband => self.rings.to_inband.as_fd(),
        }
    }

    pub(crate) fn write_fd(&self) -> BorrowedFd<'_> {
        match (&self.write, self.side) {
            (Some(w), _) => w.as_fd(),
            (None, Side::Rt) => self.rings.to_inband.as_fd(),
            (None, Side::Inband) => self.rings.to_rt.as_fd(),
        }
    }

    fn peer_gone(&self) -> bool {
        let peer = match self.side {
            Side::Rt => Side::Inband,
            Side::Inband => Side::Rt,
        };
        self.rings.gone[peer as usize].load(Ordering::SeqCst)
    }

    fn read_once(&self, buf: &mut [u8], op: &'static str) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            return match sys::read_nb(self.read_fd(), buf, op) {
                Ok(0) => Err(closed(op)),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => Err(
                    e.with_hint("the ring is empty: wait with read/read_until, or poll read_fd()")
                ),
                Err(e) => Err(e),
            };
        }
    }

    /// The EVL core's rule, kept on the host: the real-time end's calls are out-of-band
    /// there, so only an attached thread may make them.
    fn check_stage(&self, op: &'static str) -> Result<()> {
        match self.side {
            Side::Rt => crate::thread::types::require_attached(op),
            Side::Inband => Ok(()),
        }
    }

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Result<usize> {
        self.check_stage("XbufEnd::try_read")?;
        self.read_once(buf, "XbufEnd::try_read")
    }

    pub(crate) fn read(&self, buf: &mut [u8], deadline: Option<Timestamp>) -> Result<usize> {
        const OP: &str = "XbufEnd::read";
        self.check_stage(OP)?;
        loop {
            match self.read_once(buf, OP) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            sys::wait_ready(
                self.read_fd(),
                libc::POLLIN,
                deadline,
                OP,
                "nothing came from the other side before the deadline",
            )?;
        }
    }

    pub(crate) fn try_write(&self, buf: &[u8]) -> Result<usize> {
        self.check_stage("XbufEnd::try_write")?;
        self.write_once(buf, "XbufEnd::try_write")
    }

    fn write_once(&self, buf: &[u8], op: &'static str) -> Result<usize> {
        if self.peer_gone() {
            return Err(closed(op));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            return match sys::write_nb(self.write_fd(), buf, op) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => Err(e.with_hint(
                    "the ring is full: wait with write, or poll write_fd() for writable",
                )),
                Err(e) if e.kind() == ErrorKind::Closed => Err(closed(op)),
                Err(e) => Err(e),
            };
        }
    }

    pub(crate) fn write(&self, buf: &[u8]) -> Result<usize> {
        const OP: &str = "XbufEnd::write";
        self.check_stage(OP)?;
        let mut done = 0;
        while done < buf.len() {
            match self.write_once(&buf[done..], OP) {
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.wait_writable(OP)?,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Waits until the outgoing ring has room, or (private) the peer hangs up.
    fn wait_writable(&self, op: &'static str) -> Result<()> {
        let mut fds = [
            libc::pollfd {
                fd: self.write_fd().as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            },
            // Only POLLHUP/POLLERR are reported for no events: the peer closed its write end.
            libc::pollfd {
                fd: self.read_fd().as_raw_fd(),
                events: 0,
                revents: 0,
            },
        ];
        let nfds = if self.write.is_some() { 2 } else { 1 };
        // SAFETY: `fds` holds at least `nfds` valid pollfds for the whole call; no timeout
        // and no signal mask.
        let rc =
            unsafe { libc::ppoll(fds.as_mut_ptr(), nfds, core::ptr::null(), core::ptr::null()) };
        if rc < 0 && crate::error::errno() != libc::EINTR {
            return Err(Error::last_os_error(op, ""));
        }
        Ok(())
    }
}

impl Drop for End {
    fn drop(&mut self) {
        // Set before `write` closes, so a peer woken by the hang-up sees it.
        self.rings.gone[self.side as usize].store(true, Ordering::SeqCst);
    }
}
