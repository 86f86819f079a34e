//! Synchronisation between tasks, and from ordinary threads to tasks.
//!
//! TODO docs
pub mod barrier;
pub mod broadcast;
pub mod mpsc;
pub mod mutex;
pub mod notify;
pub mod oneshot;
mod permits;
mod ring;
pub mod rwlock;
pub mod semaphore;
mod waiters;
pub mod watch;

pub use crate::io::{AsyncFlags, AsyncSemaphore};
pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
