//! [`RtSubscriber`]: the `tracing` subscriber that records into the per-thread rings.

use super::local::{self, Registry};
use super::record::{Fill, Kind, Record};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record as Values};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// A `tracing` subscriber for real-time threads: on a thread with a ring
/// ([`Tracer::register_thread`](super::Tracer::register_thread)) every event, span
/// creation, enter, exit, record and close is one fixed-size [`Record`] pushed into that
/// ring: no allocation, no lock, no system call (the timestamp is the core clock's, read
/// through the vDSO or out-of-band). On any other thread events go to the fallback
/// subscriber, if the tracer has one, or are counted
/// ([`Tracer::unregistered`](super::Tracer::unregistered)).
///
/// Install it as the global default (`tracing::subscriber::set_global_default`) or per
/// thread (`tracing::subscriber::set_default`). Get it from
/// [`Tracer::subscriber`](super::Tracer::subscriber).
#[derive(Debug, Clone)]
pub struct RtSubscriber {
    pub(crate) reg: Arc<Registry>,
    pub(crate) level: LevelFilter,
    pub(crate) fallback: Option<Dispatch>,
}

fn now_ns() -> u64 {
    evl_reactor::now_ns()
}

impl RtSubscriber {
    fn put(&self, make: impl FnOnce() -> Record) -> bool {
        local::record(self.reg.id, make)
    }
}

impl Subscriber for RtSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.level >= *meta.level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.reg.next_span.fetch_add(1, Relaxed);
        self.put(|| {
            let mut r = Record::new(Kind::NewSpan, Some(attrs.metadata()), now_ns(), id);
            attrs.record(&mut Fill(&mut r));
            r
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Values<'_>) {
        self.put(|| {
            let mut r = Record::new(Kind::SpanRecord, None, now_ns(), span.into_u64());
            values.record(&mut Fill(&mut r));
            r
        });
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let done = self.put(|| {
            let mut r = Record::new(Kind::Event, Some(meta), now_ns(), 0);
            event.record(&mut Fill(&mut r));
            r
        });
        if !done {
            match &self.fallback {
                Some(d) if d.enabled(meta) => d.event(event),
                Some(_) => {}
                None => {
                    self.reg.unregistered.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn enter(&self, span: &Id) {
        self.put(|| Record::new(Kind::Enter, None, now_ns(), span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        self.put(|| Record::new(Kind::Exit, None, now_ns(), span.into_u64()));
    }

    fn try_close(&self, span: Id) -> bool {
        self.put(|| Record::new(Kind::Close, None, now_ns(), span.into_u64()));
        false
    }
}
