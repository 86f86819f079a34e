//! Bridges between the real-time side and ordinary (in-band) code: a plain thread, or a task
//! of any async runtime (tokio, smol, async-std).
//!
//! | bridge | real-time end | in-band end |
//! |---|---|---|
//! | [`to_inband`] | [`RtSender`]: `try_send`, never waits | [`Receiver`]: blocking `recv`, or a descriptor + [`Receiver::poll_recv_io`] for any reactor; `AsyncReceiver` (feature `tokio`: a `Stream`) |
//! | [`to_rt`] | [`RtReceiver`]: `recv().await`, a `Stream` | [`Sender`]: blocking `send`, or a descriptor + [`Sender::poll_send_io`]; `AsyncSender` (feature `tokio`: a `Sink`) |
//!
//! ```no_run
//! use evl::bridge::{self, Overflow};
//! # fn main() -> evl::Result<()> {
//! // Telemetry out (keep the newest when the logger lags), setpoints in.
//! let (mut telemetry, samples) = bridge::to_inband::<[f32; 4]>(1024, Overflow::DropOldest)?;
//! let (setpoints, mut commands) = bridge::to_rt::<f32>(16)?;
//! std::thread::spawn(move || {
//!     while let Ok(s) = samples.recv() { /* log s */ let _ = s; }
//! });
//! std::thread::spawn(move || { let _ = setpoints.send(1500.0); });
//! evl::block_on(async move {
//!     while let Some(target) = commands.recv().await {
//!         let _ = telemetry.try_send([target, 0.0, 0.0, 0.0]); // never waits
//!     }
//! })?;
//! # Ok(()) }
//! ```
//!
//! # How it works
//! Values live in a preallocated single-producer single-consumer ring in the process's
//! memory (`capacity + 2` value buffers, one atomic word per slot; the producer never
//! waits, even when it overwrites the oldest value under the consumer's nose). File
//! descriptors carry only wake-ups:
//!
//! - real-time -> in-band: the in-band end is the read end of a pipe; the real-time end
//!   writes one byte to an evl-core [`Proxy`](crate::core::Proxy) targeting it (on the EVL
//!   core an out-of-band write, relayed in-band by the core). It does so only when the
//!   in-band end announced it is going to sleep (a flag it sets after emptying the pipe,
//!   before looking at the ring a last time), and at most once per such sleep: a burst of
//!   sends, or a batch of receives, costs one signal, and none while the in-band side is
//!   busy. A foreign runtime's `Waker` is never called from the real-time thread (a tokio
//!   waker's `wake` is a futex call: in-band on the EVL core).
//! - in-band -> real-time: the in-band end calls the waker the real-time task registered
//!   when it found the ring empty (an evl waker: an inbox push and the executor's
//!   doorbell), at most once per registration.
//!
//! # Full and closed
//! The real-time side never waits for a slow peer: [`RtSender::try_send`] on a full ring
//! refuses ([`Overflow::Reject`]: [`TrySendError::Full`]) or replaces the oldest value
//! ([`Overflow::DropOldest`]: counted on both sides), as chosen at creation. The in-band
//! [`Sender`] waits for room (`send` blocks, `poll_send_io` says `WouldBlock`, the tokio
//! `Sink` is pending). Dropping either end closes the bridge: the other end's sends fail
//! with `Closed` and give the value back; its receives return what is still in the ring,
//! then `Closed` (`None` for the futures and streams).
//!
//! # RT-safety
//! "In-band call": a system call that, on the EVL core, switches a real-time thread to the
//! in-band stage. In steady state nothing below allocates.
//!
//! | call | side | may block? | may allocate? | in-band call? |
//! |---|---|---|---|---|
//! | [`to_inband`], [`to_rt`] | start-up | no | yes (ring, proxy) | yes (pipe, proxy) |
//! | [`RtSender::try_send`] | real-time | never | no (`DropOldest` drops the displaced value here) | no: at most one proxy write when the receiver sleeps (out-of-band on EVL) |
//! | [`RtReceiver::recv`], `poll_recv`, `try_recv`, `Stream` | real-time | never (Pending) | no (registering clones the waker: a reference count) | no: at most one proxy write when the sender sleeps on a full ring |
//! | dropping an `RtSender`/`RtReceiver` | real-time | host: up to 1 s while the proxy delivers | no | EVL: releasing the proxy is in-band; drop them outside the loop |
//! | [`Receiver::recv`], [`Sender::send`] (and `_timeout`) | in-band | yes, by design (`ppoll`) | no | yes (in-band code) |
//! | [`Receiver::try_recv`], [`Receiver::poll_recv_io`], [`Sender::try_send`], [`Sender::poll_send_io`] | in-band | never | no | `poll_*_io`: a `read` emptying the pipe; `Sender::try_send`: the evl waker's doorbell write |
//! | `AsyncReceiver`, `AsyncSender` (feature `tokio`) | tokio task | never (Pending) | no | tokio's epoll |
//!
//! Each end belongs to one thread at a time (`Send`, not `Sync` or `Clone`): one producer,
//! one consumer.

mod bell;
mod error;
mod overflow;
mod to_inband;
mod to_rt;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::{AsyncReceiver, AsyncSender};
pub use error::{Closed, RecvTimeoutError, SendError, TryRecvError, TrySendError};
pub use overflow::Overflow;
pub use to_inband::{to_inband, Receiver, RtSender};
pub use to_rt::{to_rt, Recv, RtReceiver, Sender};
