//! [`Executor`]: spawning onto it, its counters, and its run loop (`block_on`: poll the
//! main future, run a budget of tasks, wait in the reactor when nothing is runnable).

use super::attach;
use super::main_waker::main_waker;
use super::queue::edf_key;
use super::shared::{current, set_current, Shared};
use super::spawn_error::SpawnError;
use super::spawner::Spawner;
use super::stats::Stats;
use crate::task::join::JoinHandle;
use core::cell::Cell;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::pin;
use core::ptr::NonNull;
use core::sync::atomic::Ordering::*;
use core::task::{Context, Poll};
use evl_reactor::core::Error as CoreError;
use evl_reactor::{Reactor, Wait};
use std::fmt;

/// An executor, driven by the thread that calls [`Executor::block_on`]. Not `Send`: it
/// belongs to the thread that built it (its tasks may be `!Send`). Use [`Executor::spawner`]
/// to spawn from other threads.
pub struct Executor {
    pub(super) shared: NonNull<Shared>,
    pub(super) reactor: Box<Reactor>,
    /// Reactor turns failed in a row (0 while it works).
    pub(super) failing: Cell<u64>,
    /// Declared last: the thread detaches (if this executor attached it) after the reactor
    /// has closed its poll set.
    pub(super) _attached: Option<attach::Attachment>,
    pub(super) _not_send: PhantomData<*const ()>,
}

/// How long an executor whose reactor cannot wait sleeps before it tries again.
pub(super) const REACTOR_RETRY: core::time::Duration = core::time::Duration::from_millis(1);

impl Executor {
    pub(super) fn s(&self) -> &Shared {
        // SAFETY: the executor holds a reference for as long as it lives.
        unsafe { self.shared.as_ref() }
    }

    /// Spawns `fut` on this executor. The `Send` bounds are tokio's: the same code can spawn
    /// through a [`Spawner`] from another thread. A `!Send` future goes through
    /// [`spawn_local`](Executor::spawn_local).
    pub fn spawn<F>(&self, fut: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn`](Executor::spawn), with a name for reports.
    pub fn spawn_named<F>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }

    /// Spawns `fut` on this executor; it may be `!Send` (timers, `Rc`, ...): it only ever
    /// runs on this executor's thread.
    pub fn spawn_local<F: Future + 'static>(
        &self,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        Shared::spawn(self.shared.as_ptr(), fut, "task")
    }

    /// As [`spawn_local`](Executor::spawn_local), with a name for reports.
    pub fn spawn_local_named<F: Future + 'static>(
        &self,
        name: &'static str,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        Shared::spawn(self.shared.as_ptr(), fut, name)
    }

    /// A handle to spawn onto this executor from any thread.
    pub fn spawner(&self) -> Spawner {
        Shared::ref_inc(self.shared.as_ptr());
        Spawner::from_counted(self.shared)
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        // SAFETY: owner thread (Executor is !Send), not inside a poll of this executor's
        // counters (they are plain copies).
        let mut s = unsafe { *self.s().stats.get() };
        // The owner thread is the one that runs the executor, whose switches these are.
        s.stage_switches = evl_reactor::core::stage::thread_switches();
        s
    }

    /// Tasks alive (spawned and not yet released).
    pub fn tasks(&self) -> usize {
        self.s().arena.in_use()
    }

    /// Runs `fut` to completion on this thread, running spawned tasks meanwhile.
    ///
    /// Never fails: if the reactor cannot wait any more (its poll set broke: a descriptor
    /// closed behind its back on EVL, an fd of the executor closed by someone else), the
    /// failure is counted in [`Stats::reactor_errors`], reported once through `tracing`, and
    /// the executor goes on, retrying the wait every millisecond: tasks woken from other
    /// threads and by each other still run, timers and fds wait until the reactor works
    /// again. Use [`try_block_on`](Executor::try_block_on) to stop with the error instead.
    ///
    /// # Panics
    /// When called inside a `block_on` on the same thread (a programming error: await the
    /// future instead); `try_block_on` returns an error for it.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match self.run(fut, |_| None::<core::convert::Infallible>) {
            Ok(out) => out,
            Err(never) => match never {},
        }
    }

    /// As [`block_on`](Executor::block_on), but a reactor failure ends it: the error comes
    /// back (the future is dropped, the executor's tasks stay, for the executor's drop to
    /// cancel), and so does a call from inside a `block_on` on the same thread.
    pub fn try_block_on<F: Future>(&self, fut: F) -> Result<F::Output, crate::Error> {
        self.run(fut, Some)
    }

    /// The loop behind both: `on_failure` turns a reactor error into the value that ends
    /// the run, or `None` to go on.
    fn run<F: Future, E>(
        &self,
        fut: F,
        on_failure: impl Fn(CoreError) -> Option<E>,
    ) -> Result<F::Output, E> {
        let this = self.shared.as_ptr() as *const Shared;
        // A nested block_on would block the executor thread inside one of its own polls
        // (and steal the outer main future's wakes).
        if current().is_some() {
            const NESTED: &str =
                "block_on called from inside a block_on on this thread: await the future instead";
            return match on_failure(CoreError::new(
                evl_reactor::core::ErrorKind::InvalidArgument,
                "Executor::block_on",
                NESTED,
            )) {
                Some(e) => Err(e),
                None => panic!("{NESTED}"),
            };
        }
        let prev = set_current(this);
        struct Restore(*const Shared);
        impl Drop for Restore {
            fn drop(&mut self) {
                set_current(self.0);
            }
        }
        let _restore = Restore(prev);
        // Declared before the future: dropped after it, so timers it armed can disarm.
        // SAFETY: the guard is a local dropped at the end of this call; the reactor is boxed
        // (never moves) and outlives every armed timer (it is dropped last, after shutdown).
        let _enter = unsafe { self.reactor.enter() };
        let mut fut = pin!(fut);
        Shared::ref_inc(this);
        // SAFETY: the waker owns the reference just taken.
        let waker = unsafe { main_waker(this) };
        let mut cx = Context::from_waker(&waker);
        let s = self.s();
        s.main_woken.store(true, SeqCst);
        loop {
            if s.main_woken.swap(false, SeqCst) {
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    return Ok(out);
                }
            }
            let polls = self.turn(s.budget);
            let r = if s.local.is_empty() && !s.main_woken.load(SeqCst) && s.inbox.is_empty() {
                self.park().map_err(|e| (e, true))
            } else if polls == s.budget || polls == 0 {
                // Busy (a full budget, or only the main future keeps waking itself): serve
                // timers and fds without blocking.
                self.reactor_turn(Wait::Poll).map_err(|e| (e, false))
            } else {
                Ok(())
            };
            if let Err((e, blocking)) = r {
                if let Some(e) = on_failure(e) {
                    return Err(e);
                }
                if blocking {
                    // Nothing to run and no way to wait: retry later rather than spin.
                    std::thread::sleep(REACTOR_RETRY);
                }
            }
        }
    }

    /// One turn: take the inbox, poll up to `budget` runnable tasks. Returns polls made.
    pub(super) fn turn(&self, budget: usize) -> usize {
        let s = self.s();
        // SAFETY: owner thread: the single consumer of the inbox.
        let taken = unsafe { s.inbox.take_all(|h| s.local.push(h)) };
        let mut polls = 0;
        let mut late = 0;
        while polls < budget {
            let Some(task) = s.local.pop() else { break };
            if s.local.edf {
                let d = edf_key(task.as_ptr());
                if d != u64::MAX && evl_reactor::now_ns() > d {
                    late += 1;
                }
            }
            // SAFETY: a queued task carries a queue reference, handed to poll; we are its
            // executor thread.
            unsafe { (task.as_ref().vtable.poll)(task) };
            polls += 1;
        }
        // SAFETY: owner thread.
        let st = unsafe { &mut *s.stats.get() };
        st.late_polls += late;
        st.polls += polls as u64;
        st.remote_wakes += taken as u64;
        polls
    }

    /// Blocks in the reactor unless work is pending; the reactor's error if its wait failed.
    pub(super) fn park(&self) -> Result<(), CoreError> {
        let s = self.s();
        let mut r = Ok(());
        if s.parker.prepare_park() {
            // Last look: work published before PARKED would have seen RUNNING/NOTIFIED (a
            // signal handler on this thread may have queued locally meanwhile).
            if s.inbox.is_empty() && s.local.is_empty() && !s.main_woken.load(SeqCst) {
                // SAFETY: owner thread.
                unsafe { (*s.stats.get()).parks += 1 };
                r = self.reactor_turn(Wait::Block);
            }
        }
        s.parker.unparked();
        r
    }

    /// One reactor turn; drains the wake element when it was posted. A failed turn (the poll
    /// set cannot be waited on) is counted and reported once per run of failures; the caller
    /// decides whether to go on.
    fn reactor_turn(&self, wait: Wait) -> Result<(), CoreError> {
        let s = self.s();
        // Running again as soon as the wait returns: the timers and fds it dispatches wake
        // tasks on this thread, which then need no doorbell ring. With no fd registered (host
        // backend) the reactor's blocking wait is a futex wait on the parker's word, which a
        // waker then ends with a futex wake instead of a ring.
        match self
            .reactor
            .turn_parked(wait, || s.parker.park_futex(), || s.parker.unparked())
        {
            Ok(t) => {
                if t.woken {
                    s.wake.drain();
                }
                let failed = self.failing.replace(0);
                if failed > 0 {
                    tracing::warn!(
                        executor = s.name,
                        failed_turns = failed,
                        "reactor works again"
                    );
                }
                Ok(())
            }
            Err(e) => {
                // SAFETY: owner thread.
                unsafe { (*s.stats.get()).reactor_errors += 1 };
                if self.failing.replace(self.failing.get().saturating_add(1)) == 0 {
                    tracing::error!(
                        executor = s.name,
                        error = %e,
                        "reactor turn failed: timers and fds of this executor are not served \
                         until it works again"
                    );
                }
                Err(e)
            }
        }
    }

    /// The address of this executor's parker word. On the host backend, while no fd is
    /// registered, the executor's one blocking wait is a `futex` wait on this word, and a
    /// wake from another thread a `futex` wake on it (instead of the poll-set wait and a
    /// doorbell post). A system-call filter (the seccomp tests) admits `futex` on this
    /// address only, so any other futex (a contended lock) is still caught.
    pub fn park_word_address(&self) -> usize {
        self.s().parker.word() as *const _ as usize
    }

    /// [`park_word_address`](Executor::park_word_address) of the executor running on this
    /// thread (inside its `block_on`), if any.
    pub fn current_park_word_address() -> Option<usize> {
        // SAFETY: the current executor is alive while it runs on this thread.
        current().map(|s| unsafe { (*s).parker.word() } as *const _ as usize)
    }

    /// The executor's reactor (timers, fds), e.g. for its counters.
    pub fn reactor(&self) -> &Reactor {
        &self.reactor
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("name", &self.s().name)
            .field("tasks", &self.tasks())
            .finish()
    }
}
