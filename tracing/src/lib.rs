//! Lambda observability for Rust, on `tracing` and `tracing-subscriber`: what Powertools' Tracer,
//! Metrics and Logger give Python and TypeScript functions.
//!
//! - [`xray`]: spans become X-Ray subsegments sent to the daemon over UDP as they close, attached to
//!   the trace Lambda started for each invocation.
//! - `aws_sdk` and `http` (features `aws-sdk`, `http`): AWS SDK calls and HTTP calls as subsegments;
//!   incoming HTTP outside Lambda as segments, with local sampling rules.
//! - `otel` (feature `otel`): the same spans through `tracing-opentelemetry`, exported to the daemon
//!   or as OTLP to an ADOT collector.
//! - [`metrics`]: CloudWatch Embedded Metric Format documents, flushed once per invocation.
//! - [`logs`]: one JSON object per log line with the Lambda context on every line.
//!
//! ```no_run
//! use lamina_tracing::logs::{LogContextLayer, LogLayer};
//! use lamina_tracing::metrics::{Metrics, MetricsConfig, MetricsLayer, Unit};
//! use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer};
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::Value;
//! use tracing_subscriber::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     tracing_subscriber::registry()
//!         .with(LogLayer::from_env()?)
//!         .with(XrayLayer::from_env()?)
//!         .init();
//!     let handler = tower::ServiceBuilder::new()
//!         .layer(LogContextLayer::new())
//!         .layer(MetricsLayer::new(MetricsConfig::from_env()?)?)
//!         .layer(XrayLambdaLayer::new())
//!         .service(service_fn(|event: LambdaEvent<Value>| async move {
//!             if let Some(metrics) = Metrics::current() {
//!                 metrics.add_metric("Orders", Unit::Count, 1.0)?;
//!             }
//!             tracing::info!("order placed");
//!             Ok::<_, Error>(event.payload)
//!         }));
//!     lambda_runtime::run(handler).await
//! }
//! ```

#[cfg(feature = "aws-sdk")]
pub mod aws_sdk;
pub mod cold_start;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "logs")]
pub mod logs;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
#[cfg(any(feature = "logs", feature = "xray"))]
mod redact;
#[cfg(feature = "xray")]
pub mod xray;
#[cfg(any(feature = "xray", feature = "otel"))]
mod xray_protocol;
