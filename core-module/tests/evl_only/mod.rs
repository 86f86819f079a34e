//! Set-up shared by the EVL-only test binaries: they run against the real core when
//! `/dev/evl/control` exists and say they were skipped otherwise.

use evl_core::backend::{self, evl, Backend, Selection};

/// Selects the EVL backend and returns true, or prints a SKIPPED line (past libtest's output
/// capture, so it shows in every run) and returns false when there is no core.
pub fn setup() -> bool {
    if !std::path::Path::new(evl::CONTROL_DEVICE).exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (evl only): no EVL core on this machine (/dev/evl/control missing)"
        );
        return false;
    }
    backend::select(Selection::Force(Backend::Evl)).expect("an EVL core is present but unusable");
    true
}
