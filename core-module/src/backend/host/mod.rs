//! The host backend: EVL semantics on stock or PREEMPT_RT Linux.
//!
//! | element | made of |
//! |---|---|
//! | Semaphore, Flags, Event, Mutex | a state block of atomics (`shm`) with a FIFO wait queue and futex waits (`monitor`); a PI futex for locks; an eventfd/FIFO "bell" makes semaphores and flags pollable |
//! | Timer | timerfd |
//! | PollSet | epoll |
//! | Thread | sched_setscheduler, sched_setaffinity, prctl(PR_SET_NAME), mlockall |
//! | Proxy, Xbuf, Observable | see their modules |
//!
//! Public elements live under `/dev/shm` as `evl.<class>.<name>` (state) and
//! `evl.<class>.<name>.bell` (FIFO), so other processes can open them by name.

pub(crate) mod monitor;
pub(crate) mod shm;
pub(crate) mod sys;
