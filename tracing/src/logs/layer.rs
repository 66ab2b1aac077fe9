//! The `tracing-subscriber` layer that writes one line per event.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Write as _};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::cold_start::ColdStart;

use super::config::{LogConfig, LogConfigError, LogFormat};
use super::context::{INVOCATION_SPAN_NAME, INVOCATION_TARGET, trace_root};
use super::format::{
    FieldVisitor, RESERVED_KEYS, level_name, push_member, push_text, push_text_value,
    write_timestamp,
};

/// Writes each `tracing` event as one line (JSON or Text) carrying the Lambda context.
///
/// The context comes from the `invocation` span that [`LogContextLayer`](super::LogContextLayer)
/// opens around each invocation: an event inside it (or inside any span below it) carries that
/// invocation's request id, X-Ray trace id, cold start flag and function details. Events outside
/// every invocation (during init) carry the function details from the [`LogConfig`] and
/// `cold_start: true` until the first invocation has begun.
///
/// Levels are filtered here rather than by a subscriber filter because a debug-sampled invocation
/// lets DEBUG events through that the configured level would drop; put no stricter filter in
/// front of this layer if you use sampling.
pub struct LogLayer<W = fn() -> io::Stdout> {
    config: LogConfig,
    make_writer: W,
    rng: Mutex<Box<dyn RngCore + Send>>,
    cold_start: ColdStart,
}

impl<W> fmt::Debug for LogLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLayer")
            .field("config", &self.config)
            .field("cold_start", &self.cold_start)
            .finish_non_exhaustive()
    }
}

impl LogLayer {
    /// A layer writing to stdout with `config`.
    #[must_use]
    pub fn new(config: LogConfig) -> Self {
        Self {
            config,
            make_writer: io::stdout,
            rng: Mutex::new(Box::new(StdRng::from_os_rng())),
            cold_start: ColdStart::process(),
        }
    }

    /// A layer writing to stdout, configured from the process environment
    /// (see [`LogConfig::from_lookup`]).
    ///
    /// # Errors
    ///
    /// A [`LogConfigError`] naming the variable whose value is not understood.
    pub fn from_env() -> Result<Self, LogConfigError> {
        LogConfig::from_env().map(Self::new)
    }
}

impl<W> LogLayer<W> {
    /// Writes lines through `make_writer` instead (each line is one `write_all` call on a fresh
    /// writer, so lines from different threads never interleave within a line).
    #[must_use]
    pub fn with_writer<W2>(self, make_writer: W2) -> LogLayer<W2>
    where
        W2: for<'w> MakeWriter<'w> + 'static,
    {
        LogLayer {
            config: self.config,
            make_writer,
            rng: self.rng,
            cold_start: self.cold_start,
        }
    }

    /// Answers "is this invocation the cold start?" from `source` instead of
    /// [`ColdStart::process`], the one source every layer of this crate shares by default.
    #[must_use]
    pub fn cold_start(mut self, source: ColdStart) -> Self {
        self.cold_start = source;
        self
    }

    /// Draws the debug-sampling decisions from `rng` instead of an OS-seeded generator.
    #[must_use]
    pub fn with_rng(self, rng: impl RngCore + Send + 'static) -> Self {
        Self {
            rng: Mutex::new(Box::new(rng)),
            ..self
        }
    }

    /// Draws the debug-sampling decisions from a generator seeded with `seed`, for repeatable tests.
    #[must_use]
    pub fn with_sample_seed(self, seed: u64) -> Self {
        self.with_rng(StdRng::seed_from_u64(seed))
    }

    /// The configuration in use.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    fn sample_debug(&self) -> bool {
        let rate = self.config.sample_rate;
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        rng.random::<f64>() < rate
    }
}

/// Fields of an ordinary span, kept in its extensions.
struct SpanFields(Vec<(&'static str, Value)>);

/// The context of one invocation, kept in the extensions of its `invocation` span.
#[derive(Debug, Clone, Default)]
struct Invocation {
    request_id: Option<String>,
    xray_trace_id: Option<String>,
    function_name: Option<String>,
    function_version: Option<String>,
    function_memory_size: Option<i64>,
    function_arn: Option<String>,
    cold_start: bool,
    debug_sampled: bool,
}

impl Invocation {
    /// Whether `outer` describes the same invocation (`lambda_runtime`'s span around ours).
    fn same_as(&self, outer: &Invocation) -> bool {
        match (&self.request_id, &outer.request_id) {
            (Some(inner), Some(outer)) => inner == outer,
            _ => true,
        }
    }

    /// Takes the decisions already made for this invocation, and any detail missing here.
    fn inherit(&mut self, outer: &Invocation) {
        self.cold_start = outer.cold_start;
        self.debug_sampled = outer.debug_sampled;
        let fill = |mine: &mut Option<String>, theirs: &Option<String>| {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        };
        fill(&mut self.request_id, &outer.request_id);
        fill(&mut self.xray_trace_id, &outer.xray_trace_id);
        fill(&mut self.function_name, &outer.function_name);
        fill(&mut self.function_version, &outer.function_version);
        fill(&mut self.function_arn, &outer.function_arn);
        if self.function_memory_size.is_none() {
            self.function_memory_size = outer.function_memory_size;
        }
    }
}

impl Visit for Invocation {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = (!value.is_empty()).then(|| value.to_owned());
        match field.name() {
            // `requestId` and `xrayTraceId` are lambda_runtime's names.
            "request_id" | "requestId" => self.request_id = value,
            "xray_trace_id" | "xrayTraceId" => {
                self.xray_trace_id = value.as_deref().and_then(trace_root).map(str::to_owned);
            }
            "function_name" => self.function_name = value,
            "function_version" => self.function_version = value,
            "function_arn" => self.function_arn = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "function_memory_size" && value > 0 {
            self.function_memory_size = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Ok(value) = i64::try_from(value) {
            self.record_i64(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Our `invocation` span, or the span `lambda_runtime`'s own `TracingLayer` opens per invocation
/// (which `lambda_runtime::run` always adds), so its `requestId` and `xrayTraceId` become the
/// context instead of repeating as fields on every line.
fn is_invocation(metadata: &Metadata<'_>) -> bool {
    (metadata.name() == INVOCATION_SPAN_NAME && metadata.target() == INVOCATION_TARGET)
        || (metadata.name() == RUNTIME_SPAN_NAME && metadata.target().starts_with("lambda_runtime"))
}

/// Name of the span `lambda_runtime::layers::TracingLayer` opens per invocation.
const RUNTIME_SPAN_NAME: &str = "Lambda runtime invoke";

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

impl<S, W> Layer<S> for LogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if is_invocation(attrs.metadata()) {
            let mut invocation = Invocation::default();
            attrs.record(&mut invocation);
            let outer = span
                .scope()
                .skip(1)
                .find_map(|ancestor| ancestor.extensions().get::<Invocation>().cloned());
            match outer {
                // Nested context spans for one invocation share one cold start and one
                // sampling decision.
                Some(outer) if invocation.same_as(&outer) => invocation.inherit(&outer),
                _ => {
                    invocation.cold_start = self
                        .cold_start
                        .is_cold(invocation.request_id.as_deref().unwrap_or_default());
                    invocation.debug_sampled = self.sample_debug();
                }
            }
            span.extensions_mut().insert(invocation);
        } else {
            let mut fields = Vec::new();
            attrs.record(&mut FieldVisitor {
                config: &self.config,
                fields: &mut fields,
                message: None,
            });
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(invocation) = extensions.get_mut::<Invocation>() {
            values.record(invocation);
        } else if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut FieldVisitor {
                config: &self.config,
                fields,
                message: None,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let mut invocation: Option<Invocation> = None;
        let mut fields: Vec<(&'static str, Value)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(found) = extensions.get::<Invocation>() {
                    // The innermost invocation wins.
                    invocation = Some(found.clone());
                } else if let Some(SpanFields(span_fields)) = extensions.get::<SpanFields>() {
                    for (key, value) in span_fields {
                        upsert(&mut fields, key, value.clone());
                    }
                }
            }
        }
        let sampled = invocation.as_ref().is_some_and(|inv| inv.debug_sampled);
        let max_level = if sampled {
            self.config.level.max(Level::DEBUG)
        } else {
            self.config.level
        };
        if level > max_level {
            return;
        }

        let mut message = String::new();
        event.record(&mut FieldVisitor {
            config: &self.config,
            fields: &mut fields,
            message: Some(&mut message),
        });

        let line = Line {
            config: &self.config,
            level,
            target: event.metadata().target(),
            message: &message,
            fields: &fields,
            invocation: invocation.as_ref(),
            cold_start_outside: self.cold_start.is_pending(),
        };
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                line.write(&mut buf);
                self.emit(event.metadata(), &buf);
            }
            // Only reachable if writing a line logs an event itself.
            Err(_) => {
                let mut buf = String::new();
                line.write(&mut buf);
                self.emit(event.metadata(), &buf);
            }
        });
    }
}

impl<W> LogLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn emit(&self, metadata: &Metadata<'_>, line: &str) {
        let mut writer = self.make_writer.make_writer_for(metadata);
        // Nowhere to report a failed log write; the handler must not fail because of it.
        let _ = writer.write_all(line.as_bytes());
    }
}

fn upsert(fields: &mut Vec<(&'static str, Value)>, key: &'static str, value: Value) {
    if let Some(slot) = fields.iter_mut().find(|(name, _)| *name == key) {
        slot.1 = value;
    } else {
        fields.push((key, value));
    }
}

/// Everything one line holds.
struct Line<'a> {
    config: &'a LogConfig,
    level: Level,
    target: &'a str,
    message: &'a str,
    fields: &'a [(&'static str, Value)],
    invocation: Option<&'a Invocation>,
    cold_start_outside: bool,
}

impl Line<'_> {
    fn write(&self, out: &mut String) {
        match self.config.format {
            LogFormat::Text => self.write_text(out),
            _ => self.write_json(out),
        }
        out.push('\n');
    }

    fn write_json(&self, out: &mut String) {
        let config = self.config;
        let inv = self.invocation;
        out.push_str("{\"timestamp\":\"");
        write_timestamp(out, SystemTime::now());
        out.push('"');
        push_member(out, "level", &Value::from(level_name(self.level)));
        push_member(out, "message", &Value::from(self.message));
        push_member(out, "target", &Value::from(self.target));
        if let Some(service) = &config.service {
            push_member(out, "service", &Value::from(service.as_str()));
        }
        let cold_start = inv.map_or(self.cold_start_outside, |inv| inv.cold_start);
        push_member(out, "cold_start", &Value::Bool(cold_start));
        let function_name = inv
            .and_then(|inv| inv.function_name.as_deref())
            .or(config.function_name.as_deref());
        if let Some(name) = function_name {
            push_member(out, "function_name", &Value::from(name));
        }
        let version = inv
            .and_then(|inv| inv.function_version.as_deref())
            .or(config.function_version.as_deref());
        if let Some(version) = version {
            push_member(out, "function_version", &Value::from(version));
        }
        let memory = inv
            .and_then(|inv| inv.function_memory_size)
            .or(config.function_memory_size.map(i64::from));
        if let Some(memory) = memory {
            push_member(out, "function_memory_size", &Value::from(memory));
        }
        if let Some(inv) = inv {
            if let Some(arn) = &inv.function_arn {
                push_member(out, "function_arn", &Value::from(arn.as_str()));
            }
            if let Some(request_id) = &inv.request_id {
                push_member(
                    out,
                    "function_request_id",
                    &Value::from(request_id.as_str()),
                );
            }
            if let Some(trace_id) = &inv.xray_trace_id {
                push_member(out, "xray_trace_id", &Value::from(trace_id.as_str()));
            }
        }
        if config.sample_rate > 0.0 {
            push_member(out, "sampling_rate", &Value::from(config.sample_rate));
        }
        for (key, value) in self.fields {
            if RESERVED_KEYS.contains(key) {
                push_member(out, &format!("field_{key}"), value);
            } else {
                push_member(out, key, value);
            }
        }
        out.push('}');
    }

    fn write_text(&self, out: &mut String) {
        write_timestamp(out, SystemTime::now());
        out.push('\t');
        let request_id = self.invocation.and_then(|inv| inv.request_id.as_deref());
        push_text(out, request_id.unwrap_or("-"));
        out.push('\t');
        out.push_str(level_name(self.level));
        out.push('\t');
        push_text(out, self.target);
        out.push_str(": ");
        push_text(out, self.message);
        for (key, value) in self.fields {
            out.push(' ');
            out.push_str(key);
            out.push('=');
            push_text_value(out, value);
        }
    }
}
