//! [`PacketSocket`]: raw Ethernet frames of one EtherType on one interface (fieldbus frame
//! I/O, e.g. EtherCAT's `0x88A4`).
//!
//! Two frame paths, one API:
//!
//! - **in-band** ([`FramePath::InBand`]): an ordinary `AF_PACKET`/`SOCK_RAW` socket,
//!   non-blocking, bound to the interface and the EtherType. The host backend always uses it.
//!   Its fd ([`PacketSocket::poll_fd`]) polls readable when a frame is queued; an epoll-based
//!   reactor (the host backend's) watches it like any fd.
//! - **out-of-band** ([`FramePath::OutOfBand`], EVL backend): the core's packet socket
//!   (`socket(AF_PACKET, SOCK_RAW | SOCK_OOB, ..)`, `CONFIG_EVL_NET`). Sends and receives are
//!   `oob_ioctl` calls with a message header on the caller's stack: no allocation, no stage
//!   switch, from threads attached to the core only. A receive waits in the core until a
//!   deadline ([`PacketSocket::recv_until`]); there is no fd to poll (below).
//!
//! ## What the EVL core's oob stack carries (ABI 36, 6.10 patch)
//!
//! Read from the kernel sources (`kernel/evl/net`) and tried on that kernel under qemu; the
//! ABI details are in the EVL module's docs. The out-of-band path exists only for traffic
//! the core diverts: on a **VLAN device** enabled as an oob port, frames of protocol
//! **`ETH_P_IP`** (or a socket for `ETH_P_ALL`), whose VLAN id is listed in
//! `/sys/devices/virtual/evl/control/net_vlans`, received through a driver path that calls
//! `netif_receive_skb` or `napi_gro_receive`. In particular:
//!
//! - **EtherCAT (`0x88A4`) is not carried**: the core's packet protocol refuses any EtherType
//!   but `ETH_P_IP`/`ETH_P_ALL` (`find_packet_proto`), and its ingress dispatcher diverts
//!   IPv4-in-VLAN only (`netif_oob_deliver`, `evl_net_ether_accept`).
//! - **A veth** is not oob-capable: oob sends are relayed to the in-band stack (functional,
//!   not real-time), and ingress is diverted only when the veth runs its NAPI path (GRO on
//!   at the receiver, TSO off at the sender, or an XDP program), since its default path
//!   (`netif_rx`) bypasses the diversion hook. With that, IPv4-in-VLAN frames cross a veth
//!   out-of-band at both ends, with no stage switch (tests/evl_packet.rs).
//! - **Kernel bugs met** (ABI 36 patch, `CONFIG_EVL_DEBUG_NET` off): an oob socket in a core
//!   poll set oopses (`poll_packet` reads the oob state of the bound VLAN device, which is
//!   NULL: the state lives on the real device), hence no [`PacketSocket::poll_fd`] on that
//!   path; and a frame sent out-of-band over a veth oopses the kernel when an **in-band**
//!   `AF_PACKET` socket on the far end receives it (`packet_rcv` clears `skb->dev`, then
//!   freeing the pool buffer dereferences it in `free_skb`): over a veth, both ends must be
//!   oob sockets, or neither.
//!
//! So [`PacketSocket::open`] on the EVL backend takes the out-of-band path when the core can
//! carry the traffic and **falls back to the in-band socket** otherwise: the fall back is
//! counted ([`inband_fallbacks`]) and its reason kept ([`PacketSocket::fallback_reason`]).
//! On that path an attached caller is demoted to in-band by its sends and receives (counted
//! by the core as in-band switches), and the fd is not an EVL file: a core poll set refuses
//! it, so an attached caller waits with [`PacketSocket::recv_until`] (a `poll(2)`), or an
//! in-band thread does the frame I/O. [`PacketSocket::open_oob`] never falls back: it fails
//! with the reason.
//!
//! Opening may allocate and changes sysfs settings on EVL (it enables the port and lists its
//! VLAN id); [`PacketSocket::send`] and [`PacketSocket::recv`] allocate nothing and make one
//! system call.

mod evl;
mod host;

pub use evl::{
    EvlNetdevActivation, UserOobMsghdr, AF_OOB, EVL_SOCKET_IOCBASE, EVL_SOCKIOC_ACTIVATE,
    EVL_SOCKIOC_DEACTIVATE, EVL_SOCKIOC_RECVMSG, EVL_SOCKIOC_SENDMSG, EVL_SOCKIOC_SETRECVSZ,
    EVL_SOCKIOC_SETSENDSZ, SOCK_OOB,
};

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::time::Timestamp;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};

const OP_OPEN: &str = "PacketSocket::open";
const OP_SEND: &str = "PacketSocket::send";
const OP_RECV: &str = "PacketSocket::recv";

/// Shortest frame a send takes: destination, source, EtherType.
pub const ETH_HEADER_LEN: usize = 14;

static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many [`PacketSocket::open`] calls on the EVL backend fell back to the in-band socket
/// because the core's oob stack cannot carry their traffic, process-wide.
pub fn inband_fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// The path a socket's frames take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePath {
    /// The core's out-of-band packet socket: no stage switch (EVL backend).
    OutOfBand,
    /// An ordinary `AF_PACKET` socket: the in-band network stack.
    InBand,
}

/// Why the EVL core's out-of-band stack cannot carry a socket's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OobUnavailable {
    /// The host backend has no out-of-band stack.
    HostBackend,
    /// This kernel has no out-of-band networking (`CONFIG_EVL_NET`).
    NoOobNetworking,
    /// The core's packet protocol carries `ETH_P_IP` (and `ETH_P_ALL` sockets) only.
    EtherTypeNotCarried,
    /// Oob ports are VLAN devices; the interface is not one.
    NotAVlanDevice,
    /// The interface could not be enabled as an oob port.
    PortNotEnabled,
    /// The interface's VLAN id could not be listed for diversion.
    VlanNotDiverted,
}

impl OobUnavailable {
    /// What the reason means and what to do.
    pub const fn hint(self) -> &'static str {
        match self {
            OobUnavailable::HostBackend => "the host backend has no out-of-band network stack",
            OobUnavailable::NoOobNetworking => {
                "this kernel has no EVL out-of-band networking: build it with CONFIG_EVL_NET=y \
                 (with NET_OOB, NET_SCH_OOB and VLAN_8021Q)"
            }
            OobUnavailable::EtherTypeNotCarried => {
                "the EVL core's packet protocol (ABI 36) carries ETH_P_IP (0x0800) frames only, \
                 or all frames to an ETH_P_ALL socket, and diverts IPv4-in-VLAN ingress only: \
                 other EtherTypes (EtherCAT 0x88A4) go through the in-band socket"
            }
            OobUnavailable::NotAVlanDevice => {
                "EVL oob ports are VLAN devices: create one on the NIC \
                 (`ip link add link <nic> name <nic>.<vid> type vlan id <vid>`) and open that"
            }
            OobUnavailable::PortNotEnabled => {
                "the interface is not an oob port and could not be made one: run as root, or \
                 `echo 1 > /sys/class/net/<vlan>/oob_port` first"
            }
            OobUnavailable::VlanNotDiverted => {
                "the VLAN id could not be listed for diversion: run as root, or add it to \
                 /sys/devices/virtual/evl/control/net_vlans first"
            }
        }
    }
}

impl core::fmt::Display for OobUnavailable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.hint())
    }
}

/// An interface name, NUL-terminated, checked once at open (`IFNAMSIZ` = 16 with the NUL).
pub(crate) struct IfName {
    buf: [u8; libc::IFNAMSIZ],
    len: usize,
}

impl IfName {
    fn new(name: &str) -> Result<IfName> {
        if name.is_empty()
            || name.len() >= libc::IFNAMSIZ
            || name
                .bytes()
                .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP_OPEN,
                "an interface name has 1 to 15 bytes, without '/', NUL or blanks",
            ));
        }
        let mut buf = [0u8; libc::IFNAMSIZ];
        buf[..name.len()].copy_from_slice(name.as_bytes());
        Ok(IfName {
            buf,
            len: name.len(),
        })
    }

    pub(crate) fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }

    pub(crate) fn as_str(&self) -> &str {
        // The bytes came from a &str and were cut at its end.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

pub(crate) fn check_frame(frame: &[u8], op: &'static str) -> Result<()> {
    if frame.len() < ETH_HEADER_LEN {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            op,
            "a frame starts with a 14-byte Ethernet header (destination, source, EtherType)",
        ));
    }
    Ok(())
}

#[derive(Debug)]
enum Inner {
    InBand(host::RawSocket),
    Oob(evl::OobSocket),
}

/// A raw Ethernet socket for one EtherType on one interface.
///
/// Frames are passed whole, Ethernet header included (no FCS). [`send`](Self::send) and
/// [`recv`](Self::recv) never wait: `WouldBlock` says to wait for the fd
/// ([`poll_fd`](Self::poll_fd), in-band path: readable when a frame is queued) or to call
/// [`recv_until`](Self::recv_until). Usable through `&self` from any thread; on the
/// out-of-band path only from threads attached to the core.
#[derive(Debug)]
pub struct PacketSocket {
    inner: Inner,
    ifindex: u32,
    ethertype: u16,
    fallback: Option<OobUnavailable>,
}

impl PacketSocket {
    /// A socket for `ethertype` frames (host byte order, e.g. `0x88A4`) on `interface`.
    ///
    /// On the EVL backend, the core's out-of-band socket when it can carry the traffic
    /// (setting the port up: oob port on, VLAN id diverted), else the in-band socket,
    /// counted in [`inband_fallbacks`] with the reason in [`fallback_reason`](Self::fallback_reason).
    /// On the host backend, the in-band socket.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for a bad name; [`ErrorKind::NotFound`] when no
    /// such interface exists in the caller's network namespace;
    /// [`ErrorKind::PermissionDenied`] without `CAP_NET_RAW`.
    pub fn open(interface: &str, ethertype: u16) -> Result<PacketSocket> {
        let name = IfName::new(interface)?;
        let ifindex = host::ifindex(&name)?;
        if backend::current()? == Backend::Evl {
            match Self::oob(&name, ifindex, ethertype) {
                Ok(s) => return Ok(s),
                Err((why, e))
                    if e.kind() == ErrorKind::PermissionDenied
                        && why == OobUnavailable::NoOobNetworking =>
                {
                    return Err(e)
                }
                Err((why, _)) => {
                    let mut s = Self::inband(ifindex, ethertype)?;
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    s.fallback = Some(why);
                    return Ok(s);
                }
            }
        }
        let mut s = Self::inband(ifindex, ethertype)?;
        s.fallback = Some(OobUnavailable::HostBackend);
        Ok(s)
    }

    /// The core's out-of-band socket, or the reason it cannot be had (never falls back).
    ///
    /// Errors: as [`open`](Self::open); [`ErrorKind::Unsupported`] on the host backend or
    /// when the core cannot carry the traffic (the hint says why: see [`OobUnavailable`]).
    pub fn open_oob(interface: &str, ethertype: u16) -> Result<PacketSocket> {
        const OP: &str = "PacketSocket::open_oob";
        let name = IfName::new(interface)?;
        let ifindex = host::ifindex(&name)?;
        if backend::current()? != Backend::Evl {
            return Err(Error::new(
                ErrorKind::Unsupported,
                OP,
                OobUnavailable::HostBackend.hint(),
            ));
        }
        Self::oob(&name, ifindex, ethertype).map_err(|(why, e)| match e.kind() {
            ErrorKind::PermissionDenied => e,
            _ => Error::new(ErrorKind::Unsupported, OP, why.hint()),
        })
    }

    /// The in-band socket on any backend (e.g. for the non-real-time side of a test).
    ///
    /// Errors: as [`open`](Self::open).
    pub fn open_inband(interface: &str, ethertype: u16) -> Result<PacketSocket> {
        let name = IfName::new(interface)?;
        let ifindex = host::ifindex(&name)?;
        Self::inband(ifindex, ethertype)
    }

    fn inband(ifindex: u32, ethertype: u16) -> Result<PacketSocket> {
        Ok(PacketSocket {
            inner: Inner::InBand(host::RawSocket::open(ifindex, ethertype)?),
            ifindex,
            ethertype,
            fallback: None,
        })
    }

    fn oob(
        name: &IfName,
        ifindex: u32,
        ethertype: u16,
    ) -> core::result::Result<PacketSocket, (OobUnavailable, Error)> {
        evl::prepare_port(name, ifindex, ethertype)
            .map_err(|why| (why, Error::new(ErrorKind::Unsupported, OP_OPEN, why.hint())))?;
        Ok(PacketSocket {
            inner: Inner::Oob(evl::OobSocket::open(ifindex, ethertype)?),
            ifindex,
            ethertype,
            fallback: None,
        })
    }

    /// Sends one frame (Ethernet header included); returns its length. Never waits:
    /// [`ErrorKind::WouldBlock`] when there is no room now.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for a frame shorter than [`ETH_HEADER_LEN`] or
    /// longer than the MTU allows; [`ErrorKind::Closed`] when the interface is down;
    /// [`ErrorKind::PermissionDenied`] on the out-of-band path from a thread not attached.
    pub fn send(&self, frame: &[u8]) -> Result<usize> {
        match &self.inner {
            Inner::InBand(s) => s.send(frame),
            Inner::Oob(s) => s.send(frame),
        }
    }

    /// Receives one frame into `buf`; returns its length (cut to `buf.len()` if longer).
    /// Never waits: [`ErrorKind::WouldBlock`] when no frame is queued.
    ///
    /// Errors: as [`send`](Self::send).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        match &self.inner {
            Inner::InBand(s) => s.recv(buf),
            Inner::Oob(s) => s.recv(buf, Some(Timestamp::ZERO)),
        }
    }

    /// Receives one frame, waiting until `deadline` on the monotonic clock (`None`: no
    /// limit) for one to come: [`ErrorKind::TimedOut`] then. On the out-of-band path the wait
    /// is the core's, out-of-band; on the in-band one it is `poll(2)`.
    pub fn recv_until(&self, buf: &mut [u8], deadline: Option<Timestamp>) -> Result<usize> {
        match &self.inner {
            Inner::InBand(s) => s.recv_until(buf, deadline),
            Inner::Oob(s) => s.recv(buf, deadline),
        }
    }

    /// The path this socket's frames take.
    pub fn path(&self) -> FramePath {
        match self.inner {
            Inner::InBand(_) => FramePath::InBand,
            Inner::Oob(_) => FramePath::OutOfBand,
        }
    }

    /// Why the socket is not on the out-of-band path (`None` when it is, or when it was
    /// opened with [`open_inband`](Self::open_inband)).
    pub fn fallback_reason(&self) -> Option<OobUnavailable> {
        self.fallback
    }

    /// The fd to wait on for readability, on the in-band path: an ordinary socket (an
    /// epoll-based reactor watches it; a core poll set refuses it). `None` on the
    /// out-of-band path: the socket is an EVL file with an `oob_poll` handler, but this
    /// kernel's handler oopses on it (see the module docs), so it is not offered for polling;
    /// wait with [`recv_until`](Self::recv_until) instead.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.inner {
            // SAFETY: the fd is owned by `s` and stays open as long as `self` is borrowed.
            Inner::InBand(s) => Some(unsafe { BorrowedFd::borrow_raw(s.fd()) }),
            Inner::Oob(_) => None,
        }
    }

    /// The interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The EtherType, host byte order.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(IfName::new("").is_err());
        assert!(IfName::new("0123456789abcdef").is_err());
        assert!(IfName::new("a/b").is_err());
        assert_eq!(IfName::new("veth0.100").unwrap().as_str(), "veth0.100");
        assert!(evl::in_id_list("5,100-110", 105));
        assert!(evl::in_id_list("5,100-110", 5));
        assert!(!evl::in_id_list("5,100-110", 99));
        assert!(!evl::in_id_list("", 1));
    }

    #[test]
    fn abi_numbers() {
        assert_eq!(EVL_SOCKIOC_ACTIVATE, 0x4010_ee02);
        assert_eq!(EVL_SOCKIOC_DEACTIVATE, 0x0000_ee03);
        assert_eq!(EVL_SOCKIOC_SENDMSG, 0x4050_ee04);
        assert_eq!(EVL_SOCKIOC_RECVMSG, 0xc050_ee05);
        assert_eq!(EVL_SOCKIOC_SETRECVSZ, 0x4004_ee06);
        assert_eq!(SOCK_OOB, 0x4000_0000);
    }
}
