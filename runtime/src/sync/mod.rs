//! Synchronisation between tasks, and from ordinary threads to tasks: channels, locks,
//! notification. The names and semantics are tokio's where they fit.
//!
//! | item | what |
//! |---|---|
//! | [`mpsc`] | bounded multi-producer single-consumer channel; capacity fixed at creation, heap ([`mpsc::channel`]) or `static` ([`mpsc::StaticChannel`]) storage |
//! | [`oneshot`] | one value, once |
//! | [`watch`] | one value, many readers told when it changes |
//! | [`broadcast`] | every receiver gets every value, or is told how many it missed ([`broadcast::RecvError::Lagged`]) |
//! | [`Mutex`], [`RwLock`] | async locks, FIFO-fair, guards held across `.await` |
//! | [`Semaphore`] | async counting semaphore, FIFO-fair |
//! | [`Barrier`] | `n` tasks meet, then all go on |
//! | [`Notify`] | wake one waiter (or store one permit), or wake every waiter |
//! | [`AsyncSemaphore`], [`AsyncFlags`] | EVL elements awaited from a task (defined in [`io`](crate::io), re-exported here) |
//! | `permits`, `ring`, `waiters`, `waker_slot` | the private lock-free cores (FIFO permit queue, bounded MPSC ring, Notify's waiter list, oneshot's waker slot), loom-checked in runtime/loom-models (with [`oneshot`] itself) |
//!
//! Every primitive works between tasks of one executor, between executors on different
//! threads, and (for the non-async calls) from ordinary threads. A task waiting on one is
//! woken through its executor's waker, which rings that executor's doorbell: on the EVL
//! backend an out-of-band call, never a futex or an in-band write.
//!
//! # No allocation after creation
//! A waiter is a node inside its pinned future, linked into a list the primitive owns; a
//! queue's slots are allocated at creation ([`mpsc::channel`], [`broadcast::channel`]) or
//! are the caller's `static` ([`mpsc::StaticChannel`]). [`Semaphore`], [`Mutex`],
//! [`RwLock`], [`Barrier`], [`Notify`] and [`mpsc::StaticChannel`] have `const`
//! constructors and never allocate; the other channels allocate once, in `channel()`.
//! A full queue is a typed error on `try_send` ([`mpsc::TrySendError::Full`]) and a wait on
//! `send`; closed ends give typed errors.
//!
//! # Locks
//! There is no std `Mutex`, `Condvar` or futex inside. The common paths are atomics:
//! * the FIFO permit queue behind [`Semaphore`], [`Mutex`], [`RwLock`] and the room of
//!   [`mpsc`] is one compare-and-swap to take or give permits *while nobody waits*;
//! * the [`mpsc`] ring, [`oneshot`] and [`Barrier`] are lock-free throughout; [`Notify`] as
//!   its docs say.
//!
//! Some paths take an evl-core [`RawLock`](crate::core::lock) for a short, bounded critical
//! section (no user code inside, except `T::clone` in [`broadcast`] and [`watch`]'s reads;
//! [`watch`]'s docs argue why its value sits behind a lock): queueing a waiter on a permit queue, giving permits back while somebody
//! waits, dropping a queued waiter, closing; [`watch`]'s value; [`broadcast`]'s ring.
//! Uncontended that lock is one compare-and-swap. Contended, the caller waits for the
//! holder: on the host a priority-inheriting futex wait (the holder is boosted); on the EVL
//! backend short out-of-band sleeps for an attached thread (no stage switch) and in-band
//! sleeps for a plain thread. A primitive used by the tasks of one executor only is never
//! contended.
//!
//! # RT-safety
//! "Blocks" means the calling *thread* waits for another thread (an `.await` that returns
//! `Pending` does not block: the executor runs other tasks). "In-band" is on the EVL
//! backend, for a task on an attached executor thread. Waking a task of another executor
//! is one doorbell write (out-of-band) in every row.
//!
//! | primitive | call | may block? | may allocate? | in-band call? |
//! |---|---|---|---|---|
//! | [`Semaphore`], [`Mutex`], [`RwLock`] | `try_acquire*`, `try_lock`, `try_read`, `try_write`, `available_permits` | no | no | no |
//! | | `acquire*().await`, `lock().await`, `read().await`, `write().await` | only on the `RawLock`, when it must queue | no | no |
//! | | dropping a guard/permit, `add_permits` | only on the `RawLock`, when somebody waits | no | no |
//! | | dropping a queued `acquire`/`lock` future, `close` | on the `RawLock` | no | no |
//! | | `acquire_owned`, `lock_owned` | as `acquire` | no (the `Arc` is the caller's) | no |
//! | [`Barrier`] | `wait().await` | no (as `Notify`) | no | no |
//! | [`Notify`] | all | see [`notify`] | no | no |
//! | [`mpsc`] | `channel(n)` | no | **yes, once** | no |
//! | | `StaticChannel::new`, `split` | no | no | no |
//! | | `try_send`, `Permit::send` | no | no | no |
//! | | `send().await`, `reserve().await` | only on the `RawLock`, when full | no | no |
//! | | `try_recv`, `recv().await` | only on the `RawLock`, when a sender waits for room | no | no |
//! | | `close`, dropping the `Receiver` | on the `RawLock` | no | no |
//! | [`oneshot`] | `channel()` | no | **yes, once** | no |
//! | | `send`, `try_recv`, `.await`, `close`, `closed().await` | no | no | no |
//! | [`watch`] | `channel(v)` | no | **yes, once** | no |
//! | | `send*`, `borrow*` (one `T::clone`), `subscribe`, `has_changed`, `changed().await` | on the `RawLock` for one clone or store (`subscribe`, `has_changed`, `changed` not) | no (`send_modify` and `borrow*` clone the value: no if its `Clone` does not) | no |
//! | [`broadcast`] | `channel(n)` | no | **yes, once** | no |
//! | | `send`, `try_recv`, `recv().await` | on the `RawLock` (`T::clone` inside it) | no | no |
//! | [`AsyncSemaphore`], [`AsyncFlags`] | see [what may block](crate::guide::blocking) | | | |
//!
//! Dropping a value (a channel's item, a replaced `watch` value, an overwritten `broadcast`
//! slot) runs its `Drop` on the thread that drops it; values that own heap memory free it
//! there.
//!
//! # Cancellation
//! Every `async` method documents its cancel safety. In short: dropping a pending
//! `recv`/`changed`/`acquire`/`lock`/`read`/`write`/`reserve` future loses nothing, leaves no
//! waiter behind, and keeps the FIFO order of the others (what a queued acquire had been
//! handed goes to the next waiter); dropping a pending [`mpsc::Sender::send`] drops its
//! value with it (use `reserve` to keep it); [`Barrier::wait`] counts its arrival from its
//! first poll.
//!
//! # Ecosystem crates on evl
//! Crates whose futures need nothing but a `Waker` run unchanged on an evl executor
//! (runtime/tests/ecosystem.rs runs each, on one executor and across two). Whether they are
//! fit for a real-time thread depends on what they do inside:
//!
//! | crate | runs on evl | RT-safe on one executor thread | RT-safe across threads |
//! |---|---|---|---|
//! | `futures-util` `join`, `select` | yes | yes: no allocation, no lock | yes |
//! | `futures-util` `FuturesUnordered` | yes | no: allocates a task node per pushed future | waking is lock-free; pushing allocates |
//! | `async-channel` | yes | no: `event-listener` allocates a listener per wait | no: and its listener list is a std `Mutex` |
//! | `embassy-sync` with `NoopRawMutex` (`Channel`, `Signal`, ...) | yes (one thread only: it is `!Sync`) | yes: fixed capacity, no allocation, no lock | not usable across threads |
//! | `embassy-sync` with `CriticalSectionRawMutex` | yes | the critical section's cost only | no: with `critical-section`'s `std` implementation every critical section is one process-wide std `Mutex` (a futex when contended) |
//! | `tokio::sync::oneshot` | yes | no: allocates at creation (as evl's) | sends are lock-free |
//! | `tokio::sync::mpsc` (bounded), `Notify`, `Mutex`, `Semaphore` | yes | mostly: a waiter list behind a std `Mutex` (uncontended: no system call); `mpsc` may allocate a block as its list grows | no: a contended std `Mutex` is a futex call (in-band on EVL) |
//!
//! So on a real-time thread that talks to other threads, use `evl::sync`; the other crates
//! are fine for code that runs on one executor thread as the table says, and anywhere
//! off the real-time path.

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
mod waker_slot;
pub mod watch;

pub use crate::io::{AsyncFlags, AsyncSemaphore};
pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
