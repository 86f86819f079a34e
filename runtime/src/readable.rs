//! Awaiting "this fd is readable" on the current executor's reactor (internal; the public
//! form is `evl::io::AsyncFd`).

use crate::core::{Error, ErrorKind, Result};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::{with_current, Direction, Token};
use std::os::fd::RawFd;

/// Completes once `fd` is readable. `!Send`: it belongs to the executor that polls it.
#[derive(Debug)]
pub(crate) struct Readable {
    fd: RawFd,
    /// The registration: (reactor id, token), made on first poll.
    reg: Option<(u64, Token)>,
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Readable {
    /// `fd` must stay open until this future is dropped.
    pub(crate) fn new(fd: RawFd) -> Self {
        Readable {
            fd,
            reg: None,
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Future for Readable {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let fd = self.fd;
        let reg = self.reg;
        let r = with_current(|r| {
            let token = match reg {
                Some((id, t)) if id == r.id() => t,
                _ => {
                    // SAFETY: the caller keeps `fd` open while this future lives (new()'s
                    // contract), and we deregister before we go.
                    let t = r.register(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })?;
                    self.reg = Some((r.id(), t));
                    t
                }
            };
            match r.poll_ready(token, Direction::Read, cx.waker()) {
                Poll::Ready(Ok(())) => Ok(true),
                Poll::Ready(Err(e)) => Err(e),
                Poll::Pending => Ok(false),
            }
        });
        match r {
            Some(Ok(true)) => Poll::Ready(Ok(())),
            Some(Ok(false)) => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => Poll::Ready(Err(Error::new(
                ErrorKind::Unsupported,
                "evl: awaiting an fd",
                "await it inside an evl executor (Executor::block_on or a spawned task)",
            ))),
        }
    }
}

impl Drop for Readable {
    fn drop(&mut self) {
        if let Some((id, t)) = self.reg {
            // Only through the very reactor we registered with, if it is current; otherwise it
            // is gone (nothing to undo) or on no thread we may touch.
            with_current(|r| {
                if r.id() == id {
                    r.deregister(t);
                }
            });
        }
    }
}
