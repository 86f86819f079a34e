//! The futex wait (host backend): a turn that blocks with no fd registered waits on the
//! caller's word, bounded by the earliest deadline; `unpark` ends it; with an fd registered,
//! or when the caller was notified meanwhile, it does not park.

use evl_reactor::core::poll::unpark;
use evl_reactor::core::Xbuf;
use evl_reactor::timer::Entry;
use evl_reactor::{now_ns, Config, Reactor, Wait};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

#[path = "support/waker.rs"]
mod waker;
use waker::counter;

fn host() -> evl_reactor::core::Thread {
    waker::host("park-test")
}

const PARKED: u32 = 7;

#[test]
fn a_timer_only_turn_is_a_futex_wait_bounded_by_the_deadline_never_early() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let e = pin!(Entry::new());
    let (c, w) = counter();
    e.register(&w);
    let due = now_ns() + 2_000_077;
    // SAFETY: pinned here; fired before it drops.
    unsafe { r.arm(e.as_ref(), due).unwrap() };
    let word = AtomicU32::new(PARKED);
    let mut turns = 0;
    while c.0.load(SeqCst) == 0 {
        let t = r
            .turn_parked(Wait::Block, || Some((&word, PARKED)), || ())
            .unwrap();
        assert!(!t.woken, "a futex turn has no element to drain");
        assert_eq!(r.last_deadline(), Some(due));
        turns += 1;
    }
    assert!(now_ns() >= due, "never early");
    let st = r.stats();
    assert_eq!(
        st.futex_waits, turns,
        "every blocking turn parked on the word"
    );
    assert_eq!(st.blocking, turns);
    assert_eq!(st.timed_waits, turns);
    assert_eq!(st.timers_fired, 1);
}

#[test]
fn unpark_ends_a_futex_turn_and_no_timer_fires_early() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let e = pin!(Entry::new());
    let (c, w) = counter();
    e.register(&w);
    // SAFETY: pinned here; cancelled before it drops.
    unsafe { r.arm(e.as_ref(), now_ns() + 3_600_000_000_000).unwrap() };
    let word = Arc::new(AtomicU32::new(PARKED));
    let w2 = word.clone();
    // The waker's side: change the word, then wake it. Whether this lands before or during
    // the wait, the wait ends (the futex compares the word before it sleeps).
    let t = std::thread::spawn(move || {
        w2.store(0, SeqCst);
        unpark(&w2);
    });
    let turn = r
        .turn_parked(Wait::Block, || Some((&*word, PARKED)), || ())
        .unwrap();
    t.join().unwrap();
    assert_eq!(turn.timers, 0);
    assert_eq!(c.0.load(SeqCst), 0, "the hour-long timer did not fire");
    assert_eq!(r.stats().futex_waits, 1);
    assert!(r.cancel(&e));
}

#[test]
fn notified_before_parking_the_turn_does_not_block() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let e = pin!(Entry::new());
    let (_c, w) = counter();
    e.register(&w);
    // SAFETY: pinned here; cancelled before it drops.
    unsafe { r.arm(e.as_ref(), now_ns() + 3_600_000_000_000).unwrap() };
    // `None`: a wake arrived since the caller prepared to park: look, do not block (this
    // would otherwise wait an hour).
    let turn = r.turn_parked(Wait::Block, || None, || ()).unwrap();
    assert_eq!(turn.timers, 0);
    let st = r.stats();
    assert_eq!((st.blocking, st.futex_waits), (1, 0));
    assert!(r.cancel(&e));
}

#[test]
fn with_an_fd_registered_the_wait_is_the_poll_sets() {
    let _me = host();
    let r = Reactor::new(Config::default(), None).unwrap();
    let x = Xbuf::new(4096, 4096).unwrap();
    let tok = r.register(x.rt().read_fd()).unwrap();
    let e = pin!(Entry::new());
    let (c, w) = counter();
    e.register(&w);
    let due = now_ns() + 1_000_000;
    // SAFETY: pinned here; fired before it drops.
    unsafe { r.arm(e.as_ref(), due).unwrap() };
    while c.0.load(SeqCst) == 0 {
        r.turn_parked(
            Wait::Block,
            || panic!("parked with an fd registered"),
            || (),
        )
        .unwrap();
    }
    assert!(now_ns() >= due, "never early");
    assert_eq!(r.stats().futex_waits, 0);
    r.deregister(tok);
}
