//! Exhaustive interleavings (loom) of the Notify waiter list (runtime/src/sync/waiters.rs):
//! no notification is lost or doubled when notifiers, first polls, re-polls with a new waker
//! and cancellations race, and whoever holds the list token does the others' list work.

use crate::waiters::wait::Wait;
use crate::waiters::Waiters;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts its wakes.
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

fn poll(w: Pin<&mut Wait<'_>>, waker: &Waker) -> Poll<()> {
    w.poll(&mut Context::from_waker(waker))
}

fn wakes(c: &Count) -> usize {
    c.0.load(SeqCst)
}

/// Every interleaving.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(f);
}

/// Interleavings with at most three preemptions: the model with three threads and two
/// waiters explores every interleaving in about a minute and a half on a slow machine (run it
/// so with `model` when changing the protocol); three preemptions already cover every order
/// of its steps that the protocol distinguishes.
fn model_bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// `notify_one` on another thread while the waiter's first poll links it: either the first
/// poll completes (it took the permit) or the waiter is woken exactly once and completes on
/// its next poll; the notification is consumed once (nothing is left for a later waiter).
#[test]
fn notify_one_racing_a_first_poll_is_never_lost() {
    model(|| {
        let w = Arc::new(Waiters::new());
        let w2 = w.clone();
        let t = thread::spawn(move || w2.notify_one());
        let (c, waker) = counter();
        let mut f = Box::pin(Wait::new(&w));
        let first = poll(f.as_mut(), &waker);
        t.join().unwrap();
        if first.is_pending() {
            assert_eq!(wakes(&c), 1, "the pending waiter was woken");
        }
        assert!(poll(f.as_mut(), &waker).is_ready());
        let mut g = Box::pin(Wait::new(&w));
        assert!(poll(g.as_mut(), &waker).is_pending(), "consumed once");
    });
}

/// A waiting future dropped while `notify_one` runs on another thread: the notification
/// survives as the permit (stored directly, left over, or passed on by the dropped waiter),
/// exactly once.
#[test]
fn cancel_racing_notify_one_keeps_the_notification() {
    model(|| {
        let w = Arc::new(Waiters::new());
        let (_, waker) = counter();
        let mut f = Box::pin(Wait::new(&w));
        assert!(poll(f.as_mut(), &waker).is_pending());
        let w2 = w.clone();
        let t = thread::spawn(move || w2.notify_one());
        drop(f);
        t.join().unwrap();
        let mut g = Box::pin(Wait::new(&w));
        assert!(poll(g.as_mut(), &waker).is_ready(), "kept as the permit");
        let mut h = Box::pin(Wait::new(&w));
        assert!(poll(h.as_mut(), &waker).is_pending(), "once");
    });
}

/// `notify_waiters` on another thread completes a future created before it, whether its
/// first poll comes before (it is woken), during, or after the call; it stores no permit.
#[test]
fn notify_waiters_completes_a_wait_created_before_it() {
    model(|| {
        let w = Arc::new(Waiters::new());
        let (c, waker) = counter();
        let mut f = Box::pin(Wait::new(&w));
        let w2 = w.clone();
        let t = thread::spawn(move || w2.notify_waiters());
        let first = poll(f.as_mut(), &waker);
        t.join().unwrap();
        if first.is_pending() {
            assert_eq!(wakes(&c), 1, "the pending waiter was woken");
        }
        assert!(poll(f.as_mut(), &waker).is_ready());
        let mut g = Box::pin(Wait::new(&w));
        assert!(poll(g.as_mut(), &waker).is_pending(), "no permit");
    });
}

/// Two waiters, two `notify_one`s from two threads (one of them holding the token while the
/// other posts): both waiters are woken exactly once, nothing is left over.
#[test]
fn two_notifications_from_two_threads_wake_two_waiters_once_each() {
    model_bounded(|| {
        let w = Arc::new(Waiters::new());
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        let mut a = Box::pin(Wait::new(&w));
        let mut b = Box::pin(Wait::new(&w));
        assert!(poll(a.as_mut(), &wa).is_pending());
        assert!(poll(b.as_mut(), &wb).is_pending());
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || w.notify_one())
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!((wakes(&ca), wakes(&cb)), (1, 1));
        assert!(poll(a.as_mut(), &wa).is_ready());
        assert!(poll(b.as_mut(), &wb).is_ready());
        let mut g = Box::pin(Wait::new(&w));
        assert!(poll(g.as_mut(), &wa).is_pending(), "nothing left over");
    });
}

/// A waiting future polled again with a different waker while `notify_one` runs: if that
/// poll returns Pending, the release happened after the waker changed, so the new waker is
/// the one woken.
#[test]
fn a_new_waker_racing_notify_one_is_the_one_woken() {
    model(|| {
        let w = Arc::new(Waiters::new());
        let (_, wa) = counter();
        let (cb, wb) = counter();
        let mut f = Box::pin(Wait::new(&w));
        assert!(poll(f.as_mut(), &wa).is_pending());
        let w2 = w.clone();
        let t = thread::spawn(move || w2.notify_one());
        let again = poll(f.as_mut(), &wb);
        t.join().unwrap();
        if again.is_pending() {
            assert_eq!(wakes(&cb), 1, "the new waker was woken");
        }
        assert!(poll(f.as_mut(), &wb).is_ready());
    });
}

/// `notify_one` and `notify_waiters` racing on two threads around one waiter (the
/// `notify_waiters` may find the `notify_one` pending and take the token): the waiter is
/// released exactly once, and at most one permit is left, as one order or the other gives.
#[test]
fn notify_one_racing_notify_waiters_release_the_waiter_once() {
    model(|| {
        let w = Arc::new(Waiters::new());
        let (c, waker) = counter();
        let mut a = Box::pin(Wait::new(&w));
        assert!(poll(a.as_mut(), &waker).is_pending());
        let w1 = w.clone();
        let t1 = thread::spawn(move || w1.notify_one());
        let w2 = w.clone();
        let t2 = thread::spawn(move || w2.notify_waiters());
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(wakes(&c), 1, "released once");
        assert!(poll(a.as_mut(), &waker).is_ready());
        let mut g = Box::pin(Wait::new(&w));
        if poll(g.as_mut(), &waker).is_ready() {
            let mut h = Box::pin(Wait::new(&w));
            assert!(poll(h.as_mut(), &waker).is_pending(), "one permit at most");
        }
    });
}

/// `notify_waiters` on one thread while a future created before it makes its first poll on
/// another, with an older waiter already listed (so the call finds work and runs a pass that
/// may drain the list before the new node is pushed): both waiters are released.
#[test]
fn notify_waiters_releases_a_waiter_pushed_during_its_pass() {
    use loom::sync::atomic::AtomicBool;
    model_bounded(|| {
        let w = Arc::new(Waiters::new());
        let (ca, wa) = counter();
        let mut a = Box::pin(Wait::new(&w));
        assert!(poll(a.as_mut(), &wa).is_pending());
        let created = Arc::new(AtomicBool::new(false));
        let called = Arc::new(AtomicBool::new(false));
        let (w1, created1, called1) = (w.clone(), created.clone(), called.clone());
        let u = thread::spawn(move || {
            let (cb, wb) = counter();
            let mut b = Box::pin(Wait::new(&w1));
            created1.store(true, SeqCst);
            let first = poll(b.as_mut(), &wb);
            while !called1.load(SeqCst) {
                thread::yield_now();
            }
            if first.is_pending() {
                assert_eq!(wakes(&cb), 1, "the new waiter was released and woken");
            }
            assert!(poll(b.as_mut(), &wb).is_ready());
        });
        let w2 = w.clone();
        let t = thread::spawn(move || {
            // The future on `u` is created before this call.
            while !created.load(SeqCst) {
                thread::yield_now();
            }
            w2.notify_waiters();
            called.store(true, SeqCst);
        });
        t.join().unwrap();
        u.join().unwrap();
        assert_eq!(wakes(&ca), 1, "the listed waiter was released");
        assert!(poll(a.as_mut(), &wa).is_ready());
    });
}
