//! `evl::trace`: records from a real-time thread, drained in-band as text or forwarded to
//! tracing-subscriber's fmt; a full ring drops and counts; the recording side allocates
//! nothing and makes no system call outside the allow-list (host, seccomp) and no switch
//! to the in-band stage (EVL core).

use evl::trace::Tracer;
use std::sync::{Arc, Mutex};
use tracing::level_filters::LevelFilter;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

#[path = "support/steady.rs"]
mod steady;
use steady::{assert_child_passes, auto, host, Count, Guard, StageCount, Window};

fn text(t: &Tracer) -> String {
    let mut out = Vec::new();
    t.write_to(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn events_and_spans_are_recorded_then_written() {
    let t = Tracer::new(LevelFilter::TRACE);
    let _g = tracing::subscriber::set_default(t.subscriber());
    t.register_thread("ctl", 64);
    let span = tracing::info_span!("cycle", n = 7u64);
    {
        let _e = span.enter();
        tracing::info!(speed = 1.5, ok = true, delta = -3i64, "state {}", "run");
    }
    let long = "a-very-long-string-".repeat(8); // 152 bytes: more than TEXT_BYTES
    tracing::warn!(name = long.as_str(), "cut");
    let out = text(&t);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "enter, event, exit, event:\n{out}");
    assert!(
        lines[0].ends_with(" INFO ctl: -> cycle{n=7}"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(" INFO ctl: cycle: trace: state run speed=1.5 ok=true delta=-3"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(" INFO ctl: <- cycle{n=7}"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains(" WARN ctl: trace: cut name=a-very-long"),
        "{}",
        lines[3]
    );
    assert!(
        lines[3].ends_with('…'),
        "a cut string is marked: {}",
        lines[3]
    );
    let kept = lines[3]
        .split("name=")
        .nth(1)
        .unwrap()
        .trim_end_matches('…');
    assert_eq!(
        kept.len(),
        evl::trace::TEXT_BYTES - "cut".len(),
        "cut to what fits"
    );
    // Timestamps from the core clock, in order.
    let ts: Vec<f64> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!((t.dropped(), t.unregistered()), (0, 0));
    assert_eq!(text(&t), "", "drained");
}

#[test]
fn a_full_ring_drops_and_counts() {
    let t = Tracer::new(LevelFilter::INFO);
    let _g = tracing::subscriber::set_default(t.subscriber());
    t.register_thread("ctl", 4);
    for i in 0..10u64 {
        tracing::info!(i);
    }
    assert_eq!(t.dropped(), 6);
    let out = text(&t);
    let got: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(got, ["i=0", "i=1", "i=2", "i=3"], "the oldest stay");
    tracing::debug!("filtered out by the level");
    assert_eq!(text(&t), "");
}

#[test]
fn threads_without_a_ring_are_counted_or_go_to_the_fallback() {
    let t = Tracer::new(LevelFilter::INFO);
    let _g = tracing::subscriber::set_default(t.subscriber());
    tracing::info!("no ring here");
    assert_eq!(t.unregistered(), 1);

    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let b2 = buf.clone();
    let fmt = tracing_subscriber::fmt()
        .with_writer(move || Writer(b2.clone()))
        .with_ansi(false)
        .finish();
    let t = Tracer::new(LevelFilter::INFO).with_fallback(fmt);
    let _g = tracing::subscriber::set_default(t.subscriber());
    tracing::info!(x = 5, "straight through");
    assert_eq!(t.unregistered(), 0);
    let s = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(s.contains("straight through x=5"), "{s}");
}

struct Writer(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn events_are_forwarded_to_fmt() {
    let t = Tracer::new(LevelFilter::INFO);
    let _g = tracing::subscriber::set_default(t.subscriber());
    t.register_thread("ctl", 16);
    tracing::info!(speed = 2.5, cycle = 9u64, "telemetry");
    tracing::error!(code = 3, "fault");
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let b2 = buf.clone();
    let fmt = tracing_subscriber::fmt()
        .with_writer(move || Writer(b2.clone()))
        .with_ansi(false)
        .finish();
    assert_eq!(t.forward_to(&tracing::Dispatch::new(fmt)), 2);
    let s = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 2, "{s}");
    assert!(
        lines[0].contains("INFO trace: telemetry speed=2.5 cycle=9"),
        "{s}"
    );
    assert!(lines[1].contains("ERROR trace: fault code=3"), "{s}");
}

// ---- The recording side's steady state ----

const WARM: u64 = 20;
const ROUNDS: u64 = 300;

/// An executor on this thread records events and spans (and, with `trace-polls`, its task
/// polls) while a drain thread empties the ring.
fn steady_state(w: &mut dyn Window) -> (usize, u64, String) {
    let t = Tracer::new(LevelFilter::TRACE);
    let _g = tracing::subscriber::set_default(t.subscriber());
    t.register_thread("rt", 1 << 14);
    let sink = Arc::new(Mutex::new(Vec::<u8>::new()));
    let drain = t.spawn_drain(Writer(sink.clone()), std::time::Duration::from_millis(1));
    let ex = evl::Executor::new().unwrap();
    let n = ex.block_on(async {
        for r in 0..WARM + ROUNDS {
            if r == WARM {
                w.start();
            }
            let span = tracing::debug_span!("round", r);
            let e = span.enter();
            tracing::info!(r, speed = r as f64 * 0.5, name = "motor", "state {}", r % 3);
            drop(e);
            drop(span);
            let h = ex.spawn_named("child", async move { r + 1 }).unwrap();
            assert_eq!(h.await.unwrap(), r + 1);
            evl::yield_now().await;
        }
        w.stop()
    });
    drop(drain);
    let out = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
    (n, t.dropped(), out)
}

#[test]
fn recording_allocates_nothing() {
    if evl_syscall_guard::is_child() {
        return;
    }
    auto();
    let (allocs, dropped, out) = steady_state(&mut Count);
    assert_eq!(allocs, 0, "allocations on the real-time side");
    assert_eq!(dropped, 0);
    let events = out
        .lines()
        .filter(|l| l.contains(": round: trace: state "))
        .count();
    assert_eq!(
        events as u64,
        WARM + ROUNDS,
        "every event drained, inside its span:\n{}",
        &out[..out.len().min(1500)]
    );
    #[cfg(feature = "trace-polls")]
    {
        // Task polls go through the same ring: the child task polled once per round, the
        // main future at least once per round.
        let polls = out
            .lines()
            .filter(|l| l.contains("-> task.poll{task=child}"))
            .count();
        assert_eq!(
            polls as u64,
            WARM + ROUNDS,
            "{}",
            &out[..out.len().min(2000)]
        );
        let timed = out
            .lines()
            .filter(|l| l.contains(" TRACE rt: task.poll{task=child poll_ns="))
            .count();
        assert_eq!(timed as u64, WARM + ROUNDS, "each poll's duration recorded");
    }
}

#[test]
fn recording_makes_no_call_outside_the_allow_list() {
    if evl_syscall_guard::is_child() {
        host();
        steady_state(&mut Guard::new());
        unreachable!("the window ends the process");
    }
    assert_child_passes("recording_makes_no_call_outside_the_allow_list", &[]);
}

#[test]
fn recording_stays_out_of_band_on_the_core() {
    if evl_syscall_guard::is_child() {
        return;
    }
    // A real-time thread on the core, kept by the executor; skipped elsewhere.
    let Some(_me) = steady::attach_rt_on_core("trace-rt") else {
        return;
    };
    assert_eq!(
        steady_state(&mut StageCount::default()).0,
        0,
        "in-band switches while recording"
    );
}
