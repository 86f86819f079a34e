//! The raw EVL user ABI at level 36, written in Rust: the structures user space passes to the
//! core, the ioctl request numbers, the flags and the out-of-band system call encoding.
//!
//! # Provenance
//!
//! Every fact here was read from the uapi headers added by `patch-6.10-dovetail-evl.patch` in
//! the GitHub repository `steleman/xenomai-fc39` (commit `072d2fb59209237c2b7f0b10ef01720488e534ee`,
//! blob `671dc729cf5cc49fab2664d21e2232436ba87a11`; the uapi hunks are byte-identical in
//! `patch-6.10-dovetail-evl4.patch` at commit `68308933f1e605c299e2b0e9d5f99fa470d04243`). That
//! patch sets `EVL_ABI_BASE` and `EVL_ABI_LEVEL` to 36. At this level the EVL headers are
//! named `include/uapi/evl/<class>-abi.h` (`control-abi.h`, `factory-abi.h`, `thread-abi.h`,
//! `sched-abi.h`, `monitor-abi.h`, `clock-abi.h`, `poll-abi.h`, `proxy-abi.h`, `xbuf-abi.h`,
//! `observable-abi.h`, `syscall-abi.h`) plus `types.h`, `fcntl.h`, `signal.h`, `trace.h`; the
//! Dovetail system call marker is in `include/uapi/asm-generic/dovetail.h`. There is no
//! separate timer, semaphore, flags or mutex header: timers are made by the clock
//! (`EVL_CLKIOC_NEW_TIMER`) and driven by the timerfd requests of `clock-abi.h`; semaphores,
//! flags, mutexes and events are all monitors. The way user space calls these (device paths,
//! `prctl` form of the system calls, which attributes each clone request takes) was checked
//! against libevl in `steleman/xenomai-libevl-fc39` (commit
//! `32a5081343e5ad7d9c78560bdc2f908e3e9b2e92`, API 27, `EVL_ABI_PREREQ` 36) and against the
//! core itself (`kernel/evl/*.c` in the same patch). The uapi headers are
//! GPL-2.0 WITH Linux-syscall-note: only the facts are reproduced here.
//!
//! # Layout
//!
//! The headers use fixed-width types (`__u32`, `__u64`, `long long`, `int`) and pass
//! pointers as `__u64`, so every structure has the same layout on x86_64 and aarch64 (both
//! LP64, both with 8-byte alignment for 64-bit integers). The layouts are those of 64-bit
//! Linux; 32-bit targets are not served by this module. Where the C structure has implicit
//! padding (for instance `struct evl_core_info`, 4 bytes before `shm_size`), the `#[repr(C)]`
//! structure here has the same implicit padding, at the same place; the item's documentation
//! says where. C unions whose members differ in size are mirrored as plain byte or word
//! storage with typed accessors ([`EvlValue`], [`EvlSchedParam`]), so that no code here ever
//! reads an uninitialised union member. C bit fields are mirrored as the `__u32` word that
//! holds them, with accessors that place the bits as GCC does on the target's byte order.
//!
//! The request numbers are `u32` (the kernel's `unsigned int cmd`), built with the
//! [`ioctl`](super::ioctl) encoding from the very structures below, so a size error in a
//! structure shows up as a wrong request number too.

use super::ioctl::{io, ior, iow, iowr};
use core::ffi::CStr;
use core::mem::size_of;

// ---------------------------------------------------------------------------------------------
// ABI levels (include/uapi/evl/control-abi.h; libevl include/evl/evl.h)
// ---------------------------------------------------------------------------------------------

/// Oldest ABI level a level-36 core serves (`EVL_ABI_BASE`, uapi/evl/control-abi.h).
pub const EVL_ABI_BASE: u32 = 36;

/// The ABI level these definitions describe (`EVL_ABI_LEVEL`, uapi/evl/control-abi.h).
pub const EVL_ABI_LEVEL: u32 = 36;

/// The libevl API level that goes with this ABI (`__EVL__`, libevl include/evl/evl.h of
/// steleman/xenomai-libevl-fc39). Informational: the core does not check it.
pub const EVL_API_LEVEL: u32 = 27;

/// The ABI level libevl API 27 requires of the core (`EVL_ABI_PREREQ`, libevl
/// include/evl/evl.h): libevl refuses to start unless `abi_base <= 36 <= abi_current`.
pub const EVL_ABI_PREREQ: u32 = 36;

// ---------------------------------------------------------------------------------------------
// Device paths (uapi/evl/*-abi.h device names; kernel/evl/factory.c devnode rules; libevl
// lib/sys.c)
// ---------------------------------------------------------------------------------------------

/// Root of the EVL device tree. The core names its devices `evl/<name>` (singletons) and
/// `evl/<class>/<name>` (elements), see kernel/evl/factory.c.
pub const EVL_DEV_ROOT: &str = "/dev/evl";

/// The control device (`EVL_CONTROL_DEV`, uapi/evl/control-abi.h).
pub const EVL_CONTROL_DEV: &str = "/dev/evl/control";
/// [`EVL_CONTROL_DEV`] as a C string, for `open(2)`.
pub const EVL_CONTROL_DEV_C: &CStr = c"/dev/evl/control";

/// Name of the thread class (`EVL_THREAD_DEV`, uapi/evl/thread-abi.h).
pub const EVL_THREAD_DEV: &str = "thread";
/// Name of the monitor class (`EVL_MONITOR_DEV`, uapi/evl/monitor-abi.h).
pub const EVL_MONITOR_DEV: &str = "monitor";
/// Name of the poll singleton (`EVL_POLL_DEV`, uapi/evl/poll-abi.h).
pub const EVL_POLL_DEV: &str = "poll";
/// Name of the proxy class (`EVL_PROXY_DEV`, uapi/evl/proxy-abi.h).
pub const EVL_PROXY_DEV: &str = "proxy";
/// Name of the xbuf class (`EVL_XBUF_DEV`, uapi/evl/xbuf-abi.h).
pub const EVL_XBUF_DEV: &str = "xbuf";
/// Name of the observable class (`EVL_OBSERVABLE_DEV`, uapi/evl/observable-abi.h).
pub const EVL_OBSERVABLE_DEV: &str = "observable";
/// Name of the clock class (`EVL_CLOCK_DEV`, uapi/evl/clock-abi.h).
pub const EVL_CLOCK_DEV: &str = "clock";
/// Name of the monotonic clock element (`EVL_CLOCK_MONOTONIC_DEV`, uapi/evl/clock-abi.h).
pub const EVL_CLOCK_MONOTONIC_DEV: &str = "monotonic";
/// Name of the realtime clock element (`EVL_CLOCK_REALTIME_DEV`, uapi/evl/clock-abi.h).
pub const EVL_CLOCK_REALTIME_DEV: &str = "realtime";

/// The clone device of the thread class: `EVL_IOC_CLONE` on it attaches the caller
/// (kernel/evl/factory.c names the first device of a cloning factory `clone`; libevl
/// lib/sys.c opens `/dev/evl/<class>/clone`).
pub const EVL_THREAD_CLONE_DEV_C: &CStr = c"/dev/evl/thread/clone";
/// The clone device of the monitor class (see [`EVL_THREAD_CLONE_DEV_C`]).
pub const EVL_MONITOR_CLONE_DEV_C: &CStr = c"/dev/evl/monitor/clone";
/// The clone device of the proxy class (see [`EVL_THREAD_CLONE_DEV_C`]).
pub const EVL_PROXY_CLONE_DEV_C: &CStr = c"/dev/evl/proxy/clone";
/// The clone device of the xbuf class (see [`EVL_THREAD_CLONE_DEV_C`]).
pub const EVL_XBUF_CLONE_DEV_C: &CStr = c"/dev/evl/xbuf/clone";
/// The clone device of the observable class (see [`EVL_THREAD_CLONE_DEV_C`]).
pub const EVL_OBSERVABLE_CLONE_DEV_C: &CStr = c"/dev/evl/observable/clone";
/// The poll device: a single-instance factory, each `open(2)` of it is a new poll set
/// (kernel/evl/poll.c `EVL_FACTORY_SINGLE`; libevl lib/poll.c opens it raw).
pub const EVL_POLL_DEV_C: &CStr = c"/dev/evl/poll";
/// The monotonic clock element (public, kernel/evl/clock.c; libevl lib/clock.c).
pub const EVL_CLOCK_MONOTONIC_DEV_C: &CStr = c"/dev/evl/clock/monotonic";
/// The realtime clock element (public, kernel/evl/clock.c; libevl lib/clock.c).
pub const EVL_CLOCK_REALTIME_DEV_C: &CStr = c"/dev/evl/clock/realtime";

// ---------------------------------------------------------------------------------------------
// Out-of-band system calls (uapi/asm-generic/dovetail.h, uapi/evl/syscall-abi.h,
// kernel/evl/syscall.c, include/linux/dovetail.h, arch/{x86,arm64}/include/asm/dovetail.h)
// ---------------------------------------------------------------------------------------------

/// The `prctl(2)` option that carries an EVL system call (`PR_OOB_SYSCALL`,
/// uapi/asm-generic/dovetail.h).
///
/// The call form at ABI 36 is `prctl(PR_OOB_SYSCALL, nr, a0, a1, a2)`: Dovetail recognises a
/// `prctl` whose first argument is this value and hands it to the core, which takes `nr` from
/// the second argument and shifts the three others down (kernel/evl/syscall.c, "Since ABI 36,
/// we recognize EVL requests only when folded into a prctl() call"). The return value is
/// prctl's: the result, or -1 with `errno` set.
pub const PR_OOB_SYSCALL: libc::c_int = 0x4f4f_4243;

/// The legacy out-of-band marker bit in the system call number (`__OOB_SYSCALL_BIT`,
/// uapi/asm-generic/dovetail.h, "Will be dropped at some point").
///
/// Only honoured by kernels built with `CONFIG_DOVETAIL_LEGACY_SYSCALL_RANGE`; the level-36
/// EVL core and libevl API 27 use the [`PR_OOB_SYSCALL`] form only. Do not use it.
pub const OOB_SYSCALL_BIT: u32 = 0x1000_0000;

/// EVL system call `oob_read(efd, buf, count)` (`sys_evl_read`, uapi/evl/syscall-abi.h).
pub const SYS_EVL_READ: u32 = 0;
/// EVL system call `oob_write(efd, buf, count)` (`sys_evl_write`, uapi/evl/syscall-abi.h).
pub const SYS_EVL_WRITE: u32 = 1;
/// EVL system call `oob_ioctl(efd, request, arg)` (`sys_evl_ioctl`, uapi/evl/syscall-abi.h).
pub const SYS_EVL_IOCTL: u32 = 2;
/// Number of EVL system calls (`NR_EVL_SYSCALLS`, uapi/evl/syscall-abi.h).
pub const NR_EVL_SYSCALLS: u32 = 3;

/// The `prctl` system call number on x86_64 (`__NR_prctl`, arch/x86 unistd_64.h), which
/// Dovetail watches for [`PR_OOB_SYSCALL`] (arch/x86/include/asm/dovetail.h
/// `arch_dovetail_is_prctl`; ia32 compat tasks use 172 instead).
#[cfg(target_arch = "x86_64")]
pub const NR_PRCTL: libc::c_long = 157;

/// The `prctl` system call number on aarch64 (`__NR_prctl`, asm-generic/unistd.h), which
/// Dovetail watches for [`PR_OOB_SYSCALL`] (arch/arm64/include/asm/dovetail.h
/// `arch_dovetail_is_prctl`; arm32 compat tasks use 172 instead).
#[cfg(target_arch = "aarch64")]
pub const NR_PRCTL: libc::c_long = 167;

/// The five `prctl(2)` arguments that carry EVL system call `nr` with arguments `a0..a2`, in
/// order: `[PR_OOB_SYSCALL, nr, a0, a1, a2]` (libevl lib/syscall.c `__evl_syscall`;
/// kernel/evl/syscall.c `collect_syscall_args`).
pub const fn oob_syscall_args(nr: u32, a0: u64, a1: u64, a2: u64) -> [u64; 5] {
    [PR_OOB_SYSCALL as u64, nr as u64, a0, a1, a2]
}

// ---------------------------------------------------------------------------------------------
// Common types (include/uapi/evl/types.h)
// ---------------------------------------------------------------------------------------------

/// A fast handle naming an element in the core (`fundle_t`, uapi/evl/types.h).
pub type Fundle = u32;

/// The null handle (`EVL_NO_HANDLE`, uapi/evl/types.h).
pub const EVL_NO_HANDLE: Fundle = 0;
/// Reserved handle bit: the mutex is contended (`EVL_MUTEX_FLCLAIM`, uapi/evl/types.h).
pub const EVL_MUTEX_FLCLAIM: Fundle = 0x8000_0000;
/// Reserved handle bit: a priority ceiling is active (`EVL_MUTEX_FLCEIL`, uapi/evl/types.h).
pub const EVL_MUTEX_FLCEIL: Fundle = 0x4000_0000;
/// The reserved handle bits (`EVL_HANDLE_INDEX_MASK`, uapi/evl/types.h).
pub const EVL_HANDLE_INDEX_MASK: Fundle = EVL_MUTEX_FLCLAIM | EVL_MUTEX_FLCEIL;

/// A handle with its reserved bits stripped (`evl_get_index()`, uapi/evl/types.h).
pub const fn evl_get_index(handle: Fundle) -> Fundle {
    handle & !EVL_HANDLE_INDEX_MASK
}

/// A 64-bit time value (`struct __evl_timespec`, uapi/evl/types.h; same layout as the
/// kernel's `__kernel_timespec`).
///
/// ```text
/// struct __evl_timespec { long long tv_sec; long long tv_nsec; };   // 16 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EvlTimespec {
    /// Seconds (`__evl_time64_t`, i.e. `long long`).
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: i64,
}

impl EvlTimespec {
    /// A time value of `tv_sec` seconds and `tv_nsec` nanoseconds.
    pub const fn new(tv_sec: i64, tv_nsec: i64) -> Self {
        EvlTimespec { tv_sec, tv_nsec }
    }
}

/// A timer setting (`struct __evl_itimerspec`, uapi/evl/types.h; same layout as the kernel's
/// `__kernel_itimerspec`).
///
/// ```text
/// struct __evl_itimerspec { struct __evl_timespec it_interval, it_value; };  // 32 bytes
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EvlItimerspec {
    /// Period (zero: one-shot).
    pub it_interval: EvlTimespec,
    /// First expiry (zero: disarm).
    pub it_value: EvlTimespec,
}

/// A word that is an `__s32`, an `__s64` or a pointer (`union evl_value`, uapi/evl/types.h):
/// the poll cookie and the observable event payload.
///
/// ```text
/// union evl_value { __s32 val; __s64 lval; void *ptr; };   // 8 bytes, align 8 on LP64
/// ```
///
/// Every member sits at offset 0. Stored here as its 8 bytes in native order, so writing one
/// member and reading another never touches uninitialised memory: [`EvlValue::from_i32`]
/// zeroes the upper bytes (libevl's `evl_intval()` always stores the full `lval`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EvlValue {
    bytes: [u8; 8],
}

impl EvlValue {
    /// The all-zero value (`evl_nil`, uapi/evl/types.h).
    pub const NIL: EvlValue = EvlValue { bytes: [0; 8] };

    /// The value whose `lval` member is `v` (`evl_intval(v)`).
    pub const fn from_i64(v: i64) -> Self {
        EvlValue {
            bytes: v.to_ne_bytes(),
        }
    }

    /// The value whose `val` member is `v`, other bytes zero.
    pub const fn from_i32(v: i32) -> Self {
        let b = v.to_ne_bytes();
        EvlValue {
            bytes: [b[0], b[1], b[2], b[3], 0, 0, 0, 0],
        }
    }

    /// The value whose `ptr` member is the address `addr` (`evl_ptrval(p)`).
    pub const fn from_addr(addr: u64) -> Self {
        EvlValue {
            bytes: addr.to_ne_bytes(),
        }
    }

    /// The `lval` member.
    pub const fn lval(self) -> i64 {
        i64::from_ne_bytes(self.bytes)
    }

    /// The `val` member (the first four bytes).
    pub const fn val(self) -> i32 {
        let b = self.bytes;
        i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The `ptr` member, as an address.
    pub const fn addr(self) -> u64 {
        u64::from_ne_bytes(self.bytes)
    }
}

impl core::fmt::Debug for EvlValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EvlValue")
            .field("lval", &self.lval())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Control device (include/uapi/evl/control-abi.h)
// ---------------------------------------------------------------------------------------------

/// What the core says of itself (`struct evl_core_info`, uapi/evl/control-abi.h), filled by
/// [`EVL_CTLIOC_GET_COREINFO`].
///
/// ```text
/// struct evl_core_info {
///     __u32 abi_base;       //  0
///     __u32 abi_current;    //  4
///     __u32 fpu_features;   //  8
///                           // 12: 4 bytes of implicit padding
///     __u64 shm_size;       // 16
/// };                        // 24 bytes, align 8
/// ```
///
/// `shm_size` is the size of the core's shared memory, which user space maps with
/// `mmap(NULL, shm_size, PROT_READ|PROT_WRITE, MAP_SHARED, control_fd, 0)` (libevl
/// lib/init.c); element states ([`EvlElementIds::state_offset`]) are offsets into it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlCoreInfo {
    /// Oldest ABI level the core still serves.
    pub abi_base: u32,
    /// The core's own ABI level.
    pub abi_current: u32,
    /// FPU features the core detected (arch-specific bits, uapi/asm/evl/fptest.h).
    pub fpu_features: u32,
    /// Size of the core's shared memory area.
    pub shm_size: u64,
}

/// An out-of-band capable CPU (`EVL_CPU_OOB`, uapi/evl/sched-abi.h), in the word
/// [`EVL_CTLIOC_GET_CPUSTATE`] writes.
pub const EVL_CPU_OOB: u32 = 1;
/// An isolated CPU (`EVL_CPU_ISOL`, uapi/evl/sched-abi.h).
pub const EVL_CPU_ISOL: u32 = 1 << 1;
/// An offline CPU (`EVL_CPU_OFFLINE`, uapi/evl/sched-abi.h).
pub const EVL_CPU_OFFLINE: u32 = 1 << 2;

/// A CPU state query (`struct evl_cpu_state`, uapi/evl/control-abi.h), argument of
/// [`EVL_CTLIOC_GET_CPUSTATE`]; the core writes the `EVL_CPU_*` bits to `*state_ptr`.
///
/// ```text
/// struct evl_cpu_state {
///     __u32 cpu;            // 0
///                           // 4: 4 bytes of implicit padding
///     __u64 state_ptr;      // 8  (__u32 __user *state)
/// };                        // 16 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlCpuState {
    /// The CPU to query.
    pub cpu: u32,
    /// Address of a `u32` the core writes the state bits to.
    pub state_ptr: u64,
}

/// Control device ioctl type (`EVL_CONTROL_IOCBASE`, uapi/evl/control-abi.h).
pub const EVL_CONTROL_IOCBASE: u8 = b'C';

/// `_IOR('C', 0, struct evl_core_info)` (`EVL_CTLIOC_GET_COREINFO`, uapi/evl/control-abi.h).
/// In-band only (the control device's `unlocked_ioctl`).
pub const EVL_CTLIOC_GET_COREINFO: u32 = ior(EVL_CONTROL_IOCBASE, 0, size_of::<EvlCoreInfo>());
/// `_IOWR('C', 1, struct evl_sched_ctlreq)` (`EVL_CTLIOC_SCHEDCTL`, uapi/evl/control-abi.h).
pub const EVL_CTLIOC_SCHEDCTL: u32 = iowr(EVL_CONTROL_IOCBASE, 1, size_of::<EvlSchedCtlReq>());
/// `_IOR('C', 2, struct evl_cpu_state)` (`EVL_CTLIOC_GET_CPUSTATE`, uapi/evl/control-abi.h).
pub const EVL_CTLIOC_GET_CPUSTATE: u32 = ior(EVL_CONTROL_IOCBASE, 2, size_of::<EvlCpuState>());

// ---------------------------------------------------------------------------------------------
// Factory: element creation (include/uapi/evl/factory-abi.h)
// ---------------------------------------------------------------------------------------------

/// Factory ioctl type (`EVL_FACTORY_IOCBASE`, uapi/evl/factory-abi.h).
pub const EVL_FACTORY_IOCBASE: u8 = b'f';

/// What the core returns of a new element (`struct evl_element_ids`,
/// uapi/evl/factory-abi.h).
///
/// ```text
/// struct evl_element_ids { __u32 minor; __u32 fundle; __u32 state_offset; };  // 12, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EvlElementIds {
    /// Device minor of the element.
    pub minor: u32,
    /// The element's fast handle ([`Fundle`]).
    pub fundle: u32,
    /// Offset of the element's shared state in the core's shared memory (`-1U` when the
    /// element has none): an [`EvlUserWindow`] for a thread, an [`EvlMonitorState`] for a
    /// monitor.
    pub state_offset: u32,
}

/// A public element: visible by name under `/dev/evl/<class>/<name>` (`EVL_CLONE_PUBLIC`,
/// uapi/evl/factory-abi.h). The core only uses bits 16-31 of the clone flags.
pub const EVL_CLONE_PUBLIC: u32 = 1 << 16;
/// A private element: reachable only through the descriptor the clone request returns
/// (`EVL_CLONE_PRIVATE`, uapi/evl/factory-abi.h: `0 << 16`).
pub const EVL_CLONE_PRIVATE: u32 = 0;
/// The element (a thread) is also an observable (`EVL_CLONE_OBSERVABLE`,
/// uapi/evl/factory-abi.h).
pub const EVL_CLONE_OBSERVABLE: u32 = 1 << 17;
/// Open the element non-blocking (`EVL_CLONE_NONBLOCK`, uapi/evl/factory-abi.h). libevl
/// strips it before the request and applies `O_NONBLOCK` itself.
pub const EVL_CLONE_NONBLOCK: u32 = 1 << 18;
/// Observable notifications go to one observer, not all (`EVL_CLONE_UNICAST`,
/// uapi/evl/factory-abi.h; `EVL_CLONE_MASTER` is its deprecated alias).
pub const EVL_CLONE_UNICAST: u32 = 1 << 19;
/// Proxy: the element can be read (`EVL_CLONE_INPUT`, uapi/evl/factory-abi.h).
pub const EVL_CLONE_INPUT: u32 = 1 << 20;
/// Proxy: the element can be written (`EVL_CLONE_OUTPUT`, uapi/evl/factory-abi.h).
pub const EVL_CLONE_OUTPUT: u32 = 1 << 21;
/// Reserved to elements the core makes for itself (`EVL_CLONE_COREDEV`,
/// uapi/evl/factory-abi.h).
pub const EVL_CLONE_COREDEV: u32 = 1 << 31;
/// Clone flags user space may pass (`EVL_CLONE_MASK`, uapi/evl/factory-abi.h: bits 16-30).
pub const EVL_CLONE_MASK: u32 = (u32::MAX << 16) & !EVL_CLONE_COREDEV;
/// Deprecated alias of [`EVL_CLONE_UNICAST`] (`EVL_CLONE_MASTER`, uapi/evl/factory-abi.h).
pub const EVL_CLONE_MASTER: u32 = EVL_CLONE_UNICAST;

/// Clone flags the thread factory accepts (kernel/evl/thread.c `EVL_THREAD_CLONE_FLAGS`).
pub const EVL_THREAD_CLONE_FLAGS: u32 = EVL_CLONE_PUBLIC | EVL_CLONE_OBSERVABLE | EVL_CLONE_UNICAST;
/// Clone flags the observable factory accepts (kernel/evl/observable.c).
pub const EVL_OBSERVABLE_CLONE_FLAGS: u32 =
    EVL_CLONE_PUBLIC | EVL_CLONE_OBSERVABLE | EVL_CLONE_UNICAST;
/// Clone flags the proxy factory accepts (kernel/evl/proxy.c `EVL_PROXY_CLONE_FLAGS`).
pub const EVL_PROXY_CLONE_FLAGS: u32 = EVL_CLONE_PUBLIC | EVL_CLONE_OUTPUT | EVL_CLONE_INPUT;
/// Clone flags the monitor and xbuf factories accept (kernel/evl/monitor.c, xbuf.c).
pub const EVL_MONITOR_CLONE_FLAGS: u32 = EVL_CLONE_PUBLIC;

/// An element creation request (`struct evl_clone_req`, uapi/evl/factory-abi.h), argument of
/// [`EVL_IOC_CLONE`] on a class's clone device.
///
/// ```text
/// struct evl_clone_req {
///     __u64 name_ptr;                 //  0  (const char __user *name), 0: anonymous
///     __u64 attrs_ptr;                //  8  (void __user *attrs)
///     __u32 clone_flags;              // 16
///     struct evl_element_ids eids;    // 20  output
///     __u32 efd;                      // 32  output
///                                     // 36: 4 bytes of implicit tail padding
/// };                                  // 40 bytes, align 8
/// ```
///
/// What `attrs_ptr` points to, per class at ABI 36 (kernel/evl/*.c `*_factory_build`):
/// thread and observable: nothing (0); monitor: [`EvlMonitorAttrs`]; proxy:
/// [`EvlProxyAttrs`]; xbuf: [`EvlXbufAttrs`]. A public element needs a name; `efd` is a
/// descriptor on the new element (for a public one, libevl opens `/dev/evl/<class>/<name>`
/// instead).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlCloneReq {
    /// Address of the NUL-terminated element name, or 0.
    pub name_ptr: u64,
    /// Address of the class's attribute structure, or 0.
    pub attrs_ptr: u64,
    /// `EVL_CLONE_*` flags.
    pub clone_flags: u32,
    /// Output: the new element's ids.
    pub eids: EvlElementIds,
    /// Output: a descriptor on the new element.
    pub efd: u32,
}

/// `_IOWR('f', 0, struct evl_clone_req)` (`EVL_IOC_CLONE`, uapi/evl/factory-abi.h).
pub const EVL_IOC_CLONE: u32 = iowr(EVL_FACTORY_IOCBASE, 0, size_of::<EvlCloneReq>());

// ---------------------------------------------------------------------------------------------
// Scheduling (include/uapi/evl/sched-abi.h)
// ---------------------------------------------------------------------------------------------

/// The weak scheduling class (`SCHED_WEAK`, uapi/evl/sched-abi.h). `SCHED_FIFO` and
/// `SCHED_RR` keep their Linux numbers (1, 2).
pub const SCHED_WEAK: i32 = 43;
/// The quota scheduling class (`SCHED_QUOTA`, uapi/evl/sched-abi.h).
pub const SCHED_QUOTA: i32 = 44;
/// The time-partitioning scheduling class (`SCHED_TP`, uapi/evl/sched-abi.h).
pub const SCHED_TP: i32 = 45;
/// The idle pseudo-partition of `SCHED_TP` (`EVL_TP_IDLE`, uapi/evl/sched-abi.h).
pub const EVL_TP_IDLE: i32 = -1;

/// The policy-specific part of [`EvlSchedAttrs`] (the anonymous `sched_u` union of `struct
/// evl_sched_attrs`, uapi/evl/sched-abi.h).
///
/// ```text
/// union {
///     struct __evl_rr_param    { struct __evl_timespec __sched_rr_quantum; } rr;  // 16
///     struct __evl_quota_param { int __sched_group; } quota;                      //  4
///     struct __evl_tp_param    { int __sched_partition; } tp;                     //  4
/// } sched_u;                                                  // 16 bytes, align 8
/// ```
///
/// Every member sits at offset 0; stored as its 16 bytes, zero where the chosen member does
/// not reach.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EvlSchedParam {
    bytes: [u8; 16],
}

impl EvlSchedParam {
    /// No policy-specific parameter (all zero), as for `SCHED_FIFO` and `SCHED_WEAK`.
    pub const NONE: EvlSchedParam = EvlSchedParam { bytes: [0; 16] };

    /// `SCHED_RR`: the round-robin quantum (`sched_rr_quantum`).
    pub const fn rr(quantum: EvlTimespec) -> Self {
        let s = quantum.tv_sec.to_ne_bytes();
        let n = quantum.tv_nsec.to_ne_bytes();
        let mut bytes = [0u8; 16];
        let mut i = 0;
        while i < 8 {
            bytes[i] = s[i];
            bytes[8 + i] = n[i];
            i += 1;
        }
        EvlSchedParam { bytes }
    }

    /// `SCHED_QUOTA`: the quota group (`sched_quota_group`).
    pub const fn quota(group: i32) -> Self {
        Self::first_int(group)
    }

    /// `SCHED_TP`: the partition (`sched_tp_partition`).
    pub const fn tp(partition: i32) -> Self {
        Self::first_int(partition)
    }

    const fn first_int(v: i32) -> Self {
        let b = v.to_ne_bytes();
        let mut bytes = [0u8; 16];
        bytes[0] = b[0];
        bytes[1] = b[1];
        bytes[2] = b[2];
        bytes[3] = b[3];
        EvlSchedParam { bytes }
    }

    /// The `rr` member: the round-robin quantum.
    pub const fn rr_quantum(&self) -> EvlTimespec {
        let b = &self.bytes;
        EvlTimespec {
            tv_sec: i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            tv_nsec: i64::from_ne_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }

    /// The `quota` member: the quota group.
    pub const fn quota_group(&self) -> i32 {
        self.first()
    }

    /// The `tp` member: the partition.
    pub const fn tp_partition(&self) -> i32 {
        self.first()
    }

    const fn first(&self) -> i32 {
        let b = &self.bytes;
        i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl core::fmt::Debug for EvlSchedParam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EvlSchedParam")
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// A thread's scheduling attributes (`struct evl_sched_attrs`, uapi/evl/sched-abi.h),
/// argument of [`EVL_THRIOC_SET_SCHEDPARAM`] and [`EVL_THRIOC_GET_SCHEDPARAM`].
///
/// ```text
/// struct evl_sched_attrs {
///     int sched_policy;      // 0
///     int sched_priority;    // 4
///     union { ... } sched_u; // 8  (16 bytes, see EvlSchedParam)
/// };                         // 24 bytes, align 8
/// ```
///
/// At ABI 36 a thread is created ([`EVL_IOC_CLONE`] on the thread clone device) with no
/// attributes (`attrs_ptr` 0); its scheduling is set afterwards with this structure.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlSchedAttrs {
    /// `SCHED_FIFO`, `SCHED_RR`, [`SCHED_WEAK`], [`SCHED_QUOTA`], [`SCHED_TP`]...
    pub sched_policy: i32,
    /// Priority within the policy.
    pub sched_priority: i32,
    /// Policy-specific parameter.
    pub sched_u: EvlSchedParam,
}

/// `enum evl_quota_ctlop` value `evl_quota_add` (uapi/evl/sched-abi.h; C enums are `int`).
pub const EVL_QUOTA_ADD: i32 = 0;
/// `evl_quota_remove` (uapi/evl/sched-abi.h).
pub const EVL_QUOTA_REMOVE: i32 = 1;
/// `evl_quota_force_remove` (uapi/evl/sched-abi.h).
pub const EVL_QUOTA_FORCE_REMOVE: i32 = 2;
/// `evl_quota_set` (uapi/evl/sched-abi.h).
pub const EVL_QUOTA_SET: i32 = 3;
/// `evl_quota_get` (uapi/evl/sched-abi.h).
pub const EVL_QUOTA_GET: i32 = 4;

/// A `SCHED_QUOTA` control request (`struct evl_quota_ctlparam`, uapi/evl/sched-abi.h), the
/// `quota` member of `union evl_sched_ctlparam` that [`EvlSchedCtlReq::param_ptr`] points
/// to.
///
/// ```text
/// struct evl_quota_ctlparam {
///     enum evl_quota_ctlop op;                       // 0
///     union {
///         struct { int tgid; } remove;
///         struct { int tgid; int quota; int quota_peak; } set;
///         struct { int tgid; } get;
///     } u;                                           // 4: tgid 4, quota 8, quota_peak 12
/// };                                                 // 16 bytes, align 4
/// ```
///
/// The three union members share their first field, so the union is mirrored as its largest
/// member (`set`) flattened.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlQuotaCtlParam {
    /// One of the `EVL_QUOTA_*` operations.
    pub op: i32,
    /// The thread group (all operations).
    pub tgid: i32,
    /// `set`: the quota (percent).
    pub quota: i32,
    /// `set`: the peak quota (percent).
    pub quota_peak: i32,
}

/// A `SCHED_QUOTA` control answer (`struct evl_quota_ctlinfo`, uapi/evl/sched-abi.h).
///
/// ```text
/// struct evl_quota_ctlinfo { int tgid; int quota; int quota_peak; int quota_sum; };  // 16
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlQuotaCtlInfo {
    /// The thread group.
    pub tgid: i32,
    /// Its quota.
    pub quota: i32,
    /// Its peak quota.
    pub quota_peak: i32,
    /// Sum of the quotas on the CPU.
    pub quota_sum: i32,
}

/// `enum evl_tp_ctlop` value `evl_tp_install` (uapi/evl/sched-abi.h).
pub const EVL_TP_INSTALL: i32 = 0;
/// `evl_tp_uninstall` (uapi/evl/sched-abi.h).
pub const EVL_TP_UNINSTALL: i32 = 1;
/// `evl_tp_start` (uapi/evl/sched-abi.h).
pub const EVL_TP_START: i32 = 2;
/// `evl_tp_stop` (uapi/evl/sched-abi.h).
pub const EVL_TP_STOP: i32 = 3;
/// `evl_tp_get` (uapi/evl/sched-abi.h).
pub const EVL_TP_GET: i32 = 4;

/// One `SCHED_TP` time window (`struct __evl_tp_window`, uapi/evl/sched-abi.h).
///
/// ```text
/// struct __evl_tp_window {
///     struct __evl_timespec offset;     //  0
///     struct __evl_timespec duration;   // 16
///     int ptid;                         // 32
///                                       // 36: 4 bytes of implicit tail padding
/// };                                    // 40 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlTpWindow {
    /// Start of the window in the global period.
    pub offset: EvlTimespec,
    /// Length of the window.
    pub duration: EvlTimespec,
    /// Partition the window runs ([`EVL_TP_IDLE`] for none).
    pub ptid: i32,
}

/// A `SCHED_TP` control request header (`struct evl_tp_ctlparam`, uapi/evl/sched-abi.h),
/// followed in memory by `nr_windows` [`EvlTpWindow`]s (`evl_tp_paramlen(n)` bytes in all).
///
/// ```text
/// struct evl_tp_ctlparam {
///     enum evl_tp_ctlop op;                 // 0
///     int nr_windows;                       // 4
///     struct __evl_tp_window windows[0];    // 8
/// };                                        // 8 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlTpCtlParam {
    /// One of the `EVL_TP_*` operations.
    pub op: i32,
    /// Number of windows that follow.
    pub nr_windows: i32,
    /// The windows (flexible array member).
    pub windows: [EvlTpWindow; 0],
}

/// Size of a `SCHED_TP` request with `nr_windows` windows (`evl_tp_paramlen()`,
/// uapi/evl/sched-abi.h).
pub const fn evl_tp_paramlen(nr_windows: usize) -> usize {
    size_of::<EvlTpCtlParam>() + nr_windows * size_of::<EvlTpWindow>()
}

/// A `SCHED_TP` control answer header (`struct evl_tp_ctlinfo`, uapi/evl/sched-abi.h),
/// followed by `nr_windows` [`EvlTpWindow`]s.
///
/// ```text
/// struct evl_tp_ctlinfo {
///     int nr_windows;                       // 0
///                                           // 4: 4 bytes of implicit padding
///     struct __evl_tp_window windows[0];    // 8
/// };                                        // 8 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlTpCtlInfo {
    /// Number of windows that follow.
    pub nr_windows: i32,
    /// The windows (flexible array member).
    pub windows: [EvlTpWindow; 0],
}

/// Size of a `SCHED_TP` answer with `nr_windows` windows (`evl_tp_infolen()`,
/// uapi/evl/sched-abi.h).
pub const fn evl_tp_infolen(nr_windows: usize) -> usize {
    size_of::<EvlTpCtlInfo>() + nr_windows * size_of::<EvlTpWindow>()
}

/// Size of `union evl_sched_ctlparam` (uapi/evl/sched-abi.h: its `quota` member, 16 bytes,
/// is the largest; align 8 from the `tp` member). The core copies only the member the
/// policy selects (kernel/evl/control.c).
pub const EVL_SCHED_CTLPARAM_SIZE: usize = 16;
/// Size of `union evl_sched_ctlinfo` (uapi/evl/sched-abi.h: its `quota` member, 16 bytes).
pub const EVL_SCHED_CTLINFO_SIZE: usize = 16;

/// A scheduling class control request (`struct evl_sched_ctlreq`, uapi/evl/sched-abi.h),
/// argument of [`EVL_CTLIOC_SCHEDCTL`].
///
/// ```text
/// struct evl_sched_ctlreq {
///     int policy;          //  0  SCHED_QUOTA or SCHED_TP
///     int cpu;             //  4
///     __u64 param_ptr;     //  8  (const union evl_sched_ctlparam __user *)
///     __u64 info_ptr;      // 16  (union evl_sched_ctlinfo __user *), may be 0
/// };                       // 24 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlSchedCtlReq {
    /// [`SCHED_QUOTA`] or [`SCHED_TP`].
    pub policy: i32,
    /// The CPU whose scheduler is controlled.
    pub cpu: i32,
    /// Address of an [`EvlQuotaCtlParam`] or an [`EvlTpCtlParam`] (with its windows).
    pub param_ptr: u64,
    /// Address of an [`EvlQuotaCtlInfo`] or an [`EvlTpCtlInfo`] to fill, or 0.
    pub info_ptr: u64,
}

// ---------------------------------------------------------------------------------------------
// Threads (include/uapi/evl/thread-abi.h, signal.h)
// ---------------------------------------------------------------------------------------------

/// State bit: suspended (`EVL_T_SUSP`, uapi/evl/thread-abi.h).
pub const EVL_T_SUSP: u32 = 0x0000_0001;
/// State bit: blocked on a wait queue or mutex (`EVL_T_PEND`).
pub const EVL_T_PEND: u32 = 0x0000_0002;
/// State bit: delayed or timed (`EVL_T_DELAY`).
pub const EVL_T_DELAY: u32 = 0x0000_0004;
/// State bit: periodic wait (`EVL_T_WAIT`).
pub const EVL_T_WAIT: u32 = 0x0000_0008;
/// State bit: ready to run (`EVL_T_READY`).
pub const EVL_T_READY: u32 = 0x0000_0010;
/// State bit: not started yet (`EVL_T_DORMANT`).
pub const EVL_T_DORMANT: u32 = 0x0000_0020;
/// State bit: dead, waiting for disposal (`EVL_T_ZOMBIE`).
pub const EVL_T_ZOMBIE: u32 = 0x0000_0040;
/// State bit: running in-band (`EVL_T_INBAND`). libevl reads it in the thread's
/// [`EvlUserWindow::state`] to choose between `ioctl` and `oob_ioctl`.
pub const EVL_T_INBAND: u32 = 0x0000_0080;
/// State bit: halted (`EVL_T_HALT`).
pub const EVL_T_HALT: u32 = 0x0000_0100;
/// State bit: PI/PP boost undergoing (`EVL_T_BOOST`).
pub const EVL_T_BOOST: u32 = 0x0000_0200;
/// State bit: synchronizing on a ptrace event (`EVL_T_PTSYNC`).
pub const EVL_T_PTSYNC: u32 = 0x0000_0400;
/// State bit: round-robin scheduling (`EVL_T_RRB`).
pub const EVL_T_RRB: u32 = 0x0000_0800;
/// State bit: root thread, the in-band kernel placeholder (`EVL_T_ROOT`).
pub const EVL_T_ROOT: u32 = 0x0000_1000;
/// State bit: weak scheduling (`EVL_T_WEAK`).
pub const EVL_T_WEAK: u32 = 0x0000_2000;
/// State bit: user-space thread (`EVL_T_USER`).
pub const EVL_T_USER: u32 = 0x0000_4000;
/// Mode bit: warn on stage switch (`EVL_T_WOSS`).
pub const EVL_T_WOSS: u32 = 0x0000_8000;
/// Mode bit: warn on locking inconsistency (`EVL_T_WOLI`).
pub const EVL_T_WOLI: u32 = 0x0001_0000;
/// Mode bit: warn on stage exclusion (`EVL_T_WOSX`).
pub const EVL_T_WOSX: u32 = 0x0002_0000;
/// State bit: stopped on a ptrace event (`EVL_T_PTRACE`).
pub const EVL_T_PTRACE: u32 = 0x0004_0000;
/// State bit: observable (`EVL_T_OBSERV`).
pub const EVL_T_OBSERV: u32 = 0x0008_0000;
/// Mode bit: notify health monitoring events with SIGDEBUG (`EVL_T_HMSIG`).
pub const EVL_T_HMSIG: u32 = 0x0010_0000;
/// Mode bit: notify health monitoring events through the observable (`EVL_T_HMOBS`).
pub const EVL_T_HMOBS: u32 = 0x0020_0000;
/// Mode bit: warn on schedule overrun (`EVL_T_WOSO`).
pub const EVL_T_WOSO: u32 = 0x0040_0000;

/// Info bit: woken up by a timeout (`EVL_T_TIMEO`, uapi/evl/thread-abi.h).
pub const EVL_T_TIMEO: u32 = 0x0000_0001;
/// Info bit: pending on a removed resource (`EVL_T_RMID`).
pub const EVL_T_RMID: u32 = 0x0000_0002;
/// Info bit: forcibly awakened from a wait (`EVL_T_BREAK`).
pub const EVL_T_BREAK: u32 = 0x0000_0004;
/// Info bit: forced out of out-of-band context (`EVL_T_KICKED`).
pub const EVL_T_KICKED: u32 = 0x0000_0008;
/// Info bit: needs requeuing in its wait channel (`EVL_T_WCHAN`).
pub const EVL_T_WCHAN: u32 = 0x0000_0010;
/// Info bit: cancellation pending (`EVL_T_CANCELD`).
pub const EVL_T_CANCELD: u32 = 0x0000_0040;
/// Info bit: priority inversion alert (`EVL_T_PIALERT`).
pub const EVL_T_PIALERT: u32 = 0x0000_0080;
/// Info bit: scheduling parameter propagation pending (`EVL_T_SCHEDP`).
pub const EVL_T_SCHEDP: u32 = 0x0000_0100;
/// Info bit: woken up by a broadcast (`EVL_T_BCAST`).
pub const EVL_T_BCAST: u32 = 0x0000_0200;
/// Info bit: event monitor signaled (`EVL_T_SIGNAL`).
pub const EVL_T_SIGNAL: u32 = 0x0000_0400;
/// Info bit: stage exclusion alert (`EVL_T_SXALERT`).
pub const EVL_T_SXALERT: u32 = 0x0000_0800;
/// Info bit: ptrace signal pending (`EVL_T_PTSIG`).
pub const EVL_T_PTSIG: u32 = 0x0000_1000;
/// Info bit: ptrace stop ongoing (`EVL_T_PTSTOP`).
pub const EVL_T_PTSTOP: u32 = 0x0000_2000;
/// Info bit: should join the ptsync barrier (`EVL_T_PTJOIN`).
pub const EVL_T_PTJOIN: u32 = 0x0000_4000;
/// Info bit: no memory to complete the operation (`EVL_T_NOMEM`).
pub const EVL_T_NOMEM: u32 = 0x0000_8000;

/// Health monitoring cause: demoted by a signal (`EVL_HMDIAG_SIGDEMOTE`,
/// uapi/evl/thread-abi.h).
pub const EVL_HMDIAG_SIGDEMOTE: u32 = 1;
/// Cause: demoted by an in-band system call (`EVL_HMDIAG_SYSDEMOTE`).
pub const EVL_HMDIAG_SYSDEMOTE: u32 = 2;
/// Cause: demoted by a CPU exception (`EVL_HMDIAG_EXDEMOTE`).
pub const EVL_HMDIAG_EXDEMOTE: u32 = 3;
/// Cause: watchdog (`EVL_HMDIAG_WATCHDOG`).
pub const EVL_HMDIAG_WATCHDOG: u32 = 4;
/// Cause: lock dependency (`EVL_HMDIAG_LKDEPEND`).
pub const EVL_HMDIAG_LKDEPEND: u32 = 5;
/// Cause: lock imbalance (`EVL_HMDIAG_LKIMBALANCE`).
pub const EVL_HMDIAG_LKIMBALANCE: u32 = 6;
/// Cause: sleeping while holding a lock (`EVL_HMDIAG_LKSLEEP`).
pub const EVL_HMDIAG_LKSLEEP: u32 = 7;
/// Cause: stage exclusion (`EVL_HMDIAG_STAGEX`).
pub const EVL_HMDIAG_STAGEX: u32 = 8;
/// Cause: schedule overrun (`EVL_HMDIAG_OVERRUN`).
pub const EVL_HMDIAG_OVERRUN: u32 = 9;

/// The signal health monitoring events come with (`SIGDEBUG`, uapi/evl/signal.h: `SIGXCPU`).
pub const SIGDEBUG: libc::c_int = libc::SIGXCPU;
/// Upper half of `si_value.sival_int` marking a SIGDEBUG from the core (`sigdebug_marker`,
/// uapi/evl/signal.h); compare `code & 0xffff0000`.
pub const SIGDEBUG_MARKER: u32 = 0xfccf_0000;
/// Mask of the `EVL_HMDIAG_*` cause in `si_value.sival_int` (`sigdebug_cause()`,
/// uapi/evl/signal.h).
pub const SIGDEBUG_CAUSE_MASK: u32 = 0xff;

/// A thread's window in the core's shared memory (`struct evl_user_window`,
/// uapi/evl/thread-abi.h), at [`EvlElementIds::state_offset`] of the thread's clone
/// answer; the core keeps it current, user space only reads it.
///
/// ```text
/// struct evl_user_window { __u32 state; __u32 info; __u32 pp_pending; };  // 12, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlUserWindow {
    /// `EVL_T_*` state bits ([`EVL_T_INBAND`]...).
    pub state: u32,
    /// `EVL_T_*` info bits ([`EVL_T_TIMEO`]...).
    pub info: u32,
    /// Handle of a priority-protected mutex whose ceiling is pending, or 0.
    pub pp_pending: u32,
}

/// A thread's state report (`struct evl_thread_state`, uapi/evl/thread-abi.h), filled by
/// [`EVL_THRIOC_GET_STATE`].
///
/// ```text
/// struct evl_thread_state {
///     struct evl_sched_attrs eattrs;   //  0 (24 bytes)
///     __u32 cpu;                       // 24
///     __u32 state;                     // 28
///     __u32 isw;                       // 32 in-band switches
///     __u32 csw;                       // 36 context switches
///     __u32 sc;                        // 40 system calls
///     __u32 rwa;                       // 44 remote wakeups
///     __u64 xtime;                     // 48 execution time (ns)
/// };                                   // 56 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlThreadState {
    /// Effective scheduling attributes.
    pub eattrs: EvlSchedAttrs,
    /// Current CPU.
    pub cpu: u32,
    /// `EVL_T_*` state bits.
    pub state: u32,
    /// Number of switches to in-band.
    pub isw: u32,
    /// Number of context switches.
    pub csw: u32,
    /// Number of EVL system calls.
    pub sc: u32,
    /// Number of remote wakeups.
    pub rwa: u32,
    /// Execution time in nanoseconds.
    pub xtime: u64,
}

/// Thread ioctl type (`EVL_THREAD_IOCBASE`, uapi/evl/thread-abi.h).
pub const EVL_THREAD_IOCBASE: u8 = b'T';

/// `_IOW('T', 0, __u32)` (`EVL_THRIOC_SIGNAL`): signal an event monitor for one thread
/// (argument: address of the monitor's fd; libevl lib/event.c).
pub const EVL_THRIOC_SIGNAL: u32 = iow(EVL_THREAD_IOCBASE, 0, size_of::<u32>());
/// `_IOW('T', 1, struct evl_sched_attrs)` (`EVL_THRIOC_SET_SCHEDPARAM`).
pub const EVL_THRIOC_SET_SCHEDPARAM: u32 = iow(EVL_THREAD_IOCBASE, 1, size_of::<EvlSchedAttrs>());
/// `_IOR('T', 2, struct evl_sched_attrs)` (`EVL_THRIOC_GET_SCHEDPARAM`).
pub const EVL_THRIOC_GET_SCHEDPARAM: u32 = ior(EVL_THREAD_IOCBASE, 2, size_of::<EvlSchedAttrs>());
/// `_IO('T', 3)` (`EVL_THRIOC_JOIN`).
pub const EVL_THRIOC_JOIN: u32 = io(EVL_THREAD_IOCBASE, 3);
/// `_IOR('T', 4, struct evl_thread_state)` (`EVL_THRIOC_GET_STATE`).
pub const EVL_THRIOC_GET_STATE: u32 = ior(EVL_THREAD_IOCBASE, 4, size_of::<EvlThreadState>());
/// `_IO('T', 5)` (`EVL_THRIOC_SWITCH_OOB`): issued with `oob_ioctl`.
pub const EVL_THRIOC_SWITCH_OOB: u32 = io(EVL_THREAD_IOCBASE, 5);
/// `_IO('T', 6)` (`EVL_THRIOC_SWITCH_INBAND`): issued with plain `ioctl`.
pub const EVL_THRIOC_SWITCH_INBAND: u32 = io(EVL_THREAD_IOCBASE, 6);
/// `_IO('T', 7)` (`EVL_THRIOC_DETACH_SELF`).
pub const EVL_THRIOC_DETACH_SELF: u32 = io(EVL_THREAD_IOCBASE, 7);
/// `_IOWR('T', 8, __u32)` (`EVL_THRIOC_SET_MODE`): in, bits to set; out, old mode.
pub const EVL_THRIOC_SET_MODE: u32 = iowr(EVL_THREAD_IOCBASE, 8, size_of::<u32>());
/// `_IOWR('T', 9, __u32)` (`EVL_THRIOC_CLEAR_MODE`): in, bits to clear; out, old mode.
pub const EVL_THRIOC_CLEAR_MODE: u32 = iowr(EVL_THREAD_IOCBASE, 9, size_of::<u32>());
/// `_IO('T', 10)` (`EVL_THRIOC_UNBLOCK`).
pub const EVL_THRIOC_UNBLOCK: u32 = io(EVL_THREAD_IOCBASE, 10);
/// `_IO('T', 11)` (`EVL_THRIOC_DEMOTE`).
pub const EVL_THRIOC_DEMOTE: u32 = io(EVL_THREAD_IOCBASE, 11);
/// `_IO('T', 12)` (`EVL_THRIOC_YIELD`).
pub const EVL_THRIOC_YIELD: u32 = io(EVL_THREAD_IOCBASE, 12);

// ---------------------------------------------------------------------------------------------
// Monitors: mutexes, events, semaphores, flags (include/uapi/evl/monitor-abi.h)
// ---------------------------------------------------------------------------------------------

/// Monitor type: event (`EVL_MONITOR_EVENT`, uapi/evl/monitor-abi.h).
pub const EVL_MONITOR_EVENT: u32 = 0;
/// Event protocol: condition gated by a gate monitor (`EVL_EVENT_GATED`).
pub const EVL_EVENT_GATED: u32 = 0;
/// Event protocol: counting semaphore (`EVL_EVENT_COUNT`).
pub const EVL_EVENT_COUNT: u32 = 1;
/// Event protocol: 32-bit event mask, i.e. flags (`EVL_EVENT_MASK`).
pub const EVL_EVENT_MASK: u32 = 2;
/// Monitor type: gate, i.e. mutex (`EVL_MONITOR_GATE`, uapi/evl/monitor-abi.h).
pub const EVL_MONITOR_GATE: u32 = 1;
/// Gate protocol: priority inheritance (`EVL_GATE_PI`).
pub const EVL_GATE_PI: u32 = 0;
/// Gate protocol: priority protection, i.e. ceiling (`EVL_GATE_PP`).
pub const EVL_GATE_PP: u32 = 1;

/// State flag: gate or event signaled (`EVL_MONITOR_SIGNALED`, uapi/evl/monitor-abi.h).
pub const EVL_MONITOR_SIGNALED: u32 = 0x1;
/// State flag: event broadcast (`EVL_MONITOR_BROADCAST`).
pub const EVL_MONITOR_BROADCAST: u32 = 0x2;
/// State flag: event targeted at specific threads (`EVL_MONITOR_TARGETED`).
pub const EVL_MONITOR_TARGETED: u32 = 0x4;
/// `gate_offset` of an event that is not bound to a gate (`EVL_MONITOR_NOGATE`, `-1U`).
pub const EVL_MONITOR_NOGATE: u32 = u32::MAX;

/// Bit position of the 2-bit `type` field in the `type : 2, protocol : 4` word of
/// [`EvlMonitorAttrs`] and [`EvlMonitorBinding`] (GCC allocates bit fields from the least
/// significant bit on little-endian targets, from the most significant one on big-endian).
#[cfg(target_endian = "little")]
pub const MONITOR_TYPE_SHIFT: u32 = 0;
/// Bit position of the 4-bit `protocol` field (see [`MONITOR_TYPE_SHIFT`]).
#[cfg(target_endian = "little")]
pub const MONITOR_PROTOCOL_SHIFT: u32 = 2;
/// Bit position of the 2-bit `type` field (big-endian bit field allocation).
#[cfg(target_endian = "big")]
pub const MONITOR_TYPE_SHIFT: u32 = 30;
/// Bit position of the 4-bit `protocol` field (big-endian bit field allocation).
#[cfg(target_endian = "big")]
pub const MONITOR_PROTOCOL_SHIFT: u32 = 26;

/// The `type : 2, protocol : 4` bit field word (`struct evl_monitor_attrs`,
/// `struct evl_monitor_binding`, uapi/evl/monitor-abi.h). Extra high bits are dropped, as
/// the C assignment would.
pub const fn monitor_type_protocol(ty: u32, protocol: u32) -> u32 {
    ((ty & 0x3) << MONITOR_TYPE_SHIFT) | ((protocol & 0xf) << MONITOR_PROTOCOL_SHIFT)
}

/// Creation attributes of a monitor (`struct evl_monitor_attrs`, uapi/evl/monitor-abi.h),
/// what [`EvlCloneReq::attrs_ptr`] points to on the monitor clone device.
///
/// ```text
/// struct evl_monitor_attrs {
///     __u32 clockfd;                  // 0
///     __u32 type : 2, protocol : 4;   // 4 (one __u32 word)
///     __u32 initval;                  // 8
/// };                                  // 12 bytes, align 4
/// ```
///
/// `clockfd` is a clock element descriptor, or the pseudo descriptors
/// [`EVL_CLOCK_MONOTONIC`] / [`EVL_CLOCK_REALTIME`]. `initval` is the ceiling priority of a
/// PP gate (1..=max FIFO priority), 0 for a PI gate, the initial count of a semaphore, the
/// initial bits of a flags group.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorAttrs {
    /// Clock the monitor's timeouts are measured on.
    pub clockfd: u32,
    /// The `type : 2, protocol : 4` word; see [`monitor_type_protocol`].
    pub type_protocol: u32,
    /// Initial value (meaning per type and protocol).
    pub initval: u32,
}

impl EvlMonitorAttrs {
    /// Attributes of a monitor of type `ty` and protocol `protocol`.
    pub const fn new(clockfd: u32, ty: u32, protocol: u32, initval: u32) -> Self {
        EvlMonitorAttrs {
            clockfd,
            type_protocol: monitor_type_protocol(ty, protocol),
            initval,
        }
    }

    /// The `type` bit field.
    pub const fn ty(&self) -> u32 {
        (self.type_protocol >> MONITOR_TYPE_SHIFT) & 0x3
    }

    /// The `protocol` bit field.
    pub const fn protocol(&self) -> u32 {
        (self.type_protocol >> MONITOR_PROTOCOL_SHIFT) & 0xf
    }
}

/// Bit position of the 1-bit `recursive` field in the third word of a gate's shared state
/// (see [`MONITOR_TYPE_SHIFT`] for the allocation rule).
#[cfg(target_endian = "little")]
pub const GATE_RECURSIVE_SHIFT: u32 = 0;
/// Bit position of the 31-bit `nesting` field in the third word of a gate's shared state.
#[cfg(target_endian = "little")]
pub const GATE_NESTING_SHIFT: u32 = 1;
/// Bit position of the `recursive` field (big-endian bit field allocation).
#[cfg(target_endian = "big")]
pub const GATE_RECURSIVE_SHIFT: u32 = 31;
/// Bit position of the `nesting` field (big-endian bit field allocation).
#[cfg(target_endian = "big")]
pub const GATE_NESTING_SHIFT: u32 = 0;

/// The gate member of a monitor's shared state (the `gate` struct of the union in `struct
/// evl_monitor_state`, uapi/evl/monitor-abi.h).
///
/// ```text
/// struct { __u32 owner; __u32 ceiling; __u32 recursive : 1, nesting : 31; } gate; // 12
/// ```
///
/// `owner` is an atomic word holding the owner's [`Fundle`] ([`EVL_NO_HANDLE`] when free),
/// with [`EVL_MUTEX_FLCLAIM`] set when contended and [`EVL_MUTEX_FLCEIL`] when a ceiling
/// is active: the uncontended lock and unlock fast paths are a compare-and-swap on it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorGateState {
    /// Owner handle and claim bits (atomic).
    pub owner: u32,
    /// Ceiling priority of a PP gate.
    pub ceiling: u32,
    /// The `recursive : 1, nesting : 31` word.
    pub recursive_nesting: u32,
}

impl EvlMonitorGateState {
    /// The `recursive` bit field.
    pub const fn recursive(&self) -> bool {
        (self.recursive_nesting >> GATE_RECURSIVE_SHIFT) & 1 != 0
    }

    /// The `nesting` bit field.
    pub const fn nesting(&self) -> u32 {
        (self.recursive_nesting >> GATE_NESTING_SHIFT) & 0x7fff_ffff
    }

    /// The `recursive : 1, nesting : 31` word for these field values.
    pub const fn pack_recursive_nesting(recursive: bool, nesting: u32) -> u32 {
        ((recursive as u32) << GATE_RECURSIVE_SHIFT)
            | ((nesting & 0x7fff_ffff) << GATE_NESTING_SHIFT)
    }
}

/// The event member of a monitor's shared state (the `event` struct of the union in `struct
/// evl_monitor_state`, uapi/evl/monitor-abi.h).
///
/// ```text
/// struct { __u32 value; __u32 pollrefs; __u32 gate_offset; } event;   // 12
/// ```
///
/// `value` is an atomic word: the count of a semaphore, the bits of a flags group; libevl
/// takes and posts without a system call when it can. `pollrefs` (atomic) counts the poll
/// sets watching the event: a poster that changes `value` in user space must go through the
/// core when it is non-zero so pollers are woken. `gate_offset` is the shared-memory offset
/// of the gate a gated event is bound to, or [`EVL_MONITOR_NOGATE`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorEventState {
    /// Count or bits (atomic).
    pub value: u32,
    /// Number of poll sets watching (atomic).
    pub pollrefs: u32,
    /// Offset of the bound gate's state, or [`EVL_MONITOR_NOGATE`].
    pub gate_offset: u32,
}

/// The union of [`EvlMonitorGateState`] and [`EvlMonitorEventState`] (member `u` of `struct
/// evl_monitor_state`, uapi/evl/monitor-abi.h): both are three `__u32`, so it is stored as
/// three words, read through either view.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorStateUnion {
    /// The three words.
    pub words: [u32; 3],
}

impl EvlMonitorStateUnion {
    /// The union holding `gate`.
    pub const fn from_gate(gate: EvlMonitorGateState) -> Self {
        EvlMonitorStateUnion {
            words: [gate.owner, gate.ceiling, gate.recursive_nesting],
        }
    }

    /// The union holding `event`.
    pub const fn from_event(event: EvlMonitorEventState) -> Self {
        EvlMonitorStateUnion {
            words: [event.value, event.pollrefs, event.gate_offset],
        }
    }

    /// The words read as the gate member.
    pub const fn gate(&self) -> EvlMonitorGateState {
        EvlMonitorGateState {
            owner: self.words[0],
            ceiling: self.words[1],
            recursive_nesting: self.words[2],
        }
    }

    /// The words read as the event member.
    pub const fn event(&self) -> EvlMonitorEventState {
        EvlMonitorEventState {
            value: self.words[0],
            pollrefs: self.words[1],
            gate_offset: self.words[2],
        }
    }
}

/// A monitor's state in the core's shared memory (`struct evl_monitor_state`,
/// uapi/evl/monitor-abi.h), at [`EvlElementIds::state_offset`] of the monitor's clone or
/// bind answer. The fast paths work on it in place with 32-bit atomics, at the offsets
/// [`MONITOR_STATE_FLAGS_OFFSET`], [`GATE_OWNER_OFFSET`], [`EVENT_VALUE_OFFSET`],
/// [`EVENT_POLLREFS_OFFSET`]...
///
/// ```text
/// struct evl_monitor_state {
///     __u32 flags;                       // 0  EVL_MONITOR_SIGNALED...
///     union { gate; event; } u;          // 4  (12 bytes)
/// };                                     // 16 bytes, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorState {
    /// `EVL_MONITOR_*` state flags.
    pub flags: u32,
    /// The gate or event words.
    pub u: EvlMonitorStateUnion,
}

/// Offset of `flags` in [`EvlMonitorState`].
pub const MONITOR_STATE_FLAGS_OFFSET: usize = core::mem::offset_of!(EvlMonitorState, flags);
/// Offset of `u.gate.owner` in [`EvlMonitorState`].
pub const GATE_OWNER_OFFSET: usize =
    core::mem::offset_of!(EvlMonitorState, u) + core::mem::offset_of!(EvlMonitorGateState, owner);
/// Offset of `u.gate.ceiling` in [`EvlMonitorState`].
pub const GATE_CEILING_OFFSET: usize =
    core::mem::offset_of!(EvlMonitorState, u) + core::mem::offset_of!(EvlMonitorGateState, ceiling);
/// Offset of the `u.gate.recursive / nesting` word in [`EvlMonitorState`].
pub const GATE_RECURSIVE_NESTING_OFFSET: usize = core::mem::offset_of!(EvlMonitorState, u)
    + core::mem::offset_of!(EvlMonitorGateState, recursive_nesting);
/// Offset of `u.event.value` in [`EvlMonitorState`].
pub const EVENT_VALUE_OFFSET: usize =
    core::mem::offset_of!(EvlMonitorState, u) + core::mem::offset_of!(EvlMonitorEventState, value);
/// Offset of `u.event.pollrefs` in [`EvlMonitorState`].
pub const EVENT_POLLREFS_OFFSET: usize = core::mem::offset_of!(EvlMonitorState, u)
    + core::mem::offset_of!(EvlMonitorEventState, pollrefs);
/// Offset of `u.event.gate_offset` in [`EvlMonitorState`].
pub const EVENT_GATE_OFFSET_OFFSET: usize = core::mem::offset_of!(EvlMonitorState, u)
    + core::mem::offset_of!(EvlMonitorEventState, gate_offset);

/// A wait on an event monitor (`struct evl_monitor_waitreq`, uapi/evl/monitor-abi.h),
/// argument of [`EVL_MONIOC_WAIT`] and [`EVL_MONIOC_WAIT_EXACT`].
///
/// ```text
/// struct evl_monitor_waitreq {
///     __u64 timeout_ptr;   //  0  (struct __evl_timespec __user *), absolute
///     __s32 gatefd;        //  8  gate to release while waiting, or -1
///     __s32 status;        // 12  output: 0 or -errno
///     __s32 value;         // 16  in: count/bits wanted; out: bits received
///                          // 20: 4 bytes of implicit tail padding
/// };                       // 24 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorWaitReq {
    /// Address of an absolute [`EvlTimespec`] timeout (on the monitor's clock).
    pub timeout_ptr: u64,
    /// Descriptor of the gate to release while waiting (gated events), or -1.
    pub gatefd: i32,
    /// Output: the wait status.
    pub status: i32,
    /// Value wanted / received (meaning per protocol).
    pub value: i32,
}

/// An unwait on a gated event (`struct evl_monitor_unwaitreq`, uapi/evl/monitor-abi.h),
/// argument of [`EVL_MONIOC_UNWAIT`].
///
/// ```text
/// struct evl_monitor_unwaitreq { __s32 gatefd; };   // 4 bytes
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorUnwaitReq {
    /// Descriptor of the gate to re-acquire.
    pub gatefd: i32,
}

/// A non-blocking wait (`struct evl_monitor_trywaitreq`, uapi/evl/monitor-abi.h),
/// argument of [`EVL_MONIOC_TRYWAIT`] and [`EVL_MONIOC_TRYWAIT_EXACT`].
///
/// ```text
/// struct evl_monitor_trywaitreq { __s32 value; };   // 4 bytes
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorTryWaitReq {
    /// Value wanted / received.
    pub value: i32,
}

/// What the core says of an opened monitor (`struct evl_monitor_binding`,
/// uapi/evl/monitor-abi.h), filled by [`EVL_MONIOC_BIND`].
///
/// ```text
/// struct evl_monitor_binding {
///     __u32 type : 2, protocol : 4;   // 0 (one __u32 word)
///     struct evl_element_ids eids;    // 4
/// };                                  // 16 bytes, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlMonitorBinding {
    /// The `type : 2, protocol : 4` word; see [`monitor_type_protocol`].
    pub type_protocol: u32,
    /// The monitor's ids (its state offset in particular).
    pub eids: EvlElementIds,
}

impl EvlMonitorBinding {
    /// The `type` bit field.
    pub const fn ty(&self) -> u32 {
        (self.type_protocol >> MONITOR_TYPE_SHIFT) & 0x3
    }

    /// The `protocol` bit field.
    pub const fn protocol(&self) -> u32 {
        (self.type_protocol >> MONITOR_PROTOCOL_SHIFT) & 0xf
    }
}

/// Monitor ioctl type (`EVL_MONITOR_IOCBASE`, uapi/evl/monitor-abi.h).
pub const EVL_MONITOR_IOCBASE: u8 = b'm';

/// `_IOW('m', 0, struct __evl_timespec)` (`EVL_MONIOC_ENTER`): lock a gate, absolute timeout.
pub const EVL_MONIOC_ENTER: u32 = iow(EVL_MONITOR_IOCBASE, 0, size_of::<EvlTimespec>());
/// `_IO('m', 1)` (`EVL_MONIOC_TRYENTER`).
pub const EVL_MONIOC_TRYENTER: u32 = io(EVL_MONITOR_IOCBASE, 1);
/// `_IO('m', 2)` (`EVL_MONIOC_EXIT`).
pub const EVL_MONIOC_EXIT: u32 = io(EVL_MONITOR_IOCBASE, 2);
/// `_IOWR('m', 3, struct evl_monitor_waitreq)` (`EVL_MONIOC_WAIT`).
pub const EVL_MONIOC_WAIT: u32 = iowr(EVL_MONITOR_IOCBASE, 3, size_of::<EvlMonitorWaitReq>());
/// `_IOWR('m', 4, struct evl_monitor_unwaitreq)` (`EVL_MONIOC_UNWAIT`).
pub const EVL_MONIOC_UNWAIT: u32 = iowr(EVL_MONITOR_IOCBASE, 4, size_of::<EvlMonitorUnwaitReq>());
/// `_IOR('m', 5, struct evl_monitor_binding)` (`EVL_MONIOC_BIND`).
pub const EVL_MONIOC_BIND: u32 = ior(EVL_MONITOR_IOCBASE, 5, size_of::<EvlMonitorBinding>());
/// `_IOW('m', 6, __s32)` (`EVL_MONIOC_SIGNAL`): post a count or bits (argument: address of
/// the `i32` value).
pub const EVL_MONIOC_SIGNAL: u32 = iow(EVL_MONITOR_IOCBASE, 6, size_of::<i32>());
/// `_IOW('m', 7, __s32)` (`EVL_MONIOC_BROADCAST`).
pub const EVL_MONIOC_BROADCAST: u32 = iow(EVL_MONITOR_IOCBASE, 7, size_of::<i32>());
/// `_IOWR('m', 8, struct evl_monitor_waitreq)` (`EVL_MONIOC_WAIT_EXACT`): flags, all bits.
pub const EVL_MONIOC_WAIT_EXACT: u32 = iowr(EVL_MONITOR_IOCBASE, 8, size_of::<EvlMonitorWaitReq>());
/// `_IOWR('m', 9, struct evl_monitor_trywaitreq)` (`EVL_MONIOC_TRYWAIT`).
pub const EVL_MONIOC_TRYWAIT: u32 = iowr(EVL_MONITOR_IOCBASE, 9, size_of::<EvlMonitorTryWaitReq>());
/// `_IOWR('m', 10, struct evl_monitor_trywaitreq)` (`EVL_MONIOC_TRYWAIT_EXACT`).
pub const EVL_MONIOC_TRYWAIT_EXACT: u32 =
    iowr(EVL_MONITOR_IOCBASE, 10, size_of::<EvlMonitorTryWaitReq>());

// ---------------------------------------------------------------------------------------------
// Clocks and timers (include/uapi/evl/clock-abi.h)
// ---------------------------------------------------------------------------------------------

/// Pseudo descriptor of the monotonic clock (`EVL_CLOCK_MONOTONIC`, uapi/evl/clock-abi.h:
/// `-CLOCK_MONOTONIC`), accepted wherever a clock descriptor is (kernel/evl/clock.c
/// `evl_get_clock_by_fd`), e.g. [`EvlMonitorAttrs::clockfd`] as `-1i32 as u32`.
pub const EVL_CLOCK_MONOTONIC: i32 = -libc::CLOCK_MONOTONIC;
/// Pseudo descriptor of the realtime clock (`EVL_CLOCK_REALTIME`, uapi/evl/clock-abi.h:
/// `-CLOCK_REALTIME`, that is 0).
pub const EVL_CLOCK_REALTIME: i32 = -libc::CLOCK_REALTIME;

/// Clock ioctl type (`EVL_CLOCK_IOCBASE`, uapi/evl/clock-abi.h).
pub const EVL_CLOCK_IOCBASE: u8 = b'c';

/// `_IOW('c', 0, struct __evl_timespec)` (`EVL_CLKIOC_SLEEP`): sleep until an absolute
/// time; out-of-band only.
pub const EVL_CLKIOC_SLEEP: u32 = iow(EVL_CLOCK_IOCBASE, 0, size_of::<EvlTimespec>());
/// `_IOR('c', 1, struct __evl_timespec)` (`EVL_CLKIOC_GET_RES`).
pub const EVL_CLKIOC_GET_RES: u32 = ior(EVL_CLOCK_IOCBASE, 1, size_of::<EvlTimespec>());
/// `_IOR('c', 2, struct __evl_timespec)` (`EVL_CLKIOC_GET_TIME`).
pub const EVL_CLKIOC_GET_TIME: u32 = ior(EVL_CLOCK_IOCBASE, 2, size_of::<EvlTimespec>());
/// `_IOW('c', 3, struct __evl_timespec)` (`EVL_CLKIOC_SET_TIME`).
pub const EVL_CLKIOC_SET_TIME: u32 = iow(EVL_CLOCK_IOCBASE, 3, size_of::<EvlTimespec>());
/// `_IO('c', 5)` (`EVL_CLKIOC_NEW_TIMER`): make a timer on this clock; in-band `ioctl`
/// whose argument is the address of an `int` the core writes the timer's descriptor to
/// (kernel/evl/clock.c; nr 4 is unused).
pub const EVL_CLKIOC_NEW_TIMER: u32 = io(EVL_CLOCK_IOCBASE, 5);

/// A timer setting request (`struct evl_timerfd_setreq`, uapi/evl/clock-abi.h), argument of
/// [`EVL_TFDIOC_SET`]. Expiries are read as a `u64` overrun count with `oob_read`/`read`.
///
/// ```text
/// struct evl_timerfd_setreq {
///     __u64 value_ptr;    // 0  (struct __evl_itimerspec __user *value)
///     __u64 ovalue_ptr;   // 8  (struct __evl_itimerspec __user *ovalue), may be 0
/// };                      // 16 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlTimerfdSetReq {
    /// Address of the new [`EvlItimerspec`] (absolute `it_value`).
    pub value_ptr: u64,
    /// Address of an [`EvlItimerspec`] receiving the old setting, or 0.
    pub ovalue_ptr: u64,
}

/// Timer ioctl type (`EVL_TIMERFD_IOCBASE`, uapi/evl/clock-abi.h).
pub const EVL_TIMERFD_IOCBASE: u8 = b't';

/// `_IOWR('t', 0, struct evl_timerfd_setreq)` (`EVL_TFDIOC_SET`).
pub const EVL_TFDIOC_SET: u32 = iowr(EVL_TIMERFD_IOCBASE, 0, size_of::<EvlTimerfdSetReq>());
/// `_IOR('t', 1, struct __evl_itimerspec)` (`EVL_TFDIOC_GET`).
pub const EVL_TFDIOC_GET: u32 = ior(EVL_TIMERFD_IOCBASE, 1, size_of::<EvlItimerspec>());

// ---------------------------------------------------------------------------------------------
// Poll (include/uapi/evl/poll-abi.h)
// ---------------------------------------------------------------------------------------------

/// Poll set control action: add a descriptor (`EVL_POLL_CTLADD`, uapi/evl/poll-abi.h).
pub const EVL_POLL_CTLADD: u32 = 0;
/// Remove a descriptor (`EVL_POLL_CTLDEL`).
pub const EVL_POLL_CTLDEL: u32 = 1;
/// Change a descriptor's events or cookie (`EVL_POLL_CTLMOD`).
pub const EVL_POLL_CTLMOD: u32 = 2;

/// A poll set change (`struct evl_poll_ctlreq`, uapi/evl/poll-abi.h), argument of
/// [`EVL_POLIOC_CTL`]. Events are the Linux `POLL*` bits.
///
/// ```text
/// struct evl_poll_ctlreq {
///     __u32 action;              //  0  EVL_POLL_CTL*
///     __u32 fd;                  //  4
///     __u32 events;              //  8
///                                // 12: 4 bytes of implicit padding
///     union evl_value pollval;   // 16  cookie returned with the events
/// };                             // 24 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlPollCtlReq {
    /// `EVL_POLL_CTL*`.
    pub action: u32,
    /// The descriptor to watch.
    pub fd: u32,
    /// `POLL*` bits to watch.
    pub events: u32,
    /// Cookie returned in [`EvlPollEvent::pollval`].
    pub pollval: EvlValue,
}

/// One ready descriptor (`struct evl_poll_event`, uapi/evl/poll-abi.h), element of the
/// array [`EvlPollWaitReq::pollset_ptr`] points to.
///
/// ```text
/// struct evl_poll_event {
///     __u32 fd;                  // 0
///     __u32 events;              // 4
///     union evl_value pollval;   // 8
/// };                             // 16 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlPollEvent {
    /// The ready descriptor.
    pub fd: u32,
    /// `POLL*` bits ready.
    pub events: u32,
    /// The cookie given at `EVL_POLL_CTLADD`/`CTLMOD`.
    pub pollval: EvlValue,
}

/// A poll wait (`struct evl_poll_waitreq`, uapi/evl/poll-abi.h), argument of
/// [`EVL_POLIOC_WAIT`] (out-of-band); returns the number of events written.
///
/// ```text
/// struct evl_poll_waitreq {
///     __u64 timeout_ptr;   //  0  (struct __evl_timespec __user *), absolute, may be 0
///     __u64 pollset_ptr;   //  8  (struct evl_poll_event __user *)
///     int nrset;           // 16  capacity of pollset
///                          // 20: 4 bytes of implicit tail padding
/// };                       // 24 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlPollWaitReq {
    /// Address of an absolute [`EvlTimespec`] timeout, or 0 for none.
    pub timeout_ptr: u64,
    /// Address of an array of [`EvlPollEvent`].
    pub pollset_ptr: u64,
    /// Number of entries in that array.
    pub nrset: i32,
}

/// Poll ioctl type (`EVL_POLL_IOCBASE`, uapi/evl/poll-abi.h).
pub const EVL_POLL_IOCBASE: u8 = b'p';

/// `_IOW('p', 0, struct evl_poll_ctlreq)` (`EVL_POLIOC_CTL`).
pub const EVL_POLIOC_CTL: u32 = iow(EVL_POLL_IOCBASE, 0, size_of::<EvlPollCtlReq>());
/// `_IOWR('p', 1, struct evl_poll_waitreq)` (`EVL_POLIOC_WAIT`).
pub const EVL_POLIOC_WAIT: u32 = iowr(EVL_POLL_IOCBASE, 1, size_of::<EvlPollWaitReq>());

// ---------------------------------------------------------------------------------------------
// Proxy and xbuf (include/uapi/evl/proxy-abi.h, xbuf-abi.h)
// ---------------------------------------------------------------------------------------------

/// Creation attributes of a proxy (`struct evl_proxy_attrs`, uapi/evl/proxy-abi.h), what
/// [`EvlCloneReq::attrs_ptr`] points to on the proxy clone device. A proxy has no ioctl:
/// it is driven with `oob_write`/`oob_read`.
///
/// ```text
/// struct evl_proxy_attrs { __u32 fd; __u32 bufsz; __u32 granularity; };   // 12, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlProxyAttrs {
    /// The in-band descriptor the proxy relays to or from.
    pub fd: u32,
    /// Ring buffer size in bytes.
    pub bufsz: u32,
    /// Transfer granularity in bytes (0: any).
    pub granularity: u32,
}

/// Creation attributes of an xbuf (`struct evl_xbuf_attrs`, uapi/evl/xbuf-abi.h), what
/// [`EvlCloneReq::attrs_ptr`] points to on the xbuf clone device. An xbuf has no ioctl.
///
/// ```text
/// struct evl_xbuf_attrs { __u32 i_bufsz; __u32 o_bufsz; };   // 8, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlXbufAttrs {
    /// Size of the inbound buffer (in-band writers, out-of-band readers).
    pub i_bufsz: u32,
    /// Size of the outbound buffer (out-of-band writers, in-band readers).
    pub o_bufsz: u32,
}

// ---------------------------------------------------------------------------------------------
// Observables (include/uapi/evl/observable-abi.h)
// ---------------------------------------------------------------------------------------------

/// Notify every event (`EVL_NOTIFY_ALWAYS`, uapi/evl/observable-abi.h).
pub const EVL_NOTIFY_ALWAYS: u32 = 0;
/// Notify only when the event differs from the previous one (`EVL_NOTIFY_ONCHANGE`).
pub const EVL_NOTIFY_ONCHANGE: u32 = 1;
/// The valid subscription flags (`EVL_NOTIFY_MASK`).
pub const EVL_NOTIFY_MASK: u32 = EVL_NOTIFY_ONCHANGE;
/// Notice tags below this value are reserved to the core (`EVL_NOTICE_USER`).
pub const EVL_NOTICE_USER: u32 = 64;

/// An event sent to an observable (`struct evl_notice`, uapi/evl/observable-abi.h): what
/// `write`/`oob_write` take, one or more whole notices.
///
/// ```text
/// struct evl_notice {
///     __u32 tag;                 // 0  >= EVL_NOTICE_USER
///                                // 4: 4 bytes of implicit padding
///     union evl_value event;     // 8
/// };                             // 16 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlNotice {
    /// The tag (at least [`EVL_NOTICE_USER`]).
    pub tag: u32,
    /// The payload.
    pub event: EvlValue,
}

/// A subscription (`struct evl_subscription`, uapi/evl/observable-abi.h), argument of
/// [`EVL_OBSIOC_SUBSCRIBE`].
///
/// ```text
/// struct evl_subscription { __u32 backlog_count; __u32 flags; };   // 8, align 4
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlSubscription {
    /// Number of notifications the subscriber's backlog holds.
    pub backlog_count: u32,
    /// `EVL_NOTIFY_*`.
    pub flags: u32,
}

/// A notification received from an observable (`struct __evl_notification`,
/// uapi/evl/observable-abi.h): what `read`/`oob_read` return, one or more whole ones.
///
/// ```text
/// struct __evl_notification {
///     __u32 tag;                    //  0
///     __u32 serial;                 //  4
///     __s32 issuer;                 //  8  pid of the sender
///                                   // 12: 4 bytes of implicit padding
///     union evl_value event;        // 16
///     struct __evl_timespec date;   // 24
/// };                                // 40 bytes, align 8
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvlNotification {
    /// The notice's tag.
    pub tag: u32,
    /// Serial number of the notification.
    pub serial: u32,
    /// Who sent it (a pid).
    pub issuer: i32,
    /// The payload.
    pub event: EvlValue,
    /// When it was sent (monotonic clock).
    pub date: EvlTimespec,
}

/// Observable ioctl type (`EVL_OBSERVABLE_IOCBASE`, uapi/evl/observable-abi.h).
pub const EVL_OBSERVABLE_IOCBASE: u8 = b'o';

/// `_IOW('o', 0, struct evl_subscription)` (`EVL_OBSIOC_SUBSCRIBE`).
pub const EVL_OBSIOC_SUBSCRIBE: u32 = iow(EVL_OBSERVABLE_IOCBASE, 0, size_of::<EvlSubscription>());
/// `_IO('o', 1)` (`EVL_OBSIOC_UNSUBSCRIBE`).
pub const EVL_OBSIOC_UNSUBSCRIBE: u32 = io(EVL_OBSERVABLE_IOCBASE, 1);

// ---------------------------------------------------------------------------------------------
// Files and tracing (include/uapi/evl/fcntl.h, uapi/asm-generic/fcntl.h, uapi/evl/trace.h)
// ---------------------------------------------------------------------------------------------

/// `open(2)` flag asking for out-of-band operations on the file (`O_OOB`, uapi/evl/fcntl.h
/// and the Dovetail hunk of uapi/asm-generic/fcntl.h: octal `010000000000`).
pub const O_OOB: libc::c_int = 0o10_000_000_000;

/// Trace ioctl type (`EVL_TRACE_IOCBASE`, uapi/evl/trace.h).
pub const EVL_TRACE_IOCBASE: u8 = b'O';
/// `_IO('O', 0)` (`EVL_TRCIOC_SNAPSHOT`, uapi/evl/trace.h).
pub const EVL_TRCIOC_SNAPSHOT: u32 = io(EVL_TRACE_IOCBASE, 0);

// ---------------------------------------------------------------------------------------------
// Build-time layout guard (the tests in tests/evl_abi_layout.rs check every field)
// ---------------------------------------------------------------------------------------------

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<EvlCoreInfo>() == 24);
    assert!(size_of::<EvlCpuState>() == 16);
    assert!(size_of::<EvlElementIds>() == 12);
    assert!(size_of::<EvlCloneReq>() == 40);
    assert!(size_of::<EvlTimespec>() == 16);
    assert!(size_of::<EvlItimerspec>() == 32);
    assert!(size_of::<EvlValue>() == 8);
    assert!(size_of::<EvlSchedParam>() == 16);
    assert!(size_of::<EvlSchedAttrs>() == 24);
    assert!(size_of::<EvlQuotaCtlParam>() == 16);
    assert!(size_of::<EvlQuotaCtlInfo>() == 16);
    assert!(size_of::<EvlTpWindow>() == 40);
    assert!(size_of::<EvlTpCtlParam>() == 8);
    assert!(size_of::<EvlTpCtlInfo>() == 8);
    assert!(size_of::<EvlSchedCtlReq>() == 24);
    assert!(size_of::<EvlUserWindow>() == 12);
    assert!(size_of::<EvlThreadState>() == 56);
    assert!(size_of::<EvlMonitorAttrs>() == 12);
    assert!(size_of::<EvlMonitorState>() == 16);
    assert!(size_of::<EvlMonitorWaitReq>() == 24);
    assert!(size_of::<EvlMonitorUnwaitReq>() == 4);
    assert!(size_of::<EvlMonitorTryWaitReq>() == 4);
    assert!(size_of::<EvlMonitorBinding>() == 16);
    assert!(size_of::<EvlTimerfdSetReq>() == 16);
    assert!(size_of::<EvlPollCtlReq>() == 24);
    assert!(size_of::<EvlPollEvent>() == 16);
    assert!(size_of::<EvlPollWaitReq>() == 24);
    assert!(size_of::<EvlProxyAttrs>() == 12);
    assert!(size_of::<EvlXbufAttrs>() == 8);
    assert!(size_of::<EvlNotice>() == 16);
    assert!(size_of::<EvlSubscription>() == 8);
    assert!(size_of::<EvlNotification>() == 40);
};
