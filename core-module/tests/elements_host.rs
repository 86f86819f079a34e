//! The element suite on the host backend (stock / PREEMPT_RT Linux). Runs everywhere.

mod suite;

use evl_core::backend::{self, Backend, Selection};

fn setup() -> bool {
    backend::select(Selection::Force(Backend::Host)).expect("the host backend is always available");
    true
}

all_suite_tests!(setup);
