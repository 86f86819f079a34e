//! Test fixture: a veth pair with one end in a network namespace of its own, made with
//! `ip` (iproute2) and removed on drop. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for the
//! namespace); [`VethPair::new`] says why it cannot be made, so a test skips visibly.

#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::process::Command;

/// EtherCAT's EtherType.
pub const ETHERCAT: u16 = 0x88A4;

/// Prints a SKIPPED line past libtest's output capture, so it shows in every run.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (needs root and iproute2): {why}"
    );
}

/// A veth pair: `near` in the caller's namespace, `far` in namespace `ns`. Both up.
pub struct VethPair {
    pub near: String,
    pub far: String,
    pub ns: String,
    vlans: bool,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
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

impl VethPair {
    /// Makes the pair; `tag` keeps names unique between the tests of one binary.
    pub fn new(tag: &str) -> Result<VethPair, String> {
        // SAFETY: geteuid has no memory effects.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let id = std::process::id() % 100_000;
        let ns = format!("evlpkt{tag}{id}");
        let near = format!("pn{tag}{id}");
        let far = format!("pf{tag}{id}");
        ip(&["netns", "add", &ns])?;
        let pair = VethPair {
            near: near.clone(),
            far: far.clone(),
            ns: ns.clone(),
            vlans: false,
        };
        ip(&["link", "add", &near, "type", "veth", "peer", "name", &far])?;
        ip(&["link", "set", &far, "netns", &ns])?;
        ip(&["link", "set", &near, "up"])?;
        ip(&["-n", &ns, "link", "set", &far, "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(pair)
    }

    /// Adds VLAN devices `<near>.<vid>` and `<far>.<vid>` (in the namespace), both up;
    /// returns their names.
    pub fn add_vlans(&mut self, vid: u16) -> Result<(String, String), String> {
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
        self.vlans = true;
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
        let path = format!("/run/netns/{}", self.ns);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns on a namespace fd we hold; it changes only this thread's netns.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes the other (and the VLANs on both).
        let _ = ip(&["link", "del", &self.near]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

/// `ETHTOOL_SGRO`, `ETHTOOL_STSO` (linux/ethtool.h).
pub const ETHTOOL_SGRO: u32 = 0x2c;
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

/// A frame: broadcast destination, source `02:00:00:00:00:<src>`, `ethertype`, then
/// `payload` padded with zeros to the 60-byte Ethernet minimum.
pub fn frame(src: u8, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, src]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}
