//! Types and helpers the packet socket's front end and both backends share: the operation
//! names, the reasons the out-of-band stack cannot carry a socket, interface names, frame and
//! address checks, and the errno mapping of sends and receives.

use crate::error::{Error, ErrorKind, Result};

pub(crate) const OP_OPEN: &str = "PacketSocket::open";
pub(crate) const OP_SEND: &str = "PacketSocket::send";
pub(crate) const OP_RECV: &str = "PacketSocket::recv";

/// Shortest frame a send takes: destination, source, EtherType.
pub const ETH_HEADER_LEN: usize = 14;

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
    pub(crate) fn new(name: &str) -> Result<IfName> {
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
