//! [`MetricsLayer`]: per-invocation metrics for `lambda_runtime` services, flushed after each one.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use lambda_runtime::LambdaEvent;
use tokio::task::futures::TaskLocalFuture;

use super::config::MetricsConfig;
use super::emf;
use super::error::MetricsError;
use super::handle::Metrics;
use super::set::MetricSet;
use super::sink::{MetricsSink, StdoutSink};
use super::unit::{Resolution, Unit};
use crate::cold_start::ColdStart;

/// The name of the cold-start metric.
pub const COLD_START_METRIC: &str = "ColdStart";

/// A tower layer that gives each invocation its own [`Metrics`] (reached with
/// [`Metrics::current`]) and flushes it once when the handler returns, whether it succeeded or
/// failed, or when its future is dropped (a panic caught by the runtime, a cancellation).
///
/// The first invocation through the layer (or any of its clones) also writes a `ColdStart` metric
/// (Count, 1) with the `function_name` and `service` dimensions, in a document of its own so that it
/// does not take on the handler's dimensions, as Powertools does. The function name comes from the
/// invocation's context unless [`MetricsConfig::function_name`] overrides it. Build one layer per
/// process. The cold start comes from [`ColdStart::process`] (see [`crate::cold_start`]): only an
/// on-demand start writes the metric, never a provisioned-concurrency or SnapStart one.
#[derive(Clone)]
pub struct MetricsLayer {
    config: Arc<MetricsConfig>,
    sink: Arc<dyn MetricsSink>,
    cold_start: ColdStart,
    capture_cold_start: bool,
    warn_on_empty: bool,
}

impl fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("config", &self.config)
            .field("sink", &self.sink)
            .field("cold_start", &self.cold_start)
            .field("capture_cold_start", &self.capture_cold_start)
            .field("warn_on_empty", &self.warn_on_empty)
            .finish()
    }
}

impl MetricsLayer {
    /// A layer writing to stdout, capturing the cold start, not warning on empty invocations.
    ///
    /// # Errors
    /// [`MetricsError::MissingNamespace`] if the configuration has no namespace.
    pub fn new(config: MetricsConfig) -> Result<Self, MetricsError> {
        if config.namespace_name().is_none() {
            return Err(MetricsError::MissingNamespace);
        }
        Ok(Self {
            config: Arc::new(config),
            sink: Arc::new(StdoutSink),
            cold_start: ColdStart::process(),
            capture_cold_start: true,
            warn_on_empty: false,
        })
    }

    /// Writes documents to `sink` instead of stdout.
    #[must_use]
    pub fn sink(mut self, sink: impl MetricsSink) -> Self {
        self.sink = Arc::new(sink);
        self
    }

    /// Answers "is this invocation the cold start?" from `source` instead of
    /// [`ColdStart::process`], the one source every layer of this crate shares by default.
    #[must_use]
    pub fn cold_start(mut self, source: ColdStart) -> Self {
        self.cold_start = source;
        self
    }

    /// Whether to write the `ColdStart` metric on the first invocation (default: yes).
    #[must_use]
    pub fn capture_cold_start_metric(mut self, capture: bool) -> Self {
        self.capture_cold_start = capture;
        self
    }

    /// Whether to log a warning when an invocation added no metric (Powertools'
    /// `raise_on_empty_metrics`, as a warning because a handler's result should not depend on it).
    #[must_use]
    pub fn warn_on_empty_metrics(mut self, warn: bool) -> Self {
        self.warn_on_empty = warn;
        self
    }

    fn write_cold_start(&self, function_name: &str) {
        let (Some(namespace), false) = (self.config.namespace_name(), self.config.is_disabled())
        else {
            return;
        };
        let mut set = MetricSet::default();
        // Outside Lambda the function name may be empty: leave the dimension out rather than
        // write an invalid one.
        let function_name = self
            .config
            .function_name_override()
            .unwrap_or(function_name);
        if set.add_dimension("function_name", function_name).is_err() {
            tracing::debug!("cold start metric without function_name: not a valid dimension value");
        }
        if let Some(service) = self.config.service_name() {
            // Already validated by MetricsConfig::service.
            let _ = set.add_dimension("service", service);
        }
        if set
            .add_metric(COLD_START_METRIC, Unit::Count, Resolution::Standard, 1.0)
            .is_err()
        {
            return;
        }
        for document in emf::render(namespace, &set, emf::epoch_millis(SystemTime::now())) {
            if let Err(error) = self.sink.write_document(&document) {
                tracing::warn!(%error, "could not write the ColdStart metric");
            }
        }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`MetricsLayer`]. (Not `Metrics<S>`: [`Metrics`] is the handle.)
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    layer: MetricsLayer,
}

impl<S, T> tower::Service<LambdaEvent<T>> for MetricsService<S>
where
    S: tower::Service<LambdaEvent<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        if self.layer.capture_cold_start && self.layer.cold_start.is_cold(&event.context.request_id)
        {
            self.layer
                .write_cold_start(&event.context.env_config.function_name);
        }
        let metrics = Metrics::with_checked_config(Arc::clone(&self.layer.config));
        // The handler may record metrics both in `call` itself and in its future.
        let inner = &mut self.inner;
        let future = metrics.clone().sync_scope(|| inner.call(event));
        ResponseFuture {
            inner: Box::pin(metrics.clone().scope(future)),
            flush: Some(Flush {
                metrics,
                sink: Arc::clone(&self.layer.sink),
                warn_on_empty: self.layer.warn_on_empty,
            }),
        }
    }
}

/// The future of [`MetricsService`]: the handler's, then one flush.
pub struct ResponseFuture<F> {
    inner: Pin<Box<TaskLocalFuture<Metrics, F>>>,
    flush: Option<Flush>,
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("flushed", &self.flush.is_none())
            .finish()
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let output = ready!(this.inner.as_mut().poll(cx));
        if let Some(flush) = this.flush.take() {
            flush.run();
        }
        Poll::Ready(output)
    }
}

impl<F> Drop for ResponseFuture<F> {
    fn drop(&mut self) {
        // Dropped before completing: the handler panicked or was cancelled. Its metrics still
        // describe work that happened.
        if let Some(flush) = self.flush.take() {
            flush.run();
        }
    }
}

struct Flush {
    metrics: Metrics,
    sink: Arc<dyn MetricsSink>,
    warn_on_empty: bool,
}

impl Flush {
    fn run(self) {
        if self.warn_on_empty && self.metrics.is_empty() {
            tracing::warn!("no application metrics were added during this invocation");
        }
        if let Err(error) = self.metrics.close_and_flush(&*self.sink) {
            tracing::warn!(error = %error, "could not write EMF metrics");
        }
    }
}
