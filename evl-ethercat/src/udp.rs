//! EtherCAT over UDP (ETG.1000.4: EtherCAT frames in UDP datagrams, port 0x88A4): wrapping
//! an ethercrab frame (Ethernet header + EtherCAT header + datagrams) into an IPv4/UDP frame
//! of EtherType 0x0800, and back. Pure byte work on caller buffers: no allocation.
//!
//! A subdevice (ESC) processes the EtherCAT part of such a frame in place and leaves the
//! Ethernet, IPv4 and UDP headers alone: the UDP checksum is 0 (not computed, allowed for
//! IPv4), the IPv4 header checksum stays valid since no header byte changes.

use crate::socket::MAX_FRAME;

/// The UDP port of EtherCAT over UDP (source and destination): 0x88A4 = 34980.
pub const ETHERCAT_UDP_PORT: u16 = 0x88A4;
/// The EtherType of the wrapped frames (IPv4).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
const ETH: usize = 14;
const IPV4: usize = 20;
const UDP: usize = 8;
/// Bytes the encapsulation adds to a frame: an IPv4 header (20, no options) and a UDP
/// header (8).
pub const UDP_OVERHEAD: usize = IPV4 + UDP;
/// The shortest frame sent: Ethernet's minimum without FCS. Shorter wrapped frames are
/// padded with zeros (the IPv4 length says where the datagram ends).
pub const MIN_WIRE: usize = 60;
/// The largest wrapped frame: [`MAX_FRAME`] plus [`UDP_OVERHEAD`].
pub const MAX_WIRE: usize = MAX_FRAME + UDP_OVERHEAD;

/// The IPv4 addresses the wrapped frames carry. Subdevices ignore them; they matter to
/// whatever else sees the frames (switches, the in-band IP stack of the hosts on the
/// segment). Defaults: source 10.88.164.1, destination the limited broadcast
/// 255.255.255.255 (an IP stack sends no ICMP error for a broadcast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpAddrs {
    /// The IPv4 source address.
    pub source: [u8; 4],
    /// The IPv4 destination address.
    pub destination: [u8; 4],
}

impl Default for UdpAddrs {
    fn default() -> Self {
        UdpAddrs {
            source: [10, 88, 164, 1],
            destination: [255; 4],
        }
    }
}

/// The internet checksum (RFC 1071) of `bytes` (even length).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for w in bytes.chunks_exact(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Why a frame could not be wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WrapError {
    /// Shorter than an Ethernet header.
    Short,
    /// Longer than [`MAX_FRAME`].
    Long,
}

/// Wraps `frame` (Ethernet header, then the EtherCAT part) into `out`: the same MAC
/// addresses, EtherType 0x0800, an IPv4 header (protocol 17, `id`, don't fragment, TTL 64,
/// its checksum), a UDP header (ports 0x88A4, checksum 0), then the EtherCAT part.
/// Returns the wrapped length, at least [`MIN_WIRE`] (zero padding after the datagram).
/// `id` is the IPv4 identification field.
pub(crate) fn wrap(
    frame: &[u8],
    addrs: &UdpAddrs,
    id: u16,
    out: &mut [u8; MAX_WIRE],
) -> Result<usize, WrapError> {
    if frame.len() < ETH {
        return Err(WrapError::Short);
    }
    if frame.len() > MAX_FRAME {
        return Err(WrapError::Long);
    }
    let payload = &frame[ETH..];
    let udp_len = (UDP + payload.len()) as u16;
    let ip_len = IPV4 as u16 + udp_len;
    out[..12].copy_from_slice(&frame[..12]);
    out[12..ETH].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip = &mut out[ETH..ETH + IPV4];
    ip[0] = 0x45; // version 4, 5 words
    ip[1] = 0; // DSCP/ECN
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&addrs.source);
    ip[16..20].copy_from_slice(&addrs.destination);
    let sum = checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let udp = &mut out[ETH + IPV4..ETH + UDP_OVERHEAD];
    udp[0..2].copy_from_slice(&ETHERCAT_UDP_PORT.to_be_bytes());
    udp[2..4].copy_from_slice(&ETHERCAT_UDP_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]); // no checksum
    let end = ETH + UDP_OVERHEAD + payload.len();
    out[ETH + UDP_OVERHEAD..end].copy_from_slice(payload);
    if end < MIN_WIRE {
        out[end..MIN_WIRE].fill(0);
        return Ok(MIN_WIRE);
    }
    Ok(end)
}

/// The EtherCAT part of a wrapped frame, as a byte range of `wire`: `None` when `wire` is
/// not an unfragmented IPv4/UDP frame to port 0x88A4 with a valid IPv4 header checksum and
/// consistent lengths (trailing Ethernet padding is allowed).
pub(crate) fn payload(wire: &[u8]) -> Option<core::ops::Range<usize>> {
    if wire.len() < ETH + UDP_OVERHEAD || wire[12..ETH] != ETHERTYPE_IPV4.to_be_bytes() {
        return None;
    }
    let ip = &wire[ETH..];
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    if ip[0] >> 4 != 4 || ihl < IPV4 || ip.len() < ihl + UDP || ip[9] != 17 {
        return None;
    }
    // More fragments, or a fragment offset: not ours to reassemble.
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3FFF != 0 || checksum(&ip[..ihl]) != 0 {
        return None;
    }
    let ip_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip_len < ihl + UDP || ip_len > ip.len() {
        return None;
    }
    let udp = &ip[ihl..];
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if u16::from_be_bytes([udp[2], udp[3]]) != ETHERCAT_UDP_PORT
        || udp_len < UDP
        || ihl + udp_len > ip_len
    {
        return None;
    }
    let start = ETH + ihl + UDP;
    Some(start..start + udp_len - UDP)
}

/// Unwraps a wrapped frame into `out` as the Ethernet frame ethercrab expects: the MAC
/// addresses of `wire`, EtherType 0x88A4, the EtherCAT part. `None` when `wire` is not
/// EtherCAT over UDP ([`payload`]) or does not fit `out`.
pub(crate) fn unwrap(wire: &[u8], out: &mut [u8]) -> Option<usize> {
    let range = payload(wire)?;
    let len = ETH + range.len();
    if len > out.len() {
        return None;
    }
    out[..12].copy_from_slice(&wire[..12]);
    out[12..ETH].copy_from_slice(&crate::socket::ETHERTYPE_ETHERCAT.to_be_bytes());
    out[ETH..len].copy_from_slice(&wire[range]);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecat_frame() -> Vec<u8> {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&[0x10; 6]);
        f.extend_from_slice(&[0x88, 0xA4]);
        // EtherCAT header (length 20, type 1), one BRD datagram of 8 bytes.
        f.extend_from_slice(&(20u16 | 0x1000).to_le_bytes());
        f.extend_from_slice(&[7, 1, 0, 0, 0x30, 0x01, 8, 0, 0, 0]);
        f.extend_from_slice(&[0xAA, 0xBB, 1, 2, 3, 4, 5, 6, 0, 0]);
        f
    }

    #[test]
    fn wraps_into_ipv4_udp_and_back() {
        let f = ecat_frame();
        let mut wire = [0u8; MAX_WIRE];
        let n = wrap(&f, &UdpAddrs::default(), 7, &mut wire).unwrap();
        assert_eq!(n, f.len() + UDP_OVERHEAD);
        assert!(n > MIN_WIRE);
        assert_eq!(&wire[..12], &f[..12]);
        assert_eq!(&wire[12..14], &[0x08, 0x00]);
        assert_eq!(wire[14], 0x45);
        assert_eq!(u16::from_be_bytes([wire[16], wire[17]]) as usize, n - 14);
        assert_eq!(&wire[18..20], &[0, 7]);
        assert_eq!(wire[23], 17);
        assert_eq!(checksum(&wire[14..34]), 0, "header checksum valid");
        assert_eq!(&wire[26..30], &[10, 88, 164, 1]);
        assert_eq!(&wire[30..34], &[255; 4]);
        assert_eq!(&wire[34..38], &[0x88, 0xA4, 0x88, 0xA4]);
        assert_eq!(u16::from_be_bytes([wire[38], wire[39]]) as usize, n - 34);
        assert_eq!(&wire[40..42], &[0, 0], "no UDP checksum");
        assert_eq!(&wire[42..n], &f[14..]);

        let mut back = [0u8; MAX_FRAME];
        // With Ethernet padding after the datagram, as a short frame arrives.
        let mut padded = wire[..n].to_vec();
        padded.resize(n.max(60) + 4, 0);
        let m = unwrap(&padded, &mut back).unwrap();
        assert_eq!(&back[..m], &f[..]);
    }

    #[test]
    fn refuses_what_is_not_ethercat_over_udp() {
        let f = ecat_frame();
        let mut wire = [0u8; MAX_WIRE];
        let n = wrap(&f, &UdpAddrs::default(), 0, &mut wire).unwrap();
        let mut out = [0u8; MAX_FRAME];
        let bad = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut w = wire[..n].to_vec();
            edit(&mut w);
            w
        };
        // Raw EtherCAT, another port, TCP, a fragment, a bad checksum, a short IP length,
        // a truncated frame.
        for w in [
            f.clone(),
            bad(&|w| w[37] = 0x01),
            bad(&|w| w[23] = 6),
            bad(&|w| w[20] |= 0x20),
            bad(&|w| w[24] ^= 1),
            bad(&|w| w[17] = 20),
            wire[..30].to_vec(),
        ] {
            assert_eq!(unwrap(&w, &mut out), None, "{w:02x?}");
        }
        assert_eq!(
            unwrap(&wire[..n], &mut out[..20]),
            None,
            "too small a buffer"
        );
        // A short frame is padded to 60 bytes, and unwraps to itself.
        let short = &f[..16];
        let m = wrap(short, &UdpAddrs::default(), 0, &mut wire).unwrap();
        assert_eq!(m, MIN_WIRE);
        assert!(wire[16 + UDP_OVERHEAD..MIN_WIRE].iter().all(|&b| b == 0));
        assert_eq!(unwrap(&wire[..m], &mut out), Some(16));
        assert_eq!(&out[..16], short);
        assert_eq!(
            wrap(&f[..10], &UdpAddrs::default(), 0, &mut wire),
            Err(WrapError::Short)
        );
        assert_eq!(
            wrap(&[0; MAX_FRAME + 1], &UdpAddrs::default(), 0, &mut wire),
            Err(WrapError::Long)
        );
    }
}
