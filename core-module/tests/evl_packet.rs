//! `PacketSocket` on the real EVL core, over a veth pair whose far end sits in a network
//! namespace made by the test (needs root and a kernel with `CONFIG_EVL_NET`, `CONFIG_VETH`,
//! `CONFIG_VLAN_8021Q`). Without `/dev/evl/control`, or without root, every test prints a
//! SKIPPED line and returns.
//!
//! What the core's oob stack carries (ABI 36) decides the two cases: EtherCAT frames
//! (0x88A4) are refused by its packet protocol, so `open` falls back to the in-band socket
//! (counted) and frames cross that way; IPv4 frames on a VLAN port with its id diverted cross
//! out-of-band, with no stage switch of the attached thread.

mod evl_only;
mod netns;

use evl_core::packet::{self, FramePath, OobUnavailable, PacketSocket};
use evl_core::{Clock, ErrorKind, SchedPolicy, Thread, ThreadConfig, Timestamp};
use evl_netns_fixture::{ethtool_set, ETHTOOL_SGRO, ETHTOOL_STSO};
use netns::{frame, skipped, veth_pair, ETHERCAT};
use std::io::Write;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const ETH_P_IP: u16 = 0x0800;
const ROUNDS: u8 = 10;

fn soon(ms: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(ms))
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A SCHED_FIFO attachment: a weak (SCHED_OTHER) thread goes back in-band after each
/// out-of-band call by design, so only a real-time one measures stage switches.
fn rt(name: &str) -> ThreadConfig<'_> {
    ThreadConfig::new(name).policy(SchedPolicy::Fifo(10))
}

fn inband_switches() -> u64 {
    Thread::current_core_stats()
        .unwrap()
        .expect("attached")
        .inband_switches
}

#[test]
fn evl_ethercat_falls_back_to_the_inband_socket_and_frames_cross() {
    if !evl_only::setup() {
        return;
    }
    let pair = match veth_pair("e") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let near_name = pair.near.clone();
    let far_name = pair.far.clone();
    let far = pair.in_far_ns(move || PacketSocket::open_inband(&far_name, ETHERCAT).unwrap());
    // The far end echoes each frame back with its source byte changed.
    let echo = pair.spawn_in_far_ns(move || {
        let mut buf = [0u8; 1514];
        for _ in 0..ROUNDS {
            let n = far.recv_until(&mut buf, Some(soon(10_000))).unwrap();
            buf[11] = 2;
            far.send(&buf[..n]).unwrap();
        }
    });
    std::thread::spawn(move || {
        let _t = Thread::attach(rt(&format!("pkt-e-{}", std::process::id()))).unwrap();
        let before = packet::inband_fallbacks();
        let s = PacketSocket::open(&near_name, ETHERCAT).unwrap();
        assert_eq!(s.path(), FramePath::InBand);
        assert_eq!(
            s.fallback_reason(),
            Some(OobUnavailable::EtherTypeNotCarried)
        );
        assert_eq!(packet::inband_fallbacks(), before + 1);
        assert!(s.poll_fd().is_some());
        let e = PacketSocket::open_oob(&near_name, ETHERCAT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.hint().contains("0x88A4"), "{e}");
        let e = PacketSocket::open_oob(&near_name, ETH_P_IP).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.hint().contains("VLAN"), "{e}");

        let isw0 = inband_switches();
        let mut buf = [0u8; 1514];
        for i in 0..ROUNDS {
            let f = frame(1, ETHERCAT, &[0x0e, 0x10, i, 0xa5]);
            assert_eq!(s.send(&f).unwrap(), f.len());
            let n = s.recv_until(&mut buf, Some(soon(10_000))).unwrap();
            let mut want = f.clone();
            want[11] = 2;
            assert_eq!(&buf[..n], &want[..], "round {i}");
        }
        let isw = inband_switches() - isw0;
        report(&format!(
            "evl packet: 0x88A4 over veth: path InBand (fallback: EtherTypeNotCarried), \
             {ROUNDS} round trips, {isw} in-band switches of the attached thread"
        ));
    })
    .join()
    .unwrap();
    echo.join().unwrap();
}

#[test]
fn evl_ipv4_on_a_vlan_port_crosses_out_of_band_with_no_stage_switch() {
    if !evl_only::setup() {
        return;
    }
    let pair = match veth_pair("o") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let (near_vlan, far_vlan) = pair.add_vlans(100).unwrap();
    // The veth's default receive path (netif_rx) bypasses the core's diversion hook; its
    // NAPI path (GRO on at the receiver, TSO off at the sender) goes through it. Both ends
    // are oob sockets: a frame the core sent, taken by an in-band AF_PACKET socket across
    // the veth, oopses this kernel when freed (see the packet module's docs).
    ethtool_set(&pair.near, ETHTOOL_SGRO, true).unwrap();
    ethtool_set(&pair.near, ETHTOOL_STSO, false).unwrap();
    let far_name = pair.far.clone();
    pair.in_far_ns(move || {
        ethtool_set(&far_name, ETHTOOL_SGRO, true).unwrap();
        ethtool_set(&far_name, ETHTOOL_STSO, false).unwrap();
    });
    pair.enable_far_oob_port(&far_vlan).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let fv = far_vlan.clone();
    let echo = pair.spawn_in_far_ns(move || {
        let _t = Thread::attach(rt(&format!("pkt-of-{}", std::process::id()))).unwrap();
        let far = PacketSocket::open_oob(&fv, ETH_P_IP).unwrap();
        assert_eq!(far.path(), FramePath::OutOfBand);
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 1514];
        let isw0 = inband_switches();
        for _ in 0..=ROUNDS {
            let n = far.recv_until(&mut buf, Some(soon(10_000))).unwrap();
            buf[11] = 2;
            far.send(&buf[..n]).unwrap();
        }
        inband_switches() - isw0
    });
    ready_rx.recv().unwrap();
    std::thread::spawn(move || {
        let _t = Thread::attach(rt(&format!("pkt-on-{}", std::process::id()))).unwrap();
        let s = PacketSocket::open_oob(&near_vlan, ETH_P_IP).unwrap();
        assert_eq!(s.path(), FramePath::OutOfBand);
        assert_eq!(s.fallback_reason(), None);
        let mut buf = [0u8; 1514];
        let mut got = [[0u8; 60]; ROUNDS as usize];
        let mut lens = [0usize; ROUNDS as usize];
        let mut frames = [[0u8; 60]; ROUNDS as usize];
        for (i, f) in frames.iter_mut().enumerate() {
            f.copy_from_slice(&frame(1, ETH_P_IP, &[0x45, 0, 0, 20, i as u8]));
        }
        // From here on: out-of-band calls only.
        let isw0 = inband_switches();
        let allocs = evl_alloc_count::allocations_in(|| {
            for i in 0..ROUNDS as usize {
                s.send(&frames[i]).unwrap();
                let n = s.recv_until(&mut buf, Some(soon(10_000))).unwrap();
                lens[i] = n;
                got[i][..n.min(60)].copy_from_slice(&buf[..n.min(60)]);
            }
        });
        let isw = inband_switches() - isw0;
        assert_eq!(allocs, 0, "oob send/recv allocated");
        for i in 0..ROUNDS as usize {
            let mut want = frames[i];
            want[11] = 2;
            assert_eq!(lens[i], 60, "round {i}");
            assert_eq!(got[i], want, "round {i}");
        }
        assert_eq!(
            isw, 0,
            "in-band switches while sending and receiving out-of-band"
        );
        report(&format!(
            "evl packet: IPv4 on VLAN 100 over veth, oob at both ends: path OutOfBand, \
             {ROUNDS} round trips, {isw} in-band switches and {allocs} allocations of the \
             attached thread"
        ));

        // This kernel oopses when an oob packet socket sits in a core poll set (see the
        // packet module's docs): the oob path offers no fd to poll, waits are recv_until's.
        assert!(s.poll_fd().is_none());
        s.send(&frames[0]).unwrap();
        let n = s.recv_until(&mut buf, Some(soon(10_000))).unwrap();
        assert_eq!(n, 60);
        assert_eq!(s.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    })
    .join()
    .unwrap();
    let far_isw = echo.join().unwrap();
    assert_eq!(
        far_isw, 0,
        "in-band switches of the far end's attached thread"
    );
}

#[test]
fn evl_oob_calls_need_an_attached_thread() {
    if !evl_only::setup() {
        return;
    }
    let pair = match veth_pair("n") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let (near_vlan, _) = pair.add_vlans(101).unwrap();
    let s = PacketSocket::open_oob(&near_vlan, ETH_P_IP).unwrap();
    assert_eq!(s.path(), FramePath::OutOfBand);
    let mut buf = [0u8; 64];
    let e = s.recv(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let e = s.send(&frame(1, ETH_P_IP, b"x")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    std::thread::spawn(move || {
        let _t = Thread::attach(rt(&format!("pkt-n-{}", std::process::id()))).unwrap();
        assert_eq!(s.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        let e = s.recv_until(&mut buf, Some(soon(20))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    })
    .join()
    .unwrap();
}
