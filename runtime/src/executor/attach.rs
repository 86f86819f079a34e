//! How an executor's thread gets attached to the core, on both backends.
//!
//! On the EVL core, only an attached thread may wait in a poll set, so every executor runs on
//! an attached thread:
//! - a [`Runtime`](crate::Runtime) attaches each executor thread it starts (and the thread
//!   that calls `block_on`) with the executor's [`ExecutorConfig`](crate::ExecutorConfig)
//!   settings; with no policy given, SCHED_FIFO at [`DEFAULT_PRIORITY`] where permitted, else
//!   SCHED_OTHER with a note on stderr, once per process;
//! - an executor built on a plain thread ([`ExecutorConfig::build`](crate::ExecutorConfig::build))
//!   attaches it with the settings given (by default the policy the thread has now, memory
//!   locking as the backend requires), and detaches it when the last executor that attached
//!   it is dropped. A thread the application attached itself is used as it is.
//!
//! The host backend applies the same rule, so a program that runs on the host runs on the
//! core.

use crate::core::thread::{current_policy, CpuSet, SchedPolicy, Thread, ThreadConfig};
use crate::core::{Error, ErrorKind, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The SCHED_FIFO priority of an executor whose config names no policy.
///
/// Why 40: on the EVL core, priorities only order out-of-band threads among themselves (every
/// one of them preempts all of Linux), so any value serves a program with one real-time
/// executor, and the middle of the scale leaves room above it for a more urgent loop (the
/// examples measure at 80) and below it for housekeeping (10). On the host backend
/// (PREEMPT_RT) the kernel's threaded interrupt handlers run at SCHED_FIFO 50: a default
/// below them cannot, when a loop runs away, starve the interrupts the machine needs (disk,
/// network, the console); a loop that must preempt interrupt handling asks for more with
/// [`ExecutorConfig::priority`](crate::ExecutorConfig::priority).
pub const DEFAULT_PRIORITY: u8 = 40;

/// The thread settings of one executor: where and how its thread runs.
#[derive(Debug, Clone)]
pub(crate) struct ThreadSettings {
    /// `None`: the default (see the module docs). `Some`: exactly this, or an error.
    pub(crate) policy: Option<SchedPolicy>,
    pub(crate) cpu: Option<usize>,
    pub(crate) attach: bool,
    /// `None`: locked for runtime threads, as the backend requires elsewhere.
    pub(crate) lock_memory: Option<bool>,
    pub(crate) warn_stage_switches: Option<bool>,
}

impl Default for ThreadSettings {
    fn default() -> Self {
        ThreadSettings {
            policy: None,
            cpu: None,
            attach: true,
            lock_memory: None,
            warn_stage_switches: None,
        }
    }
}

impl ThreadSettings {
    /// Attaches the calling thread, which a runtime started (or runs `block_on` on), as
    /// `name`: the policy given, or SCHED_FIFO at [`DEFAULT_PRIORITY`] with the fallback to
    /// SCHED_OTHER; memory locked unless told otherwise.
    pub(crate) fn attach_runtime_thread(&self, name: &'static str) -> Result<Option<Thread>> {
        if !self.attach {
            return Ok(None);
        }
        let lock = self.lock_memory.unwrap_or(true);
        match self.policy {
            Some(p) => self.attach_as(name, p, lock).map(Some),
            None => match self.attach_as(name, SchedPolicy::Fifo(DEFAULT_PRIORITY), lock) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    // Either the priority or the memory locking was refused: SCHED_OTHER
                    // tells which (it fails the same way if memory locking was the cause,
                    // and that error is the one to report).
                    let t = self.attach_as(name, SchedPolicy::Other, lock)?;
                    if let Some(note) = fallback_once(name, &e) {
                        eprintln!("{note}");
                    }
                    Ok(Some(t))
                }
                Err(e) => Err(e),
            },
        }
    }

    fn attach_as(&self, name: &str, policy: SchedPolicy, lock: bool) -> Result<Thread> {
        let mut cfg = ThreadConfig::new(name).policy(policy).lock_memory(lock);
        if let Some(on) = self.warn_stage_switches {
            cfg = cfg.warn_stage_switches(on);
        }
        if let Some(c) = self.cpu {
            cfg = cfg.cpus(CpuSet::single(c)?);
        }
        Thread::attach(cfg)
    }

    /// Whether a policy or a CPU was asked for (they apply only when the executor attaches
    /// the thread).
    fn explicit(&self) -> bool {
        self.policy.is_some() || self.cpu.is_some()
    }
}

thread_local! {
    /// The attachment executors made on this thread, and how many of them are alive.
    static IMPLICIT: RefCell<Option<(Thread, usize)>> = const { RefCell::new(None) };
}

/// Held by an executor that attached its thread (or shares such an attachment).
#[derive(Debug)]
pub(crate) struct Attachment(());

/// What asking for a policy or a CPU on an attached thread says.
const ATTACHED_ALREADY: &str = "this thread is attached to the core already: its policy and \
     CPU were set when it was attached; leave priority, policy and cpu out of the \
     ExecutorConfig (or set them where the thread is attached)";

/// Attaches the calling thread as `name` with `t`, unless it is attached already (then a
/// policy or CPU in `t` is an error); the returned guard (if any) keeps the attachment
/// alive.
///
/// With `attach: false` the settings are not applied: a thread that is attached is used as
/// it is, a plain one still gets the implicit attachment (every executor thread must be
/// attached on EVL).
pub(crate) fn ensure(name: &str, t: &ThreadSettings) -> Result<Option<Attachment>> {
    let plain = ThreadSettings::default();
    let t = if t.attach { t } else { &plain };
    IMPLICIT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let attached = slot.is_some() || Thread::is_attached();
        if attached && t.explicit() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "ExecutorConfig::build",
                ATTACHED_ALREADY,
            ));
        }
        if let Some((_, n)) = slot.as_mut() {
            *n += 1;
            return Ok(Some(Attachment(())));
        }
        if attached {
            return Ok(None); // the application's own attachment
        }
        let policy = match t.policy {
            Some(p) => p,
            None => current_policy()?,
        };
        // Locked on EVL whatever this says; on the host it needs a privilege an ordinary
        // program may lack (Runtime executors lock by default).
        let lock = t.lock_memory.unwrap_or(false);
        *slot = Some((t.attach_as(name, policy, lock)?, 1));
        Ok(Some(Attachment(())))
    })
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // try_with: an executor dropped during thread teardown finds the slot gone (the
        // attachment was dropped, hence detached, with it).
        let _ = IMPLICIT.try_with(|cell| {
            let mut slot = cell.borrow_mut();
            if let Some((_, n)) = slot.as_mut() {
                *n -= 1;
                if *n == 0 {
                    *slot = None; // detaches
                }
            }
        });
    }
}

/// Whether the SCHED_OTHER fallback was reported in this process.
static FALLBACK_SAID: AtomicBool = AtomicBool::new(false);

/// The note for the first fallback to SCHED_OTHER in this process (`None` afterwards: said
/// once, whichever executor falls back first).
fn fallback_once(executor: &str, refused: &Error) -> Option<String> {
    if FALLBACK_SAID.swap(true, Ordering::Relaxed) {
        return None;
    }
    Some(fallback_note(executor, refused))
}

/// What an executor fell back to, why, and how to grant real-time scheduling.
fn fallback_note(executor: &str, refused: &Error) -> String {
    let p = DEFAULT_PRIORITY;
    let why = match refused.os_error() {
        Some(errno) => format!(
            "{} ({})",
            refused.kind(),
            std::io::Error::from_raw_os_error(errno)
        ),
        None => refused.kind().to_string(),
    };
    format!(
        "note: evl: executor \"{executor}\" runs at SCHED_OTHER, without real-time guarantees: \
         its default, SCHED_FIFO priority {p}, was refused: {why}. To run it real-time: run as \
         root, give the program CAP_SYS_NICE (setcap cap_sys_nice+ep <program>), or raise \
         RLIMIT_RTPRIO to {p} or more (ulimit -r {p}; or '<user> - rtprio {p}' in \
         /etc/security/limits.conf, then log in again). To choose SCHED_OTHER and silence \
         this note: ExecutorConfig::priority(0), or #[evl::main(priority = 0)]."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_note_says_what_and_how_and_is_said_once() {
        let refused = Error::from_errno(libc::EPERM, "Thread::attach", "needs privileges");
        let note = fallback_note("control", &refused);
        for part in [
            "executor \"control\" runs at SCHED_OTHER",
            "SCHED_FIFO priority 40",
            "permission denied",
            "run as root",
            "CAP_SYS_NICE",
            "RLIMIT_RTPRIO",
            "ulimit -r 40",
            "rtprio 40' in /etc/security/limits.conf",
            "priority(0)",
            "priority = 0",
        ] {
            assert!(note.contains(part), "{part:?} missing from: {note}");
        }
        // Once per process: the first caller gets the note, nobody after it.
        let first = fallback_once("a", &refused);
        let second = fallback_once("b", &refused);
        assert!(second.is_none());
        // (A runtime of another test may have said it first.)
        if let Some(n) = first {
            assert!(n.contains("executor \"a\""), "{n}");
        }
        assert!(fallback_once("c", &refused).is_none());
    }
}
