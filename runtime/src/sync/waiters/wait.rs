//! The owner's side of one wait: the node inside the pinned future, its first poll (the
//! push), later polls, and its drop (see the [parent module](super) for the protocol).

use super::{generation, pending, Waiter, Waiters, ALL, NONE, ONE, PERMIT, P_MAX, P_ONE, RESCAN};
use crate::loom::sync::atomic::{fence, Ordering::*};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use pin_project_lite::pin_project;

/// Where a [`Wait`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Not polled yet: not pushed.
    Init,
    /// Pushed (listed, or released: the node's `notified` word says which).
    Waiting,
    /// Completed.
    Done,
}

pin_project! {
    /// The owner's side of one wait: the node and what only the owner touches. Must be
    /// pinned to be polled; dropping it unlinks its node (see [`Waiters`]). The node is
    /// structurally pinned (pin-project-lite projects to it; nothing moves it out).
    #[derive(Debug)]
    #[project = WaitProj]
    pub(crate) struct Wait<'a> {
        waiters: &'a Waiters,
        // The generation at creation.
        generation: u64,
        stage: Stage,
        // A clone of the waker the node holds: compared without the token on every poll.
        last: Option<Waker>,
        #[pin]
        node: Waiter,
    }

    impl<'a> PinnedDrop for Wait<'a> {
        fn drop(this: Pin<&mut Self>) {
            this.project().drop_node();
        }
    }
}

// SAFETY: the node is reached by other threads only through the protocol of the module docs
// (atomics, or under the token); the owner-only fields go with the owner. Wakers are Send.
unsafe impl Send for Wait<'_> {}
// SAFETY: `&Wait` gives access to nothing but the stage (plain data, `Debug`).
unsafe impl Sync for Wait<'_> {}

impl<'a> Wait<'a> {
    /// A wait on `waiters`, created now (a `notify_waiters` from now on completes it).
    pub(crate) fn new(waiters: &'a Waiters) -> Self {
        Wait {
            waiters,
            generation: generation(waiters.state.load(SeqCst)),
            stage: Stage::Init,
            last: None,
            node: Waiter::new(),
        }
    }

    pub(crate) fn stage(&self) -> Stage {
        self.stage
    }

    /// Polls: completes once notified (by a permit, `notify_one`, or a `notify_waiters` since
    /// creation).
    pub(crate) fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        match *this.stage {
            Stage::Init => this.poll_first(cx),
            Stage::Waiting => this.poll_again(cx),
            Stage::Done => Poll::Ready(()),
        }
    }
}

impl WaitProj<'_, '_> {
    fn done(&mut self) -> Poll<()> {
        *self.stage = Stage::Done;
        Poll::Ready(())
    }

    fn poll_first(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let w = *self.waiters;
        let mut s = w.state.load(SeqCst);
        loop {
            if generation(s) != *self.generation {
                return self.done(); // notify_waiters was called since creation
            }
            if s & PERMIT == 0 {
                break;
            }
            match w
                .state
                .compare_exchange_weak(s, s & !PERMIT, SeqCst, SeqCst)
            {
                Ok(_) => return self.done(), // consumed the permit
                Err(x) => s = x,
            }
        }
        // Clones are user code: before anything is published.
        let waker = cx.waker().clone();
        *self.last = Some(waker.clone());
        // SAFETY: the node is not pushed yet: its fields are ours.
        unsafe {
            *self.node.waker.get() = Some(waker);
            *self.node.generation.get() = *self.generation;
        }
        *self.stage = Stage::Waiting;
        let node = &*self.node as *const Waiter as *mut Waiter;
        let mut head = w.incoming.load(Relaxed);
        loop {
            // SAFETY: the link is ours until the CAS publishes the node.
            unsafe { *(*node).next.get() = head };
            match w
                .incoming
                .compare_exchange_weak(head, node, SeqCst, Relaxed)
            {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        // A permit stored, or a notify_waiters made, between the check above and the push
        // may have missed this node: claim the permit for the oldest waiter / ask for a
        // rescan. (Each side writes, fences, then reads the other's word: one of them sees
        // the other.)
        fence(SeqCst);
        let mut s = w.state.load(SeqCst);
        let post = loop {
            let stale = generation(s) != *self.generation;
            let mut new = s;
            if s & PERMIT != 0 && pending(s) < P_MAX {
                new = (s & !PERMIT) + P_ONE;
            }
            if stale {
                new |= RESCAN;
            }
            if new == s {
                // RESCAN may already be set by a pass that drained before our push: post
                // all the same, so that a pass starts after it.
                break stale;
            }
            match w.state.compare_exchange_weak(s, new, SeqCst, SeqCst) {
                Ok(_) => break true,
                Err(x) => s = x,
            }
        };
        if post {
            w.post();
        }
        if self.node.notified() != NONE {
            return self.done();
        }
        Poll::Pending
    }

    fn poll_again(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.node.notified() != NONE {
            return self.done();
        }
        let w = *self.waiters;
        if (*self.last)
            .as_ref()
            .is_some_and(|l| l.will_wake(cx.waker()))
        {
            if w.has_work() {
                w.run();
            }
        } else {
            // A different waker: the node's is the token holder's to read, so swap it under
            // the token (the one wait here, see the module docs).
            let new = cx.waker().clone();
            let keep = new.clone();
            let node: *const Waiter = &*self.node;
            let old = w.locked(|_| {
                // SAFETY: our node, pinned in place.
                let n = unsafe { &*node };
                if n.notified() == NONE {
                    // SAFETY: token held and node unreleased: its waker is ours to change.
                    unsafe { (*n.waker.get()).replace(new) }
                } else {
                    Some(new) // released meanwhile: completes below
                }
            });
            drop(old); // user code, outside the token
            *self.last = Some(keep);
        }
        if self.node.notified() != NONE {
            return self.done();
        }
        Poll::Pending
    }
}

impl WaitProj<'_, '_> {
    /// The drop: unlinks the node if it is still linked, passes an unconsumed `notify_one` on.
    fn drop_node(self) {
        if *self.stage != Stage::Waiting {
            return; // never pushed, or completed
        }
        let w = *self.waiters;
        match self.node.notified() {
            ALL => return,
            ONE => return w.notify_one(), // chosen but not completed: pass it on
            _ => {}
        }
        let node: *const Waiter = &*self.node;
        let forward = w.locked(|list| {
            // SAFETY: we hold the token; the node may still be on `incoming`.
            unsafe { w.drain(list) };
            // SAFETY: our node, valid (we are dropping it in place: pinned).
            match unsafe { (*node).notified() } {
                NONE => {
                    // SAFETY: unreleased and drained: linked in the list.
                    unsafe { list.unlink(node) };
                    w.listed.fetch_sub(1, SeqCst);
                    false
                }
                ONE => true,
                _ => false,
            }
        });
        if forward {
            w.notify_one();
        }
    }
}
