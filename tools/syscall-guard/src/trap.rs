//! The SIGSYS handler: names the forbidden call on the report descriptor and exits.
//!
//! Everything here is async-signal-safe: a stack buffer, `write(2)` on the report
//! descriptor (allowed by the filter) and `_exit` (`exit_group`, allowed too).

use std::sync::atomic::{AtomicI32, Ordering};

static REPORT: AtomicI32 = AtomicI32::new(-1);

/// Duplicates standard error as the report descriptor and installs the handler; returns the
/// descriptor.
pub(crate) fn install() -> std::io::Result<i32> {
    // SAFETY: F_DUPFD_CLOEXEC on fd 2 touches no memory; the new fd is ours to keep.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 100) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    REPORT.store(fd, Ordering::SeqCst);
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigsys as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `sa` is a valid sigaction whose handler has the SA_SIGINFO signature; the old
    // action is not needed (the process ends in the handler).
    if unsafe { libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Reports success and exits.
pub(crate) fn finish() -> ! {
    report(b"evl-syscall-guard: OK\n");
    // SAFETY: _exit ends the process at once; nothing is left to uphold.
    unsafe { libc::_exit(0) }
}

fn report(msg: &[u8]) {
    let fd = REPORT.load(Ordering::SeqCst);
    // SAFETY: `msg` is a live slice for the call; a bad fd just fails.
    let _ = unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
}

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSYS, whose `_sigsys` member (after the
    // three ints and padding, at offset 16) is `{ void *call_addr; int syscall; u32 arch }`.
    let nr = unsafe { info.cast::<u8>().add(24).cast::<i32>().read() };
    let mut buf = Line::default();
    buf.push(b"evl-syscall-guard: FORBIDDEN system call ");
    buf.push(crate::names::name(nr as i64).as_bytes());
    buf.push(b" (nr ");
    buf.num(nr as u64);
    buf.push(b") args");
    for a in args(ctx) {
        buf.push(b" 0x");
        buf.hex(a);
    }
    buf.push(b"\n");
    report(buf.as_bytes());
    // SAFETY: _exit ends the process at once, from a signal handler (async-signal-safe).
    unsafe { libc::_exit(crate::VIOLATION_EXIT) }
}

/// The first three arguments of the trapped call, from the saved registers.
fn args(ctx: *mut libc::c_void) -> [u64; 3] {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: for an SA_SIGINFO handler the third argument is the thread's ucontext.
        let g = unsafe { &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        [
            g[libc::REG_RDI as usize] as u64,
            g[libc::REG_RSI as usize] as u64,
            g[libc::REG_RDX as usize] as u64,
        ]
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: for an SA_SIGINFO handler the third argument is the thread's ucontext.
        let r = unsafe { &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.regs };
        [r[0], r[1], r[2]]
    }
}

/// A report line on the stack.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, b: &[u8]) {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
    fn num(&mut self, mut v: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&d[i..]);
    }
    fn hex(&mut self, v: u64) {
        let digits = b"0123456789abcdef";
        let mut d = [0u8; 16];
        let mut i = d.len();
        let mut v = v;
        loop {
            i -= 1;
            d[i] = digits[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.push(&d[i..]);
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
