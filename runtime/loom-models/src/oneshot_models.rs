//! Exhaustive interleavings (loom) of oneshot (runtime/src/sync/oneshot.rs) and its waker
//! slot (runtime/src/sync/waker_slot.rs): every value sent is delivered exactly once or
//! given back (or dropped with the channel when nobody can take it), exactly once in all;
//! a waiting receiver (or a sender waiting in `closed`) is never left unwoken.

use crate::oneshot::{self, TryRecvError};
use crate::waker_slot::WakerSlot;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;
use std::task::Wake;

/// A value that counts its drops.
struct V(u32, Arc<AtomicUsize>);

impl Drop for V {
    fn drop(&mut self) {
        self.1.fetch_add(1, Relaxed);
    }
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Release);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, Release);
    }
}

/// Polls `f` to completion on this model thread, yielding to the other model threads until
/// its waker is woken (a wake that never comes makes loom exceed its branch limit: a failure).
/// (Not `thread::park`: loom's `unpark` must not reach a thread blocked in `join`.)
fn block_on<F: Future>(f: F) -> F::Output {
    let (woken, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut f = core::pin::pin!(f);
    let mut seen = 0;
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        loop {
            let n = woken.0.load(Acquire);
            if n != seen {
                seen = n;
                break;
            }
            thread::yield_now();
        }
    }
}

fn counting() -> (std::sync::Arc<Count>, Waker) {
    let c = std::sync::Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// Send on one thread, await on the other: the receiver gets the value (a lost wake would be
/// a loom deadlock), and it is dropped once.
#[test]
fn send_vs_receive() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let d = drops.clone();
        let t = thread::spawn(move || assert!(tx.send(V(7, d)).is_ok(), "the receiver is there"));
        let v = block_on(rx).expect("sent");
        assert_eq!(v.0, 7);
        t.join().unwrap();
        assert_eq!(drops.load(Relaxed), 0);
        drop(v);
        assert_eq!(drops.load(Relaxed), 1);
    });
}

/// The sender drops without sending while the receiver waits: it wakes with `RecvError`.
#[test]
fn sender_drop_vs_receive() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        let t = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        t.join().unwrap();
    });
}

/// Send against the receiver's drop: either the send fails and gives the value back, or it
/// succeeds and the value is dropped with the channel; once either way.
#[test]
fn send_vs_receiver_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let d = drops.clone();
        let t = thread::spawn(move || match tx.send(V(1, d)) {
            Ok(()) => false,
            Err(v) => {
                assert_eq!(v.0, 1);
                true
            }
        });
        drop(rx);
        let returned = t.join().unwrap();
        let _ = returned;
        assert_eq!(drops.load(Relaxed), 1, "dropped once, by whoever had it");
    });
}

/// Send against `close`: a send that succeeded was published before the close and can
/// still be taken; one that failed got its value back. Exactly once in all.
#[test]
fn send_vs_close() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel();
        let d = drops.clone();
        let t = thread::spawn(move || tx.send(V(2, d)).map_err(|v| v.0));
        rx.close();
        let early = rx.try_recv();
        let sent = t.join().unwrap();
        let late = rx.try_recv();
        match sent {
            Ok(()) => {
                // Published before the close: exactly one of the two reads has it.
                let got = match (early, late) {
                    (Ok(v), Err(TryRecvError::Closed)) | (Err(TryRecvError::Empty), Ok(v)) => v,
                    (e, l) => panic!(
                        "sent once, got {:?} then {:?}",
                        e.map(|v| v.0),
                        l.map(|v| v.0)
                    ),
                };
                assert_eq!(got.0, 2);
            }
            Err(v) => {
                assert_eq!(v, 2);
                assert!(early.is_err() && late.is_err(), "refused: nothing to take");
            }
        }
        drop(rx);
        assert_eq!(drops.load(Relaxed), 1);
    });
}

/// The receiver is polled with one waker, then another, while the value is sent: if the
/// last poll was pending, its waker (not only the first) is woken; the value is taken once.
#[test]
fn receive_with_changing_wakers() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let (tx, mut rx) = oneshot::channel::<u32>();
        let t = thread::spawn(move || tx.send(5).is_ok());
        let (c1, w1) = counting();
        let (c2, w2) = counting();
        let mut got = None;
        for w in [&w1, &w2] {
            let mut cx = Context::from_waker(w);
            if let Poll::Ready(r) = Pin::new(&mut rx).poll(&mut cx) {
                got = Some(r.expect("sent"));
                break;
            }
        }
        assert!(t.join().unwrap());
        match got {
            Some(v) => assert_eq!(v, 5),
            None => {
                assert!(c2.0.load(Relaxed) >= 1, "the latest waker is woken");
                let mut cx = Context::from_waker(&w2);
                assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(5)));
            }
        }
        let _ = c1;
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "taken once");
    });
}

/// `Sender::closed` on one thread, the receiver dropped on the other: it completes.
#[test]
fn closed_vs_receiver_drop() {
    loom::model(|| {
        let (mut tx, rx) = oneshot::channel::<u32>();
        let t = thread::spawn(move || {
            block_on(poll_fn(|cx| tx.poll_closed(cx)));
            assert!(tx.is_closed());
        });
        drop(rx);
        t.join().unwrap();
    });
}

/// The slot alone: a registration racing two wakes; the registered waker is woken or the
/// registration saw the wake under way and woke itself.
#[test]
fn slot_register_vs_wakes() {
    loom::model(|| {
        let slot = Arc::new(WakerSlot::new());
        let (c1, w1) = counting();
        slot.register(&w1);
        let s = slot.clone();
        let t = thread::spawn(move || s.wake());
        let (c2, w2) = counting();
        slot.register(&w2);
        t.join().unwrap();
        slot.wake();
        // w1 was there first: the thread's wake took it, or w2 replaced it (then the
        // thread's wake or the final one took w2).
        let (n1, n2) = (c1.0.load(Relaxed), c2.0.load(Relaxed));
        assert!(
            n2 >= 1,
            "the latest registration is woken (w1 {n1}, w2 {n2})"
        );
        assert!(n1 <= 1 && n2 <= 2);
    });
}
