//! Exhaustive interleavings (loom) of the executor's lock-free protocols.

use crate::inbox::{Inbox, Linked, Parker, Unpark};
use crate::state::{self, AfterPoll, State, Wake};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::cell::UnsafeCell;

struct Node {
    id: usize,
    next: UnsafeCell<*const Node>,
}

// SAFETY: `next` is the node's one link slot; only the inbox touches it while queued.
unsafe impl Linked for Node {
    fn link(node: *const Self) -> *mut *const Self {
        // SAFETY: nodes passed in are alive for the whole model.
        unsafe { (*node).next.get() }
    }
}

struct Nodes(Vec<Node>);
// SAFETY: nodes are handed between threads only through the inbox protocol under test.
unsafe impl Send for Nodes {}
// SAFETY: sharing `&Nodes` lets threads read `id` (never written after `nodes()`) and reach `next`
// only through the inbox's push/take protocol under test, which gives each link to one thread at a
// time.
unsafe impl Sync for Nodes {}

fn nodes(n: usize) -> Arc<Nodes> {
    Arc::new(Nodes(
        (0..n)
            .map(|id| Node {
                id,
                next: UnsafeCell::new(std::ptr::null()),
            })
            .collect(),
    ))
}

/// Two producers push while the consumer takes once; a final take after they finish gets
/// the rest: every node arrives exactly once, and a producer's pushes keep their order.
#[test]
fn inbox_delivers_every_node_once_in_order() {
    loom::model(|| {
        let inbox = Arc::new(Inbox::<Node>::new());
        let ns = nodes(3);
        let (i1, n1) = (inbox.clone(), ns.clone());
        let p1 = thread::spawn(move || {
            // SAFETY: nodes 0 and 1 are pushed once each, by this thread only.
            unsafe {
                i1.push(&n1.0[0]);
                i1.push(&n1.0[1]);
            }
        });
        let (i2, n2) = (inbox.clone(), ns.clone());
        // SAFETY: node 2 is pushed once, by this thread only.
        let p2 = thread::spawn(move || unsafe {
            i2.push(&n2.0[2]);
        });
        let mut got = Vec::new();
        // SAFETY: this thread is the only consumer.
        unsafe { inbox.take_all(|n| got.push((*n).id)) };
        p1.join().unwrap();
        p2.join().unwrap();
        // SAFETY: this thread is the only consumer: the producers only push, and they have been
        // joined.
        unsafe { inbox.take_all(|n| got.push((*n).id)) };
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2]);
        let pos = |id| got.iter().position(|&g| g == id).unwrap();
        assert!(
            pos(0) < pos(1),
            "a producer's pushes keep their order: {got:?}"
        );
        assert!(inbox.is_empty());
    });
}

/// Two producers publish work and notify while the executor decides whether to block. If
/// it blocks (parked, inbox seen empty), a post is pending for it: no lost wake; and the
/// producers post at most once per park: a burst coalesces.
#[test]
fn parker_never_loses_a_wake_and_coalesces_posts() {
    loom::model(|| {
        let inbox = Arc::new(Inbox::<Node>::new());
        let parker = Arc::new(Parker::new());
        let posts = Arc::new(AtomicUsize::new(0));
        let ns = nodes(2);
        let producers: Vec<_> = (0..2)
            .map(|i| {
                let (inbox, parker, posts, ns) =
                    (inbox.clone(), parker.clone(), posts.clone(), ns.clone());
                thread::spawn(move || {
                    // SAFETY: each node is pushed once.
                    unsafe { inbox.push(&ns.0[i]) };
                    match parker.notify() {
                        Unpark::Ring => {
                            posts.fetch_add(1, SeqCst);
                        }
                        Unpark::Futex => panic!("a futex wake while nobody parks on the word"),
                        Unpark::Nothing => {}
                    }
                })
            })
            .collect();
        // SAFETY: single consumer.
        let mut got = unsafe { inbox.take_all(|_| {}) };
        let blocks = got < 2 && parker.prepare_park() && inbox.is_empty();
        for p in producers {
            p.join().unwrap();
        }
        let posted = posts.load(SeqCst);
        if blocks {
            assert!(
                posted >= 1,
                "the executor blocked with work pending and no post: lost wake"
            );
        }
        assert!(posted <= 1, "one park, at most one post");
        parker.unparked();
        // SAFETY: single consumer.
        got += unsafe { inbox.take_all(|_| {}) };
        assert_eq!(got, 2);
    });
}

/// The futex wait (host, no fd registered): after `prepare_park` and its last look, the
/// executor switches the word to PARKED_FUTEX and futex-waits while the word holds it (the
/// kernel compares the word and sleeps atomically: modelled as one load). Two producers
/// publish and notify meanwhile. If the executor sleeps, a futex wake is on its way (no lost
/// wake); a switch that loses to a notification finds a doorbell post on its way instead
/// (the non-blocking look drains it); and the producers make one call at most per park,
/// never both kinds.
#[test]
fn futex_park_never_loses_a_wake_and_makes_one_call() {
    loom::model(|| {
        let inbox = Arc::new(Inbox::<Node>::new());
        let parker = Arc::new(Parker::new());
        // Counters outside the model (std atomics: read only after the joins), so they add
        // no interleavings of their own.
        let rings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let futex_wakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ns = nodes(2);
        let producers: Vec<_> = (0..2)
            .map(|i| {
                let (inbox, parker, rings, futex_wakes, ns) = (
                    inbox.clone(),
                    parker.clone(),
                    rings.clone(),
                    futex_wakes.clone(),
                    ns.clone(),
                );
                thread::spawn(move || {
                    // SAFETY: each node is pushed once.
                    unsafe { inbox.push(&ns.0[i]) };
                    match parker.notify() {
                        Unpark::Ring => rings.fetch_add(1, SeqCst),
                        Unpark::Futex => futex_wakes.fetch_add(1, SeqCst),
                        Unpark::Nothing => 0,
                    };
                })
            })
            .collect();
        // SAFETY: single consumer.
        let mut got = unsafe { inbox.take_all(|_| {}) };
        let mut sleeps = false;
        let mut lost_switch = false;
        if got < 2 && parker.prepare_park() && inbox.is_empty() {
            match parker.park_futex() {
                // The futex wait: sleeps only while the word still holds the value.
                Some((word, v)) => sleeps = word.load(SeqCst) == v,
                None => lost_switch = true,
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        let (r, f) = (rings.load(SeqCst), futex_wakes.load(SeqCst));
        if sleeps {
            assert!(
                f >= 1,
                "slept on the word with no futex wake coming: lost wake"
            );
        }
        if lost_switch {
            assert!(
                r >= 1,
                "a notification beat the switch: its post is pending"
            );
        }
        assert!(
            r + f <= 1,
            "one park, at most one call: {r} posts, {f} futex wakes"
        );
        parker.unparked();
        // SAFETY: single consumer.
        got += unsafe { inbox.take_all(|_| {}) };
        assert_eq!(got, 2);
    });
}

/// A wake during a poll requeues the task exactly once; a wake after it went idle enqueues
/// it; never twice in a queue, and references balance.
#[test]
fn wake_racing_a_poll_schedules_exactly_once() {
    loom::model(|| {
        let st = Arc::new(State::new_spawned());
        let queued = Arc::new(AtomicUsize::new(1)); // spawn queued it
        let (s2, q2) = (st.clone(), queued.clone());
        let waker = thread::spawn(move || {
            if s2.wake() == Wake::Enqueue {
                q2.fetch_add(1, SeqCst);
            }
        });
        // Executor: pop (queue entry consumed), poll, Pending.
        queued.fetch_sub(1, SeqCst);
        st.start_poll();
        match st.end_poll_pending() {
            AfterPoll::Requeue => {
                queued.fetch_add(1, SeqCst);
            }
            AfterPoll::Idle => {
                st.ref_dec(); // the queue reference
            }
        }
        waker.join().unwrap();
        let s = st.load();
        let q = queued.load(SeqCst);
        assert!(q <= 1, "queued twice");
        // Either the wake landed before the poll started (absorbed by it), or the task is
        // scheduled again now.
        assert_eq!(q == 1, s & state::SCHEDULED != 0);
        // References: executor + JoinHandle, plus one per queue entry.
        assert_eq!(s / state::REF_ONE, 2 + q);
    });
}

/// The JoinHandle registering its waker while the task completes: either the executor sees
/// JOIN_WAKER and the waker is written, or the handle sees COMPLETE and reads the output.
#[test]
fn join_waker_registration_races_completion_safely() {
    loom::model(|| {
        let st = Arc::new(State::new_spawned());
        let waker_written = Arc::new(AtomicUsize::new(0));
        let (s2, w2) = (st.clone(), waker_written.clone());
        let handle = thread::spawn(move || {
            if s2.unset_join_waker() {
                w2.store(1, SeqCst);
                if s2.set_join_waker() {
                    return "waits";
                }
            }
            "reads output"
        });
        st.start_poll();
        let prev = st.complete();
        let executor_wakes = prev & state::JOIN_WAKER != 0;
        if executor_wakes {
            assert_eq!(
                waker_written.load(SeqCst),
                1,
                "waker read before it was written"
            );
        }
        let h = handle.join().unwrap();
        assert_eq!(
            executor_wakes,
            h == "waits",
            "exactly one side finishes the join"
        );
    });
}

/// Abort racing a wake: the task ends up scheduled once, with CANCELLED set.
#[test]
fn cancel_racing_wake_schedules_once() {
    loom::model(|| {
        let st = Arc::new(State::new_spawned());
        // The executor ran it once; it is idle.
        st.start_poll();
        assert_eq!(st.end_poll_pending(), AfterPoll::Idle);
        st.ref_dec();
        let enq = Arc::new(AtomicUsize::new(0));
        let (s2, e2) = (st.clone(), enq.clone());
        let t = thread::spawn(move || {
            if s2.wake() == Wake::Enqueue {
                e2.fetch_add(1, SeqCst);
            }
        });
        if st.cancel() == Wake::Enqueue {
            enq.fetch_add(1, SeqCst);
        }
        t.join().unwrap();
        assert_eq!(enq.load(SeqCst), 1);
        let s = st.load();
        assert!(s & state::CANCELLED != 0 && s & state::SCHEDULED != 0);
        assert_eq!(s / state::REF_ONE, 3);
    });
}
