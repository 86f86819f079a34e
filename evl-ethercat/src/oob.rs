//! The out-of-band UDP frame path ([`FramePath::OobUdp`](crate::FramePath::OobUdp)): EtherCAT
//! over UDP on the EVL core's packet socket (`ETH_P_IP`, a VLAN port), the one EtherType
//! its out-of-band stack carries.
//!
//! - **Sending**: the TX/RX task wraps each frame into a fixed buffer ([`crate::udp`]) and
//!   sends it itself ([`PacketSocket::send`](evl::core::packet::PacketSocket::send): an
//!   out-of-band ioctl on EVL).
//! - **Receiving**: an oob socket cannot sit in the core's poll set (this kernel oopses, see
//!   [`evl::core::packet`]), so the executor's reactor cannot watch it. A receive thread,
//!   attached to the core at SCHED_FIFO, waits in
//!   [`recv_until`](evl::core::packet::PacketSocket::recv_until) (an out-of-band wait),
//!   unwraps each frame into a [`RxFrame`] and hands it to the task through an
//!   [`evl::bridge::to_rt`] bridge: a preallocated lock-free ring, then the task's evl
//!   waker (an inbox push and the executor's doorbell: out-of-band on EVL). The receive
//!   deadline ([`RX_POLL`]) lets the thread notice its stop flag.
//!
//! On the host backend the same path runs over the in-band socket (`poll(2)` in
//! `recv_until`, `send(2)`): no oob stack there, but the encapsulation, the thread and the
//! hand-off are the same, so the host tests exercise them.

use crate::socket::MAX_FRAME;
use crate::udp::{self, UdpAddrs, ETHERTYPE_IPV4};
use evl::bridge::{self, RtReceiver, Sender, TrySendError};
use evl::core::packet::PacketSocket;
use evl::core::{Clock, ErrorKind, SchedPolicy, Thread, ThreadConfig};
use evl::Backend;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the receive thread waits for a frame before it looks at its stop flag.
pub const RX_POLL: Duration = Duration::from_millis(20);

/// One received frame, unwrapped into the Ethernet + EtherCAT form ethercrab takes.
pub(crate) struct RxFrame {
    len: usize,
    data: [u8; MAX_FRAME],
}

impl RxFrame {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// Counters of the receive thread of [`FramePath::OobUdp`](crate::FramePath::OobUdp).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OobRxStats {
    /// EtherCAT-over-UDP frames unwrapped and handed to the task.
    pub frames: u64,
    /// Frames received that were not EtherCAT over UDP (other IPv4 traffic): dropped.
    pub ignored: u64,
    /// Frames dropped because the hand-off ring was full (a PDU timeout for ethercrab).
    pub dropped_ring_full: u64,
    /// The receive thread's switches to the in-band stage since its loop started, as it last
    /// read them (on each receive timeout and when it stops; `None` on the host backend).
    pub inband_switches: Option<u64>,
    /// Whether the receive thread has ended (stopped, or an error).
    pub ended: bool,
}

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    ignored: AtomicU64,
    dropped: AtomicU64,
    /// `u64::MAX`: not known (host backend, or not read yet).
    isw: AtomicU64,
    ended: AtomicBool,
    stop: AtomicBool,
    error: OnceLock<String>,
}

/// The receive thread, stopped and joined on drop (in-band calls: teardown).
pub(crate) struct RxThread {
    counters: Arc<Counters>,
    handle: Option<JoinHandle<()>>,
}

impl core::fmt::Debug for RxThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RxThread")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The socket, the task's side of the hand-off, and the receive thread.
pub(crate) struct OobUdp {
    pub(crate) sock: Arc<PacketSocket>,
    pub(crate) rx: RtReceiver<RxFrame>,
    pub(crate) wire: [u8; udp::MAX_WIRE],
    pub(crate) addrs: UdpAddrs,
    pub(crate) ip_id: u16,
    pub(crate) rx_priority: u8,
    pub(crate) queue: usize,
    pub(crate) thread: RxThread,
}

impl core::fmt::Debug for OobUdp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OobUdp")
            .field("addrs", &self.addrs)
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

fn io_err(e: evl::Error) -> io::Error {
    e.into()
}

impl OobUdp {
    /// Opens the socket on `interface` (EVL: the core's oob socket, never the in-band one;
    /// host: the in-band one) and starts the receive thread at SCHED_FIFO `rx_priority`
    /// (inheriting the caller's CPU affinity), with a ring of `queue` frames.
    pub(crate) fn open(
        interface: &str,
        addrs: UdpAddrs,
        rx_priority: u8,
        queue: usize,
    ) -> io::Result<OobUdp> {
        let backend = evl::core::backend::current().map_err(io_err)?;
        let sock = match backend {
            Backend::Evl => PacketSocket::open_oob(interface, ETHERTYPE_IPV4),
            Backend::Host => PacketSocket::open_inband(interface, ETHERTYPE_IPV4),
        }
        .map_err(io_err)?;
        let sock = Arc::new(sock);
        let (tx, rx) = bridge::to_rt::<RxFrame>(queue).map_err(io_err)?;
        let counters = Arc::new(Counters {
            isw: AtomicU64::new(u64::MAX),
            ..Counters::default()
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (s, c) = (sock.clone(), counters.clone());
        let handle = std::thread::Builder::new()
            .name("evl-ecat-rx".into())
            .spawn(move || receive_thread(&s, &tx, &c, rx_priority, backend, ready_tx))
            .map_err(|e| io::Error::new(e.kind(), format!("the receive thread: {e}")))?;
        let thread = RxThread {
            counters,
            handle: Some(handle),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("the receive thread died at start")),
        }
        Ok(OobUdp {
            sock,
            rx,
            wire: [0; udp::MAX_WIRE],
            addrs,
            ip_id: 0,
            rx_priority,
            queue,
            thread,
        })
    }
}

impl RxThread {
    pub(crate) fn stats(&self) -> OobRxStats {
        let c = &self.counters;
        let isw = c.isw.load(Relaxed);
        OobRxStats {
            frames: c.frames.load(Relaxed),
            ignored: c.ignored.load(Relaxed),
            dropped_ring_full: c.dropped.load(Relaxed),
            inband_switches: (isw != u64::MAX).then_some(isw),
            ended: c.ended.load(Relaxed),
        }
    }

    /// What ended the thread with an error, if it did.
    pub(crate) fn error(&self) -> Option<&str> {
        self.counters.error.get().map(String::as_str)
    }

    /// Stops the thread (it notices within [`RX_POLL`]) and joins it: an in-band call.
    pub(crate) fn stop(&mut self) {
        self.counters.stop.store(true, Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for RxThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn attach(prio: u8, backend: Backend) -> io::Result<Thread> {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("ecat-rx-{}-{}", std::process::id(), N.fetch_add(1, Relaxed));
    match Thread::attach(ThreadConfig::new(&name).policy(SchedPolicy::Fifo(prio))) {
        Ok(t) => Ok(t),
        // The host has no stages: the default policy serves where FIFO is refused.
        Err(_) if backend == Backend::Host => {
            Thread::attach(ThreadConfig::new(&name)).map_err(io_err)
        }
        Err(e) => Err(io_err(e)),
    }
}

fn inband_switches() -> Option<u64> {
    Thread::current_core_stats()
        .ok()
        .flatten()
        .map(|s| s.inband_switches)
}

/// The receive thread: attach, then receive, unwrap, hand off until stopped.
fn receive_thread(
    sock: &PacketSocket,
    tx: &Sender<RxFrame>,
    c: &Counters,
    prio: u8,
    backend: Backend,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let _attached = match attach(prio, backend) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.send(Err(e));
            c.ended.store(true, Relaxed);
            return;
        }
    };
    let _ = ready.send(Ok(()));
    drop(ready);
    // One wire buffer and one frame buffer, reused: the frame is copied into the ring.
    let mut wire = [0u8; udp::MAX_WIRE];
    let mut data = [0u8; MAX_FRAME];
    let isw0 = inband_switches();
    let publish = || {
        if let (Some(a), Some(b)) = (isw0, inband_switches()) {
            c.isw.store(b - a, Relaxed);
        }
    };
    publish();
    while !c.stop.load(Relaxed) {
        let deadline = Clock::Monotonic.now().saturating_add(RX_POLL);
        let n = match sock.recv_until(&mut wire, Some(deadline)) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                publish();
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = c.error.set(format!("receiving: {e}"));
                break;
            }
        };
        let Some(len) = udp::unwrap(&wire[..n], &mut data) else {
            c.ignored.fetch_add(1, Relaxed);
            continue;
        };
        // Counted before the hand-off: the task may answer before this thread runs again.
        c.frames.fetch_add(1, Relaxed);
        match tx.try_send(RxFrame { len, data }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                c.frames.fetch_sub(1, Relaxed);
                c.dropped.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Closed(_)) => break,
        }
    }
    publish();
    c.ended.store(true, Relaxed);
}
