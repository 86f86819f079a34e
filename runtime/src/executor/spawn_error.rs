//! [`SpawnError`]: why a task could not be spawned, and what to change; its conversion
//! into [`evl::Error`](crate::Error).

use super::arena::SLOT_ALIGN;
use evl_reactor::core::Error as CoreError;
use std::fmt;

/// Why a task could not be spawned. Nothing was allocated; the future is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// Every task slot is in use.
    Full {
        /// The executor's task capacity.
        capacity: usize,
    },
    /// The future does not fit a task slot. Raise the slot size to the one the message
    /// names (`#[evl::main(slot_size = N)]`, [`ExecutorConfig::slot_size`]), size it at
    /// compile time from the task function (`slot_size = evl::task::slot_size(my_task)`,
    /// see [`task::slot_size`](crate::task::slot_size)), or make the task an `#[evl::task]`
    /// (its static pool is sized at compile time).
    ///
    /// [`ExecutorConfig::slot_size`]: crate::ExecutorConfig::slot_size
    TooBig {
        /// Bytes (and alignment) the task needs.
        size: usize,
        /// Its alignment.
        align: usize,
        /// Bytes a slot holds.
        slot_size: usize,
    },
    /// The executor has shut down.
    Shutdown,
    /// `evl::spawn`/`evl::spawn_local` (or a pool's `spawn`) was called outside an executor.
    NoExecutor,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Full { capacity } => write!(
                f,
                "all {capacity} task slots are in use: raise the executor's task capacity or let tasks finish"
            ),
            SpawnError::TooBig { size, align, slot_size } => {
                let n = size.next_multiple_of(SLOT_ALIGN);
                if *align > SLOT_ALIGN {
                    write!(
                        f,
                        "the task needs alignment {align} but slots are aligned to {SLOT_ALIGN}: \
                         keep the over-aligned data outside the future (e.g. in a static)"
                    )
                } else {
                    write!(
                        f,
                        "the task needs {size} bytes but slots hold {slot_size}: \
                         write #[evl::main(slot_size = {n})] (or ExecutorConfig::slot_size({n}); \
                         evl::task::slot_size(task_fn) computes it at compile time), \
                         make it an #[evl::task] (its pool is sized at compile time), \
                         or keep large buffers outside the future"
                    )
                }
            }
            SpawnError::Shutdown => f.write_str("the executor has shut down"),
            SpawnError::NoExecutor => f.write_str(
                "no executor on this thread: spawn from a task, or use Executor::spawn / a Spawner",
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

/// `?` mixes spawns with other evl calls: `Full` and `TooBig` become
/// [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded), `Shutdown`
/// [`Closed`](crate::ErrorKind::Closed), `NoExecutor`
/// [`InvalidArgument`](crate::ErrorKind::InvalidArgument). The error's hint says what to
/// change; for `TooBig` it names a slot size that fits (the next power of two at or above
/// the size the task needs: the exact figure is in the `SpawnError`'s own message).
impl From<SpawnError> for CoreError {
    fn from(e: SpawnError) -> Self {
        use evl_reactor::core::ErrorKind as K;
        match e {
            SpawnError::Full { .. } => CoreError::new(
                K::CapacityExceeded,
                "spawn",
                "all task slots are in use: raise #[evl::main(capacity = N)] \
                 (ExecutorConfig::capacity) or let tasks finish",
            ),
            SpawnError::TooBig { size, align, .. } if align <= SLOT_ALIGN => {
                CoreError::new(K::CapacityExceeded, "spawn", too_big_hint(size))
            }
            SpawnError::TooBig { .. } => CoreError::new(
                K::InvalidArgument,
                "spawn",
                "the task is aligned above 64 bytes: keep the over-aligned data outside the future",
            ),
            SpawnError::Shutdown => {
                CoreError::new(K::Closed, "spawn", "the executor has shut down")
            }
            SpawnError::NoExecutor => CoreError::new(
                K::InvalidArgument,
                "spawn",
                "no executor on this thread: spawn from a task, or use Executor::spawn / a Spawner",
            ),
        }
    }
}

/// The hint for a task of `size` bytes that does not fit: a static string (errors carry no
/// allocation) naming the smallest power-of-two slot size that holds it.
fn too_big_hint(size: usize) -> &'static str {
    macro_rules! hints {
        ($($n:literal)*) => {
            [$((
                $n,
                concat!(
                    "the task does not fit a task slot: write #[evl::main(slot_size = ", $n,
                    ")] (or ExecutorConfig::slot_size(", $n, ")), make it an #[evl::task] \
                     (sized at compile time), or keep large buffers outside the future"
                ),
            )),*]
        };
    }
    const HINTS: [(usize, &str); 25] = hints!(
        64 128 256 512 1024 2048 4096 8192 16384 32768 65536 131072 262144 524288 1048576
        2097152 4194304 8388608 16777216 33554432 67108864 134217728 268435456 536870912
        1073741824
    );
    HINTS.iter().find(|(n, _)| *n >= size).map_or(
        "the task is larger than the largest slot size (2^30 bytes): keep large buffers \
             outside the future",
        |(_, h)| h,
    )
}
