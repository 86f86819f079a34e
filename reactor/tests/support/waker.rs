//! Fixtures of the reactor tests: the host backend with the calling thread attached, and a
//! waker that counts its wakes.
//!
//! Included by `#[path]` from several test binaries; each uses a part of it.
#![allow(dead_code)]

use evl_reactor::core::backend::{self, Backend, Selection};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// The host backend, with the calling thread attached as `name` (waits and poll sets need
/// it, as on EVL).
pub fn host(name: &str) -> evl_reactor::core::Thread {
    let _ = backend::select(Selection::Force(Backend::Host));
    evl_reactor::core::Thread::attach(evl_reactor::core::ThreadConfig::new(name).lock_memory(false))
        .unwrap()
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct Count(pub AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A counting waker and its count.
pub fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count::default());
    (c.clone(), Waker::from(c))
}
