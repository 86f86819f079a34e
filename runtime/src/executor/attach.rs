//! An executor attaches the thread it runs on, on both backends.
//!
//! On the EVL core, only an attached thread may wait in a poll set, so an executor built on a
//! plain thread attaches it (with the scheduling policy it has now, memory locking as the
//! backend requires) and detaches it when the last executor that attached it is dropped. A
//! thread the application attached itself (or a [`Runtime`](crate::Runtime) executor
//! thread) is used as it is. The host backend applies the same rule, so a program that runs
//! on the host runs on the core.

use crate::core::thread::{current_policy, Thread, ThreadConfig};
use crate::core::Result;
use std::cell::RefCell;

thread_local! {
    /// The attachment executors made on this thread, and how many of them are alive.
    static IMPLICIT: RefCell<Option<(Thread, usize)>> = const { RefCell::new(None) };
}

/// Held by an executor that attached its thread (or shares such an attachment).
#[derive(Debug)]
pub(crate) struct Attachment(());

/// Attaches the calling thread as `name` unless it is attached already; the returned guard
/// (if any) keeps the attachment alive.
pub(crate) fn ensure(name: &str) -> Result<Option<Attachment>> {
    IMPLICIT.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some((_, n)) = slot.as_mut() {
            *n += 1;
            return Ok(Some(Attachment(())));
        }
        if Thread::is_attached() {
            return Ok(None); // the application's own attachment
        }
        let cfg = ThreadConfig::new(name)
            .policy(current_policy()?)
            // Locked on EVL whatever this says; on the host it needs a privilege an
            // ordinary program may lack (Runtime executors lock by default).
            .lock_memory(false);
        *slot = Some((Thread::attach(cfg)?, 1));
        Ok(Some(Attachment(())))
    })
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // try_with: an executor dropped during thread teardown finds the slot gone (the
        // attachment was dropped, hence detached, with it).
        let _ = IMPLICIT.try_with(|cell| {
            let mut slot = cell.borrow_mut();
            if let Some((_, n)) = slot.as_mut() {
                *n -= 1;
                if *n == 0 {
                    *slot = None; // detaches
                }
            }
        });
    }
}
