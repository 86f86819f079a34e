//! Readiness-based I/O on the executor (in progress).
