//! # The executor's timer queue: a hierarchical timing wheel with exact nanosecond deadlines
//!
//! One [`Wheel`] per executor holds the [`Entry`]s of every timer its tasks await. Entries live
//! inside the pinned futures that wait on them; the wheel links them by pointer and never
//! allocates. When the executor runs out of work it asks [`Wheel::next_deadline`] for the
//! **exact** earliest deadline and makes it the timeout of its one blocking wait, to the
//! nanosecond; when the wait returns it calls [`Wheel::wake_expired`] (or [`Wheel::expire`] /
//! [`Wheel::pop_expired`]) with the current time.
//!
//! | module | concept |
//! |---|---|
//! | `entry` | [`Entry`]: deadline, links, position, waker — one timer node |
//! | `list` | the intrusive doubly linked FIFO behind each slot (the only code that follows links) |
//! | `level` | one level's 64 slots and occupancy bitmap; deadline → (level, slot) arithmetic |
//! | `wheel` | [`Wheel`]: insert, remove, expire, next deadline; the [`Full`] error |
//!
//! ## Design
//!
//! **Levels.** Time is a `u64` of nanoseconds read as eleven 6-bit digits. Level `l` has 64
//! slots, each `64^l` ns wide: level 0 slots are 1 ns wide, level 10 spans the top 4 bits, so
//! every `u64` deadline has a place and nothing is rounded. Each level keeps an
//! `occupied: u64` bitmap, and the wheel a bitmap of non-empty levels, so "first occupied slot
//! of the lowest non-empty level" is two `trailing_zeros`.
//!
//! **Cursor invariant.** The wheel has a cursor `elapsed`. An entry whose deadline is at or
//! behind it waits in the *due list*. Any other entry sits at the level `l` of the most
//! significant digit in which `deadline` and `elapsed` differ, in the slot named by the
//! deadline's digit `l`, which is therefore *greater* than the cursor's digit `l`. Hence:
//! every entry of a level precedes every entry of a higher level (it shares the cursor's
//! digit `l + 1`, they exceed it); within a level, slot order is time order (no rotation, unlike
//! tokio, whose cursor may sit inside a level); and the due list precedes everything. So the
//! earliest entry is in the due list, or else in the first occupied slot of the lowest
//! non-empty level. The cursor only moves forward, in two ways, both keeping the invariant:
//! to the start of that first slot once it is `<= now` (the slot's entries are then re-placed
//! relative to the new cursor: each lands on a strictly lower level, or on the due list when its
//! deadline is that start — a *cascade*; every other slot starts later still), or to `now`
//! when the first slot starts after `now` (`now` then lies between the old cursor and every
//! entry's slot start, so it shares each entry's digits above its level and is below it at
//! its level).
//!
//! **Exact next deadline.** A level-0 slot is 1 ns wide: its deadline is its start. A slot of a
//! higher level holds deadlines within one `64^l` ns window, so its minimum is found by scanning
//! its list. The result is cached with the entry it came from: an earlier insert replaces it in
//! O(1); only the cached entry leaving the wheel (fired, removed, or re-armed later) makes it
//! stale, and the next [`Wheel::next_deadline`] recomputes it.
//!
//! **Why the scan is amortised O(1) per timer.** A recompute scans the slot that holds the new
//! earliest deadline `D`. The executor's wait times out at `D`, and the expiry at `D` (which
//! is at or after that slot's start) cascades every entry of that slot; each entry is re-placed
//! at most once per level it descends, at most 11 times in its life. So a scanned entry is
//! charged to a cascade it undergoes next anyway — unless the slot is scanned again before time
//! reaches it, which happens only when the earliest entry is *cancelled* while others wait in
//! the same slot. **Worst case**, stated honestly: `k` timers sharing one coarse slot, cancelled
//! in deadline order with a `next_deadline` after each cancel, cost O(k) per call, O(k²) in
//! all (`k <= capacity`). The executor asks once per park, so this is bounded by one scan per
//! park, not per cancellation. The due list is scanned the same way; it holds only timers armed
//! in the past since the last expiry, and is emptied by every expiry.
//!
//! **Costs.** [`Wheel::insert`] and [`Wheel::remove`]: O(1) (an xor, a `leading_zeros`, a list
//! link and a bit; re-arming is remove + insert). [`Wheel::pop_expired`] and friends: amortised
//! O(1) per fired timer (≤ 11 relinks each, plus two `trailing_zeros` per slot visited); a
//! single call is O(k) when it cascades a slot of `k` entries, as in tokio. Memory: 11 × 64
//! list heads inline in the wheel (about 11 KiB), 56 bytes per entry, nothing allocated.
//!
//! **Alternatives weighed.** Rounding deadlines or firing at a coarse slot's start and re-arming
//! (tokio rounds to 1 ms) would wake the executor early or late — on EVL every early wakeup is
//! an out-of-band context switch. A binary heap gives the exact minimum but O(log n) insert
//! and cancel with sifting through task memory. A sorted level 0 makes insert O(n).
//!
//! **Order of expiry.** Entries pop in nondecreasing order of `max(deadline, elapsed when
//! armed)`: exact deadline order, except that a timer armed with a deadline already behind the
//! cursor counts as due at the cursor (it pops before anything later, in arming order among
//! such). Every popped entry is due at the `now` given; after [`Wheel::expire`] returns, no
//! armed entry is due at `now`.
//!
//! ## Ground rules
//!
//! The wheel stores `NonNull<Entry>` pointers. They are valid because:
//!
//! 1. **An armed entry stays alive at its address.** From [`Wheel::insert`] until it is
//!    removed, popped, or the wheel is dropped, the entry must not be dropped, moved or have
//!    its memory reused. Pinning forbids the move; the owning future's `Drop` must call
//!    [`Wheel::remove`] (idempotent, so it may always call it). This is the contract of the
//!    `unsafe fn insert`. `Entry::drop` aborts the process if it finds itself armed, rather
//!    than leave a dangling pointer behind.
//! 2. **One thread.** The wheel and its entries are used only by the executor's thread:
//!    [`Wheel`] and [`Entry`] are `!Send` and `!Sync`, and every mutable field of an entry is a
//!    `Cell`, so no data race is possible and no lock is needed.
//! 3. **Shared access only.** Nobody creates a `&mut Entry`: the owner and the wheel reach it
//!    through `&Entry`/`Pin<&Entry>` and raw pointers, all writes go through `Cell`s. `Entry`
//!    is `!Unpin`, so a `&mut` to the future that contains it does not claim uniqueness over it.
//! 4. **Who writes what.** Only the wheel writes an entry's links, position, owner and deadline;
//!    the owner reads the deadline and armed state and owns the waker cell
//!    ([`Entry::register`], [`Entry::take_waker`]).
//! 5. **One wheel, one list.** An entry is armed in at most one wheel (arming it in a second one
//!    panics) and linked in exactly one of that wheel's lists; its position names the list, so
//!    removal never searches. Removal through another wheel is a no-op.
//! 6. **Handing out.** A popped entry is unlinked and marked idle before the pointer is handed
//!    out, so the caller may re-arm it or drop its owner; the wheel keeps no pointer to it.
//!    Dropping the wheel marks every entry still armed idle (it walks them, which is why rule 1
//!    lasts until then).

mod entry;
mod level;
mod list;
mod wheel;

pub use entry::Entry;
pub use wheel::{Full, Wheel};
