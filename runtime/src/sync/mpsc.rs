//! [`mpsc`](self): a bounded multi-producer, single-consumer channel.
//!
//! * The queue is a lock-free ring (the private `sync/ring.rs`) of a capacity fixed at
//!   creation: boxed once by [`channel`], or a caller's `static` [`StaticChannel`] (no heap
//!   at all).
//! * Room is counted by a FIFO [`Semaphore`](super::Semaphore) queue: [`Sender::send`] waits
//!   for a slot in the order the senders asked, [`Sender::try_send`] fails with
//!   [`TrySendError::Full`] at once.
//! * The receiver's waker sits in a lock-free slot ([`atomic_waker::AtomicWaker`]).
//!
//! Nothing allocates after creation. Sending and receiving are lock-free while no sender
//! waits for room; a sender that waits, and the receive that makes room for it, take the
//! room queue's lock briefly (see [the module docs](super)).

use super::permits::{Acquire as RawAcquire, List, Permits, TryFail};
use super::ring::Ring;
#[doc(hidden)]
pub use super::ring::Slot;
use super::Notify;
use atomic_waker::AtomicWaker;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::poll_fn;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::pin::pin;
use core::task::{Context, Poll};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;

use crate::loom::lock::RawLock;

/// The channel's shared state, apart from the slots.
#[derive(Debug)]
pub struct Chan<T> {
    ring: Ring,
    room: Permits,
    rx_waker: AtomicWaker,
    senders: AtomicUsize,
    rx_closed: AtomicBool,
    /// Rung when the receiver goes (for `Sender::closed`).
    closed: Notify,
    _t: PhantomData<fn() -> T>,
}

impl<T> Chan<T> {
    const fn new(cap: usize) -> Self {
        Chan {
            ring: Ring {
                head: AtomicUsize::new(0),
                tail: AtomicUsize::new(0),
            },
            room: Permits {
                state: AtomicUsize::new(Permits::state_for(cap)),
                lock: RawLock::new(),
                list: UnsafeCell::new(List::new()),
            },
            rx_waker: AtomicWaker::new(),
            senders: AtomicUsize::new(1),
            rx_closed: AtomicBool::new(false),
            closed: Notify::new(),
            _t: PhantomData,
        }
    }
}

const fn empty_slot<T>() -> Slot<T> {
    Slot {
        seq: AtomicUsize::new(0),
        val: UnsafeCell::new(MaybeUninit::uninit()),
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Where a channel lives: [`HeapStorage`] (from [`channel`]) or [`StaticStorage`] (from a
/// [`StaticChannel`]). Sealed.
pub trait Storage<T>: Clone + Unpin + sealed::Sealed {
    #[doc(hidden)]
    fn chan(&self) -> &Chan<T>;
    #[doc(hidden)]
    fn slots(&self) -> &[Slot<T>];
}

/// The storage of a channel made by [`channel`]: one allocation, shared by its ends.
pub struct HeapStorage<T>(Arc<Heap<T>>);

struct Heap<T> {
    chan: Chan<T>,
    slots: Box<[Slot<T>]>,
}

impl<T> Drop for Heap<T> {
    fn drop(&mut self) {
        // SAFETY: we are the last owner: nobody else pops (or pushes).
        while unsafe { self.chan.ring.pop(&self.slots) }.is_some() {}
    }
}

impl<T> Clone for HeapStorage<T> {
    fn clone(&self) -> Self {
        HeapStorage(self.0.clone())
    }
}

impl<T> sealed::Sealed for HeapStorage<T> {}
impl<T> Storage<T> for HeapStorage<T> {
    fn chan(&self) -> &Chan<T> {
        &self.0.chan
    }
    fn slots(&self) -> &[Slot<T>] {
        &self.0.slots
    }
}

impl<T> fmt::Debug for HeapStorage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeapStorage")
    }
}

/// The storage of a channel in a [`StaticChannel`].
pub struct StaticStorage<T: 'static> {
    chan: &'static Chan<T>,
    slots: &'static [Slot<T>],
}

impl<T> Clone for StaticStorage<T> {
    fn clone(&self) -> Self {
        StaticStorage {
            chan: self.chan,
            slots: self.slots,
        }
    }
}

impl<T> sealed::Sealed for StaticStorage<T> {}
impl<T> Storage<T> for StaticStorage<T> {
    fn chan(&self) -> &Chan<T> {
        self.chan
    }
    fn slots(&self) -> &[Slot<T>] {
        self.slots
    }
}

impl<T> fmt::Debug for StaticStorage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticStorage")
    }
}

/// A bounded channel of `capacity` values (at least 1). Allocates its slots and shared
/// state once, here; nothing after.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let cap = capacity.max(1);
    let slots: Box<[Slot<T>]> = (0..cap).map(|_| empty_slot()).collect();
    let st = HeapStorage(Arc::new(Heap {
        chan: Chan::new(cap),
        slots,
    }));
    (Sender::new(st.clone()), Receiver::new(st))
}

/// A channel of `N` values in caller-provided (typically `static`) storage: no heap at all.
///
/// ```
/// use evl::sync::mpsc::StaticChannel;
/// # let _ = evl::core::backend::select(evl::core::backend::Selection::Force(evl::Backend::Host));
/// static CH: StaticChannel<u32, 4> = StaticChannel::new();
/// let (tx, mut rx) = CH.split().unwrap();
/// tx.try_send(7).unwrap();
/// assert_eq!(rx.try_recv(), Ok(7));
/// assert!(CH.split().is_none(), "one pair of ends per static channel");
/// ```
///
/// Values left in it when both ends are gone stay there (a `static` is never dropped).
pub struct StaticChannel<T: 'static, const N: usize> {
    chan: Chan<T>,
    slots: [Slot<T>; N],
    split: AtomicBool,
}

// SAFETY: as `Chan` and `Slot` (their fields are atomics, a lock-guarded list and slots whose
// values move between threads): `T: Send`.
unsafe impl<T: Send, const N: usize> Sync for StaticChannel<T, N> {}

impl<T, const N: usize> StaticChannel<T, N> {
    /// An empty channel (`N` = 0 acts as a channel that is always full).
    pub const fn new() -> Self {
        StaticChannel {
            chan: Chan::new(N),
            slots: [const { empty_slot() }; N],
            split: AtomicBool::new(false),
        }
    }

    /// The two ends, the first time; `None` after that (one sender family, one receiver).
    pub fn split(&'static self) -> Option<(StaticSender<T>, StaticReceiver<T>)> {
        if self.split.swap(true, AcqRel) {
            return None;
        }
        let st = StaticStorage {
            chan: &self.chan,
            slots: &self.slots,
        };
        Some((Sender::new(st.clone()), Receiver::new(st)))
    }
}

impl<T, const N: usize> Default for StaticChannel<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for StaticChannel<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticChannel")
            .field("capacity", &N)
            .field("split", &self.split.load(Relaxed))
            .finish()
    }
}

/// The sending end of a [`StaticChannel`].
pub type StaticSender<T> = Sender<T, StaticStorage<T>>;
/// The receiving end of a [`StaticChannel`].
pub type StaticReceiver<T> = Receiver<T, StaticStorage<T>>;

/// A sending end; clone it for more senders.
pub struct Sender<T, S: Storage<T> = HeapStorage<T>> {
    st: S,
    _t: PhantomData<fn(T)>,
}

/// The receiving end.
pub struct Receiver<T, S: Storage<T> = HeapStorage<T>> {
    st: S,
    _t: PhantomData<fn() -> T>,
}

/// The receiver is gone: the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the receiver is gone")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send: the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// Every slot is taken (or senders wait for room before this call).
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("the receiver is gone"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`] got no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is queued now.
    Empty,
    /// Nothing is queued and every sender is gone.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Disconnected => f.write_str("the channel is empty and closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T, S: Storage<T>> Sender<T, S> {
    fn new(st: S) -> Self {
        Sender {
            st,
            _t: PhantomData,
        }
    }

    /// Sends `value`, waiting for a free slot if every one is taken (senders get room in
    /// the order they started waiting). Fails with the value if the receiver is gone.
    ///
    /// # Cancellation
    /// Dropping the future before it completes sends nothing and drops the value with the
    /// future; it leaves the room queue (other senders keep their order, a slot it had been
    /// handed goes to the next). To keep the value on cancellation, [`reserve`](Self::reserve)
    /// first (cancel-safe), then [`Permit::send`].
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.reserve().await {
            Ok(p) => {
                p.send(value);
                Ok(())
            }
            Err(SendError(())) => Err(SendError(value)),
        }
    }

    /// Sends `value` if a slot is free now. Never waits.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let c = self.st.chan();
        if c.rx_closed.load(Acquire) {
            return Err(TrySendError::Closed(value));
        }
        match c.room.try_acquire(1) {
            Ok(()) => {
                Permit::new(self).send(value);
                Ok(())
            }
            Err(TryFail::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryFail::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Waits for a free slot and reserves it: the [`Permit`] then sends without waiting.
    ///
    /// # Cancellation
    /// Cancel-safe: dropping the future leaves the room queue (a slot it had been handed
    /// goes to the next sender); other senders keep their order.
    pub async fn reserve(&self) -> Result<Permit<'_, T, S>, SendError<()>> {
        let c = self.st.chan();
        if c.rx_closed.load(Acquire) {
            return Err(SendError(()));
        }
        let mut raw = pin!(RawAcquire::new(&c.room, 1));
        if poll_fn(|cx| raw.as_mut().poll(cx)).await {
            Ok(Permit::new(self))
        } else {
            Err(SendError(()))
        }
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.st.chan().rx_closed.load(Acquire)
    }

    /// Waits until the receiver is gone.
    ///
    /// # Cancellation
    /// Cancel-safe: it only watches.
    pub async fn closed(&self) {
        let c = self.st.chan();
        loop {
            let n = c.closed.notified();
            if c.rx_closed.load(Acquire) {
                return;
            }
            n.await;
        }
    }

    /// Free slots now (a snapshot).
    pub fn capacity(&self) -> usize {
        self.st.chan().room.available()
    }

    /// The capacity fixed at creation.
    pub fn max_capacity(&self) -> usize {
        self.st.slots().len()
    }
}

impl<T, S: Storage<T>> Clone for Sender<T, S> {
    fn clone(&self) -> Self {
        self.st.chan().senders.fetch_add(1, Relaxed);
        Sender::new(self.st.clone())
    }
}

impl<T, S: Storage<T>> Drop for Sender<T, S> {
    fn drop(&mut self) {
        let c = self.st.chan();
        if c.senders.fetch_sub(1, AcqRel) == 1 {
            c.rx_waker.wake(); // the receiver sees the end
        }
    }
}

impl<T, S: Storage<T>> fmt::Debug for Sender<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Sender")
            .field("capacity", &self.capacity())
            .field("max_capacity", &self.max_capacity())
            .finish()
    }
}

/// A reserved slot ([`Sender::reserve`]): [`send`](Permit::send) fills it without waiting;
/// dropping it frees the slot.
#[must_use = "dropping the permit frees the slot unused"]
pub struct Permit<'a, T, S: Storage<T> = HeapStorage<T>> {
    tx: &'a Sender<T, S>,
    _t: PhantomData<fn(T)>,
}

impl<'a, T, S: Storage<T>> Permit<'a, T, S> {
    fn new(tx: &'a Sender<T, S>) -> Self {
        Permit {
            tx,
            _t: PhantomData,
        }
    }

    /// Sends `value` into the reserved slot. Never waits.
    pub fn send(self, value: T) {
        let st = &self.tx.st;
        let c = st.chan();
        core::mem::forget(self); // the slot now belongs to the value: freed by the receiver
                                 // The reserved room guarantees a free slot; should the ring disagree, the value is
                                 // dropped rather than the call panicking.
        let _ = c.ring.push(st.slots(), value);
        c.rx_waker.wake();
    }
}

impl<T, S: Storage<T>> Drop for Permit<'_, T, S> {
    fn drop(&mut self) {
        self.tx.st.chan().room.release(1);
    }
}

impl<T, S: Storage<T>> fmt::Debug for Permit<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::Permit")
    }
}

impl<T, S: Storage<T>> Receiver<T, S> {
    fn new(st: S) -> Self {
        Receiver {
            st,
            _t: PhantomData,
        }
    }

    /// The next value, waiting for one; `None` once every sender is gone and the queue is
    /// empty.
    ///
    /// # Cancellation
    /// Cancel-safe: a value is taken off the queue only by the poll that returns it.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next value if one is queued now. Never waits.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.pop() {
            return Ok(v);
        }
        if self.st.chan().senders.load(Acquire) == 0 {
            // A last send may have landed before the last sender left.
            return self.pop().ok_or(TryRecvError::Disconnected);
        }
        Err(TryRecvError::Empty)
    }

    /// Polls for the next value (as [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_recv() {
            Ok(v) => return Poll::Ready(Some(v)),
            Err(TryRecvError::Disconnected) => return Poll::Ready(None),
            Err(TryRecvError::Empty) => {}
        }
        self.st.chan().rx_waker.register(cx.waker());
        match self.try_recv() {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// Closes the channel: sends fail from now on (waiting senders too); values already
    /// queued can still be received.
    pub fn close(&mut self) {
        let c = self.st.chan();
        c.rx_closed.store(true, Release);
        c.room.close();
        c.closed.notify_waiters();
    }

    /// Values queued now (a snapshot).
    pub fn len(&self) -> usize {
        self.st.chan().ring.len()
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity fixed at creation.
    pub fn max_capacity(&self) -> usize {
        self.st.slots().len()
    }

    fn pop(&mut self) -> Option<T> {
        // SAFETY: the one Receiver is the one consumer (`&mut self`), and the slots are the
        // channel's own.
        let v = unsafe { self.st.chan().ring.pop(self.st.slots()) }?;
        self.st.chan().room.release(1);
        Some(v)
    }
}

impl<T, S: Storage<T>> Drop for Receiver<T, S> {
    fn drop(&mut self) {
        self.close();
        while self.pop().is_some() {}
    }
}

impl<T, S: Storage<T>> futures_core::Stream for Receiver<T, S> {
    type Item = T;

    fn poll_next(self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T, S: Storage<T>> fmt::Debug for Receiver<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Receiver")
            .field("len", &self.len())
            .finish()
    }
}
