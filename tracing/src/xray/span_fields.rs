//! Span and event fields as `XrayLayer` reads them: the conventions of the module documentation,
//! with redaction applied before any value is formatted.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};

use super::{aws_fields::AwsFields, document::AnnotationValue, http_fields::HttpFields};
use crate::redact::{REDACTED_TEXT, Redaction};

/// The fields of a span, sorted by the conventions.
pub(super) struct Fields<'a> {
    pub(super) redaction: &'a Redaction,
    pub(super) trace_id: Option<String>,
    pub(super) parent_id: Option<String>,
    pub(super) trace_extra: Option<String>,
    pub(super) suppress: bool,
    pub(super) http: HttpFields,
    pub(super) aws: AwsFields,
    pub(super) name: Option<String>,
    pub(super) status: Option<u64>,
    pub(super) annotations: Vec<(String, AnnotationValue)>,
    pub(super) invalid_annotations: u64,
    pub(super) metadata: Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(redaction: &'a Redaction) -> Self {
        Self {
            redaction,
            trace_id: None,
            parent_id: None,
            trace_extra: None,
            suppress: false,
            http: HttpFields::default(),
            aws: AwsFields::default(),
            name: None,
            status: None,
            annotations: Vec::new(),
            invalid_annotations: 0,
            metadata: Map::new(),
        }
    }

    /// Whether the field is an application field (metadata or an annotation) whose name says it
    /// holds a secret: its value is never formatted.
    fn redacted(&self, field: &Field) -> bool {
        let name = field.name();
        let convention = ["xray.", "otel.", "aws.", "http."]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        !convention && self.redaction.matches(name)
    }

    fn value(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if self.redacted(field) {
            Value::String(REDACTED_TEXT.to_owned())
        } else {
            value
        };
        let Some(value) = self.aws.take(name, value) else {
            return;
        };
        if self.http.record(name, &value) {
            return;
        }
        let text = || value.as_str().map(str::to_owned);
        match name {
            "xray.trace_id" => self.trace_id = text(),
            "xray.parent_id" => self.parent_id = text(),
            "xray.trace_extra" => self.trace_extra = text(),
            "xray.sampled" => self.suppress = value == Value::Bool(false),
            "xray.name" | "otel.name" => self.name = text(),
            // The HTTP semantic conventions only: an application's own `status` field (an
            // order's, a job's) is metadata, not an HTTP status that would set the flags.
            "http.status_code" | "http.response.status_code" => {
                self.status = value.as_u64();
                if self.status.is_none() {
                    self.metadata.insert(name.to_owned(), value);
                }
            }
            _ => {
                if let Some(key) = name.strip_prefix("annotation.") {
                    let annotation = match value {
                        Value::String(text) => Some(AnnotationValue::String(text)),
                        Value::Bool(flag) => Some(AnnotationValue::Bool(flag)),
                        Value::Number(number) => Some(AnnotationValue::Number(number)),
                        _ => None,
                    };
                    match annotation {
                        Some(annotation) => self.annotations.push((key.to_owned(), annotation)),
                        None => self.invalid_annotations += 1,
                    }
                } else if let Some(key) = name.strip_prefix("xray.json.") {
                    let mut parsed = value
                        .as_str()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or(value);
                    self.redaction.redact_json(&mut parsed);
                    self.metadata.insert(key.to_owned(), parsed);
                } else {
                    let key = name.strip_prefix("metadata.").unwrap_or(name);
                    let value = match value {
                        Value::String(text) => {
                            Value::String(self.redaction.redact_embedded_json(&text))
                        }
                        other => other,
                    };
                    self.metadata.insert(key.to_owned(), value);
                }
            }
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities are not JSON numbers: an annotation is dropped, metadata keeps text.
        let value = serde_json::Number::from_f64(value).map_or_else(
            || {
                if field.name().starts_with("annotation.") {
                    Value::Null
                } else {
                    Value::String(value.to_string())
                }
            },
            Value::Number,
        );
        self.value(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.value(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.value(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.value(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.value(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.redacted(field) {
            return self.value(field, Value::Null);
        }
        self.value(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.redacted(field) {
            return self.value(field, Value::Null);
        }
        self.value(field, format!("{value:?}").into());
    }
}

/// The parts of an error event that make an exception.
#[derive(Default)]
pub(super) struct ErrorEvent {
    pub(super) error: Option<String>,
    pub(super) message: Option<String>,
    pub(super) kind: Option<String>,
}

impl Visit for ErrorEvent {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl ErrorEvent {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "error" | "exception.message" => self.error = Some(value),
            "message" => self.message = Some(value),
            "error.type" | "exception.type" => self.kind = Some(value),
            _ => {}
        }
    }
}
