//! The host backend: EVL semantics on stock or PREEMPT_RT Linux. This module is the layer
//! every element's `host.rs` shares (`sys`: system call wrappers, futexes, the PI lock;
//! `shm`: state blocks in shared memory and FIFO bells; `monitor`: the wait queue of the
//! monitor elements); the elements' own host code lives with them (`crate::<element>::host`).
//!
//! | element | made of |
//! |---|---|
//! | Semaphore, Flags, Event, Mutex | a state block of atomics (`shm`) with a FIFO wait queue and futex waits (`monitor`; each element's rules in its `host.rs`); a PI futex for locks; an eventfd/FIFO "bell" makes semaphores and flags pollable |
//! | Timer | timerfd |
//! | PollSet | epoll |
//! | Thread | sched_setscheduler, sched_setaffinity, prctl(PR_SET_NAME), mlockall |
//! | Doorbell | eventfd |
//! | Proxy | a pipe, drained to the target by the drainer both backends use |
//! | Xbuf, Observable | see their modules |
//!
//! Public elements live under `/dev/shm` as `evl.<class>.<name>` (state) and
//! `evl.<class>.<name>.bell` (FIFO), so other processes can open them by name.

pub(crate) mod monitor;
pub(crate) mod shm;
pub(crate) mod sys;
