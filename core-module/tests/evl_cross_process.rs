//! Public elements of the real EVL core are shared across processes (see `cross_process`):
//! a semaphore and a flag group created by name in one process, opened and awaited from
//! another. Without `/dev/evl/control` the test says it was skipped.

mod cross_process;

use evl_core::backend::evl;
use evl_core::Backend;

#[test]
fn child_side() {
    if std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        cross_process::child(Backend::Evl);
    }
}

#[test]
fn parent_and_child_share_elements_by_name() {
    if !std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (evl only): no EVL core on this machine (/dev/evl/control missing)"
        );
        return;
    }
    cross_process::parent(Backend::Evl, "child_side");
}
