//! # evl-ethercat — ethercrab's EtherCAT MainDevice on the evl runtime
//!
//! [ethercrab](https://docs.rs/ethercrab) is an async, executor-agnostic EtherCAT MainDevice.
//! This crate gives it what a runtime must: the frame path ([`TxRx`], one evl task on a raw
//! packet socket) and, through `evl`'s `embassy-time` feature, its timeouts on the
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
//!
//! Backends: on the host backend the socket is an ordinary non-blocking `AF_PACKET` socket
//! watched by the executor's epoll. **On the EVL backend the frame path is not done yet**:
//! the reactor polls out-of-band and refuses in-band sockets ([`TxRx::open`] returns that
//! error), and the core's out-of-band packet socket (`CONFIG_EVL_NET`, `SOCK_OOB`,
//! `oob_sendmsg`/`oob_recvmsg`) is not wired in.
#![warn(missing_docs)]

mod relay;
mod socket;
mod txrx;

pub use relay::{RelayStats, DEFAULT_RING};
pub use socket::{PacketSocket, ETHERTYPE_ETHERCAT};
pub use txrx::{FramePath, TxRx, TxRxStats, MAX_FRAME};

/// Nanoseconds on the monotonic clock, ethercrab's `now` for `init`/`init_single_group`
/// (it only needs a monotonic ns counter).
pub fn ethercat_now() -> u64 {
    evl::time::Instant::now().as_nanos()
}
