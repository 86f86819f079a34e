//! [`AsyncFd`]: any fd, registered with the current executor's reactor.

use super::registration::{Claim, Registration};
use super::WouldBlock;
use crate::core::{Error, Result};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use evl_reactor::Direction;
use std::os::fd::{AsFd, BorrowedFd};

/// An fd-owning object `T` registered with the reactor of the executor it was created in.
///
/// ```no_run
/// # async fn f() -> evl::Result<()> {
/// use evl::io::{AsyncFd, Direction};
/// use std::io::Read;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let a = AsyncFd::new_nonblocking(a)?; // inside a task or block_on
/// let mut buf = [0u8; 64];
/// let n = a.async_io(Direction::Read, |s| (&*s).read(&mut buf)).await.unwrap();
/// # let _ = n; Ok(()) }
/// ```
///
/// Readiness is a hint: an operation that returns "would block" after readiness was reported
/// clears it ([`try_io`](AsyncFd::try_io), [`ReadyGuard::try_io`]) and the next wait waits
/// for the fd again (on the host the fd is watched edge-triggered from registration on, so
/// waiting costs no system call; on EVL it is re-armed once per wait, out-of-band). For
/// `AsyncRead`/`AsyncWrite` (reads and writes straight on the fd, out-of-band on EVL: see
/// [`evl::core::io`](crate::core::io)) the fd must be non-blocking: build with
/// [`new_nonblocking`](AsyncFd::new_nonblocking). In your own [`async_io`](AsyncFd::async_io)
/// closures, use [`evl::core::io::read`](crate::core::io::read) and
/// [`write`](crate::core::io::write) to stay out-of-band on EVL (`std::io::Read` on a
/// `File` or socket is an in-band `read(2)`).
///
/// `!Send`: it belongs to its executor's thread (see the [module docs](super) for what
/// dropping it elsewhere does). Dropping it deregisters the fd, then drops `T` (closing it).
#[derive(Debug)]
pub struct AsyncFd<T: AsFd> {
    // Declared before `inner`: deregistered before the fd closes.
    reg: Registration,
    inner: T,
}

impl<T: AsFd> AsyncFd<T> {
    /// Registers `inner`'s fd with the current executor's reactor; the fd's mode is left as
    /// it is.
    ///
    /// Errors: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) outside an executor;
    /// [`ErrorKind::CapacityExceeded`](crate::ErrorKind::CapacityExceeded) when the reactor's
    /// fd slots are all taken ([`ExecutorConfig::fds`](crate::ExecutorConfig::fds)); the poll set's error
    /// for an fd it cannot watch (on the host, epoll refuses regular files:
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)).
    pub fn new(inner: T) -> Result<Self> {
        let reg = Registration::new(inner.as_fd(), "AsyncFd::new")?;
        Ok(AsyncFd { reg, inner })
    }

    /// Sets `O_NONBLOCK` on `inner`'s fd (a property of the open file description: every
    /// duplicate of the fd sees it), then registers it as [`new`](AsyncFd::new) does.
    pub fn new_nonblocking(inner: T) -> Result<Self> {
        set_nonblocking(inner.as_fd(), "AsyncFd::new_nonblocking")?;
        Self::new(inner)
    }

    /// The object.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The object, mutably (do not replace its fd).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Deregisters the fd and gives the object back.
    pub fn into_inner(self) -> T {
        let AsyncFd { reg, inner } = self;
        drop(reg);
        inner
    }

    /// Waits until the fd is readable; the guard tells the outcome of an operation back.
    /// Claims the read direction while waiting (see the [module docs](super)).
    pub fn readable(&self) -> Ready<'_, T> {
        self.ready(Direction::Read)
    }

    /// Waits until the fd is writable.
    pub fn writable(&self) -> Ready<'_, T> {
        self.ready(Direction::Write)
    }

    /// Waits until the fd is ready in direction `d`.
    pub fn ready(&self, d: Direction) -> Ready<'_, T> {
        Ready {
            fd: self,
            claim: Claim::new(&self.reg, d),
        }
    }

    /// Poll form of [`readable`](AsyncFd::readable): `Ready` with a guard, or `Pending` with
    /// the task's waker registered (the last waker polled in this direction is the one
    /// woken). Fails while a [`Ready`] future of this fd waits in this direction.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<Result<ReadyGuard<'_, T>>> {
        self.poll_ready(Direction::Read, cx)
    }

    /// Poll form of [`writable`](AsyncFd::writable).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<Result<ReadyGuard<'_, T>>> {
        self.poll_ready(Direction::Write, cx)
    }

    /// Poll form of [`ready`](AsyncFd::ready).
    pub fn poll_ready(
        &self,
        d: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ReadyGuard<'_, T>>> {
        self.reg
            .poll_ready(d, cx, "AsyncFd::poll_ready")
            .map(|r| r.map(|()| ReadyGuard { fd: self, dir: d }))
    }

    /// Forgets readiness in direction `d`: the next wait arms the fd again.
    pub fn clear_ready(&self, d: Direction) {
        self.reg.clear_ready(d);
    }

    /// Runs `f` once; if it says "would block", forgets readiness in direction `d` (so that
    /// the next wait arms the fd). Returns `f`'s result unchanged.
    pub fn try_io<R, E: WouldBlock>(
        &self,
        d: Direction,
        f: impl FnOnce(&T) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let r = f(&self.inner);
        if matches!(&r, Err(e) if e.would_block()) {
            self.reg.clear_ready(d);
        }
        r
    }

    /// Runs `f` until it does not say "would block", waiting for readiness in direction
    /// `d` in between (the fd must be non-blocking). Poll form: does not claim `d`.
    pub fn poll_io<R, E>(
        &self,
        d: Direction,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&T) -> core::result::Result<R, E>,
    ) -> Poll<core::result::Result<R, E>>
    where
        E: WouldBlock + From<Error>,
    {
        let inner = &self.inner;
        self.reg
            .poll_io(d, cx, "AsyncFd::poll_io", None, || f(inner))
    }

    /// Runs `f` until it does not say "would block", waiting for readiness in direction
    /// `d` in between (the fd must be non-blocking). Claims `d` while waiting.
    ///
    /// Cancel safety: as `f`'s (a dropped future never runs `f` again).
    pub async fn async_io<R, E>(
        &self,
        d: Direction,
        mut f: impl FnMut(&T) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E>
    where
        E: WouldBlock + From<Error>,
    {
        let mut claim = Claim::new(&self.reg, d);
        let inner = &self.inner;
        core::future::poll_fn(|cx| claim.poll_io(cx, "AsyncFd::async_io", || f(inner))).await
    }
}

impl<T: AsFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Sets `O_NONBLOCK` on `fd`'s open file description.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, op: &'static str) -> Result<()> {
    crate::core::process::set_nonblocking(fd).map_err(|e| Error::new(e.kind(), op, e.hint()))
}

/// Waits until an [`AsyncFd`] is ready in one direction; see [`AsyncFd::readable`].
/// `!Send`. Cancel safety: dropping it loses nothing (the readiness stays recorded).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Ready<'a, T: AsFd> {
    fd: &'a AsyncFd<T>,
    claim: Claim<'a>,
}

impl<'a, T: AsFd> Future for Ready<'a, T> {
    type Output = Result<ReadyGuard<'a, T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (fd, dir) = (this.fd, this.claim.dir());
        this.claim
            .poll_ready(cx, "AsyncFd::ready")
            .map(|r| r.map(|()| ReadyGuard { fd, dir }))
    }
}

/// The fd was reported ready in one direction. Run the operation through
/// [`try_io`](ReadyGuard::try_io), which forgets the readiness if the operation would block;
/// or forget it by hand with [`clear_ready`](ReadyGuard::clear_ready).
#[derive(Debug)]
pub struct ReadyGuard<'a, T: AsFd> {
    fd: &'a AsyncFd<T>,
    dir: Direction,
}

/// [`ReadyGuard::try_io`]'s "the operation would block": readiness was forgotten, wait again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryIoError(());

impl<'a, T: AsFd> ReadyGuard<'a, T> {
    /// The object.
    pub fn get_ref(&self) -> &'a T {
        &self.fd.inner
    }

    /// The direction that is ready.
    pub fn direction(&self) -> Direction {
        self.dir
    }

    /// Forgets the readiness: the next wait arms the fd.
    pub fn clear_ready(self) {
        self.fd.reg.clear_ready(self.dir);
    }

    /// Keeps the readiness (the default when the guard is dropped).
    pub fn retain_ready(self) {}

    /// Runs `f`; if it says "would block", forgets the readiness and returns
    /// `Err(TryIoError)`, else `Ok` with `f`'s result.
    pub fn try_io<R, E: WouldBlock>(
        &mut self,
        f: impl FnOnce(&'a T) -> core::result::Result<R, E>,
    ) -> core::result::Result<core::result::Result<R, E>, TryIoError> {
        match f(&self.fd.inner) {
            Err(e) if e.would_block() => {
                self.fd.reg.clear_ready(self.dir);
                Err(TryIoError(()))
            }
            r => Ok(r),
        }
    }
}

/// Reads from a non-blocking fd ([`AsyncFd::new_nonblocking`]); `Ok(0)` at end of file.
///
/// The read goes straight to the fd with [`evl::core::io::read`](crate::core::io::read):
/// `oob_read` when the executor thread is attached to the EVL core (so it stays out-of-band),
/// `read(2)` otherwise. One system call per read; `T`'s own `Read` is not used.
impl<T: AsFd> futures_io::AsyncRead for AsyncFd<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.into_ref().get_ref();
        let fd = this.inner.as_fd();
        this.reg
            .poll_io(Direction::Read, cx, "AsyncFd::poll_read", None, || {
                crate::core::io::read(fd, buf)
            })
    }
}

/// Writes to a non-blocking fd ([`AsyncFd::new_nonblocking`]), straight to the fd with
/// [`evl::core::io::write`](crate::core::io::write) (`oob_write` when the executor thread
/// is attached to the EVL core, `write(2)` otherwise). `poll_flush` and `poll_close`
/// have nothing to do (an fd has no user-space buffer): the fd closes when the `AsyncFd` is
/// dropped.
impl<T: AsFd> futures_io::AsyncWrite for AsyncFd<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.into_ref().get_ref();
        let fd = this.inner.as_fd();
        this.reg
            .poll_io(Direction::Write, cx, "AsyncFd::poll_write", None, || {
                crate::core::io::write(fd, buf)
            })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
