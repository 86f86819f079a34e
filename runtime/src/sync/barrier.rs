//! [`Barrier`]: `n` tasks wait until all `n` have arrived, then all go on.
//!
//! One atomic word (the round and the number arrived in it) and a [`Notify`]
//! that the last arrival's `notify_waiters` releases: lock-free, no allocation.
//!
//! Its own protocol is one compare-and-swap loop on that word (an arrival either completes
//! the round, bumping it, or counts itself in it) and [`Notify`]'s guarantee that a
//! `Notified` created before a `notify_waiters` is completed by it however its polls
//! interleave with the call: the latter is what the loom model
//! `notify_waiters_completes_a_wait_created_before_it` (runtime/loom-models) checks, and
//! `wait` creates its `Notified` before it reads the round. So it has no loom model of its
//! own; runtime/tests/sync_locks.rs runs it across threads.

use super::Notify;
use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering::*};

/// A reusable barrier for `n` tasks (the tokio shape): each [`wait`](Barrier::wait) returns
/// once `n` calls have arrived in its round; exactly one of them is the leader.
///
/// [`Barrier::new`] is `const`; the tasks may run on any executors and threads.
pub struct Barrier {
    n: u32,
    /// `round << 32 | arrived`.
    state: AtomicU64,
    released: Notify,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one caller per round: the one whose arrival completed it.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`n = 0` acts as 1, as in tokio).
    pub const fn new(n: u32) -> Self {
        Barrier {
            n: if n == 0 { 1 } else { n },
            state: AtomicU64::new(0),
            released: Notify::new(),
        }
    }

    /// Arrives, and waits until `n` have arrived in this round.
    ///
    /// # Cancellation
    /// The arrival counts when the future is first polled; dropping the future after that
    /// does not take it back (as with tokio's `Barrier`): the round still completes when the
    /// others arrive, and leaves no waiter behind. Dropping it before its first poll has no
    /// effect.
    pub async fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.load(Acquire);
        let round = loop {
            let round = s >> 32;
            let arrived = (s & 0xffff_ffff) as u32 + 1;
            let new = if arrived == self.n {
                (round.wrapping_add(1) & 0xffff_ffff) << 32
            } else {
                (round << 32) | u64::from(arrived)
            };
            match self.state.compare_exchange_weak(s, new, AcqRel, Acquire) {
                Ok(_) if arrived == self.n => {
                    self.released.notify_waiters();
                    return BarrierWaitResult(true);
                }
                Ok(_) => break round,
                Err(x) => s = x,
            }
        };
        loop {
            // Created before the check: a notify_waiters after the check completes it.
            let released = self.released.notified();
            if self.state.load(Acquire) >> 32 != round {
                return BarrierWaitResult(false);
            }
            released.await;
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Relaxed);
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &(s & 0xffff_ffff))
            .finish()
    }
}
