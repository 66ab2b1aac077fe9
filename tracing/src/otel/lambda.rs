//! The lambda_runtime layer of the OpenTelemetry path.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use lambda_runtime::LambdaEvent;
use opentelemetry::{
    Context as OtelContext,
    propagation::{Extractor, TextMapPropagator as _},
    trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState},
};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::cold_start::ColdStart;

/// The header the X-Ray propagator reads.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// A tower layer for `lambda_runtime` services of `LambdaEvent<T>`: each invocation runs in a
/// `lambda.handler` span whose parent is Lambda's function segment (from the invocation's
/// `Context::xray_trace_id`), and the provider is force-flushed before the response returns.
#[derive(Debug, Clone)]
pub struct OtelLambdaLayer {
    provider: SdkTracerProvider,
    name: Option<Arc<str>>,
    cold_start: ColdStart,
}

impl OtelLambdaLayer {
    /// A layer flushing `provider` after every invocation.
    #[must_use]
    pub fn new(provider: SdkTracerProvider) -> Self {
        Self {
            provider,
            name: None,
            cold_start: ColdStart::process(),
        }
    }

    /// Answers "is this invocation the cold start?" from `source` instead of
    /// [`ColdStart::process`], the one source every layer of this crate shares by default.
    #[must_use]
    pub fn cold_start(mut self, source: ColdStart) -> Self {
        self.cold_start = source;
        self
    }

    /// The handler span's name (default: the function name from the Lambda context).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }
}

impl<S> Layer<S> for OtelLambdaLayer {
    type Service = OtelLambda<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelLambda {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`OtelLambdaLayer`].
#[derive(Clone)]
pub struct OtelLambda<S> {
    inner: S,
    layer: OtelLambdaLayer,
}

impl<S: fmt::Debug> fmt::Debug for OtelLambda<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelLambda")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

/// The future returned by [`OtelLambda`]: the handler's, inside the handler span, resolved
/// only after the span closed and the provider was flushed.
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, T> Service<LambdaEvent<T>> for OtelLambda<S>
where
    S: Service<LambdaEvent<T>>,
    S::Future: Send + 'static,
    S::Response: Send,
    S::Error: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let cold_start = self.layer.cold_start.is_cold(&event.context.request_id);
        let parent = parent_context(event.context.xray_trace_id.as_deref());
        let name = self
            .layer
            .name
            .as_deref()
            .unwrap_or(&event.context.env_config.function_name)
            .to_owned();
        let span = tracing::info_span!(
            "lambda.handler",
            otel.name = name.as_str(),
            "annotation.ColdStart" = cold_start,
            "faas.invocation_id" = event.context.request_id.as_str(),
        );
        // Fails only when no OpenTelemetry layer is installed: then nothing is exported anyway.
        let _ = span.set_parent(parent);
        let future = self.inner.call(event).instrument(span);
        let provider = self.layer.provider.clone();
        Box::pin(async move {
            // Awaiting consumes the instrumented future, closing the handler span (and ending
            // its OpenTelemetry span) before the flush.
            let result = future.await;
            flush(provider).await;
            result
        })
    }
}

/// Exports everything buffered, off the async worker (the SDK's flush blocks).
async fn flush(provider: SdkTracerProvider) {
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "flushing OpenTelemetry spans failed"),
        Err(error) => tracing::warn!(%error, "the OpenTelemetry flush task failed"),
    }
}

/// One header for the propagator.
struct TraceHeader<'a>(&'a str);

impl Extractor for TraceHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(TRACE_HEADER).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACE_HEADER]
    }
}

/// The parent for the handler span: Lambda's function segment when the header is valid, else
/// a not-sampled remote parent so that nothing below it is exported.
pub(crate) fn parent_context(header: Option<&str>) -> OtelContext {
    let extracted = header.map(|value| {
        XrayPropagator::new().extract_with_context(&OtelContext::new(), &TraceHeader(value))
    });
    match extracted {
        Some(cx) if cx.span().span_context().is_valid() => cx,
        _ => OtelContext::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1]),
            TraceFlags::default(),
            true,
            TraceState::default(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sampled_header_gives_lambdas_parent() {
        let cx = parent_context(Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ));
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote());
        assert!(sc.is_sampled());
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
    }

    #[test]
    fn unsampled_missing_or_garbage_headers_are_not_sampled() {
        for header in [
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
            None,
            Some(""),
            Some("Root=garbage;;;=\u{0}"),
        ] {
            let cx = parent_context(header);
            assert!(!cx.span().span_context().is_sampled(), "{header:?}");
        }
    }
}
