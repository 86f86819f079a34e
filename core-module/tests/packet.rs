//! `PacketSocket` on the host backend: EtherCAT frames (EtherType 0x88A4) across a veth pair
//! whose far end sits in a network namespace made by the test. Needs root; without it the
//! veth tests print a SKIPPED line and return.

mod netns;

use evl_core::backend::{self, Backend, Selection};
use evl_core::packet::{FramePath, OobUnavailable, PacketSocket};
use evl_core::{Clock, ErrorKind, Timestamp};
use netns::{frame, skipped, veth_pair, ETHERCAT};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

fn host() {
    backend::select(Selection::Force(Backend::Host)).unwrap();
}

fn soon(ms: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(ms))
}

/// Receives frames until one of `ethertype` comes (a namespace's own traffic of other
/// types never reaches these sockets, but be exact about what is asserted).
fn recv_frame(s: &PacketSocket, buf: &mut [u8]) -> usize {
    s.recv_until(buf, Some(soon(5000)))
        .expect("a frame within 5 s")
}

#[test]
fn ethercat_frames_cross_a_veth_pair_both_ways() {
    host();
    let pair = match veth_pair("a") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let near = PacketSocket::open(&pair.near, ETHERCAT).unwrap();
    assert_eq!(near.path(), FramePath::InBand);
    assert_eq!(near.fallback_reason(), Some(OobUnavailable::HostBackend));
    assert_eq!(near.ethertype(), ETHERCAT);
    assert!(near.poll_fd().is_some());
    let far_name = pair.far.clone();
    let far = pair.in_far_ns(move || PacketSocket::open_inband(&far_name, ETHERCAT).unwrap());
    assert_eq!(far.fallback_reason(), None);

    let mut buf = [0u8; 1514];
    for i in 0..10u8 {
        // near -> far
        let f = frame(1, ETHERCAT, &[0x0e, 0x10, i, i.wrapping_mul(7), 0xaa]);
        assert_eq!(near.send(&f).unwrap(), f.len());
        let n = recv_frame(&far, &mut buf);
        assert_eq!(&buf[..n], &f[..], "frame {i} near -> far");
        // far -> near
        let g = frame(2, ETHERCAT, &[0x0e, 0x10, i, 0x55, !i]);
        assert_eq!(far.send(&g).unwrap(), g.len());
        let n = recv_frame(&near, &mut buf);
        assert_eq!(&buf[..n], &g[..], "frame {i} far -> near");
    }
    // Nothing else queued: a socket does not see its own frames, nor frames of another type.
    let other = frame(2, 0x88B5, b"not ethercat");
    far.send(&other).unwrap();
    let last = frame(2, ETHERCAT, b"last");
    far.send(&last).unwrap();
    let n = recv_frame(&near, &mut buf);
    assert_eq!(
        &buf[..n],
        &last[..],
        "only the 0x88A4 frame reaches the socket"
    );
    assert_eq!(
        near.recv(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        far.recv(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn empty_socket_would_block_and_recv_until_times_out() {
    host();
    let pair = match veth_pair("b") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let s = PacketSocket::open(&pair.near, ETHERCAT).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(s.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    let e = s.recv_until(&mut buf, Some(soon(20))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    let e = s.recv_until(&mut buf, Some(Timestamp::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "a past deadline: {e}");
    // A frame cut short of an Ethernet header is refused before any system call.
    let e = s.send(&[0u8; 13]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn steady_state_send_and_recv_allocate_nothing() {
    host();
    let pair = match veth_pair("c") {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let near = PacketSocket::open(&pair.near, ETHERCAT).unwrap();
    let far_name = pair.far.clone();
    let far = pair.in_far_ns(move || PacketSocket::open_inband(&far_name, ETHERCAT).unwrap());
    let f = frame(1, ETHERCAT, b"no alloc");
    let mut buf = [0u8; 128];
    // Warm up once, then count.
    near.send(&f).unwrap();
    recv_frame(&far, &mut buf);
    let deadline = soon(5000);
    let allocs = evl_alloc_count::allocations_in(|| {
        for _ in 0..100 {
            near.send(&f).unwrap();
            far.recv_until(&mut buf, Some(deadline)).unwrap();
            let _ = far.recv(&mut buf);
        }
    });
    assert_eq!(allocs, 0, "send/recv allocated");
}

#[test]
fn bad_names_missing_interfaces_and_oob_on_host_are_typed_errors() {
    host();
    for bad in ["", "0123456789abcdef", "a/b", "a b"] {
        let e = PacketSocket::open(bad, ETHERCAT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
    }
    let e = PacketSocket::open("nosuchif0", ETHERCAT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.hint().contains("ip link"), "{e}");
    let e = PacketSocket::open_oob("lo", 0x0800).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    // Without CAP_NET_RAW the open says what is missing.
    // SAFETY: geteuid has no memory effects.
    if unsafe { libc::geteuid() } != 0 {
        let e = PacketSocket::open("lo", ETHERCAT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.hint().contains("CAP_NET_RAW"), "{e}");
    }
}
