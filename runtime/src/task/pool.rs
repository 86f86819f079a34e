//! Static task pools: `N` task slots for one `async fn`, in `.bss`, for
//! `#[evl::task(pool_size = N)]`.
//!
//! The future type of an `async fn` cannot be named on stable Rust, so the pool is declared
//! as a [`TaskPoolHolder`] of raw, zeroed bytes whose size [`task_pool_size`] computes from
//! the function itself at compile time, and viewed as the typed [`TaskPool`] through
//! [`TaskPoolHolder::pool`]. A zeroed [`TaskPool`] is a valid, empty pool (every slot's claim
//! flag is `false`), so nothing runs at start-up.
//!
//! Claiming a slot is one compare-and-swap per slot tried; a full pool is
//! [`SpawnError::Full`]. A task releases its slot when its last reference goes (its
//! `JoinHandle` awaited or dropped, its last `Waker` dropped).

use super::cell::Cell as TaskCell;
use super::join::JoinHandle;
use crate::executor::shared::{current, Shared};
use crate::executor::{SpawnError, Spawner};
use core::cell::UnsafeCell;
use core::future::Future;
use core::mem::{align_of, size_of, MaybeUninit};
use core::sync::atomic::{AtomicBool, Ordering::*};

/// The largest alignment a pool may need (the holder's alignment).
pub const POOL_ALIGN: usize = 64;

/// An `async fn` (or any `Copy` function) whose call returns a `'static` future, seen
/// through its argument tuple `Args`.
pub trait TaskFn<Args>: Copy {
    /// The future a call returns.
    type Fut: Future + 'static;
}

macro_rules! task_fn {
    ($($a:ident),*) => {
        impl<Func, Fut, $($a,)*> TaskFn<($($a,)*)> for Func
        where
            Func: Copy + FnOnce($($a),*) -> Fut,
            Fut: Future + 'static,
        {
            type Fut = Fut;
        }
    };
}
task_fn!();
task_fn!(A1);
task_fn!(A1, A2);
task_fn!(A1, A2, A3);
task_fn!(A1, A2, A3, A4);
task_fn!(A1, A2, A3, A4, A5);
task_fn!(A1, A2, A3, A4, A5, A6);
task_fn!(A1, A2, A3, A4, A5, A6, A7);
task_fn!(A1, A2, A3, A4, A5, A6, A7, A8);

/// The size of `TaskPool<Fut, N>` for the future type `f` returns, at compile time.
pub const fn task_pool_size<F, Args, Fut, const N: usize>(f: F) -> usize
where
    F: TaskFn<Args, Fut = Fut>,
    Fut: Future + 'static,
{
    let _ = f;
    size_of::<TaskPool<Fut, N>>()
}

/// The slot size (bytes) a task of the `async fn` `f` needs in an executor's arena, at
/// compile time: give it to `#[evl::main(slot_size = evl::task::slot_size(control))]` or
/// [`ExecutorConfig::slot_size`](crate::ExecutorConfig::slot_size), so that
/// `evl::spawn(control(..))` always fits. For several functions, take the largest:
///
/// ```
/// async fn small() {}
/// async fn big(buf: [u8; 2000]) -> usize { evl::yield_now().await; buf.len() }
///
/// const SLOT: usize = {
///     let (a, b) = (evl::task::slot_size(small), evl::task::slot_size(big));
///     if a > b { a } else { b }
/// };
/// # fn main() -> evl::Result<()> {
/// let ex = evl::ExecutorConfig::new("sized").slot_size(SLOT).build()?;
/// let task = ex.spawn(big([0; 2000]))?;
/// assert_eq!(ex.block_on(task).unwrap(), 2000);
/// # Ok(()) }
/// ```
pub const fn slot_size<F, Args, Fut>(f: F) -> usize
where
    F: TaskFn<Args, Fut = Fut>,
    Fut: Future + 'static,
{
    let _ = f;
    size_of::<TaskCell<Fut, Shared>>()
}

/// Raw, zeroed, 64-byte-aligned static storage for one pool. See the [module docs](self).
#[repr(C, align(64))]
pub struct TaskPoolHolder<const SIZE: usize> {
    bytes: UnsafeCell<[u8; SIZE]>,
}

// SAFETY: the bytes are only used as a TaskPool, whose slots are claimed atomically.
unsafe impl<const SIZE: usize> Sync for TaskPoolHolder<SIZE> {}

impl<const SIZE: usize> TaskPoolHolder<SIZE> {
    /// Zeroed storage (an empty pool).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        TaskPoolHolder {
            bytes: UnsafeCell::new([0; SIZE]),
        }
    }

    /// The typed pool in this storage.
    ///
    /// # Safety
    /// `SIZE` must be `task_pool_size::<F, Args, Fut, N>(f)` for this same function and `N`
    /// (the macro guarantees it), and this holder must not be viewed as any other pool.
    pub unsafe fn pool<F, Args, Fut, const N: usize>(
        &'static self,
        f: F,
    ) -> &'static TaskPool<Fut, N>
    where
        F: TaskFn<Args, Fut = Fut>,
        Fut: Future + 'static,
    {
        let _ = f;
        const {
            assert!(
                align_of::<TaskPool<Fut, N>>() <= POOL_ALIGN,
                "task future alignment above 64"
            )
        };
        assert_eq!(
            size_of::<TaskPool<Fut, N>>(),
            SIZE,
            "TaskPoolHolder sized for another pool"
        );
        // SAFETY: same size (checked), alignment within the holder's (checked), and a zeroed
        // TaskPool is valid (claim flags false, slot bytes MaybeUninit); the caller promises
        // this holder is only ever this pool.
        unsafe { &*(self.bytes.get() as *const TaskPool<Fut, N>) }
    }
}

/// One slot: a claim flag and room for one task.
#[repr(C)]
pub struct PoolSlot<F: Future + 'static> {
    claimed: AtomicBool,
    cell: UnsafeCell<MaybeUninit<TaskCell<F, Shared>>>,
}

/// `N` task slots for one future type.
#[repr(C)]
pub struct TaskPool<F: Future + 'static, const N: usize> {
    slots: [PoolSlot<F>; N],
}

// SAFETY: slots are claimed with an atomic CAS; a claimed slot's memory is written by the
// claimer and then reached only through the task protocol (see crate::task).
unsafe impl<F: Future + 'static, const N: usize> Sync for TaskPool<F, N> {}

impl<F: Future + 'static, const N: usize> TaskPool<F, N> {
    /// Prepares to spawn `fut` in this pool; see [`PoolSpawn`].
    pub fn spawner(&'static self, fut: F, name: &'static str) -> PoolSpawn<F> {
        PoolSpawn {
            slots: &self.slots,
            fut,
            name,
        }
    }

    /// Slots in use.
    pub fn in_use(&'static self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.claimed.load(Relaxed))
            .count()
    }
}

/// A future ready to go into a pool slot: [`spawn`](PoolSpawn::spawn) it on the current
/// executor, or [`spawn_on`](PoolSpawn::spawn_on) another.
#[must_use = "a task does nothing until spawned"]
pub struct PoolSpawn<F: Future + 'static> {
    slots: &'static [PoolSlot<F>],
    fut: F,
    name: &'static str,
}

impl<F: Future + 'static> PoolSpawn<F> {
    fn claim(&self) -> Option<&'static PoolSlot<F>> {
        self.slots.iter().find(|s| {
            s.claimed
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        })
    }

    fn go(self, shared: *const Shared) -> Result<JoinHandle<F::Output>, SpawnError> {
        let slot = self.claim().ok_or(SpawnError::Full {
            capacity: self.slots.len(),
        })?;
        let cell = slot.cell.get() as *mut TaskCell<F, Shared>;
        // SAFETY: the slot is ours (claimed above) and static; `shared` is a live executor
        // (the current one, or a Spawner's).
        unsafe { Shared::spawn_pooled(shared, cell, &slot.claimed, self.fut, self.name) }
    }

    /// Spawns onto the executor running the current task.
    pub fn spawn(self) -> Result<JoinHandle<F::Output>, SpawnError> {
        let shared = current().ok_or(SpawnError::NoExecutor)?;
        self.go(shared)
    }

    /// Spawns onto the executor behind `s` (the future crosses threads, so it must be Send).
    pub fn spawn_on(self, s: &Spawner) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send,
        F::Output: Send,
    {
        self.go(s.shared_ptr())
    }
}

impl<const SIZE: usize> core::fmt::Debug for TaskPoolHolder<SIZE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TaskPoolHolder")
            .field("size", &SIZE)
            .finish()
    }
}

impl<F: Future + 'static> core::fmt::Debug for PoolSlot<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolSlot")
            .field("claimed", &self.claimed.load(Relaxed))
            .finish()
    }
}

impl<F: Future + 'static, const N: usize> core::fmt::Debug for TaskPool<F, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.slots.iter()).finish()
    }
}

impl<F: Future + 'static> core::fmt::Debug for PoolSpawn<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolSpawn")
            .field("name", &self.name)
            .field("slots", &self.slots.len())
            .finish()
    }
}
