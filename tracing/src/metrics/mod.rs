//! CloudWatch metrics in the Embedded Metric Format (EMF), Powertools-style: a namespace, a
//! `service` dimension and default dimensions, metrics recorded by the handler and flushed as
//! JSON lines to stdout once per invocation, where CloudWatch Logs turns them into metrics.
//!
//! ```
//! use lamina_tracing::metrics::{MemorySink, Metrics, MetricsConfig, MetricsLayer, Unit};
//! use lambda_runtime::{LambdaEvent, service_fn};
//! use tower::{Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // In Lambda: MetricsConfig::from_env()? reads POWERTOOLS_METRICS_NAMESPACE and
//! // POWERTOOLS_SERVICE_NAME.
//! let config = MetricsConfig::new().namespace("Shop")?.service("orders")?;
//! let sink = MemorySink::new(); // the default sink is stdout
//! let layer = MetricsLayer::new(config)?.sink(sink.clone());
//!
//! let handler = layer.layer(service_fn(|event: LambdaEvent<u32>| async move {
//!     let metrics = Metrics::current().ok_or("called outside MetricsLayer")?;
//!     metrics.add_metric("ItemsOrdered", Unit::Count, f64::from(event.payload))?;
//!     Ok::<_, lambda_runtime::Error>("done")
//! }));
//! handler.oneshot(LambdaEvent::new(3, Default::default())).await?;
//!
//! // The ColdStart document, then the invocation's.
//! let documents = sink.documents();
//! assert_eq!(documents.len(), 2);
//! assert!(documents[1].contains(r#""ItemsOrdered":3.0"#));
//! # Ok(())
//! # }
//! ```
//!
//! Every invalid input (a name CloudWatch refuses, a NaN, a 31st dimension, a metric name that is
//! also a dimension) is rejected with a [`MetricsError`] by the call that made it, so what is
//! flushed is always a valid document. Documents are split to stay within EMF's limits of 100
//! metrics per document and 100 values per metric.
//!
//! [`Metrics::current`] reads a tokio task-local set by the layer, rather than a handle shared by
//! all invocations, so that invocations running concurrently (`AWS_LAMBDA_MAX_CONCURRENCY`) never
//! mix their metrics.

mod config;
mod emf;
mod error;
mod handle;
mod layer;
mod set;
mod sink;
mod unit;
mod validate;

pub use config::{DISABLED_ENV, FUNCTION_NAME_ENV, MetricsConfig, NAMESPACE_ENV, SERVICE_NAME_ENV};
pub use error::{MemberKind, MetricsError, NameRule};
pub use handle::Metrics;
pub use layer::{COLD_START_METRIC, MetricsLayer, MetricsService, ResponseFuture};
pub use set::MAX_DIMENSION_SETS;
pub use sink::{MemorySink, MetricsSink, StdoutSink, WriterSink};
pub use unit::{Resolution, Unit};
