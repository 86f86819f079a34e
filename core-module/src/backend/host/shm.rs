//! Where host element state lives: on the heap for private elements, in a `MAP_SHARED`
//! mapping of a file under `/dev/shm` for public ones, so other processes can open them by
//! name. Plus the doorbell that makes a futex-based element pollable.

use super::sys::{self, Scope};
use crate::error::{Error, ErrorKind, Result};
use crate::name::Name;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// The directory that holds public host elements.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// Marks a state block fully initialised (written last by the creator).
const READY: u32 = 0x45564c31; // "EVL1"

/// The first field of every state block that may be shared.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Header {
    magic: AtomicU32,
    kind: AtomicU32,
}

/// A state block made only of atomics, for which all-zero bytes are a valid value.
///
/// # Safety
/// Implementors must be `repr(C)`, start with a [`Header`], contain only atomics (or arrays
/// of them), and be valid when every byte is zero.
pub(crate) unsafe trait SharedState: Sync + Sized + 'static {
    /// A zero-valued instance, for the heap.
    fn zeroed() -> Self;
    /// The header.
    fn header(&self) -> &Header;
}

/// The path of a public element's file: `/dev/shm/evl.<class>.<name><suffix>`.
pub(crate) fn public_path(class: &str, name: Name<'_>, suffix: &str) -> CString {
    let s = format!("{SHM_DIR}/evl.{class}.{}{suffix}", name.as_str());
    CString::new(s).expect("validated names hold no NUL")
}

enum Backing {
    Heap,
    Mapped { unlink: Option<CString> },
}

/// Owner of a state block, private or public.
pub(crate) struct Shared<T: SharedState> {
    ptr: NonNull<T>,
    backing: Backing,
}

// SAFETY: `T: Sync` and made of atomics; the block is only reached through `&T`, and the
// backing (a Box or a mapping) may be released from any thread.
unsafe impl<T: SharedState> Send for Shared<T> {}
// SAFETY: sharing `&Shared<T>` across threads only hands out `&T` (never `&mut T`), which is
// sound because `T: Sync` (a block of atomics); the backing is not touched through `&self`.
unsafe impl<T: SharedState> Sync for Shared<T> {}

impl<T: SharedState> Shared<T> {
    /// A private block on the heap, initialised by `init` and tagged with `kind`.
    pub(crate) fn private(kind: u32, init: impl FnOnce(&T)) -> Self {
        let b = Box::new(T::zeroed());
        init(&b);
        b.header().kind.store(kind, Ordering::Relaxed);
        b.header().magic.store(READY, Ordering::Release);
        Shared {
            ptr: NonNull::from(Box::leak(b)),
            backing: Backing::Heap,
        }
    }

    /// Creates the public block `class`/`name`; fails with `AlreadyExists` if it exists.
    pub(crate) fn create_public(
        class: &str,
        name: Name<'_>,
        kind: u32,
        op: &'static str,
        init: impl FnOnce(&T),
    ) -> Result<Self> {
        let path = public_path(class, name, "");
        // SAFETY: `path` is NUL-terminated; open has no other memory effects.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o660 as libc::c_uint,
            )
        };
        let fd = sys::owned_fd(
            fd,
            op,
            "a public element with this name already exists: open it, or pick another name",
        )
        .map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                e
            } else {
                e.with_hint("cannot create the element's file under /dev/shm")
            }
        })?;
        let size = core::mem::size_of::<T>();
        // SAFETY: `fd` is a valid descriptor of a regular file we just created.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
            let e = Error::last_os_error(op, "cannot size the element's file under /dev/shm");
            // SAFETY: `path` is NUL-terminated.
            unsafe { libc::unlink(path.as_ptr()) };
            return Err(e);
        }
        let ptr = match map::<T>(fd.as_fd(), op) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: `path` is NUL-terminated.
                unsafe { libc::unlink(path.as_ptr()) };
                return Err(e);
            }
        };
        let shared = Shared {
            ptr,
            backing: Backing::Mapped { unlink: Some(path) },
        };
        init(shared.get());
        shared.get().header().kind.store(kind, Ordering::Relaxed);
        // Not ready yet: the caller publishes once everything an opener needs (its bell)
        // exists.
        Ok(shared)
    }

    /// Makes a public block created by [`Shared::create_public`] visible to openers.
    pub(crate) fn publish(&self) {
        self.get().header().magic.store(READY, Ordering::Release);
    }

    /// Opens the public block `class`/`name`, checking it is of `kind`.
    pub(crate) fn open_public(
        class: &str,
        name: Name<'_>,
        kind: u32,
        op: &'static str,
        what: &'static str,
    ) -> Result<Self> {
        let path = public_path(class, name, "");
        // SAFETY: `path` is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        let fd = sys::owned_fd(
            fd,
            op,
            "no public element by this name: create it first, or check the name",
        )?;
        // The creator makes the file, then sizes it: an empty file may be one being created,
        // so wait briefly for its size before calling it the wrong kind.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        loop {
            let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
            // SAFETY: `st` is a writable stat buffer; fstat fills it on success.
            if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
                return Err(Error::last_os_error(op, ""));
            }
            // SAFETY: fstat returned 0, so `st` is initialised.
            let size = unsafe { st.assume_init() }.st_size as usize;
            if size == core::mem::size_of::<T>() {
                break;
            }
            if size != 0 || std::time::Instant::now() > deadline {
                return Err(Error::new(ErrorKind::InvalidArgument, op, what));
            }
            std::thread::yield_now();
        }
        let ptr = map::<T>(fd.as_fd(), op)?;
        let shared = Shared {
            ptr,
            backing: Backing::Mapped { unlink: None },
        };
        // The creator sizes the file before it initialises the block: wait briefly for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while shared.get().header().magic.load(Ordering::Acquire) != READY {
            if std::time::Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    op,
                    "the element's creator never finished initialising it",
                ));
            }
            std::thread::yield_now();
        }
        if shared.get().header().kind.load(Ordering::Relaxed) != kind {
            return Err(Error::new(ErrorKind::InvalidArgument, op, what));
        }
        Ok(shared)
    }

    /// The block.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: `ptr` points to a live, initialised `T` (a leaked Box or a mapping of at
        // least size_of::<T>() bytes) until `self` is dropped; only shared references exist.
        unsafe { self.ptr.as_ref() }
    }

    /// How futex operations on this block must be scoped.
    pub(crate) fn scope(&self) -> Scope {
        match self.backing {
            Backing::Heap => Scope::Process,
            Backing::Mapped { .. } => Scope::Shared,
        }
    }
}

fn map<T>(fd: BorrowedFd<'_>, op: &'static str) -> Result<NonNull<T>> {
    // SAFETY: mapping a file we hold open, of at least size_of::<T>() bytes, shared, with no
    // fixed address: the kernel picks a fresh range that aliases no Rust object.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            core::mem::size_of::<T>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Error::last_os_error(op, "cannot map the element's state"));
    }
    Ok(NonNull::new(p.cast()).expect("mmap never returns null on success"))
}

impl<T: SharedState> Drop for Shared<T> {
    fn drop(&mut self) {
        match &self.backing {
            // SAFETY: the pointer came from Box::leak in `private` and is released once.
            Backing::Heap => drop(unsafe { Box::from_raw(self.ptr.as_ptr()) }),
            Backing::Mapped { unlink } => {
                if let Some(path) = unlink {
                    // SAFETY: `path` is NUL-terminated.
                    unsafe { libc::unlink(path.as_ptr()) };
                }
                // SAFETY: unmapping exactly the range `map` returned; no reference into it
                // outlives `self`.
                unsafe { libc::munmap(self.ptr.as_ptr().cast(), core::mem::size_of::<T>()) };
            }
        }
    }
}

impl<T: SharedState> core::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared")
            .field("scope", &self.scope())
            .finish()
    }
}

/// A pollable level: readable exactly while the element it belongs to would not block a
/// waiter. Its owner rings and drains it under the element's lock, so the level tracks the
/// state. Private elements use an eventfd; public ones a FIFO beside the state file, which
/// every process that opens the element shares.
#[derive(Debug)]
pub(crate) struct Bell {
    fd: OwnedFd,
    /// A FIFO (public element) rather than an eventfd.
    is_fifo: bool,
    /// The FIFO's path, kept by the creator to remove it on drop.
    unlink: Option<CString>,
}

impl Bell {
    /// A private bell (eventfd).
    pub(crate) fn private(op: &'static str) -> Result<Self> {
        // SAFETY: eventfd has no memory effects.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        Ok(Bell {
            fd: sys::owned_fd(fd, op, "cannot create an eventfd (descriptor limit?)")?,
            is_fifo: false,
            unlink: None,
        })
    }

    /// The bell of public element `class`/`name`: created (`create`) or opened.
    pub(crate) fn public(
        class: &str,
        name: Name<'_>,
        create: bool,
        op: &'static str,
    ) -> Result<Self> {
        let path = public_path(class, name, ".bell");
        if create {
            // SAFETY: `path` is NUL-terminated.
            if unsafe { libc::mkfifo(path.as_ptr(), 0o660) } != 0 {
                return Err(Error::last_os_error(
                    op,
                    "cannot create the element's FIFO under /dev/shm",
                ));
            }
        }
        // O_RDWR on a FIFO never blocks on Linux and keeps it open for both directions.
        // SAFETY: `path` is NUL-terminated.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        let fd = sys::owned_fd(fd, op, "cannot open the element's FIFO under /dev/shm")?;
        Ok(Bell {
            fd,
            is_fifo: true,
            unlink: create.then_some(path),
        })
    }

    /// Makes the fd readable (one token).
    pub(crate) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        let buf: &[u8] = if self.is_fifo { &one[..1] } else { &one };
        let _ = sys::write_nb(self.fd.as_fd(), buf, "Bell::ring");
    }

    /// Makes the fd unreadable (takes the token).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        while matches!(sys::read_nb(self.fd.as_fd(), &mut buf, "Bell::drain"), Ok(n) if n > 0 && self.is_fifo)
        {
        }
    }

    /// The pollable descriptor.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        if let Some(path) = &self.unlink {
            // SAFETY: `path` is NUL-terminated.
            unsafe { libc::unlink(path.as_ptr()) };
        }
    }
}
