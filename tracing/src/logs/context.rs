//! The tower layer that opens an `invocation` span carrying each invocation's Lambda context.

use std::task::{Context as TaskContext, Poll};

use lambda_runtime::LambdaEvent;
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

/// Target of the span opened per invocation; [`LogLayer`](super::LogLayer) recognises the span by
/// this target and [`INVOCATION_SPAN_NAME`].
pub const INVOCATION_TARGET: &str = "lamina_tracing::logs";

/// Name of the span opened per invocation.
pub const INVOCATION_SPAN_NAME: &str = "invocation";

/// Wraps a `lambda_runtime` service so every invocation runs inside an `invocation` span (INFO
/// level, target [`INVOCATION_TARGET`]) recording the invocation's `Context`: `request_id`, the
/// `Root` of `xray_trace_id`, `function_name`, `function_version`, `function_memory_size` and
/// `function_arn`.
///
/// The context travels in the span rather than in a task-local so that it follows the work
/// wherever `tracing` does (`Instrument`ed futures and spawned tasks given `Span::current()`),
/// and so that the [`LogLayer`](super::LogLayer) finds it with the other span fields without any
/// shared state between the two layers.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogContextLayer {
    _private: (),
}

impl LogContextLayer {
    /// A layer that opens an `invocation` span around each invocation.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for LogContextLayer {
    type Service = LogContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LogContext { inner }
    }
}

/// The service built by [`LogContextLayer`].
#[derive(Debug, Clone)]
pub struct LogContext<S> {
    inner: S,
}

/// The future returned by [`LogContext`]: the inner service's future, inside the invocation span.
pub type ResponseFuture<F> = Instrumented<F>;

impl<S, T> Service<LambdaEvent<T>> for LogContext<S>
where
    S: Service<LambdaEvent<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let context = &event.context;
        let config = &context.env_config;
        let span = tracing::info_span!(
            target: INVOCATION_TARGET,
            INVOCATION_SPAN_NAME,
            request_id = context.request_id.as_str(),
            xray_trace_id = context.xray_trace_id.as_deref().and_then(trace_root),
            function_name = config.function_name.as_str(),
            function_version = config.version.as_str(),
            function_memory_size = i64::from(config.memory),
            function_arn = context.invoked_function_arn.as_str(),
        );
        // Work done synchronously in `call` belongs to the invocation too.
        let future = span.in_scope(|| self.inner.call(event));
        future.instrument(span)
    }
}

/// The `Root` of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`), or the value itself when
/// it is a bare trace id; `None` when there is no root.
pub fn trace_root(header: &str) -> Option<&str> {
    let header = header.trim();
    if !header.contains('=') {
        return (!header.is_empty()).then_some(header);
    }
    header.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        let value = value.trim();
        (key.trim().eq_ignore_ascii_case("root") && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::trace_root;

    #[test]
    fn trace_root_is_taken_from_the_header() {
        let table = [
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                Some("1-5759e988-bd862e3fe1be46a994272793"),
            ),
            (
                "Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793",
                Some("1-5759e988-bd862e3fe1be46a994272793"),
            ),
            (
                "1-5759e988-bd862e3fe1be46a994272793",
                Some("1-5759e988-bd862e3fe1be46a994272793"),
            ),
            ("Parent=53995c3f42cd8ad8;Sampled=0", None),
            ("Root=;Sampled=1", None),
            ("", None),
            ("=;;=", None),
        ];
        for (header, want) in table {
            assert_eq!(trace_root(header), want, "{header}");
        }
    }
}
