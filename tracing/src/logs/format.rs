//! Turning fields into JSON values (with redaction) and lines into bytes.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::Level;
use tracing::field::{Field, Visit};

use super::config::{LogConfig, REDACTED};

/// Keys the layer writes itself; event or span fields with these names are written as
/// `field_<name>` so they can neither hide nor forge the context.
pub(crate) const RESERVED_KEYS: &[&str] = &[
    "timestamp",
    "level",
    "message",
    "target",
    "service",
    "cold_start",
    "function_name",
    "function_version",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "sampling_rate",
];

/// Collects the fields of a span or event as JSON values, redacting configured names before any
/// value is formatted.
pub(crate) struct FieldVisitor<'a> {
    pub(crate) config: &'a LogConfig,
    pub(crate) fields: &'a mut Vec<(&'static str, Value)>,
    pub(crate) message: Option<&'a mut String>,
}

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: impl FnOnce() -> Value) {
        let name = field.name();
        let value = if self.config.is_redacted(name) {
            Value::String(REDACTED.to_owned())
        } else {
            value()
        };
        // A later record of the same field (span `record`) replaces the earlier one.
        if let Some(slot) = self.fields.iter_mut().find(|(key, _)| *key == name) {
            slot.1 = value;
        } else {
            self.fields.push((name, value));
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, || Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, || Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, || Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, || {
            i64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from)
        });
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, || {
            u64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from)
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, || Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            message.clear();
            message.push_str(value);
            return;
        }
        let config = self.config;
        self.put(field, || Value::String(redact_embedded_json(config, value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, || {
            let mut text = value.to_string();
            let mut source = value.source();
            while let Some(cause) = source {
                let _ = write!(text, ": {cause}");
                source = cause.source();
            }
            Value::String(text)
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            message.clear();
            let _ = write!(message, "{value:?}");
            return;
        }
        self.put(field, || Value::String(format!("{value:?}")));
    }
}

/// A string field that holds a JSON object or array has the values of redacted keys replaced,
/// at any depth; it stays a string.
fn redact_embedded_json(config: &LogConfig, value: &str) -> String {
    config.redacted.redact_embedded_json(value)
}

/// The level as Lambda writes it.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        _ => "ERROR",
    }
}

/// Appends `time` as RFC 3339 in UTC with milliseconds, e.g. `2024-02-29T23:59:59.123Z`.
pub(crate) fn write_timestamp(out: &mut String, time: SystemTime) {
    // A clock before 1970 is written as the epoch rather than failing the line.
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Appends `key` and `value` as one JSON member, comma first unless it opens the object.
pub(crate) fn push_member(out: &mut String, key: &str, value: &Value) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_json_str(out, key);
    out.push(':');
    // Serialising a `Value` to a string cannot fail: its map keys are strings.
    out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()));
}

/// Appends a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends text for the Text format, escaping line breaks so one event stays one line.
pub(crate) fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Appends a value for the Text format: strings bare, everything else as JSON.
pub(crate) fn push_text_value(out: &mut String, value: &Value) {
    match value {
        Value::String(text) => push_text(out, text),
        other => push_text(out, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stamp(secs: u64, millis: u64) -> String {
        let mut out = String::new();
        write_timestamp(
            &mut out,
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis),
        );
        out
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let table = [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_868_799, 999, "2000-02-29T23:59:59.999Z"),
            (1_709_251_199, 7, "2024-02-29T23:59:59.007Z"),
            (1_735_689_600, 120, "2025-01-01T00:00:00.120Z"),
            (4_102_444_800, 0, "2100-01-01T00:00:00.000Z"),
        ];
        for (secs, millis, want) in table {
            assert_eq!(stamp(secs, millis), want);
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let parsed: Result<String, _> = serde_json::from_str(&out);
        assert_eq!(parsed.ok().as_deref(), Some("a\"b\\c\nd\u{1}é"));
    }

    #[test]
    fn embedded_json_is_redacted_at_any_depth() {
        let config = LogConfig::new();
        let redacted = redact_embedded_json(
            &config,
            r#"{"user":"ann","Password":"hunter2","nested":[{"token":"t0k"}]}"#,
        );
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(!redacted.contains("t0k"), "{redacted}");
        let parsed: Value = serde_json::from_str(&redacted).unwrap_or(Value::Null);
        assert_eq!(parsed["user"], "ann");
        assert_eq!(parsed["Password"], REDACTED);
        assert_eq!(parsed["nested"][0]["token"], REDACTED);
        // Untouched when nothing matches or it is not JSON.
        assert_eq!(redact_embedded_json(&config, r#"{"a": 1}"#), r#"{"a": 1}"#);
        assert_eq!(redact_embedded_json(&config, "{not json"), "{not json");
    }
}
