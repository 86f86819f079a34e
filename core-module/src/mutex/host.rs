//! Mutexes on the host backend: a host monitor's priority-inheriting futex lock
//! ([`crate::backend::host::monitor`]).

use crate::backend::host::monitor::Monitor;
use crate::backend::host::sys::PiLock;

impl Monitor {
    /// The mutex's PI lock.
    pub(crate) fn gate_lock(&self) -> PiLock<'_> {
        PiLock::new(&self.s().gate, self.scope())
    }
}
