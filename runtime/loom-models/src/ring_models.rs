//! Exhaustive interleavings (loom) of the bounded MPSC ring (runtime/src/sync/ring.rs):
//! concurrent producers and the consumer never lose, duplicate or reorder a producer's
//! values, and a full ring refuses instead of overwriting.

use crate::ring::{Ring, Slot};
use loom::thread;
use std::sync::Arc;

struct Q {
    ring: Ring,
    slots: Vec<Slot<u32>>,
}

fn q(cap: usize) -> Arc<Q> {
    Arc::new(Q {
        ring: Ring::new(),
        slots: (0..cap).map(|_| Slot::new()).collect(),
    })
}

/// Two producers and the consumer at once on a ring of 2: every value arrives once, each
/// producer's in order; a push onto a full ring refuses.
#[test]
fn two_producers_one_consumer() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let q = q(2);
        let prod = |base: u32| {
            let q = q.clone();
            thread::spawn(move || q.ring.push(&q.slots, base).is_ok())
        };
        let a = prod(0);
        let b = prod(10);
        let mut got = Vec::new();
        // SAFETY: this thread is the one consumer.
        if let Some(v) = unsafe { q.ring.pop(&q.slots) } {
            got.push(v);
        }
        assert!(a.join().unwrap(), "room for two");
        assert!(b.join().unwrap(), "room for two");
        // SAFETY: this thread is the one consumer (the producers only push), and `q.slots` is the
        // slice every push on this ring used.
        while let Some(v) = unsafe { q.ring.pop(&q.slots) } {
            got.push(v);
        }
        got.sort();
        assert_eq!(got, [0, 10]);
    });
}

/// Two producers racing for the last free slot while the consumer pops: each value arrives
/// at most once and in claim order; the one that found the ring full got its value back.
#[test]
fn producers_race_for_the_last_slot() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let q = q(2);
        q.ring.push(&q.slots, 1).unwrap();
        let prod = |v: u32| {
            let q = q.clone();
            thread::spawn(move || q.ring.push(&q.slots, v).is_ok())
        };
        let a = prod(2);
        let b = prod(3);
        // SAFETY: this thread is the one consumer.
        assert_eq!(unsafe { q.ring.pop(&q.slots) }, Some(1));
        let ok = u32::from(a.join().unwrap()) + u32::from(b.join().unwrap());
        assert!(ok >= 1, "the pop made room for at least one");
        let mut n = 0;
        // SAFETY: this thread is the one consumer (the producers only push), and `q.slots` is the
        // slice every push on this ring used.
        while let Some(v) = unsafe { q.ring.pop(&q.slots) } {
            assert!(v == 2 || v == 3);
            n += 1;
        }
        assert_eq!(n, ok);
    });
}

/// A push racing a pop on a full ring of 1: the push either fails (full) or lands after the
/// pop freed the slot; nothing is overwritten.
#[test]
fn full_ring_refuses() {
    loom::model(|| {
        let q = q(1);
        q.ring.push(&q.slots, 1).unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || q2.ring.push(&q2.slots, 2).is_ok());
        // SAFETY: this thread is the one consumer.
        assert_eq!(unsafe { q.ring.pop(&q.slots) }, Some(1));
        let pushed = t.join().unwrap();
        // SAFETY: this thread is the one consumer (the producer only pushes, and is joined), and
        // `q.slots` is the slice every push on this ring used.
        let next = unsafe { q.ring.pop(&q.slots) };
        assert_eq!(next, if pushed { Some(2) } else { None });
    });
}
