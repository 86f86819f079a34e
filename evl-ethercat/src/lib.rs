//! # evl-ethercat — ethercrab's EtherCAT MainDevice on the evl runtime
//!
//! [ethercrab](https://docs.rs/ethercrab) is an async, executor-agnostic EtherCAT MainDevice.
//! This crate gives it what a runtime must: the frame path ([`TxRx`], one evl task on a raw
//! packet socket, or through an in-band relay thread on the EVL backend) and, through `evl`'s `embassy-time` feature, its timeouts on the
//! executor's timer wheel (ethercrab is used without its `std` feature, so it neither starts
//! async-io's reactor thread nor yields with `sched_yield`).
//!
//! ```no_run
//! use ethercrab::{MainDevice, MainDeviceConfig, PduStorage, Timeouts};
//! use evl_ethercat::TxRx;
//!
//! static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();
//!
//! # fn main() -> evl::Result<()> {
//! evl::block_on(async {
//!     let (tx, rx, pdu_loop) = PDU_STORAGE.try_split().expect("split once");
//!     let txrx = TxRx::open("eth0").expect("raw socket (CAP_NET_RAW)");
//!     let maindevice = MainDevice::new(pdu_loop, Timeouts::default(), MainDeviceConfig::default());
//!     let io = async {
//!         let group = maindevice
//!             .init_single_group::<8, 64>(evl_ethercat::ethercat_now)
//!             .await;
//!         // ... into_op, then tx_rx every period ...
//!     };
//!     // Run `txrx.run(tx, rx)` and `io` together (one task each, or a select).
//! })
//! # }
//! ```
//!
//! | item | what |
//! |---|---|
//! | [`TxRx`] | the TX/RX task: sends ethercrab's frames, hands received ones back; no allocation per frame |
//! | [`PacketSocket`] | a raw `AF_PACKET` socket bound to one interface, EtherType 0x88A4 |
//! | [`FramePath`] | direct socket (host) or in-band relay (EVL), chosen by [`TxRx::open`] or given to [`TxRx::open_with`] |
//! | [`RelayStats`] | the relay thread's counters |
//! | [`OobRxStats`], [`UdpAddrs`] | the out-of-band UDP path's receive thread counters, the IPv4 addresses its frames carry |
//!
//! ## Backends
//!
//! - **Host backend: direct.** The socket is an ordinary non-blocking `AF_PACKET` socket
//!   watched by the executor's epoll; the executor thread sends and receives itself.
//! - **EVL backend: in-band relay.** On the EVL core of ABI 36 the EtherCAT frames travel
//!   through Linux's in-band network stack, through a relay thread. Why: the core's
//!   out-of-band packet stack carries IPv4 only (`ETH_P_IP`/`ETH_P_ALL` sockets, VLAN-steered
//!   ingress; see [`evl::core::packet`]), so EtherType 0x88A4 never travels out-of-band
//!   there; an in-band socket cannot sit in the core's poll set, and an attached thread using
//!   it would be switched in-band on every call. So an ordinary (not attached) thread owns the
//!   socket and trades length-prefixed frames with the TX/RX task through an EVL cross-buffer
//!   ([`evl::core::Xbuf`]); the task reads and writes only its out-of-band end, awaited in the
//!   executor's poll set. **The real-time executor thread stays out-of-band** (0 in-band
//!   switches in the cycle, checked on the core by `tests/veth.rs`, with the executor at
//!   SCHED_FIFO: the core moves a SCHED_OTHER attached thread in-band after every
//!   out-of-band call). **The cost:** a relay hop on each frame, both ways (a copy through
//!   the xbuf, a wake-up of an in-band thread scheduled by Linux, its socket calls), so the
//!   round trip carries Linux's scheduling and network-stack latency; the cycle timer and
//!   the executor stay real-time. [`FramePath::Relay`] can be chosen on the host as well
//!   (the tests do).
//! - **EVL backend, chosen explicitly: out-of-band over UDP** ([`FramePath::OobUdp`]).
//!   EtherCAT frames wrapped in IPv4/UDP (port 0x88A4, the encapsulation EtherCAT defines),
//!   the one kind of traffic the core's out-of-band stack carries, on a VLAN device: sends
//!   from the task (out-of-band), receives on an attached SCHED_FIFO thread waiting
//!   out-of-band and handing frames over through a preallocated ring and the task's evl
//!   waker. No in-band hop at all; needs subdevices that accept EtherCAT over UDP and a
//!   VLAN-tagged segment (see the README). On the host it runs over the in-band socket.
#![warn(missing_docs)]

mod oob;
mod relay;
mod socket;
mod txrx;
mod udp;

pub use oob::{OobRxStats, RX_POLL};
pub use relay::{RelayStats, DEFAULT_RING};
pub use socket::{PacketSocket, ETHERTYPE_ETHERCAT};
pub use txrx::{FramePath, TxRx, TxRxStats, MAX_FRAME};
pub use udp::{UdpAddrs, ETHERCAT_UDP_PORT, MAX_WIRE, UDP_OVERHEAD};

/// Nanoseconds on the monotonic clock, ethercrab's `now` for `init`/`init_single_group`
/// (it only needs a monotonic ns counter).
pub fn ethercat_now() -> u64 {
    evl::time::Instant::now().as_nanos()
}
