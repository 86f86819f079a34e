//! Shared measurement helpers of the benchmarks (see `benches/`).
