//! [`XbufStream`]: an xbuf end as an async byte stream.

use super::registration::{Claim, Registration};
use crate::core::{ErrorKind, Result, XbufEnd};
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::Direction;
use std::borrow::Borrow;

/// One end of an [`Xbuf`](crate::core::Xbuf) as an async byte stream: reads what the other
/// side wrote, writes to the other side, waiting on the executor instead of blocking it.
///
/// An end has two descriptors (its incoming ring's read side, its outgoing ring's write
/// side), so the stream holds two registrations of the executor's reactor. `E` is the end
/// itself or anything that borrows it (`&XbufEnd`, `Arc<XbufEnd>`).
///
/// It implements `futures-io`'s `AsyncRead` (end of stream, `Ok(0)`, once the other end of a
/// private xbuf is gone and the ring is empty) and `AsyncWrite` (`poll_flush`/`poll_close`
/// have nothing to do: written bytes are in the ring; the end closes when dropped). The
/// inherent [`read`](XbufStream::read) / [`write`](XbufStream::write) /
/// [`read_exact`](XbufStream::read_exact) / [`write_all`](XbufStream::write_all) return typed
/// errors ([`ErrorKind::Closed`] at the end) and take `&self`: one task may read while
/// another writes.
///
/// Known limit (host backend): a write waiting for room in a full ring is not woken when the
/// other end is dropped (the outgoing ring's write side never reports it); it stays pending.
///
/// `!Send`: it belongs to the executor it was created in (see the [module docs](super)).
#[derive(Debug)]
pub struct XbufStream<E: Borrow<XbufEnd> = XbufEnd> {
    // Declared before `end`: deregistered before the end's fds close.
    read: Registration,
    write: Registration,
    end: E,
}

impl<E: Borrow<XbufEnd>> XbufStream<E> {
    /// Registers both of the end's descriptors with the current executor's reactor.
    ///
    /// Errors: [`ErrorKind::Unsupported`] outside an executor;
    /// [`ErrorKind::CapacityExceeded`] when the reactor's fd slots are taken (it needs two).
    pub fn new(end: E) -> Result<Self> {
        const OP: &str = "XbufStream::new";
        let x = end.borrow();
        let read = Registration::new(x.read_fd(), OP)?;
        let write = Registration::new(x.write_fd(), OP)?;
        Ok(XbufStream { read, write, end })
    }

    /// The end, as given.
    pub fn get_ref(&self) -> &E {
        &self.end
    }

    /// The xbuf end.
    pub fn end(&self) -> &XbufEnd {
        self.end.borrow()
    }

    /// Deregisters the descriptors and gives the end back.
    pub fn into_inner(self) -> E {
        let XbufStream { read, write, end } = self;
        drop(read);
        drop(write);
        end
    }

    /// Reads at least one byte into `buf` (0 only when `buf` is empty), waiting for the other
    /// side while the ring is empty.
    ///
    /// Errors: [`ErrorKind::Closed`] when the ring is empty and the other end is gone.
    /// Cancel safety: safe (nothing is read unless it completes).
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let end = self.end.borrow();
        let mut claim = Claim::new(&self.read, Direction::Read);
        poll_fn(|cx| claim.poll_io(cx, "XbufStream::read", || end.try_read(buf))).await
    }

    /// Fills `buf` completely.
    ///
    /// Errors: as [`read`](XbufStream::read) (the bytes read before are lost to the caller).
    pub async fn read_exact(&self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.read(buf).await?;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Writes at least one byte of `buf` (0 only when `buf` is empty), waiting for room
    /// while the ring is full; returns how many.
    ///
    /// Errors: [`ErrorKind::Closed`] when the other end is gone.
    pub async fn write(&self, buf: &[u8]) -> Result<usize> {
        let end = self.end.borrow();
        let mut claim = Claim::new(&self.write, Direction::Write);
        poll_fn(|cx| claim.poll_io(cx, "XbufStream::write", || end.try_write(buf))).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    fn poll_read_inner(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let end = self.end.borrow();
        self.read.poll_io(
            Direction::Read,
            cx,
            "XbufStream::poll_read",
            None,
            || match end.try_read(buf) {
                Err(e) if e.kind() == ErrorKind::Closed => Ok(0),
                r => r,
            },
        )
    }

    fn poll_write_inner(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let end = self.end.borrow();
        self.write
            .poll_io(Direction::Write, cx, "XbufStream::poll_write", None, || {
                end.try_write(buf)
            })
    }
}

impl<E: Borrow<XbufEnd>> futures_io::AsyncRead for XbufStream<E> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        self.into_ref()
            .get_ref()
            .poll_read_inner(cx, buf)
            .map_err(std::io::Error::from)
    }
}

impl<E: Borrow<XbufEnd>> futures_io::AsyncWrite for XbufStream<E> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.into_ref()
            .get_ref()
            .poll_write_inner(cx, buf)
            .map_err(std::io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
