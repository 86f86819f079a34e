//! The Linux ioctl request encoding, as `const fn`s.
//!
//! Mirrors the layout defined by the Linux header `include/uapi/asm-generic/ioctl.h`, which
//! both x86_64 and aarch64 use unchanged (their `asm/ioctl.h` only includes the generic one;
//! alpha, mips, powerpc and sparc differ and are not targets of this crate):
//!
//! ```text
//!  31 30 | 29 ........ 16 | 15 ..... 8 | 7 ...... 0
//!   dir  |  size (14 bit) |  type (8)  |  nr (8)
//! ```
//!
//! `dir` is a bit set of [`IOC_WRITE`] (user space writes, the kernel reads) and
//! [`IOC_READ`] (the kernel writes, user space reads). A request number is 32 bits wide: the
//! kernel's `unsigned int cmd`. Pass it to `libc::ioctl` with `as _` (glibc wants an
//! `unsigned long`, musl an `int`; both keep the 32-bit pattern) and to `oob_ioctl` through
//! `prctl(2)` zero-extended.

/// Width of the `nr` field (`_IOC_NRBITS`, asm-generic/ioctl.h).
pub const IOC_NRBITS: u32 = 8;
/// Width of the `type` field (`_IOC_TYPEBITS`, asm-generic/ioctl.h).
pub const IOC_TYPEBITS: u32 = 8;
/// Width of the `size` field (`_IOC_SIZEBITS`, asm-generic/ioctl.h).
pub const IOC_SIZEBITS: u32 = 14;
/// Width of the `dir` field (`_IOC_DIRBITS`, asm-generic/ioctl.h).
pub const IOC_DIRBITS: u32 = 2;

/// Shift of the `nr` field (`_IOC_NRSHIFT`, asm-generic/ioctl.h).
pub const IOC_NRSHIFT: u32 = 0;
/// Shift of the `type` field (`_IOC_TYPESHIFT`, asm-generic/ioctl.h).
pub const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
/// Shift of the `size` field (`_IOC_SIZESHIFT`, asm-generic/ioctl.h).
pub const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
/// Shift of the `dir` field (`_IOC_DIRSHIFT`, asm-generic/ioctl.h).
pub const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// No data transfer (`_IOC_NONE`, asm-generic/ioctl.h).
pub const IOC_NONE: u32 = 0;
/// User space writes, the kernel reads (`_IOC_WRITE`, asm-generic/ioctl.h).
pub const IOC_WRITE: u32 = 1;
/// The kernel writes, user space reads (`_IOC_READ`, asm-generic/ioctl.h).
pub const IOC_READ: u32 = 2;

/// Largest argument size the `size` field can encode.
pub const IOC_SIZE_MAX: usize = (1 << IOC_SIZEBITS) - 1;

/// Builds a request number from its four fields (`_IOC(dir, type, nr, size)`).
///
/// Meant for `const` items: an argument size that does not fit in 14 bits, or a `dir` wider
/// than 2 bits, stops the build (a panic in const evaluation).
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(dir < (1 << IOC_DIRBITS), "ioctl dir does not fit in 2 bits");
    assert!(
        size <= IOC_SIZE_MAX,
        "ioctl argument size does not fit in 14 bits"
    );
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | ((ty as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
}

/// A request without argument data (`_IO(type, nr)`).
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, ty, nr, 0)
}

/// A request whose argument the kernel writes (`_IOR(type, nr, T)`, with `size = sizeof(T)`).
pub const fn ior(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}

/// A request whose argument the kernel reads (`_IOW(type, nr, T)`, with `size = sizeof(T)`).
pub const fn iow(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}

/// A request whose argument goes both ways (`_IOWR(type, nr, T)`, with `size = sizeof(T)`).
pub const fn iowr(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

/// The `dir` field of a request number (`_IOC_DIR`).
pub const fn ioc_dir(req: u32) -> u32 {
    (req >> IOC_DIRSHIFT) & ((1 << IOC_DIRBITS) - 1)
}

/// The `type` field of a request number (`_IOC_TYPE`).
pub const fn ioc_type(req: u32) -> u8 {
    ((req >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)) as u8
}

/// The `nr` field of a request number (`_IOC_NR`).
pub const fn ioc_nr(req: u32) -> u8 {
    ((req >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1)) as u8
}

/// The `size` field of a request number (`_IOC_SIZE`).
pub const fn ioc_size(req: u32) -> usize {
    ((req >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}
