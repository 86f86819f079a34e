//! A veth pair with its far end in a network namespace of its own, and the emulator serving
//! that end on a thread that entered the namespace. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN,
//! CAP_NET_RAW) and iproute2's `ip`.

use super::Emulator;
use evl_ethercat::PacketSocket;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The namespace, the pair, and the emulator thread; torn down on drop.
pub struct Veth {
    /// The namespace holding the emulator's end.
    pub ns: String,
    /// The MainDevice's end, in this namespace.
    pub host_if: String,
    /// The emulator's end, in `ns`.
    pub peer_if: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Veth {
    /// Makes the namespace and the pair (both ends up). `Err` says why not (not root, no
    /// `ip`): the caller skips visibly.
    pub fn setup() -> Result<Veth, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id() % 100_000, n);
        let v = Veth {
            ns: format!("evlecat{id}"),
            host_if: format!("ecm{id}"),
            peer_if: format!("ecs{id}"),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        ip(&["netns", "add", &v.ns])?;
        ip(&[
            "link", "add", &v.host_if, "type", "veth", "peer", "name", &v.peer_if, "netns", &v.ns,
        ])?;
        ip(&["link", "set", &v.host_if, "up"])?;
        ip(&["-n", &v.ns, "link", "set", &v.peer_if, "up"])?;
        Ok(v)
    }

    /// Starts `n` emulated devices on the far end.
    pub fn start_emulator(&mut self, n: usize) -> Result<(), String> {
        let (ns, peer, stop) = (self.ns.clone(), self.peer_if.clone(), self.stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        self.thread = Some(std::thread::spawn(move || {
            // Real-time priority where permitted, so that a loaded machine does not starve
            // the emulator (ignored otherwise).
            let param = libc::sched_param { sched_priority: 40 };
            // SAFETY: a valid sched_param for the calling thread.
            let _ = unsafe {
                libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param)
            };
            let r = (|| {
                enter_netns(&ns)?;
                PacketSocket::open(&peer, false)
            })();
            let sock = match r {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return Err(e);
                }
            };
            let mut emu = Emulator::new(n);
            emu.serve(&sock, &stop)?;
            Ok(emu.frames.load(Ordering::Relaxed))
        }));
        ready_rx
            .recv()
            .map_err(|_| "the emulator thread died".to_string())?
    }

    /// Stops the emulator; the frames it answered.
    pub fn stop(&mut self) -> std::io::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Ok(0)),
            None => Ok(0),
        }
    }
}

/// Moves the calling thread into the named network namespace.
pub fn enter_netns(ns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    // SAFETY: setns on an fd we hold open; it changes this thread's network namespace only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = self.stop();
        // Deleting the namespace destroys the pair.
        let _ = ip(&["netns", "del", &self.ns]);
    }
}
