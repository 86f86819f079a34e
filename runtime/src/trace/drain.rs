//! The in-band drain: takes the records out of every ring, formats them for an
//! `io::Write`, or forwards the events to an ordinary `tracing` subscriber.

use super::local::{Registry, ThreadRing};
use super::record::{Kind, Record, Val};
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing::field::Value;
use tracing::{Dispatch, Event, Metadata};

/// What the drain knows about a live span.
#[derive(Debug)]
struct SpanInfo {
    meta: &'static Metadata<'static>,
    fields: String,
}

/// Drain-side state shared by every drain call of one tracer.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    live: HashMap<u64, SpanInfo>,
}

/// Takes every record out of every ring of `reg`, oldest first (by timestamp, across
/// threads), calling `f(thread name, the spans it was in, record)`.
pub(crate) fn take_all(
    reg: &Registry,
    spans: &Mutex<Spans>,
    mut f: impl FnMut(&str, &[u64], &Record, &Spans),
) -> usize {
    let rings: Vec<Arc<ThreadRing>> = reg.rings.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut all: Vec<(usize, Record)> = Vec::new();
    for (i, tr) in rings.iter().enumerate() {
        let mut d = tr.drain.lock().unwrap_or_else(|e| e.into_inner());
        while let (Some(r), _) = tr.ring.pop(&mut d.pos) {
            all.push((i, r));
        }
    }
    all.sort_by_key(|(_, r)| r.t_ns);
    let mut spans = spans.lock().unwrap_or_else(|e| e.into_inner());
    for (i, r) in &all {
        let tr = &rings[*i];
        let mut d = tr.drain.lock().unwrap_or_else(|e| e.into_inner());
        match r.kind {
            Kind::NewSpan => {
                if let Some(meta) = r.meta {
                    let mut fields = String::new();
                    write_fields(&mut fields, r, meta);
                    spans.live.insert(r.span, SpanInfo { meta, fields });
                }
            }
            Kind::SpanRecord => {
                if let Some(s) = spans.live.get_mut(&r.span) {
                    let meta = s.meta;
                    write_fields(&mut s.fields, r, meta);
                }
            }
            Kind::Enter => d.stack.push(r.span),
            Kind::Exit => {
                if let Some(at) = d.stack.iter().rposition(|s| *s == r.span) {
                    d.stack.remove(at);
                }
            }
            Kind::Event | Kind::Close => {}
        }
        f(&tr.name, &d.stack, r, &spans);
        if r.kind == Kind::Close {
            spans.live.remove(&r.span);
        }
    }
    // Rings of threads that are gone (only the registry holds them) and are empty go.
    let mut list = reg.rings.lock().unwrap_or_else(|e| e.into_inner());
    drop(rings);
    list.retain(|tr| Arc::strong_count(tr) > 1);
    all.len()
}

fn write_fields(out: &mut String, r: &Record, meta: &'static Metadata<'static>) {
    use std::fmt::Write as _;
    let names: Vec<&str> = meta.fields().iter().map(|f| f.name()).collect();
    for (i, v) in r.fields() {
        let name = names.get(usize::from(*i)).copied().unwrap_or("?");
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = match v {
            Val::I64(x) => write!(out, "{name}={x}"),
            Val::U64(x) => write!(out, "{name}={x}"),
            // An f32 field arrives widened: print it as the f32 it was (shortest form).
            Val::F64(x) if f64::from(*x as f32) == *x => write!(out, "{name}={}", *x as f32),
            Val::F64(x) => write!(out, "{name}={x}"),
            Val::Bool(x) => write!(out, "{name}={x}"),
            Val::Str { cut, .. } => {
                let t = r.text(v);
                let more = if *cut { "…" } else { "" };
                if name == "message" {
                    write!(out, "{t}{more}")
                } else {
                    write!(out, "{name}={t}{more}")
                }
            }
        };
    }
}

/// Formats one record as a line; `None` for records that print nothing (span creation and
/// close: the span's name and fields show on its enter, exit and record lines).
pub(crate) fn line(thread: &str, stack: &[u64], r: &Record, spans: &Spans) -> Option<String> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let (secs, ns) = (r.t_ns / 1_000_000_000, r.t_ns % 1_000_000_000);
    let _ = write!(s, "{secs}.{ns:09} ");
    let name_of = |id: u64| spans.live.get(&id).map_or("?", |i| i.meta.name());
    match r.kind {
        Kind::Event => {
            let meta = r.meta?;
            let _ = write!(s, "{:>5} {thread}: ", meta.level().as_str());
            for id in stack {
                let _ = write!(s, "{}: ", name_of(*id));
            }
            let _ = write!(s, "{}: ", meta.target());
            let mut f = String::new();
            write_fields(&mut f, r, meta);
            s.push_str(&f);
            if r.fields_dropped > 0 {
                let _ = write!(s, " (+{} fields)", r.fields_dropped);
            }
        }
        Kind::Enter => {
            let info = spans.live.get(&r.span);
            let _ = write!(
                s,
                "{:>5} {thread}: -> {}{{{}}}",
                info.map_or("TRACE", |i| i.meta.level().as_str()),
                name_of(r.span),
                info.map_or("", |i| i.fields.as_str())
            );
        }
        Kind::Exit => {
            let info = spans.live.get(&r.span);
            let _ = write!(
                s,
                "{:>5} {thread}: <- {}{{{}}}",
                info.map_or("TRACE", |i| i.meta.level().as_str()),
                name_of(r.span),
                info.map_or("", |i| i.fields.as_str())
            );
        }
        Kind::SpanRecord => {
            // After the update: the span's fields as they stand now.
            let info = spans.live.get(&r.span)?;
            let _ = write!(
                s,
                "{:>5} {thread}: {}{{{}}}",
                info.meta.level().as_str(),
                info.meta.name(),
                info.fields
            );
        }
        Kind::NewSpan | Kind::Close => return None,
    }
    s.push('\n');
    Some(s)
}

/// Writes every record waiting in the rings to `w`, one line each; the number of records.
pub(crate) fn write_to(
    reg: &Registry,
    spans: &Mutex<Spans>,
    w: &mut dyn Write,
) -> io::Result<usize> {
    let mut err = None;
    let n = take_all(reg, spans, |thread, stack, r, spans| {
        if err.is_some() {
            return;
        }
        if let Some(l) = line(thread, stack, r, spans) {
            if let Err(e) = w.write_all(l.as_bytes()) {
                err = Some(e);
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// Dispatches every event waiting in the rings to `d` (span records are consumed, not
/// forwarded); the number of records taken.
pub(crate) fn forward_to(reg: &Registry, spans: &Mutex<Spans>, d: &Dispatch) -> usize {
    take_all(reg, spans, |_, _, r, _| {
        let (Kind::Event, Some(meta)) = (r.kind, r.meta) else {
            return;
        };
        if !d.enabled(meta) {
            return;
        }
        let n = meta.fields().len();
        let texts: Vec<&str> = r.fields().iter().map(|(_, v)| r.text(v)).collect();
        let mut vals: Vec<Option<&dyn Value>> = vec![None; n];
        for (k, (i, v)) in r.fields().iter().enumerate() {
            let i = usize::from(*i);
            if i >= n {
                continue;
            }
            vals[i] = Some(match v {
                Val::I64(x) => x as &dyn Value,
                Val::U64(x) => x as &dyn Value,
                Val::F64(x) => x as &dyn Value,
                Val::Bool(x) => x as &dyn Value,
                Val::Str { .. } => &texts[k] as &dyn Value,
            });
        }
        let vs = meta.fields().value_set_all(&vals);
        d.event(&Event::new(meta, &vs));
    })
}
