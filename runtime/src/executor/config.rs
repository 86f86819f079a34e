//! [`ExecutorConfig`]: the one description of an executor — where its thread runs and
//! what it holds — and building the [`Executor`] from it (all of its memory is allocated
//! here).
//!
//! One builder story, as tokio's `runtime::Builder`: an `ExecutorConfig` builds an
//! executor on the calling thread ([`ExecutorConfig::build`], also reached as
//! [`Executor::builder`]), or is handed to a [`Runtime`](crate::Runtime) builder
//! ([`RuntimeBuilder::main`](crate::RuntimeBuilder::main),
//! [`executor`](crate::RuntimeBuilder::executor)), which starts and attaches the threads.
//! `#[evl::main]`'s keys are the same settings.

use super::arena::Arena;
use super::attach::{self, ThreadSettings};
use super::inbox::{Inbox, Parker};
use super::panic_policy::PanicPolicy;
use super::pool_list::PoolList;
use super::queue::LocalQueue;
use super::run::Executor;
use super::shared::Shared;
use super::stats::Stats;
use crate::core::thread::SchedPolicy;
use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize};
use evl_reactor::core::{Doorbell, Error as CoreError};
use evl_reactor::{Config as ReactorConfig, Reactor};

/// Task slots of an executor unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 64;

/// Bytes per task slot unless told otherwise: room for a control task that awaits a
/// few elements and timers (a task needs its future's size plus a header of about 150
/// bytes; [`SpawnError::TooBig`](crate::SpawnError::TooBig) names the size that fits).
pub const DEFAULT_SLOT_SIZE: usize = 1024;

/// Where and how one executor runs, and what it holds: see the [module docs](crate::executor) and the table below.
///
/// | setting | default | applies |
/// |---|---|---|
/// | [`priority`](Self::priority) / [`policy`](Self::policy) | runtime threads: SCHED_FIFO [`DEFAULT_PRIORITY`](crate::runtime::DEFAULT_PRIORITY) where permitted, else SCHED_OTHER and a note; [`build`](Self::build) on a plain thread: the thread's policy | when the thread is attached |
/// | [`cpu`](Self::cpu) | any | when the thread is attached |
/// | [`attach`](Self::attach), [`lock_memory`](Self::lock_memory), [`warn_stage_switches`](Self::warn_stage_switches) | yes; runtime threads yes, plain threads as the backend requires; debug builds | when the thread is attached |
/// | [`capacity`](Self::capacity), [`slot_size`](Self::slot_size) | [`DEFAULT_CAPACITY`], [`DEFAULT_SLOT_SIZE`] | task storage |
/// | [`timers`](Self::timers), [`fds`](Self::fds) | 1024, 64 | the reactor |
/// | [`budget`](Self::budget), [`edf`](Self::edf), [`panic_policy`](Self::panic_policy) | 256, FIFO, [`PanicPolicy::Isolate`] | the run loop |
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub(super) name: &'static str,
    pub(super) thread: ThreadSettings,
    pub(super) capacity: usize,
    pub(super) slot_size: usize,
    pub(super) budget: usize,
    pub(super) panic_policy: PanicPolicy,
    pub(super) reactor: ReactorConfig,
    pub(super) edf: bool,
}

impl Default for ExecutorConfig {
    /// An executor called "evl", every setting at its default.
    fn default() -> Self {
        ExecutorConfig::new("evl")
    }
}

impl ExecutorConfig {
    /// An executor called `name` (also its thread's name when a runtime starts it), any CPU,
    /// every setting at its default. In a [`Runtime`](crate::Runtime) it is real-time by
    /// default: SCHED_FIFO at [`DEFAULT_PRIORITY`](crate::runtime::DEFAULT_PRIORITY) when the process may use it (root,
    /// CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least that priority), otherwise SCHED_OTHER,
    /// and the executor says so once per process on stderr, with how to grant it. Ask for a
    /// policy explicitly with [`priority`](ExecutorConfig::priority) (0 for SCHED_OTHER,
    /// without a note) or [`policy`](ExecutorConfig::policy): then there is no fallback, and
    /// a policy the process may not use is an error from `build`/`block_on`.
    pub fn new(name: &'static str) -> Self {
        ExecutorConfig {
            name,
            thread: ThreadSettings::default(),
            capacity: DEFAULT_CAPACITY,
            slot_size: DEFAULT_SLOT_SIZE,
            budget: 256,
            panic_policy: PanicPolicy::Isolate,
            reactor: ReactorConfig::default(),
            edf: false,
        }
    }
    /// The executor's name, for reports (and its thread's name when a runtime starts it).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
    /// SCHED_FIFO at `prio` (1-99), or SCHED_OTHER for 0 (the explicit opt-out of the
    /// real-time default). Not permitted is an error, not a fallback. Applied when the
    /// executor attaches its thread; asking for it on a thread that is attached already is
    /// an error from [`build`](Self::build).
    pub fn priority(mut self, prio: u8) -> Self {
        self.thread.policy = Some(match prio {
            0 => SchedPolicy::Other,
            p => SchedPolicy::Fifo(p),
        });
        self
    }
    /// Any scheduling policy, exactly (no fallback); as [`priority`](Self::priority).
    pub fn policy(mut self, p: SchedPolicy) -> Self {
        self.thread.policy = Some(p);
        self
    }
    /// The policy asked for: `None` for the default.
    pub fn requested_policy(&self) -> Option<SchedPolicy> {
        self.thread.policy
    }
    /// Pinned to `cpu`; as [`priority`](Self::priority).
    pub fn cpu(mut self, cpu: usize) -> Self {
        self.thread.cpu = Some(cpu);
        self
    }
    /// Whether to attach the thread with these settings (default yes). With `false` a
    /// thread the application attached is used as it is (a plain one still gets the
    /// implicit attachment every executor thread needs, with its current policy).
    pub fn attach(mut self, on: bool) -> Self {
        self.thread.attach = on;
        self
    }
    /// Whether attaching locks the process memory (default: yes for runtime threads; on a
    /// plain thread, only where the backend requires it).
    pub fn lock_memory(mut self, on: bool) -> Self {
        self.thread.lock_memory = Some(on);
        self
    }
    /// Whether the EVL core reports each demotion of the executor thread to the in-band
    /// stage (counted in [`Stats::stage_switches`](crate::Stats)); default: on in debug
    /// builds, off in release builds.
    pub fn warn_stage_switches(mut self, on: bool) -> Self {
        self.thread.warn_stage_switches = Some(on);
        self
    }
    /// Task slots (default [`DEFAULT_CAPACITY`], from 1 to 2^24): the most tasks alive at
    /// once. A task holds its slot until it finished and its
    /// [`JoinHandle`](crate::JoinHandle) was awaited or dropped (the output lives there)
    /// and its last `Waker` clone is gone. Out of range, or more memory than the system
    /// gives (capacity x slot size), is an error from [`build`](Self::build).
    /// `#[evl::main(capacity = N)]`.
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }
    /// Bytes per task slot (default [`DEFAULT_SLOT_SIZE`], rounded up to 64, at most
    /// 2^30): the largest task (header plus future) that [`spawn`](crate::spawn) takes; a
    /// larger one is [`SpawnError::TooBig`](crate::SpawnError::TooBig), which names the
    /// size that fits. `#[evl::task]` pools are sized at compile time instead.
    /// `#[evl::main(slot_size = N)]`.
    pub fn slot_size(mut self, bytes: usize) -> Self {
        self.slot_size = bytes;
        self
    }
    /// Polls per turn before the executor looks at its inbox, main future and reactor
    /// again (default 256).
    pub fn budget(mut self, polls: usize) -> Self {
        self.budget = polls;
        self
    }
    /// What a task panic does (default [`PanicPolicy::Isolate`]).
    pub fn panic_policy(mut self, p: PanicPolicy) -> Self {
        self.panic_policy = p;
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

    /// Builds the executor on the calling thread (which then drives it with
    /// [`Executor::block_on`]); attaches the thread if it is not attached (see
    /// [`priority`](Self::priority)). Every size is checked first: a typed error, never a
    /// panic.
    pub fn build(self) -> Result<Executor, crate::Error> {
        Executor::build(&self, &self.thread)
    }

    /// Builds the executor on a thread the runtime attached already with
    /// [`attach_runtime_thread`](Self::attach_runtime_thread).
    pub(crate) fn build_on_runtime_thread(&self) -> Result<Executor, crate::Error> {
        Executor::build(self, &ThreadSettings::default())
    }

    /// Attaches the calling thread for a runtime: the policy given, or the real-time default
    /// with its fallback.
    pub(crate) fn attach_runtime_thread(
        &self,
    ) -> crate::Result<Option<crate::core::thread::Thread>> {
        self.thread.attach_runtime_thread(self.name)
    }

    /// The executor's name.
    pub(crate) fn name_str(&self) -> &'static str {
        self.name
    }
}

impl Executor {
    /// Builds the executor `b` describes on the calling thread: all of its memory is
    /// allocated here. `thread`: the settings to attach the thread with (a runtime that
    /// attached it already passes the defaults: nothing more is done then).
    fn build(b: &ExecutorConfig, thread: &ThreadSettings) -> Result<Executor, crate::Error> {
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
        let attached = attach::ensure(b.name, thread)?;
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

    /// An executor with the default settings ([`ExecutorConfig::default`]) on this thread.
    pub fn new() -> Result<Self, crate::Error> {
        ExecutorConfig::default().build()
    }

    /// How to build one on this thread: [`ExecutorConfig::default`], then
    /// [`build`](ExecutorConfig::build).
    pub fn builder() -> ExecutorConfig {
        ExecutorConfig::default()
    }
}
