//! `tracing` from real-time threads: events and spans recorded as fixed-size records into a
//! pre-sized ring per thread, formatted later by an in-band drain.
//!
//! ```no_run
//! use evl::trace::Tracer;
//! use tracing::level_filters::LevelFilter;
//! # fn main() -> evl::Result<()> {
//! let tracer = Tracer::new(LevelFilter::INFO);
//! tracing::subscriber::set_global_default(tracer.subscriber()).unwrap();
//! let _drain = tracer.spawn_drain(std::io::stderr(), std::time::Duration::from_millis(100));
//! let t = tracer.clone();
//! evl::block_on(async move {
//!     t.register_thread("control", 4096); // before the loop: the ring is allocated here
//!     for cycle in 0..1000u64 {
//!         tracing::info!(cycle, speed = 1500.0, "state"); // a record, no allocation
//!     }
//! })?;
//! # Ok(()) }
//! ```
//!
//! - [`Tracer`] owns the rings. [`Tracer::register_thread`] gives the calling thread its
//!   ring (call it at thread or executor start, not in the loop: it allocates).
//! - [`RtSubscriber`] ([`Tracer::subscriber`]) is the `tracing` subscriber. On a thread with
//!   a ring, an event, a span's creation, enter, exit, `record` and close are each one
//!   [`Record`]: the callsite's `'static` metadata, a timestamp from the core's monotonic
//!   clock, up to [`MAX_FIELDS`] primitive field values, and strings (the message included)
//!   formatted into an inline buffer of [`TEXT_BYTES`], cut when longer. A full ring drops
//!   the record and counts it ([`Tracer::dropped`]). On other threads events go to a
//!   fallback subscriber ([`Tracer::with_fallback`]) or are counted.
//! - The drain runs in-band: [`Tracer::write_to`] formats everything waiting, oldest first,
//!   as text lines into any `io::Write`; [`Tracer::forward_to`] hands the events to an
//!   ordinary subscriber (e.g. tracing-subscriber's `fmt`, which then stamps them with the
//!   drain's time; the line format of `write_to` carries the recorded time);
//!   [`Tracer::spawn_drain`] does `write_to` on a thread, periodically.
//!
//! With the `trace-polls` feature every task poll is a `task.poll` span (the task's name,
//! `poll_ns`): under an `RtSubscriber` at `TRACE` these go to the executor thread's ring too.
//!
//! # RT-safety
//!
//! | call | side | may block? | may allocate? | in-band call? |
//! |---|---|---|---|---|
//! | [`Tracer::new`], [`Tracer::subscriber`], [`Tracer::register_thread`] | start-up | register: a lock shared with the drain | yes (the ring) | no |
//! | `tracing` events and spans on a thread with a ring | real-time | never | no (first use of a callsite: tracing registers it, which allocates and locks: warm it up) | no: a clock read |
//! | the same on a thread without a ring | any | as the fallback subscriber | as the fallback | as the fallback |
//! | [`Tracer::write_to`], [`Tracer::forward_to`], the drain thread | in-band | yes (locks; the writer) | yes | yes |
//!
//! Not for signal handlers: a record built in a handler that interrupted one on the same
//! thread could corrupt it.

mod drain;
mod local;
mod record;
mod subscriber;

pub use record::{Kind, Record, Val, MAX_FIELDS, TEXT_BYTES};
pub use subscriber::RtSubscriber;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::level_filters::LevelFilter;
use tracing::Dispatch;

/// The rings, their subscriber and their drain. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct Tracer {
    reg: Arc<local::Registry>,
    spans: Arc<Mutex<drain::Spans>>,
    level: LevelFilter,
    fallback: Option<Dispatch>,
}

impl Tracer {
    /// A tracer recording what `level` lets through (e.g. `LevelFilter::INFO`; `TRACE` for
    /// the `trace-polls` spans).
    pub fn new(level: LevelFilter) -> Tracer {
        Tracer {
            reg: Arc::new(local::Registry::new()),
            spans: Arc::default(),
            level,
            fallback: None,
        }
    }

    /// Events of threads without a ring go to `fallback` at once (e.g. a `fmt`
    /// subscriber), instead of being counted in [`Tracer::unregistered`].
    pub fn with_fallback(mut self, fallback: impl Into<Dispatch>) -> Tracer {
        self.fallback = Some(fallback.into());
        self
    }

    /// The `tracing` subscriber that records into this tracer's rings.
    pub fn subscriber(&self) -> RtSubscriber {
        RtSubscriber {
            reg: self.reg.clone(),
            level: self.level,
            fallback: self.fallback.clone(),
        }
    }

    /// Gives the calling thread a ring of `capacity` records (at least 1; about 300 bytes
    /// each), named `name` in the output. Call it before the real-time loop: it allocates.
    /// A second call replaces the thread's ring (the drain still empties the old one).
    pub fn register_thread(&self, name: &str, capacity: usize) {
        let cap = capacity.clamp(1, crate::ring::MAX_CAPACITY);
        local::register(&self.reg, name.to_owned(), cap);
    }

    /// Writes every waiting record to `w`, oldest first, one line each (events:
    /// `secs.ns LEVEL thread: span: ...: target: message field=value ...`; span enter and
    /// exit: `-> name{fields}`, `<- name{fields}`; a `Span::record`: `name{fields}`, as they
    /// stand after it). Returns how many records it took.
    ///
    /// Errors: `w`'s (the records taken so far are gone).
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<usize> {
        drain::write_to(&self.reg, &self.spans, w)
    }

    /// Dispatches every waiting event to `d` (an ordinary subscriber, e.g. tracing-subscriber's
    /// `fmt`) with its fields; span records are consumed, not forwarded. Returns how many
    /// records it took.
    pub fn forward_to(&self, d: &Dispatch) -> usize {
        drain::forward_to(&self.reg, &self.spans, d)
    }

    /// Records dropped because a ring was full, all threads together.
    pub fn dropped(&self) -> u64 {
        let rings = self.reg.rings.lock().unwrap_or_else(|e| e.into_inner());
        rings.iter().map(|r| r.dropped.load(Relaxed)).sum()
    }

    /// Events from threads without a ring, and no fallback to take them.
    pub fn unregistered(&self) -> u64 {
        self.reg.unregistered.load(Relaxed)
    }

    /// A thread that calls [`write_to`](Tracer::write_to)`(w)` every `period`, and once more
    /// when the returned handle is dropped.
    pub fn spawn_drain<W: Write + Send + 'static>(&self, w: W, period: Duration) -> DrainThread {
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (self.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("evl-trace-drain".into())
            .spawn(move || {
                let mut w = w;
                loop {
                    let last = s.load(Relaxed);
                    let _ = t.write_to(&mut w);
                    let _ = w.flush();
                    if last {
                        return;
                    }
                    std::thread::park_timeout(period);
                }
            })
            .ok();
        DrainThread { stop, handle }
    }
}

/// The thread of [`Tracer::spawn_drain`]: dropping it drains a last time and joins it.
#[derive(Debug)]
pub struct DrainThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DrainThread {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}
