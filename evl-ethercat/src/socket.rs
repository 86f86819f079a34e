//! [`PacketSocket`]: a raw `AF_PACKET` socket bound to one interface, EtherCAT frames only.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The EtherType of EtherCAT frames.
pub const ETHERTYPE_ETHERCAT: u16 = 0x88A4;

/// The largest frame received: an untagged Ethernet II frame without FCS (1514 bytes), with
/// room for a VLAN tag. Frames are never larger than ethercrab's PDU storage anyway.
pub const MAX_FRAME: usize = 1536;

/// A raw packet socket (`AF_PACKET`, `SOCK_RAW`) bound to one interface, receiving EtherType
/// 0x88A4 only and not its own outgoing frames (`PACKET_IGNORE_OUTGOING`, where the kernel has
/// it). Whole Ethernet II frames in and out. Opening one needs `CAP_NET_RAW`.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl PacketSocket {
    /// Opens a socket on `interface` (e.g. `eth0`), non-blocking when `nonblocking`.
    pub fn open(interface: &str, nonblocking: bool) -> io::Result<Self> {
        let name = CString::new(interface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(last_error(&format!("no interface {interface:?}")));
        }
        let proto = ETHERTYPE_ETHERCAT.to_be();
        let flags =
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
        // SAFETY: plain socket(2) call with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_PACKET, flags, i32::from(proto)) };
        if raw < 0 {
            return Err(last_error(
                "socket(AF_PACKET, SOCK_RAW) (needs CAP_NET_RAW)",
            ));
        }
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the size given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_error(&format!("bind to {interface:?}")));
        }
        let one: libc::c_int = 1;
        // Not seeing our own frames saves a receive per send; older kernels lack the option
        // (ethercrab ignores its own frames by source address anyway), so failure is fine.
        // SAFETY: a valid int option of the size given.
        let _ = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(PacketSocket {
            fd,
            ifindex: ifindex as i32,
        })
    }

    /// The interface's index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Sets a receive timeout for blocking receives (`SO_RCVTIMEO`).
    pub fn set_read_timeout(&self, d: std::time::Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: d.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: a valid timeval of the size given.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_error("setsockopt(SO_RCVTIMEO)"));
        }
        Ok(())
    }

    /// Sends one whole Ethernet frame; the bytes sent.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of its length.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Receives one frame into `buf`; its length (a frame longer than `buf` is cut).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
