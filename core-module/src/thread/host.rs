//! The Linux side of an attachment, the whole of it on the host backend and the first half
//! on the EVL backend (an EVL thread is a Linux thread first): locked memory, SCHED_FIFO or
//! SCHED_OTHER, CPU affinity and the OS thread name, and putting back what was there before.

use super::types::{CpuSet, SchedPolicy};
use crate::error::{errno, Error, Result};
use crate::name::Name;
use std::sync::atomic::{AtomicBool, Ordering};

static MEMORY_LOCKED: AtomicBool = AtomicBool::new(false);

const RT_HINT: &str = "real-time scheduling needs privileges: run as root, grant CAP_SYS_NICE \
(setcap cap_sys_nice+ep <binary>), or raise RLIMIT_RTPRIO (ulimit -r 99; 'rtprio' in /etc/security/limits.conf)";
const MLOCK_HINT: &str =
    "locking memory needs privileges: grant CAP_IPC_LOCK, raise RLIMIT_MEMLOCK \
(ulimit -l unlimited; 'memlock' in limits.conf), or attach with lock_memory(false) for tests";

/// The scheduling settings a thread had before it attached, to put back on detach.
#[derive(Debug)]
pub(super) struct Previous {
    policy: libc::c_int,
    param: libc::sched_param,
    cpus: Option<CpuSet>,
}

/// Locks all current and future memory (`mlockall`), once per process.
pub(super) fn lock_memory(op: &'static str) -> Result<()> {
    if !MEMORY_LOCKED.load(Ordering::Acquire) {
        // SAFETY: mlockall takes flags only.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
            let e = errno();
            let e = if e == libc::ENOMEM { libc::EPERM } else { e };
            return Err(Error::from_errno(e, op, MLOCK_HINT));
        }
        MEMORY_LOCKED.store(true, Ordering::Release);
    }
    Ok(())
}

/// Gives the calling thread `cpus` (if any), the policy `(pol, prio)` and the OS name
/// `name`; returns what it had before. On failure nothing is left changed.
pub(super) fn apply(
    name: &Name<'_>,
    cpus: Option<&CpuSet>,
    pol: libc::c_int,
    prio: libc::c_int,
    op: &'static str,
) -> Result<Previous> {
    // SAFETY: pid 0 is the calling thread.
    let prev_policy = unsafe { libc::sched_getscheduler(0) };
    let mut prev_param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 and a writable sched_param.
    unsafe { libc::sched_getparam(0, &mut prev_param) };
    let prev = Previous {
        policy: prev_policy,
        param: prev_param,
        cpus: match cpus {
            Some(_) => Some(CpuSet::online()?),
            None => None,
        },
    };
    if let Some(cpus) = cpus {
        // SAFETY: pid 0, a valid cpu_set_t of the size passed.
        if unsafe {
            libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &cpus.to_libc())
        } != 0
        {
            return Err(Error::last_os_error(op, "cannot set the CPU affinity"));
        }
    }
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: pid 0 and a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, pol, &param) } != 0 {
        let e = errno();
        prev.restore();
        return Err(Error::from_errno(
            e,
            op,
            if e == libc::EPERM { RT_HINT } else { "" },
        ));
    }
    let mut comm = [0u8; 16];
    let n = name.as_str().len().min(15);
    comm[..n].copy_from_slice(&name.as_str().as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from `comm`.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
    Ok(prev)
}

impl Previous {
    /// Puts the policy, priority and affinity back.
    pub(super) fn restore(&self) {
        restore(self.policy, &self.param, self.cpus.as_ref());
    }
}

/// The calling thread's scheduling policy now, read from the kernel, attached or not
/// (SCHED_RR reads as FIFO at its priority).
pub fn current_policy() -> Result<SchedPolicy> {
    // SAFETY: pid 0 is the calling thread.
    let pol = unsafe { libc::sched_getscheduler(0) };
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 and a writable sched_param.
    if pol < 0 || unsafe { libc::sched_getparam(0, &mut param) } != 0 {
        return Err(Error::last_os_error("thread::current_policy", ""));
    }
    Ok(match pol & !libc::SCHED_RESET_ON_FORK {
        libc::SCHED_FIFO | libc::SCHED_RR if param.sched_priority > 0 => {
            SchedPolicy::Fifo(param.sched_priority as u8)
        }
        _ => SchedPolicy::Other,
    })
}

fn restore(policy: libc::c_int, param: &libc::sched_param, cpus: Option<&CpuSet>) {
    // SAFETY: pid 0 and a valid sched_param previously read from the kernel.
    unsafe { libc::sched_setscheduler(0, policy, param) };
    if let Some(c) = cpus {
        // SAFETY: pid 0 and a valid cpu_set_t.
        unsafe {
            libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &c.to_libc())
        };
    }
}
