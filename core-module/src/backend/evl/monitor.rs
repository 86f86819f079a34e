//! The EVL monitor element's common core: [`Kind`], the shared state, making and opening a
//! monitor, posting and waiting. The five elements built on it keep their own rules in their
//! `evl.rs`: semaphores (event monitor, COUNT protocol), flag groups (event, MASK), events
//! (event, GATED: condition variables), mutexes (gate, PI) and the doorbell (a flags
//! monitor's bit).
//!
//! # Protocol (ABI 36, kernel/evl/monitor.c and mutex.c)
//! Every monitor has an [`abi36::EvlMonitorState`] in the core's shared memory; user space
//! works on it in place with 32-bit atomics and calls the core only when it must:
//!
//! - semaphore: `value` is the count, or minus the number of sleepers (the core decrements it
//!   before queuing a waiter). `get` takes a unit with a compare-and-swap while `value > 0`,
//!   else sleeps with `EVL_MONIOC_WAIT` (oob). `put` adds the unit with a compare-and-swap
//!   while `value >= 0` and no poll set watches (`pollrefs == 0`); otherwise it asks the core
//!   (`EVL_MONIOC_SIGNAL`), which wakes the first sleeper or pollers. A unit added in user
//!   space while a poller registered meanwhile is followed by a null SIGNAL, which only
//!   notifies the pollers.
//! - flags: every change goes through the core (`SIGNAL`/`BROADCAST`, `WAIT[_EXACT]`,
//!   `TRYWAIT[_EXACT]`), which matches waiters under its lock; `value` is only peeked.
//! - mutex: the `owner` word holds the owner's fundle. An uncontended lock is a
//!   compare-and-swap from `EVL_NO_HANDLE` to the caller's fundle, an uncontended unlock the
//!   reverse; a thread that sleeps on the gate in the core sets `EVL_MUTEX_FLCLAIM` in the
//!   word, so the owner's user-space unlock fails and goes to the core (`EVL_MONIOC_EXIT`),
//!   which hands the lock over. Threads running in-band lock through the core (`ENTER`).
//! - event: `signal`/`broadcast` only raise `EVL_MONITOR_SIGNALED` (and `BROADCAST`) in the
//!   event's and the gate's state flags while the gate is held; the core wakes the waiters
//!   when the gate is released through `EXIT`, which the SIGNALED bit in the gate forces.
//!   `EVL_MONIOC_WAIT` with the gate's fd releases the gate, sleeps, and re-acquires it in
//!   the core before returning.
//!
//! The core flushes a monitor's sleepers (with `EIDRM`, reported as [`ErrorKind::Closed`])
//! whenever one of its open files is released, not only the last: dropping any handle of a
//! public monitor (or the last descriptor of a `dup`) ends the waits on it.
//!
//! The mutex fast path is skipped for threads running in-band, as libevl does; libevl also
//! skips it for weak (SCHED_OTHER-attached) threads and threads with WOLI checks, which the
//! attached thread's record does not expose yet. A weak thread is in-band unless it holds a
//! lock taken through the core, so the difference is confined to nested locking by weak
//! threads (the inner lock is not counted by the core and does not keep the thread
//! out-of-band).
//!
//! Timeouts are absolute on the monitor's clock (monotonic for the monitors made here); an
//! all-zero timespec means "no timeout" to the core, so a deadline at time zero is sent as
//! one nanosecond (already past, which is what it means).

use super::current::{self as thread, Current};
use super::{abi36, sys};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::types::Timestamp;
use core::sync::atomic::AtomicU32;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub(crate) use abi36::{
    EvlMonitorState as MonState, EVENT_GATE_OFFSET_OFFSET, EVENT_POLLREFS_OFFSET,
    EVENT_VALUE_OFFSET, GATE_OWNER_OFFSET, GATE_RECURSIVE_NESTING_OFFSET,
    MONITOR_STATE_FLAGS_OFFSET,
};

/// The hint of every refusal that an attached caller would not get.
pub(crate) use crate::thread::types::NOT_ATTACHED_HINT as ATTACH_HINT;

/// The kinds of monitor this crate makes, with the (type, protocol) the core reports for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Semaphore,
    Flags,
    Event,
    Mutex,
}

impl Kind {
    const fn type_protocol(self) -> (u32, u32) {
        match self {
            Kind::Semaphore => (abi36::EVL_MONITOR_EVENT, abi36::EVL_EVENT_COUNT),
            Kind::Flags => (abi36::EVL_MONITOR_EVENT, abi36::EVL_EVENT_MASK),
            Kind::Event => (abi36::EVL_MONITOR_EVENT, abi36::EVL_EVENT_GATED),
            Kind::Mutex => (abi36::EVL_MONITOR_GATE, abi36::EVL_GATE_PI),
        }
    }

    /// Whether a monitor of (`ty`, `protocol`) can serve as this kind. A priority-ceiling gate
    /// (made by a C program) serves as a mutex: it is then always locked through the core.
    const fn accepts(self, ty: u32, protocol: u32) -> bool {
        match self {
            Kind::Mutex => ty == abi36::EVL_MONITOR_GATE,
            _ => {
                let (t, p) = self.type_protocol();
                ty == t && protocol == p
            }
        }
    }

    const fn mismatch_hint(self) -> &'static str {
        match self {
            Kind::Semaphore => "the public element by this name is not a semaphore",
            Kind::Flags => "the public element by this name is not a flag group",
            Kind::Event => "the public element by this name is not an event",
            Kind::Mutex => "the public element by this name is not a mutex",
        }
    }
}

/// A monitor's state in the core's shared memory, accessed word by word through atomics.
#[derive(Debug)]
pub(crate) struct State(pub(crate) *mut MonState);

// SAFETY: the pointer designates the element's state in the core's shared memory, which stays
// mapped for the life of the process (`sys::Shm` is never unmapped); every access goes through
// 32-bit atomics, as the core's own accesses are atomic or serialised by the protocol.
unsafe impl Send for State {}
// SAFETY: `&State` only reads the pointer and accesses the state it designates through 32-bit
// atomics; that state lies in the core's shared memory, mapped for the life of the process, so
// threads sharing the pointer race with nothing but atomics (the core's side is atomic too).
unsafe impl Sync for State {}

impl State {
    /// The 32-bit word at byte offset `off` of the state (one of the abi36 `*_OFFSET`s).
    pub(crate) fn word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off + 4 <= core::mem::size_of::<MonState>() && off % 4 == 0);
        // SAFETY: `self.0` was checked by `Shm::at` to leave room for a whole, 4-aligned
        // `EvlMonitorState` inside the mapping, which is never unmapped; `off` is the offset
        // of one of its u32 fields (4-aligned, in bounds, asserted above). The word is only
        // ever accessed atomically from user space, and the core uses atomics (or the
        // monitor's protocol) on its side.
        unsafe { AtomicU32::from_ptr(self.0.cast::<u8>().add(off).cast::<u32>()) }
    }

    pub(crate) fn flags(&self) -> &AtomicU32 {
        self.word(MONITOR_STATE_FLAGS_OFFSET)
    }
}

/// A monitor: a descriptor on the element and its state.
#[derive(Debug)]
pub(crate) struct Monitor {
    pub(crate) fd: OwnedFd,
    pub(crate) state: State,
    /// The state's offset in the core's shared memory (what a bound event's `gate_offset`
    /// holds).
    pub(crate) offset: u32,
    /// The protocol the core reported (a mutex may be a PP gate made elsewhere).
    pub(crate) protocol: u32,
}

/// The absolute timeout the core expects for `deadline` (`None`: no timeout, all zero).
pub(crate) fn timespec(deadline: Option<Timestamp>) -> abi36::EvlTimespec {
    match deadline {
        None => abi36::EvlTimespec::new(0, 0),
        Some(d) => {
            // Zero would read as "no timeout": time zero is past anyway, 1 ns is too.
            let ns = d.as_nanos().max(1);
            abi36::EvlTimespec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64)
        }
    }
}

/// The calling thread's core handle, or the refusal a non-attached caller gets.
pub(crate) fn attached(op: &'static str) -> Result<Current> {
    thread::current().ok_or(Error::new(ErrorKind::PermissionDenied, op, ATTACH_HINT))
}

/// The error of a failed wait, lock or post (`errno` from the core).
pub(crate) fn core_error(e: i32, op: &'static str) -> Error {
    match e {
        libc::EPERM => Error::from_errno(e, op, ATTACH_HINT),
        libc::ETIMEDOUT => Error::from_errno(e, op, "the deadline passed first"),
        libc::EINTR => Error::from_errno(e, op, "a signal interrupted the wait; retry"),
        libc::EIDRM => Error::new(
            ErrorKind::Closed,
            op,
            "the element was deleted (its last descriptor closed) while waiting",
        ),
        libc::EOWNERDEAD => Error::from_errno(
            e,
            op,
            "the thread owning the mutex left the core while holding it: the data it guards may be inconsistent",
        ),
        _ => Error::from_errno(e, op, "the EVL core refused the monitor request"),
    }
}

impl Monitor {
    /// Creates a monitor of `kind` with `initval` (count, bits; 0 for gates and events).
    pub(crate) fn create(
        kind: Kind,
        initval: u32,
        vis: Visibility<'_>,
        op: &'static str,
    ) -> Result<Self> {
        let process = sys::process()?;
        let (ty, protocol) = kind.type_protocol();
        let attrs = abi36::EvlMonitorAttrs::new(
            process.monotonic.as_raw_fd() as u32,
            ty,
            protocol,
            initval,
        );
        let name = match vis {
            Visibility::Private => None,
            Visibility::Public(n) => Some(Name::new(n, op)?.as_str()),
        };
        let (fd, eids) = clone_monitor(&attrs, name, op)?;
        let state = State(process.shm.at::<MonState>(eids.state_offset, op)?);
        Ok(Monitor {
            fd,
            state,
            offset: eids.state_offset,
            protocol,
        })
    }

    /// Opens the public monitor `name`, which must be of `kind`.
    pub(crate) fn open(kind: Kind, name: &str, op: &'static str) -> Result<Self> {
        let name = Name::new(name, op)?;
        let process = sys::process()?;
        let fd = sys::open_element(abi36::EVL_MONITOR_DEV, name.as_str(), op)?;
        let mut bind = abi36::EvlMonitorBinding::default();
        // SAFETY: EVL_MONIOC_BIND writes one EvlMonitorBinding (its size is in the request
        // number) at the address passed, `bind`, live and writable for the call.
        unsafe {
            sys::ioctl(
                fd.as_raw_fd(),
                abi36::EVL_MONIOC_BIND,
                &mut bind as *mut abi36::EvlMonitorBinding as usize,
            )
        }
        .map_err(|e| Error::from_errno(e, op, "the EVL core refused to describe the monitor"))?;
        if !kind.accepts(bind.ty(), bind.protocol()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                kind.mismatch_hint(),
            ));
        }
        let state = State(process.shm.at::<MonState>(bind.eids.state_offset, op)?);
        Ok(Monitor {
            fd,
            state,
            offset: bind.eids.state_offset,
            protocol: bind.protocol(),
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The element's descriptor (oob-pollable for semaphores and flags).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub(crate) fn value(&self) -> &AtomicU32 {
        self.state.word(EVENT_VALUE_OFFSET)
    }

    /// Issues a SIGNAL or BROADCAST of `value` in the form that keeps the caller on its
    /// stage (oob from an oob thread, in-band otherwise: the core serves both).
    pub(crate) fn post(&self, request: u32, value: i32, op: &'static str) -> Result<()> {
        // SAFETY: SIGNAL and BROADCAST read one i32 at the address passed, `value`, live
        // for the call.
        unsafe { sys::ioctl_here(self.raw(), request, &value as *const i32 as usize) }
            .map(|_| ())
            .map_err(|e| core_error(e, op))
    }

    /// Sleeps on an ungated event monitor (`request`: WAIT or WAIT_EXACT) until `deadline`;
    /// returns the value the core hands back.
    pub(crate) fn wait(
        &self,
        request: u32,
        value: i32,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<i32> {
        attached(op)?;
        let ts = timespec(deadline);
        let mut req = abi36::EvlMonitorWaitReq {
            timeout_ptr: &ts as *const abi36::EvlTimespec as u64,
            gatefd: -1,
            status: -libc::EINVAL,
            value,
        };
        // SAFETY: WAIT/WAIT_EXACT read and write one EvlMonitorWaitReq at the address passed,
        // `req`, live and writable for the call, and read the EvlTimespec at `timeout_ptr`,
        // `ts`, live for the call.
        match unsafe {
            sys::oob_ioctl(
                self.raw(),
                request,
                &mut req as *mut abi36::EvlMonitorWaitReq as usize,
            )
        } {
            // For an ungated wait the core returns the wait status itself.
            Ok(_) if req.status == 0 => Ok(req.value),
            Ok(_) => Err(core_error(-req.status, op)),
            Err(e) => Err(core_error(e, op)),
        }
    }

    /// A non-blocking wait (`request`: TRYWAIT or TRYWAIT_EXACT); `Ok(None)`: would block.
    pub(crate) fn try_wait(
        &self,
        request: u32,
        value: i32,
        op: &'static str,
    ) -> Result<Option<i32>> {
        let mut req = abi36::EvlMonitorTryWaitReq { value };
        // SAFETY: TRYWAIT/TRYWAIT_EXACT read and write one EvlMonitorTryWaitReq at the
        // address passed, `req`, live and writable for the call.
        match unsafe {
            sys::ioctl_here(
                self.raw(),
                request,
                &mut req as *mut abi36::EvlMonitorTryWaitReq as usize,
            )
        } {
            Ok(_) => Ok(Some(req.value)),
            Err(libc::EAGAIN) => Ok(None),
            Err(e) => Err(core_error(e, op)),
        }
    }
}

/// Creates a monitor with the monitor clone device: public when it has a name.
pub(crate) fn clone_monitor(
    attrs: &abi36::EvlMonitorAttrs,
    name: Option<&str>,
    op: &'static str,
) -> Result<(OwnedFd, abi36::EvlElementIds)> {
    // SAFETY: the monitor class takes one EvlMonitorAttrs, `attrs`, live for the call.
    unsafe {
        sys::clone_element(
            abi36::EVL_MONITOR_CLONE_DEV_C,
            abi36::EVL_MONITOR_DEV,
            name,
            attrs as *const abi36::EvlMonitorAttrs as usize,
            if name.is_some() {
                abi36::EVL_CLONE_PUBLIC
            } else {
                abi36::EVL_CLONE_PRIVATE
            },
            &[
                (
                    libc::EEXIST,
                    None,
                    "a public monitor (semaphore, flags, event or mutex) already has this name; open it or pick another name",
                ),
                (
                    libc::ENOSPC,
                    None,
                    "the core is out of monitor slots or shared memory (CONFIG_EVL_NR_MONITORS, the core's heap)",
                ),
            ],
            op,
        )
    }
}
