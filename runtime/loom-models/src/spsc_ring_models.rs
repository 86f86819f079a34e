//! The ring (runtime/src/ring.rs): a producer that never waits, a consumer racing it, in
//! refusing and in overwriting mode. Every value ends in exactly one place (taken, given
//! back to the producer as displaced, or still in the ring), in order, and the consumer's
//! skip count equals what was overwritten.

use crate::spsc_ring::{PushError, Pushed, Ring};
use loom::sync::Arc;
use loom::thread;

#[test]
fn refusing_ring_delivers_everything_in_order() {
    loom::model(|| {
        let (ring, mut p, mut c) = Ring::<u32>::new(2);
        let ring = Arc::new(ring);
        let r2 = ring.clone();
        let prod = thread::spawn(move || {
            let mut i = 0;
            while i < 3 {
                match r2.push(&mut p, i, false) {
                    Ok(Pushed::Stored) => i += 1,
                    Ok(Pushed::Displaced(_)) => panic!("refusing mode never displaces"),
                    Err(PushError::Full(v)) => {
                        assert_eq!(v, i);
                        thread::yield_now();
                    }
                }
            }
        });
        let mut next = 0;
        while next < 3 {
            match ring.pop(&mut c) {
                (Some(v), 0) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                (Some(_), _) => panic!("nothing is skipped in refusing mode"),
                (None, _) => thread::yield_now(),
            }
        }
        prod.join().unwrap();
        assert_eq!(ring.pop(&mut c), (None, 0));
    });
}

#[test]
fn overwriting_producer_never_waits_and_loses_nothing_silently() {
    loom::model(|| {
        const N: u32 = 4;
        let (ring, mut p, mut c) = Ring::<u32>::new(2);
        let ring = Arc::new(ring);
        let r2 = ring.clone();
        let prod = thread::spawn(move || {
            let mut displaced = Vec::new();
            for i in 0..N {
                match r2.push(&mut p, i, true) {
                    Ok(Pushed::Stored) => {}
                    Ok(Pushed::Displaced(v)) => displaced.push(v),
                    Err(_) => panic!("overwriting mode never refuses"),
                }
            }
            displaced
        });
        let mut got = Vec::new();
        let mut skipped = 0;
        for _ in 0..2 {
            let (v, s) = ring.pop(&mut c);
            skipped += s;
            got.extend(v);
        }
        let displaced = prod.join().unwrap();
        loop {
            let (v, s) = ring.pop(&mut c);
            skipped += s;
            match v {
                Some(v) => got.push(v),
                None => break,
            }
        }
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
        let mut all: Vec<u32> = got.iter().chain(displaced.iter()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>(), "each value exactly once");
        assert_eq!(
            skipped as usize,
            displaced.len(),
            "every overwrite is reported"
        );
        assert_eq!(ring.overwritten() as usize, displaced.len());
    });
}

#[test]
fn dropping_the_ring_drops_what_is_left() {
    loom::model(|| {
        let (ring, mut p, mut c) = Ring::<Arc<()>>::new(2);
        let tracker = Arc::new(());
        for _ in 0..3 {
            let _ = ring.push(&mut p, tracker.clone(), true);
        }
        assert!(ring.pop(&mut c).0.is_some());
        drop(ring);
        assert_eq!(Arc::strong_count(&tracker), 1);
    });
}
