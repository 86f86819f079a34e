//! System-call plumbing of the EVL backend: the out-of-band ioctl (carried by `prctl(2)`),
//! the in-band ioctl, and the process-wide state every EVL call needs (the control device
//! and the two clock elements), set up once per process.

use super::abi36;
use crate::error::{errno, Error, ErrorKind, Result};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// Issues `oob_ioctl(fd, request, arg)`: EVL system call [`abi36::SYS_EVL_IOCTL`] folded into
/// `prctl(PR_OOB_SYSCALL, nr, fd, request, arg)`, the only form the level-36 core accepts.
///
/// Returns the call's non-negative result or the `errno` it failed with. The core answers
/// `EPERM` when the caller is not attached to it (or lacks `CAP_SYS_NICE`).
///
/// # Safety
/// `arg` must be what `request` expects on `fd`: for a request that reads or writes memory,
/// the address of a live object of the size the request encodes, writable when the core
/// writes it, for the whole call.
pub(crate) unsafe fn oob_ioctl(
    fd: RawFd,
    request: u32,
    arg: usize,
) -> core::result::Result<i32, i32> {
    // prctl with PR_OOB_SYSCALL is routed by Dovetail to the EVL core, which reads the four
    // following words as (nr, fd, request, arg); a kernel without Dovetail rejects the
    // unknown option with EINVAL and touches no memory. Every argument is passed as a full
    // `unsigned long`, as the variadic prctl reads them.
    // SAFETY: as argued above; what the core does with `arg` is the caller's contract.
    let rc = unsafe {
        libc::prctl(
            abi36::PR_OOB_SYSCALL,
            abi36::SYS_EVL_IOCTL as libc::c_ulong,
            fd as libc::c_ulong,
            request as libc::c_ulong,
            arg as libc::c_ulong,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// Issues the in-band `ioctl(fd, request, arg)`.
///
/// # Safety
/// As for [`oob_ioctl`]: `arg` must match what `request` expects on `fd`.
pub(crate) unsafe fn ioctl(fd: RawFd, request: u32, arg: usize) -> core::result::Result<i32, i32> {
    // SAFETY: the memory contract on `arg` is the caller's (see above); the request number
    // is passed zero-extended, as both glibc and musl keep its 32-bit pattern.
    let rc = unsafe { libc::ioctl(fd, request as _, arg) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// Opens `path` read-write, close-on-exec.
pub(crate) fn open_rw(path: &CStr) -> core::result::Result<OwnedFd, i32> {
    // SAFETY: `path` is NUL-terminated; open has no other memory effects.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What a process needs once before any EVL call: the control device open (the core ties
/// attachment to it), the core's shared memory mapped (element states live there), and the
/// two clock elements, on which sleeps and timers are issued.
#[derive(Debug)]
pub(crate) struct Process {
    /// `/dev/evl/control`, kept open for the life of the process.
    #[allow(dead_code)]
    pub control: OwnedFd,
    /// `/dev/evl/clock/monotonic`.
    pub monotonic: OwnedFd,
    /// `/dev/evl/clock/realtime`.
    pub realtime: OwnedFd,
    /// The core's shared memory, mapped from the control device for the life of the process.
    pub shm: Shm,
}

/// The core's shared memory area (`shm_size` bytes of `struct evl_core_info`, mapped
/// `MAP_SHARED` from the control device at offset 0, as libevl does). Monitor states
/// ([`abi36::EvlMonitorState`]) and thread windows ([`abi36::EvlUserWindow`]) live in it,
/// at the `state_offset` the core hands out with each element.
#[derive(Debug)]
pub(crate) struct Shm {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is never unmapped (it lives as long as the process-wide `Process`,
// i.e. the process) and user space only touches it through atomics, as the core does on its
// side; the raw pointer is just its address.
unsafe impl Send for Shm {}
// SAFETY: `&Shm` gives only the mapping's address and length; the mapping is never unmapped
// while the process lives, and every access to its contents, from any thread, is atomic (as the
// core's own accesses are), so sharing it across threads creates no data race.
unsafe impl Sync for Shm {}

impl Shm {
    /// The address of the state at `offset`, which must leave room for a `T` in the area.
    pub(crate) fn at<T>(&self, offset: u32, op: &'static str) -> Result<*mut T> {
        let off = offset as usize;
        if offset == u32::MAX
            || off
                .checked_add(core::mem::size_of::<T>())
                .is_none_or(|end| end > self.len)
            || off % core::mem::align_of::<T>() != 0
        {
            return Err(Error::new(
                ErrorKind::Other,
                op,
                "the core handed out a state offset outside its shared memory (ABI mismatch?)",
            ));
        }
        // SAFETY: `off + size_of::<T>() <= len` was checked above, so the result stays in the
        // mapping.
        Ok(unsafe { self.base.add(off) }.cast())
    }
}

static PROCESS: OnceLock<core::result::Result<Process, Error>> = OnceLock::new();

fn init() -> core::result::Result<Process, Error> {
    const OP: &str = "evl::init";
    let control = open_rw(abi36::EVL_CONTROL_DEV_C).map_err(|e| {
        if e == libc::ENOENT {
            Error::new(
                ErrorKind::NoCore,
                OP,
                "no EVL core here: boot a kernel with the EVL core, or set EVL_BACKEND=host",
            )
        } else {
            Error::from_errno(
                e,
                OP,
                "cannot open /dev/evl/control: run as root or give your user access to /dev/evl",
            )
        }
    })?;
    let clock = |path: &CStr| {
        open_rw(path).map_err(|e| {
            Error::from_errno(
                e,
                OP,
                "cannot open the core's clock element under /dev/evl/clock",
            )
        })
    };
    let shm = map_shm(&control)?;
    Ok(Process {
        control,
        monotonic: clock(abi36::EVL_CLOCK_MONOTONIC_DEV_C)?,
        realtime: clock(abi36::EVL_CLOCK_REALTIME_DEV_C)?,
        shm,
    })
}

fn map_shm(control: &OwnedFd) -> core::result::Result<Shm, Error> {
    const OP: &str = "evl::init";
    let mut info = abi36::EvlCoreInfo::default();
    // SAFETY: GET_COREINFO writes one EvlCoreInfo (its size is in the request number) at the
    // address passed, `info`, live and writable for the call.
    unsafe {
        ioctl(
            control.as_raw_fd(),
            abi36::EVL_CTLIOC_GET_COREINFO,
            &mut info as *mut abi36::EvlCoreInfo as usize,
        )
    }
    .map_err(|e| Error::from_errno(e, OP, "the EVL core rejected GET_COREINFO"))?;
    let len = usize::try_from(info.shm_size).unwrap_or(0);
    if len == 0 {
        return Err(Error::new(
            ErrorKind::Other,
            OP,
            "the EVL core reports no shared memory (shm_size 0)",
        ));
    }
    // SAFETY: a fresh shared mapping of the control device, chosen by the kernel (no address
    // hint), touching no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            control.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Error::last_os_error(
            OP,
            "cannot map the EVL core's shared memory from /dev/evl/control",
        ));
    }
    Ok(Shm {
        base: p.cast(),
        len,
    })
}

/// The process-wide EVL state, set up on first call (the result, success or error, is kept).
pub(crate) fn process() -> Result<&'static Process> {
    PROCESS.get_or_init(init).as_ref().map_err(|e| *e)
}

impl Process {
    /// The clock element for `clock`.
    pub(crate) fn clock_fd(&self, clock: crate::time::types::Clock) -> RawFd {
        match clock {
            crate::time::types::Clock::Monotonic => self.monotonic.as_raw_fd(),
            crate::time::types::Clock::Realtime => self.realtime.as_raw_fd(),
        }
    }
}

/// Issues EVL system call `nr` (`oob_read`/`oob_write`) on `fd` over `len` bytes at `buf`.
///
/// # Safety
/// `buf` must be valid for `len` bytes (writable for `oob_read`) for the whole call.
unsafe fn oob_rw(nr: u32, fd: RawFd, buf: usize, len: usize) -> core::result::Result<usize, i32> {
    // SAFETY: prctl(PR_OOB_SYSCALL, nr, fd, buf, len) is routed to the core's oob_read or
    // oob_write, which touches at most `len` bytes at `buf` (the caller's contract).
    let rc = unsafe {
        libc::prctl(
            abi36::PR_OOB_SYSCALL,
            nr as libc::c_ulong,
            fd as libc::c_ulong,
            buf as libc::c_ulong,
            len as libc::c_ulong,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc as usize)
    }
}

/// `oob_read(fd, buf)`: the out-of-band read of an EVL file (timer expirations, proxy and
/// xbuf bytes, observable notifications, flags bits). The caller must be attached (`EPERM`
/// otherwise).
pub(crate) fn oob_read(fd: RawFd, buf: &mut [u8]) -> core::result::Result<usize, i32> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the call.
    unsafe {
        oob_rw(
            abi36::SYS_EVL_READ,
            fd,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    }
}

/// `oob_write(fd, buf)`: the out-of-band write of an EVL file. The caller must be attached.
pub(crate) fn oob_write(fd: RawFd, buf: &[u8]) -> core::result::Result<usize, i32> {
    // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call; the core only reads it.
    unsafe { oob_rw(abi36::SYS_EVL_WRITE, fd, buf.as_ptr() as usize, buf.len()) }
}

/// True when the calling thread is attached to the core and runs out-of-band right now: then
/// only out-of-band calls keep it there (any other system call demotes it to in-band).
pub(crate) fn on_oob_stage() -> bool {
    super::current::current().is_some_and(|c| !c.is_inband())
}

/// Issues `request` on `fd` in the form that keeps the caller on its stage: `oob_ioctl`
/// from an attached thread running out-of-band, the in-band `ioctl` otherwise (a thread that
/// is not attached cannot issue oob calls at all). For requests the core serves on both
/// stages (a monitor's SIGNAL/BROADCAST/TRYWAIT, timerfd SET/GET...).
///
/// # Safety
/// As for [`oob_ioctl`]: `arg` must match what `request` expects on `fd`.
pub(crate) unsafe fn ioctl_here(
    fd: RawFd,
    request: u32,
    arg: usize,
) -> core::result::Result<i32, i32> {
    if on_oob_stage() {
        // SAFETY: the caller's contract on `arg`.
        unsafe { oob_ioctl(fd, request, arg) }
    } else {
        // SAFETY: the caller's contract on `arg`.
        unsafe { ioctl(fd, request, arg) }
    }
}

/// `write(2)` of `fd` in the form that keeps the caller on its stage (see [`ioctl_here`]).
pub(crate) fn write_here(fd: RawFd, buf: &[u8]) -> core::result::Result<usize, i32> {
    if on_oob_stage() {
        return oob_write(fd, buf);
    }
    // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(n as usize)
    }
}

/// A new element made by the clone device `clone_dev` (`EVL_IOC_CLONE`): a descriptor on it
/// and its ids. `name` (already validated: at most [`MAX_NAME_LEN`](crate::name::MAX_NAME_LEN)
/// bytes, no `/`) is required for a public element; `attrs` is the address of the class's
/// attribute structure (or 0), live for the call; `flags` the `EVL_CLONE_*` bits.
///
/// A public element gets no descriptor from the clone request: it is opened by name under
/// `/dev/evl/<class>/`, as any other process would (`class` is the class directory name),
/// before the clone device is closed.
///
/// `special` lists class-specific refusals: an errno, the error kind to report (`None`: the
/// errno's usual kind) and the hint that goes with it; they take precedence over the
/// generic ones.
///
/// # Safety
/// `attrs` must be 0 or the address of the attribute structure the class expects, live for
/// the call.
pub(crate) unsafe fn clone_element(
    clone_dev: &CStr,
    class: &str,
    name: Option<&str>,
    attrs: usize,
    flags: u32,
    special: &[(i32, Option<ErrorKind>, &'static str)],
    op: &'static str,
) -> Result<(OwnedFd, abi36::EvlElementIds)> {
    process()?;
    let factory = open_rw(clone_dev).map_err(|e| {
        Error::from_errno(
            e,
            op,
            "cannot open the element class's clone device under /dev/evl",
        )
    })?;
    let mut cname = [0u8; crate::name::MAX_NAME_LEN + 1];
    if let Some(n) = name {
        cname[..n.len()].copy_from_slice(n.as_bytes());
    }
    let mut req = abi36::EvlCloneReq {
        name_ptr: if name.is_some() {
            cname.as_ptr() as u64
        } else {
            0
        },
        attrs_ptr: attrs as u64,
        clone_flags: flags,
        ..Default::default()
    };
    // SAFETY: EVL_IOC_CLONE reads and writes one EvlCloneReq at the address passed, `req`,
    // live and writable for the call; the core reads the NUL-terminated name at `name_ptr`
    // (`cname`, live) and the attributes at `attrs` (the caller's contract).
    unsafe {
        ioctl(
            factory.as_raw_fd(),
            abi36::EVL_IOC_CLONE,
            &mut req as *mut abi36::EvlCloneReq as usize,
        )
    }
    .map_err(|e| match e {
        e if special.iter().any(|s| s.0 == e) => {
            let (_, kind, hint) = *special.iter().find(|s| s.0 == e).expect("just found");
            match kind {
                Some(k) => Error::new(k, op, hint),
                None => Error::from_errno(e, op, hint),
            }
        }
        libc::EEXIST => Error::from_errno(
            e,
            op,
            "a public element of this class and name already exists; open it or pick another name",
        ),
        libc::ENOSPC | libc::ENOMEM | libc::EMFILE | libc::ENFILE => Error::from_errno(
            e,
            op,
            "the core is out of element slots or memory (see CONFIG_EVL_NR_* and the core's heap)",
        ),
        libc::EPERM | libc::EACCES => Error::from_errno(
            e,
            op,
            "creating EVL elements needs access to /dev/evl (run as root)",
        ),
        _ => Error::from_errno(e, op, "the core refused to create the element"),
    })?;
    let fd = if flags & abi36::EVL_CLONE_PUBLIC != 0 {
        // Opened before the clone device is closed: until then the clone request holds the
        // new element's only reference, and closing the clone device drops it.
        open_element(class, name.unwrap_or(""), op)?
    } else {
        // SAFETY: for a private element the core installed `req.efd` in this process's
        // descriptor table (close-on-exec) and hands it over to the caller; nobody else owns it.
        unsafe { OwnedFd::from_raw_fd(req.efd as i32) }
    };
    drop(factory);
    Ok((fd, req.eids))
}

/// Opens the public element `/dev/evl/<class>/<name>` (`name` already validated).
pub(crate) fn open_element(class: &str, name: &str, op: &'static str) -> Result<OwnedFd> {
    process()?;
    let mut path = [0u8; 96 + crate::name::MAX_NAME_LEN];
    let parts: [&[u8]; 4] = [b"/dev/evl/", class.as_bytes(), b"/", name.as_bytes()];
    let mut at = 0;
    for p in parts {
        if at + p.len() >= path.len() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "element path too long",
            ));
        }
        path[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    let path = CStr::from_bytes_until_nul(&path).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            op,
            "element name contains a NUL byte",
        )
    })?;
    open_rw(path).map_err(|e| {
        Error::from_errno(
            e,
            op,
            if e == libc::ENOENT {
                "no public element of this class has that name under /dev/evl"
            } else {
                "cannot open the element's device under /dev/evl"
            },
        )
    })
}
