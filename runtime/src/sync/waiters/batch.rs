//! The wakers one pass takes, called once the token is released.

use core::task::Waker;

/// Wakers one pass releases before it unlocks and calls them.
pub(crate) const BATCH: usize = 32;

/// Wakers taken by a pass, called once the token is released.
pub(super) struct Batch {
    wakers: [Option<Waker>; BATCH],
    n: usize,
}

impl Batch {
    pub(super) fn new() -> Self {
        Batch {
            wakers: [const { None }; BATCH],
            n: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.n == BATCH
    }

    pub(super) fn push(&mut self, w: Option<Waker>) {
        self.wakers[self.n] = w;
        self.n += 1;
    }

    /// Calls every waker (a panicking one drops the rest, uncalled, as it unwinds).
    pub(super) fn wake_all(&mut self) {
        for w in self.wakers[..self.n].iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
        self.n = 0;
    }
}
