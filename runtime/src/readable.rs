//! Awaiting "this fd is readable" on the current executor's reactor (internal; the public
//! form is `evl::io::AsyncFd`). Built on [`Registration`], so it shares its lifetime argument
//! (reactor ids, never pointers) and its `dup` of an fd another waiter of the same executor
//! already registered.

use crate::core::Result;
use crate::io::registration::Registration;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::Direction;
use std::os::fd::{BorrowedFd, RawFd};

const OP: &str = "evl: awaiting an fd";

/// Completes once `fd` is readable. `!Send`: it belongs to the executor that polls it.
#[derive(Debug)]
pub(crate) struct Readable {
    fd: RawFd,
    /// Made on first poll, in the executor that polls.
    reg: Option<Registration>,
}

impl Readable {
    /// `fd` must stay open until this future is dropped.
    pub(crate) fn new(fd: RawFd) -> Self {
        Readable { fd, reg: None }
    }
}

impl Future for Readable {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.reg.is_none() {
            // SAFETY: the caller keeps `fd` open while this future lives (new()'s contract),
            // and the registration is dropped with the future.
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            match Registration::new(fd, OP) {
                Ok(r) => self.reg = Some(r),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let reg = self.reg.as_ref().expect("registered above");
        reg.poll_ready(Direction::Read, cx, OP)
    }
}
