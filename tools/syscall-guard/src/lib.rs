//! # evl-syscall-guard — proving "no unexpected system call" in tests
//!
//! A real-time thread on the EVL core may only make out-of-band calls in steady state: any
//! ordinary Linux system call demotes it. Without a core, the test suite checks the same rule
//! on the host backend: a thread enters a guarded window with an [`Allowed`] list (the calls
//! that map to out-of-band calls on EVL: the one wait, the doorbell, reads and writes on the
//! fds it watches), and from then on a seccomp filter stops any other system call that thread
//! makes. The process then reports the call (name, number, first arguments) on its standard
//! error and exits at once with [`VIOLATION_EXIT`].
//!
//! A seccomp filter cannot be removed, so a window ends with its process: the guarded code
//! runs in a child process ([`run_child`] re-runs the current test binary for one test, with
//! [`is_child`] true), which ends it with [`Window::finish`]. Only the guarded thread is
//! filtered; the test's other threads (peers that post, notify, spawn) are not.
//!
//! ```ignore
//! #[test]
//! fn steady_state_is_clean() {
//!     if evl_syscall_guard::is_child() {
//!         // set up, warm up ...
//!         let w = evl_syscall_guard::enter(Allowed::new().call(libc::SYS_epoll_pwait2)).unwrap();
//!         // ... the steady state ...
//!         w.finish();
//!     }
//!     let out = evl_syscall_guard::run_child("steady_state_is_clean", &[]);
//!     assert!(out.ok(), "{}", out.explain());
//! }
//! ```

mod names;
mod trap;

pub use names::name;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::process::{Command, Stdio};

/// The exit status of a child that made a forbidden system call.
pub const VIOLATION_EXIT: i32 = 86;

/// The environment variable that marks a child run by [`run_child`].
pub const CHILD_ENV: &str = "EVL_SYSCALL_GUARD_CHILD";

const TAG: &str = "evl-syscall-guard:";

/// The system calls a guarded thread may make. Rules for one call are alternatives.
#[derive(Debug, Default)]
pub struct Allowed {
    /// Per call: `None` when any arguments are allowed, else the alternative rules.
    rules: BTreeMap<i64, Option<Vec<SeccompRule>>>,
}

impl Allowed {
    /// Nothing allowed yet.
    pub fn new() -> Self {
        Allowed::default()
    }

    /// Allows `nr` with any arguments.
    pub fn call(mut self, nr: i64) -> Self {
        self.rules.insert(nr, None);
        self
    }

    /// Allows `nr` when its first argument is one of `fds`.
    pub fn on_fds(self, nr: i64, fds: &[RawFd]) -> Self {
        let values: Vec<u64> = fds.iter().map(|&fd| fd as u64).collect();
        self.with_arg(nr, 0, u32::MAX as u64, &values)
    }

    /// Allows `nr` when its argument `index` (0-5), masked with `mask`, is one of `values`.
    pub fn with_arg(mut self, nr: i64, index: u8, mask: u64, values: &[u64]) -> Self {
        let entry = self.rules.entry(nr).or_insert_with(|| Some(Vec::new()));
        if let Some(rules) = entry {
            for &v in values {
                let cond = SeccompCondition::new(
                    index,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(mask),
                    v & mask,
                )
                .expect("argument index 0-5");
                rules.push(SeccompRule::new(vec![cond]).expect("one condition"));
            }
        }
        self
    }

    fn program(mut self, report: RawFd) -> std::io::Result<BpfProgram> {
        // What the trap handler itself needs: its report and the exit.
        self = self
            .on_fds(libc::SYS_write, &[report])
            .call(libc::SYS_exit_group);
        let rules = self
            .rules
            .into_iter()
            .map(|(nr, r)| (nr, r.unwrap_or_default()))
            .collect();
        #[cfg(target_arch = "x86_64")]
        let arch = TargetArch::x86_64;
        #[cfg(target_arch = "aarch64")]
        let arch = TargetArch::aarch64;
        let filter = SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, arch)
            .map_err(std::io::Error::other)?;
        filter.try_into().map_err(std::io::Error::other)
    }
}

/// Open descriptors other than the standard three that a steady state may read or write:
/// pipes, FIFOs, sockets, character devices and anonymous inodes (eventfd, timerfd, epoll,
/// EVL elements). Regular files and directories are left out: a log file written from the
/// real-time thread is exactly what the guard must catch.
pub fn io_fds() -> Vec<RawFd> {
    let mut fds = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return fds;
    };
    for e in dir.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a live, writable stat; a closed fd just fails.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            continue;
        }
        let kind = st.st_mode & libc::S_IFMT;
        // Anonymous inodes report no type bits.
        if matches!(kind, libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR | 0) {
            fds.push(fd);
        }
    }
    fds
}

/// A guarded window on the calling thread; ends with the process ([`finish`](Window::finish)).
#[derive(Debug)]
pub struct Window(());

/// Starts a guarded window on the calling thread: from now on, a system call of this thread
/// that `allowed` does not list ends the process with a report (the call's name, number and
/// first arguments on standard error) and [`VIOLATION_EXIT`].
pub fn enter(allowed: Allowed) -> std::io::Result<Window> {
    let report = trap::install()?;
    let prog = allowed.program(report)?;
    seccompiler::apply_filter(&prog).map_err(std::io::Error::other)?;
    Ok(Window(()))
}

impl Window {
    /// Ends the window and the process: reports success, exits with status 0 at once (no
    /// destructors, no buffered output: the window's thread may make no other call).
    pub fn finish(self) -> ! {
        trap::finish()
    }
}

/// Whether this process is a child run by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// What a child run told.
#[derive(Debug)]
pub struct Outcome {
    /// Its exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Its standard output and error.
    pub output: String,
}

impl Outcome {
    /// The child finished its window without a forbidden call.
    pub fn ok(&self) -> bool {
        self.code == Some(0) && self.output.contains(&format!("{TAG} OK"))
    }

    /// The forbidden call's report line, if the child made one.
    pub fn violation(&self) -> Option<&str> {
        let tag = format!("{TAG} FORBIDDEN");
        self.output
            .lines()
            .find_map(|l| l.find(&tag).map(|at| &l[at..]))
    }

    /// What went wrong, for an assertion message.
    pub fn explain(&self) -> String {
        match self.violation() {
            Some(v) => format!("the guarded thread made a forbidden system call: {v}"),
            None => format!(
                "the child exited with {:?} without finishing its window; its output:\n{}",
                self.code, self.output
            ),
        }
    }
}

/// Runs the test named `test` of the current test binary in a child process, with
/// [`CHILD_ENV`] and `env` set, and returns what it told.
pub fn run_child(test: &str, env: &[(&str, &str)]) -> Outcome {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the test binary as a child");
    Outcome {
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
