//! Attaching threads to the core.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Thread`]: attach, read back, detach on drop |
//! | `types.rs` | [`ThreadConfig`], [`SchedPolicy`], [`CpuSet`], [`CoreStats`]; whether the calling thread is attached (shared with every element's backends) |
//! | `host.rs` | the Linux side: locked memory, policy, affinity, OS name (all of it on the host backend) |
//! | `evl.rs` | the core's side: the thread element, its scheduling, stage-switch warnings |

mod evl;
mod host;
pub(crate) mod types;

pub use host::current_policy;
pub use types::{CoreStats, CpuSet, SchedPolicy, ThreadConfig};

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, MAX_NAME_LEN};
use core::marker::PhantomData;

/// The per-backend part of an attachment.
#[derive(Debug)]
enum Inner {
    /// Host: the in-band policy and affinity are the whole attachment.
    Host,
    /// EVL: the thread's element on the core.
    Evl(Option<evl::Attachment>),
}

/// The calling thread, attached to the core. Detaches on drop: the thread gets back the
/// scheduling policy, priority and affinity it had before. Not `Send`: attachment belongs to
/// the thread that made it.
#[derive(Debug)]
pub struct Thread {
    name: [u8; MAX_NAME_LEN],
    name_len: usize,
    prev: host::Previous,
    inner: Inner,
    _not_send: PhantomData<*const ()>,
}

impl Thread {
    /// Attaches the calling thread with `cfg`. A thread attaches once at a time.
    pub fn attach(cfg: ThreadConfig<'_>) -> Result<Thread> {
        const OP: &str = "Thread::attach";
        let name = Name::new(cfg.name, OP)?;
        if let SchedPolicy::Fifo(p) = cfg.policy {
            if !(1..=99).contains(&p) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    OP,
                    "SCHED_FIFO priorities go from 1 to 99",
                ));
            }
        }
        if let Some(cpus) = &cfg.cpus {
            let online = CpuSet::online()?;
            if cpus.is_empty() || cpus.iter().any(|c| !online.contains(c)) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    OP,
                    "the CPU set is empty or names a CPU this process cannot use (see CpuSet::online)",
                ));
            }
        }
        let backend = backend::current()?;
        if types::is_attached() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "this thread is already attached; drop the first Thread first",
            ));
        }
        // The EVL core attaches only threads of a process with mlockall(MCL_FUTURE) in force.
        if cfg.lock_memory || backend == Backend::Evl {
            host::lock_memory(OP)?;
        }
        let (pol, prio) = match cfg.policy {
            SchedPolicy::Fifo(p) => (libc::SCHED_FIFO, p as libc::c_int),
            SchedPolicy::Other => (libc::SCHED_OTHER, 0),
        };
        let prev = host::apply(&name, cfg.cpus.as_ref(), pol, prio, OP)?;
        let inner = match backend {
            Backend::Host => Inner::Host,
            Backend::Evl => {
                match evl::attach(
                    name.as_str(),
                    cfg.public,
                    pol,
                    prio,
                    cfg.warn_stage_switches,
                ) {
                    Ok(a) => Inner::Evl(Some(a)),
                    Err(e) => {
                        prev.restore();
                        return Err(e);
                    }
                }
            }
        };
        types::set_attached(true);
        let mut buf = [0u8; MAX_NAME_LEN];
        buf[..name.as_str().len()].copy_from_slice(name.as_str().as_bytes());
        Ok(Thread {
            name: buf,
            name_len: name.as_str().len(),
            prev,
            inner,
            _not_send: PhantomData,
        })
    }

    /// The name the thread was attached with.
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).expect("validated ASCII")
    }

    /// The scheduling policy in effect now, read back from the kernel.
    pub fn policy(&self) -> Result<SchedPolicy> {
        if let Inner::Evl(Some(a)) = &self.inner {
            let (pol, prio) = a.sched()?;
            return Ok(match pol {
                libc::SCHED_FIFO | libc::SCHED_RR => SchedPolicy::Fifo(prio as u8),
                _ => SchedPolicy::Other,
            });
        }
        current_policy()
    }

    /// The CPUs the thread may run on now.
    pub fn cpus(&self) -> Result<CpuSet> {
        CpuSet::online()
    }

    /// How many times the core switched this thread to the in-band stage since it attached
    /// (the core's own count, whether or not switches are warned of; see [`crate::stage`]).
    /// Always 0 on the host backend. Read out-of-band, so asking does not switch the thread.
    pub fn inband_switches(&self) -> Result<u64> {
        match &self.inner {
            Inner::Evl(Some(a)) => Ok(u64::from(a.state()?.isw)),
            _ => Ok(0),
        }
    }

    /// The core's statistics of the calling thread: `None` on the host backend (no core) or
    /// when the thread is not attached. Read with one out-of-band call (counted in
    /// [`CoreStats::oob_syscalls`] itself), so asking does not switch the thread.
    pub fn current_core_stats() -> Result<Option<CoreStats>> {
        if backend::current()? != Backend::Evl {
            return Ok(None);
        }
        Ok(evl::current_state()?.map(|st| CoreStats {
            inband_switches: st.isw.into(),
            context_switches: st.csw.into(),
            oob_syscalls: st.sc.into(),
            remote_wakeups: st.rwa.into(),
            exec_ns: st.xtime,
        }))
    }

    /// Whether the calling thread is attached.
    pub fn is_attached() -> bool {
        types::is_attached()
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        if let Inner::Evl(a) = &mut self.inner {
            if let Some(a) = a.take() {
                a.detach();
            }
        }
        self.prev.restore();
        types::set_attached(false);
    }
}
