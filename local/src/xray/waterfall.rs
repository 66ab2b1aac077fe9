//! A terminal waterfall of a trace: one row per entity, bars on a shared time axis.

use std::fmt::Write as _;

use super::{Entity, EntityKind, Trace};

/// Labels longer than this are cut with `…`.
const MAX_LABEL: usize = 40;
/// Markers (origin or namespace) longer than this are cut with `…`.
const MAX_MARKER: usize = 22;
/// The bar never gets narrower than this, even when `width` is too small.
const MIN_BAR: usize = 10;

impl Trace {
    /// Renders the trace as a waterfall at most `width` characters wide (wider only when
    /// `width` leaves less than 10 columns for the bars).
    ///
    /// The first line names the trace, its total duration and entity count. Each entity
    /// then gets a row: its name indented two spaces per level, its origin (segments) or
    /// namespace (subsegments), its duration in milliseconds (`open` while in progress), a bar
    /// placed on the trace's time span (`=` closed, `-` still open), and its flags: `E` error,
    /// `F` fault, `T` throttle. The output depends only on the trace, so it can be compared
    /// exactly.
    #[must_use]
    pub fn render_waterfall(&self, width: usize) -> String {
        let entities = self.entities();
        let (start, end) = span(&entities);
        let rows: Vec<Row<'_>> = entities
            .iter()
            .map(|&(depth, entity)| Row::new(depth, entity))
            .collect();
        let label_width = rows
            .iter()
            .map(|row| row.label.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_LABEL);
        let marker_width = rows
            .iter()
            .map(|row| row.marker.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_MARKER);
        let duration_width = rows.iter().map(|row| row.duration.len()).max().unwrap_or(0);
        let fixed = label_width + 1 + marker_width + 1 + duration_width + "  ||  EFT".len();
        let bar_width = width.saturating_sub(fixed).max(MIN_BAR);

        let mut out = String::new();
        let total = (end - start) * 1000.0;
        let count = entities.len();
        let _ = write!(
            out,
            "trace {}  {total:.3} ms  {count} entit{}",
            self.id,
            if count == 1 { "y" } else { "ies" }
        );
        if !self.is_complete() {
            out.push_str("  (incomplete)");
        }
        out.push('\n');
        for (row, &(_, entity)) in rows.iter().zip(&entities) {
            let line = format!(
                "{:<label_width$} {:<marker_width$} {:>duration_width$}  |{}|  {}",
                cut(&row.label, label_width),
                cut(row.marker, marker_width),
                row.duration,
                bar(entity, start, end, bar_width),
                row.flags,
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if rows.iter().any(|row| !row.flags.trim().is_empty()) {
            out.push_str("flags: E error, F fault, T throttle\n");
        }
        out
    }
}

struct Row<'a> {
    label: String,
    marker: &'a str,
    duration: String,
    flags: String,
}

impl<'a> Row<'a> {
    fn new(depth: usize, entity: &'a Entity) -> Self {
        let marker = match entity.kind {
            EntityKind::Segment => entity.origin.as_deref().unwrap_or("segment"),
            _ => entity.namespace.as_deref().unwrap_or("-"),
        };
        let duration = match entity.duration() {
            Some(seconds) => format!("{:.3} ms", seconds * 1000.0),
            None => "open".to_owned(),
        };
        let flag = |set: bool, letter: char| if set { letter } else { ' ' };
        let flags = [
            flag(entity.error, 'E'),
            flag(entity.fault, 'F'),
            flag(entity.throttle, 'T'),
        ]
        .iter()
        .collect();
        Self {
            label: format!("{}{}", "  ".repeat(depth), entity.name),
            marker,
            duration,
            flags,
        }
    }
}

/// The trace's time span: earliest start to latest end (or start, for open entities).
fn span(entities: &[(usize, &Entity)]) -> (f64, f64) {
    let start = entities
        .iter()
        .map(|(_, e)| e.start_time)
        .fold(f64::INFINITY, f64::min);
    let end = entities
        .iter()
        .map(|(_, e)| e.end_time.unwrap_or(e.start_time))
        .fold(f64::NEG_INFINITY, f64::max);
    if start.is_finite() && end >= start {
        (start, end)
    } else {
        (0.0, 0.0)
    }
}

fn bar(entity: &Entity, start: f64, end: f64, width: usize) -> String {
    let span = end - start;
    let column = |time: f64| {
        if span > 0.0 {
            (time - start) / span * width as f64
        } else {
            0.0
        }
    };
    let first = (column(entity.start_time).floor().max(0.0) as usize).min(width - 1);
    let last = match entity.end_time {
        Some(time) if span > 0.0 => column(time).ceil() as usize,
        _ => width,
    };
    let last = last.clamp(first + 1, width);
    let fill = if entity.is_in_progress() { '-' } else { '=' };
    (0..width)
        .map(|column| {
            if (first..last).contains(&column) {
                fill
            } else {
                ' '
            }
        })
        .collect()
}

/// Cuts `text` to `width` characters, ending with `…` when something was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::super::{trace::TraceState, validate_document};

    #[allow(clippy::unwrap_used)]
    fn trace(documents: &[&str]) -> super::Trace {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(0x6553_f100);
        let mut state = TraceState::new("1-6553f100-0123456789abcdef01234567");
        for document in documents {
            state
                .insert(validate_document(document, now).unwrap())
                .unwrap();
        }
        state.assemble()
    }

    #[test]
    fn renders_nested_and_streamed_entities_exactly() {
        let segment = r#"{"name":"checkout","id":"000000000000000a","trace_id":"1-6553f100-0123456789abcdef01234567","start_time":100.0,"end_time":100.1,"origin":"AWS::Lambda::Function",
            "subsegments":[{"name":"load-config","id":"000000000000000b","start_time":100.0,"end_time":100.02,"namespace":"local",
                "subsegments":[{"name":"read-file","id":"000000000000000c","start_time":100.005,"end_time":100.01}]}]}"#;
        let streamed = r#"{"type":"subsegment","name":"dynamodb","id":"000000000000000d","parent_id":"000000000000000a","trace_id":"1-6553f100-0123456789abcdef01234567","start_time":100.05,"end_time":100.1,"namespace":"aws","error":true,"throttle":true}"#;
        let expected = "\
trace 1-6553f100-0123456789abcdef01234567  100.000 ms  4 entities
checkout      AWS::Lambda::Function 100.000 ms  |=========================|
  load-config local                  20.000 ms  |=====                    |
    read-file -                       5.000 ms  | ==                      |
  dynamodb    aws                    50.000 ms  |            =============|  E T
flags: E error, F fault, T throttle
";
        assert_eq!(trace(&[streamed, segment]).render_waterfall(80), expected);
    }

    #[test]
    fn marks_open_entities_and_incomplete_traces() {
        let open = r#"{"name":"api","id":"000000000000000a","trace_id":"1-6553f100-0123456789abcdef01234567","start_time":10.0,"in_progress":true,"fault":true}"#;
        let expected = "\
trace 1-6553f100-0123456789abcdef01234567  0.000 ms  1 entity  (incomplete)
api segment open  |----------|   F
flags: E error, F fault, T throttle
";
        assert_eq!(trace(&[open]).render_waterfall(20), expected);
    }
}
