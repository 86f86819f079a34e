//! [`AsyncProxy`]: a proxy as an `AsyncWrite` that waits for room.

use super::registration::{Claim, Registration};
use crate::core::{Error, ErrorKind, Proxy, Result, Timestamp};
use core::cell::Cell;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::Direction;
use std::borrow::Borrow;

/// The most bytes [`AsyncProxy`] offers the proxy in one write: one page, the unit every
/// backend accepts whole once the proxy polls writable.
pub const PROXY_CHUNK: usize = 4096;

/// A [`Proxy`] written from a task, with back-pressure instead of loss.
///
/// `Proxy::write` never waits: what does not fit is dropped and counted. A task can afford
/// to wait without blocking its thread, so this wrapper does:
///
/// - a write offers at most [`PROXY_CHUNK`] bytes; the accepted prefix is returned as the
///   count (a short write), so the caller (`write_all`) offers the rest again;
/// - when the proxy accepts nothing (its buffer is full), the task waits until the proxy's
///   `write_fd` polls writable, then offers the same bytes again.
///
/// Nothing given to this wrapper is lost. What the proxy refused is still counted in
/// [`Proxy::dropped`] (the proxy cannot tell a retried offer from a lost one), and also in
/// [`refused`](AsyncProxy::refused): bytes lost by other, non-waiting writers of the same
/// proxy are `proxy.dropped() - refused()` summed over its async writers.
///
/// Flushing does not wait for delivery: `poll_flush` returns once the bytes are accepted by
/// the proxy (they then reach the target in order, also if the proxy is dropped), and
/// reports a target that failed. Waiting for delivery is [`Proxy::flush`], a blocking call
/// for an ordinary thread. Written bytes of one call stay contiguous only up to
/// [`PROXY_CHUNK`] bytes when other threads write to the same proxy.
///
/// `P` is the proxy or anything that borrows it (`&Proxy`, `Arc<Proxy>`: other threads may
/// keep writing to it). `!Send`: it belongs to the executor it was created in.
#[derive(Debug)]
pub struct AsyncProxy<P: Borrow<Proxy> = Proxy> {
    // Declared before `proxy`: deregistered before the proxy's fd closes.
    reg: Registration,
    refused: Cell<u64>,
    proxy: P,
}

impl<P: Borrow<Proxy>> AsyncProxy<P> {
    /// Registers the proxy's `write_fd` with the current executor's reactor.
    ///
    /// Errors: [`ErrorKind::Unsupported`] outside an executor;
    /// [`ErrorKind::CapacityExceeded`] when the reactor's fd slots are taken.
    pub fn new(proxy: P) -> Result<Self> {
        let reg = Registration::new(proxy.borrow().write_fd(), "AsyncProxy::new")?;
        Ok(AsyncProxy {
            reg,
            refused: Cell::new(0),
            proxy,
        })
    }

    /// The proxy, as given.
    pub fn get_ref(&self) -> &P {
        &self.proxy
    }

    /// Deregisters the fd and gives the proxy back.
    pub fn into_inner(self) -> P {
        let AsyncProxy { reg, proxy, .. } = self;
        drop(reg);
        proxy
    }

    /// Bytes the proxy refused (and counted in [`Proxy::dropped`]) that this wrapper did not
    /// consume: reported unwritten to the caller, or offered again after a wait.
    pub fn refused(&self) -> u64 {
        self.refused.get()
    }

    /// Offers up to [`PROXY_CHUNK`] bytes of `buf`, waiting while the proxy's buffer is full;
    /// returns how many were accepted (0 only when `buf` is empty).
    ///
    /// Errors: the target's error once the proxy stopped delivering (e.g.
    /// [`ErrorKind::Closed`]).
    pub async fn write(&self, buf: &[u8]) -> Result<usize> {
        let mut claim = Claim::new(&self.reg, Direction::Write);
        poll_fn(|cx| claim.poll_io(cx, "AsyncProxy::write", || self.offer(buf))).await
    }

    /// Writes all of `buf`, waiting for room as needed.
    pub async fn write_all(&self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// One offer: `WouldBlock` when the proxy accepted nothing.
    fn offer(&self, buf: &[u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = &buf[..buf.len().min(PROXY_CHUNK)];
        let w = self.proxy.borrow().write(chunk)?;
        if w.dropped > 0 {
            self.refused.set(self.refused.get() + w.dropped as u64);
        }
        if w.written == 0 {
            return Err(Error::new(
                ErrorKind::WouldBlock,
                "AsyncProxy::write",
                "the proxy's buffer is full",
            ));
        }
        Ok(w.written)
    }

    /// The target's failure, if any, without waiting for delivery.
    fn check(&self) -> Result<()> {
        match self.proxy.borrow().flush(Some(Timestamp::ZERO)) {
            Err(e) if e.kind() == ErrorKind::TimedOut => Ok(()),
            r => r,
        }
    }
}

impl<P: Borrow<Proxy>> futures_io::AsyncWrite for AsyncProxy<P> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.into_ref().get_ref();
        this.reg
            .poll_io(Direction::Write, cx, "AsyncProxy::poll_write", None, || {
                this.offer(buf)
            })
            .map_err(std::io::Error::from)
    }

    /// Returns at once (delivery is the proxy's business), with the target's error if it
    /// failed.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.check().map_err(std::io::Error::from))
    }

    /// As `poll_flush`: the proxy keeps delivering; it closes when dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}
