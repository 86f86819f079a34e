//! The EVL core's out-of-band packet socket (`CONFIG_EVL_NET`, ABI 36), in pure Rust.
//!
//! ABI facts, from `include/uapi/evl/net/socket-abi.h` and `kernel/evl/net/{socket,dev}.c`,
//! `kernel/evl/net/packet/packet.c` of the patched 6.10 tree (ABI 36):
//!
//! - `socket(AF_PACKET, SOCK_RAW | SOCK_OOB, proto)`, `SOCK_OOB` = `O_OOB` = `0o10000000000`,
//!   attaches an out-of-band extension to an ordinary packet socket. The core's packet
//!   protocol takes `proto` 0, `ETH_P_ALL` or `ETH_P_IP` only (any other: `EPROTONOSUPPORT`
//!   at `socket`, `EINVAL` at `bind`).
//! - `bind` takes a `sockaddr_ll` whose `sll_ifindex` is a **VLAN device already enabled as
//!   an oob port**: the core looks it up among active ports only (`EINVAL` otherwise, and that
//!   failure leaves the socket's lock held, so the socket must not be bound again).
//! - A port is enabled by writing `1` to `/sys/class/net/<vlan>/oob_port` (default pool of
//!   128 buffers of 2048 bytes). `EVL_SOCKIOC_ACTIVATE` on the socket reaches only the port
//!   the socket is bound to, which must already be active: it cannot enable one.
//! - Ingress reaches the oob stack only when the real device diverts it (`netif_receive_skb`,
//!   `napi_gro_receive`), the frame's VLAN id is listed in
//!   `/sys/devices/virtual/evl/control/net_vlans`, and the frame inside the tag is IPv4
//!   (`netif_oob_deliver`, `evl_net_ether_accept`). Egress leaves tagged with the port's VID;
//!   on a device that is not oob-capable (veth) the core relays it to the in-band stack.
//! - `oob_ioctl(fd, EVL_SOCKIOC_SENDMSG | EVL_SOCKIOC_RECVMSG, &user_oob_msghdr)` sends or
//!   receives one frame out-of-band; the byte count comes back in `count`. `flags` takes
//!   `MSG_DONTWAIT` only; `timeout` is absolute on the monotonic clock, zero meaning none.
//! - The socket is an EVL file with `oob_poll`, which a core poll set accepts, but that
//!   handler (`poll_packet`) reads the poll head of the bound **VLAN** device's oob state,
//!   which is NULL (the state hangs off the real device): adding the fd to a poll set oopses
//!   this kernel (`evl_poll_watch` NULL dereference, seen under qemu). The fd is therefore
//!   not offered for polling; a receive waits with `timeout` instead.
//! - Pool buffers sent out-of-band over a veth travel as the far end's receive buffers: an
//!   in-band `AF_PACKET` socket there clears `skb->dev` (`packet_rcv`) and freeing the buffer
//!   then oopses in `free_skb` (its NULL check is compiled out without
//!   `CONFIG_EVL_DEBUG_NET`). Each recycled buffer also trips `WARN_ONCE` in
//!   `__build_skb_around` (frag_size 0) once per boot.

use super::host::{io_error, sockaddr_ll};
use super::{check_frame, IfName, OobUnavailable, OP_OPEN, OP_RECV, OP_SEND};
use crate::backend::evl::abi36::EvlTimespec;
use crate::backend::evl::{ioctl, sys};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::Timestamp;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `AF_OOB` (socket-abi.h): the family of the core's own protocols (not used here).
pub const AF_OOB: i32 = 46;
/// `SOCK_OOB` (socket-abi.h, = `O_OOB`, uapi/evl/fcntl.h): ask for out-of-band capabilities.
pub const SOCK_OOB: i32 = 0o10000000000;
/// `EVL_SOCKET_IOCBASE` (socket-abi.h): the ioctl type of socket requests.
pub const EVL_SOCKET_IOCBASE: u8 = 0xee;
/// `ETH_P_IP` (linux/if_ether.h).
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_ALL` (linux/if_ether.h).
pub const ETH_P_ALL: u16 = 0x0003;

/// `struct evl_netdev_activation` (socket-abi.h): the pool of a port being enabled.
///
/// ```text
/// struct evl_netdev_activation { __u64 poolsz; __u64 bufsz; };   // 16 bytes
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct EvlNetdevActivation {
    /// Buffers in the port's pool (0: 128).
    pub poolsz: u64,
    /// Bytes per buffer (0: 2048; raised to the MTU).
    pub bufsz: u64,
}

/// `struct user_oob_msghdr` (socket-abi.h): one out-of-band send or receive.
///
/// ```text
/// struct user_oob_msghdr {
///     __u64 name_ptr, iov_ptr, ctl_ptr;         //  0, 8, 16
///     __u32 namelen, iovlen, ctllen;            // 24, 28, 32
///     __s32 count;                              // 36: bytes moved (written by the core)
///     __u32 flags;                              // 40: MSG_DONTWAIT; MSG_TRUNC back on recv
///     /* 4 bytes padding */
///     struct __evl_timespec timeout;            // 48: absolute, monotonic; 0 = none
///     struct __evl_timespec timestamp;          // 64
/// };                                            // 80 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct UserOobMsghdr {
    /// `struct sockaddr_ll *` (0: the bound port).
    pub name_ptr: u64,
    /// `struct iovec *`.
    pub iov_ptr: u64,
    /// Control data (unused by the packet protocol).
    pub ctl_ptr: u64,
    /// Size of the address at `name_ptr`.
    pub namelen: u32,
    /// Number of iovecs at `iov_ptr`.
    pub iovlen: u32,
    /// Size of the control data.
    pub ctllen: u32,
    /// Bytes sent or received, written by the core.
    pub count: i32,
    /// `MSG_DONTWAIT` in; `MSG_TRUNC` out on a receive that cut the frame.
    pub flags: u32,
    /// Absolute timeout on the monotonic clock; zero: wait without limit.
    pub timeout: EvlTimespec,
    /// Unused by the packet protocol.
    pub timestamp: EvlTimespec,
}

/// `EVL_SOCKIOC_ACTIVATE` = `_IOW(0xee, 2, struct evl_netdev_activation)` (in-band ioctl).
pub const EVL_SOCKIOC_ACTIVATE: u32 = ioctl::iow(
    EVL_SOCKET_IOCBASE,
    2,
    core::mem::size_of::<EvlNetdevActivation>(),
);
/// `EVL_SOCKIOC_DEACTIVATE` = `_IO(0xee, 3)` (in-band ioctl).
pub const EVL_SOCKIOC_DEACTIVATE: u32 = ioctl::io(EVL_SOCKET_IOCBASE, 3);
/// `EVL_SOCKIOC_SENDMSG` = `_IOW(0xee, 4, struct user_oob_msghdr)` (oob ioctl).
pub const EVL_SOCKIOC_SENDMSG: u32 =
    ioctl::iow(EVL_SOCKET_IOCBASE, 4, core::mem::size_of::<UserOobMsghdr>());
/// `EVL_SOCKIOC_RECVMSG` = `_IOWR(0xee, 5, struct user_oob_msghdr)` (oob ioctl).
pub const EVL_SOCKIOC_RECVMSG: u32 =
    ioctl::iowr(EVL_SOCKET_IOCBASE, 5, core::mem::size_of::<UserOobMsghdr>());
/// `EVL_SOCKIOC_SETRECVSZ` = `_IOW(0xee, 6, int)` (in-band ioctl).
pub const EVL_SOCKIOC_SETRECVSZ: u32 =
    ioctl::iow(EVL_SOCKET_IOCBASE, 6, core::mem::size_of::<i32>());
/// `EVL_SOCKIOC_SETSENDSZ` = `_IOW(0xee, 7, int)` (in-band ioctl).
pub const EVL_SOCKIOC_SETSENDSZ: u32 =
    ioctl::iow(EVL_SOCKET_IOCBASE, 7, core::mem::size_of::<i32>());

const _: () = assert!(core::mem::size_of::<UserOobMsghdr>() == 80);
const _: () = assert!(core::mem::offset_of!(UserOobMsghdr, flags) == 40);
const _: () = assert!(core::mem::offset_of!(UserOobMsghdr, timeout) == 48);

/// `/sys/devices/virtual/evl/control/net_vlans`: the VLAN ids whose ingress goes to the oob
/// stack; present only with `CONFIG_EVL_NET`.
const NET_VLANS: &str = "/sys/devices/virtual/evl/control/net_vlans";

/// A bound out-of-band packet socket on an enabled port.
#[derive(Debug)]
pub(crate) struct OobSocket {
    fd: OwnedFd,
}

/// Why the oob path is not possible for (`name`, `ethertype`), or `Ok` with the port set up:
/// enabled as an oob port, its VLAN id diverted. Changes system settings (sysfs) as needed.
pub(crate) fn prepare_port(
    name: &IfName,
    ifindex: u32,
    ethertype: u16,
) -> core::result::Result<(), OobUnavailable> {
    if ethertype != ETH_P_IP && ethertype != ETH_P_ALL {
        return Err(OobUnavailable::EtherTypeNotCarried);
    }
    if !std::path::Path::new(NET_VLANS).exists() {
        return Err(OobUnavailable::NoOobNetworking);
    }
    let ifname = name.as_str();
    let vid = vlan_id(ifname).ok_or(OobUnavailable::NotAVlanDevice)?;
    // sysfs shows the devices of the namespace it was mounted in: touch the port only when
    // the device there is ours (same index), else the port must have been enabled from a
    // mount of the caller's namespace (`ip netns exec`), which the bind checks.
    let dir = format!("/sys/class/net/{ifname}");
    let same = std::fs::read_to_string(format!("{dir}/ifindex"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        == Some(ifindex);
    if same {
        let port = format!("{dir}/oob_port");
        match std::fs::read_to_string(&port) {
            Ok(s) if s.trim() == "1" => {}
            Ok(_) => std::fs::write(&port, "1").map_err(|_| OobUnavailable::PortNotEnabled)?,
            Err(_) => return Err(OobUnavailable::NoOobNetworking),
        }
    }
    let vlans = std::fs::read_to_string(NET_VLANS).map_err(|_| OobUnavailable::VlanNotDiverted)?;
    if !in_id_list(vlans.trim(), vid) {
        let new = if vlans.trim().is_empty() {
            vid.to_string()
        } else {
            format!("{},{vid}", vlans.trim())
        };
        std::fs::write(NET_VLANS, new).map_err(|_| OobUnavailable::VlanNotDiverted)?;
    }
    Ok(())
}

/// The VLAN id of VLAN device `ifname`, from `/proc/thread-self/net/vlan/<ifname>`
/// ("<name>  VID: <id> ...": the calling thread's namespace, which `/proc/net` is not).
fn vlan_id(ifname: &str) -> Option<u16> {
    let s = std::fs::read_to_string(format!("/proc/thread-self/net/vlan/{ifname}")).ok()?;
    let rest = &s[s.find("VID:")? + 4..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Whether `id` is in a kernel id list such as `"5,100-110"` (`%*pbl`).
pub(crate) fn in_id_list(list: &str, id: u16) -> bool {
    list.split(',').filter(|p| !p.is_empty()).any(|part| {
        let mut it = part.splitn(2, '-');
        let lo = it.next().and_then(|v| v.trim().parse::<u16>().ok());
        let hi = it.next().and_then(|v| v.trim().parse::<u16>().ok());
        match (lo, hi) {
            (Some(lo), Some(hi)) => (lo..=hi).contains(&id),
            (Some(lo), None) => lo == id,
            _ => false,
        }
    })
}

impl OobSocket {
    /// Opens an oob packet socket for `ethertype` bound to the enabled port `ifindex` (see
    /// [`prepare_port`], which must have succeeded).
    pub(crate) fn open(
        ifindex: u32,
        ethertype: u16,
    ) -> core::result::Result<OobSocket, (OobUnavailable, Error)> {
        // Protocol 0 at creation, the real one at bind: the core's bind leaves its status
        // unset when the protocol does not change (packet.c, bind_packet_socket), so the
        // socket is created without one and the bind sets it.
        // SAFETY: socket(2) has no memory effects.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | SOCK_OOB | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            let e = errno();
            let why = match e {
                libc::EPERM | libc::EACCES => {
                    return Err((OobUnavailable::NoOobNetworking, super::host::open_error(e)))
                }
                libc::EINVAL => OobUnavailable::NoOobNetworking, // SOCK_OOB unknown: no Dovetail net
                _ => OobUnavailable::NoOobNetworking,
            };
            return Err((why, Error::from_errno(e, OP_OPEN, why.hint())));
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let addr = sockaddr_ll(ifindex, ethertype);
        // SAFETY: `addr` is a live sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            let e = errno();
            let why = OobUnavailable::PortNotEnabled;
            return Err((why, Error::from_errno(e, OP_OPEN, why.hint())));
        }
        Ok(OobSocket { fd })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one frame out-of-band without waiting for a buffer (`WouldBlock` when the port's
    /// pool is empty).
    pub(crate) fn send(&self, frame: &[u8]) -> Result<usize> {
        check_frame(frame, OP_SEND)?;
        let iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        let mut msg = UserOobMsghdr {
            iov_ptr: &iov as *const libc::iovec as u64,
            iovlen: 1,
            flags: libc::MSG_DONTWAIT as u32,
            ..UserOobMsghdr::default()
        };
        self.msg(EVL_SOCKIOC_SENDMSG, &mut msg, OP_SEND)
    }

    /// Receives one frame out-of-band, without waiting when `deadline` is `Some(Timestamp::ZERO)`
    /// (`WouldBlock` if none is queued), else until `deadline` (`None`: no limit).
    pub(crate) fn recv(&self, buf: &mut [u8], deadline: Option<Timestamp>) -> Result<usize> {
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg = UserOobMsghdr {
            iov_ptr: &iov as *const libc::iovec as u64,
            iovlen: 1,
            ..UserOobMsghdr::default()
        };
        match deadline {
            Some(Timestamp::ZERO) => msg.flags = libc::MSG_DONTWAIT as u32,
            Some(d) => {
                // Zero means "no limit" to the core: the epoch itself is never a deadline.
                let ns = d.as_nanos().max(1);
                msg.timeout =
                    EvlTimespec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64);
            }
            None => {}
        }
        self.msg(EVL_SOCKIOC_RECVMSG, &mut msg, OP_RECV)
    }

    fn msg(&self, request: u32, msg: &mut UserOobMsghdr, op: &'static str) -> Result<usize> {
        if crate::backend::evl::thread::current().is_none() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                op,
                crate::thread::NOT_ATTACHED_HINT,
            ));
        }
        loop {
            // SAFETY: SENDMSG/RECVMSG read and write one UserOobMsghdr at the address passed
            // (live and writable for the call); the core follows `iov_ptr` to one iovec on
            // our stack describing a slice that is live (and writable for RECVMSG) for the
            // call. `name_ptr` and `ctl_ptr` are 0.
            match unsafe { sys::oob_ioctl(self.fd(), request, msg as *mut UserOobMsghdr as usize) }
            {
                Ok(_) => return Ok(usize::try_from(msg.count).unwrap_or(0)),
                Err(libc::EINTR) => continue,
                Err(libc::ETIMEDOUT) => {
                    return Err(Error::new(
                        ErrorKind::TimedOut,
                        op,
                        "no frame came before the deadline",
                    ))
                }
                Err(e) => return Err(io_error(e, op)),
            }
        }
    }
}
