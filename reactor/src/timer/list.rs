//! [`List`]: the intrusive, doubly linked FIFO of entries behind every wheel slot and the due
//! list.
//!
//! This is the only place that follows entry links. Each operation is O(1) except the
//! explicit walks ([`List::min_deadline`], [`List::detach_all`]). The list only stores head
//! and tail; the links live in the entries, so a list never allocates.

use super::entry::{Entry, Link};
use std::ptr::NonNull;

/// Head and tail of an intrusive list of [`Entry`]s.
///
/// Invariant: every entry reachable from `head` is alive and linked in this list only, its
/// `prev`/`next` agree with its neighbours, and `tail` is the last of them.
pub(super) struct List {
    head: Link,
    tail: Link,
}

impl List {
    /// An empty list.
    pub(super) const fn new() -> List {
        List {
            head: None,
            tail: None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(super) fn head(&self) -> Link {
        self.head
    }

    /// Appends `e`.
    ///
    /// # Safety
    /// `e` points to a live entry that is in no list, and the list invariant holds.
    pub(super) unsafe fn push_back(&mut self, e: NonNull<Entry>) {
        // SAFETY: the caller guarantees `e` is alive; we only touch its `Cell`s.
        let entry = unsafe { e.as_ref() };
        entry.prev.set(self.tail);
        entry.next.set(None);
        match self.tail {
            // SAFETY: `tail` is in this list, hence alive (list invariant).
            Some(tail) => unsafe { tail.as_ref() }.next.set(Some(e)),
            None => self.head = Some(e),
        }
        self.tail = Some(e);
    }

    /// Unlinks `e` and clears its links.
    ///
    /// # Safety
    /// `e` points to a live entry linked in this list, and the list invariant holds.
    pub(super) unsafe fn unlink(&mut self, e: NonNull<Entry>) {
        // SAFETY: the caller guarantees `e` is alive and in this list.
        let entry = unsafe { e.as_ref() };
        let prev = entry.prev.take();
        let next = entry.next.take();
        match prev {
            // SAFETY: `prev` is `e`'s neighbour in this list, hence alive (list invariant).
            Some(p) => unsafe { p.as_ref() }.next.set(next),
            None => {
                debug_assert_eq!(self.head, Some(e), "entry is not in this list");
                self.head = next;
            }
        }
        match next {
            // SAFETY: `next` is `e`'s neighbour in this list, hence alive (list invariant).
            Some(n) => unsafe { n.as_ref() }.prev.set(prev),
            None => {
                debug_assert_eq!(self.tail, Some(e), "entry is not in this list");
                self.tail = prev;
            }
        }
    }

    /// Unlinks and returns the first entry.
    ///
    /// # Safety
    /// The list invariant holds.
    pub(super) unsafe fn pop_front(&mut self) -> Link {
        let head = self.head?;
        // SAFETY: `head` is in this list and alive (list invariant, from our caller).
        unsafe { self.unlink(head) };
        Some(head)
    }

    /// The entry with the smallest deadline (the first of equals), walking the whole list.
    ///
    /// # Safety
    /// The list invariant holds.
    pub(super) unsafe fn min_deadline(&self) -> Option<(u64, NonNull<Entry>)> {
        let mut best: Option<(u64, NonNull<Entry>)> = None;
        let mut cur = self.head;
        while let Some(e) = cur {
            // SAFETY: every entry reachable from `head` is alive (list invariant).
            let entry = unsafe { e.as_ref() };
            let d = entry.deadline();
            if !matches!(best, Some((b, _)) if b <= d) {
                best = Some((d, e));
            }
            cur = entry.next.get();
        }
        best
    }

    /// The first entry (in list order) whose deadline is at or before `limit`, walking the list.
    ///
    /// # Safety
    /// The list invariant holds.
    pub(super) unsafe fn first_at_or_before(&self, limit: u64) -> Link {
        let mut cur = self.head;
        while let Some(e) = cur {
            // SAFETY: every entry reachable from `head` is alive (list invariant).
            let entry = unsafe { e.as_ref() };
            if entry.deadline() <= limit {
                return Some(e);
            }
            cur = entry.next.get();
        }
        None
    }

    /// Empties the list, marking every entry idle. Returns how many there were.
    ///
    /// # Safety
    /// The list invariant holds.
    pub(super) unsafe fn detach_all(&mut self) -> usize {
        let mut n = 0;
        let mut cur = self.head.take();
        self.tail = None;
        while let Some(e) = cur {
            // SAFETY: every entry reachable from the former head is alive (list invariant);
            // we read its successor before clearing its links.
            let entry = unsafe { e.as_ref() };
            cur = entry.next.get();
            entry.set_idle();
            n += 1;
        }
        n
    }
}
