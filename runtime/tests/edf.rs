//! Earliest-deadline-first order on an EDF executor, checked against a reference model:
//! many tasks, equal deadlines (FIFO in the order they were woken), tasks without a deadline
//! (after every task that has one, FIFO among themselves), and tasks woken while the queue is
//! being drained (each pop takes the earliest of what is queued at that moment).

use evl::time::Instant;
use evl::Executor;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

/// One task of a scenario: its deadline (seconds from the start; None: no deadline) and the
/// tasks it wakes, in order, when it runs.
#[derive(Clone)]
struct Spec {
    deadline: Option<u64>,
    wakes: Vec<usize>,
}

/// The order the tasks must run in: a priority queue keyed by (deadline or MAX, push order).
fn expected(specs: &[Spec], first: &[usize]) -> Vec<usize> {
    let key = |i: usize| specs[i].deadline.unwrap_or(u64::MAX);
    let mut seq = 0u64;
    let mut q = BTreeSet::new();
    for &i in first {
        q.insert((key(i), seq, i));
        seq += 1;
    }
    let mut out = Vec::new();
    while let Some(e) = q.pop_first() {
        let i = e.2;
        out.push(i);
        for &j in &specs[i].wakes {
            q.insert((key(j), seq, j));
            seq += 1;
        }
    }
    out
}

/// Runs the scenario: every task sets its deadline and parks; then the main future wakes
/// `first` in that order, and every task that runs logs itself and wakes its `wakes`.
fn run(specs: &[Spec], first: &[usize]) -> Vec<usize> {
    backend();
    let ex = Executor::builder()
        .edf(true)
        .capacity(specs.len() + 1)
        .build()
        .unwrap();
    let start = Instant::now();
    let n = specs.len();
    let wakers: Rc<RefCell<Vec<Option<Waker>>>> = Rc::new(RefCell::new(vec![None; n]));
    let released: Rc<RefCell<Vec<bool>>> = Rc::new(RefCell::new(vec![false; n]));
    let log = Rc::new(RefCell::new(Vec::new()));
    let wake = {
        let (wakers, released) = (wakers.clone(), released.clone());
        move |j: usize| {
            released.borrow_mut()[j] = true;
            wakers.borrow_mut()[j]
                .take()
                .expect("each task is woken once, after it parked")
                .wake();
        }
    };
    ex.block_on(async {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let (wakers, released, log) = (wakers.clone(), released.clone(), log.clone());
                let spec = specs[i].clone();
                let wake = wake.clone();
                evl::spawn_local(async move {
                    if let Some(d) = spec.deadline {
                        assert!(evl::task::set_deadline(start + Duration::from_secs(d)));
                    }
                    poll_fn(|cx| {
                        if released.borrow()[i] {
                            return Poll::Ready(());
                        }
                        wakers.borrow_mut()[i] = Some(cx.waker().clone());
                        Poll::Pending
                    })
                    .await;
                    log.borrow_mut().push(i);
                    for &j in &spec.wakes {
                        wake(j);
                    }
                })
                .unwrap()
            })
            .collect();
        while wakers.borrow().iter().any(Option::is_none) {
            evl::yield_now().await;
        }
        for &i in first {
            wake(i);
        }
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(ex.stats().late_polls, 0, "every deadline is far ahead");
    let got = log.borrow().clone();
    got
}

/// A deterministic pseudo-random sequence (no machine dependence).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn many_tasks_run_in_deadline_order_with_ties_in_wake_order() {
    let mut seed = 7;
    // 300 tasks, deadlines drawn from 40 values (so most share a deadline with others),
    // one in eight without a deadline.
    let specs: Vec<Spec> = (0..300)
        .map(|_| Spec {
            deadline: (lcg(&mut seed) % 8 != 0).then(|| 1000 + lcg(&mut seed) % 40),
            wakes: Vec::new(),
        })
        .collect();
    // Woken in a shuffled order, which decides the order among equal deadlines.
    let mut first: Vec<usize> = (0..300).collect();
    for i in (1..first.len()).rev() {
        first.swap(i, (lcg(&mut seed) % (i as u64 + 1)) as usize);
    }
    let want = expected(&specs, &first);
    let got = run(&specs, &first);
    assert_eq!(got, want);
    // The model's order, spelled out: deadlines never decrease, and ties keep wake order.
    let pos = |i: usize| first.iter().position(|&f| f == i).unwrap();
    for w in got.windows(2) {
        let (a, b) = (&specs[w[0]], &specs[w[1]]);
        let (ka, kb) = (
            a.deadline.unwrap_or(u64::MAX),
            b.deadline.unwrap_or(u64::MAX),
        );
        assert!(ka < kb || (ka == kb && pos(w[0]) < pos(w[1])));
    }
}

#[test]
fn equal_deadlines_run_in_the_order_they_were_woken() {
    let specs = vec![
        Spec {
            deadline: Some(500),
            wakes: Vec::new(),
        };
        6
    ];
    let first = [3, 0, 5, 1, 4, 2];
    assert_eq!(run(&specs, &first), first);
}

#[test]
fn tasks_without_a_deadline_run_last_in_fifo_order() {
    let d = |s: Option<u64>| Spec {
        deadline: s,
        wakes: Vec::new(),
    };
    let specs = vec![
        d(None),
        d(Some(30)),
        d(None),
        d(Some(10)),
        d(None),
        d(Some(20)),
        d(Some(10)),
    ];
    let first = [0, 1, 2, 3, 4, 5, 6];
    assert_eq!(run(&specs, &first), [3, 6, 5, 1, 0, 2, 4]);
}

#[test]
fn tasks_woken_while_the_queue_drains_take_their_place_by_deadline() {
    // Task 0 (earliest) wakes tasks with earlier, equal and later deadlines than those
    // already queued; they must interleave by deadline, not run in wake order.
    let mut specs: Vec<Spec> = [5u64, 50, 40, 30, 10, 40, 60, 35, 45, 5]
        .iter()
        .map(|&d| Spec {
            deadline: Some(d),
            wakes: Vec::new(),
        })
        .collect();
    specs[0].wakes = vec![4, 5, 6, 7];
    specs[3].wakes = vec![8, 9];
    let first = [0, 1, 2, 3];
    let want = expected(&specs, &first);
    assert_eq!(want, [0, 4, 3, 9, 7, 2, 5, 8, 1, 6]);
    assert_eq!(run(&specs, &first), want);
}
