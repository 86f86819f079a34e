//! Shared helpers of the example programs (see `examples/`).
