//! [`Wheel`]: the executor's timer queue, and its [`Full`] error.
//!
//! The design argument, the complexity of each operation and the ground rules that make the
//! stored entry pointers valid are in the [module documentation](super).

use super::entry::{Entry, Pos};
use super::level::{self, Level, LEVELS};
use super::list::List;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Source of wheel identities (0 means "no wheel" in [`Entry`]). Only [`Wheel::new`] uses it.
static NEXT_WHEEL_ID: AtomicU64 = AtomicU64::new(1);

/// A hierarchical timing wheel with exact nanosecond deadlines, holding at most `capacity`
/// intrusive [`Entry`]s and never allocating.
///
/// One wheel per executor, used only by the executor thread: it is `!Send` and `!Sync`.
/// See the [module documentation](super) for the design and the ground rules.
pub struct Wheel {
    /// This wheel's identity, stored in the entries it holds.
    id: u64,
    /// The cursor: every entry of `levels` has a deadline after it, every entry of `due` one
    /// at or before it. It only moves forward, and never past a queued deadline's slot start.
    elapsed: u64,
    /// Queued entries, `due` and `levels` together.
    len: usize,
    capacity: usize,
    /// Bit `l` is set exactly when `levels[l]` holds an entry.
    nonempty: u16,
    /// Entries whose deadline is at or behind `elapsed`: they pop before any other.
    due: List,
    levels: [Level; LEVELS],
    /// The earliest queued entry and its deadline, when `next_valid`.
    next: Option<(u64, NonNull<Entry>)>,
    next_valid: bool,
    /// The wheel points at entries that live on this thread: it must stay here.
    _not_send: PhantomData<*const ()>,
}

/// [`Wheel::insert`] found the wheel at capacity; the entry was not armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    capacity: usize,
}

impl Full {
    /// The capacity the wheel was created with.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timer queue full: {} timers are armed on this executor; create the executor with \
             a larger timer capacity, or drop timers that are no longer awaited",
            self.capacity
        )
    }
}

impl std::error::Error for Full {}

impl Wheel {
    /// An empty wheel for at most `capacity` armed entries, with its cursor at `now`
    /// (nanoseconds, CLOCK_MONOTONIC). Deadlines at or before `now` are due at once.
    ///
    /// The wheel keeps its 11 × 64 slot heads inline (about 11 KiB); this allocates nothing.
    pub fn new(capacity: usize, now: u64) -> Wheel {
        const EMPTY: Level = Level::new();
        Wheel {
            id: NEXT_WHEEL_ID.fetch_add(1, Ordering::Relaxed),
            elapsed: now,
            len: 0,
            capacity,
            nonempty: 0,
            due: List::new(),
            levels: [EMPTY; LEVELS],
            next: None,
            next_valid: true,
            _not_send: PhantomData,
        }
    }

    /// The most entries the wheel holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries are armed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cursor: the latest time the wheel has been expired up to (or created at). A deadline
    /// at or before it is due on the next expiry.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Whether `entry` is armed in this wheel.
    pub fn contains(&self, entry: &Entry) -> bool {
        entry.owner.get() == self.id
    }

    /// Arms `entry` for the absolute `deadline` (nanoseconds, CLOCK_MONOTONIC). O(1).
    ///
    /// If the entry is already armed here it is moved (re-armed), which cannot fail. A
    /// deadline at or before [`elapsed`](Wheel::elapsed) is due at once: the next
    /// [`pop_expired`](Wheel::pop_expired) returns it. With `capacity` entries armed, a new
    /// entry is refused with [`Full`] and stays idle.
    ///
    /// # Safety
    /// From now until the entry is [removed](Wheel::remove), popped by
    /// [`pop_expired`](Wheel::pop_expired)/[`expire`](Wheel::expire), or the wheel is
    /// dropped, `entry` must stay alive at this address (pinning already forbids moving it;
    /// this forbids dropping or forgetting-then-reusing its memory). The owner's `Drop`
    /// removes it.
    ///
    /// # Panics
    /// If the entry is armed in another wheel.
    pub unsafe fn insert(&mut self, entry: Pin<&Entry>, deadline: u64) -> Result<(), Full> {
        let r = entry.get_ref();
        let e = NonNull::from(r);
        let mut was_next = None;
        match r.owner.get() {
            0 => {}
            id if id == self.id => {
                if self.next_valid {
                    was_next = self.next.filter(|&(_, n)| n == e).map(|(d, _)| d);
                }
                // SAFETY: armed here, so alive (ground rule 1) and linked where `pos` says.
                unsafe { self.detach(e) };
            }
            _ => {
                panic!("evl-reactor: timer Entry is armed in another wheel; remove it there first")
            }
        }
        if self.len >= self.capacity {
            return Err(Full {
                capacity: self.capacity,
            });
        }
        r.set_deadline(deadline);
        r.owner.set(self.id);
        // SAFETY: `e` is alive (it is borrowed right now) and in no list (idle above); our
        // caller keeps it alive until it leaves the wheel.
        unsafe { self.place(e) };
        self.len += 1;
        match was_next {
            // Re-arming the earliest entry no later than it was: it stays the earliest.
            Some(old) if deadline <= old => {
                self.next = Some((deadline, e));
                self.next_valid = true;
            }
            _ => {
                if self.next_valid && !matches!(self.next, Some((d, _)) if d <= deadline) {
                    self.next = Some((deadline, e));
                }
            }
        }
        Ok(())
    }

    /// Disarms `entry` if it is armed in this wheel. O(1). Returns whether it was.
    ///
    /// Idempotent: an idle entry (never armed, removed, or popped) or one armed in another
    /// wheel is left alone and `false` is returned.
    pub fn remove(&mut self, entry: &Entry) -> bool {
        if entry.owner.get() != self.id {
            return false;
        }
        // SAFETY: armed in this wheel, so alive (ground rule 1) and linked where `pos` says.
        unsafe { self.detach(NonNull::from(entry)) };
        true
    }

    /// The exact earliest armed deadline, `None` when the wheel is empty.
    ///
    /// Cached: O(1) unless the cached earliest entry left the wheel since the last call; then
    /// the earliest slot is scanned once (see the module documentation for the cost).
    pub fn next_deadline(&mut self) -> Option<u64> {
        if !self.next_valid {
            self.next = self.find_next();
            self.next_valid = true;
        }
        self.next.map(|(d, _)| d)
    }

    /// Disarms and returns one entry whose deadline is at or before `now`, or `None` when no
    /// armed entry is due at `now`. Amortised O(1) per entry.
    ///
    /// Entries come out in nondecreasing order of `max(deadline, elapsed when armed)`: exact
    /// deadline order, except that an entry armed with a deadline already behind the cursor
    /// is ordered as if due at the cursor. Advances the cursor to `now` once nothing more is
    /// due (never backwards; a `now` behind the cursor pops only due-list entries that are due
    /// at `now`, by walking that list).
    ///
    /// The returned pointer is valid as long as its owner keeps the entry alive (ground rule 1
    /// no longer applies: the entry is idle); it may be re-armed at once.
    pub fn pop_expired(&mut self, now: u64) -> Option<NonNull<Entry>> {
        loop {
            if let Some(head) = self.due.head() {
                let e = if now >= self.elapsed {
                    head
                } else {
                    // SAFETY: `due` holds only armed, hence live, entries (list invariant).
                    unsafe { self.due.first_at_or_before(now) }?
                };
                // SAFETY: armed here, so alive (ground rule 1), linked in `due`.
                unsafe { self.detach(e) };
                return Some(e);
            }
            let Some(level) = self.lowest_level() else {
                self.advance_to(now);
                return None;
            };
            let slot = self.levels[level].first_occupied()?;
            let start = level::slot_start(self.elapsed, level, slot);
            if start > now {
                self.advance_to(now);
                return None;
            }
            debug_assert!(start > self.elapsed);
            // Move the cursor to the slot's start and spread the slot's entries below it:
            // each lands on a lower level or, if due exactly at `start`, on `due`.
            self.elapsed = start;
            // SAFETY: the levels hold only armed, hence live, entries (ground rule 1).
            while let Some(e) = unsafe { self.levels[level].pop(slot) } {
                // SAFETY: `e` is alive and was just unlinked; it is still armed here.
                unsafe { self.place(e) };
            }
            self.update_nonempty(level);
        }
    }

    /// Pops every entry due at `now` (see [`pop_expired`](Wheel::pop_expired) for the order)
    /// and hands each to `f` after it left the wheel. Returns how many.
    ///
    /// `f` may drop the entry's owner. The pointer is valid during `f` as long as nothing
    /// drops the entry's owner before `f` runs (nothing in the wheel does).
    pub fn expire(&mut self, now: u64, mut f: impl FnMut(NonNull<Entry>)) -> usize {
        let mut n = 0;
        while let Some(e) = self.pop_expired(now) {
            f(e);
            n += 1;
        }
        n
    }

    /// Pops every entry due at `now` and wakes its waker (if one is registered). Returns how
    /// many entries fired.
    ///
    /// Each waker is taken out of its entry before it is woken, so a wake that ends up
    /// dropping the entry's owner is harmless. Wakers must not reach this wheel.
    pub fn wake_expired(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some(e) = self.pop_expired(now) {
            // SAFETY: the entry was armed here until this moment, so it is alive (ground
            // rule 1) and nothing ran since; we only take its waker out.
            let waker = unsafe { e.as_ref() }.take_waker();
            if let Some(w) = waker {
                w.wake();
            }
            n += 1;
        }
        n
    }

    fn lowest_level(&self) -> Option<usize> {
        if self.nonempty == 0 {
            None
        } else {
            Some(self.nonempty.trailing_zeros() as usize)
        }
    }

    fn update_nonempty(&mut self, level: usize) {
        if self.levels[level].is_empty() {
            self.nonempty &= !(1 << level);
        } else {
            self.nonempty |= 1 << level;
        }
    }

    /// Moves the cursor forward to `now` once no slot starts at or before `now`. Every armed
    /// entry then still differs from the cursor first in its own level's digit (module doc,
    /// "cursor invariant"), so no entry moves.
    fn advance_to(&mut self, now: u64) {
        if now > self.elapsed {
            self.elapsed = now;
        }
    }

    /// The earliest armed entry: the minimum of `due` if it is non-empty (all of `due` is at or
    /// behind the cursor, everything else after it), else the minimum of the lowest occupied
    /// slot of the lowest non-empty level (every entry of a level precedes every entry of a
    /// higher level, and a level's slots are in time order).
    fn find_next(&self) -> Option<(u64, NonNull<Entry>)> {
        if !self.due.is_empty() {
            // SAFETY: `due` holds only armed, hence live, entries (list invariant).
            return unsafe { self.due.min_deadline() };
        }
        let level = self.lowest_level()?;
        let list = self.levels[level].slot(self.levels[level].first_occupied()?);
        if level == 0 {
            // A level-0 slot is 1 ns wide: all its entries share one deadline.
            let e = list.head()?;
            // SAFETY: armed here, so alive (ground rule 1).
            let d = unsafe { e.as_ref() }.deadline();
            return Some((d, e));
        }
        // SAFETY: the levels hold only armed, hence live, entries (list invariant).
        unsafe { list.min_deadline() }
    }

    /// Links the armed entry `e` where its deadline belongs relative to the cursor.
    ///
    /// # Safety
    /// `e` is alive, marked armed in this wheel, and in no list.
    unsafe fn place(&mut self, e: NonNull<Entry>) {
        // SAFETY: the caller guarantees `e` is alive.
        let r = unsafe { e.as_ref() };
        let deadline = r.deadline();
        if deadline <= self.elapsed {
            // SAFETY: `e` is alive and in no list (caller).
            unsafe { self.due.push_back(e) };
            r.pos.set(Pos::Due);
        } else {
            let level = level::level_for(self.elapsed, deadline);
            let slot = level::slot_for(deadline, level);
            // SAFETY: `e` is alive and in no list (caller).
            unsafe { self.levels[level].push(slot, e) };
            self.nonempty |= 1 << level;
            r.pos.set(Pos::Slot {
                level: level as u8,
                slot: slot as u8,
            });
        }
    }

    /// Unlinks the armed entry `e`, marks it idle and forgets it.
    ///
    /// # Safety
    /// `e` is alive and armed in this wheel.
    unsafe fn detach(&mut self, e: NonNull<Entry>) {
        // SAFETY: the caller guarantees `e` is alive.
        let r = unsafe { e.as_ref() };
        debug_assert_eq!(r.owner.get(), self.id);
        match r.pos.get() {
            Pos::Idle => unreachable!("an armed entry has a position"),
            // SAFETY: `pos` says `e` is linked in `due`.
            Pos::Due => unsafe { self.due.unlink(e) },
            Pos::Slot { level, slot } => {
                let level = level as usize;
                // SAFETY: `pos` says `e` is linked in this slot.
                unsafe { self.levels[level].unlink(slot as usize, e) };
                self.update_nonempty(level);
            }
        }
        r.set_idle();
        self.len -= 1;
        if self.next_valid && matches!(self.next, Some((_, n)) if n == e) {
            self.next_valid = false;
        }
    }
}

impl Drop for Wheel {
    /// Disarms every entry still armed, so that their owners may drop them afterwards.
    fn drop(&mut self) {
        // SAFETY: every armed entry is alive until it leaves the wheel (ground rule 1); this
        // is its last moment in it.
        let mut n = unsafe { self.due.detach_all() };
        for level in &mut self.levels {
            // SAFETY: every entry still linked in this level is alive until it leaves the
            // wheel (ground rule 1), and this is its last moment in it.
            n += unsafe { level.detach_all() };
        }
        debug_assert_eq!(n, self.len);
        self.len = 0;
        self.nonempty = 0;
    }
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("elapsed", &self.elapsed)
            .field(
                "next_deadline",
                &if self.next_valid {
                    self.next.map(|(d, _)| d)
                } else {
                    self.find_next().map(|(d, _)| d)
                },
            )
            .finish()
    }
}
