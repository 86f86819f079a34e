//! Names of the system calls a guard report is most likely to show.

/// The name of system call `nr` for the calls a steady state is likely to make by mistake,
/// `"unnamed"` for the others (the report gives the number too).
pub fn name(nr: i64) -> &'static str {
    use libc::*;
    const COMMON: &[(i64, &str)] = &[
        (SYS_read, "read"),
        (SYS_write, "write"),
        (SYS_readv, "readv"),
        (SYS_writev, "writev"),
        (SYS_openat, "openat"),
        (SYS_close, "close"),
        (SYS_ioctl, "ioctl"),
        (SYS_fcntl, "fcntl"),
        (SYS_futex, "futex"),
        (SYS_nanosleep, "nanosleep"),
        (SYS_clock_nanosleep, "clock_nanosleep"),
        (SYS_clock_gettime, "clock_gettime"),
        (SYS_timerfd_settime, "timerfd_settime"),
        (SYS_timerfd_gettime, "timerfd_gettime"),
        (SYS_epoll_ctl, "epoll_ctl"),
        (SYS_epoll_pwait, "epoll_pwait"),
        (SYS_epoll_pwait2, "epoll_pwait2"),
        (SYS_ppoll, "ppoll"),
        (SYS_pselect6, "pselect6"),
        (SYS_mmap, "mmap"),
        (SYS_munmap, "munmap"),
        (SYS_mprotect, "mprotect"),
        (SYS_madvise, "madvise"),
        (SYS_mremap, "mremap"),
        (SYS_brk, "brk"),
        (SYS_sched_yield, "sched_yield"),
        (SYS_sched_setscheduler, "sched_setscheduler"),
        (SYS_getpid, "getpid"),
        (SYS_gettid, "gettid"),
        (SYS_prctl, "prctl"),
        (SYS_rt_sigaction, "rt_sigaction"),
        (SYS_rt_sigprocmask, "rt_sigprocmask"),
        (SYS_sendto, "sendto"),
        (SYS_recvfrom, "recvfrom"),
        (SYS_sendmsg, "sendmsg"),
        (SYS_recvmsg, "recvmsg"),
        (SYS_eventfd2, "eventfd2"),
        (SYS_pipe2, "pipe2"),
        (SYS_clone, "clone"),
        (SYS_clone3, "clone3"),
        (SYS_getrandom, "getrandom"),
        (SYS_exit, "exit"),
    ];
    #[cfg(target_arch = "x86_64")]
    const ARCH: &[(i64, &str)] = &[
        (SYS_epoll_wait, "epoll_wait"),
        (SYS_poll, "poll"),
        (SYS_select, "select"),
        (SYS_open, "open"),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    const ARCH: &[(i64, &str)] = &[];
    COMMON
        .iter()
        .chain(ARCH)
        .find(|(n, _)| *n == nr)
        .map_or("unnamed", |(_, s)| s)
}
