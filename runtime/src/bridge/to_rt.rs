//! From in-band code to the real-time side: [`Sender`] (blocking, or readiness-driven from
//! any async runtime) and [`RtReceiver`] (an evl future that never makes an in-band call).

use super::bell::{self, Listener, Ringer, Waited};
use super::error::{SendError, TryRecvError, TrySendError};
use super::overflow::check_capacity;
use crate::core::Result;
use crate::ring::{ConsumerPos, ProducerPos, PushError, Ring};
use atomic_waker::AtomicWaker;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Shared<T> {
    ring: Ring<T>,
    /// The real-time receiver's waker, registered when it found the ring empty.
    rx_waker: AtomicWaker,
    /// The in-band sender is about to sleep on its descriptor (the ring was full): the next
    /// receive rings the bell.
    tx_waiting: AtomicBool,
    tx_gone: AtomicBool,
    rx_gone: AtomicBool,
}

/// A bridge from in-band code to the real-time side, `capacity` values deep: the in-band
/// end's [`Sender`] and the real-time end's [`RtReceiver`].
///
/// The sender waits (blocking, or as a future) while the ring is full; the receiver is an
/// evl future woken through the evl waker it registered (a wake from another thread: an
/// inbox push and the executor's doorbell, out-of-band on the EVL core).
///
/// Creates a proxy and a pipe (in-band calls): call it at start-up.
///
/// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a capacity
/// of 0 or above 2^30; descriptor or memory limits.
pub fn to_rt<T: Send>(capacity: usize) -> Result<(Sender<T>, RtReceiver<T>)> {
    const OP: &str = "bridge::to_rt";
    check_capacity(capacity, OP)?;
    let (ringer, listener) = bell::pair(OP)?;
    let (ring, p, c) = Ring::new(capacity);
    let shared = Arc::new(Shared {
        ring,
        rx_waker: AtomicWaker::new(),
        tx_waiting: AtomicBool::new(false),
        tx_gone: AtomicBool::new(false),
        rx_gone: AtomicBool::new(false),
    });
    Ok((
        Sender {
            shared: shared.clone(),
            pos: Cell::new(p),
            listener,
        },
        RtReceiver {
            shared,
            pos: c,
            ringer,
            rings: 0,
        },
    ))
}

/// The in-band end of a [`to_rt`] bridge.
///
/// - a plain thread: [`send`](Sender::send) blocks while the ring is full,
///   [`try_send`](Sender::try_send) does not;
/// - any async runtime: the sender is a descriptor ([`AsFd`]) that polls readable when the
///   real-time side made room after [`poll_send_io`](Sender::poll_send_io) found the ring
///   full. With tokio, use `AsyncSender` (feature `tokio`); with
///   async-io (smol, async-std):
///
///   ```ignore
///   // (runtime/tests/bridge.rs runs this)
///   let tx = async_io::Async::new_nonblocking(tx)?;
///   let mut v = Some(value);
///   tx.read_with(|tx| tx.poll_send_io(&mut v)).await?;
///   ```
///
/// Each send wakes the real-time receiver if it is waiting (its evl waker; at most once per
/// wait). `Send`, not `Sync`/`Clone`: one sender. Dropping it closes the bridge.
#[derive(Debug)]
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    pos: Cell<ProducerPos>,
    listener: Listener,
}

impl<T> Sender<T> {
    /// Sends `v` without waiting.
    ///
    /// Errors: [`TrySendError::Full`] when the ring holds `capacity` values;
    /// [`TrySendError::Closed`] when the real-time receiver was dropped.
    pub fn try_send(&self, v: T) -> core::result::Result<(), TrySendError<T>> {
        let s = &*self.shared;
        if s.rx_gone.load(Acquire) {
            return Err(TrySendError::Closed(v));
        }
        let mut p = self.pos.get();
        let r = s.ring.push(&mut p, v, false);
        self.pos.set(p);
        match r {
            Err(PushError::Full(v)) => Err(TrySendError::Full(v)),
            Ok(_) => {
                s.rx_waker.wake();
                Ok(())
            }
        }
    }

    /// The readiness-driven send, for any reactor watching [`Sender::as_fd`] for readable:
    /// sends the value in `slot` (taking it out). `Ok(())` it was sent (or `slot` was
    /// empty); `Err(WouldBlock)` the ring is full, the value stays in `slot`: wait until the
    /// descriptor polls readable, then call again; `Err(BrokenPipe)` the receiver is gone
    /// (the value stays in `slot`). As for [`Receiver::poll_recv_io`](super::Receiver::poll_recv_io):
    /// call it first, wait for readable only after `WouldBlock`.
    pub fn poll_send_io(&self, slot: &mut Option<T>) -> io::Result<()> {
        let Some(v) = slot.take() else {
            return Ok(());
        };
        let v = match self.try_send(v) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(v)) => {
                *slot = Some(v);
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            Err(TrySendError::Full(v)) => v,
        };
        self.listener.drain();
        self.shared.tx_waiting.store(true, Relaxed);
        fence(SeqCst);
        match self.try_send(v) {
            Ok(()) => {
                self.shared.tx_waiting.store(false, Relaxed);
                Ok(())
            }
            Err(TrySendError::Closed(v)) => {
                *slot = Some(v);
                Err(io::ErrorKind::BrokenPipe.into())
            }
            Err(TrySendError::Full(v)) => {
                *slot = Some(v);
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    /// Sends `v`, blocking this thread while the ring is full.
    ///
    /// Errors: [`SendError`] (with the value) when the receiver was dropped.
    pub fn send(&self, v: T) -> core::result::Result<(), SendError<T>> {
        let mut slot = Some(v);
        loop {
            match self.poll_send_io(&mut slot) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.listener.wait(None);
                }
                Err(_) => return Err(SendError(slot.take().expect("kept on error"))),
            }
        }
    }

    /// As [`Sender::send`], waiting `timeout` at most.
    ///
    /// Errors: [`TrySendError::Full`] at the timeout; [`TrySendError::Closed`].
    pub fn send_timeout(
        &self,
        v: T,
        timeout: Duration,
    ) -> core::result::Result<(), TrySendError<T>> {
        let deadline = Instant::now() + timeout;
        let mut slot = Some(v);
        loop {
            match self.poll_send_io(&mut slot) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || self.listener.wait(Some(left)) == Waited::TimedOut {
                        let v = slot.take().expect("kept on WouldBlock");
                        return self.try_send(v);
                    }
                }
                Err(_) => {
                    return Err(TrySendError::Closed(slot.take().expect("kept on error")));
                }
            }
        }
    }

    /// Whether the real-time receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.rx_gone.load(Acquire)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.tx_gone.store(true, Release);
        self.shared.rx_waker.wake();
    }
}

impl<T> AsFd for Sender<T> {
    /// The wake-up pipe's read end (non-blocking): readable when the real-time side made
    /// room after [`Sender::poll_send_io`] found the ring full, or dropped its end. Watch
    /// it; never read it yourself.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl<T> AsRawFd for Sender<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.listener.as_fd().as_raw_fd()
    }
}

/// The real-time end of a [`to_rt`] bridge: an evl future ([`recv`](RtReceiver::recv)) and
/// a `Stream`, which never allocate and make no in-band call.
///
/// Waiting registers the task's waker (a reference count, no allocation); the sender's
/// thread wakes it. Taking a value from a full ring rings the sender's descriptor if it
/// sleeps on it: one proxy write (out-of-band on the EVL core), at most once per sleep of
/// the sender. `Send`, not `Sync`/`Clone`: one receiver.
#[derive(Debug)]
pub struct RtReceiver<T> {
    shared: Arc<Shared<T>>,
    pos: ConsumerPos,
    ringer: Ringer,
    rings: u64,
}

impl<T> RtReceiver<T> {
    /// Takes the oldest value without waiting.
    ///
    /// Errors: [`TryRecvError::Empty`]; [`TryRecvError::Closed`] when empty and the sender
    /// was dropped.
    pub fn try_recv(&mut self) -> core::result::Result<T, TryRecvError> {
        if let Some(v) = self.pop() {
            return Ok(v);
        }
        if self.shared.tx_gone.load(Acquire) {
            return self.pop().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    fn pop(&mut self) -> Option<T> {
        let s = &*self.shared;
        let v = s.ring.pop(&mut self.pos).0?;
        // Pairs with the sender's fence between arming and trying again.
        fence(SeqCst);
        if s.tx_waiting.load(Relaxed) && s.tx_waiting.swap(false, Relaxed) {
            self.ringer.ring();
            self.rings += 1;
        }
        Some(v)
    }

    /// Takes the oldest value, or registers `cx`'s waker: `Ready(None)` once the sender is
    /// gone and everything was received.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_recv() {
            Ok(v) => return Poll::Ready(Some(v)),
            Err(TryRecvError::Closed) => return Poll::Ready(None),
            Err(TryRecvError::Empty) => {}
        }
        self.shared.rx_waker.register(cx.waker());
        match self.try_recv() {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// The oldest value, waiting for one: `None` once the sender is gone and everything
    /// was received. Cancel-safe: dropping the future loses nothing.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { rx: self }
    }

    /// How many times taking a value rang the sender's descriptor.
    pub fn rings(&self) -> u64 {
        self.rings
    }

    /// Whether the sender was dropped (values may still be waiting).
    pub fn is_closed(&self) -> bool {
        self.shared.tx_gone.load(Acquire)
    }
}

impl<T> Drop for RtReceiver<T> {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Release);
        // No ring into a pipe nobody reads (it would only fail).
        if !self.shared.tx_gone.load(Acquire) {
            self.ringer.ring();
        }
    }
}

impl<T> futures_core::Stream for RtReceiver<T> {
    type Item = T;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

/// The future of [`RtReceiver::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    rx: &'a mut RtReceiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}
