//! Test fixture: a veth pair with one end in a network namespace of its own
//! (`evl-netns-fixture`), and EtherCAT frames to send over it. Needs root (CAP_NET_ADMIN,
//! CAP_SYS_ADMIN for the namespace); [`veth_pair`] says why it cannot be made, so a test
//! skips visibly.

#![allow(dead_code)]

use evl_netns_fixture::{ip, VethPair};

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

/// Makes a veth pair, `near` in the caller's namespace and `far` in namespace `ns` (with its
/// loopback up), both up; `tag` keeps names unique between the tests of one binary.
pub fn veth_pair(tag: &str) -> Result<VethPair, String> {
    // SAFETY: geteuid has no memory effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    let id = std::process::id() % 100_000;
    let pair = VethPair::new(
        format!("evlpkt{tag}{id}"),
        format!("pn{tag}{id}"),
        format!("pf{tag}{id}"),
    )?;
    ip(&["-n", &pair.ns, "link", "set", "lo", "up"])?;
    Ok(pair)
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
