//! Native AWS X-Ray tracing for Lambda functions: spans become subsegments sent to the X-Ray
//! daemon over UDP, attached to the trace Lambda started for each invocation.
//!
//! ```no_run
//! use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer};
//! use lambda_runtime::{LambdaEvent, service_fn};
//! use serde_json::{Value, json};
//! use tracing_subscriber::prelude::*;
//!
//! #[tracing::instrument(skip_all, fields(annotation.order_id = %order_id), err)]
//! async fn load(order_id: &str) -> Result<Value, lambda_runtime::Error> {
//!     Ok(json!({ "id": order_id }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     tracing_subscriber::registry().with(XrayLayer::from_env()?).init();
//!     let handler = tower::ServiceBuilder::new()
//!         .layer(XrayLambdaLayer::new().service("orders"))
//!         .service(service_fn(|event: LambdaEvent<Value>| async move {
//!             let id = event.payload["id"].as_str().unwrap_or("unknown").to_owned();
//!             load(&id).await
//!         }));
//!     lambda_runtime::run(handler).await
//! }
//! ```
//!
//! # How spans map to subsegments
//!
//! [`XrayLambdaLayer`] opens one span per sampled invocation, carrying the trace id and Lambda's
//! function segment id from the invocation's trace header. [`XrayLayer`] turns that span and
//! every span below it into a subsegment: the handler subsegment's `parent_id` is the function
//! segment, every other span's is its parent span's subsegment. Each subsegment is sent as its
//! own document the moment its span closes (Lambda's streaming threshold is 0), with `type`,
//! `trace_id` and `parent_id`. Before the first subsegment under it is sent, the handler
//! subsegment (the root of the trace in this process) is sent once with `in_progress: true`, so
//! that a handler stopped at Lambda's timeout, whose complete document never comes, still leaves
//! one tree. Spans outside an invocation, or in one that is not sampled,
//! send nothing.
//!
//! Span fields are read by these conventions:
//!
//! | field | becomes |
//! |---|---|
//! | `xray.name` or `otel.name` | the subsegment's name (default: the span's name), sanitised to X-Ray's characters and 200 characters |
//! | `annotation.<key>` | an indexed annotation `<key>` (other characters than `[A-Za-z0-9_]` become `_`); strings, numbers and booleans only, at most 50 per trace, the rest dropped and counted |
//! | `http.status_code` or `http.response.status_code` (a number) | `fault` for 5xx, `throttle` and `error` for 429, `error` for other 4xx (a field named plain `status` is metadata like any other) |
//! | `xray.namespace` | the subsegment's `namespace` (`aws`, `remote`) |
//! | `aws.<key>` (`aws.json.<key>` for a JSON value; `aws.json` for a JSON object whose members are merged in) | a member of the `aws` object (`operation`, `region`, `table_name`, ...) |
//! | `http.request.method`, `.url`, `.user_agent`, `.client_ip`; `http.response.status` | the `http` object (the status also sets the flags) |
//! | `xray.trace_extra` | keys of the incoming header (`Lineage=...`) passed on to downstream calls |
//! | `xray.segment = true` | a root span sent as a segment rather than a subsegment (incoming HTTP outside Lambda) |
//! | `metadata.<key>`, and any other field | metadata `<key>` (or the field name) in the `default` namespace |
//!
//! An event at `ERROR` level inside a span (including the one `#[instrument(err)]` emits for an
//! `Err`) adds an exception to the subsegment's `cause` (message from its `error` field, else its
//! message; type from an `error.type` field) and sets `fault`, unless the span has a 4xx/5xx
//! status, which then decides the flags.
//!
//! Spans must be enabled by the subscriber's filter to be traced: keep `lambda.handler` and your
//! spans at a level the filter lets through. [`XrayLayer`] applies [`recommended_filter`] itself
//! unless told otherwise: it keeps the AWS SDK's, hyper's and rustls's internal spans (a dozen per
//! SDK call) out of the trace, where `lamina_tracing::aws_sdk::XrayInterceptor` (feature
//! `aws-sdk`) already records one subsegment per call. It also redacts span fields named like a
//! secret (the names the logs redact); see [`XrayLayer`].

pub(crate) mod aws_fields;
mod document;
mod emitter;
mod error;
mod filter;
mod header;
mod http_fields;
mod lambda;
mod layer;
mod span_fields;

pub use document::{
    AnnotationValue, Exception, MAX_ANNOTATIONS_PER_TRACE, MAX_NAME_CHARS, MAX_STRING_CHARS,
    StackFrame, Subsegment, epoch_seconds, sanitize_annotation_key, sanitize_name,
};
pub use emitter::{
    DATAGRAM_HEADER, DEFAULT_DAEMON_ADDRESS, MAX_DATAGRAM_BYTES, MAX_DOCUMENT_BYTES, XrayStats,
    parse_daemon_address,
};
pub use error::XrayError;
pub use filter::{LIBRARY_TARGETS, recommended_filter};
pub use header::{SamplingDecision, SegmentId, TraceHeader, TraceId};
pub use lambda::{ResponseFuture, XrayLambda, XrayLambdaLayer};
pub use layer::XrayLayer;
