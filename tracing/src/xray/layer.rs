//! `XrayLayer`: spans become X-Ray subsegments.

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use serde_json::{Map, Value};
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{layer::Context, registry::LookupSpan};

use super::{
    SegmentId, TraceId, XrayError, XrayStats,
    aws_fields::{AwsFields, SpanTraceContext},
    document::{
        AnnotationValue, Exception, MAX_ANNOTATIONS_PER_TRACE, Subsegment, epoch_seconds,
        sanitize_annotation_key,
    },
    emitter::{DEFAULT_DAEMON_ADDRESS, Emitter, parse_daemon_address},
    http_fields::HttpFields,
};

/// The most exceptions kept on one subsegment; later error events only set the flags.
const MAX_EXCEPTIONS_PER_SPAN: usize = 10;

/// A [`tracing_subscriber::Layer`] that sends every span inside a sampled invocation to the X-Ray
/// daemon as a subsegment when it closes. See the [module documentation](super) for the field
/// conventions.
///
/// Clones share the socket and the counters, so keep one to read [`stats`](Self::stats).
#[derive(Debug, Clone)]
pub struct XrayLayer {
    emitter: Emitter,
}

impl XrayLayer {
    /// Sends to `AWS_XRAY_DAEMON_ADDRESS` (either form), or `127.0.0.1:2000` when it is unset.
    ///
    /// # Errors
    /// [`XrayError::InvalidDaemonAddress`] when the variable is set to anything else.
    pub fn from_env() -> Result<Self, XrayError> {
        let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS")
            .unwrap_or_else(|_| DEFAULT_DAEMON_ADDRESS.to_owned());
        Self::with_daemon_address(&address)
    }

    /// Sends to `address`, in either `AWS_XRAY_DAEMON_ADDRESS` form.
    ///
    /// # Errors
    /// [`XrayError::InvalidDaemonAddress`] when it is in neither form.
    pub fn with_daemon_address(address: &str) -> Result<Self, XrayError> {
        parse_daemon_address(address).map(Self::new)
    }

    /// Sends to the daemon's UDP address `daemon`.
    #[must_use]
    pub fn new(daemon: SocketAddr) -> Self {
        Self {
            emitter: Emitter::new(daemon),
        }
    }

    /// The counters of documents sent and dropped so far, by this layer and its clones.
    #[must_use]
    pub fn stats(&self) -> XrayStats {
        self.emitter.stats()
    }
}

/// The trace a span belongs to, shared by all its spans.
#[derive(Debug)]
struct TraceState {
    trace_id: TraceId,
    /// The incoming trace header's extra keys (`xray.trace_extra`), passed on downstream.
    extra: String,
    annotations: AtomicUsize,
}

/// The per-span state kept in the span's extensions.
enum XraySpan {
    /// Inside an invocation that is not sampled: this span and its descendants send nothing.
    Suppressed,
    Traced(Box<SpanState>),
}

struct SpanState {
    trace: Arc<TraceState>,
    subsegment: Subsegment,
    status: Option<u64>,
    errored: bool,
}

impl<S> tracing_subscriber::Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let (trace, parent_id) = if let (Some(trace_id), Some(parent_id)) = (
            fields.trace_id.as_deref().and_then(TraceId::parse),
            fields
                .parent_id
                .as_deref()
                .and_then(SegmentId::parse)
                .or_else(|| fields.http.root_parent()),
        ) {
            let trace = TraceState {
                trace_id,
                extra: fields.trace_extra.take().unwrap_or_default(),
                annotations: AtomicUsize::new(0),
            };
            (Arc::new(trace), parent_id)
        } else if fields.suppress {
            span.extensions_mut().insert(XraySpan::Suppressed);
            return;
        } else {
            let mut found = None;
            for ancestor in span.scope().skip(1) {
                match ancestor.extensions().get::<XraySpan>() {
                    Some(XraySpan::Traced(state)) => {
                        found = Some((Arc::clone(&state.trace), state.subsegment.id));
                    }
                    Some(XraySpan::Suppressed) => {}
                    None => continue,
                }
                break;
            }
            match found {
                Some(found) => found,
                None => return,
            }
        };
        let name = fields.name.take().unwrap_or_else(|| span.name().to_owned());
        let mut subsegment = Subsegment::new(name, trace.trace_id.clone(), parent_id);
        subsegment.start_time = epoch_seconds(SystemTime::now());
        let mut state = SpanState {
            trace,
            subsegment,
            status: None,
            errored: false,
        };
        state.apply(fields, &self.emitter);
        span.extensions_mut()
            .insert(XraySpan::Traced(Box::new(state)));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(XraySpan::Traced(state)) = extensions.get_mut::<XraySpan>() {
            let mut fields = Fields::default();
            values.record(&mut fields);
            if let Some(name) = fields.name.take() {
                state.subsegment.name = name;
            }
            state.apply(fields, &self.emitter);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(XraySpan::Traced(state)) = extensions.get_mut::<XraySpan>() else {
            return;
        };
        state.errored = true;
        if state.subsegment.exceptions.len() < MAX_EXCEPTIONS_PER_SPAN {
            let mut visitor = ErrorEvent::default();
            event.record(&mut visitor);
            let message = visitor
                .error
                .or(visitor.message)
                .unwrap_or_else(|| event.metadata().name().to_owned());
            state.subsegment.exceptions.push(Exception {
                id: SegmentId::generate(),
                message,
                kind: visitor.kind.unwrap_or_else(|| "error".to_owned()),
                stack: Vec::new(),
            });
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(XraySpan::Traced(state)) = span.extensions_mut().remove::<XraySpan>() else {
            return;
        };
        let SpanState {
            mut subsegment,
            status,
            errored,
            ..
        } = *state;
        subsegment.end_time = epoch_seconds(SystemTime::now());
        match status.and_then(|status| u16::try_from(status).ok()) {
            Some(status @ 400..=599) => subsegment.apply_status(status),
            _ if errored => subsegment.fault = true,
            _ => {}
        }
        self.emitter.emit(subsegment);
    }
}

impl SpanState {
    fn apply(&mut self, mut fields: Fields, emitter: &Emitter) {
        let aws = std::mem::take(&mut fields.aws);
        if fields.status.is_some() {
            self.status = fields.status;
        }
        if let Some(status) = aws.status() {
            self.status = Some(status);
        }
        aws.apply(&mut self.subsegment);
        std::mem::take(&mut fields.http).apply(&mut self.subsegment);
        self.subsegment.metadata.extend(fields.metadata);
        let mut dropped = fields.invalid_annotations;
        for (key, value) in fields.annotations {
            let Some(key) = sanitize_annotation_key(&key) else {
                dropped += 1;
                continue;
            };
            let annotations = &mut self.subsegment.annotations;
            if let Some(slot) = annotations
                .iter_mut()
                .find(|(existing, _)| *existing == key)
            {
                slot.1 = value;
                continue;
            }
            let budget =
                self.trace
                    .annotations
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                        (used < MAX_ANNOTATIONS_PER_TRACE).then_some(used + 1)
                    });
            if budget.is_ok() {
                annotations.push((key, value));
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            emitter.count_dropped_annotations(dropped);
        }
    }
}

/// The fields of a span, sorted by the conventions.
#[derive(Default)]
struct Fields {
    trace_id: Option<String>,
    parent_id: Option<String>,
    trace_extra: Option<String>,
    suppress: bool,
    http: HttpFields,
    aws: AwsFields,
    name: Option<String>,
    status: Option<u64>,
    annotations: Vec<(String, AnnotationValue)>,
    invalid_annotations: u64,
    metadata: Map<String, Value>,
}

impl Fields {
    fn value(&mut self, field: &Field, value: Value) {
        let name = field.name();
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
            "http.status_code" | "http.response.status_code" | "status" => {
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
                    let parsed = value
                        .as_str()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or(value);
                    self.metadata.insert(key.to_owned(), parsed);
                } else {
                    let key = name.strip_prefix("metadata.").unwrap_or(name);
                    self.metadata.insert(key.to_owned(), value);
                }
            }
        }
    }
}

impl Visit for Fields {
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
        self.value(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.value(field, format!("{value:?}").into());
    }
}

/// The parts of an error event that make an exception.
#[derive(Default)]
struct ErrorEvent {
    error: Option<String>,
    message: Option<String>,
    kind: Option<String>,
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

/// The X-Ray context of a span from its extensions: `None` when this layer did not see the span,
/// `Some(None)` when it is in a trace that is not sampled.
pub(super) fn trace_context(
    extensions: &tracing_subscriber::registry::Extensions<'_>,
) -> Option<Option<SpanTraceContext>> {
    Some(match extensions.get::<XraySpan>()? {
        XraySpan::Traced(state) => Some(SpanTraceContext {
            trace_id: state.trace.trace_id.clone(),
            segment_id: state.subsegment.id,
            extra: state.trace.extra.clone(),
        }),
        XraySpan::Suppressed => None,
    })
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
