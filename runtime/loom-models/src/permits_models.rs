//! Exhaustive interleavings (loom) of the FIFO permit queue (runtime/src/sync/permits.rs):
//! no permit is lost or doubled when releases, first polls, cancellations and close race,
//! and a waiter that is granted is woken.

use crate::permits::{Acquire, Permits};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count::default());
    (c.clone(), Waker::from(c))
}

fn poll(a: Pin<&mut Acquire<'_>>, w: &Waker) -> Poll<bool> {
    a.poll(&mut Context::from_waker(w))
}

/// A release on another thread while the waiter's first poll queues it: the waiter gets the
/// permit (at once, or woken once and then on its next poll); nothing is left over.
#[test]
fn release_racing_a_first_poll_is_never_lost() {
    loom::model(|| {
        let p = Arc::new(Permits::new(0));
        let p2 = p.clone();
        let t = thread::spawn(move || p2.release(1));
        let (c, w) = counter();
        let mut a = Box::pin(Acquire::new(&p, 1));
        let first = poll(a.as_mut(), &w);
        t.join().unwrap();
        if first.is_pending() {
            assert_eq!(c.0.load(SeqCst), 1, "woken");
            assert_eq!(poll(a.as_mut(), &w), Poll::Ready(true));
        } else {
            assert_eq!(first, Poll::Ready(true));
        }
        assert_eq!(p.available(), 0, "the one permit is held");
    });
}

/// A queued waiter dropped while a release runs: the permit ends up on hand (given back by
/// the dropped waiter, or never handed to it), exactly once.
#[test]
fn cancel_racing_release_keeps_the_permit() {
    loom::model(|| {
        let p = Arc::new(Permits::new(0));
        let (_, w) = counter();
        let mut a = Box::pin(Acquire::new(&p, 1));
        assert!(poll(a.as_mut(), &w).is_pending());
        let p2 = p.clone();
        let t = thread::spawn(move || p2.release(1));
        drop(a);
        t.join().unwrap();
        assert_eq!(p.available(), 1);
        assert!(p.try_acquire(1).is_ok(), "no stale QUEUED bit");
    });
}

/// Two waiters, one first-polled on another thread while this thread queues the other and
/// then releases two permits: both end up granted (at once, or woken and then granted), in
/// whatever order they queued; none is left over or missing.
#[test]
fn two_waiters_two_releases() {
    loom::model(|| {
        // Leaked per run: the other thread's future outlives the thread.
        let p: &'static Permits = Box::leak(Box::new(Permits::new(0)));
        let a = thread::spawn(move || {
            let (c, w) = counter();
            let mut a = Box::pin(Acquire::new(p, 1));
            (poll(a.as_mut(), &w).is_ready(), c, w, a)
        });
        let (c, w) = counter();
        let mut f = Box::pin(Acquire::new(p, 1));
        let mine = (poll(f.as_mut(), &w).is_ready(), c, w, f);
        p.release(2);
        for (done, c, w, mut f) in [a.join().unwrap(), mine] {
            if !done {
                assert_eq!(c.0.load(SeqCst), 1, "woken once");
                assert_eq!(poll(f.as_mut(), &w), Poll::Ready(true));
            }
            std::mem::forget(f); // keeps its permit; Done owns nothing
        }
        assert_eq!(p.available(), 0);
    });
}

/// A waiter wanting two, partly served, then dropped while another thread releases: every
/// permit ends up on hand.
#[test]
fn partial_assignment_is_given_back_on_cancel() {
    loom::model(|| {
        let p = Arc::new(Permits::new(1));
        let (_, w) = counter();
        let mut a = Box::pin(Acquire::new(&p, 2));
        assert!(poll(a.as_mut(), &w).is_pending(), "took 1, needs 1 more");
        let p2 = p.clone();
        let t = thread::spawn(move || p2.release(1));
        drop(a);
        t.join().unwrap();
        assert_eq!(p.available(), 2);
    });
}

/// close racing a queued waiter's drop and a release: the waiter is released or unlinks
/// itself, never both; the queue is left with no waiter.
#[test]
fn close_racing_cancel() {
    loom::model(|| {
        let p = Arc::new(Permits::new(0));
        let (_, w) = counter();
        let mut a = Box::pin(Acquire::new(&p, 1));
        assert!(poll(a.as_mut(), &w).is_pending());
        let p2 = p.clone();
        let t = thread::spawn(move || p2.close());
        drop(a);
        t.join().unwrap();
        assert!(p.is_closed());
        let mut b = Box::pin(Acquire::new(&p, 1));
        assert_eq!(poll(b.as_mut(), &w), Poll::Ready(false));
    });
}
