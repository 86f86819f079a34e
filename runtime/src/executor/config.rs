//! How to build an executor: [`Builder`], and building the [`Executor`] (all of its
//! memory is allocated here).

use super::arena::Arena;
use super::attach;
use super::inbox::{Inbox, Parker};
use super::panic_policy::PanicPolicy;
use super::pool_list::PoolList;
use super::queue::LocalQueue;
use super::run::Executor;
use super::shared::Shared;
use super::stats::Stats;
use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize};
use evl_reactor::core::{Doorbell, Error as CoreError};
use evl_reactor::{Config as ReactorConfig, Reactor};

/// How to build an [`Executor`].
#[derive(Debug, Clone)]
pub struct Builder {
    pub(super) capacity: usize,
    pub(super) slot_size: usize,
    pub(super) budget: usize,
    pub(super) panic_policy: PanicPolicy,
    pub(super) name: &'static str,
    pub(super) reactor: ReactorConfig,
    pub(super) edf: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            capacity: 64,
            slot_size: 512,
            budget: 256,
            panic_policy: PanicPolicy::Isolate,
            name: "evl",
            reactor: ReactorConfig::default(),
            edf: false,
        }
    }
}

impl Builder {
    /// Task slots (default 64, from 1 to 2^24): the most tasks alive at once. A task holds
    /// its slot until it finished and its [`JoinHandle`] was awaited or dropped (the output
    /// lives there) and its last `Waker` clone is gone. Out of range, or more memory than the
    /// system gives (capacity x slot size), is an error from [`build`](Builder::build).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }
    /// Bytes per task slot (default 512, rounded up to 64, at most 2^30): the largest task
    /// (header plus future) that can be spawned.
    pub fn slot_size(mut self, bytes: usize) -> Self {
        self.slot_size = bytes;
        self
    }
    /// Polls per turn before the executor looks at its inbox and main future again
    /// (default 256).
    pub fn budget(mut self, polls: usize) -> Self {
        self.budget = polls;
        self
    }
    /// What a task panic does (default [`PanicPolicy::Isolate`]).
    pub fn panic_policy(mut self, p: PanicPolicy) -> Self {
        self.panic_policy = p;
        self
    }
    /// A name for reports.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
    /// Earliest-deadline-first order among runnable tasks (default: FIFO). Tasks set their
    /// deadline with [`crate::task::set_deadline`]; polls that start after it are counted in
    /// [`Stats::late_polls`].
    pub fn edf(mut self, on: bool) -> Self {
        self.edf = on;
        self
    }
    /// Timers that may be armed at once (default 1024); arming one more is an error.
    pub fn timers(mut self, n: usize) -> Self {
        self.reactor.timers = n;
        self
    }
    /// fds that may be registered at once (default 64, at most
    /// [`Config::MAX_FDS`](evl_reactor::Config::MAX_FDS)).
    pub fn fds(mut self, n: usize) -> Self {
        self.reactor.fds = n;
        self
    }

    /// Builds the executor: all of its memory is allocated here.
    pub fn build(self) -> Result<Executor, crate::Error> {
        Executor::build(self)
    }
}

impl Executor {
    /// Builds the executor: all of its memory is allocated here.
    fn build(b: Builder) -> Result<Executor, crate::Error> {
        if b.budget == 0 {
            return Err(CoreError::new(
                evl_reactor::core::ErrorKind::InvalidArgument,
                "Executor::build",
                "the budget must be at least 1 poll per turn",
            ));
        }
        // Every size is checked before anything is allocated: a typed error, not a panic.
        b.reactor.check()?;
        // First: on EVL, the doorbell and the poll set need an attached thread.
        let attached = attach::ensure(b.name)?;
        // The shutdown bell, made once per process, here rather than by the first task that
        // awaits `shutdown::requested` (an in-band call on the real-time path).
        crate::shutdown::prepare()?;
        let shared = Box::new(Shared {
            refs: AtomicUsize::new(1),
            arena: Arena::new(b.capacity, b.slot_size)?,
            inbox: Inbox::new(),
            parker: Parker::new(),
            wake: Doorbell::new()?,
            local: LocalQueue::new(b.edf),
            main_woken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            spawning: AtomicUsize::new(0),
            panic_policy: b.panic_policy,
            name: b.name,
            budget: b.budget,
            pool: PoolList::new(),
            stats: UnsafeCell::new(Stats::default()),
        });
        // Boxed: timer futures keep a pointer to the reactor they are armed in, so it must
        // not move when the Executor does.
        let reactor = Box::new(Reactor::new(
            b.reactor,
            Some(std::os::fd::AsFd::as_fd(&shared.wake)),
        )?);
        Ok(Executor {
            shared: NonNull::from(Box::leak(shared)),
            reactor,
            failing: Cell::new(0),
            _attached: attached,
            _not_send: PhantomData,
        })
    }

    /// An executor with the default [`Builder`] settings.
    pub fn new() -> Result<Self, crate::Error> {
        Builder::default().build()
    }

    /// How to build one.
    pub fn builder() -> Builder {
        Builder::default()
    }
}
