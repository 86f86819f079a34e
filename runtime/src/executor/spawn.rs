//! Spawning: writing a task into a claimed slot (arena or static pool) and scheduling it,
//! and the free functions [`spawn`] and [`spawn_local`].

use super::arena::SLOT_ALIGN;
use super::shared::{current, Shared};
use super::spawn_error::SpawnError;
use crate::task::cell::Cell as TaskCell;
use crate::task::join::JoinHandle;
use crate::task::raw::{Header, TaskRef};
use core::future::Future;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering::*};

/// Spawns `fut` on the executor running the current task, like `tokio::spawn`: the future
/// and its output must be `Send + 'static`.
///
/// Unlike tokio's, an evl executor is one thread and does not steal work: the task runs on
/// the current executor's thread, never elsewhere. The `Send` bound keeps the code portable
/// (the same future can go to another executor through a [`Spawner`](super::Spawner)); a `!Send` future goes
/// through [`spawn_local`]. A full executor, a future larger than a task slot or a call
/// outside an executor is a [`SpawnError`], not a panic.
pub fn spawn<F>(fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_local(fut)
}

/// Spawns `fut`, which may be `!Send` (timers, `Rc`, ...), on the executor running the
/// current task (tokio's `task::spawn_local`; no `LocalSet` needed: every evl executor runs
/// its tasks on its own thread).
pub fn spawn_local<F: Future + 'static>(fut: F) -> Result<JoinHandle<F::Output>, SpawnError> {
    let cur = current().ok_or(SpawnError::NoExecutor)?;
    Shared::spawn(cur, fut, "task")
}

impl Shared {
    /// Spawns `fut` into a free slot.
    pub(super) fn spawn<F: Future>(
        this: *const Shared,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        // SAFETY: callers hold a reference (Executor, Spawner, or a running task).
        let s = unsafe { &*this };
        let (size, align) = (
            core::mem::size_of::<TaskCell<F, Shared>>(),
            core::mem::align_of::<TaskCell<F, Shared>>(),
        );
        if size > s.arena.slot_size() || align > SLOT_ALIGN {
            return Err(SpawnError::TooBig {
                size,
                align,
                slot_size: s.arena.slot_size(),
            });
        }
        s.spawning.fetch_add(1, SeqCst);
        let r = Self::spawn_into_slot(this, s, fut, name);
        s.spawn_done();
        r
    }

    fn spawn_into_slot<F: Future>(
        this: *const Shared,
        s: &Shared,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        if s.closed.load(SeqCst) {
            return Err(SpawnError::Shutdown);
        }
        let idx = s.arena.claim().ok_or(SpawnError::Full {
            capacity: s.arena.capacity(),
        })?;
        let cell = s.arena.slot_ptr(idx) as *mut TaskCell<F, Shared>;
        // SAFETY: the slot is ours (claimed), large and aligned enough (checked by `spawn`),
        // and holds no live value.
        let handle = unsafe { Self::start(this, cell, idx, ptr::null(), fut, name, false) };
        s.arena.set_ready(idx, true);
        Ok(handle)
    }

    /// Writes a task into claimed memory and schedules it.
    ///
    /// # Safety
    /// `cell` is claimed by the caller, aligned, holds no live value, and stays valid until
    /// the task releases it (arena slot `slot`, or the static pool slot whose flag is
    /// `pool_flag`). The executor is not closed and `spawning` counts the caller.
    unsafe fn start<F: Future>(
        this: *const Shared,
        cell: *mut TaskCell<F, Shared>,
        slot: usize,
        pool_flag: *const AtomicBool,
        fut: F,
        name: &'static str,
        pooled: bool,
    ) -> JoinHandle<F::Output> {
        Self::ref_inc(this); // the task's reference to the executor
                             // SAFETY: caller's contract.
        unsafe { cell.write(TaskCell::new(fut, this.cast(), slot, pool_flag, name)) };
        let ptr = NonNull::new(cell as *mut Header).expect("slot pointers are non-null");
        if pooled {
            // Before it is scheduled: its completion, on the executor thread, finds it.
            // SAFETY: a live pool task of this executor, in no stack yet; `this` is alive.
            unsafe { (*this).pool.push_start(ptr.as_ptr()) };
        }
        // State: SCHEDULED, 3 references: executor (released at completion), JoinHandle
        // (moved into it), queue (moved into the queue entry below).
        // SAFETY: the JoinHandle's reference.
        let handle = JoinHandle::new(unsafe { TaskRef::from_raw(ptr) });
        // SAFETY: the queue reference; `this` is alive.
        unsafe { Self::schedule(this, ptr) };
        handle
    }

    /// Spawns `fut` into a claimed static pool slot (`flag` set by the caller).
    ///
    /// # Safety
    /// `cell` and `flag` belong to one static pool slot the caller just claimed.
    pub(crate) unsafe fn spawn_pooled<F: Future>(
        this: *const Shared,
        cell: *mut TaskCell<F, Shared>,
        flag: &'static AtomicBool,
        fut: F,
        name: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        // SAFETY: callers hold a reference (Spawner or a running task's executor).
        let s = unsafe { &*this };
        s.spawning.fetch_add(1, SeqCst);
        let r = if s.closed.load(SeqCst) {
            flag.store(false, Release);
            Err(SpawnError::Shutdown)
        } else {
            // The task is listed before it is scheduled: it cannot be released before.
            // SAFETY: caller's contract: a claimed static slot, valid forever.
            let h = unsafe { Self::start(this, cell, usize::MAX, flag, fut, name, true) };
            Ok(h)
        };
        s.spawn_done();
        r
    }
}
