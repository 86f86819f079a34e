//! What the thread front end and its backends share: the attachment settings
//! ([`ThreadConfig`], [`SchedPolicy`], [`CpuSet`]), the core's statistics ([`CoreStats`]),
//! and whether the calling thread is attached (with the one hint for the rule that only
//! attached threads may wait on the core's elements, which both backends keep).

use crate::error::{Error, ErrorKind, Result};
use std::cell::Cell;

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

    pub(crate) fn to_libc(self) -> libc::cpu_set_t {
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

/// What the EVL core counts for an attached thread ([`Thread::current_core_stats`](crate::thread::Thread::current_core_stats)); the
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

thread_local! {
    static ATTACHED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is attached (on either backend).
pub(crate) fn is_attached() -> bool {
    ATTACHED.with(Cell::get)
}

/// Records that the calling thread is attached (or no longer).
pub(crate) fn set_attached(on: bool) {
    ATTACHED.with(|a| a.set(on));
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
    if is_attached() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::PermissionDenied,
            op,
            NOT_ATTACHED_HINT,
        ))
    }
}
