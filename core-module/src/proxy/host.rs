//! Host proxy: a pipe as the buffer, and a drainer thread that copies it to the target.
//!
//! Writers put bytes into the pipe's non-blocking write end (sized with `F_SETPIPE_SZ`); the
//! kernel keeps each non-blocking write contiguous and makes writes of up to `PIPE_BUF` bytes
//! all-or-nothing. A priority-inheriting lock orders the writers so that the `accepted`
//! counter always equals the length of the pipe's byte stream, which is what `flush` compares
//! with the drainer's `delivered` counter. The drainer is the one both backends use
//! ([`super::drain`]).

use super::drain::Drain;
use super::types::ProxyWrite;
use crate::backend::host::sys::{self, PiLock, Scope};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The host proxy.
#[derive(Debug)]
pub(crate) struct Proxy {
    drain: Arc<Drain>,
    /// Priority-inheriting lock word serialising writers.
    write_lock: AtomicU32,
    /// Bytes accepted into the pipe, in stream order (updated under `write_lock`).
    accepted: AtomicU64,
    /// The pipe's write end (O_NONBLOCK); `None` once dropping.
    tx: Option<OwnedFd>,
    drainer: Option<JoinHandle<()>>,
    capacity: usize,
}

impl Proxy {
    pub(crate) fn new(target: BorrowedFd<'_>, capacity: usize) -> Result<Proxy> {
        const OP: &str = "Proxy::new";
        let (rx, tx) = sys::pipe(0, OP)?;
        let capacity = sys::size_pipe(tx.as_fd(), capacity, OP)?;
        // SAFETY: F_SETFL with an int flag word on a descriptor we own.
        if unsafe { libc::fcntl(tx.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
            return Err(Error::last_os_error(
                OP,
                "cannot make the proxy's pipe non-blocking",
            ));
        }
        let (drain, drainer) = Drain::start(rx, target, OP)?;
        Ok(Proxy {
            drain,
            write_lock: AtomicU32::new(0),
            accepted: AtomicU64::new(0),
            tx: Some(tx),
            drainer: Some(drainer),
            capacity,
        })
    }

    fn tx(&self) -> BorrowedFd<'_> {
        self.tx
            .as_ref()
            .expect("the write end lives until drop")
            .as_fd()
    }

    pub(crate) fn write(&self, buf: &[u8]) -> Result<ProxyWrite> {
        const OP: &str = "Proxy::write";
        self.drain.check(OP)?;
        if buf.is_empty() {
            return Ok(ProxyWrite::default());
        }
        let lock = PiLock::new(&self.write_lock, Scope::Process);
        lock.lock(None, OP)?;
        let r = loop {
            match sys::write_nb(self.tx(), buf, OP) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(0),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        if let Ok(n) = r {
            self.accepted.fetch_add(n as u64, Ordering::SeqCst);
        }
        lock.unlock();
        let written = r?;
        let dropped = buf.len() - written;
        self.drain.add_dropped(dropped);
        Ok(ProxyWrite { written, dropped })
    }

    pub(crate) fn flush(&self, deadline: Option<Timestamp>) -> Result<()> {
        let goal = self.accepted.load(Ordering::SeqCst);
        self.drain.flush(|| goal, deadline)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.drain.dropped()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn write_fd(&self) -> BorrowedFd<'_> {
        self.tx()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Ask the drainer to deliver what was accepted, giving up on a target that stops
        // taking bytes ...
        self.drain.stop(self.accepted.load(Ordering::SeqCst));
        // ... and let it see end-of-file once it has read everything accepted.
        drop(self.tx.take());
        if let Some(t) = self.drainer.take() {
            let _ = t.join();
        }
    }
}
