//! Readiness-based I/O on the executor: fds, byte streams, notification streams, and EVL
//! elements awaited without blocking the executor thread.
//!
//! | item | what |
//! |---|---|
//! | [`AsyncFd`] | any `AsFd` registered in the current executor's reactor: [`readable`](AsyncFd::readable) / [`writable`](AsyncFd::writable), `try_io`, `poll_*_ready`; `AsyncRead`/`AsyncWrite` for sockets, pipes and files |
//! | [`XbufStream`] | an [`XbufEnd`](crate::core::XbufEnd) as an async byte stream (`AsyncRead` + `AsyncWrite`) |
//! | [`AsyncProxy`] | a [`Proxy`](crate::core::Proxy) as an `AsyncWrite` that waits for room instead of dropping |
//! | [`Notifications`] | an observable [`Subscriber`](crate::core::Subscriber) as a `Stream` of notifications |
//! | [`TimerTicks`] | an evl-core [`Timer`](crate::core::Timer) as a `Stream` of expiration counts |
//! | [`AsyncSemaphore`], [`AsyncFlags`] | `get().await`, `wait(bits, mode).await` on EVL elements |
//!
//! ## How a wait goes
//! Every operation first tries the non-blocking form (`try_read`, `try_get`, `try_wait`, a
//! read on an `O_NONBLOCK` fd). Only when that says [`WouldBlock`](ErrorKind::WouldBlock)
//! does the task forget the fd's readiness and hand its waker to the reactor, which arms the
//! fd (one-shot) in the executor's one poll set. When the executor has nothing else to run it
//! makes its one blocking call; a post from another thread or process makes the element's fd
//! readable, the reactor wakes the task, and the task retries. No helper thread is involved,
//! and one executor thread waits for any number of elements, fds and timers at once.
//!
//! ## Where these objects live
//! Each object registers its fd(s) with the reactor of the executor it is created in, so it
//! must be created inside that executor (in a task, or in the future given to
//! [`Executor::block_on`](crate::Executor::block_on)): elsewhere creation fails with
//! [`ErrorKind::Unsupported`]. It is `!Send` (as are the
//! futures that borrow it, like the timer futures): it belongs to that executor's thread.
//! Using it while another executor is current fails with `Unsupported` as well.
//!
//! Dropping it deregisters its fd(s), before the fd is closed, *if its executor is current*
//! (in a task, in `block_on`, or while the executor shuts down and drops its tasks). Dropped
//! anywhere else (moved out of `block_on`, then dropped) it cannot reach the reactor: the
//! registration slot stays taken until the executor itself is dropped (a warning is
//! logged through `tracing`). The reactor is never touched after it is gone: every access
//! goes through [`evl_reactor::with_current`] and compares the current reactor's
//! [`id`](evl_reactor::Reactor::id) with the one registered with.
//!
//! ## One waiter per direction
//! A registration keeps one waker per direction. The futures of this module
//! ([`AsyncFd::readable`], [`AsyncSemaphore::get`], ...) claim their direction while they
//! wait: a second future waiting in the same direction of the *same object* at the same time
//! fails with [`ErrorKind::CapacityExceeded`] instead of
//! silently taking the first one's wakeup. Give each waiting task its own object; wrappers
//! take the element by `Borrow` (`&Semaphore`, `Arc<Semaphore>`, ...) so that several can wrap
//! one element, and an fd that is already registered in the same executor is duplicated
//! (`dup`) for the second registration. The `poll_*` methods do not claim (the last waker
//! polled gets the wakeup, as with any poll-style API); they fail if a future holds the claim.
//!
//! ## Errors
//! Typed [`Error`]s everywhere, except in the `futures-io` trait
//! implementations, which must return `std::io::Error` (converted from the typed error).
//! A full reactor ([`ExecutorConfig::fds`](crate::ExecutorConfig::fds)) gives `CapacityExceeded`.

mod element;
mod fd;
mod proxy;
pub(crate) mod registration;
mod stream;
mod xbuf;

pub use element::{AsyncFlags, AsyncSemaphore, DEFAULT_RECHECK};
pub use evl_reactor::Direction;
pub use fd::{AsyncFd, Ready, ReadyGuard, TryIoError};
pub use futures_core::Stream;
pub use futures_io::{AsyncRead, AsyncWrite};
pub use proxy::{AsyncProxy, PROXY_CHUNK};
pub use stream::{Notifications, TimerTicks};
pub use xbuf::XbufStream;

use crate::core::{Error, ErrorKind};

/// Errors that can say "the operation would block": what [`AsyncFd::try_io`] and friends
/// look for to forget readiness and wait again.
pub trait WouldBlock {
    /// True for evl's [`ErrorKind::WouldBlock`] / std's `io::ErrorKind::WouldBlock`.
    fn would_block(&self) -> bool;
}

impl WouldBlock for Error {
    fn would_block(&self) -> bool {
        self.kind() == ErrorKind::WouldBlock
    }
}

impl WouldBlock for std::io::Error {
    fn would_block(&self) -> bool {
        self.kind() == std::io::ErrorKind::WouldBlock
    }
}
