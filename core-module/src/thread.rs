//! Attaching threads to the core.

use crate::backend::{self, Backend};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::name::{Name, MAX_NAME_LEN};
use core::marker::PhantomData;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Scheduling policy of an attached thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedPolicy {
    /// Real-time FIFO at priority 1 (lowest) to 99 (highest).
    Fifo(u8),
    /// Ordinary time-sharing (tests, housekeeping).
    Other,
}

/// A set of CPUs, for affinity (CPU numbers 0 to 1023).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpuSet([u64; 16]);

impl CpuSet {
    const MAX: usize = 1024;

    /// No CPU.
    pub const fn new() -> Self {
        CpuSet([0; 16])
    }

    /// Just `cpu`.
    pub fn single(cpu: usize) -> Result<Self> {
        let mut s = Self::new();
        s.add(cpu)?;
        Ok(s)
    }

    /// Adds `cpu` (0-based, below 1024).
    pub fn add(&mut self, cpu: usize) -> Result<()> {
        if cpu >= Self::MAX {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "CpuSet::add",
                "CPU numbers go up to 1023",
            ));
        }
        self.0[cpu / 64] |= 1 << (cpu % 64);
        Ok(())
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < Self::MAX && self.0[cpu / 64] & (1 << (cpu % 64)) != 0
    }

    /// The CPUs in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..Self::MAX).filter(|&c| self.contains(c))
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 16]
    }

    fn to_libc(self) -> libc::cpu_set_t {
        // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        for c in self.iter() {
            // SAFETY: `c` < 1024 == CPU_SETSIZE, inside `set`.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        set
    }

    /// The CPUs the calling thread may run on.
    pub fn online() -> Result<Self> {
        // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        // SAFETY: pid 0 is the calling thread; `set` is a writable cpu_set_t of the size passed.
        if unsafe { libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            != 0
        {
            return Err(Error::last_os_error("CpuSet::online", ""));
        }
        let mut s = Self::new();
        for c in 0..Self::MAX {
            // SAFETY: `c` < CPU_SETSIZE, inside `set`.
            if unsafe { libc::CPU_ISSET(c, &set) } {
                s.0[c / 64] |= 1 << (c % 64);
            }
        }
        Ok(s)
    }
}

impl Default for CpuSet {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// How to attach a thread.
#[derive(Debug, Clone, Copy)]
pub struct ThreadConfig<'a> {
    /// The thread's name (element name rules; the OS thread name gets its first 15 bytes).
    pub name: &'a str,
    /// Scheduling policy.
    pub policy: SchedPolicy,
    /// CPUs to run on (`None`: leave the affinity as it is).
    pub cpus: Option<CpuSet>,
    /// Lock all current and future memory once per process (`mlockall`), so no page fault
    /// delays a real-time thread. On by default. The EVL core refuses to attach a thread
    /// of a process without `mlockall(MCL_FUTURE)`, so on the EVL backend memory is locked
    /// whatever this says.
    pub lock_memory: bool,
    /// Make the thread visible by name to other processes (on the EVL core:
    /// `/dev/evl/thread/<name>`, while attached). Off by default; the host backend has no
    /// such registry and ignores it.
    pub public: bool,
    /// Ask the core to report every demotion of the thread to the in-band stage, counted
    /// per cause by [`crate::stage`]. On by default in debug builds (tests included), off in
    /// release builds; the host backend has no stages and ignores it.
    pub warn_stage_switches: bool,
}

impl<'a> ThreadConfig<'a> {
    /// A SCHED_OTHER config with memory locking, no affinity change.
    pub fn new(name: &'a str) -> Self {
        ThreadConfig {
            name,
            policy: SchedPolicy::Other,
            cpus: None,
            lock_memory: true,
            public: false,
            warn_stage_switches: cfg!(debug_assertions),
        }
    }
    /// Reporting stage switches on or off (see [`crate::stage`]).
    pub fn warn_stage_switches(mut self, on: bool) -> Self {
        self.warn_stage_switches = on;
        self
    }
    /// Visible by name to other processes (or not).
    pub fn public(mut self, on: bool) -> Self {
        self.public = on;
        self
    }
    /// With this policy.
    pub fn policy(mut self, p: SchedPolicy) -> Self {
        self.policy = p;
        self
    }
    /// Pinned to these CPUs.
    pub fn cpus(mut self, c: CpuSet) -> Self {
        self.cpus = Some(c);
        self
    }
    /// With or without locking memory.
    pub fn lock_memory(mut self, on: bool) -> Self {
        self.lock_memory = on;
        self
    }
}

thread_local! {
    static ATTACHED: Cell<bool> = const { Cell::new(false) };
}

static MEMORY_LOCKED: AtomicBool = AtomicBool::new(false);

const RT_HINT: &str = "real-time scheduling needs privileges: run as root, grant CAP_SYS_NICE \
(setcap cap_sys_nice+ep <binary>), or raise RLIMIT_RTPRIO (ulimit -r 99; 'rtprio' in /etc/security/limits.conf)";
const MLOCK_HINT: &str =
    "locking memory needs privileges: grant CAP_IPC_LOCK, raise RLIMIT_MEMLOCK \
(ulimit -l unlimited; 'memlock' in limits.conf), or attach with lock_memory(false) for tests";

/// The per-backend part of an attachment.
#[derive(Debug)]
enum Inner {
    /// Host: the in-band policy and affinity are the whole attachment.
    Host,
    /// EVL: the thread's element on the core.
    Evl(Option<backend::evl::thread::Attachment>),
}

/// What the EVL core counts for an attached thread ([`Thread::current_core_stats`]); the
/// core's counters are 32-bit and wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Switches to the in-band stage.
    pub inband_switches: u64,
    /// Context switches.
    pub context_switches: u64,
    /// EVL (out-of-band) system calls.
    pub oob_syscalls: u64,
    /// Wakeups from another CPU.
    pub remote_wakeups: u64,
    /// Execution time, ns.
    pub exec_ns: u64,
}

/// The calling thread, attached to the core. Detaches on drop: the thread gets back the
/// scheduling policy, priority and affinity it had before. Not `Send`: attachment belongs to
/// the thread that made it.
#[derive(Debug)]
pub struct Thread {
    name: [u8; MAX_NAME_LEN],
    name_len: usize,
    prev_policy: libc::c_int,
    prev_param: libc::sched_param,
    prev_cpus: Option<CpuSet>,
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
        if ATTACHED.with(Cell::get) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                OP,
                "this thread is already attached; drop the first Thread first",
            ));
        }
        // The EVL core attaches only threads of a process with mlockall(MCL_FUTURE) in force.
        let lock_memory = cfg.lock_memory || backend == Backend::Evl;
        if lock_memory && !MEMORY_LOCKED.load(Ordering::Acquire) {
            // SAFETY: mlockall takes flags only.
            if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
                let e = errno();
                let e = if e == libc::ENOMEM { libc::EPERM } else { e };
                return Err(Error::from_errno(e, OP, MLOCK_HINT));
            }
            MEMORY_LOCKED.store(true, Ordering::Release);
        }
        // SAFETY: pid 0 is the calling thread.
        let prev_policy = unsafe { libc::sched_getscheduler(0) };
        let mut prev_param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 and a writable sched_param.
        unsafe { libc::sched_getparam(0, &mut prev_param) };
        let prev_cpus = match cfg.cpus {
            Some(_) => Some(CpuSet::online()?),
            None => None,
        };
        if let Some(cpus) = &cfg.cpus {
            // SAFETY: pid 0, a valid cpu_set_t of the size passed.
            if unsafe {
                libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &cpus.to_libc())
            } != 0
            {
                return Err(Error::last_os_error(OP, "cannot set the CPU affinity"));
            }
        }
        let (pol, prio) = match cfg.policy {
            SchedPolicy::Fifo(p) => (libc::SCHED_FIFO, p as libc::c_int),
            SchedPolicy::Other => (libc::SCHED_OTHER, 0),
        };
        let param = libc::sched_param {
            sched_priority: prio,
        };
        // SAFETY: pid 0 and a valid sched_param.
        if unsafe { libc::sched_setscheduler(0, pol, &param) } != 0 {
            let e = errno();
            restore(prev_policy, &prev_param, prev_cpus.as_ref());
            return Err(Error::from_errno(
                e,
                OP,
                if e == libc::EPERM { RT_HINT } else { "" },
            ));
        }
        let mut comm = [0u8; 16];
        let n = name.as_str().len().min(15);
        comm[..n].copy_from_slice(&name.as_str().as_bytes()[..n]);
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from `comm`.
        unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
        let inner = match backend {
            Backend::Host => Inner::Host,
            Backend::Evl => {
                match backend::evl::thread::attach(
                    name.as_str(),
                    cfg.public,
                    pol,
                    prio,
                    cfg.warn_stage_switches,
                ) {
                    Ok(a) => Inner::Evl(Some(a)),
                    Err(e) => {
                        restore(prev_policy, &prev_param, prev_cpus.as_ref());
                        return Err(e);
                    }
                }
            }
        };
        ATTACHED.with(|a| a.set(true));
        let mut buf = [0u8; MAX_NAME_LEN];
        buf[..name.as_str().len()].copy_from_slice(name.as_str().as_bytes());
        Ok(Thread {
            name: buf,
            name_len: name.as_str().len(),
            prev_policy,
            prev_param,
            prev_cpus,
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
        Ok(
            crate::backend::evl::thread::current_state()?.map(|st| CoreStats {
                inband_switches: st.isw.into(),
                context_switches: st.csw.into(),
                oob_syscalls: st.sc.into(),
                remote_wakeups: st.rwa.into(),
                exec_ns: st.xtime,
            }),
        )
    }

    /// Whether the calling thread is attached.
    pub fn is_attached() -> bool {
        ATTACHED.with(Cell::get)
    }
}

/// What a thread that is not attached is told when it makes a call the EVL core serves only
/// to attached threads (the one hint for this rule, on both backends).
pub(crate) const NOT_ATTACHED_HINT: &str = "only threads attached to the core may wait on \
its elements, lock its mutexes, read its timers, sleep on its clocks or use poll sets and \
real-time xbuf ends (the host backend keeps the EVL core's rule, so a program that runs \
here runs there): call Thread::attach on this thread first, or run the code on an executor, \
which attaches its thread";

/// On the host backend, refuses with [`ErrorKind::PermissionDenied`] what the EVL core
/// refuses a thread that is not attached (on the EVL backend, the core itself refuses).
pub(crate) fn require_attached(op: &'static str) -> Result<()> {
    if ATTACHED.with(Cell::get) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::PermissionDenied,
            op,
            NOT_ATTACHED_HINT,
        ))
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

impl Drop for Thread {
    fn drop(&mut self) {
        if let Inner::Evl(a) = &mut self.inner {
            if let Some(a) = a.take() {
                a.detach();
            }
        }
        restore(self.prev_policy, &self.prev_param, self.prev_cpus.as_ref());
        ATTACHED.with(|a| a.set(false));
    }
}
