//! Reports of [`Histogram`]s: a text histogram, a CSV table and a hand-written SVG plot.
//! All of these run after the measured loop, so they may allocate freely.

use crate::hist::{display_bounds, short_label, Histogram, DISPLAY_BUCKETS};
use std::fmt::Write as _;
use std::path::Path;

/// `ns` as microseconds with one decimal, e.g. `12.3`.
pub fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1_000.0)
}

/// `ns` (fractional) as microseconds with one decimal.
pub fn us_f(ns: f64) -> String {
    format!("{:.1}", ns / 1_000.0)
}

/// The range of display buckets holding at least one sample of any series, or `None`.
fn occupied(series: &[(&str, &Histogram)]) -> Option<(usize, usize)> {
    let used = |i: usize| series.iter().any(|(_, h)| h.display_counts()[i] > 0);
    let first = (0..DISPLAY_BUCKETS).find(|&i| used(i))?;
    let last = (0..DISPLAY_BUCKETS).rev().find(|&i| used(i))?;
    Some((first, last))
}

fn bucket_label(i: usize) -> String {
    let (lo, hi) = display_bounds(i);
    match hi {
        Some(hi) => format!("[{:>5}, {:>5})", short_label(lo), short_label(hi)),
        None => format!("[{:>5},   inf)", short_label(lo)),
    }
}

/// A text histogram on the log-scale display buckets, from the first to the last occupied
/// one. One series: a bar per bucket, scaled logarithmically so that a single outlier still
/// shows. Several series: one count column per series.
pub fn text_histogram(series: &[(&str, &Histogram)]) -> String {
    let mut out = String::new();
    let Some((first, last)) = occupied(series) else {
        out.push_str("  (no samples)\n");
        return out;
    };
    if series.len() == 1 {
        let h = series[0].1;
        let top = h.display_counts().iter().copied().max().unwrap_or(1).max(1);
        const WIDTH: f64 = 50.0;
        for i in first..=last {
            let c = h.display_counts()[i];
            let bar = if c == 0 {
                0
            } else {
                (1.0 + (WIDTH - 1.0) * ((c as f64).ln() / (top as f64).ln().max(1e-9)))
                    .round()
                    .clamp(1.0, WIDTH) as usize
            };
            let _ = writeln!(out, "  {} {:>10} {}", bucket_label(i), c, "#".repeat(bar));
        }
    } else {
        let _ = write!(out, "  {:<16}", "lateness");
        for (name, _) in series {
            let _ = write!(out, " {name:>10}");
        }
        out.push('\n');
        for i in first..=last {
            let _ = write!(out, "  {:<16}", bucket_label(i));
            for (_, h) in series {
                let _ = write!(out, " {:>10}", h.display_counts()[i]);
            }
            out.push('\n');
        }
    }
    out
}

/// The display histogram as CSV: a header `bucket_lo_us,bucket_hi_us,<series>...`, then one
/// row per display bucket (all of them, empty ones included; the last `bucket_hi_us` is
/// `inf`).
pub fn histogram_csv(series: &[(&str, &Histogram)]) -> String {
    let mut out = String::from("bucket_lo_us,bucket_hi_us");
    for (name, _) in series {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');
    for i in 0..DISPLAY_BUCKETS {
        let (lo, hi) = display_bounds(i);
        let _ = write!(out, "{}", lo as f64 / 1_000.0);
        match hi {
            Some(hi) => {
                let _ = write!(out, ",{}", hi as f64 / 1_000.0);
            }
            None => out.push_str(",inf"),
        }
        for (_, h) in series {
            let _ = write!(out, ",{}", h.display_counts()[i]);
        }
        out.push('\n');
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

const COLORS: [&str; 6] = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2",
];

/// The display histogram as an SVG bar chart: buckets from the first to the last occupied
/// one along x (log-scale durations), counts along a logarithmic y axis, one group of bars
/// per bucket with one `<rect class="bar">` per series whose count is not zero. Hand-written
/// SVG 1.1, no dependencies.
pub fn histogram_svg(title: &str, series: &[(&str, &Histogram)]) -> String {
    const W: f64 = 900.0;
    const H: f64 = 420.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 50.0;
    const BOTTOM: f64 = 70.0;
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        xml_escape(title)
    );
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y0 = TOP + plot_h;
    let (first, last) = occupied(series).unwrap_or((0, 0));
    let nb = last - first + 1;
    let top = series
        .iter()
        .flat_map(|(_, h)| h.display_counts().iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // Log y axis: height of count c is log10(c + 1) / log10(top + 1).
    let decades = ((top + 1) as f64).log10().max(1e-9);
    let y_of = |c: u64| y0 - plot_h * ((c + 1) as f64).log10() / decades;
    // Axes and decade grid lines.
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{y0}" x2="{}" y2="{y0}" stroke="#000"/>"##,
        LEFT + plot_w
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#000"/>"##
    );
    // Grid lines at 0, 1, 10, 100, ... samples.
    let mut g = 0u64;
    while g <= top {
        let y = y_of(g);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{g}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
        if g > top / 10 {
            break;
        }
        g = if g == 0 { 1 } else { g * 10 };
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">samples (log scale)</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">lateness (log-scale buckets)</text>"#,
        LEFT + plot_w / 2.0,
        H - 12.0
    );
    // Bars.
    let slot = plot_w / nb as f64;
    let bar_w = (slot * 0.8) / series.len().max(1) as f64;
    for b in 0..nb {
        let i = first + b;
        let x_slot = LEFT + slot * b as f64;
        let (lo, hi) = display_bounds(i);
        let label = match hi {
            Some(hi) => format!("{}-{}", short_label(lo), short_label(hi)),
            None => format!("&gt;{}", short_label(lo)),
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{label}</text>"#,
            x_slot + slot / 2.0,
            y0 + 16.0
        );
        for (k, (name, h)) in series.iter().enumerate() {
            let c = h.display_counts()[i];
            if c == 0 {
                continue;
            }
            let x = x_slot + slot * 0.1 + bar_w * k as f64;
            let y = y_of(c);
            let _ = writeln!(
                s,
                r#"<rect class="bar" data-series="{}" data-bucket="{i}" data-count="{c}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} in {}</title></rect>"#,
                xml_escape(name),
                bar_w.max(1.0),
                (y0 - y).max(0.5),
                COLORS[k % COLORS.len()],
                xml_escape(name),
                c,
                label
            );
        }
    }
    // Legend.
    for (k, (name, _)) in series.iter().enumerate() {
        let x = LEFT + 10.0 + 110.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{}" width="12" height="12" fill="{}"/>"#,
            TOP - 16.0,
            COLORS[k % COLORS.len()]
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}">{}</text>"#,
            x + 16.0,
            TOP - 6.0,
            xml_escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes `text` to `path`; the error names the file.
pub fn write_file(path: &Path, text: &str) -> Result<(), crate::args::ExampleError> {
    std::fs::write(path, text).map_err(|e| {
        crate::args::ExampleError::Other(format!("cannot write {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Histogram, Histogram) {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for v in [1_500, 1_700, 25_000, 3_000_000] {
            a.record(v);
        }
        for v in [1_200, 700_000] {
            b.record(v);
        }
        (a, b)
    }

    #[test]
    fn csv_has_a_row_per_bucket_and_the_counts() {
        let (a, b) = sample();
        let csv = histogram_csv(&[("raw", &a), ("evl", &b)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "bucket_lo_us,bucket_hi_us,raw,evl");
        assert_eq!(lines.len(), 1 + DISPLAY_BUCKETS);
        assert_eq!(lines[1], "0,0.1,0,0");
        assert_eq!(lines[5], "1,2,2,1"); // [1 us, 2 us)
        assert_eq!(lines[9], "20,50,1,0");
        assert!(lines[DISPLAY_BUCKETS].starts_with("10000000,inf,"));
        let mut totals = [0u64; 2];
        for l in &lines[1..] {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4);
            f[0].parse::<f64>().unwrap();
            assert!(f[1] == "inf" || f[1].parse::<f64>().is_ok());
            totals[0] += f[2].parse::<u64>().unwrap();
            totals[1] += f[3].parse::<u64>().unwrap();
        }
        assert_eq!(totals, [4, 2]);
    }

    #[test]
    fn text_histogram_spans_the_occupied_buckets() {
        let (a, b) = sample();
        let one = text_histogram(&[("evl", &a)]);
        assert_eq!(one.lines().count(), 14 - 4 + 1, "{one}"); // [1 us, 2 us) .. [2 ms, 5 ms)
        assert!(one.lines().next().unwrap().contains("1us"));
        let two = text_histogram(&[("raw", &a), ("evl", &b)]);
        assert!(two.lines().next().unwrap().contains("raw"));
        assert!(text_histogram(&[("x", &Histogram::new())]).contains("no samples"));
    }

    #[test]
    fn svg_is_well_formed_with_one_bar_per_nonempty_bucket() {
        let (a, b) = sample();
        let svg = histogram_svg("lateness <raw & evl>", &[("raw", &a), ("evl", &b)]);
        check_well_formed(&svg);
        let bars = svg.matches(r#"<rect class="bar""#).count();
        let nonempty = a.display_counts().iter().filter(|&&c| c > 0).count()
            + b.display_counts().iter().filter(|&&c| c > 0).count();
        assert_eq!(bars, nonempty);
        assert!(svg.contains("&lt;raw &amp; evl&gt;"));
        // An empty histogram still gives a valid document, with no bar.
        let empty = histogram_svg("none", &[("x", &Histogram::new())]);
        check_well_formed(&empty);
        assert_eq!(empty.matches("class=\"bar\"").count(), 0);
    }

    /// A small XML well-formedness check: balanced tags, quoted attributes, known entities,
    /// one root element.
    pub(crate) fn check_well_formed(doc: &str) {
        crate::xmlcheck::check(doc).unwrap_or_else(|e| panic!("not well-formed: {e}\n{doc}"));
    }
}
