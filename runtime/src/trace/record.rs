//! [`Record`]: one fixed-size trace record, and the visitor that fills it on the real-time
//! thread without allocating.

use core::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::Metadata;

/// How many field values a record keeps (more are dropped, counted in
/// [`Record::fields_dropped`]).
pub const MAX_FIELDS: usize = 8;
/// Bytes of inline text a record keeps for its string and `Debug` values together (the
/// message included); longer text is cut, and the cut marked.
pub const TEXT_BYTES: usize = 96;

/// What a record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An event (`info!`, `debug!`, ...).
    Event,
    /// A span was created, with its fields.
    NewSpan,
    /// Fields recorded on an existing span (`Span::record`).
    SpanRecord,
    /// A span was entered.
    Enter,
    /// A span was exited.
    Exit,
    /// A span handle was dropped.
    Close,
}

/// A field value, as recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A string or a `Debug`/`Display` rendering: `len` bytes at `off` in the record's text
    /// buffer; `cut` when it was longer.
    Str {
        /// Offset in the text buffer.
        off: u8,
        /// Length in bytes.
        len: u8,
        /// Whether the original was longer.
        cut: bool,
    },
}

/// One trace record: fixed size, `Copy`, no pointer to anything that may go away (the
/// callsite's metadata is `'static`).
#[derive(Clone, Copy)]
pub struct Record {
    /// What happened.
    pub kind: Kind,
    /// The callsite (the event's, or the span's for `NewSpan`; `None` for enter, exit,
    /// record and close, which name the span by id).
    pub meta: Option<&'static Metadata<'static>>,
    /// When, in ns of the core's monotonic clock.
    pub t_ns: u64,
    /// The span: its id (0: none). For an event, the span the thread was in.
    pub span: u64,
    nfields: u8,
    /// Field values that did not fit.
    pub fields_dropped: u8,
    fields: [(u8, Val); MAX_FIELDS],
    text_len: u8,
    text: [u8; TEXT_BYTES],
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("kind", &self.kind)
            .field("name", &self.meta.map(|m| m.name()))
            .field("t_ns", &self.t_ns)
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl Record {
    pub(crate) fn new(
        kind: Kind,
        meta: Option<&'static Metadata<'static>>,
        t_ns: u64,
        span: u64,
    ) -> Record {
        Record {
            kind,
            meta,
            t_ns,
            span,
            nfields: 0,
            fields_dropped: 0,
            fields: [(0, Val::Bool(false)); MAX_FIELDS],
            text_len: 0,
            text: [0; TEXT_BYTES],
        }
    }

    /// The recorded fields: (index in the callsite's field set, value).
    pub fn fields(&self) -> &[(u8, Val)] {
        &self.fields[..usize::from(self.nfields)]
    }

    /// The text of a [`Val::Str`] of this record.
    pub fn text(&self, v: &Val) -> &str {
        match *v {
            Val::Str { off, len, .. } => {
                let (a, b) = (usize::from(off), usize::from(off) + usize::from(len));
                // Cuts happen on char boundaries (TextCursor), so this never fails.
                core::str::from_utf8(&self.text[a..b]).unwrap_or("")
            }
            _ => "",
        }
    }

    fn push(&mut self, field: &Field, v: Val) {
        let n = usize::from(self.nfields);
        if n == MAX_FIELDS {
            self.fields_dropped = self.fields_dropped.saturating_add(1);
            return;
        }
        self.fields[n] = (field.index().min(255) as u8, v);
        self.nfields += 1;
    }

    fn push_text(&mut self, field: &Field, render: impl FnOnce(&mut TextCursor<'_>)) {
        if usize::from(self.nfields) == MAX_FIELDS {
            self.fields_dropped = self.fields_dropped.saturating_add(1);
            return;
        }
        let off = usize::from(self.text_len);
        let mut c = TextCursor {
            buf: &mut self.text[off..],
            len: 0,
            cut: false,
        };
        render(&mut c);
        let (len, cut) = (c.len, c.cut);
        self.text_len = (off + len) as u8;
        self.push(
            field,
            Val::Str {
                off: off as u8,
                len: len as u8,
                cut,
            },
        );
    }
}

/// Writes into a fixed buffer, cutting at a char boundary when full.
pub(crate) struct TextCursor<'a> {
    buf: &'a mut [u8],
    len: usize,
    cut: bool,
}

impl fmt::Write for TextCursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.cut = true;
            return Err(fmt::Error); // stop formatting: nothing more fits
        }
        Ok(())
    }
}

/// Fills a record from a value set, allocating nothing.
pub(crate) struct Fill<'a>(pub(crate) &'a mut Record);

impl Visit for Fill<'_> {
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.push(f, Val::I64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.push(f, Val::U64(v));
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.push(f, Val::F64(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.push(f, Val::Bool(v));
    }
    fn record_i128(&mut self, f: &Field, v: i128) {
        match i64::try_from(v) {
            Ok(v) => self.record_i64(f, v),
            Err(_) => self.record_debug(f, &v),
        }
    }
    fn record_u128(&mut self, f: &Field, v: u128) {
        match u64::try_from(v) {
            Ok(v) => self.record_u64(f, v),
            Err(_) => self.record_debug(f, &v),
        }
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.push_text(f, |c| {
            let _ = c.write_str(v);
        });
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        // `format_args!` messages arrive here: formatted into the inline buffer.
        self.0.push_text(f, |c| {
            let _ = write!(c, "{v:?}");
        });
    }
}
