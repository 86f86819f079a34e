//! The frame path: one evl task that sends ethercrab's queued frames and hands received
//! frames back to it.

use crate::socket::PacketSocket;
use core::cell::Cell;
use core::future::poll_fn;
use core::task::{Context, Poll};
use ethercrab::{PduRx, PduTx, ReceiveAction};
use evl::io::{AsyncFd, Direction};
use std::io;

/// The largest frame received: an untagged Ethernet II frame without FCS (1514 bytes), with
/// room for a VLAN tag. Frames are never larger than ethercrab's PDU storage anyway.
pub const MAX_FRAME: usize = 1536;

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

/// ethercrab's TX/RX task on an evl executor.
///
/// Owns the socket (registered with the executor's reactor through [`AsyncFd`]) and one
/// receive buffer of [`MAX_FRAME`] bytes, inside the task: no allocation per frame, nothing
/// shared with another thread. Frames are sent straight from ethercrab's PDU storage.
///
/// Each poll: the task stores its waker with ethercrab ([`PduTx::replace_waker`]), sends
/// every sendable frame (`send(2)`, non-blocking), then receives until the socket is empty
/// (`recv(2)`), passing each frame to [`PduRx::receive_frame`]. It waits on the socket's
/// readiness and on ethercrab's wake: no timer, no polling.
#[derive(Debug)]
pub struct TxRx {
    sock: AsyncFd<PacketSocket>,
    stats: Cell<TxRxStats>,
}

impl TxRx {
    /// Opens a non-blocking packet socket on `interface` and registers it with the current
    /// executor (call inside an evl task or `block_on`).
    ///
    /// On the EVL backend, the reactor polls out-of-band and refuses an in-band socket: the
    /// error says so (the out-of-band packet socket path is not written yet).
    pub fn open(interface: &str) -> io::Result<Self> {
        let sock = PacketSocket::open(interface, true)?;
        Self::new(sock)
    }

    /// Takes an open non-blocking socket.
    pub fn new(sock: PacketSocket) -> io::Result<Self> {
        let sock = AsyncFd::new(sock).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(TxRx {
            sock,
            stats: Cell::new(TxRxStats::default()),
        })
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
            if let Err(e) = self.send_all(&mut tx, cx) {
                return Poll::Ready(Err(e));
            }
            if let Err(e) = self.receive_all(&mut rx, &mut buf, cx) {
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

    fn send_all(&self, tx: &mut PduTx<'_>, cx: &mut Context<'_>) -> io::Result<()> {
        loop {
            // Wait for room before taking a frame: a frame taken and not sent goes back to
            // ethercrab's queue, but would be taken again at once.
            match self.sock.poll_write_ready(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) => return Err(io::Error::other(e.to_string())),
                Poll::Ready(Ok(_)) => {}
            }
            let Some(frame) = tx.next_sendable_frame() else {
                return Ok(());
            };
            let mut full = false;
            let sent = frame.send_blocking(|data| {
                match self.sock.try_io(Direction::Write, |s| s.send(data)) {
                    Ok(n) => Ok(n),
                    Err(e) => {
                        full = e.kind() == io::ErrorKind::WouldBlock;
                        Err(ethercrab::error::Error::SendFrame)
                    }
                }
            });
            match sent {
                Ok(_) => self.bump(|s| s.sent += 1),
                Err(_) if full => self.bump(|s| s.send_full += 1),
                Err(e) => return Err(io::Error::other(format!("sending a frame: {e}"))),
            }
        }
    }

    fn receive_all(
        &self,
        rx: &mut PduRx<'_>,
        buf: &mut [u8; MAX_FRAME],
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        loop {
            let mut guard = match self.sock.poll_read_ready(cx) {
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
            match rx.receive_frame(&buf[..n]) {
                Ok(ReceiveAction::Processed) => self.bump(|s| s.received += 1),
                Ok(ReceiveAction::Ignored) => self.bump(|s| s.ignored += 1),
                Err(_) => self.bump(|s| s.rejected += 1),
            }
        }
    }
}
