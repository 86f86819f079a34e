//! The timer wheel against a reference model (a `BTreeSet<(deadline, id)>`): the exact next
//! deadline at every level and after cascades; expiry of exactly the due entries, never an
//! early one, in order; idempotent cancel; re-arming; 10,000 live timers and the capacity
//! limit; randomized mixed operations with fixed seeds; and no allocation once built.

use evl_reactor::timer::{Entry, Full, Wheel};
use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

// ---- counting allocator: counts allocations made by the measuring thread only ----

use evl_alloc_count::allocations_with;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

// ---- fixtures ----

/// A fixed set of pinned entries, numbered. Every test declares its pool before its wheels, so
/// the entries outlive the wheels (which disarm what is left when dropped).
struct Pool {
    entries: Vec<Pin<Box<Entry>>>,
    ids: HashMap<usize, usize>,
}

impl Pool {
    fn new(n: usize) -> Pool {
        let entries: Vec<_> = (0..n).map(|_| Box::pin(Entry::new())).collect();
        let ids = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (&**e as *const Entry as usize, i))
            .collect();
        Pool { entries, ids }
    }

    fn get(&self, i: usize) -> Pin<&Entry> {
        self.entries[i].as_ref()
    }

    fn id(&self, e: NonNull<Entry>) -> usize {
        self.ids[&(e.as_ptr() as usize)]
    }
}

/// Arms entry `i` of `pool` in `wheel` at `deadline`.
fn arm(wheel: &mut Wheel, pool: &Pool, i: usize, deadline: u64) -> Result<(), Full> {
    // SAFETY: the pool's entries are boxed and pinned and never freed before the pool is
    // dropped; every test declares its pool before its wheels, so each wheel (which disarms
    // its entries when dropped) goes first.
    unsafe { wheel.insert(pool.get(i), deadline) }
}

/// Ids popped by one `expire(now)`.
fn expire(wheel: &mut Wheel, pool: &Pool, now: u64) -> Vec<usize> {
    let mut out = Vec::new();
    let n = wheel.expire(now, |e| out.push(pool.id(e)));
    assert_eq!(n, out.len());
    out
}

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A distance spread over every level: uniform below a random power of two.
    fn spread(&mut self) -> u64 {
        let bits = self.below(65) as u32;
        if bits == 0 {
            0
        } else {
            self.next() >> (64 - bits)
        }
    }
}

/// The reference: armed (deadline, id) pairs, plus each entry's expected pop key
/// `max(deadline, cursor when armed)`.
struct Model {
    armed: BTreeSet<(u64, usize)>,
    deadline: Vec<Option<u64>>,
    key: Vec<u64>,
    capacity: usize,
    /// Largest key popped so far: pops never go below it.
    last_key: u64,
}

impl Model {
    fn new(n: usize, capacity: usize) -> Model {
        Model {
            armed: BTreeSet::new(),
            deadline: vec![None; n],
            key: vec![0; n],
            capacity,
            last_key: 0,
        }
    }

    fn arm(&mut self, i: usize, deadline: u64, cursor: u64) -> Result<(), ()> {
        if let Some(old) = self.deadline[i] {
            self.armed.remove(&(old, i));
        } else if self.armed.len() == self.capacity {
            return Err(());
        }
        self.armed.insert((deadline, i));
        self.deadline[i] = Some(deadline);
        self.key[i] = deadline.max(cursor);
        Ok(())
    }

    fn remove(&mut self, i: usize) -> bool {
        match self.deadline[i].take() {
            Some(d) => {
                self.armed.remove(&(d, i));
                true
            }
            None => false,
        }
    }

    fn next(&self) -> Option<u64> {
        self.armed.first().map(|&(d, _)| d)
    }

    fn due(&self, now: u64) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .armed
            .range(..=(now, usize::MAX))
            .map(|&(_, i)| i)
            .collect();
        v.sort_unstable();
        v
    }

    /// Checks one popped entry: it was armed, is due, and comes in key order; forgets it.
    fn popped(&mut self, i: usize, now: u64) {
        let d = self.deadline[i].expect("popped an entry that was not armed");
        assert!(
            d <= now,
            "popped entry {i} due at {d} before it was due (now {now})"
        );
        assert!(
            self.key[i] >= self.last_key,
            "pop order: key {} after {}",
            self.key[i],
            self.last_key
        );
        self.last_key = self.key[i];
        self.remove(i);
    }
}

/// Arms in wheel and model alike and checks they agree on the outcome.
fn arm_both(w: &mut Wheel, pool: &Pool, m: &mut Model, i: usize, d: u64) {
    let cursor = w.elapsed();
    let got = arm(w, pool, i, d);
    let want = m.arm(i, d, cursor);
    match (got, want) {
        (Ok(()), Ok(())) => assert!(pool.get(i).is_queued()),
        (Err(full), Err(())) => {
            assert_eq!(full.capacity(), m.capacity);
            assert!(!pool.get(i).is_queued());
        }
        (got, want) => panic!("arm {i} at {d}: wheel {got:?}, model {want:?}"),
    }
}

/// Expires in wheel and model alike: the same set, in key order, nothing early.
fn expire_both(w: &mut Wheel, pool: &Pool, m: &mut Model, now: u64) {
    let want = m.due(now);
    let got = expire(w, pool, now);
    for &i in &got {
        m.popped(i, now);
        assert!(!pool.get(i).is_queued());
    }
    let mut got_sorted = got;
    got_sorted.sort_unstable();
    assert_eq!(got_sorted, want, "expire({now}) popped the wrong set");
    assert!(nothing_due(m.next(), now));
}

/// Whether the earliest deadline `next` is after `now` (or there is none).
fn nothing_due(next: Option<u64>, now: u64) -> bool {
    match next {
        None => true,
        Some(d) => d > now,
    }
}

fn check_same(w: &mut Wheel, m: &Model) {
    assert_eq!(w.len(), m.armed.len());
    assert_eq!(w.is_empty(), m.armed.is_empty());
    assert_eq!(w.next_deadline(), m.next(), "next_deadline");
}

// ---- exact next deadline ----

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const H: u64 = 3_600 * S;

/// One deadline per level and the edges between levels.
const LADDER: [u64; 12] = [
    1,
    63,
    64,
    4_095,
    4_096,
    MS,
    S,
    H,
    1 << 50,
    u64::MAX - 64,
    u64::MAX - 1,
    u64::MAX,
];

#[test]
fn next_deadline_is_exact_alone_at_every_level() {
    let pool = Pool::new(1);
    for base in [0, 0x1234_5678_9abc_def0 & (u64::MAX >> 8)] {
        let mut w = Wheel::new(4, base);
        for d in LADDER {
            let d = base.saturating_add(d);
            arm(&mut w, &pool, 0, d).unwrap();
            assert_eq!(w.next_deadline(), Some(d));
            assert_eq!(w.len(), 1);
            assert!(w.remove(&pool.get(0)));
            assert_eq!(w.next_deadline(), None);
            assert!(w.is_empty());
        }
    }
}

#[test]
fn next_deadline_is_exact_through_inserts_and_removes_at_every_level() {
    let pool = Pool::new(LADDER.len());
    let mut w = Wheel::new(LADDER.len(), 0);
    // Arm latest first: each insert becomes the new earliest.
    for (i, &d) in LADDER.iter().enumerate().rev() {
        arm(&mut w, &pool, i, d).unwrap();
        assert_eq!(w.next_deadline(), Some(d));
    }
    // Remove earliest first: the next one up is found each time (a stale cache, rescanned).
    for (i, _) in LADDER.iter().enumerate() {
        assert!(w.remove(&pool.get(i)));
        assert_eq!(w.next_deadline(), LADDER.get(i + 1).copied());
    }
    // Arm in a scrambled order, remove from the middle out.
    let order = [5, 0, 11, 3, 8, 1, 10, 6, 2, 9, 4, 7];
    for &i in &order {
        arm(&mut w, &pool, i, LADDER[i]).unwrap();
    }
    assert_eq!(w.next_deadline(), Some(1));
    let mut model: BTreeSet<u64> = LADDER.iter().copied().collect();
    for &i in order.iter().rev() {
        assert!(w.remove(&pool.get(i)));
        model.remove(&LADDER[i]);
        assert_eq!(w.next_deadline(), model.first().copied());
    }
}

#[test]
fn next_deadline_is_exact_after_cascades() {
    // Deadlines that share the high digits of one hour, spread over every lower level.
    let offsets = [0, 1, 2, 63, 64, 65, 4_095, 4_096, 262_143, 262_144, MS, S];
    let pool = Pool::new(offsets.len());
    let mut w = Wheel::new(offsets.len(), 0);
    for (i, &o) in offsets.iter().enumerate() {
        arm(&mut w, &pool, i, H + o).unwrap();
    }
    assert_eq!(w.next_deadline(), Some(H));
    // Advance to just before each deadline: slots cascade, nothing fires, the next deadline
    // stays exact.
    let mut now = 0;
    for (i, &o) in offsets.iter().enumerate() {
        let d = H + o;
        for step in [d / 2, d - 4_096, d - 64, d - 1] {
            if step > now {
                now = step;
                assert!(
                    expire(&mut w, &pool, now).is_empty(),
                    "nothing is due at {now}"
                );
                assert_eq!(w.elapsed(), now);
                assert_eq!(w.next_deadline(), Some(d));
            }
        }
        now = d;
        assert_eq!(expire(&mut w, &pool, now), vec![i]);
        assert_eq!(w.next_deadline(), offsets.get(i + 1).map(|o| H + o));
    }
    assert!(w.is_empty());

    // The same near the top of the clock, cascading down from level 10.
    let top = u64::MAX - S;
    let mut w = Wheel::new(offsets.len(), 1);
    for (i, &o) in offsets.iter().enumerate() {
        arm(&mut w, &pool, i, top + o).unwrap();
    }
    assert_eq!(w.next_deadline(), Some(top));
    assert!(expire(&mut w, &pool, top - 1).is_empty());
    assert_eq!(w.next_deadline(), Some(top));
    assert_eq!(expire(&mut w, &pool, top + 64), vec![0, 1, 2, 3, 4]);
    assert_eq!(w.next_deadline(), Some(top + 65));
    assert_eq!(expire(&mut w, &pool, u64::MAX).len(), offsets.len() - 5);
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn next_deadline_ignores_later_inserts_and_sees_earlier_ones() {
    let pool = Pool::new(3);
    let mut w = Wheel::new(3, 1_000);
    arm(&mut w, &pool, 0, 5_000).unwrap();
    assert_eq!(w.next_deadline(), Some(5_000));
    arm(&mut w, &pool, 1, 9_000).unwrap();
    assert_eq!(w.next_deadline(), Some(5_000));
    arm(&mut w, &pool, 2, 4_999).unwrap();
    assert_eq!(w.next_deadline(), Some(4_999));
    // A deadline already behind the cursor is the earliest, exactly.
    arm(&mut w, &pool, 1, 10).unwrap();
    assert_eq!(w.next_deadline(), Some(10));
    assert!(w.remove(&pool.get(1)));
    assert_eq!(w.next_deadline(), Some(4_999));
}

// ---- expiry ----

#[test]
fn expire_pops_exactly_the_due_entries_in_deadline_order() {
    let n = 2_000;
    let pool = Pool::new(n);
    let mut w = Wheel::new(n, 0);
    let mut m = Model::new(n, n);
    let mut rng = Rng(0x5eed_0001);
    for i in 0..n {
        // Many ties and near-ties: deadlines on a coarse grid plus a little noise.
        let d = 1 + rng.below(200) * 1_000 + rng.below(3);
        arm_both(&mut w, &pool, &mut m, i, d);
    }
    let mut now = 0;
    while !m.armed.is_empty() {
        now += rng.below(5_000);
        let want = m.due(now);
        let got = expire(&mut w, &pool, now);
        // Strict deadline order here: nothing was armed late.
        let deadlines: Vec<u64> = got.iter().map(|&i| m.deadline[i].unwrap()).collect();
        assert!(deadlines.windows(2).all(|p| p[0] <= p[1]), "{deadlines:?}");
        for &i in &got {
            m.popped(i, now);
        }
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, want);
        check_same(&mut w, &m);
    }
}

#[test]
fn expire_never_pops_early_at_the_edges() {
    let pool = Pool::new(LADDER.len());
    let mut w = Wheel::new(LADDER.len(), 0);
    for (i, &d) in LADDER.iter().enumerate() {
        arm(&mut w, &pool, i, d).unwrap();
    }
    for (i, &d) in LADDER.iter().enumerate() {
        assert!(
            expire(&mut w, &pool, d - 1).is_empty(),
            "early at {}",
            d - 1
        );
        assert_eq!(w.next_deadline(), Some(d));
        assert_eq!(expire(&mut w, &pool, d), vec![i]);
    }
    assert!(w.is_empty());
}

#[test]
fn late_entries_pop_first_in_arming_order() {
    let pool = Pool::new(6);
    let mut w = Wheel::new(6, 10_000);
    arm(&mut w, &pool, 0, 10_001).unwrap(); // ahead of the cursor
    arm(&mut w, &pool, 1, 10_500).unwrap();
    arm(&mut w, &pool, 2, 9_000).unwrap(); // late
    arm(&mut w, &pool, 3, 10_000).unwrap(); // at the cursor: due at once
    arm(&mut w, &pool, 4, 5).unwrap(); // late, earliest deadline
    assert_eq!(w.next_deadline(), Some(5));
    // At the cursor only the late ones are due, in arming order.
    assert_eq!(expire(&mut w, &pool, 10_000), vec![2, 3, 4]);
    assert_eq!(w.next_deadline(), Some(10_001));
    assert_eq!(expire(&mut w, &pool, 20_000), vec![0, 1]);
}

#[test]
fn now_behind_the_cursor_pops_only_what_is_due_then() {
    let pool = Pool::new(4);
    let mut w = Wheel::new(4, 1_000);
    arm(&mut w, &pool, 0, 900).unwrap();
    arm(&mut w, &pool, 1, 500).unwrap();
    arm(&mut w, &pool, 2, 100).unwrap();
    arm(&mut w, &pool, 3, 2_000).unwrap();
    assert_eq!(expire(&mut w, &pool, 600), vec![1, 2]);
    assert_eq!(w.elapsed(), 1_000, "the cursor never moves back");
    assert_eq!(w.next_deadline(), Some(900));
    assert_eq!(expire(&mut w, &pool, 1_999), vec![0]);
    assert_eq!(expire(&mut w, &pool, 2_000), vec![3]);
}

#[test]
fn popped_entries_may_be_rearmed_between_pops() {
    let pool = Pool::new(2);
    let mut w = Wheel::new(2, 0);
    arm(&mut w, &pool, 0, 100).unwrap();
    arm(&mut w, &pool, 1, 1_000).unwrap();
    // A periodic timer catching up: re-armed one period later after each pop.
    let mut fired = Vec::new();
    while let Some(e) = w.pop_expired(450) {
        let i = pool.id(e);
        // SAFETY: `e` points into the pool, which outlives this loop.
        let d = unsafe { e.as_ref() }.deadline();
        fired.push((i, d));
        arm(&mut w, &pool, i, d + 100).unwrap();
    }
    assert_eq!(fired, vec![(0, 100), (0, 200), (0, 300), (0, 400)]);
    assert_eq!(w.next_deadline(), Some(500));
    assert_eq!(w.len(), 2);
}

// ---- cancel and re-arm ----

#[test]
fn remove_is_idempotent() {
    let pool = Pool::new(3);
    let mut w = Wheel::new(3, 0);
    let mut other = Wheel::new(3, 0);
    assert!(!w.remove(&pool.get(0)), "never armed");
    arm(&mut w, &pool, 0, S).unwrap();
    arm(&mut w, &pool, 1, S).unwrap();
    assert!(!other.remove(&pool.get(0)), "armed in another wheel");
    assert!(w.contains(&pool.get(0)));
    assert!(!other.contains(&pool.get(0)));
    assert!(w.remove(&pool.get(0)));
    assert!(!pool.get(0).is_queued());
    assert!(!w.remove(&pool.get(0)), "second remove");
    assert_eq!(w.len(), 1);
    assert_eq!(w.next_deadline(), Some(S));
    assert_eq!(expire(&mut w, &pool, S), vec![1]);
    assert!(!w.remove(&pool.get(1)), "already fired");
    assert!(w.is_empty());
    // A removed entry never fires.
    assert!(expire(&mut w, &pool, u64::MAX).is_empty());
}

#[test]
fn removing_from_a_crowded_slot_touches_only_its_neighbours() {
    // 1,000 entries in one level-4 slot; removing any of them keeps the others, in order.
    let n = 1_000;
    let pool = Pool::new(n);
    let mut w = Wheel::new(n, 0);
    for i in 0..n {
        arm(&mut w, &pool, i, S + i as u64).unwrap();
    }
    for i in (0..n).step_by(2) {
        assert!(w.remove(&pool.get(i)));
    }
    assert_eq!(w.len(), n / 2);
    assert_eq!(w.next_deadline(), Some(S + 1));
    let got = expire(&mut w, &pool, S + n as u64);
    assert_eq!(got, (1..n).step_by(2).collect::<Vec<_>>());
}

#[test]
fn rearming_a_queued_entry_moves_it() {
    let pool = Pool::new(2);
    let mut w = Wheel::new(2, 0);
    arm(&mut w, &pool, 0, 100).unwrap();
    arm(&mut w, &pool, 1, 200).unwrap();
    arm(&mut w, &pool, 0, 50).unwrap(); // earlier
    assert_eq!((w.len(), w.next_deadline()), (2, Some(50)));
    assert_eq!(pool.get(0).deadline(), 50);
    arm(&mut w, &pool, 0, H).unwrap(); // later, another level
    assert_eq!((w.len(), w.next_deadline()), (2, Some(200)));
    arm(&mut w, &pool, 1, 150).unwrap(); // the earliest, earlier still
    assert_eq!(w.next_deadline(), Some(150));
    arm(&mut w, &pool, 1, 2 * H).unwrap(); // the earliest, moved last
    assert_eq!(w.next_deadline(), Some(H));
    assert!(expire(&mut w, &pool, H - 1).is_empty());
    assert_eq!(expire(&mut w, &pool, 2 * H), vec![0, 1]);
}

#[test]
fn rearm_at_capacity_succeeds_and_a_new_entry_is_refused() {
    let pool = Pool::new(3);
    let mut w = Wheel::new(2, 0);
    arm(&mut w, &pool, 0, 10).unwrap();
    arm(&mut w, &pool, 1, 20).unwrap();
    arm(&mut w, &pool, 0, 30).unwrap();
    let err = arm(&mut w, &pool, 2, 5).unwrap_err();
    assert_eq!(err.capacity(), 2);
    assert!(err.to_string().contains("timer capacity"));
    assert!(!pool.get(2).is_queued());
    assert_eq!((w.len(), w.next_deadline()), (2, Some(20)));
    let mut zero = Wheel::new(0, 0);
    assert_eq!(arm(&mut zero, &pool, 2, 1), Err(err_with(0)));
}

fn err_with(capacity: usize) -> Full {
    let pool = Pool::new(1);
    let mut w = Wheel::new(capacity, 0);
    arm(&mut w, &pool, 0, 1).unwrap_err()
}

#[test]
#[should_panic(expected = "armed in another wheel")]
fn arming_in_a_second_wheel_panics() {
    let pool = Pool::new(1);
    let mut a = Wheel::new(1, 0);
    let mut b = Wheel::new(1, 0);
    arm(&mut a, &pool, 0, 10).unwrap();
    let _ = arm(&mut b, &pool, 0, 10);
}

#[test]
fn dropping_the_wheel_disarms_its_entries() {
    let pool = Pool::new(3);
    let mut w = Wheel::new(3, 0);
    arm(&mut w, &pool, 0, 0).unwrap(); // due list
    arm(&mut w, &pool, 1, 1).unwrap(); // level 0
    arm(&mut w, &pool, 2, H).unwrap(); // level 6
    drop(w);
    assert!((0..3).all(|i| !pool.get(i).is_queued()));
    let mut w = Wheel::new(3, 0);
    arm(&mut w, &pool, 2, 7).unwrap();
    assert_eq!(w.next_deadline(), Some(7));
}

// ---- wakers ----

#[derive(Default)]
struct CountWake(AtomicUsize);

impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn wake_expired_wakes_each_registered_waker_once() {
    let pool = Pool::new(3);
    let mut w = Wheel::new(3, 0);
    let counter = Arc::new(CountWake::default());
    let waker = Waker::from(counter.clone());
    for i in 0..3 {
        pool.get(i).register(&waker);
        pool.get(i).register(&waker); // same task: kept, not replaced
        arm(&mut w, &pool, i, 10 * (i as u64 + 1)).unwrap();
    }
    assert_eq!(Arc::strong_count(&counter), 1 + 1 + 3);
    assert_eq!(w.wake_expired(20), 2);
    assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    assert!(!pool.get(0).has_waker() && !pool.get(1).has_waker());
    assert!(pool.get(2).has_waker());
    assert_eq!(w.wake_expired(30), 1);
    assert_eq!(counter.0.load(Ordering::Relaxed), 3);
    assert_eq!(Arc::strong_count(&counter), 2);
}

// ---- scale ----

#[test]
fn ten_thousand_live_timers_against_the_model() {
    let n = 10_000;
    let pool = Pool::new(n + 1);
    let start = 1_000 * S;
    let mut w = Wheel::new(n, start);
    let mut m = Model::new(n + 1, n);
    let mut rng = Rng(0x1000_0000_0000_0001);
    for i in 0..n {
        let d = start + rng.spread() % (10 * H);
        arm_both(&mut w, &pool, &mut m, i, d);
    }
    check_same(&mut w, &m);
    // The 10,001st is refused and changes nothing.
    assert_eq!(arm(&mut w, &pool, n, start + 1).unwrap_err().capacity(), n);
    assert!(!pool.get(n).is_queued());
    assert_eq!(w.len(), n);
    check_same(&mut w, &m);
    // Remove a random half.
    let mut removed = 0;
    while removed < n / 2 {
        let i = rng.below(n as u64) as usize;
        let was = m.remove(i);
        assert_eq!(w.remove(&pool.get(i)), was);
        removed += was as usize;
    }
    check_same(&mut w, &m);
    // Expire in steps of every size until empty.
    let mut now = start;
    while !m.armed.is_empty() {
        now = now.saturating_add(rng.spread() % H);
        expire_both(&mut w, &pool, &mut m, now);
        check_same(&mut w, &m);
    }
    assert!(w.is_empty());
}

/// Several thousand mixed operations per seed, compared with the model after each.
fn randomized(seed: u64, ops: usize, n: usize, capacity: usize) {
    let pool = Pool::new(n);
    let mut rng = Rng(seed);
    let start = rng.next() >> rng.below(64);
    let mut now = start;
    let mut w = Wheel::new(capacity, start);
    let mut m = Model::new(n, capacity);
    let mut counts = [0usize; 7];
    for _ in 0..ops {
        let op = rng.below(100);
        let i = rng.below(n as u64) as usize;
        // Deadlines: mostly ahead at every scale, some late, some at the top of the clock,
        // some clustered on a shared coarse slot.
        let deadline = match rng.below(10) {
            0 => now.saturating_sub(rng.spread()),
            1 => u64::MAX - rng.below(1 << 20),
            2 => (now | 0xffff_ffff).saturating_add(rng.below(1_000)),
            _ => now.saturating_add(rng.spread()),
        };
        match op {
            // arm an idle entry, or re-arm an armed one
            0..=39 => {
                counts[if m.deadline[i].is_some() { 1 } else { 0 }] += 1;
                arm_both(&mut w, &pool, &mut m, i, deadline);
            }
            // remove (idempotent: often idle already)
            40..=59 => {
                counts[2] += 1;
                assert_eq!(w.remove(&pool.get(i)), m.remove(i));
                assert!(!pool.get(i).is_queued());
            }
            // time passes without an expiry
            60..=69 => {
                counts[3] += 1;
                now = now.saturating_add(rng.spread() >> rng.below(64));
            }
            // expire everything due
            70..=84 => {
                counts[4] += 1;
                now = now.saturating_add(rng.spread() >> rng.below(64));
                expire_both(&mut w, &pool, &mut m, now);
            }
            // pop one due entry, and maybe re-arm it at once
            85..=94 => {
                counts[5] += 1;
                match w.pop_expired(now) {
                    Some(e) => {
                        let j = pool.id(e);
                        m.popped(j, now);
                        if rng.below(2) == 0 {
                            let d = now.saturating_add(rng.spread() >> rng.below(64));
                            arm_both(&mut w, &pool, &mut m, j, d);
                        }
                    }
                    None => assert!(nothing_due(m.next(), now)),
                }
            }
            // query only
            _ => counts[6] += 1,
        }
        check_same(&mut w, &m);
        assert!(w.elapsed() <= now.max(start));
        if rng.below(64) == 0 {
            for j in 0..n {
                assert_eq!(pool.get(j).is_queued(), m.deadline[j].is_some());
            }
        }
    }
    assert!(
        counts.iter().all(|&c| c > 0),
        "every operation ran: {counts:?}"
    );
    expire_both(&mut w, &pool, &mut m, u64::MAX);
    check_same(&mut w, &m);
    assert!(w.is_empty());
}

#[test]
fn randomized_mixed_operations_against_the_model() {
    for (seed, n, capacity) in [
        (0x0123_4567_89ab_cdef, 64, 64),
        (0xdead_beef_cafe_f00d, 300, 256),
        (0x0000_0000_0000_0007, 2_000, 2_000),
        (0x9e37_79b9_7f4a_7c15, 40, 8),
    ] {
        randomized(seed, 6_000, n, capacity);
    }
}

// ---- no allocation ----

#[test]
fn steady_state_allocates_nothing() {
    let n = 1_000;
    let pool = Pool::new(n);
    let mut w = Wheel::new(n, 0);
    let counter = Arc::new(CountWake::default());
    let waker = Waker::from(counter.clone());
    let mut rng = Rng(42);
    let (allocs, fired) = allocations_with(|| {
        let mut fired = 0;
        let mut now = 0;
        for round in 0..20u64 {
            for i in 0..n {
                pool.get(i).register(&waker);
                let d = now + rng.spread() % (H >> (round % 40));
                arm(&mut w, &pool, i, d).unwrap();
            }
            for i in (0..n).step_by(3) {
                w.remove(&pool.get(i));
                w.remove(&pool.get(i));
            }
            for i in (1..n).step_by(7) {
                arm(&mut w, &pool, i, now + rng.spread() % S).unwrap();
            }
            let mut turns = 0;
            while let Some(d) = w.next_deadline() {
                turns += 1;
                assert!(turns <= 2 * n, "the wheel does not drain");
                now = now.max(d);
                fired += w.expire(now, |_| {});
                now += rng.below(MS);
                fired += w.wake_expired(now);
                if let Some(e) = w.pop_expired(now.saturating_add(S)) {
                    fired += 1;
                    // SAFETY: `e` points into the pool, which outlives this loop.
                    unsafe { e.as_ref() }.wake();
                }
            }
        }
        fired
    });
    assert_eq!(allocs, 0, "the wheel allocated in steady state");
    assert!(fired > 10_000);
    assert!(counter.0.load(Ordering::Relaxed) > 0);
}
