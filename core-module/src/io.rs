//! Reads and writes on a file descriptor in the form that keeps the caller on its stage.
//!
//! On the EVL backend, a thread attached to the core and running out-of-band that calls
//! `read(2)` or `write(2)` is demoted to the in-band stage: every such call costs a stage
//! switch. [`read`] and [`write`](fn@write) issue the core's `oob_read`/`oob_write` instead whenever
//! the caller is attached (an attached thread momentarily in-band, or a weak `SCHED_OTHER`
//! one, is moved out-of-band for the call), and the plain calls otherwise (host backend,
//! threads not attached).
//!
//! The form matters beyond the stage: on some EVL files the two forms reach different
//! sides. An xbuf's `oob_read` takes what the in-band side wrote, its `read` what the
//! real-time side wrote; so an attached thread always reads and writes as the real-time
//! side, whichever stage it happens to be on.
//!
//! Out-of-band I/O exists only for EVL files (elements, xbuf and proxy ends, out-of-band
//! drivers and sockets). When the core refuses it for `fd` (`EBADF`: not an EVL file), the
//! call falls back to the in-band form: it works, the caller is demoted once, and the fall
//! back is counted ([`inband_fallbacks`]) and reported like any other demotion (see
//! [`stage`](crate::stage)). On EVL, a descriptor that an executor's reactor can watch is an
//! EVL file (the core's poll sets refuse others), so an async read or write there never
//! takes the fall back.
//!
//! Both calls make exactly one system call when the fd is ready; neither allocates.

use crate::backend::{self, Backend};
use crate::error::errno;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Reads into `buf` from `fd`; `Ok(0)` at end of file. `EINTR` is retried.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::io::Result<usize> {
    let raw = fd.as_raw_fd();
    on_stage(|oob| {
        if oob {
            match crate::backend::evl::sys::oob_read(raw, buf) {
                Err(libc::EBADF) => fallback(|| plain_read(raw, buf)),
                r => r,
            }
        } else {
            plain_read(raw, buf)
        }
    })
}

/// Writes `buf` to `fd`; returns the bytes written. `EINTR` is retried.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> std::io::Result<usize> {
    let raw = fd.as_raw_fd();
    on_stage(|oob| {
        if oob {
            match crate::backend::evl::sys::oob_write(raw, buf) {
                Err(libc::EBADF) => fallback(|| plain_write(raw, buf)),
                r => r,
            }
        } else {
            plain_write(raw, buf)
        }
    })
}

/// Runs `op` with whether it must use the out-of-band form, retrying on `EINTR`.
fn on_stage(mut op: impl FnMut(bool) -> Result<usize, i32>) -> std::io::Result<usize> {
    let oob = oob_here();
    loop {
        match op(oob) {
            Err(libc::EINTR) => continue,
            r => return r.map_err(std::io::Error::from_raw_os_error),
        }
    }
}

/// How many [`read`]/[`write`](fn@write) calls from an attached thread fell back to the in-band form
/// because their fd is not an EVL file (each demoted a caller running out-of-band),
/// process-wide.
pub fn inband_fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Whether this call must use the out-of-band form: EVL backend, caller attached.
fn oob_here() -> bool {
    matches!(backend::current(), Ok(Backend::Evl))
        && crate::backend::evl::current::current().is_some()
}

fn fallback(f: impl FnOnce() -> Result<usize, i32>) -> Result<usize, i32> {
    FALLBACKS.fetch_add(1, Ordering::Relaxed);
    f()
}

fn plain_read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the call.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(n as usize)
    }
}

fn plain_write(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call; write only reads it.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn round_trip_on_a_pipe_and_errors_as_values() {
        let _ = backend::select(backend::Selection::Force(Backend::Host));
        let (r, w) = crate::backend::host::sys::pipe(libc::O_CLOEXEC, "io test").unwrap();
        assert_eq!(write(w.as_fd(), b"hello").unwrap(), 5);
        let mut b = [0u8; 8];
        assert_eq!(read(r.as_fd(), &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        crate::process::set_nonblocking(r.as_fd()).unwrap();
        let e = read(r.as_fd(), &mut b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        drop(r);
        let e = write(w.as_fd(), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
        assert_eq!(inband_fallbacks(), 0, "the host never falls back");
    }
}
