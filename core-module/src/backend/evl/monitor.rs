//! EVL monitors on the real core: semaphores (event monitor, COUNT protocol), flag groups
//! (event, MASK), events (event, GATED: condition variables), mutexes (gate, PI) and the
//! doorbell (a flags monitor's bit).
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

use super::{abi36, sys, thread};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Name, Visibility};
use crate::time::Timestamp;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use abi36::{
    EvlMonitorState as MonState, EVENT_GATE_OFFSET_OFFSET, EVENT_POLLREFS_OFFSET,
    EVENT_VALUE_OFFSET, GATE_OWNER_OFFSET, GATE_RECURSIVE_NESTING_OFFSET,
    MONITOR_STATE_FLAGS_OFFSET,
};

/// The hint of every refusal that an attached caller would not get.
pub(crate) use crate::thread::NOT_ATTACHED_HINT as ATTACH_HINT;

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
struct State(*mut MonState);

// SAFETY: the pointer designates the element's state in the core's shared memory, which stays
// mapped for the life of the process (`sys::Shm` is never unmapped); every access goes through
// 32-bit atomics, as the core's own accesses are atomic or serialised by the protocol.
unsafe impl Send for State {}
// SAFETY: as for Send: shared access is by atomics only.
unsafe impl Sync for State {}

impl State {
    /// The 32-bit word at byte offset `off` of the state (one of the abi36 `*_OFFSET`s).
    fn word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off + 4 <= core::mem::size_of::<MonState>() && off % 4 == 0);
        // SAFETY: `self.0` was checked by `Shm::at` to leave room for a whole, 4-aligned
        // `EvlMonitorState` inside the mapping, which is never unmapped; `off` is the offset
        // of one of its u32 fields (4-aligned, in bounds, asserted above). The word is only
        // ever accessed atomically from user space, and the core uses atomics (or the
        // monitor's protocol) on its side.
        unsafe { AtomicU32::from_ptr(self.0.cast::<u8>().add(off).cast::<u32>()) }
    }

    fn flags(&self) -> &AtomicU32 {
        self.word(MONITOR_STATE_FLAGS_OFFSET)
    }
}

/// A monitor: a descriptor on the element and its state.
#[derive(Debug)]
pub(crate) struct Monitor {
    fd: OwnedFd,
    state: State,
    /// The state's offset in the core's shared memory (what a bound event's `gate_offset`
    /// holds).
    offset: u32,
    /// The protocol the core reported (a mutex may be a PP gate made elsewhere).
    protocol: u32,
}

/// The absolute timeout the core expects for `deadline` (`None`: no timeout, all zero).
fn timespec(deadline: Option<Timestamp>) -> abi36::EvlTimespec {
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
fn attached(op: &'static str) -> Result<thread::Current> {
    thread::current().ok_or(Error::new(ErrorKind::PermissionDenied, op, ATTACH_HINT))
}

/// The error of a failed wait, lock or post (`errno` from the core).
fn core_error(e: i32, op: &'static str) -> Error {
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

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The element's descriptor (oob-pollable for semaphores and flags).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn value(&self) -> &AtomicU32 {
        self.state.word(EVENT_VALUE_OFFSET)
    }

    /// Issues a SIGNAL or BROADCAST of `value` in the form that keeps the caller on its
    /// stage (oob from an oob thread, in-band otherwise: the core serves both).
    fn post(&self, request: u32, value: i32, op: &'static str) -> Result<()> {
        // SAFETY: SIGNAL and BROADCAST read one i32 at the address passed, `value`, live
        // for the call.
        unsafe { sys::ioctl_here(self.raw(), request, &value as *const i32 as usize) }
            .map(|_| ())
            .map_err(|e| core_error(e, op))
    }

    /// Sleeps on an ungated event monitor (`request`: WAIT or WAIT_EXACT) until `deadline`;
    /// returns the value the core hands back.
    fn wait(
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
    fn try_wait(&self, request: u32, value: i32, op: &'static str) -> Result<Option<i32>> {
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
fn clone_monitor(
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

// ------------------------------------------------------------------------- semaphores

/// A semaphore: an event monitor with the COUNT protocol.
#[derive(Debug)]
pub(crate) struct Sem(Monitor);

impl Sem {
    pub(crate) fn create(initial: u32, vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Semaphore, initial, vis, op).map(Sem)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Semaphore, name, op).map(Sem)
    }

    /// Takes a unit if the count is positive (no system call).
    fn take(&self) -> bool {
        let v = self.0.value();
        let mut cur = v.load(Ordering::Acquire) as i32;
        while cur > 0 {
            match v.compare_exchange_weak(
                cur as u32,
                (cur - 1) as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now as i32,
            }
        }
        false
    }

    /// Takes one unit, waiting until `deadline` (None: forever; `try_only`: never waits).
    ///
    /// EVL difference: only a thread attached to the core may sleep on it; a non-attached
    /// caller still takes an available unit, and gets `PermissionDenied` where it would wait.
    pub(crate) fn get(
        &self,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<()> {
        if self.take() {
            return Ok(());
        }
        if try_only {
            return Err(Error::new(ErrorKind::WouldBlock, op, ""));
        }
        match self.0.wait(abi36::EVL_MONIOC_WAIT, 0, deadline, op) {
            Ok(_) => Ok(()),
            // A broadcast (flush) ends a count wait with EAGAIN: woken, nothing granted.
            Err(e) if e.os_error() == Some(libc::EAGAIN) => Err(Error::new(
                ErrorKind::Flushed,
                op,
                "the semaphore was flushed (broadcast) while waiting: no unit was granted",
            )),
            Err(e) => Err(e),
        }
    }

    /// Releases one unit: in user space when nobody sleeps nor polls, else through the core.
    pub(crate) fn put(&self, op: &'static str) -> Result<()> {
        let v = self.0.value();
        let polled = || {
            self.0
                .state
                .word(EVENT_POLLREFS_OFFSET)
                .load(Ordering::Acquire)
                != 0
        };
        let mut cur = v.load(Ordering::Acquire) as i32;
        loop {
            if cur == i32::MAX {
                return Err(Error::new(
                    ErrorKind::CapacityExceeded,
                    op,
                    "semaphore count at its maximum (2^31-1)",
                ));
            }
            if cur < 0 || polled() {
                // Sleepers to wake or pollers to notify: the core adds the unit.
                return self.0.post(abi36::EVL_MONIOC_SIGNAL, 1, op);
            }
            match v.compare_exchange_weak(
                cur as u32,
                (cur + 1) as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => cur = now as i32,
            }
        }
        if polled() {
            // A poller registered while the unit was added: a null signal only notifies.
            return self.0.post(abi36::EVL_MONIOC_SIGNAL, 0, op);
        }
        Ok(())
    }

    /// Wakes every sleeper without a grant. Returns how many slept just before the call (the
    /// core does not report the number it woke: this snapshot of minus the count is the
    /// closest answer, exact unless a waiter comes or goes during the call).
    pub(crate) fn flush(&self, op: &'static str) -> Result<usize> {
        let sleepers = (-self.value()).max(0) as usize;
        self.0.post(abi36::EVL_MONIOC_BROADCAST, 1, op)?;
        Ok(sleepers)
    }

    /// The count, or minus the number of sleepers (the core's own convention).
    pub(crate) fn value(&self) -> i32 {
        self.0.value().load(Ordering::Acquire) as i32
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}

// ------------------------------------------------------------------------- flags

/// A flag group: an event monitor with the MASK protocol.
#[derive(Debug)]
pub(crate) struct FlagGroup(Monitor);

impl FlagGroup {
    pub(crate) fn create(initial: u32, vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Flags, initial, vis, op).map(FlagGroup)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Flags, name, op).map(FlagGroup)
    }

    /// Waits for any (`all == false`) or all of `bits`; consumes and returns the matched
    /// bits. `bits == 0` is passed as is: the core reads it as every bit, as the API does.
    pub(crate) fn wait(
        &self,
        bits: u32,
        all: bool,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<u32> {
        if try_only {
            let request = if all {
                abi36::EVL_MONIOC_TRYWAIT_EXACT
            } else {
                abi36::EVL_MONIOC_TRYWAIT
            };
            return match self.0.try_wait(request, bits as i32, op)? {
                Some(got) => Ok(got as u32),
                None => Err(Error::new(ErrorKind::WouldBlock, op, "")),
            };
        }
        let request = if all {
            abi36::EVL_MONIOC_WAIT_EXACT
        } else {
            abi36::EVL_MONIOC_WAIT
        };
        self.0
            .wait(request, bits as i32, deadline, op)
            .map(|got| got as u32)
    }

    /// Sets `bits` and wakes the first satisfied waiter, or all of them.
    pub(crate) fn post(&self, bits: u32, broadcast: bool, op: &'static str) -> Result<()> {
        if bits == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "post at least one bit",
            ));
        }
        let request = if broadcast {
            abi36::EVL_MONIOC_BROADCAST
        } else {
            abi36::EVL_MONIOC_SIGNAL
        };
        self.0.post(request, bits as i32, op)
    }

    pub(crate) fn peek(&self) -> u32 {
        self.0.value().load(Ordering::Acquire)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}

// ------------------------------------------------------------------------- doorbell

/// A doorbell: a private flag group whose bit 0 is the bell.
#[derive(Debug)]
pub(crate) struct Bell(Monitor);

/// The bit a ring posts, as the 4 bytes a write of a MASK monitor carries.
const BELL_BIT: [u8; 4] = 1i32.to_ne_bytes();

impl Bell {
    pub(crate) fn new(op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Flags, 0, Visibility::Private, op).map(Bell)
    }

    /// Posts the bell bit: `oob_write` from a thread on the oob stage, `write(2)` otherwise
    /// (attached or not, signal handlers included: signals are handled in-band). Both are one
    /// system call, allocate nothing and take no user-space lock (async-signal-safe).
    pub(crate) fn ring(&self) {
        // The only failures are a bad descriptor (impossible while `self` lives) or a
        // signal before the post; either way there is nothing a ringer could do.
        let _ = sys::write_here(self.0.raw(), &BELL_BIT);
    }

    /// Takes every bit without waiting; true if the bell was rung.
    pub(crate) fn drain(&self) -> bool {
        matches!(
            self.0
                .try_wait(abi36::EVL_MONIOC_TRYWAIT, 0, "Doorbell::drain"),
            Ok(Some(_))
        )
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}

// ------------------------------------------------------------------------- mutexes

/// A mutex: a gate monitor with priority inheritance.
#[derive(Debug)]
pub(crate) struct Gate(Monitor);

/// A gate's descriptor, state and protocol: what locking it takes.
#[derive(Clone, Copy)]
struct GateRef<'a> {
    fd: RawFd,
    state: &'a State,
    /// Locked in user space when uncontended (PI); a PP gate always goes through the core,
    /// which applies its ceiling.
    fast: bool,
}

impl GateRef<'_> {
    fn owner(&self) -> &AtomicU32 {
        self.state.word(GATE_OWNER_OFFSET)
    }

    fn owned_by(&self, me: &thread::Current) -> bool {
        abi36::evl_get_index(self.owner().load(Ordering::Acquire)) == me.fundle
    }

    /// Records a lock just taken: nesting 1 (libevl's bookkeeping, shown by the core's sysfs).
    fn taken(&self) {
        let w = self.state.word(GATE_RECURSIVE_NESTING_OFFSET);
        let recursive = abi36::EvlMonitorGateState {
            recursive_nesting: w.load(Ordering::Relaxed),
            ..Default::default()
        }
        .recursive();
        w.store(
            abi36::EvlMonitorGateState::pack_recursive_nesting(recursive, 1),
            Ordering::Relaxed,
        );
    }

    /// The user-space lock: Ok(true) taken, Ok(false) owned by another thread (or must go
    /// through the core), Err(Deadlock) owned by the caller.
    fn fast_lock(&self, me: &thread::Current, op: &'static str) -> Result<bool> {
        if !self.fast || !me.may_lock_fast() {
            // In-band threads lock through the core, which moves them out-of-band; weak ones
            // (and lock-checked ones) must let the core see every lock they hold.
            if self.owned_by(me) {
                return Err(relock(op));
            }
            return Ok(false);
        }
        match self.owner().compare_exchange(
            abi36::EVL_NO_HANDLE,
            me.fundle,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.taken();
                // A stale signal mark would only cost a useless EXIT: clear it, as libevl does.
                self.state
                    .flags()
                    .fetch_and(!abi36::EVL_MONITOR_SIGNALED, Ordering::Relaxed);
                Ok(true)
            }
            Err(h) if abi36::evl_get_index(h) == me.fundle => Err(relock(op)),
            Err(_) => Ok(false),
        }
    }

    fn lock(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<()> {
        let me = attached(op)?;
        if self.fast_lock(&me, op)? {
            return Ok(());
        }
        let ts = timespec(deadline);
        loop {
            // SAFETY: EVL_MONIOC_ENTER reads one EvlTimespec at the address passed, `ts`,
            // live for the call.
            match unsafe {
                sys::oob_ioctl(
                    self.fd,
                    abi36::EVL_MONIOC_ENTER,
                    &ts as *const abi36::EvlTimespec as usize,
                )
            } {
                Ok(_) => {
                    self.taken();
                    return Ok(());
                }
                // Signals do not end a lock (the deadline is absolute: retrying keeps it).
                Err(libc::EINTR) => continue,
                Err(libc::EDEADLK) => return Err(relock(op)),
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }

    fn try_lock(&self, op: &'static str) -> Result<()> {
        let me = attached(op)?;
        let busy = || Error::new(ErrorKind::WouldBlock, op, "");
        // As on the host, a relock attempt by the owner is "not free": WouldBlock.
        match self.fast_lock(&me, op) {
            Ok(true) => return Ok(()),
            Ok(false) if self.fast && me.may_lock_fast() => return Err(busy()),
            Ok(false) => {}
            Err(_) => return Err(busy()),
        }
        loop {
            // SAFETY: EVL_MONIOC_TRYENTER takes no argument.
            match unsafe { sys::oob_ioctl(self.fd, abi36::EVL_MONIOC_TRYENTER, 0) } {
                Ok(_) => {
                    self.taken();
                    return Ok(());
                }
                Err(libc::EINTR) => continue,
                Err(libc::EBUSY | libc::EDEADLK) => return Err(busy()),
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }

    fn unlock(&self, op: &'static str) -> Result<()> {
        let me = thread::current();
        let signaled = self.state.flags().load(Ordering::Acquire) & abi36::EVL_MONITOR_SIGNALED;
        if let (Some(me), true, 0) = (me.filter(|m| m.may_unlock_fast()), self.fast, signaled) {
            // Fails when a sleeper raised FLCLAIM (or the core granted the lock with it).
            if self
                .owner()
                .compare_exchange(
                    me.fundle,
                    abi36::EVL_NO_HANDLE,
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Ok(());
            }
        }
        loop {
            // SAFETY: EVL_MONIOC_EXIT takes no argument.
            match unsafe { sys::oob_ioctl(self.fd, abi36::EVL_MONIOC_EXIT, 0) } {
                Ok(_) => return Ok(()),
                Err(libc::EINTR) => continue,
                Err(e) => return Err(core_error(e, op)),
            }
        }
    }
}

fn relock(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Deadlock,
        op,
        "this thread already holds the mutex (EVL mutexes are not recursive)",
    )
}

impl Gate {
    pub(crate) fn create(vis: Visibility<'_>, op: &'static str) -> Result<Self> {
        Monitor::create(Kind::Mutex, 0, vis, op).map(Gate)
    }

    pub(crate) fn open(name: &str, op: &'static str) -> Result<Self> {
        Monitor::open(Kind::Mutex, name, op).map(Gate)
    }

    fn gref(&self) -> GateRef<'_> {
        GateRef {
            fd: self.0.raw(),
            state: &self.0.state,
            fast: self.0.protocol == abi36::EVL_GATE_PI,
        }
    }

    /// Locks, waiting until `deadline` (None: forever). Requires an attached caller (the
    /// owner word holds its core handle).
    pub(crate) fn lock(&self, deadline: Option<Timestamp>, op: &'static str) -> Result<()> {
        self.gref().lock(deadline, op)
    }

    /// Locks if free (WouldBlock otherwise, also when the caller holds it, as on the host).
    pub(crate) fn try_lock(&self, op: &'static str) -> Result<()> {
        self.gref().try_lock(op)
    }

    /// Unlocks (the caller holds it: the guard proves it).
    pub(crate) fn unlock(&self) {
        let r = self.gref().unlock("MutexGuard::drop");
        debug_assert!(r.is_ok(), "unlock failed: {r:?}");
    }
}

// ------------------------------------------------------------------------- events

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
