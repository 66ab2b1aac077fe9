//! Structured logs for Lambda: one JSON object (or Text line) per `tracing` event, carrying the
//! invocation's request id, X-Ray trace id, cold start flag and function details; the Rust answer
//! to Powertools' Logger.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use lamina_tracing::logs::{LogContextLayer, LogLayer};
//! use serde_json::Value;
//! use tower::ServiceBuilder;
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     tracing::info!(order_id = 42, password = "hunter2", "order received");
//!     // {"timestamp":"…","level":"INFO","message":"order received","target":"…",
//!     //  "cold_start":true,"function_name":"…","function_request_id":"…",
//!     //  "xray_trace_id":"1-…","order_id":42,"password":"[REDACTED]"}
//!     Ok(event.payload)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     // AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, POWERTOOLS_LOGGER_SAMPLE_RATE, …
//!     tracing_subscriber::registry().with(LogLayer::from_env()?).init();
//!     tracing::info!("init"); // function details from the environment, cold_start: true
//!     let service = ServiceBuilder::new()
//!         .layer(LogContextLayer::new())
//!         .service(service_fn(handler));
//!     lambda_runtime::run(service).await
//! }
//! ```
//!
//! - [`LogLayer`] is a `tracing-subscriber` layer; it reads the context from the `invocation`
//!   span that [`LogContextLayer`] opens around each invocation (see there for why a span and
//!   not a task-local). It also reads the `Lambda runtime invoke` span that `lambda_runtime::run`
//!   opens (request id and trace id, without function details), so its `requestId` and
//!   `xrayTraceId` are not repeated as fields, and one invocation counts once for `cold_start`.
//! - [`LogConfig`] holds the format, level, debug sample rate and redacted field names, read from
//!   `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`, `POWERTOOLS_LOGGER_SAMPLE_RATE` and friends
//!   by [`LogConfig::from_env`], or from any lookup function by [`LogConfig::from_lookup`].
//! - Debug sampling: with a sample rate, each invocation is picked at random (the generator is
//!   replaceable with [`LogLayer::with_rng`]) and, when picked, logs at DEBUG throughout.
//! - Redaction: fields named like a configured name (case-insensitive, also the last segment of
//!   `a.b.password`) are written as `"[REDACTED]"` without their value ever being formatted; a
//!   string field holding a JSON object or array has matching keys redacted at any depth. Names
//!   inside `Debug`-formatted values (`?request`) and the message text are not inspected: do not
//!   put secrets there.
//!
//! JSON keys: `timestamp` (RFC 3339, UTC, milliseconds), `level`, `message`, `target`, `service`
//! (if set), `cold_start`, `function_name`, `function_version`, `function_memory_size`,
//! `function_arn`, `function_request_id`, `xray_trace_id` (the trace header's `Root`),
//! `sampling_rate` (if above 0), then the fields of the enclosing spans (outermost first) and of
//! the event, a field overriding a same-named outer one. A field named like one of the keys the
//! layer writes is written as `field_<name>`.

mod config;
mod context;
mod format;
mod layer;
mod writer;

pub use config::{DEFAULT_REDACTED_FIELDS, LogConfig, LogConfigError, LogFormat, REDACTED};
pub use context::{
    INVOCATION_SPAN_NAME, INVOCATION_TARGET, LogContext, LogContextLayer, ResponseFuture,
    trace_root,
};
pub use layer::LogLayer;
pub use writer::{LogBuffer, LogBufferWriter};
