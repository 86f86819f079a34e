//! [`oneshot`](self): one value from one sender to one receiver, once.
//!
//! One state word and one waker slot per side (`WakerSlot`, lock-free): no lock anywhere.
//! [`channel`] allocates the shared part once; sending, receiving and closing allocate
//! nothing.
//!
//! The atomics, the value's cell, the `Arc` and the waker slots come through `crate::loom`,
//! so runtime/loom-models compiles this file against loom and checks every interleaving of
//! send, receive, close and the drops (`oneshot_models.rs`).

use super::waker_slot::WakerSlot;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, Ordering::*};
use crate::loom::sync::Arc;
use core::fmt;
use core::future::Future;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A value is stored.
const VALUE: u32 = 1;
/// The sender is gone (sent or dropped).
const TX_GONE: u32 = 2;
/// The receiver is gone or closed.
const RX_GONE: u32 = 4;
/// The receiver took the value.
const TAKEN: u32 = 8;

struct Inner<T> {
    state: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
    rx_waker: WakerSlot,
    tx_waker: WakerSlot,
}

// SAFETY: the value is written by the sender, then published by setting VALUE (AcqRel CAS,
// only while RX_GONE is clear); unpublished it stays the sender's, published it is the
// receiver's (or Inner's drop's): one side at a time. It moves between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: moving an Inner to another thread moves at most the one stored `T` (`T: Send`), plus the
// state word and two WakerSlots, which are Send.
unsafe impl<T: Send> Send for Inner<T> {}

impl<T> Inner<T> {
    /// Takes the stored value.
    ///
    /// # Safety
    /// The value is initialised and this side owns it: published to the receiver (VALUE
    /// seen with Acquire, not TAKEN), or written by the sender and never published.
    unsafe fn take(&self) -> T {
        // SAFETY: caller's contract: initialised and ours.
        self.value.with_mut(|p| unsafe { (*p).assume_init_read() })
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // (A load, not `get_mut`: loom's atomics have no `get_mut`. The `Arc` that drops us
        // has synchronised with every other owner's last access.)
        let s = self.state.load(Acquire);
        if s & VALUE != 0 && s & TAKEN == 0 {
            // SAFETY: stored and never taken; we are the last owner.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// A oneshot channel: the [`Sender`] sends one value, the [`Receiver`] (a future) gets it.
///
/// Allocates the shared part (once); nothing after.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicU32::new(0),
        value: UnsafeCell::new(MaybeUninit::uninit()),
        rx_waker: WakerSlot::new(),
        tx_waker: WakerSlot::new(),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

/// The sending half of a [`channel`].
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving half of a [`channel`]; await it for the value.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] got no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing sent yet.
    Empty,
    /// The sender was dropped without sending (or the value was already received).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("nothing sent yet"),
            TryRecvError::Closed => f.write_str("the sender is gone"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T> Sender<T> {
    /// Sends `value`; gives it back if the receiver is gone (dropped or closed). Never waits.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else {
            return Err(value); // unreachable: `inner` is only taken here and in Drop
        };
        // SAFETY: VALUE is not set and only the (one) sender writes the slot; nobody reads
        // it before VALUE is published below.
        inner.value.with_mut(|p| unsafe { (*p).write(value) });
        let mut s = inner.state.load(Acquire);
        loop {
            if s & RX_GONE != 0 {
                // The receiver is gone or closed: the value was never published, it is ours.
                inner.state.fetch_or(TX_GONE, AcqRel);
                // SAFETY: written above and not published (no VALUE bit): nobody else reads
                // it, and Inner's drop does not drop it.
                return Err(unsafe { inner.take() });
            }
            // Publishes only while the receiver is there: a close after this point still
            // lets the receiver take it (`try_recv`), or drops it with the channel.
            match inner
                .state
                .compare_exchange_weak(s, s | VALUE | TX_GONE, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(x) => s = x,
            }
        }
        inner.rx_waker.wake();
        Ok(())
    }

    /// Whether the receiver is gone (dropped or closed).
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|i| i.state.load(Acquire) & RX_GONE != 0)
    }

    /// Waits until the receiver is gone (to stop work nobody waits for).
    ///
    /// # Cancellation
    /// Cancel-safe: it only watches.
    pub async fn closed(&mut self) {
        core::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for [`closed`](Sender::closed).
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        if inner.state.load(Acquire) & RX_GONE != 0 {
            return Poll::Ready(());
        }
        inner.tx_waker.register(cx.waker());
        if inner.state.load(Acquire) & RX_GONE != 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(TX_GONE, AcqRel);
            inner.rx_waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The value if it was sent; never waits.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let s = self.inner.state.load(Acquire);
        if s & VALUE != 0 && s & TAKEN == 0 {
            self.inner.state.fetch_or(TAKEN, Relaxed);
            // SAFETY: VALUE seen (Acquire): initialised and published to us; TAKEN was clear
            // and only the receiver (`&mut self`) sets it.
            return Ok(unsafe { self.inner.take() });
        }
        if s & TX_GONE != 0 || s & TAKEN != 0 {
            return Err(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Closes the receiver: a later [`Sender::send`] fails (a value already sent can still
    /// be taken with [`try_recv`](Receiver::try_recv)).
    pub fn close(&mut self) {
        let prev = self.inner.state.fetch_or(RX_GONE, AcqRel);
        if prev & TX_GONE == 0 {
            self.inner.tx_waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// # Cancellation
    /// Cancel-safe: a value is taken only by the poll that returns it.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.try_recv() {
            Ok(v) => return Poll::Ready(Ok(v)),
            Err(TryRecvError::Closed) => return Poll::Ready(Err(RecvError(()))),
            Err(TryRecvError::Empty) => {}
        }
        self.inner.rx_waker.register(cx.waker());
        match self.try_recv() {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError(()))),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // A value sent and not taken is dropped with the shared part (Inner's Drop), by
        // whichever side lets it go last.
        self.close();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("state", &self.inner.state.load(Relaxed))
            .finish()
    }
}
