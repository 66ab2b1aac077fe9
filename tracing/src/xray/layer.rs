//! `XrayLayer`: spans become X-Ray subsegments.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use tracing::{Event, Level, Subscriber, span};
use tracing_subscriber::{filter::Targets, layer::Context, registry::LookupSpan};

use super::{
    SegmentId, TraceId, XrayError, XrayStats,
    aws_fields::SpanTraceContext,
    document::{
        Exception, MAX_ANNOTATIONS_PER_TRACE, Subsegment, epoch_seconds, sanitize_annotation_key,
    },
    emitter::{DEFAULT_DAEMON_ADDRESS, Emitter, parse_daemon_address},
    filter::recommended_filter,
    span_fields::{ErrorEvent, Fields},
};
use crate::redact::Redaction;

/// The most exceptions kept on one subsegment; later error events only set the flags.
const MAX_EXCEPTIONS_PER_SPAN: usize = 10;

/// A [`tracing_subscriber::Layer`] that sends every span inside a sampled invocation to the X-Ray
/// daemon as a subsegment when it closes. See the [module documentation](super) for the field
/// conventions.
///
/// Two defaults keep a trace useful and safe without further setup:
///
/// - **Your spans, not your libraries' internals.** Spans are filtered by
///   [`recommended_filter`](super::recommended_filter) (INFO and above, none from
///   [`LIBRARY_TARGETS`](super::LIBRARY_TARGETS)): the AWS SDK alone opens about a dozen spans per
///   call, which `lamina_tracing::aws_sdk::XrayInterceptor` already records as one
///   subsegment. A span filtered out is transparent: its children attach to its nearest traced
///   ancestor. Replace the filter with [`span_filter`](Self::span_filter), or trace every span
///   the subscriber enables with [`without_span_filter`](Self::without_span_filter).
/// - **No secrets in X-Ray.** Span fields named like one of
///   `lamina_tracing::logs::DEFAULT_REDACTED_FIELDS` (the names the logs redact:
///   `password`, `token`, `authorization`, ...; whole name or last dot-separated segment, any
///   case), `#[instrument]` arguments included, are recorded as `"[REDACTED]"` without their
///   value being formatted, in metadata and annotations alike; JSON recorded as text
///   (`xray.json.<key>`, the handler's captured response) has such keys redacted at any depth.
///   Replace the list with [`redacted_fields`](Self::redacted_fields).
///
/// Clones share the socket and the counters, so keep one to read [`stats`](Self::stats).
#[derive(Debug, Clone)]
pub struct XrayLayer {
    emitter: Emitter,
    filter: Option<Arc<Targets>>,
    redaction: Arc<Redaction>,
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
            filter: Some(Arc::new(recommended_filter())),
            redaction: Arc::new(Redaction::default()),
        }
    }

    /// Traces only the spans (and reads only the error events) `filter` enables, instead of
    /// [`recommended_filter`](super::recommended_filter)'s.
    #[must_use]
    pub fn span_filter(mut self, filter: Targets) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }

    /// Traces every span the subscriber enables, the AWS SDK's, hyper's and rustls's internal
    /// spans included.
    #[must_use]
    pub fn without_span_filter(mut self) -> Self {
        self.filter = None;
        self
    }

    /// Redacts span fields with exactly these names (whole name or last dot-separated segment,
    /// any case) instead of the default list; an empty list redacts nothing.
    #[must_use]
    pub fn redacted_fields<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.redaction = Arc::new(Redaction::from_names(names));
        self
    }

    /// Whether spans and events with this metadata are traced.
    fn traces(&self, metadata: &tracing::Metadata<'_>) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.would_enable(metadata.target(), metadata.level()))
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
    /// Whether the trace's root subsegment has been sent `in_progress` (see `on_close`).
    root_announced: AtomicBool,
}

/// The per-span state kept in the span's extensions.
enum XraySpan {
    /// The root of a trace that is not sampled: this span and its descendants send nothing, but
    /// downstream calls still pass the trace on with `Sampled=0` when it is known.
    Suppressed(Option<Arc<TraceState>>),
    Traced(Box<SpanState>),
}

struct SpanState {
    trace: Arc<TraceState>,
    /// The root of its trace in this process (the handler subsegment, or an HTTP segment).
    root: bool,
    subsegment: Subsegment,
    status: Option<u64>,
    errored: bool,
}

impl<S> tracing_subscriber::Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if !self.traces(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::new(&self.redaction);
        attrs.record(&mut fields);
        if fields.suppress {
            let trace = fields
                .trace_id
                .as_deref()
                .and_then(TraceId::parse)
                .map(|trace_id| {
                    Arc::new(TraceState {
                        trace_id,
                        extra: fields.trace_extra.take().unwrap_or_default(),
                        annotations: AtomicUsize::new(0),
                        root_announced: AtomicBool::new(false),
                    })
                });
            span.extensions_mut().insert(XraySpan::Suppressed(trace));
            return;
        }
        let (trace, parent_id, root) = if let (Some(trace_id), Some(parent_id)) = (
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
                root_announced: AtomicBool::new(false),
            };
            (Arc::new(trace), parent_id, true)
        } else {
            let mut found = None;
            for ancestor in span.scope().skip(1) {
                match ancestor.extensions().get::<XraySpan>() {
                    Some(XraySpan::Traced(state)) => {
                        found = Some((Arc::clone(&state.trace), state.subsegment.id));
                    }
                    Some(XraySpan::Suppressed(_)) => {}
                    None => continue,
                }
                break;
            }
            match found {
                Some((trace, parent_id)) => (trace, parent_id, false),
                None => return,
            }
        };
        let name = fields.name.take().unwrap_or_else(|| span.name().to_owned());
        let mut subsegment = Subsegment::new(name, trace.trace_id.clone(), parent_id);
        subsegment.start_time = epoch_seconds(SystemTime::now());
        let mut state = SpanState {
            trace,
            root,
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
            let mut fields = Fields::new(&self.redaction);
            values.record(&mut fields);
            if let Some(name) = fields.name.take() {
                state.subsegment.name = name;
            }
            state.apply(fields, &self.emitter);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR || !self.traces(event.metadata()) {
            return;
        }
        // The nearest span this layer traces: spans it filters out are transparent.
        let Some(span) = ctx
            .event_scope(event)
            .and_then(|mut scope| scope.find(|span| span.extensions().get::<XraySpan>().is_some()))
        else {
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
        if !state.root && !state.trace.root_announced.swap(true, Ordering::Relaxed) {
            // The first subsegment of the trace to close names a parent chain that ends at a root
            // still open. Send the root `in_progress` first, as the X-Ray SDKs send long work: if
            // the root never closes (Lambda stops a handler at its timeout), what was sent under
            // it still hangs in one tree instead of under an id that never arrives.
            for ancestor in span.scope().skip(1) {
                if let Some(XraySpan::Traced(open)) = ancestor.extensions().get::<XraySpan>()
                    && open.root
                    && Arc::ptr_eq(&open.trace, &state.trace)
                {
                    let mut announced = open.subsegment.clone();
                    announced.in_progress = true;
                    self.emitter.emit(announced);
                    break;
                }
            }
        }
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
    fn apply(&mut self, mut fields: Fields<'_>, emitter: &Emitter) {
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

/// The X-Ray context of a span from its extensions: `None` when this layer did not see the span,
/// `Some(None)` when it is in a trace that is not sampled and whose id is unknown.
pub(super) fn trace_context(
    extensions: &tracing_subscriber::registry::Extensions<'_>,
) -> Option<Option<SpanTraceContext>> {
    Some(match extensions.get::<XraySpan>()? {
        XraySpan::Traced(state) => Some(SpanTraceContext {
            trace_id: state.trace.trace_id.clone(),
            segment_id: state.subsegment.id,
            extra: state.trace.extra.clone(),
            sampled: true,
        }),
        XraySpan::Suppressed(trace) => trace.as_ref().map(|trace| SpanTraceContext {
            trace_id: trace.trace_id.clone(),
            // Nothing is recorded, so no subsegment names the downstream call: a fresh id for
            // each request rather than the 16 zeros of the Python SDK's no-op ids, which an
            // OpenTelemetry receiver reads as an invalid span context and so as no trace at all.
            segment_id: SegmentId::generate(),
            extra: trace.extra.clone(),
            sampled: false,
        }),
    })
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
