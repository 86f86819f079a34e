//! Public host elements are shared across processes (see `cross_process`).

mod cross_process;

use evl_core::Backend;

#[test]
fn child_side() {
    cross_process::child(Backend::Host);
}

#[test]
fn parent_and_child_share_elements_by_name() {
    cross_process::parent(Backend::Host, "child_side");
}
