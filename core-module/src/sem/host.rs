//! Semaphores on the host backend: the COUNT rules on a host monitor
//! ([`crate::backend::host::monitor`]).

use crate::backend::host::monitor::{Attempt, Kind, Monitor, Outcome, WakeList, FLUSHED, GRANTED};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::sync::atomic::Ordering;

impl Monitor {
    /// Takes one unit, waiting until `deadline` (None: forever; `try_only`: never waits).
    pub(crate) fn sem_get(
        &self,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<()> {
        debug_assert_eq!(self.kind, Kind::Semaphore);
        let r = self.locked(op, |s| {
            let v = s.value.load(Ordering::Relaxed);
            if v > 0 {
                s.value.store(v - 1, Ordering::Relaxed);
                self.sync_bell(s);
                return Ok(Attempt::Done(1));
            }
            if try_only {
                return Err(Error::new(ErrorKind::WouldBlock, op, ""));
            }
            self.enqueue(s, 0, false, op).map(Attempt::Queued)
        })??;
        match r {
            Attempt::Done(_) => Ok(()),
            Attempt::Queued(idx) => match self.sleep(idx, deadline, op)? {
                Outcome::Granted(_) => Ok(()),
                Outcome::Flushed => Err(Error::new(
                    ErrorKind::Flushed,
                    op,
                    "the semaphore was flushed (broadcast) while waiting: no unit was granted",
                )),
            },
        }
    }

    /// Releases one unit: to the first waiter if any, else to the count.
    pub(crate) fn sem_put(&self, op: &'static str) -> Result<()> {
        let mut wl = WakeList { mask: 0 };
        self.locked(op, |s| {
            if s.len.load(Ordering::Relaxed) > 0 {
                let idx = s.order[0].load(Ordering::Relaxed) as usize;
                self.grant(s, idx, GRANTED, 1, &mut wl);
                self.compact(s);
                return Ok(());
            }
            let v = s.value.load(Ordering::Relaxed);
            if v >= i32::MAX as u32 {
                return Err(Error::new(
                    ErrorKind::CapacityExceeded,
                    op,
                    "semaphore count at its maximum (2^31-1)",
                ));
            }
            s.value.store(v + 1, Ordering::Relaxed);
            self.sync_bell(s);
            Ok(())
        })??;
        self.wake(wl);
        Ok(())
    }

    /// Wakes every waiter without granting (they get `Flushed`); the count is unchanged.
    pub(crate) fn sem_flush(&self, op: &'static str) -> Result<usize> {
        let mut wl = WakeList { mask: 0 };
        let n = self.locked(op, |s| {
            let len = s.len.load(Ordering::Relaxed) as usize;
            for i in 0..len {
                let idx = s.order[i].load(Ordering::Relaxed) as usize;
                self.grant(s, idx, FLUSHED, 0, &mut wl);
            }
            s.len.store(0, Ordering::Relaxed);
            len
        })?;
        self.wake(wl);
        Ok(n)
    }
}
