//! Test support: a veth pair with its far end in a network namespace of its own, made with
//! iproute2's `ip` and removed on drop, and the calls the packet tests make around it
//! (entering the namespace, legacy ethtool features, enabling an EVL oob port).
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for the namespace): every constructor returns
//! `Err` saying why the pair cannot be made, so a test skips visibly.
//!
//! Both ends are made in the caller's namespace, then the far one is moved: the two ends get
//! different interface indexes. (The EVL core's oob packet delivery matches a socket's bound
//! device by index alone, not by namespace: with both ends at the same index, a frame
//! arriving at the far end may be delivered to the near end's socket.)

use std::os::fd::AsRawFd;
use std::process::Command;

/// Runs `ip args…`; `Err` carries its standard error.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A veth pair: `near` in the caller's namespace, `far` in namespace `ns`, both up. Drop
/// deletes the pair (and the VLAN devices on it) and the namespace.
#[derive(Debug)]
pub struct VethPair {
    /// The namespace holding the far end.
    pub ns: String,
    /// The end in the caller's namespace.
    pub near: String,
    /// The end in `ns`.
    pub far: String,
}

impl VethPair {
    /// Makes namespace `ns` and the pair `near`/`far` (names unique to the caller).
    pub fn new(ns: String, near: String, far: String) -> Result<VethPair, String> {
        let pair = VethPair { ns, near, far };
        ip(&["netns", "add", &pair.ns])?;
        // Both ends here, then the far one moved: distinct interface indexes (see above).
        ip(&[
            "link", "add", &pair.near, "type", "veth", "peer", "name", &pair.far,
        ])?;
        ip(&["link", "set", &pair.far, "netns", &pair.ns])?;
        ip(&["link", "set", &pair.near, "up"])?;
        ip(&["-n", &pair.ns, "link", "set", &pair.far, "up"])?;
        Ok(pair)
    }

    /// Adds VLAN devices `<near>.<vid>` and `<far>.<vid>` (in the namespace), both up;
    /// returns their names.
    pub fn add_vlans(&self, vid: u16) -> Result<(String, String), String> {
        let v = vid.to_string();
        let (near, far) = (format!("{}.{v}", self.near), format!("{}.{v}", self.far));
        ip(&[
            "link", "add", "link", &self.near, "name", &near, "type", "vlan", "id", &v,
        ])?;
        ip(&[
            "-n", &self.ns, "link", "add", "link", &self.far, "name", &far, "type", "vlan", "id",
            &v,
        ])?;
        ip(&["link", "set", &near, "up"])?;
        ip(&["-n", &self.ns, "link", "set", &far, "up"])?;
        Ok((near, far))
    }

    /// Enables far device `dev` as an EVL oob port, through a sysfs mounted in the far
    /// namespace (`ip netns exec` mounts one).
    pub fn enable_far_oob_port(&self, dev: &str) -> Result<(), String> {
        let script = format!("echo 1 > /sys/class/net/{dev}/oob_port");
        ip(&["netns", "exec", &self.ns, "sh", "-c", &script])
    }

    /// Runs `f` on a thread that entered the far namespace: sockets it opens live there.
    pub fn in_far_ns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn_in_far_ns(f)
            .join()
            .expect("the thread in the far namespace panicked")
    }

    /// Starts `f` on a thread that entered the far namespace.
    pub fn spawn_in_far_ns<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let ns = self.ns.clone();
        std::thread::spawn(move || {
            enter_netns(&ns).unwrap_or_else(|e| panic!("enter namespace {ns}: {e}"));
            f()
        })
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting either end destroys the pair (and the VLAN devices on it); the near end
        // is deleted in case the far one never reached the namespace.
        let _ = ip(&["link", "del", &self.near]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

/// Moves the calling thread into the named network namespace (one `ip netns add` made).
pub fn enter_netns(ns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    // SAFETY: setns on an fd we hold open; it changes this thread's network namespace only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `ETHTOOL_SGRO` (linux/ethtool.h): generic receive offload.
pub const ETHTOOL_SGRO: u32 = 0x2c;
/// `ETHTOOL_STSO` (linux/ethtool.h): TCP segmentation offload.
pub const ETHTOOL_STSO: u32 = 0x1f;

/// Sets one legacy ethtool feature (`struct ethtool_value { u32 cmd, data }` through
/// `SIOCETHTOOL`) on `ifname` in the calling thread's namespace.
pub fn ethtool_set(ifname: &str, cmd: u32, on: bool) -> Result<(), String> {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }
    let mut val = EthtoolValue {
        cmd,
        data: on as u32,
    };
    let mut req = IfReq {
        name: [0; 16],
        data: &mut val,
        _pad: [0; 16],
    };
    if ifname.len() >= 16 {
        return Err(format!("interface name {ifname:?} too long"));
    }
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: socket(2) has no memory effects.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: SIOCETHTOOL reads an ifreq whose data points to a live ethtool_value.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL as _, &mut req as *mut IfReq) };
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(format!("SIOCETHTOOL {cmd:#x} on {ifname}: {err}"));
    }
    Ok(())
}
