//! The in-band relay: an ordinary thread that owns the in-band packet socket and trades
//! frames with the real-time TX/RX task through an EVL cross-buffer ([`Xbuf`]).
//!
//! Why: the EVL core of ABI 36 carries only IPv4 on its out-of-band packet stack
//! (`ETH_P_IP`/`ETH_P_ALL` sockets, VLAN-steered ingress; see `evl_core::packet`), so
//! EtherType 0x88A4 never travels out-of-band there, and an in-band socket can neither sit in
//! the core's poll set nor be used by an attached thread without switching it in-band. The
//! relay keeps the real-time thread out-of-band: it only reads and writes its xbuf end
//! (`oob_read`/`oob_write`), awaited through the executor's reactor; the relay thread, not
//! attached, does the in-band socket calls and waits in `poll(2)` on the socket and its xbuf
//! end together.
//!
//! Records: each frame crosses the xbuf as one record, a 2-byte little-endian length then
//! the frame, written with one write. Xbuf writes up to the ring size are whole on the EVL
//! core (all-or-nothing), and on the host (a pipe) writes up to `PIPE_BUF` (4096) are, so a
//! reader that sees the first byte of a record sees all of it; the reader still keeps a
//! partial record across reads ([`Record`]) rather than rely on it.
//!
//! Buffers are fixed arrays made at open: no allocation per frame on either side.

use crate::socket::PacketSocket;
use crate::socket::MAX_FRAME;
use evl::core::{ErrorKind, Xbuf, XbufEnd};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// Bytes of a record's length prefix.
const HEADER: usize = 2;
/// The largest record: prefix and a frame of [`MAX_FRAME`] bytes.
pub(crate) const RECORD_MAX: usize = HEADER + MAX_FRAME;
/// Default size of each of the xbuf's two rings: 64 KiB, 42 records of the largest frame,
/// more than ethercrab's PDU storage has frames in flight.
pub const DEFAULT_RING: usize = 64 << 10;
/// How often the relay thread looks at its stop flag while nothing moves.
const STOP_CHECK_MS: libc::c_int = 100;
/// How long the relay waits for room in the socket's send buffer before dropping a frame.
const SEND_ROOM_MS: libc::c_int = 10;

/// One record being read: the prefix, then the frame, possibly over several reads.
pub(crate) struct Record {
    buf: [u8; RECORD_MAX],
    have: usize,
}

impl Record {
    pub(crate) const fn new() -> Self {
        Record {
            buf: [0; RECORD_MAX],
            have: 0,
        }
    }

    fn frame_len(&self) -> usize {
        usize::from(u16::from_le_bytes([self.buf[0], self.buf[1]]))
    }

    /// Where the next read goes: the rest of the prefix, or the rest of the frame.
    pub(crate) fn unfilled(&mut self) -> &mut [u8] {
        let end = if self.have < HEADER {
            HEADER
        } else {
            HEADER + self.frame_len()
        };
        &mut self.buf[self.have..end]
    }

    /// Takes `n` bytes just read into [`unfilled`](Record::unfilled); the frame's length once
    /// the record is whole (then [`frame`](Record::frame) has it until the next read).
    pub(crate) fn advance(&mut self, n: usize) -> io::Result<Option<usize>> {
        self.have += n;
        if self.have < HEADER {
            return Ok(None);
        }
        let len = self.frame_len();
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("relay record of {len} bytes, above {MAX_FRAME}: the xbuf lost sync"),
            ));
        }
        if self.have == HEADER + len {
            self.have = 0;
            return Ok(Some(len));
        }
        Ok(None)
    }

    /// The frame of the record just completed.
    pub(crate) fn frame(&self, len: usize) -> &[u8] {
        &self.buf[HEADER..HEADER + len]
    }
}

/// Puts `frame` into `buf` as a record; the record's bytes.
pub(crate) fn encode<'b>(buf: &'b mut [u8; RECORD_MAX], frame: &[u8]) -> io::Result<&'b [u8]> {
    let len = frame.len();
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {len} bytes, above {MAX_FRAME}"),
        ));
    }
    buf[..HEADER].copy_from_slice(&(len as u16).to_le_bytes());
    buf[HEADER..HEADER + len].copy_from_slice(frame);
    Ok(&buf[..HEADER + len])
}

/// Counters of the relay thread (see [`TxRx::relay_stats`](crate::TxRx::relay_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Frames the relay took from the real-time side and sent on the wire.
    pub to_wire: u64,
    /// Frames the relay received from the wire (counted before they are passed on: those
    /// not passed are in `dropped_ring_full`).
    pub from_wire: u64,
    /// Frames from the wire dropped because the ring to the real-time side was full.
    pub dropped_ring_full: u64,
    /// Frames to the wire dropped because the socket had no room for `SEND_ROOM_MS`.
    pub dropped_socket_full: u64,
}

#[derive(Default)]
struct Counters {
    to_wire: AtomicU64,
    from_wire: AtomicU64,
    dropped_ring_full: AtomicU64,
    dropped_socket_full: AtomicU64,
}

/// What the real-time side holds of the relay: the thread's handle, its stop flag, counters
/// and, once it ended on an error, that error.
pub(crate) struct RelayThread {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    error: Arc<OnceLock<String>>,
    thread: Option<JoinHandle<()>>,
}

impl core::fmt::Debug for RelayThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RelayThread")
            .field("stats", &self.stats())
            .field("error", &self.error.get())
            .finish()
    }
}

impl RelayThread {
    /// Opens the in-band socket on `interface`, makes the xbuf (`ring` bytes each way) and
    /// starts the relay thread with the in-band end. Returns the real-time end.
    ///
    /// The thread is an ordinary one (never attached); it inherits the caller's scheduling
    /// policy and CPU affinity, as any thread does.
    pub(crate) fn start(interface: &str, ring: usize) -> io::Result<(XbufEnd, RelayThread)> {
        if ring < RECORD_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "relay ring of {ring} bytes: it must hold one whole record of the largest \
                     frame ({RECORD_MAX} bytes); the default is {DEFAULT_RING}"
                ),
            ));
        }
        let sock = PacketSocket::open(interface, true)?;
        let xbuf = Xbuf::new(ring, ring).map_err(|e| io::Error::other(e.to_string()))?;
        let (rt, inband) = xbuf.into_ends();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let error = Arc::new(OnceLock::new());
        let (s, c, e) = (stop.clone(), counters.clone(), error.clone());
        let thread = std::thread::Builder::new()
            .name(format!("ecat-relay-{interface}"))
            .spawn(move || {
                if let Err(err) = relay(&sock, &inband, &s, &c) {
                    let _ = e.set(err.to_string());
                }
            })?;
        Ok((
            rt,
            RelayThread {
                stop,
                counters,
                error,
                thread: Some(thread),
            },
        ))
    }

    pub(crate) fn stats(&self) -> RelayStats {
        let c = &self.counters;
        RelayStats {
            to_wire: c.to_wire.load(Ordering::Relaxed),
            from_wire: c.from_wire.load(Ordering::Relaxed),
            dropped_ring_full: c.dropped_ring_full.load(Ordering::Relaxed),
            dropped_socket_full: c.dropped_socket_full.load(Ordering::Relaxed),
        }
    }

    /// The error the relay thread ended with, if it did.
    pub(crate) fn error(&self) -> Option<&str> {
        self.error.get().map(String::as_str)
    }
}

impl Drop for RelayThread {
    /// Stops the thread and waits for it (at most about `STOP_CHECK_MS`). On the EVL backend
    /// the join is an in-band call: dropping the [`TxRx`](crate::TxRx) is teardown, not the
    /// cycle.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn poll_one(fd: libc::c_int, events: libc::c_short, ms: libc::c_int) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0)
}

/// Sends one frame on the wire, waiting up to `SEND_ROOM_MS` for room; false when dropped.
fn send_to_wire(sock: &PacketSocket, frame: &[u8]) -> io::Result<bool> {
    let mut waited = false;
    loop {
        match sock.send(frame) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !waited => {
                waited = true;
                poll_one(sock.as_fd().as_raw_fd(), libc::POLLOUT, SEND_ROOM_MS)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(io::Error::new(e.kind(), format!("relay send: {e}"))),
        }
    }
}

/// The relay thread's loop: one `poll(2)` on the socket and the xbuf's in-band end, then
/// everything either has, until stopped or the real-time end is gone.
fn relay(sock: &PacketSocket, end: &XbufEnd, stop: &AtomicBool, c: &Counters) -> io::Result<()> {
    let mut from_rt = Record::new();
    let mut to_rt = [0u8; RECORD_MAX];
    let relay_err = |e: evl::core::Error| io::Error::other(format!("relay xbuf: {e}"));
    let mut fds = [
        libc::pollfd {
            fd: sock.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: end.read_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a valid array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, STOP_CHECK_MS) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io::Error::new(e.kind(), format!("relay poll: {e}")));
        }
        // Real-time side -> wire.
        loop {
            let n = match end.try_read(from_rt.unfilled()) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // The real-time end is gone: the TxRx was dropped.
                Err(e) if e.kind() == ErrorKind::Closed => return Ok(()),
                Err(e) => return Err(relay_err(e)),
            };
            if let Some(len) = from_rt.advance(n)? {
                if send_to_wire(sock, from_rt.frame(len))? {
                    c.to_wire.fetch_add(1, Ordering::Relaxed);
                } else {
                    c.dropped_socket_full.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // Wire -> real-time side.
        loop {
            let n = match sock.recv(&mut to_rt[HEADER..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("relay recv: {e}"))),
            };
            c.from_wire.fetch_add(1, Ordering::Relaxed);
            to_rt[..HEADER].copy_from_slice(&(n as u16).to_le_bytes());
            match end.try_write(&to_rt[..HEADER + n]) {
                Ok(w) if w == HEADER + n => {}
                Ok(w) => {
                    return Err(io::Error::other(format!(
                        "relay xbuf: short write of {w} of {} bytes",
                        HEADER + n
                    )))
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    c.dropped_ring_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::Closed => return Ok(()),
                Err(e) => return Err(relay_err(e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_over_split_reads() {
        let mut wire = [0u8; RECORD_MAX];
        let rec = encode(&mut wire, &[7, 8, 9]).unwrap().to_vec();
        assert_eq!(rec, [3, 0, 7, 8, 9]);
        let mut r = Record::new();
        let mut got = None;
        // One byte per read: the prefix, then the frame, across five reads.
        for b in &rec {
            let dst = r.unfilled();
            assert!(!dst.is_empty());
            dst[0] = *b;
            got = r.advance(1).unwrap();
        }
        assert_eq!(got, Some(3));
        assert_eq!(r.frame(3), &[7, 8, 9]);
        // The next record starts over.
        assert_eq!(r.unfilled().len(), HEADER);
    }

    #[test]
    fn a_ring_below_one_record_is_refused_before_anything_opens() {
        let e = RelayThread::start("lo", RECORD_MAX - 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn oversized_records_are_refused() {
        let mut wire = [0u8; RECORD_MAX];
        assert!(encode(&mut wire, &[0; MAX_FRAME + 1]).is_err());
        let mut r = Record::new();
        r.unfilled()
            .copy_from_slice(&((MAX_FRAME + 1) as u16).to_le_bytes());
        assert_eq!(
            r.advance(HEADER).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
