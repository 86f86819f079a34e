//! Synchronisation between tasks (in progress).
