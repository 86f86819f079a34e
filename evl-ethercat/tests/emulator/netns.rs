//! A veth pair with its far end in a network namespace of its own, and the emulator serving
//! that end on a thread that entered the namespace. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN,
//! CAP_NET_RAW) and iproute2's `ip`.

use super::Emulator;
use evl_ethercat::PacketSocket;
use evl_netns_fixture::{enter_netns, ethtool_set, VethPair, ETHTOOL_SGRO, ETHTOOL_STSO};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Frames the EtherCAT-over-UDP emulator received (answered or not).
    pub seen: Arc<AtomicU64>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
    /// Deletes the pair and the namespace when dropped (after the emulator stopped).
    pair: VethPair,
}

impl Veth {
    /// Makes the namespace and the pair (both ends up). `Err` says why not (not root, no
    /// `ip`): the caller skips visibly.
    pub fn setup() -> Result<Veth, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id() % 100_000, n);
        // Made in this namespace, then the far end moved: the two ends get different
        // interface indexes, which the EVL core's oob packet delivery needs (it matches a
        // socket's bound device by index alone; see evl-netns-fixture).
        let pair = VethPair::new(
            format!("evlecat{id}"),
            format!("ecm{id}"),
            format!("ecs{id}"),
        )?;
        Ok(Veth {
            ns: pair.ns.clone(),
            host_if: pair.near.clone(),
            peer_if: pair.far.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            seen: Arc::new(AtomicU64::new(0)),
            thread: None,
            pair,
        })
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

    /// Starts `n` emulated devices on the far end speaking EtherCAT over UDP, on VLAN
    /// `vid` devices made on both ends (`<end>.<vid>`); returns the near VLAN device, the
    /// one to open the MainDevice's [`FramePath::OobUdp`](evl_ethercat::FramePath) on.
    ///
    /// On the EVL core both ends must be out-of-band sockets (a frame sent out-of-band over
    /// a veth oopses this kernel when an in-band packet socket receives it), and the veth
    /// must run its NAPI path for the core to divert ingress (GRO on, TSO off, both ends):
    /// the far end's socket is the core's oob one on its VLAN device (enabled as an oob
    /// port through a sysfs of the namespace), used from a thread attached at SCHED_FIFO 40.
    /// On the host: the in-band socket on the VLAN device, or on the veth end itself when
    /// VLAN devices cannot be made (no 8021q): then the near end is returned.
    pub fn start_udp_emulator(&mut self, n: usize, vid: u16) -> Result<String, String> {
        let evl = evl::core::backend::current().ok() == Some(evl::Backend::Evl);
        let vlans = self.pair.add_vlans(vid);
        let (near, far) = match vlans {
            Ok(names) => names,
            Err(e) if evl => return Err(format!("VLAN devices (needs CONFIG_VLAN_8021Q): {e}")),
            Err(_) => (self.host_if.clone(), self.peer_if.clone()),
        };
        if evl {
            ethtool_set(&self.host_if, ETHTOOL_SGRO, true)?;
            ethtool_set(&self.host_if, ETHTOOL_STSO, false)?;
            self.pair.enable_far_oob_port(&far)?;
        }
        let (ns, peer, stop) = (self.ns.clone(), self.peer_if.clone(), self.stop.clone());
        let seen = self.seen.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        self.thread = Some(std::thread::spawn(move || {
            use evl::core::packet::PacketSocket;
            use evl::core::{SchedPolicy, Thread, ThreadConfig};
            let r = (|| -> Result<(Option<Thread>, PacketSocket), String> {
                enter_netns(&ns).map_err(|e| e.to_string())?;
                if !evl {
                    let param = libc::sched_param { sched_priority: 40 };
                    // SAFETY: a valid sched_param for the calling thread.
                    let _ = unsafe {
                        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param)
                    };
                    let s = PacketSocket::open_inband(&far, 0x0800).map_err(|e| e.to_string())?;
                    return Ok((None, s));
                }
                ethtool_set(&peer, ETHTOOL_SGRO, true)?;
                ethtool_set(&peer, ETHTOOL_STSO, false)?;
                let name = format!("ecat-emu-{}", std::process::id());
                let t = Thread::attach(ThreadConfig::new(&name).policy(SchedPolicy::Fifo(40)))
                    .map_err(|e| e.to_string())?;
                let s = PacketSocket::open_oob(&far, 0x0800).map_err(|e| e.to_string())?;
                Ok((Some(t), s))
            })();
            let (_attached, sock) = match r {
                Ok(x) => {
                    let _ = ready_tx.send(Ok(()));
                    x
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(std::io::Error::other(e));
                }
            };
            let mut emu = Emulator::new(n);
            emu.serve_udp(&sock, &stop, &seen)?;
            Ok(emu.frames.load(Ordering::Relaxed))
        }));
        ready_rx
            .recv()
            .map_err(|_| "the emulator thread died".to_string())??;
        Ok(near)
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

impl Drop for Veth {
    fn drop(&mut self) {
        // Then `pair` drops: the pair, its VLAN devices and the namespace go.
        let _ = self.stop();
    }
}
