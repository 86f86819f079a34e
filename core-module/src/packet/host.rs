//! The in-band packet socket: an ordinary `AF_PACKET`/`SOCK_RAW` socket, non-blocking, bound
//! to one interface and one EtherType. The host backend's frame path, and the EVL backend's
//! when the core's out-of-band stack cannot carry the traffic (see [`super`]).

use super::{check_frame, IfName, OP_OPEN, OP_RECV, OP_SEND};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::{Clock, Timestamp};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `PACKET_IGNORE_OUTGOING` (linux/if_packet.h, Linux 4.20): the socket does not see the
/// frames other sockets send on its interface. Not in the `libc` crate.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// A bound, non-blocking `AF_PACKET` raw socket.
#[derive(Debug)]
pub(crate) struct RawSocket {
    fd: OwnedFd,
}

/// `sockaddr_ll` for `ifindex` and `ethertype` (host order in, network order in the address).
pub(crate) fn sockaddr_ll(ifindex: u32, ethertype: u16) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: ethertype.to_be(),
        sll_ifindex: ifindex as libc::c_int,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

/// The index of interface `name` in the caller's network namespace.
pub(crate) fn ifindex(name: &IfName) -> Result<u32> {
    // SAFETY: `name.as_ptr()` is NUL-terminated (IfName keeps a NUL after the name).
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        return Err(Error::new(
            ErrorKind::NotFound,
            OP_OPEN,
            "no network interface of that name in this network namespace: check `ip link`",
        ));
    }
    Ok(idx)
}

/// Maps the errno of `socket(2)`/`bind(2)` on an `AF_PACKET` socket to an error with a hint.
pub(crate) fn open_error(e: i32) -> Error {
    match e {
        libc::EPERM | libc::EACCES => Error::from_errno(
            e,
            OP_OPEN,
            "raw packet sockets need CAP_NET_RAW: run as root, or grant it to the program \
             (`setcap cap_net_raw+ep <binary>`)",
        ),
        libc::EAFNOSUPPORT => Error::new(
            ErrorKind::Unsupported,
            OP_OPEN,
            "this kernel has no AF_PACKET sockets (CONFIG_PACKET)",
        ),
        libc::ENODEV | libc::ENXIO => Error::from_errno(
            e,
            OP_OPEN,
            "the interface went away while the socket was being bound",
        ),
        _ => Error::from_errno(e, OP_OPEN, "cannot open a raw packet socket"),
    }
}

impl RawSocket {
    /// Opens the socket for `ethertype` and binds it to interface `ifindex`.
    pub(crate) fn open(ifindex: u32, ethertype: u16) -> Result<RawSocket> {
        // SAFETY: socket(2) has no memory effects.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(ethertype.to_be()),
            )
        };
        if fd < 0 {
            return Err(open_error(errno()));
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // Best effort: a kernel older than 4.20 refuses the option, and the socket then also
        // sees what other sockets send on the interface (never what it sends itself).
        // SAFETY: the option value is a live c_int of the size passed.
        let _ = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                core::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        bind(fd.as_raw_fd(), ifindex, ethertype)?;
        Ok(RawSocket { fd })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one frame (its Ethernet header included) without waiting.
    pub(crate) fn send(&self, frame: &[u8]) -> Result<usize> {
        check_frame(frame, OP_SEND)?;
        loop {
            // SAFETY: `frame` is a live slice of `frame.len()` bytes; send only reads it.
            let n = unsafe {
                libc::send(
                    self.fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            match errno() {
                libc::EINTR => continue,
                e => return Err(io_error(e, OP_SEND)),
            }
        }
    }

    /// Receives one frame without waiting (`WouldBlock` when none is queued).
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the call.
            let n = unsafe {
                libc::recv(
                    self.fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            match errno() {
                libc::EINTR => continue,
                e => return Err(io_error(e, OP_RECV)),
            }
        }
    }

    /// Receives one frame, waiting with `poll(2)` until `deadline` (monotonic clock; `None`:
    /// no limit) for one to come.
    pub(crate) fn recv_until(&self, buf: &mut [u8], deadline: Option<Timestamp>) -> Result<usize> {
        loop {
            match self.recv(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            let timeout_ms = match deadline {
                None => -1,
                Some(d) => {
                    let now = Clock::Monotonic.now();
                    if now >= d {
                        return Err(Error::new(
                            ErrorKind::TimedOut,
                            OP_RECV,
                            "no frame came before the deadline",
                        ));
                    }
                    // Round up: poll's unit is the ms, and waking early only loops.
                    let ns = d.as_nanos() - now.as_nanos();
                    libc::c_int::try_from(ns.div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd, as the count says.
            let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if rc < 0 && errno() != libc::EINTR {
                return Err(Error::last_os_error(
                    OP_RECV,
                    "poll(2) on the packet socket failed",
                ));
            }
        }
    }
}

fn bind(fd: RawFd, ifindex: u32, ethertype: u16) -> Result<()> {
    let addr = sockaddr_ll(ifindex, ethertype);
    // SAFETY: `addr` is a live sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_ll).cast(),
            core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(open_error(errno()));
    }
    Ok(())
}

/// Maps the errno of a send or receive to an error with a hint (both backends).
pub(crate) fn io_error(e: i32, op: &'static str) -> Error {
    match e {
        libc::EAGAIN => Error::from_errno(
            e,
            op,
            "nothing to receive now, or no room to send: wait for the socket's fd, then retry",
        ),
        libc::ENETDOWN => Error::new(
            ErrorKind::Closed,
            op,
            "the interface is down: bring it up (`ip link set <interface> up`)",
        ),
        libc::ENXIO | libc::ENODEV => Error::from_errno(
            e,
            op,
            "the interface is gone: open the socket again once it is back",
        ),
        libc::EMSGSIZE => Error::new(
            ErrorKind::InvalidArgument,
            op,
            "the frame is longer than the interface's MTU allows",
        ),
        libc::ENOBUFS | libc::ENOMEM => Error::from_errno(
            e,
            op,
            "the interface's transmit queue is full: retry after the next receive",
        ),
        _ => Error::from_errno(e, op, "packet socket I/O failed"),
    }
}
