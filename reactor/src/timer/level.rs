//! [`Level`]: 64 slots of one wheel level with their occupancy bitmap, and the arithmetic that
//! maps a deadline to its (level, slot) relative to the wheel's cursor.
//!
//! Level `l` splits time into slots `64^l` ns wide: slot `s` of level `l` holds deadlines
//! whose 6-bit digit `l` (bits `6l..6l+6`) is `s`. Eleven levels cover the 64 bits of a `u64`
//! (level 10 only uses digits 0..=15). A deadline ahead of the cursor `elapsed` goes to the
//! level of the most significant digit in which it differs from `elapsed`; there its digit is
//! strictly greater than the cursor's, so the occupied slots of a level, read from bit 0 up,
//! are already in time order (no rotation as in tokio's wheel, whose cursor can sit inside a
//! level).

use super::entry::Entry;
use super::list::List;
use std::ptr::NonNull;

/// Bits of a deadline per level.
pub(super) const BITS: u32 = 6;
/// Slots per level.
pub(super) const SLOTS: usize = 1 << BITS;
/// Levels needed to cover a `u64`: `ceil(64 / 6)`.
pub(super) const LEVELS: usize = 64usize.div_ceil(BITS as usize);

/// The level of `deadline` relative to the cursor `elapsed`.
///
/// Requires `deadline > elapsed`.
pub(super) fn level_for(elapsed: u64, deadline: u64) -> usize {
    debug_assert!(deadline > elapsed);
    let differ = elapsed ^ deadline;
    let top = 63 - differ.leading_zeros();
    (top / BITS) as usize
}

/// The slot of `deadline` in level `level`.
pub(super) fn slot_for(deadline: u64, level: usize) -> usize {
    ((deadline >> (level as u32 * BITS)) & (SLOTS as u64 - 1)) as usize
}

/// The first nanosecond of slot `slot` of level `level`, for the cursor `elapsed`: the
/// cursor's digits above the level, `slot` as the level's digit, zeros below.
pub(super) fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let shift = level as u32 * BITS;
    let above = shift + BITS;
    let high = if above >= 64 {
        0
    } else {
        elapsed & (u64::MAX << above)
    };
    high | ((slot as u64) << shift)
}

/// One level of the wheel: 64 lists and a bitmap of the non-empty ones.
pub(super) struct Level {
    /// Bit `s` is set exactly when `slots[s]` is non-empty.
    occupied: u64,
    slots: [List; SLOTS],
}

impl Level {
    pub(super) const fn new() -> Level {
        const EMPTY: List = List::new();
        Level {
            occupied: 0,
            slots: [EMPTY; SLOTS],
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    /// The lowest non-empty slot, which is the earliest one (see the module doc).
    pub(super) fn first_occupied(&self) -> Option<usize> {
        if self.occupied == 0 {
            None
        } else {
            Some(self.occupied.trailing_zeros() as usize)
        }
    }

    pub(super) fn slot(&self, slot: usize) -> &List {
        &self.slots[slot]
    }

    /// Appends `e` to `slot`.
    ///
    /// # Safety
    /// As [`List::push_back`]: `e` is alive and in no list; this level's lists hold only live
    /// entries.
    pub(super) unsafe fn push(&mut self, slot: usize, e: NonNull<Entry>) {
        // SAFETY: forwarded from our caller.
        unsafe { self.slots[slot].push_back(e) };
        self.occupied |= 1 << slot;
    }

    /// Unlinks `e` from `slot`.
    ///
    /// # Safety
    /// As [`List::unlink`]: `e` is alive and linked in `slot`.
    pub(super) unsafe fn unlink(&mut self, slot: usize, e: NonNull<Entry>) {
        // SAFETY: forwarded from our caller.
        unsafe { self.slots[slot].unlink(e) };
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    /// Unlinks and returns the first entry of `slot`.
    ///
    /// # Safety
    /// This level's lists hold only live entries.
    pub(super) unsafe fn pop(&mut self, slot: usize) -> Option<NonNull<Entry>> {
        // SAFETY: forwarded from our caller.
        let e = unsafe { self.slots[slot].pop_front() };
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
        e
    }

    /// Empties every slot, marking the entries idle. Returns how many there were.
    ///
    /// # Safety
    /// This level's lists hold only live entries.
    pub(super) unsafe fn detach_all(&mut self) -> usize {
        let mut n = 0;
        while let Some(slot) = self.first_occupied() {
            // SAFETY: forwarded from our caller.
            n += unsafe { self.slots[slot].detach_all() };
            self.occupied &= !(1 << slot);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_levels_cover_u64() {
        assert_eq!(LEVELS, 11);
        assert_eq!(level_for(0, u64::MAX), 10);
        assert_eq!(slot_for(u64::MAX, 10), 15);
    }

    #[test]
    fn level_is_the_highest_differing_digit() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, 1_000_000), 3); // 2^19.9
        assert_eq!(level_for(0, 1_000_000_000), 4); // 2^29.9
        assert_eq!(level_for(0, 3_600_000_000_000), 6); // 2^41.7

        // Same high digits: only the differing digit counts, not the distance.
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(4095, 4096), 2);
    }

    #[test]
    fn slot_start_keeps_the_cursor_above_and_clears_below() {
        let elapsed = 0x1234_5678_9abc_def0;
        for level in 0..LEVELS {
            for slot in [0, 1, 15, 63] {
                if level == LEVELS - 1 && slot > 15 {
                    continue;
                }
                let s = slot_start(elapsed, level, slot);
                assert_eq!(slot_for(s, level), slot);
                let shift = level as u32 * BITS;
                assert_eq!(s & ((1u64 << shift) - 1), 0);
                if shift + BITS < 64 {
                    assert_eq!(s >> (shift + BITS), elapsed >> (shift + BITS));
                }
            }
        }
        assert_eq!(slot_start(u64::MAX, 10, 15), 15 << 60);
    }

    #[test]
    fn deadline_lies_in_its_slot_ahead_of_the_cursor() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let elapsed = x >> (x % 64);
            let deadline = elapsed.saturating_add(1 + (x.rotate_left(17) >> (x % 61)));
            if deadline <= elapsed {
                continue;
            }
            let level = level_for(elapsed, deadline);
            let slot = slot_for(deadline, level);
            let start = slot_start(elapsed, level, slot);
            assert!(start > elapsed, "slot must start after the cursor");
            assert!(start <= deadline);
            assert!(slot > slot_for(elapsed, level));
        }
    }
}
