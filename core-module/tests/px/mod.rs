//! Behaviour tests of `Proxy`, `Xbuf` and `Observable`, written once and run per backend:
//! tests/{proxy,xbuf,observable}.rs on the host backend, tests/evl_px.rs on the EVL core.
//! Each case takes `evl: bool`; where the EVL backend's documented semantics differ (see the
//! types' docs), the case says so and checks the EVL behaviour.

#![allow(dead_code)]

pub mod observable;
pub mod proxy;
pub mod xbuf;

use evl_core::backend::{self, evl, Backend, Selection};
use evl_core::{Thread, ThreadConfig};
use std::sync::atomic::{AtomicUsize, Ordering};

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[test]
fn the_allocation_counter_counts() {
    use evl_alloc_count::allocations_in;
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 8]))) >= 1);
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box([1u8; 8]);
        }),
        0
    );
}

/// Writes past libtest's output capture.
pub fn notice(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The host backend: always there.
pub fn host() -> Option<bool> {
    backend::select(Selection::Force(Backend::Host)).expect("the host backend is available");
    Some(false)
}

/// The EVL backend when this machine has a core; `None` (after saying so) otherwise.
pub fn evl() -> Option<bool> {
    if !std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        notice("SKIPPED (evl backend): no EVL core on this machine (/dev/evl/control missing)");
        return None;
    }
    match backend::select(Selection::Force(Backend::Evl)) {
        Ok(_) => Some(true),
        Err(e) => panic!("an EVL core is present but unusable: {e}"),
    }
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or concurrent run) uses.
pub fn unique(tag: &str) -> String {
    format!(
        "px-{tag}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Attaches the calling thread (both backends keep the EVL core's rule: the real-time end's
/// calls need an attached caller) unless it is attached already; keep the result alive.
pub fn attach_test_thread() -> Option<Thread> {
    if !Thread::is_attached() {
        Some(
            Thread::attach(ThreadConfig::new(&unique("t")).lock_memory(false))
                .expect("attach a test thread"),
        )
    } else {
        None
    }
}

/// `std::thread::spawn`, attached.
pub fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let _attached = attach_test_thread();
        f()
    })
}

/// Instantiates cases of one element module in the calling test binary: `$setup()` says
/// whether to run (`Some(evl)`) or not (`None`); the test thread is attached on EVL.
#[macro_export]
macro_rules! px_tests {
    ($setup:path; $m:ident; $($name:ident),* $(,)?) => {
        mod $m {
            $(
                #[test]
                fn $name() {
                    if let Some(evl) = $setup() {
                        let _attached = $crate::px::attach_test_thread();
                        $crate::px::$m::$name(evl);
                    }
                }
            )*
        }
    };
}
