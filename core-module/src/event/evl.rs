//! Events on the EVL backend: an event monitor with the GATED protocol, a condition variable
//! gated by a mutex (see [`crate::backend::evl::monitor`]).

use crate::backend::evl::current::{self as thread};
use crate::backend::evl::monitor::{
    attached, core_error, timespec, Kind, MonState, Monitor, State, EVENT_GATE_OFFSET_OFFSET,
    GATE_OWNER_OFFSET,
};
use crate::backend::evl::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::mutex::evl::{Gate, GateRef};
use crate::name::Visibility;
use crate::time::types::Timestamp;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// An event: an event monitor with the GATED protocol, bound to a gate while threads wait.
#[derive(Debug)]
pub(crate) struct CondEvent {
    mon: Monitor,
    /// A descriptor of the first gate this handle waited with (dup'ed, so the element and its
    /// state offset stay valid): lets `signal`/`broadcast` lock it when the caller does not.
    gate: OnceLock<CachedGate>,
    /// Threads in `wait` through this handle (woken ones included until they return).
    waiters: AtomicUsize,
}

#[derive(Debug)]
struct CachedGate {
    fd: OwnedFd,
    state: State,
    offset: u32,
    fast: bool,
}

impl CondEvent {
    pub(crate) fn create(vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Event, 0, vis, op).map(Self::new)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Event, name, op).map(Self::new)
    }

    fn new(mon: Monitor) -> Self {
        CondEvent {
            mon,
            gate: OnceLock::new(),
            waiters: AtomicUsize::new(0),
        }
    }

    /// The shared-memory offset of the gate the core has bound this event to while threads
    /// wait, or None when nobody waits.
    fn bound_gate(&self) -> Option<u32> {
        match self
            .mon
            .state
            .word(EVENT_GATE_OFFSET_OFFSET)
            .load(Ordering::Acquire)
        {
            abi36::EVL_MONITOR_NOGATE => None,
            off => Some(off),
        }
    }

    /// Remembers `gate` (the first one only) for unlocked signals.
    fn remember(&self, gate: &Gate, op: &'static str) -> Result<()> {
        if self.gate.get().is_some() {
            return Ok(());
        }
        let process = sys::process()?;
        let offset = gate.0.offset;
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor owned by `gate`, live for the call; it
        // touches no memory.
        let fd = unsafe { libc::fcntl(gate.0.raw(), libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::last_os_error(
                op,
                "cannot duplicate the mutex descriptor (descriptor limit?)",
            ));
        }
        // SAFETY: `fd` was just returned by fcntl and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let state = State(process.shm.at::<MonState>(offset, op)?);
        // Another thread may have set it meanwhile: then ours is closed and theirs kept.
        let _ = self.gate.set(CachedGate {
            fd,
            state,
            offset,
            fast: gate.0.protocol == abi36::EVL_GATE_PI,
        });
        Ok(())
    }

    /// Releases `gate` (held by the caller), waits for a signal until `deadline`, re-locks
    /// `gate` (also on timeout).
    pub(crate) fn wait(
        &self,
        gate: &Gate,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<()> {
        let me = attached(op)?;
        if !gate.gref().owned_by(&me) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                op,
                "lock the mutex before waiting on the event",
            ));
        }
        self.remember(gate, op)?;
        if self.bound_gate().is_none() {
            // Nobody waits and we hold the gate: a signal mark left over (a signal raced with
            // the last waiter's timeout) would wake this wait at the next unlock; drop it.
            self.mon.state.flags().fetch_and(
                !(abi36::EVL_MONITOR_SIGNALED
                    | abi36::EVL_MONITOR_BROADCAST
                    | abi36::EVL_MONITOR_TARGETED),
                Ordering::Relaxed,
            );
        }
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let r = self.wait_gated(gate.0.raw(), deadline, op);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        r
    }

    fn wait_gated(
        &self,
        gatefd: RawFd,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<()> {
        let ts = timespec(deadline);
        loop {
            let mut req = abi36::EvlMonitorWaitReq {
                timeout_ptr: &ts as *const abi36::EvlTimespec as u64,
                gatefd,
                status: -libc::EINVAL,
                value: 0,
            };
            // SAFETY: WAIT reads and writes one EvlMonitorWaitReq at the address passed,
            // `req`, live and writable for the call, and reads the EvlTimespec at
            // `timeout_ptr`, `ts`, live for the call.
            let r = unsafe {
                sys::oob_ioctl(
                    self.mon.raw(),
                    abi36::EVL_MONIOC_WAIT,
                    &mut req as *mut abi36::EvlMonitorWaitReq as usize,
                )
            };
            // The call result says whether the gate was re-acquired; the status how the wait
            // itself ended.
            match r {
                Ok(_) => return status(req.status, op),
                Err(libc::EIDRM) => {
                    // The core flushes an event's waiters when any descriptor of it is
                    // closed; the guard must still hold the gate on return.
                    self.unwait(gatefd);
                    return Err(core_error(libc::EIDRM, op));
                }
                Err(e) => {
                    // Left without the gate: take it back before anything else.
                    self.unwait(gatefd);
                    if e != libc::EINTR {
                        return Err(core_error(e, op));
                    }
                    match req.status {
                        // A signal interrupted the sleep itself: wait again (the deadline
                        // is absolute).
                        0 => continue,
                        // Woken, then interrupted while re-locking: the wait succeeded.
                        s if s == -libc::EAGAIN => return Ok(()),
                        s => return status(s, op),
                    }
                }
            }
        }
    }

    /// Re-acquires the gate after a wait that returned without it.
    fn unwait(&self, gatefd: RawFd) {
        let req = abi36::EvlMonitorUnwaitReq { gatefd };
        loop {
            // SAFETY: UNWAIT reads one EvlMonitorUnwaitReq at the address passed, `req`,
            // live for the call.
            match unsafe {
                sys::oob_ioctl(
                    self.mon.raw(),
                    abi36::EVL_MONIOC_UNWAIT,
                    &req as *const abi36::EvlMonitorUnwaitReq as usize,
                )
            } {
                Err(libc::EINTR) => continue,
                _ => return,
            }
        }
    }

    /// Marks the event signaled (the gate is held by the caller); returns how many waiters
    /// this mark will wake at unlock, as closely as user space can tell.
    fn mark(&self, gate: &State, broadcast: bool) -> usize {
        let bits = abi36::EVL_MONITOR_SIGNALED
            | if broadcast {
                abi36::EVL_MONITOR_BROADCAST
            } else {
                0
            };
        let before = self.mon.state.flags().fetch_or(bits, Ordering::AcqRel);
        gate.flags()
            .fetch_or(abi36::EVL_MONITOR_SIGNALED, Ordering::AcqRel);
        let pending = before & abi36::EVL_MONITOR_SIGNALED != 0;
        let pending_bcast = before & abi36::EVL_MONITOR_BROADCAST != 0;
        if broadcast {
            if pending_bcast {
                0
            } else {
                // Every waiter through this handle (at least the one the core has bound),
                // less the one an earlier signal of this hold already claimed.
                self.waiters.load(Ordering::Relaxed).max(1) - usize::from(pending)
            }
        } else if pending {
            // Signals coalesce until the gate is released: the core wakes one per release.
            0
        } else {
            1
        }
    }

    /// Wakes the first waiter (`broadcast == false`) or all of them.
    ///
    /// EVL difference: the core delivers a signal when the gate is released. A caller that
    /// holds the mutex gets its waiters woken at its unlock; a caller that does not has the
    /// mutex locked and released here for it (that needs an attached thread, and a handle
    /// that has seen a wait with that mutex). Signals given under one hold of the mutex
    /// coalesce (the core wakes one thread per release): the second returns 0.
    pub(crate) fn signal(&self, broadcast: bool, op: &'static str) -> Result<usize> {
        let Some(offset) = self.bound_gate() else {
            return Ok(0);
        };
        let process = sys::process()?;
        let gstate = State(process.shm.at::<MonState>(offset, op)?);
        let me = thread::current();
        let owner = gstate.word(GATE_OWNER_OFFSET).load(Ordering::Acquire);
        if me.is_some_and(|me| abi36::evl_get_index(owner) == me.fundle) {
            return Ok(self.mark(&gstate, broadcast));
        }
        if me.is_none() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                op,
                "on the EVL core an event is signalled under its mutex: hold the mutex, or attach this thread with Thread::attach so the signal can take it",
            ));
        }
        let cached = self.gate.get().filter(|g| g.offset == offset).ok_or(Error::new(
            ErrorKind::InvalidArgument,
            op,
            "on the EVL core an event is signalled under its mutex: lock the mutex its waiters use before signalling",
        ))?;
        let gref = GateRef {
            fd: cached.fd.as_raw_fd(),
            state: &cached.state,
            fast: cached.fast,
        };
        gref.lock(None, op)?;
        // The last waiter may have timed out meanwhile.
        let n = if self.bound_gate() == Some(offset) {
            self.mark(&cached.state, broadcast)
        } else {
            0
        };
        gref.unlock(op)?;
        Ok(n)
    }
}

/// The outcome of a gated wait from its status word.
fn status(s: i32, op: &'static str) -> Result<()> {
    match s {
        0 => Ok(()),
        s if s == -libc::EBADFD => Err(Error::new(
            ErrorKind::InvalidArgument,
            op,
            "threads already wait on this event with another mutex: use the same one",
        )),
        s if s == -libc::EPERM => Err(Error::new(
            ErrorKind::PermissionDenied,
            op,
            "lock the mutex before waiting on the event",
        )),
        s => Err(core_error(-s, op)),
    }
}
