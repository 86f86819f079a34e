//! The in-band ends as tokio futures, a `Stream` and a `Sink` (feature `tokio`): the
//! descriptor in a `tokio::io::unix::AsyncFd`, driven by the readiness contract of
//! [`Receiver::poll_recv_io`] and [`Sender::poll_send_io`].

use super::error::{Closed, SendError};
use super::to_inband::Receiver;
use super::to_rt::Sender;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Registers an end's descriptor for readable with the current runtime's reactor.
fn register<E: AsRawFd>(end: E) -> io::Result<AsyncFd<E>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other(
            "not in a tokio runtime: create the async end inside one (e.g. in a task)",
        ));
    }
    // SAFETY: the end owns its descriptor (the wake-up pipe's read end) for its whole life
    // and always returns that one from as_raw_fd; the AsyncFd owns the end.
    Ok(unsafe { AsyncFd::register_with_interest(end, Interest::READABLE) }?)
}

/// A [`Receiver`] for a tokio task: [`recv`](AsyncReceiver::recv) and `Stream`.
#[derive(Debug)]
pub struct AsyncReceiver<T> {
    fd: AsyncFd<Receiver<T>>,
}

impl<T> AsyncReceiver<T> {
    /// Registers the receiver's descriptor with the current tokio runtime.
    ///
    /// Errors: outside a tokio runtime (with its I/O driver enabled), or when it refuses
    /// the descriptor.
    pub fn new(rx: Receiver<T>) -> io::Result<Self> {
        Ok(AsyncReceiver { fd: register(rx)? })
    }

    /// Takes the oldest value, or registers `cx`: `Ready(None)` once the real-time sender
    /// is gone and everything was received (or tokio's reactor failed).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            match self.fd.get_ref().poll_recv_io() {
                Ok(v) => return Poll::Ready(v),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(None),
            }
            // Armed and drained: the descriptor becomes readable when there is news.
            match ready!(self.fd.poll_read_ready(cx)) {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => return Poll::Ready(None),
            }
        }
    }

    /// The oldest value, waiting for one: `None` once the sender is gone and everything
    /// was received. Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The receiver (deregistered from tokio).
    pub fn into_inner(self) -> Receiver<T> {
        self.fd.into_inner()
    }

    /// The receiver, for its counters.
    pub fn get_ref(&self) -> &Receiver<T> {
        self.fd.get_ref()
    }
}

impl<T> futures_core::Stream for AsyncReceiver<T> {
    type Item = T;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

// The value in `pending` is never pinned.
impl<T> Unpin for AsyncSender<T> {}

/// A [`Sender`] for a tokio task: [`send`](AsyncSender::send) and `Sink`.
#[derive(Debug)]
pub struct AsyncSender<T> {
    fd: AsyncFd<Sender<T>>,
    /// The value a `Sink::start_send` handed over, until it fits.
    pending: Option<T>,
}

impl<T> AsyncSender<T> {
    /// Registers the sender's descriptor with the current tokio runtime.
    ///
    /// Errors: outside a tokio runtime (with its I/O driver enabled), or when it refuses
    /// the descriptor.
    pub fn new(tx: Sender<T>) -> io::Result<Self> {
        Ok(AsyncSender {
            fd: register(tx)?,
            pending: None,
        })
    }

    /// Sends the value in `slot`, waiting while the ring is full.
    fn poll_send_slot(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        loop {
            match self.fd.get_ref().poll_send_io(&mut self.pending) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(Err(Closed)),
            }
            match ready!(self.fd.poll_read_ready(cx)) {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => return Poll::Ready(Err(Closed)),
            }
        }
    }

    /// Sends `v`, waiting while the ring is full.
    ///
    /// Errors: [`SendError`] (with the value) when the real-time receiver was dropped.
    /// Cancelling it after the first poll may have sent the value, or not.
    pub async fn send(&mut self, v: T) -> Result<(), SendError<T>> {
        if let Some(p) = self.pending.take() {
            // A value a cancelled send or the Sink left: it goes first.
            self.pending = Some(p);
            if core::future::poll_fn(|cx| self.poll_send_slot(cx))
                .await
                .is_err()
            {
                return Err(SendError(v));
            }
        }
        self.pending = Some(v);
        match core::future::poll_fn(|cx| self.poll_send_slot(cx)).await {
            Ok(()) => Ok(()),
            Err(Closed) => Err(SendError(self.pending.take().expect("kept on error"))),
        }
    }

    /// The sender (deregistered from tokio). A value the `Sink` still held is dropped.
    pub fn into_inner(self) -> Sender<T> {
        self.fd.into_inner()
    }
}

impl<T> futures_sink::Sink<T> for AsyncSender<T> {
    type Error = Closed;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        self.get_mut().poll_send_slot(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Closed> {
        let me = self.get_mut();
        debug_assert!(me.pending.is_none(), "start_send without poll_ready");
        me.pending = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        self.get_mut().poll_send_slot(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        self.get_mut().poll_send_slot(cx)
    }
}
