//! The frame path: one evl task that sends ethercrab's queued frames and hands received
//! frames back to it.

use crate::oob::{OobRxStats, OobUdp};
use crate::relay::{self, Record, RelayStats, RelayThread, RECORD_MAX};
use crate::socket::PacketSocket;
use crate::udp::{self, UdpAddrs};
use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};
use ethercrab::{PduRx, PduTx, ReceiveAction};
use evl::core::XbufEnd;
use evl::io::{AsyncFd, AsyncRead, AsyncWrite, Direction, XbufStream};
use evl::Backend;
use std::io;

pub use crate::socket::MAX_FRAME;

/// Counters of a [`TxRx`] task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxRxStats {
    /// Frames sent.
    pub sent: u64,
    /// EtherCAT frames received and matched to a waiting request.
    pub received: u64,
    /// Frames received that ethercrab ignored (not EtherCAT, or our own).
    pub ignored: u64,
    /// Frames ethercrab could not take (a reply to a request that timed out, a malformed
    /// frame): dropped and counted, the task goes on.
    pub rejected: u64,
    /// Sends the socket refused for lack of buffer room (the frame is sent when it has room).
    pub send_full: u64,
}

/// The way a [`TxRx`] moves frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePath {
    /// The executor's own thread sends and receives on a non-blocking `AF_PACKET` socket
    /// registered with its reactor ([`AsyncFd`]). Host backend only: the EVL core's poll set
    /// cannot watch an in-band socket.
    Direct,
    /// An ordinary relay thread owns the `AF_PACKET` socket and trades frames with the task
    /// through an EVL cross-buffer ([`Xbuf`](evl::core::Xbuf)); the task only reads and
    /// writes its end of it, out-of-band on the EVL backend. What [`TxRx::open`] picks on
    /// the EVL backend (its out-of-band packet stack carries IPv4 only); selectable on the
    /// host to test it.
    Relay {
        /// Bytes of each of the xbuf's two rings ([`DEFAULT_RING`](crate::DEFAULT_RING));
        /// at least one record of the largest frame ([`MAX_FRAME`] + 2).
        ring: usize,
    },
    /// EtherCAT over UDP (port 0x88A4, in IPv4, EtherType 0x0800) on the EVL core's
    /// out-of-band packet socket, opened on a **VLAN device** (the core diverts
    /// IPv4-in-VLAN only): the task wraps and sends each frame itself (an out-of-band call),
    /// a receive thread attached at SCHED_FIFO `rx_priority` waits for frames out-of-band
    /// and hands them to the task through a preallocated ring of `queue` frames and the
    /// task's evl waker. No in-band call on either thread in steady state. Chosen
    /// explicitly only (the subdevices must accept EtherCAT over UDP). On the host backend
    /// the same path runs over the in-band socket (tests). See the crate's README.
    OobUdp {
        /// The receive thread's SCHED_FIFO priority (1..=99; on the host the default
        /// policy serves where FIFO is refused). It inherits the opener's CPU affinity.
        rx_priority: u8,
        /// Frames the hand-off ring holds (1..=2^30).
        queue: usize,
        /// The IPv4 addresses written into the frames.
        addrs: UdpAddrs,
    },
}

impl FramePath {
    /// [`FramePath::OobUdp`] with the receive thread at SCHED_FIFO 50, a ring of 16 frames,
    /// the default addresses ([`UdpAddrs::default`]).
    pub fn oob_udp() -> FramePath {
        FramePath::OobUdp {
            rx_priority: 50,
            queue: 16,
            addrs: UdpAddrs::default(),
        }
    }
}

/// ethercrab's TX/RX task on an evl executor.
///
/// Two frame paths ([`FramePath`]), chosen at open:
/// - **direct** (host backend): the task owns the socket (registered with the executor's
///   reactor through [`AsyncFd`]) and one receive buffer of [`MAX_FRAME`] bytes, inside the
///   task; frames are sent straight from ethercrab's PDU storage;
/// - **relay** (EVL backend): the task owns the real-time end of an xbuf (registered through
///   [`XbufStream`]) and two record buffers; an in-band relay thread owns the socket. Each
///   frame costs one copy into the xbuf and one hop through the relay thread each way.
///
/// Either way: no allocation per frame, buffers made at open.
///
/// Each poll: the task stores its waker with ethercrab ([`PduTx::replace_waker`]), sends
/// every sendable frame (non-blocking), then receives until nothing is left, passing each
/// frame to [`PduRx::receive_frame`]. It waits on the socket's (or the xbuf's) readiness and
/// on ethercrab's wake: no timer, no polling.
#[derive(Debug)]
pub struct TxRx {
    path: Path,
    stats: Cell<TxRxStats>,
}

#[derive(Debug)]
enum Path {
    Direct(AsyncFd<PacketSocket>),
    // Boxed (once, at open): its buffers make it 3 KiB.
    Relay(Box<RefCell<RelayRt>>),
    // Boxed (once, at open): its wire buffer makes it 1.5 KiB.
    OobUdp(Box<RefCell<OobUdp>>),
}

/// The real-time side of the relay path. `stream` is declared before `thread`: it is
/// deregistered and the real-time end dropped before the thread is stopped and joined.
struct RelayRt {
    stream: XbufStream<XbufEnd>,
    rx: Record,
    tx: [u8; RECORD_MAX],
    ring: usize,
    thread: RelayThread,
}

impl core::fmt::Debug for RelayRt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RelayRt")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

impl TxRx {
    /// Opens the frame path on `interface` for the current executor (call inside an evl task
    /// or `block_on`): [`FramePath::Direct`] on the host backend, [`FramePath::Relay`] with
    /// [`DEFAULT_RING`](crate::DEFAULT_RING) on the EVL backend (ABI 36's out-of-band packet
    /// stack carries IPv4 only, so EtherCAT frames go through the in-band stack, and the
    /// relay keeps the executor thread out-of-band).
    pub fn open(interface: &str) -> io::Result<Self> {
        let path =
            match evl::core::backend::current().map_err(|e| io::Error::other(e.to_string()))? {
                Backend::Host => FramePath::Direct,
                Backend::Evl => FramePath::Relay {
                    ring: relay::DEFAULT_RING,
                },
            };
        Self::open_with(interface, path)
    }

    /// Opens the frame path `path` on `interface` (call inside an evl task or `block_on`).
    ///
    /// Errors: the socket's (`CAP_NET_RAW`, no such interface); [`FramePath::Direct`] on the
    /// EVL backend (its reactor refuses in-band fds); a relay ring below one record
    /// (`InvalidInput`); the xbuf's and the reactor's.
    pub fn open_with(interface: &str, path: FramePath) -> io::Result<Self> {
        match path {
            FramePath::Direct => Self::new(PacketSocket::open(interface, true)?),
            FramePath::Relay { ring } => {
                let (end, thread) = RelayThread::start(interface, ring)?;
                let stream = XbufStream::new(end).map_err(|e| io::Error::other(e.to_string()))?;
                Ok(TxRx {
                    path: Path::Relay(Box::new(RefCell::new(RelayRt {
                        stream,
                        rx: Record::new(),
                        tx: [0; RECORD_MAX],
                        ring,
                        thread,
                    }))),
                    stats: Cell::new(TxRxStats::default()),
                })
            }
            FramePath::OobUdp {
                rx_priority,
                queue,
                addrs,
            } => Ok(TxRx {
                path: Path::OobUdp(Box::new(RefCell::new(OobUdp::open(
                    interface,
                    addrs,
                    rx_priority,
                    queue,
                )?))),
                stats: Cell::new(TxRxStats::default()),
            }),
        }
    }

    /// Takes an open non-blocking socket ([`FramePath::Direct`]).
    pub fn new(sock: PacketSocket) -> io::Result<Self> {
        let sock = AsyncFd::new(sock).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(TxRx {
            path: Path::Direct(sock),
            stats: Cell::new(TxRxStats::default()),
        })
    }

    /// The path this task's frames take.
    pub fn frame_path(&self) -> FramePath {
        match &self.path {
            Path::Direct(_) => FramePath::Direct,
            Path::Relay(r) => FramePath::Relay {
                ring: r.borrow().ring,
            },
            Path::OobUdp(o) => {
                let o = o.borrow();
                FramePath::OobUdp {
                    rx_priority: o.rx_priority,
                    queue: o.queue,
                    addrs: o.addrs,
                }
            }
        }
    }

    /// The relay thread's counters ([`FramePath::Relay`] only).
    pub fn relay_stats(&self) -> Option<RelayStats> {
        match &self.path {
            Path::Relay(r) => Some(r.borrow().thread.stats()),
            _ => None,
        }
    }

    /// The receive thread's counters ([`FramePath::OobUdp`] only).
    pub fn oob_rx_stats(&self) -> Option<OobRxStats> {
        match &self.path {
            Path::OobUdp(o) => Some(o.borrow().thread.stats()),
            _ => None,
        }
    }

    /// Stops the receive thread of [`FramePath::OobUdp`] (it notices within
    /// [`RX_POLL`](crate::RX_POLL)), joins it, and returns its final counters: its
    /// in-band switches then cover its whole receive loop. An in-band call (teardown): after
    /// it, [`run`](Self::run) ends with `BrokenPipe`. `None` on the other paths, or when
    /// called from inside `run`'s poll (never the case from another task).
    pub fn stop_receiver(&self) -> Option<OobRxStats> {
        match &self.path {
            Path::OobUdp(o) => {
                let mut o = o.try_borrow_mut().ok()?;
                o.thread.stop();
                Some(o.thread.stats())
            }
            _ => None,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TxRxStats {
        self.stats.get()
    }

    /// Runs until ethercrab asks the task to exit ([`MainDevice::release_all`]), then gives
    /// the halves back. A socket error ends it with that error.
    ///
    /// [`MainDevice::release_all`]: ethercrab::MainDevice::release_all
    pub async fn run<'sto>(
        &self,
        mut tx: PduTx<'sto>,
        mut rx: PduRx<'sto>,
    ) -> io::Result<(PduTx<'sto>, PduRx<'sto>)> {
        let mut buf = [0u8; MAX_FRAME];
        poll_fn(|cx| {
            tx.replace_waker(cx.waker());
            let r = match &self.path {
                Path::Direct(sock) => self
                    .send_all(sock, &mut tx, cx)
                    .and_then(|()| self.receive_all(sock, &mut rx, &mut buf, cx)),
                Path::Relay(relay) => {
                    // Borrowed only inside this poll, by this task alone.
                    let mut relay = relay.borrow_mut();
                    self.relay_send(&mut relay, &mut tx, cx)
                        .and_then(|()| self.relay_receive(&mut relay, &mut rx, cx))
                }
                Path::OobUdp(o) => {
                    // Borrowed only inside this poll, by this task alone.
                    let mut o = o.borrow_mut();
                    self.udp_send(&mut o, &mut tx)
                        .and_then(|()| self.udp_receive(&mut o, &mut rx, cx))
                }
            };
            if let Err(e) = r {
                return Poll::Ready(Err(e));
            }
            if tx.should_exit() || rx.should_exit() {
                return Poll::Ready(Ok(()));
            }
            Poll::Pending
        })
        .await?;
        Ok((tx.release(), rx.release()))
    }

    fn bump(&self, f: impl FnOnce(&mut TxRxStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    fn send_all(
        &self,
        sock: &AsyncFd<PacketSocket>,
        tx: &mut PduTx<'_>,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        loop {
            // Wait for room before taking a frame: a frame taken and not sent goes back to
            // ethercrab's queue, but would be taken again at once.
            match sock.poll_write_ready(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) => return Err(io::Error::other(e.to_string())),
                Poll::Ready(Ok(_)) => {}
            }
            let Some(frame) = tx.next_sendable_frame() else {
                return Ok(());
            };
            let mut full = false;
            let sent =
                frame.send_blocking(
                    |data| match sock.try_io(Direction::Write, |s| s.send(data)) {
                        Ok(n) => Ok(n),
                        Err(e) => {
                            full = e.kind() == io::ErrorKind::WouldBlock;
                            Err(ethercrab::error::Error::SendFrame)
                        }
                    },
                );
            match sent {
                Ok(_) => self.bump(|s| s.sent += 1),
                Err(_) if full => self.bump(|s| s.send_full += 1),
                Err(e) => return Err(io::Error::other(format!("sending a frame: {e}"))),
            }
        }
    }

    fn receive_all(
        &self,
        sock: &AsyncFd<PacketSocket>,
        rx: &mut PduRx<'_>,
        buf: &mut [u8; MAX_FRAME],
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        loop {
            let mut guard = match sock.poll_read_ready(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) => return Err(io::Error::other(e.to_string())),
                Poll::Ready(Ok(g)) => g,
            };
            let n = match guard.try_io(|s| s.recv(&mut buf[..])) {
                // Would block: readiness cleared; the next poll_read_ready registers us.
                Err(_) => continue,
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
            };
            self.count_received(rx.receive_frame(&buf[..n]));
        }
    }

    fn count_received(&self, r: Result<ReceiveAction, ethercrab::error::Error>) {
        match r {
            Ok(ReceiveAction::Processed) => self.bump(|s| s.received += 1),
            Ok(ReceiveAction::Ignored) => self.bump(|s| s.ignored += 1),
            Err(_) => self.bump(|s| s.rejected += 1),
        }
    }

    fn relay_gone(relay: &RelayRt) -> io::Error {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            format!(
                "the in-band relay thread ended: {}",
                relay.thread.error().unwrap_or("no error recorded")
            ),
        )
    }

    /// Relay path: each sendable frame as one record into the xbuf (one `oob_write` on the
    /// EVL backend). A full ring leaves the frame with ethercrab and waits for room.
    fn relay_send(
        &self,
        relay: &mut RelayRt,
        tx: &mut PduTx<'_>,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        let RelayRt {
            stream,
            tx: buf,
            thread,
            ..
        } = relay;
        loop {
            let Some(frame) = tx.next_sendable_frame() else {
                return Ok(());
            };
            let mut full = false;
            let mut failed = None;
            let sent = frame.send_blocking(|data| {
                let record = match relay::encode(buf, data) {
                    Ok(r) => r,
                    Err(e) => {
                        failed = Some(e);
                        return Err(ethercrab::error::Error::SendFrame);
                    }
                };
                match Pin::new(&mut *stream).poll_write(cx, record) {
                    // Records are written whole: all or nothing.
                    Poll::Ready(Ok(n)) if n == record.len() => Ok(data.len()),
                    Poll::Ready(Ok(n)) => {
                        failed = Some(io::Error::other(format!(
                            "relay xbuf: short write of {n} of {} bytes",
                            record.len()
                        )));
                        Err(ethercrab::error::Error::SendFrame)
                    }
                    Poll::Ready(Err(e)) => {
                        failed = Some(e);
                        Err(ethercrab::error::Error::SendFrame)
                    }
                    Poll::Pending => {
                        full = true;
                        Err(ethercrab::error::Error::SendFrame)
                    }
                }
            });
            match sent {
                Ok(_) => self.bump(|s| s.sent += 1),
                // The frame stays queued; the xbuf's write readiness wakes the task.
                Err(_) if full => {
                    self.bump(|s| s.send_full += 1);
                    return Ok(());
                }
                Err(e) => {
                    return Err(match (failed, thread.error()) {
                        (Some(f), Some(t)) => {
                            io::Error::new(f.kind(), format!("{f} (relay thread: {t})"))
                        }
                        (Some(f), None) => f,
                        (None, _) => io::Error::other(format!("sending a frame: {e}")),
                    })
                }
            }
        }
    }

    /// Relay path: every record the relay thread wrote (`oob_read`s on the EVL backend).
    fn relay_receive(
        &self,
        relay: &mut RelayRt,
        rx: &mut PduRx<'_>,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        loop {
            let want = relay.rx.unfilled();
            let n = match Pin::new(&mut relay.stream).poll_read(cx, want) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => return Err(e),
                // End of stream: the relay thread dropped its end.
                Poll::Ready(Ok(0)) => return Err(Self::relay_gone(relay)),
                Poll::Ready(Ok(n)) => n,
            };
            if let Some(len) = relay.rx.advance(n)? {
                self.count_received(rx.receive_frame(relay.rx.frame(len)));
            }
        }
    }

    /// UDP path: each sendable frame wrapped into the wire buffer and sent on the socket
    /// (an out-of-band ioctl on EVL). No room now (`WouldBlock`): the frame stays with
    /// ethercrab, counted in `send_full`, and goes on the task's next wake-up (a received
    /// frame, or ethercrab queueing another).
    fn udp_send(&self, o: &mut OobUdp, tx: &mut PduTx<'_>) -> io::Result<()> {
        loop {
            let Some(frame) = tx.next_sendable_frame() else {
                return Ok(());
            };
            let mut full = false;
            let mut failed = None;
            let id = o.ip_id;
            let sent = frame.send_blocking(|data| {
                let n = match udp::wrap(data, &o.addrs, id, &mut o.wire) {
                    Ok(n) => n,
                    Err(e) => {
                        failed = Some(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("a frame of {} bytes cannot be wrapped: {e:?}", data.len()),
                        ));
                        return Err(ethercrab::error::Error::SendFrame);
                    }
                };
                match o.sock.send(&o.wire[..n]) {
                    Ok(_) => Ok(data.len()),
                    Err(e) if e.kind() == evl::ErrorKind::WouldBlock => {
                        full = true;
                        Err(ethercrab::error::Error::SendFrame)
                    }
                    Err(e) => {
                        failed = Some(e.into());
                        Err(ethercrab::error::Error::SendFrame)
                    }
                }
            });
            match sent {
                Ok(_) => {
                    o.ip_id = o.ip_id.wrapping_add(1);
                    self.bump(|s| s.sent += 1);
                }
                Err(_) if full => {
                    self.bump(|s| s.send_full += 1);
                    return Ok(());
                }
                Err(e) => {
                    return Err(
                        failed.unwrap_or_else(|| io::Error::other(format!("sending a frame: {e}")))
                    )
                }
            }
        }
    }

    /// UDP path: every frame the receive thread handed over (unwrapped already).
    fn udp_receive(
        &self,
        o: &mut OobUdp,
        rx: &mut PduRx<'_>,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        loop {
            match o.rx.poll_recv(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Some(f)) => self.count_received(rx.receive_frame(f.bytes())),
                // The receive thread ended (stopped, or an error) and everything it handed
                // over was taken.
                Poll::Ready(None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        format!(
                            "the receive thread ended: {}",
                            o.thread.error().unwrap_or("stopped")
                        ),
                    ))
                }
            }
        }
    }
}
