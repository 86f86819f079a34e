//! From the real-time side to in-band code: [`RtSender`] (never waits, never makes an
//! in-band call) and [`Receiver`] (blocking, or readiness-driven from any async runtime).

use super::bell::{self, Listener, Ringer, Waited};
use super::error::Closed;
use super::error::{RecvTimeoutError, TryRecvError, TrySendError};
use super::overflow::{check_capacity, Overflow};
use crate::core::Result;
use crate::ring::{ConsumerPos, ProducerPos, PushError, Pushed, Ring};
use core::cell::Cell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Shared<T> {
    ring: Ring<T>,
    /// The receiver is about to sleep on its descriptor: the next send rings the bell.
    rx_waiting: AtomicBool,
    tx_gone: AtomicBool,
    rx_gone: AtomicBool,
    /// Values the receiver skipped because the sender overwrote them.
    lost: AtomicU64,
}

/// A bridge from the real-time side to in-band code, `capacity` values deep: the real-time
/// end's [`RtSender`] and the in-band end's [`Receiver`].
///
/// `overflow` says what [`RtSender::try_send`] does on a full ring: refuse the value
/// ([`Overflow::Reject`], [`TrySendError::Full`]) or replace the oldest one
/// ([`Overflow::DropOldest`]). Either way the sender never waits for the receiver.
///
/// Creates a proxy and a pipe (in-band calls, on the EVL core too): call it at start-up,
/// not from the real-time loop.
///
/// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a capacity
/// of 0 or above 2^30; descriptor or memory limits.
pub fn to_inband<T: Send>(
    capacity: usize,
    overflow: Overflow,
) -> Result<(RtSender<T>, Receiver<T>)> {
    const OP: &str = "bridge::to_inband";
    check_capacity(capacity, OP)?;
    let (ringer, listener) = bell::pair(OP)?;
    let (ring, p, c) = Ring::new(capacity);
    let shared = Arc::new(Shared {
        ring,
        rx_waiting: AtomicBool::new(false),
        tx_gone: AtomicBool::new(false),
        rx_gone: AtomicBool::new(false),
        lost: AtomicU64::new(0),
    });
    Ok((
        RtSender {
            shared: shared.clone(),
            pos: p,
            ringer,
            overflow,
            rings: 0,
        },
        Receiver {
            shared,
            pos: Cell::new(c),
            listener,
        },
    ))
}

/// The real-time end of a [`to_inband`] bridge: sends without waiting, allocating or making
/// an in-band call.
///
/// A send stores the value in the preallocated ring and, only when the receiver is asleep
/// on its descriptor, rings it: one proxy write (out-of-band on the EVL core). A burst of
/// sends to a sleeping receiver rings once. `Send` (move it to its thread), not `Sync`/`Clone`:
/// one sender.
#[derive(Debug)]
pub struct RtSender<T> {
    shared: Arc<Shared<T>>,
    pos: ProducerPos,
    ringer: Ringer,
    overflow: Overflow,
    rings: u64,
}

impl<T> RtSender<T> {
    /// Sends `v` without waiting.
    ///
    /// With [`Overflow::DropOldest`] a full ring gives up its oldest value (dropped here, on
    /// this thread: use values whose drop frees nothing, such as `Copy` types), counted in
    /// [`RtSender::dropped`] and reported to the receiver by [`Receiver::lost`].
    ///
    /// Errors: [`TrySendError::Full`] ([`Overflow::Reject`] only) when the ring holds
    /// `capacity` values; [`TrySendError::Closed`] when the receiver was dropped.
    pub fn try_send(&mut self, v: T) -> core::result::Result<(), TrySendError<T>> {
        let s = &*self.shared;
        if s.rx_gone.load(Acquire) {
            return Err(TrySendError::Closed(v));
        }
        let overwrite = self.overflow == Overflow::DropOldest;
        match s.ring.push(&mut self.pos, v, overwrite) {
            Err(PushError::Full(v)) => return Err(TrySendError::Full(v)),
            Ok(Pushed::Displaced(old)) => drop(old),
            Ok(Pushed::Stored) => {}
        }
        // Pairs with the receiver's fence between arming and looking again: either it sees
        // the value, or we see it armed.
        fence(SeqCst);
        if s.rx_waiting.load(Relaxed) && s.rx_waiting.swap(false, Relaxed) {
            self.ringer.ring();
            self.rings += 1;
        }
        Ok(())
    }

    /// Values replaced by newer ones on a full ring ([`Overflow::DropOldest`]).
    pub fn dropped(&self) -> u64 {
        self.shared.ring.overwritten()
    }

    /// How many times a send rang the receiver's descriptor (at most once per sleep of the
    /// receiver).
    pub fn rings(&self) -> u64 {
        self.rings
    }

    /// Whether the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.rx_gone.load(Acquire)
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.ring.capacity()
    }
}

impl<T> Drop for RtSender<T> {
    fn drop(&mut self) {
        self.shared.tx_gone.store(true, Release);
        // No ring into a pipe nobody reads (it would only fail).
        if !self.shared.rx_gone.load(Acquire) {
            self.ringer.ring();
        }
    }
}

/// The in-band end of a [`to_inband`] bridge.
///
/// - a plain thread: [`recv`](Receiver::recv) blocks, [`try_recv`](Receiver::try_recv) does
///   not;
/// - any async runtime: the receiver is a descriptor ([`AsFd`]) that polls readable when
///   [`poll_recv_io`](Receiver::poll_recv_io) has something new to say. With tokio, use
///   `AsyncReceiver` (feature `tokio`); with smol, async-std or
///   anything built on async-io:
///
///   ```ignore
///   // (runtime/tests/bridge.rs runs this)
///   let rx = async_io::Async::new_nonblocking(rx)?;
///   while let Some(v) = rx.read_with(|rx| rx.poll_recv_io()).await? { /* ... */ }
///   ```
///
/// `Send`, not `Sync`/`Clone`: one receiver. Dropping it closes the bridge: the sender's
/// next send fails with [`TrySendError::Closed`].
#[derive(Debug)]
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    pos: Cell<ConsumerPos>,
    listener: Listener,
}

impl<T> Receiver<T> {
    /// Takes the oldest value without waiting.
    ///
    /// Errors: [`TryRecvError::Empty`]; [`TryRecvError::Closed`] when empty and the sender
    /// was dropped.
    pub fn try_recv(&self) -> core::result::Result<T, TryRecvError> {
        let s = &*self.shared;
        if let Some(v) = self.pop() {
            return Ok(v);
        }
        if s.tx_gone.load(Acquire) {
            // The sender may have sent just before going.
            return self.pop().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    fn pop(&self) -> Option<T> {
        let mut c = self.pos.get();
        let (v, skipped) = self.shared.ring.pop(&mut c);
        self.pos.set(c);
        if skipped > 0 {
            self.shared.lost.fetch_add(u64::from(skipped), Relaxed);
        }
        v
    }

    /// The readiness-driven receive, for any reactor watching [`Receiver::as_fd`] for
    /// readable: `Ok(Some(v))` a value, `Ok(None)` the sender is gone and everything was
    /// received, `Err(WouldBlock)` nothing yet: wait until the descriptor polls readable,
    /// then call again. (Spurious readiness is possible: it just returns `WouldBlock` again.)
    ///
    /// Before returning `WouldBlock` it empties the descriptor and asks the sender for a
    /// ring, so the descriptor becomes readable again exactly when there is news. Call it
    /// first and wait only after `WouldBlock` (values sent while nobody waited rang
    /// nothing): async-io's `read_with` does exactly that; with tokio's `AsyncFd`, loop on
    /// `poll_recv_io`, and on `WouldBlock` await `readable()` and `clear_ready()` the guard
    /// (tokio's `async_io` waits for readiness first: do not use it here).
    pub fn poll_recv_io(&self) -> io::Result<Option<T>> {
        match self.try_recv() {
            Ok(v) => return Ok(Some(v)),
            Err(TryRecvError::Closed) => return Ok(None),
            Err(TryRecvError::Empty) => {}
        }
        self.listener.drain();
        self.shared.rx_waiting.store(true, Relaxed);
        fence(SeqCst);
        match self.try_recv() {
            Ok(v) => {
                // No need for a ring any more (one may still come: a spurious wake-up).
                self.shared.rx_waiting.store(false, Relaxed);
                Ok(Some(v))
            }
            Err(TryRecvError::Closed) => Ok(None),
            Err(TryRecvError::Empty) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Takes the oldest value, blocking this thread until one comes.
    ///
    /// Errors: [`Closed`] when empty and the sender was dropped.
    pub fn recv(&self) -> core::result::Result<T, Closed> {
        loop {
            match self.poll_recv_io() {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => return Err(Closed),
                Err(_) => {
                    self.listener.wait(None);
                }
            }
        }
    }

    /// As [`Receiver::recv`], waiting `timeout` at most.
    ///
    /// Errors: [`RecvTimeoutError::Timeout`]; [`RecvTimeoutError::Closed`].
    pub fn recv_timeout(&self, timeout: Duration) -> core::result::Result<T, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.poll_recv_io() {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => return Err(RecvTimeoutError::Closed),
                Err(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || self.listener.wait(Some(left)) == Waited::TimedOut {
                        // One last look: a value may have come with the deadline.
                        return self.try_recv().map_err(|e| match e {
                            TryRecvError::Empty => RecvTimeoutError::Timeout,
                            TryRecvError::Closed => RecvTimeoutError::Closed,
                        });
                    }
                }
            }
        }
    }

    /// Values the sender replaced before this receiver took them ([`Overflow::DropOldest`]),
    /// as seen so far by this receiver.
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Relaxed)
    }

    /// Whether the sender was dropped (values may still be waiting).
    pub fn is_closed(&self) -> bool {
        self.shared.tx_gone.load(Acquire)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Release);
    }
}

impl<T> AsFd for Receiver<T> {
    /// The wake-up pipe's read end (non-blocking): readable when
    /// [`Receiver::poll_recv_io`] has news. Watch it; never read it yourself.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl<T> AsRawFd for Receiver<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.listener.as_fd().as_raw_fd()
    }
}
