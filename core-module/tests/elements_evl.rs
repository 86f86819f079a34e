//! The element suite on the real EVL core. Without `/dev/evl/control` every test says it was
//! skipped (on the terminal, past the output capture) and returns.

mod suite;

use evl_core::backend::{self, evl, Backend, Selection};

fn setup() -> bool {
    if !std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        suite::notice(
            "SKIPPED (evl backend): no EVL core on this machine (/dev/evl/control missing)",
        );
        return false;
    }
    match backend::select(Selection::Force(Backend::Evl)) {
        Ok(_) => true,
        Err(e) => panic!("an EVL core is present but unusable: {e}"),
    }
}

all_suite_tests!(setup);
