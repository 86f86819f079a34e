//! With the `trace-polls` feature, every task poll is a `task.poll` span carrying the task's
//! name and the poll's duration. (`cargo test --workspace --all-features` runs this.)
#![cfg(feature = "trace-polls")]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default)]
struct Seen {
    spans: AtomicUsize,
    tasks: Mutex<Vec<String>>,
    durations: AtomicUsize,
}

struct Collect(Arc<Seen>);

struct V<'a>(&'a Seen);
impl Visit for V<'_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        if f.name() == "task" {
            self.0.tasks.lock().unwrap().push(v.to_string());
        }
    }
    fn record_u64(&mut self, f: &Field, _v: u64) {
        if f.name() == "poll_ns" {
            self.0.durations.fetch_add(1, SeqCst);
        }
    }
    fn record_debug(&mut self, _f: &Field, _v: &dyn std::fmt::Debug) {}
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        if a.metadata().name() == "task.poll" {
            self.0.spans.fetch_add(1, SeqCst);
            a.record(&mut V(&self.0));
        }
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, r: &Record<'_>) {
        r.record(&mut V(&self.0));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn every_task_poll_is_a_span_with_name_and_duration() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
    let seen = Arc::new(Seen::default());
    tracing::subscriber::with_default(Collect(seen.clone()), || {
        let ex = evl::Executor::new().unwrap();
        ex.block_on(async {
            let h = ex.spawn_named("blinker", async {
                evl::yield_now().await;
                evl::yield_now().await;
            });
            h.unwrap().await.unwrap();
        });
    });
    assert_eq!(
        seen.spans.load(SeqCst),
        3,
        "3 polls: two yields and the last"
    );
    assert_eq!(*seen.tasks.lock().unwrap(), vec!["blinker"; 3]);
    assert_eq!(seen.durations.load(SeqCst), 3);
}
