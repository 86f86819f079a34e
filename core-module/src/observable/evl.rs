//! Observable on the EVL core.
//!
//! What the core gives (kernel/evl/observable.c, ABI 36): writing whole `evl_notice`s
//! (`write` or `oob_write`) pushes each one, stamped with a serial, the writer's tid and one
//! monotonic date per write call, to every observer's backlog that has room (broadcast
//! mode); the call returns the bytes of the notices that reached at least one observer. A
//! notice that finds a backlog full is dropped for that observer, silently: the core counts
//! nothing, but the serial moved on, so the observer sees a gap. Observers are *threads*:
//! `EVL_OBSIOC_SUBSCRIBE` subscribes the calling thread (attached or not), at most once per
//! observable, and a read returns the calling thread's notifications. The serial is 32-bit.
//! Releasing any file of the observable (the last close of one `open`) unbinds every
//! observer of it, in every process.
//!
//! How the documented API is built on that:
//! - a `Subscriber` is the subscribing thread's subscription: it reads there only (other
//!   threads get `InvalidArgument`), a thread subscribes at most once to one
//!   observable (`AlreadyExists`), and dropping it unsubscribes only when done on
//!   that thread (elsewhere the core keeps the subscription until the thread exits);
//! - `Subscriber::lost` adds up the serial gaps seen while reading: a loss shows once a
//!   later notification has been read; serials are widened to 64 bits by counting wraps;
//! - the handles of one `create`/`open` share one descriptor (kept `O_NONBLOCK`), so
//!   dropping the `Observable` while subscribers live does not release the file; it sets a
//!   flag and rings a bell that wakes their waits, after which they read their backlog, then
//!   `Closed`;
//! - blocking and timed reads wait with `poll(2)` (threads not attached) or an EVL poll set
//!   with an absolute timeout (attached threads), as the core's read takes no timeout;
//! - attached threads update and read out-of-band, others in-band (as libevl does).

use super::types::{Notice, Notification};
use crate::backend::evl::current::current;
use crate::backend::evl::file::{
    clone_fd, inband_wait, io_error, set_nonblock, Bell, OobWait, Woke,
};
use crate::backend::evl::{abi36, sys};
use crate::error::{errno, Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Notices sent per system call: one date for all notices of an update of up to this many.
const UPDATE_BATCH: usize = 64;
/// Notifications read per system call.
const READ_BATCH: usize = 32;
/// No notification read yet.
const NONE: u64 = u64::MAX;

#[derive(Debug)]
struct Shared {
    bell: Bell,
    /// The `Observable` handle is gone (this process's view of the close).
    closed: AtomicBool,
    /// Subscribers made through this handle and not dropped.
    subscribers: AtomicUsize,
    fd: OwnedFd,
}

/// An EVL observable handle (created, or opened by name).
#[derive(Debug)]
pub(crate) struct Observable {
    shared: Arc<Shared>,
}

/// One thread's subscription.
#[derive(Debug)]
pub(crate) struct Subscriber {
    wait: OobWait,
    owner: libc::pthread_t,
    backlog: usize,
    /// The widened serial of the last notification read, or [`NONE`].
    last: AtomicU64,
    lost: AtomicU64,
    shared: Arc<Shared>,
}

fn attached() -> bool {
    current().is_some()
}

fn wrap(fd: OwnedFd, op: &'static str) -> Result<Observable> {
    set_nonblock(fd.as_fd(), op)?;
    Ok(Observable {
        shared: Arc::new(Shared {
            bell: Bell::new(op)?,
            closed: AtomicBool::new(false),
            subscribers: AtomicUsize::new(0),
            fd,
        }),
    })
}

/// A new observable, public (`/dev/evl/observable/<name>`) when `name` is given.
pub(crate) fn create(name: Option<&str>) -> Result<Observable> {
    const OP: &str = "Observable::create";
    // SAFETY: the observable class takes no attributes (0).
    let fd = unsafe {
        clone_fd(
            abi36::EVL_OBSERVABLE_CLONE_DEV_C,
            abi36::EVL_OBSERVABLE_DEV,
            name,
            0,
            if name.is_some() {
                abi36::EVL_CLONE_PUBLIC
            } else {
                abi36::EVL_CLONE_PRIVATE
            },
            &[(
                libc::EEXIST,
                None,
                "a public observable of this name exists: open it with Observable::open, or \
                 pick another name",
            )],
            OP,
        )
    }?;
    wrap(fd, OP)
}

/// Opens the public observable `name`.
pub(crate) fn open(name: &str) -> Result<Observable> {
    const OP: &str = "Observable::open";
    let fd = sys::open_element(abi36::EVL_OBSERVABLE_DEV, name, OP)?;
    wrap(fd, OP)
}

impl Observable {
    pub(crate) fn update(&self, notices: &[Notice]) -> Result<usize> {
        const OP: &str = "Observable::update";
        let oob = attached();
        let fd = self.shared.fd.as_raw_fd();
        let mut queued = 0;
        for chunk in notices.chunks(UPDATE_BATCH) {
            let mut raw = [abi36::EvlNotice::default(); UPDATE_BATCH];
            for (r, n) in raw.iter_mut().zip(chunk) {
                *r = abi36::EvlNotice {
                    tag: n.tag,
                    event: abi36::EvlValue::from_i64(n.value as i64),
                };
            }
            let bytes = chunk.len() * core::mem::size_of::<abi36::EvlNotice>();
            // SAFETY: the notices are plain old data (integers and an 8-byte union stored as
            // bytes, padding included in the zeroed default), so viewing `raw` as bytes is
            // sound; `bytes` is within its size.
            let buf = unsafe { core::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), bytes) };
            let r = if oob {
                sys::oob_write(fd, buf)
            } else {
                // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call.
                let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(errno())
                } else {
                    Ok(n as usize)
                }
            };
            match r {
                Ok(n) => queued += n / core::mem::size_of::<abi36::EvlNotice>(),
                Err(libc::EAGAIN) => {}
                Err(e) => return Err(io_error(e, OP)),
            }
        }
        Ok(queued)
    }

    pub(crate) fn subscribe(&self, backlog: usize) -> Result<Subscriber> {
        const OP: &str = "Observable::subscribe";
        // Its poll group is opened now (in-band, as subscribing is), not on the first wait.
        let wait = OobWait::new(
            self.shared.fd.as_raw_fd(),
            libc::POLLIN,
            Some(&self.shared.bell),
            OP,
        )?;
        let sub = abi36::EvlSubscription {
            backlog_count: backlog as u32,
            flags: abi36::EVL_NOTIFY_ALWAYS,
        };
        // SAFETY: EVL_OBSIOC_SUBSCRIBE reads one EvlSubscription at the address passed,
        // `sub`, live for the call. The core serves it in-band only.
        unsafe {
            sys::ioctl(
                self.shared.fd.as_raw_fd(),
                abi36::EVL_OBSIOC_SUBSCRIBE,
                &sub as *const abi36::EvlSubscription as usize,
            )
        }
        .map_err(|e| match e {
            libc::EEXIST => Error::new(
                ErrorKind::AlreadyExists,
                OP,
                "on the EVL backend a thread holds at most one subscription to an observable: \
                 subscribe from another thread",
            ),
            libc::ENOMEM => Error::new(
                ErrorKind::CapacityExceeded,
                OP,
                "the core has no memory for this backlog",
            ),
            e => Error::from_errno(e, OP, "the core refused the subscription"),
        })?;
        self.shared.subscribers.fetch_add(1, Ordering::SeqCst);
        Ok(Subscriber {
            wait,
            // SAFETY: pthread_self has no preconditions.
            owner: unsafe { libc::pthread_self() },
            backlog,
            last: AtomicU64::new(NONE),
            lost: AtomicU64::new(0),
            shared: self.shared.clone(),
        })
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.shared.subscribers.load(Ordering::SeqCst)
    }
}

impl Drop for Observable {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.bell.ring();
    }
}

const TIMEOUT_HINT: &str = "no notification came before the deadline";

impl Subscriber {
    fn fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }

    fn check_owner(&self, op: &'static str) -> Result<()> {
        // SAFETY: pthread_self and pthread_equal have no preconditions.
        if unsafe { libc::pthread_equal(self.owner, libc::pthread_self()) } == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "on the EVL backend a subscription belongs to the thread that subscribed: read \
                 it on that thread (subscribe from the reading thread)",
            ));
        }
        Ok(())
    }

    /// One non-blocking read of up to `out.len()` notifications (at most a batch).
    /// `Ok(0)`: nothing pending.
    fn read_once(&self, out: &mut [Notification], op: &'static str) -> Result<usize> {
        let want = out.len().min(READ_BATCH);
        let mut raw = [abi36::EvlNotification::default(); READ_BATCH];
        let size = core::mem::size_of::<abi36::EvlNotification>();
        // SAFETY: EvlNotification is plain old data, so the core may fill `raw` as bytes;
        // the byte view covers `want` whole entries of the array.
        let buf =
            unsafe { core::slice::from_raw_parts_mut(raw.as_mut_ptr().cast::<u8>(), want * size) };
        let r = if attached() {
            sys::oob_read(self.fd(), buf)
        } else {
            // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the call.
            let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(errno())
            } else {
                Ok(n as usize)
            }
        };
        let n = match r {
            Ok(n) => n / size,
            Err(libc::EAGAIN) => return Ok(0),
            Err(libc::EBADF) => {
                return Err(Error::new(
                    ErrorKind::Closed,
                    op,
                    "the core ended this subscription: a handle of the observable was closed",
                ))
            }
            Err(libc::ENXIO) => {
                return Err(Error::new(
                    ErrorKind::Closed,
                    op,
                    "the core has no subscription of this thread to the observable any more",
                ))
            }
            Err(e) => return Err(io_error(e, op)),
        };
        let mut last = self.last.load(Ordering::Relaxed);
        for (o, r) in out.iter_mut().zip(&raw[..n]) {
            let serial = if last == NONE {
                u64::from(r.serial)
            } else {
                let s = last + u64::from(r.serial.wrapping_sub(last as u32));
                if s > last + 1 {
                    self.lost.fetch_add(s - last - 1, Ordering::Relaxed);
                }
                s
            };
            last = serial;
            let date = (r.date.tv_sec.max(0) as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(r.date.tv_nsec.max(0) as u64);
            *o = Notification {
                tag: r.tag,
                value: r.event.lval() as u64,
                serial,
                issuer: r.issuer as u32,
                date: Timestamp::from_nanos(date),
            };
        }
        self.last.store(last, Ordering::Relaxed);
        Ok(n)
    }

    fn try_read_as(&self, out: &mut [Notification], op: &'static str) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut got = self.read_once(out, op)?;
        while got > 0 && got < out.len() && got % READ_BATCH == 0 {
            let more = self.read_once(&mut out[got..], op)?;
            if more == 0 {
                break;
            }
            got += more;
        }
        if got > 0 {
            return Ok(got);
        }
        if self.shared.closed.load(Ordering::SeqCst) {
            // Updates made before the close are in the backlog already: read once more.
            let n = self.read_once(out, op)?;
            if n > 0 {
                return Ok(n);
            }
            return Err(Error::new(
                ErrorKind::Closed,
                op,
                "the observable was dropped and this subscriber's backlog is empty",
            ));
        }
        Err(Error::new(
            ErrorKind::WouldBlock,
            op,
            "no notification is pending",
        ))
    }

    pub(crate) fn try_read(&self, out: &mut [Notification]) -> Result<usize> {
        const OP: &str = "Subscriber::try_read";
        self.check_owner(OP)?;
        self.try_read_as(out, OP)
    }

    pub(crate) fn read(
        &self,
        out: &mut [Notification],
        deadline: Option<Timestamp>,
    ) -> Result<usize> {
        let op = if deadline.is_some() {
            "Subscriber::read_until"
        } else {
            "Subscriber::read"
        };
        self.check_owner(op)?;
        loop {
            match self.try_read_as(out, op) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                r => return r,
            }
            // Ready or bell: either way read again (a close shows there).
            let _: Woke = if attached() {
                self.wait.wait(deadline, op, TIMEOUT_HINT)?
            } else {
                inband_wait(
                    self.fd(),
                    libc::POLLIN,
                    Some(&self.shared.bell),
                    deadline,
                    op,
                    TIMEOUT_HINT,
                )?
            };
        }
    }

    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    pub(crate) fn backlog(&self) -> usize {
        self.backlog
    }

    pub(crate) fn poll_fd(&self) -> BorrowedFd<'_> {
        self.shared.fd.as_fd()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.shared.subscribers.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: pthread_self and pthread_equal have no preconditions.
        if unsafe { libc::pthread_equal(self.owner, libc::pthread_self()) } != 0 {
            // SAFETY: EVL_OBSIOC_UNSUBSCRIBE takes no argument; it cancels the calling
            // thread's subscription, which is this one.
            let _ = unsafe { sys::ioctl(self.fd(), abi36::EVL_OBSIOC_UNSUBSCRIBE, 0) };
        }
    }
}
