//! [`broadcast`](self): every receiver gets every value, or learns how many it missed.
//!
//! A ring of `capacity` slots under an evl-core [`RawLock`](crate::core::lock), held only to
//! write one slot or clone one value out (short, bounded); a [`Notify`] wakes
//! waiting receivers. A sender never waits for a slow receiver: the oldest value is
//! overwritten and that receiver's next [`recv`](Receiver::recv) reports
//! [`RecvError::Lagged`] with the number it missed, then goes on from the oldest value
//! still held. [`channel`] allocates once; nothing after (values stay in their slot until
//! overwritten, or until the channel is dropped).
//!
//! # Why a lock
//! Every receiver gets its own clone of each value, so a read is a `T::clone` of a slot
//! the sender may be about to overwrite (the ring drops the oldest, never waits). Lock-free,
//! that needs either a per-slot sequence number with readers that copy and retry (sound only
//! for values read with atomic loads: a torn `T` must never be cloned) or per-slot reader
//! counts that the sender waits on before it overwrites (an unbounded wait of the sender on
//! its slowest reader, without priority inheritance). The lock instead is held for one slot
//! write or one clone: uncontended one compare-and-swap each way on both backends;
//! contended, a priority-inheriting futex wait on the host and short out-of-band sleeps on
//! the EVL backend (see [`RawLock`](crate::core::lock)). No caller code but `T::clone` runs
//! under it, and no method returns a guard, so a thread never asks for it while holding it.

use super::Notify;
use crate::loom::lock::RawLock;
use core::cell::UnsafeCell;
use core::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;

struct Shared<T> {
    lock: RawLock,
    /// `slots[pos % capacity]` holds the value sent at `pos`, if any.
    slots: Box<[UnsafeCell<Option<T>>]>,
    /// Values sent so far: the next position (written under the lock).
    tail: AtomicU64,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    closed: AtomicBool,
    sent: Notify,
}

// SAFETY: the slots are touched only under `lock`; values are cloned out on receivers'
// threads and dropped on senders' threads: `T: Send` (and `Sync` is not needed: no `&T`
// escapes the lock).
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: moving a Shared to another thread moves its stored `T` values (`T: Send`); the rest is
// atomics, the lock word and a Notify, none tied to a thread.
unsafe impl<T: Send> Send for Shared<T> {}

/// A broadcast channel holding the last `capacity` values (at least 1). Allocates once;
/// nothing after.
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let cap = capacity.max(1);
    let shared = Arc::new(Shared {
        lock: RawLock::new(),
        slots: (0..cap).map(|_| UnsafeCell::new(None)).collect(),
        tail: AtomicU64::new(0),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        closed: AtomicBool::new(false),
        sent: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// A sending end; clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving end: its own position in the stream.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
}

/// No receiver is left: the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no receiver is left")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Receiver::recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and this receiver has seen every value.
    Closed,
    /// This receiver fell behind: this many values were overwritten before it read them.
    /// The next receive returns the oldest value still held.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("the channel is closed"),
            RecvError::Lagged(n) => write!(f, "the receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new now.
    Empty,
    /// As [`RecvError::Closed`].
    Closed,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("nothing new"),
            TryRecvError::Closed => f.write_str("the channel is closed"),
            TryRecvError::Lagged(n) => write!(f, "the receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many receivers there are. Fails with
    /// the value if there are none. Never waits for a receiver: the oldest value is
    /// overwritten when the ring is full (the lagging receivers are told). Takes the ring's
    /// lock briefly (see [the module docs](super)).
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let sh = &*self.shared;
        let n = sh.receivers.load(Acquire);
        if n == 0 {
            return Err(SendError(value));
        }
        sh.lock.lock();
        let pos = sh.tail.load(Relaxed);
        let slot = &sh.slots[(pos % sh.slots.len() as u64) as usize];
        // SAFETY: we hold the lock: the slot is ours.
        let old = unsafe { (*slot.get()).replace(value) };
        sh.tail.store(pos + 1, Release);
        // SAFETY: taken above.
        unsafe { sh.lock.unlock() };
        drop(old); // user code, outside the lock
        sh.sent.notify_waiters();
        Ok(n)
    }

    /// A new receiver that gets the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, AcqRel);
        Receiver {
            shared: self.shared.clone(),
            next: self.shared.tail.load(Acquire),
        }
    }

    /// Receivers now.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Acquire)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, AcqRel) == 1 {
            self.shared.closed.store(true, Release);
            self.shared.sent.notify_waiters();
        }
    }
}

impl<T: Clone> Receiver<T> {
    /// The next value if there is one now. Never waits for another thread except for the
    /// ring's lock (held briefly by a send or another receive).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        try_recv(&self.shared, &mut self.next)
    }

    /// The next value, waiting for one. `Lagged(n)` if this receiver missed `n` values
    /// (then the next call returns the oldest value still held); `Closed` once every sender
    /// is gone and every value was seen.
    ///
    /// # Cancellation
    /// Cancel-safe: the position moves only in the poll that returns.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        loop {
            // Created before the check: a send after the check completes it.
            let n = self.shared.sent.notified();
            match try_recv(&self.shared, &mut self.next) {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Lagged(k)) => return Err(RecvError::Lagged(k)),
                Err(TryRecvError::Empty) => {}
            }
            n.await;
        }
    }
}

/// One receive at `*next` (see [`Receiver::try_recv`]).
fn try_recv<T: Clone>(sh: &Shared<T>, next: &mut u64) -> Result<T, TryRecvError> {
    // `closed` first: a value sent before the last sender left is then seen below.
    let closed = sh.closed.load(Acquire);
    let cap = sh.slots.len() as u64;
    sh.lock.lock();
    let tail = sh.tail.load(Relaxed);
    let r = if *next == tail {
        Err(if closed {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        })
    } else if tail - *next > cap {
        let missed = tail - cap - *next;
        *next = tail - cap;
        Err(TryRecvError::Lagged(missed))
    } else {
        let slot = &sh.slots[(*next % cap) as usize];
        // SAFETY: we hold the lock: the slot is ours to read.
        match unsafe { (*slot.get()).clone() } {
            Some(v) => {
                *next += 1;
                Ok(v)
            }
            None => Err(TryRecvError::Empty), // cannot happen: positions below tail are filled
        }
    };
    // SAFETY: taken above.
    unsafe { sh.lock.unlock() };
    r
}

impl<T> Receiver<T> {
    /// A new receiver at this one's position.
    pub fn resubscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, AcqRel);
        Receiver {
            shared: self.shared.clone(),
            next: self.next,
        }
    }

    /// Values this receiver has not read yet (including any it will be told it missed).
    pub fn len(&self) -> usize {
        (self.shared.tail.load(Acquire) - self.next) as usize
    }

    /// Whether this receiver has read every value sent so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, AcqRel);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish()
    }
}
