//! Flag groups on the host backend: the MASK rules on a host monitor
//! ([`crate::backend::host::monitor`]).

use crate::backend::host::monitor::{Attempt, Kind, Monitor, Outcome, WakeList, GRANTED};
use crate::error::{Error, ErrorKind, Result};
use crate::time::types::Timestamp;
use std::sync::atomic::Ordering;

impl Monitor {
    /// Waits for any (`exact == false`) or all of `want`; consumes and returns the matched
    /// bits. `want == 0` means every bit, as in EVL.
    pub(crate) fn flags_wait(
        &self,
        want: u32,
        exact: bool,
        deadline: Option<Timestamp>,
        try_only: bool,
        op: &'static str,
    ) -> Result<u32> {
        debug_assert_eq!(self.kind, Kind::Flags);
        let want = if want == 0 { u32::MAX } else { want };
        let r = self.locked(op, |s| {
            let v = s.value.load(Ordering::Relaxed);
            if let Some(got) = matched(v, want, exact) {
                s.value.store(v & !got, Ordering::Relaxed);
                self.sync_bell(s);
                return Ok(Attempt::Done(got));
            }
            if try_only {
                return Err(Error::new(ErrorKind::WouldBlock, op, ""));
            }
            self.enqueue(s, want, exact, op).map(Attempt::Queued)
        })??;
        match r {
            Attempt::Done(got) => Ok(got),
            Attempt::Queued(idx) => match self.sleep(idx, deadline, op)? {
                Outcome::Granted(got) => Ok(got),
                Outcome::Flushed => unreachable!("flags are never flushed"),
            },
        }
    }

    /// Sets `bits`; wakes the first satisfied waiter (`broadcast == false`) or every
    /// satisfied waiter, each consuming what it matched.
    pub(crate) fn flags_post(&self, bits: u32, broadcast: bool, op: &'static str) -> Result<()> {
        if bits == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                op,
                "post at least one bit",
            ));
        }
        let mut wl = WakeList { mask: 0 };
        self.locked(op, |s| {
            let v = s.value.load(Ordering::Relaxed) | bits;
            let mut consumed = 0;
            let len = s.len.load(Ordering::Relaxed) as usize;
            for i in 0..len {
                let idx = s.order[i].load(Ordering::Relaxed) as usize;
                let sl = &s.slots[idx];
                let want = sl.want.load(Ordering::Relaxed);
                if let Some(got) = matched(v, want, sl.exact.load(Ordering::Relaxed) != 0) {
                    consumed |= got;
                    self.grant(s, idx, GRANTED, got, &mut wl);
                    if !broadcast {
                        break;
                    }
                }
            }
            s.value.store(v & !consumed, Ordering::Relaxed);
            self.compact(s);
            self.sync_bell(s);
        })?;
        self.wake(wl);
        Ok(())
    }
}

/// EVL's match rule: the bits of `want` present in `value`, if they satisfy the wait (any of
/// them, or all of `want` when `exact`).
pub(crate) fn matched(value: u32, want: u32, exact: bool) -> Option<u32> {
    let got = value & want;
    let test = if exact { want } else { got };
    (got != 0 && got == test).then_some(got)
}

#[cfg(test)]
mod tests {
    use super::matched;

    #[test]
    fn match_rule_is_evls() {
        assert_eq!(matched(0b0110, 0b0011, false), Some(0b0010));
        assert_eq!(matched(0b0110, 0b0011, true), None);
        assert_eq!(matched(0b0111, 0b0011, true), Some(0b0011));
        assert_eq!(matched(0, u32::MAX, false), None);
        assert_eq!(matched(0b1000, u32::MAX, false), Some(0b1000));
    }
}
