//! Events on the host backend: the GATED rules on a host monitor
//! ([`crate::backend::host::monitor`]), the gate being a mutex's PI lock.

use crate::backend::host::monitor::{Kind, Monitor, WakeList, GRANTED};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::sync::atomic::Ordering;

impl Monitor {
    /// Releases `gate`, waits for a signal until `deadline`, then re-acquires `gate` (always,
    /// also on timeout).
    pub(crate) fn event_wait(
        &self,
        gate: &Monitor,
        deadline: Option<Timestamp>,
        op: &'static str,
    ) -> Result<()> {
        debug_assert_eq!(self.kind, Kind::Event);
        if !gate.gate_lock().is_owned_by_me() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                op,
                "lock the mutex before waiting on the event",
            ));
        }
        let idx = self.locked(op, |s| self.enqueue(s, 0, false, op))??;
        gate.gate_lock().unlock();
        let r = self.sleep(idx, deadline, op);
        gate.gate_lock().lock(None, op)?;
        r.map(|_| ())
    }

    /// Wakes the first waiter (`broadcast == false`) or all of them. Returns how many.
    pub(crate) fn event_signal(&self, broadcast: bool, op: &'static str) -> Result<usize> {
        let mut wl = WakeList { mask: 0 };
        let n = self.locked(op, |s| {
            let len = s.len.load(Ordering::Relaxed) as usize;
            let n = if broadcast { len } else { len.min(1) };
            for i in 0..n {
                let idx = s.order[i].load(Ordering::Relaxed) as usize;
                self.grant(s, idx, GRANTED, 0, &mut wl);
            }
            self.compact(s);
            n
        })?;
        self.wake(wl);
        Ok(n)
    }
}
