//! Ordinary fds (pipes, sockets) can be awaited only where the poll sets watch them: on the
//! host backend. The EVL core's poll sets watch EVL files only (elements, xbuf and proxy
//! ends, out-of-band drivers and sockets), and the runtime refuses an ordinary fd there with
//! `Unsupported`, naming the Proxy bridge (checked in `io.rs`). Tests of the fd machinery
//! that use pipes and sockets run on the host and say they were skipped on the core; the
//! same paths run on an EVL file in `steady_state.rs` on both backends.

/// Whether this test can use ordinary fds here; prints why not when it cannot.
pub fn ordinary_fds(test: &str) -> bool {
    if evl::core::backend::current().ok() == Some(evl::Backend::Evl) {
        eprintln!(
            "SKIPPED (host only) {test}: the EVL core's poll sets watch EVL files only; \
             pipes and sockets are refused there (see io.rs)"
        );
        return false;
    }
    true
}
